"""The re-roll queue of the review page: one take at a time, made by the work folder's own backend
and executor (:func:`mvtimeline.pipeline.make_take`), its progress sent to the page as it comes.

A queued re-roll can be cancelled before it starts; a running one is stopped at its next progress
event (and the backend told to stop what it has in flight: ComfyUI interrupts our prompt). What
was finished stays in the cache; a later re-roll makes only what is missing.

Public: Job, JobQueue.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Cancelled, MvtimelineError
from ..progress import Progress

__all__ = ["Job", "JobQueue"]

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One re-roll: which segment, with which edits, and how far it got.

    ``state`` is ``queued``, ``running``, ``done``, ``failed`` or ``cancelled``; ``done``/``total`` the
    clip's progress (frames or steps), ``take`` the take made, ``message`` what went wrong.
    """

    id: int
    segment: int
    edits: dict[str, Any] = field(default_factory=dict)
    state: str = "queued"
    done: int = 0
    total: int = 0
    take: int | None = None
    message: str = ""
    started: float | None = None
    seconds: float | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "segment": self.segment, "state": self.state, "done": self.done, "total": self.total,
                "take": self.take, "message": self.message, "edits": sorted(self.edits),
                "seconds": round(self.seconds, 2) if self.seconds is not None else None}


class JobQueue:
    """Re-rolls of one work folder, made one after another on a worker thread.

    Parameters
    ----------
    folder : Path
        The work folder.
    notify : callable
        Called (from the worker thread) with each job's dict whenever it changes.
    finish : callable
        Called on the worker thread with the :class:`~mvtimeline.pipeline.NewTake` once a take is made,
        to put it into the project (the server serializes it with its other writes).
    """

    def __init__(self, folder: Path, notify: Callable[[dict[str, Any]], None],
                 finish: Callable[[Any], None]) -> None:
        self.folder = Path(folder)
        self._notify = notify
        self._finish = finish
        self._ids = itertools.count(1)
        self._jobs: dict[int, Job] = {}
        self._queue: list[Job] = []
        self._cv = threading.Condition()
        self._backend: Any = None
        self._kept: tuple[str, Any] | None = None  # (the settings it was built for, the backend)
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="mvtimeline-review-rerolls", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------------------------ public
    def submit(self, segment: int, edits: dict[str, Any] | None = None) -> Job:
        """Queue a re-roll of ``segment`` (with ``edits`` to its prompts, singer, seed or keyframe)."""
        job = Job(id=next(self._ids), segment=segment, edits=dict(edits or {}))
        with self._cv:
            self._jobs[job.id] = job
            self._queue.append(job)
            self._cv.notify()
        self._notify(job.to_dict())
        return job

    def cancel(self, job_id: int) -> Job | None:
        """Cancel a queued or running re-roll; None when there is no such job."""
        with self._cv:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if job.state == "queued":
                self._queue.remove(job)
                job.state = "cancelled"
            elif job.state == "running":
                job.cancel.set()
                backend = self._backend
            else:
                return job
        if job.state == "running" and backend is not None:
            try:
                backend.cancel()
            except MvtimelineError as exc:  # a server gone: the flag stops it at the next event
                log.warning("could not stop the backend: %s", exc)
        self._notify(job.to_dict())
        return job

    def jobs(self) -> list[dict[str, Any]]:
        """Every job of this session, newest last."""
        with self._cv:
            return [j.to_dict() for j in self._jobs.values()]

    def busy(self) -> bool:
        """A re-roll is queued or running."""
        with self._cv:
            return any(j.state in ("queued", "running") for j in self._jobs.values())

    def close(self) -> None:
        """Cancel what is queued and running; the worker ends after the running one stops."""
        with self._cv:
            self._closed = True
            ids = [j.id for j in self._jobs.values() if j.state in ("queued", "running")]
            self._cv.notify_all()
        for i in ids:
            self.cancel(i)

    # ----------------------------------------------------------------------------------- worker
    def _backend_of(self, project: Any) -> Any:
        """The folder's backend, kept from one re-roll to the next while its settings stay (a diffusers
        model stays loaded, a ComfyUI client keeps its servers)."""
        from .. import pipeline

        settings = json.dumps(project.to_dict(), sort_keys=True, default=str)
        if self._kept is None or self._kept[0] != settings:
            self._kept = (settings, pipeline.project_backend(project))
        return self._kept[1]

    def _work(self) -> None:
        from .. import pipeline

        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if self._closed and not self._queue:
                    return
                job = self._queue.pop(0)
                job.state = "running"
                job.started = time.perf_counter()
            self._notify(job.to_dict())
            last = [0.0]

            def progress(event: Progress, job: Job = job) -> None:
                if job.cancel.is_set():
                    raise Cancelled(f"re-roll of segment {job.segment} cancelled")
                if event.stage == "clip":
                    job.done, job.total = event.done, event.total
                    now = time.perf_counter()
                    if now - last[0] > 0.2 or event.done >= event.total:  # at most 5 events a second
                        last[0] = now
                        self._notify(job.to_dict())

            try:
                project = pipeline.open_folder(self.folder)
                backend = self._backend_of(project)
                with self._cv:
                    self._backend = backend
                new = pipeline.make_take(project, job.segment, edits=job.edits or None, progress=progress,
                                         backend=backend)
                if job.cancel.is_set():
                    raise Cancelled(f"re-roll of segment {job.segment} cancelled")
                self._finish(new)
                job.take, job.state = new.take, "done"
            except Cancelled:
                job.state, job.message = "cancelled", "cancelled"
            except MvtimelineError as exc:
                job.state, job.message = "failed", str(exc)
            except Exception as exc:  # noqa: BLE001 — the page must hear of it; the log has the trace
                log.exception("re-roll of segment %d failed", job.segment)
                job.state, job.message = "failed", f"internal error: {type(exc).__name__}: {exc}"
            finally:
                with self._cv:
                    self._backend = None
                job.seconds = time.perf_counter() - (job.started or time.perf_counter())
            self._notify(job.to_dict())
