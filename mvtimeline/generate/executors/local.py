"""The local executor: the clips of a run made in this process, one after another, or in threads
for a backend that makes several at once (``parallel`` > 1, e.g. one per ComfyUI server).

Also what every executor shares: the checks before any work (:func:`prepare`), the clip's label,
and the one error that says which clips could not be made (:func:`clips_missing`).

Progress: each clip's frames (or steps) as the backend reports them, as
``Progress("clip", done, total, item=LABEL)`` while ``done < total``; then, once per clip, the
executor's ``Progress("clip", n_frames, n_frames, item=LABEL, worker=WORKER)`` when it is made
(just before it is renamed into the cache) or found in the cache (``worker`` is ``""`` here; a Ray
executor names the worker that made it). Listeners count finished clips by that one event.

Public: LocalExecutor, run, prepare, clip_label, clips_missing.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from mvtimeline.errors import ClipFailed, ClipsMissing
from mvtimeline.fileio import atomic_path, ensure_dir
from mvtimeline.progress import Progress, ProgressFn, ignore
from mvtimeline.types import ClipRequest, ClipResult
from ..backends.base import Backend, check_request
from ..cache import clip_paths, clip_result, find_clip, image_sha256, write_record

__all__ = ["LocalExecutor", "run", "prepare", "clip_label", "clips_missing"]

log = logging.getLogger(__name__)


def clip_label(req: ClipRequest) -> str:
    """How a clip is named in progress events and messages.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> clip_label(SimpleNamespace(segment_index=3, take=2))  # a ClipRequest's two fields
    'segment 03 take 2'
    """
    return f"segment {req.segment_index:02d} take {req.take}"


def prepare(requests: Sequence[ClipRequest], *, backend: Backend) -> list[ClipRequest]:
    """Check every request and fill in the image hashes, before any work starts.

    ``image_sha256`` is (re)computed from the file for each request with an image, so the cache
    key follows the image's content: a missing hash is filled in, a stale one is replaced (with
    a warning).

    Raises
    ------
    InputError
        The first bad request (see :func:`mvtimeline.generate.backends.base.check_request` and the
        backend's ``check``).
    """
    hashes: dict[str, str] = {}
    out = []
    for req in requests:
        check_request(req)
        if req.image is not None:
            digest = hashes.get(req.image) or image_sha256(req.image)
            hashes[req.image] = digest
            if req.image_sha256 != digest:
                if req.image_sha256 is not None:
                    log.warning(
                        "segment %d: image %s changed since it was hashed; using its new content",
                        req.segment_index,
                        req.image,
                    )
                req = dataclasses.replace(req, image_sha256=digest)
        backend.check(req)
        out.append(req)
    return out


def clips_missing(failed: list[tuple[ClipRequest, str]], results: Sequence[ClipResult | None], total: int,
                  *, down: ClipFailed | None = None, gone: set[int] | None = None) -> ClipsMissing:
    """The error of a run whose ``failed`` clips (request, message) could not be made; ``results``
    holds the others (None where missing). ``down``: the failure that said the backend is down (the
    message is then its cause and a count), ``gone``: the ``id`` of the requests not made for it.
    Sorts ``failed`` by segment and take."""
    made = [r for r in results if r is not None]
    failed.sort(key=lambda f: (f[0].segment_index, f[0].take))
    if down is not None:
        others = [f for f in failed if id(f[0]) not in (gone or set())]
        if others:  # another cause as well (a node failed): its own line
            log.warning("%s", _missing_message(others, total))
        cause = getattr(down, "cause", None) or str(down)
        n = len(failed) - len(others)
        return ClipsMissing(f"{cause} — {n} of {total} clip{'s' if total != 1 else ''} not made; "
                            "run again when it is back", made=made, failed=failed)
    return ClipsMissing(_missing_message(failed, total), made=made, failed=failed)


def _missing_message(failed: list[tuple[ClipRequest, str]], total: int) -> str:
    segs = ", ".join(f"{r.segment_index:02d}" + (f" (take {r.take})" if r.take != 1 else "") for r, _ in failed)
    return (f"{len(failed)} of {total} clip(s) could not be made: segment(s) {segs}; first: {failed[0][1]}; "
            "run the same command again to make only those")


class _NotStarted(ClipFailed):
    """A clip not started because the backend said it is down."""


class LocalExecutor:
    """Clips made in this process (the default executor); nothing to open or close."""

    name = "local"

    def close(self) -> None:
        """Nothing to release."""

    def run(self, requests: Sequence[ClipRequest], *, backend: Backend, cache_dir: Path,
            progress: ProgressFn | None = None) -> list[ClipResult]:
        """Make (or reuse) the clip of every request, in order: see :func:`run`."""
        return run(requests, backend=backend, cache_dir=cache_dir, progress=progress)


def run(
    requests: Sequence[ClipRequest],
    *,
    backend: Backend,
    cache_dir: Path,
    progress: ProgressFn | None = None,
) -> list[ClipResult]:
    """Make (or reuse) the clip of every request, in order, in this process.

    Parameters
    ----------
    requests : sequence of ClipRequest
        The clips to make. All are checked (and their image hashes filled in, see
        :func:`prepare`) before the first is made.
    backend : Backend
        What makes the clips (see :func:`mvtimeline.generate.get_backend`).
    cache_dir : Path
        The cache folder (created if needed), e.g. ``WORK/clips``.
    progress : ProgressFn, optional
        Receives ``Progress("clip", done, total, item=LABEL)`` as the backend makes a clip
        (``LABEL`` is ``"segment 03 take 1"``; frames or steps, ``done < total``), then
        ``Progress("clip", n_frames, n_frames, item=LABEL)`` once when it is made (before it is
        renamed into the cache: a listener that raises there leaves no clip); a cached clip
        reports only that.

    Returns
    -------
    list of ClipResult
        One per request, in order. ``cached`` is True when the file was already there (nothing
        was encoded); ``elapsed_s`` is the time this call spent on the clip; ``meta`` holds the
        backend's meta plus ``backend``, ``backend_version``, ``model_id`` and ``generate_s``
        (seconds it took to make the clip originally).

    Raises
    ------
    InputError
        A bad request (before anything is made), or an unwritable cache folder.
    ClipsMissing
        Some clips could not be made (a backend gave a clip up with ``ClipFailed``, e.g. after its
        server retries); every other clip was made and stays in the cache. ``made`` has their
        results, ``failed`` the requests and messages. When the backend is down (a ``ClipFailed``
        whose ``backend_down`` is true, e.g. every ComfyUI server refuses connections), no more
        clips are started (cached ones are still used) and the message is one line: its ``cause``,
        then "N of M clips not made; run again when it is back".
    RunError
        The backend failed; clips finished before it stay in the cache.

    A backend whose ``parallel`` is > 1 gets that many clips at once (threads); on an interrupt
    its ``cancel()`` is called. Each clip given up is logged at INFO (``-v``): the error says it
    once for all.
    """
    cache_dir = ensure_dir(Path(cache_dir))
    prepared = prepare(requests, backend=backend)
    report = progress or ignore
    down: list[ClipFailed] = []  # the backend said it can make no clip now: start no more
    not_made: set[int] = set()  # indexes of the clips that failed because the backend is down
    who = {"name": backend.name, "version": backend.version, "model_id": backend.model_id}

    def one(req: ClipRequest) -> ClipResult:
        t0 = time.perf_counter()
        key = req.key(backend.name, backend.version, backend.model_id)
        mp4, _ = clip_paths(cache_dir, key, req.take)
        label = clip_label(req)
        record = find_clip(cache_dir, key, req.take)
        cached = record is not None
        if record is None and down:
            raise _NotStarted(f"{label}: not started ({getattr(down[0], 'cause', down[0])})")
        if record is None:
            log.info("%s: generating %d frames with %s into %s", label, req.n_frames, backend.name, mp4)

            def frames(event: Progress) -> None:  # the clip's end is said once, below
                if event.done < event.total:
                    report(dataclasses.replace(event, item=label))

            with atomic_path(mp4) as tmp:
                made = backend.generate(req, tmp, None if progress is None else frames)
                # said before the clip is renamed into place: a listener that stops the run here
                # (Ctrl-C) leaves no clip behind, as when it stops the backend's last frame
                report(Progress("clip", req.n_frames, req.n_frames, item=label))
            record = write_record(cache_dir, req, key, req.take, meta=made.to_meta(), backend=who,
                                  generate_s=time.perf_counter() - t0)
        else:
            log.info("%s: cached %s", label, mp4)
            report(Progress("clip", req.n_frames, req.n_frames, item=label))
        return clip_result(req, key, mp4, record, cached=cached, t0=t0)

    results: list[ClipResult | None] = [None] * len(prepared)
    failed: list[tuple[ClipRequest, str]] = []

    def gave_up(i: int, exc: ClipFailed) -> None:
        if getattr(exc, "backend_down", False) or isinstance(exc, _NotStarted):
            if not down:
                down.append(exc)
            not_made.add(i)
        log.info("%s", exc)  # the error at the end sums them up in one line
        failed.append((prepared[i], str(exc)))

    workers = max(1, int(backend.parallel or 1))
    if workers == 1 or len(prepared) < 2:
        for i, req in enumerate(prepared):
            try:
                results[i] = one(req)
            except ClipFailed as exc:  # dead-lettered: the others are still made
                gave_up(i, exc)
    else:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="clip")
        futures = {pool.submit(one, req): i for i, req in enumerate(prepared)}
        try:
            for fut in concurrent.futures.as_completed(futures):
                i = futures[fut]
                try:
                    results[i] = fut.result()
                except ClipFailed as exc:
                    gave_up(i, exc)
        except BaseException:
            for f in futures:
                f.cancel()
            backend.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    if failed:
        raise clips_missing(failed, results, len(prepared), down=down[0] if down else None,
                            gone={id(prepared[i]) for i in not_made})
    return [r for r in results if r is not None]
