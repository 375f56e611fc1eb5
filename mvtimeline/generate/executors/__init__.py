"""Executors: where the clip requests of a run are made; the requests, their keys and the cache are
the same whichever is used.

- :mod:`.local` — in this process (the default), one clip after another or in threads;
- :mod:`.ray` — on a Ray cluster: one actor per GPU (or ComfyUI server) keeps its model loaded,
  workers return bytes and the driver writes the cache;
- :mod:`.cluster` — a batch on a Ray cluster: its songs' analysis, alignment and renders as Ray
  tasks, their clips on executors all the songs share.

Every executor has the same two methods (:class:`Executor`): ``run(requests, backend=...,
cache_dir=..., progress=...)`` makes (or reuses) the clips and returns their results, ``close()``
releases what it holds. :data:`EXECUTORS` names them; :func:`open_executor` builds one from the
settings. Only this package imports ray.

Public: Executor, EXECUTORS, open_executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from mvtimeline.progress import ProgressFn
from mvtimeline.types import ClipRequest, ClipResult

from ..backends.base import Backend

__all__ = ["Executor", "EXECUTORS", "open_executor"]


class Executor(Protocol):
    """Where clips are made."""

    name: str

    def run(self, requests: Sequence[ClipRequest], *, backend: Backend, cache_dir: Path,
            progress: ProgressFn | None = None) -> list[ClipResult]:
        """Make (or reuse) the clip of every request, in order (see :func:`.local.run`)."""
        ...

    def close(self) -> None:
        """Release what it holds (Ray: its actors, a Ray started for it)."""
        ...


def _local(backend: tuple[str, dict[str, Any]], **settings: Any) -> Executor:
    from .local import LocalExecutor

    return LocalExecutor()


def _ray(backend: tuple[str, dict[str, Any]], *, address: str | None = None, shared_dir: Path | str | None = None,
         keyframe_gpus: int = 0) -> Executor:
    from .ray import RayExecutor

    return RayExecutor(backend, address=address, shared_dir=shared_dir, keyframe_gpus=keyframe_gpus)


#: Executors by the name ``--executor`` takes → what builds one (``open_executor``'s arguments).
EXECUTORS: dict[str, Callable[..., Executor]] = {"local": _local, "ray": _ray}


def open_executor(name: str, backend: tuple[str, dict[str, Any]], *, address: str | None = None,
                  shared_dir: Path | str | None = None, keyframe_gpus: int = 0) -> Executor:
    """The executor ``name`` for a backend; ``close()`` it when done.

    Parameters
    ----------
    name : str
        A key of :data:`EXECUTORS` (``"local"``, ``"ray"``).
    backend : (str, dict)
        The backend's registry name and settings (a Ray executor builds it on its workers).
    address, shared_dir, keyframe_gpus
        Ray's: the cluster's address, a folder every machine sees, GPUs given to keyframe actors
        (see :class:`.ray.RayExecutor`); the local executor needs none.

    Raises
    ------
    InputError
        An unknown name; Ray asked for and not installed.
    """
    from mvtimeline.errors import InputError

    if name not in EXECUTORS:
        raise InputError(f"--executor {name!r}: known: {', '.join(EXECUTORS)}")
    return EXECUTORS[name](backend, address=address, shared_dir=shared_dir, keyframe_gpus=keyframe_gpus)
