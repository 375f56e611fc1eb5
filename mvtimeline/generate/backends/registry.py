"""The registry of backends: a name → the class that makes clips, built with checked settings.

Above the backends (it imports each one only when it is asked for), so ``base`` and the backends
never import it: ``procedural``, ``loop``, ``diffusers`` and ``comfyui`` are known here by name.

Public: get_backend, known_backends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mvtimeline.errors import InputError
from .base import Backend

__all__ = ["get_backend", "known_backends"]


def _procedural(**settings: Any) -> Backend:
    from .procedural import ProceduralBackend

    return ProceduralBackend(**settings)


def _loop(**settings: Any) -> Backend:
    from .loop import LoopBackend

    return LoopBackend(**settings)


def _diffusers(**settings: Any) -> Backend:
    from .diffusers.backend import DiffusersBackend

    return DiffusersBackend(**settings)


def _comfyui(**settings: Any) -> Backend:
    from .comfyui.backend import ComfyUIBackend

    return ComfyUIBackend(**settings)


_DIFFUSERS_SETTINGS = (
    "video_model", "keyframe_model", "chain", "character", "character_strength", "device", "dtype", "offload",
    "vae_tiling", "vae_slicing", "steps", "keyframe_steps", "guidance", "negative_prompt", "max_area",
    "max_frames", "max_seconds",
)


_REGISTRY: dict[str, tuple[Callable[..., Backend], tuple[str, ...]]] = {
    "procedural": (_procedural, ("crf", "preset", "keyint_s")),
    "loop": (_loop, ("crf", "preset", "keyint_s", "memory_mb")),
    "diffusers": (_diffusers, _DIFFUSERS_SETTINGS),
    "comfyui": (_comfyui, ("servers", "workflow", "retries", "stems_dir", "idle_timeout_s", "crf", "preset",
                           "keyint_s", "keyframe_workflow")),
}


def known_backends() -> tuple[str, ...]:
    """Names :func:`get_backend` knows.

    Examples
    --------
    >>> known_backends()
    ('procedural', 'loop', 'diffusers', 'comfyui')
    """
    return tuple(_REGISTRY)


def get_backend(name: str, **settings: Any) -> Backend:
    """A backend by name, built with ``settings``.

    Parameters
    ----------
    name : str
        One of :func:`known_backends`.
    **settings
        Backend options; for ``procedural``: ``crf`` (int 0..51), ``preset`` (x264 preset),
        ``keyint_s`` (seconds between keyframes); for ``loop``: the same plus ``memory_mb``
        (MiB of decoded video kept in memory before streaming); for ``diffusers``:
        ``video_model`` (required) and the other fields of
        :class:`~mvtimeline.generate.backends.diffusers.common.DiffusersSettings`; for ``comfyui``: ``servers``
        (URLs, required), ``workflow``, ``retries``, ``stems_dir``, ``idle_timeout_s`` and the
        encoder's (see :class:`~mvtimeline.generate.backends.comfyui.backend.ComfyUIBackend`).

    Returns
    -------
    Backend

    Raises
    ------
    InputError
        Unknown name (the message lists the known ones), unknown setting, a bad setting value,
        or a backend that is not available.

    Examples
    --------
    >>> get_backend("procedural").name
    'procedural'
    """
    try:
        factory, allowed = _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown backend {name!r}; known: {', '.join(_REGISTRY)}") from None
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        raise InputError(f"backend {name!r}: unknown setting {unknown[0]!r}; known: {known}")
    return factory(**settings)
