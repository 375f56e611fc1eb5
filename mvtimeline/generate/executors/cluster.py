"""A batch on a Ray cluster: its songs' analysis, alignment and renders as Ray tasks (CPU), their
clips on executors all the songs share (:class:`Cluster`), and the bodies of those tasks that run on
the workers: :func:`render_on_worker` (a render from a portable project sent by value) and
:func:`run_with_files` (files sent by value written into a temp folder for the function given, e.g.
the pipeline's analysis and alignment of a song).

The functions sent here run on Ray's workers, which import the stages they call (render, audio,
lyrics) themselves; nothing here imports the pipeline.

Public: Cluster, run_task, run_with_files, render_on_worker.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mvtimeline.errors import RunError
from .ray import RayExecutor, connect, failure_message, require_ray, shutdown

__all__ = ["Cluster", "run_task", "run_with_files", "render_on_worker"]


def run_task(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[str, Any]:
    """A CPU task's body (on a Ray worker): ``fn(*args)``; our own errors come back as (class name, message)."""
    from mvtimeline.errors import MvtimelineError

    try:
        return "ok", fn(*args)
    except MvtimelineError as exc:
        return "error", (type(exc).__name__, str(exc))


class Cluster:
    """A batch on a Ray cluster: songs' analysis, alignment and renders as CPU tasks (:meth:`call`),
    their clips on executors shared by all the songs (:meth:`executor`, one per backend setting),
    so a GPU actor serves whichever song has a clip ready.

    Parameters
    ----------
    address : str, optional
        As :class:`~.ray.RayExecutor`; None: ``RAY_ADDRESS``, else a local Ray started here.
    retries : int >= 0
        Retries of a task whose worker died.
    """

    def __init__(self, address: str | None = None, *, retries: int = 2) -> None:
        self.ray = require_ray()
        self.address = address
        self.retries = retries
        self.started = False
        self._lock = threading.Lock()
        self._executors: dict[str, RayExecutor] = {}
        self._tasks: set[Any] = set()

    def connect(self) -> None:
        with self._lock:
            if connect(self.ray, self.address):
                self.started = True

    def call(self, fn: Callable[..., Any], *args: Any, num_cpus: float = 1, name: str | None = None) -> Any:
        """``fn(*args)`` as a Ray task (``num_cpus``), retried where its worker died; waits for it.
        ``name``: what the task is called in an error (default ``fn``'s name).

        Raises
        ------
        MvtimelineError
            What ``fn`` raised, as the same kind of error (or RunError).
        RunError
            The task failed for good (its worker died after the retries, a bug in it).
        """
        from mvtimeline import errors

        self.connect()
        ray = self.ray
        ref = ray.remote(run_task).options(num_cpus=num_cpus, max_retries=self.retries).remote(fn, args)
        with self._lock:
            self._tasks.add(ref)
        try:
            kind, value = ray.get(ref)
        except ray.exceptions.RayError as exc:
            raise RunError(f"{name or fn.__name__} on the cluster: {failure_message(exc)}") from None
        finally:
            with self._lock:
                self._tasks.discard(ref)
        if kind == "error":
            name, message = value
            cls = getattr(errors, name, None)
            try:
                err = cls(message) if isinstance(cls, type) and issubclass(cls, errors.MvtimelineError) else None
            except TypeError:
                err = None
            raise err or RunError(message)
        return value

    def call_with_files(self, fn: Callable[..., Any], files: dict[str, tuple[str, bytes] | None], *args: Any,
                        num_cpus: float = 1) -> Any:
        """``fn(folder, paths, *args)`` as a Ray task, with ``files`` (name → file name and bytes, or
        None) sent by value and written into a temp folder there (:func:`run_with_files`); as
        :meth:`call` otherwise."""
        return self.call(run_with_files, fn, files, *args, num_cpus=num_cpus, name=fn.__name__)

    def executor(self, backend: tuple[str, dict[str, Any]], *, shared_dir: Path | str | None = None,
                 keyframe_gpus: int = 0) -> RayExecutor:
        """The executor of this backend setting, made once and shared by every song that uses it."""
        self.connect()
        key = json.dumps([backend[0], backend[1], str(shared_dir or ""), keyframe_gpus], sort_keys=True, default=str)
        with self._lock:
            if key not in self._executors:
                self._executors[key] = RayExecutor(backend, retries=self.retries, shared_dir=shared_dir,
                                                   keyframe_gpus=keyframe_gpus)
            return self._executors[key]

    def cancel(self) -> None:
        """Ctrl-C: cancel our tasks and clips, kill our actors; the cluster stays."""
        with self._lock:
            tasks, self._tasks = list(self._tasks), set()
            executors = list(self._executors.values())
        for ref in tasks:
            with contextlib.suppress(Exception):
                self.ray.cancel(ref, force=True)
        for ex in executors:
            ex.cancel()

    def close(self) -> None:
        """Kill our actors; shut a Ray down that was started here."""
        with self._lock:
            executors, self._executors = list(self._executors.values()), {}
        for ex in executors:
            ex.close()
        if self.started and self.ray.is_initialized():
            shutdown(self.ray)
            self.started = False


def run_with_files(fn: Callable[..., Any], files: dict[str, tuple[str, bytes] | None], *args: Any) -> Any:
    """``fn(folder, paths, *args)`` where this runs (a Ray worker), with each of ``files`` (a name →
    its file name and bytes, or None) written into ``folder/in/`` of a temp folder, and ``paths``
    the same names → those files (None stays None). The folder is removed when ``fn`` returns, so
    what it makes there comes back in its return value (bytes).
    """
    with tempfile.TemporaryDirectory(prefix="mvt-timing-") as tmp:
        folder = Path(tmp)
        paths: dict[str, Path | None] = {}
        for name, named in files.items():
            if named is None:
                paths[name] = None
                continue
            (folder / "in").mkdir(exist_ok=True)
            path = folder / "in" / Path(named[0]).name
            path.write_bytes(named[1])
            paths[name] = path
        return fn(folder, paths, *args)


def render_on_worker(name: str, xml: bytes, files: dict[str, bytes], preset: str | None, subtitles: bool,
                     suffix: str) -> bytes:
    """A render where this runs (a Ray worker): the project from :func:`mvtimeline.render.portable`
    written into a temp folder, rendered there.

    Parameters
    ----------
    name : str
        The project's file name (``NAME.kdenlive``: its subtitle sidecars are found by it).
    xml : bytes
        The portable project.
    files : dict
        Relative name → bytes of every file it names (media, subtitles).
    preset : str, optional
        Render preset name.
    subtitles : bool
        Burn the lyrics in.
    suffix : str
        The video's suffix (``.mp4``).

    Returns
    -------
    bytes
        The video.

    Raises
    ------
    InputError, RenderFailed, ToolMissing
        As :func:`mvtimeline.render.render`.
    """
    from mvtimeline.render import load_preset, render

    with tempfile.TemporaryDirectory(prefix="mvt-render-") as tmp:
        folder = Path(tmp)
        for rel, data in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        (folder / name).write_bytes(xml)
        out = folder / f"render{suffix}"
        render(folder / name, out, preset=load_preset(preset) if preset else None, subtitles=subtitles)
        return out.read_bytes()
