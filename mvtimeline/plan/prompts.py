"""Style templates → per-segment image and motion prompts.

A style is a TOML file bundled in ``mvtimeline/templates/styles/`` (or the user's own, by path) with
Jinja2 templates ``image`` and ``motion``, a ``negative`` prompt and a ``[moods]`` table; templates
run in Jinja2's sandbox.

Public: Style, load_style, list_styles, render_prompts, section_kind, STYLE_KEYS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..templates.bundled import bundled_names, load_toml_file
from ..config import PACE_NAMES
from ..errors import InputError
from ..types import section_kind

__all__ = ["Style", "load_style", "list_styles", "render_prompts", "section_kind", "STYLE_KEYS"]

#: The keys a style file may have.
STYLE_KEYS = ("name", "description", "image", "motion", "negative", "moods", "pace", "chorus_motif")

_CAMERAS = ("slow push in", "slow pull back", "pan left", "pan right", "crane up", "slow orbit", "tilt down",
            "handheld drift")


@dataclass(frozen=True)
class Style:
    """A loaded style: its name, Jinja2 sources and mood words per section kind."""

    name: str
    path: Path
    image: str
    motion: str
    negative: str = ""
    description: str = ""
    moods: dict[str, str] = field(default_factory=dict)
    pace: str = ""  # how fast the cuts come (mvtimeline.plan.PACES); "": steady
    chorus_motif: bool = False  # a repeated chorus reuses the seeds (keyframes) of its first time


def list_styles() -> list[str]:
    """Names of the bundled styles."""
    return bundled_names("styles")


def load_style(name_or_path: str | Path) -> Style:
    """Load a bundled style by name, or a style file by path.

    Raises
    ------
    InputError
        Unknown name (the message lists the known ones), unreadable file, an unknown key, missing
        ``image``/``motion``, or a template with a syntax error.
    """
    p, data = load_toml_file("styles", name_or_path, keys=STYLE_KEYS)
    for key in ("image", "motion"):
        if not isinstance(data.get(key), str):
            raise InputError(f"{p}: style needs a text '{key}' template")
    style = Style(
        name=str(data.get("name", p.stem)),
        path=p,
        image=data["image"],
        motion=data["motion"],
        negative=str(data.get("negative", "")),
        description=str(data.get("description", "")),
        moods={str(k): str(v) for k, v in dict(data.get("moods", {})).items()},
        pace=str(data.get("pace", "")),
        chorus_motif=bool(data.get("chorus_motif", False)),
    )
    if style.pace and style.pace not in PACE_NAMES:
        raise InputError(f"{p}: pace {style.pace!r} is unknown; known: {', '.join(PACE_NAMES)}")
    if not isinstance(data.get("chorus_motif", False), bool):
        raise InputError(f"{p}: chorus_motif must be true or false")
    for key in ("image", "motion"):
        _compile(style, key)
    return style


_ENV = None


def _env():
    global _ENV
    if _ENV is None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        _ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    return _ENV


def _compile(style: Style, key: str):
    from jinja2 import TemplateSyntaxError

    try:
        return _env().from_string(getattr(style, key))
    except TemplateSyntaxError as exc:
        raise InputError(f"{style.path} '{key}' line {exc.lineno}: {exc.message}") from None


def render_prompts(style: Style, context: dict[str, Any]) -> dict[str, str]:
    """Render the image and motion prompts of one segment.

    ``context`` provides ``lyrics``, ``section``, ``tempo_bpm``, ``index``, ``count``, ``title``,
    ``start_s``, ``end_s``, ``energy``, ``seed``; ``section_kind``, ``mood`` and ``camera`` are added.

    Returns
    -------
    dict with keys ``image_prompt``, ``motion_prompt``, ``negative_prompt``.

    Raises
    ------
    InputError
        A template uses an unknown variable or does something the sandbox forbids.
    """
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    kind = section_kind(context.get("section", "verse"))
    ctx = dict(context)
    ctx.setdefault("section_kind", kind)
    ctx.setdefault("mood", style.moods.get(kind, style.moods.get("verse", "")))
    ctx.setdefault("camera", _CAMERAS[int(context.get("seed", 0)) % len(_CAMERAS)])
    out = {}
    for key in ("image", "motion"):
        try:
            text = _compile(style, key).render(**ctx)
        except SecurityError as exc:
            raise InputError(f"{style.path} '{key}': not allowed in a template ({exc})") from None
        except TemplateError as exc:
            raise InputError(f"{style.path} '{key}': {exc}") from None
        out[f"{key}_prompt"] = " ".join(text.split())
    out["negative_prompt"] = style.negative
    return out
