"""The content-addressed clip cache and the loop that fills it.

A clip lives at ``cache_dir/<key>/take-<N>.mp4`` with its record ``take-<N>.json`` beside it, where
``key = request.key(backend.name, backend.version, backend.model_id)``. The MP4 is made under a
temp name in the same folder and renamed when complete; the record is written (atomically) after
it. A clip counts as present only when both files exist and the record is readable and names the
same key, so a crash at any point leaves nothing that passes for a clip.

Public: run, image_sha256, clip_paths, find_clip, prepare, write_record, CLIP_SCHEMA.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as _dt
import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import ClipFailed, ClipsMissing, InputError, MvtimelineError
from ..fileio import atomic_path, atomic_write, ensure_dir, read_json, write_json
from ..types import ClipRequest, ClipResult
from .backends.base import Backend, check_request

__all__ = ["run", "image_sha256", "clip_paths", "find_clip", "prepare", "write_record", "CLIP_SCHEMA"]

log = logging.getLogger(__name__)

CLIP_SCHEMA = 1


def image_sha256(path: Path | str) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits (for ``ClipRequest.image_sha256``).

    Parameters
    ----------
    path : Path or str
        The image file.

    Returns
    -------
    str
        Lower-case hex digest.

    Raises
    ------
    InputError
        The file does not exist or cannot be read.
    """
    p = Path(path)
    h = hashlib.sha256()
    try:
        with p.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        raise InputError(f"image {p} does not exist") from None
    except OSError as exc:
        raise InputError(f"image {p} cannot be read ({exc.strerror or exc})") from None
    return h.hexdigest()


def clip_paths(cache_dir: Path, key: str, take: int) -> tuple[Path, Path]:
    """``(mp4, json)`` paths of a clip in the cache.

    Examples
    --------
    >>> [p.as_posix() for p in clip_paths(Path("clips"), "ab12", 2)]
    ['clips/ab12/take-2.mp4', 'clips/ab12/take-2.json']
    """
    folder = Path(cache_dir) / key
    return folder / f"take-{take}.mp4", folder / f"take-{take}.json"


def find_clip(cache_dir: Path, key: str, take: int) -> dict[str, Any] | None:
    """The record of a complete clip in the cache, or None.

    A clip is complete when its MP4 is a non-empty file of the size its JSON record gives (a clip
    truncated after it was made is made again) and the record is readable, has the current schema
    and names the same key and take.
    """
    mp4, meta = clip_paths(cache_dir, key, take)
    if not (meta.is_file() and mp4.is_file()):
        return None
    try:
        record = read_json(meta, kind="clip", schemas=(CLIP_SCHEMA,))
    except MvtimelineError as exc:
        log.warning("%s: ignoring an unreadable clip record (%s)", meta, exc)
        return None
    if record.get("key") != key or record.get("take") != take or mp4.stat().st_size == 0:
        log.warning("%s: the record does not match its clip; making it again", meta)
        return None
    size = record.get("size_bytes")
    if size is not None and mp4.stat().st_size != size:
        log.warning("%s: the clip is %d bytes, its record says %d (truncated or damaged); making it again",
                    mp4, mp4.stat().st_size, size)
        return None
    return record


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
    checker = getattr(backend, "check", None) or check_request
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
        checker(req)
        out.append(req)
    return out


def write_record(cache_dir: Path, req: ClipRequest, key: str, take: int, *, backend: dict[str, str],
                 meta: dict[str, Any], generate_s: float) -> dict[str, Any]:
    """Write the record (``take-N.json``) of a clip whose MP4 is in place, atomically; returns it.

    Parameters
    ----------
    cache_dir : Path
    req : ClipRequest
        What the clip is of.
    key : str
        The cache key its folder is named by.
    take : int
    backend : dict
        ``name``, ``version``, ``model_id`` of what made it (``import`` for a clip brought in).
    meta : dict
        What the maker reports (JSON-serialisable).
    generate_s : float
        Seconds it took.
    """
    mp4, meta_path = clip_paths(cache_dir, key, take)
    record = {
        "kind": "clip",
        "schema": CLIP_SCHEMA,
        "key": key,
        "take": take,
        "file": mp4.name,
        "size_bytes": mp4.stat().st_size,
        "backend": dict(backend),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "generate_s": round(generate_s, 3),
        "request": _request_dict(req),
        "meta": meta,
    }
    write_json(meta_path, record)
    return record


def _request_dict(req: ClipRequest) -> dict[str, Any]:
    d = dataclasses.asdict(req)
    d["fps"] = f"{req.fps.numerator}/{req.fps.denominator}"
    d["loudness"] = [round(v, 3) for v in req.loudness]
    d["downbeats_s"] = [round(v, 4) for v in req.downbeats_s]
    return d


def _result(req: ClipRequest, key: str, mp4: Path, record: dict[str, Any], cached: bool, t0: float) -> ClipResult:
    info = dict(record.get("meta", {}))
    info.update(
        backend=record["backend"]["name"],
        backend_version=record["backend"]["version"],
        model_id=record["backend"]["model_id"],
        generate_s=record.get("generate_s"),
    )
    return ClipResult(path=mp4, key=key, take=req.take, n_frames=int(info.get("frames", req.n_frames)),
                      fps=Fraction(req.fps), cached=cached, elapsed_s=time.perf_counter() - t0, meta=info)


def _run_elsewhere(prepared: list[ClipRequest], results: list[ClipResult | None], failed: list[tuple[ClipRequest, str]],
                   *, backend: Backend, cache_dir: Path, executor: Any,
                   progress: Callable[[str, int, int], None] | None, one: Callable[[ClipRequest], ClipResult]) -> None:
    """The missing clips made by ``executor`` (Ray); their bytes (or the file a worker wrote in the
    shared folder) put here, atomically."""
    t0 = time.perf_counter()
    todo: list[int] = []
    for i, req in enumerate(prepared):
        key = req.key(backend.name, backend.version, backend.model_id)
        if find_clip(cache_dir, key, req.take) is not None:
            results[i] = one(req)
        else:
            todo.append(i)
    where = {id(prepared[i]): i for i in todo}
    per_worker: dict[str, int] = {}

    def on_made(req: ClipRequest, data: bytes | Path, meta: dict[str, Any], worker: str, took: float) -> None:
        i = where[id(req)]
        key = req.key(backend.name, backend.version, backend.model_id)
        mp4, _ = clip_paths(cache_dir, key, req.take)
        mp4.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):  # written by the worker in the shared folder: moved in whole
            with atomic_path(mp4) as tmp:
                shutil.move(str(data), tmp)
        else:
            atomic_write(mp4, data)
        record = write_record(cache_dir, req, key, req.take, meta={**meta, "worker": worker},
                              backend={"name": backend.name, "version": backend.version, "model_id": backend.model_id},
                              generate_s=took)
        results[i] = _result(req, key, mp4, record, False, t0)
        log.info("%s: made on %s in %.1f s", _label(req), worker, took)
        per_worker[worker] = per_worker.get(worker, 0) + 1
        if progress is not None:
            progress(_label(req), req.n_frames, req.n_frames)
            progress(f"@{worker}", per_worker[worker], 0)  # a worker's count of clips made

    def on_failed(req: ClipRequest, message: str) -> None:
        if not message.startswith(_label(req)):
            message = f"{_label(req)}: {message}"
        log.info("%s", message)  # the run's error sums the failures up in one line
        failed.append((req, message))

    if todo:
        executor.make([prepared[i] for i in todo], on_made=on_made, on_failed=on_failed)


def _label(req: ClipRequest) -> str:
    return f"segment {req.segment_index:02d} take {req.take}"


def run(
    requests: Sequence[ClipRequest],
    *,
    backend: Backend,
    cache_dir: Path,
    progress: Callable[[str, int, int], None] | None = None,
    executor: Any | None = None,
) -> list[ClipResult]:
    """Make (or reuse) the clip of every request, in order.

    Parameters
    ----------
    requests : sequence of ClipRequest
        The clips to make. All are checked (and their image hashes filled in, see
        :func:`prepare`) before the first is made.
    backend : Backend
        What makes the clips (see :func:`mvtimeline.generate.get_backend`).
    cache_dir : Path
        The cache folder (created if needed), e.g. ``WORK/clips``.
    progress : callable(label, done, total), optional
        ``label`` names the clip (``"segment 03 take 1"``); ``done``/``total`` count its
        frames. A cached clip reports ``(label, n_frames, n_frames)`` once.
    executor : RayExecutor, optional
        Make the missing clips elsewhere (:mod:`mvtimeline.generate.executors.ray`); the bytes come
        back and are written here. None: in this process. Each worker's count of clips made is
        reported as ``progress("@WORKER", count, 0)``.

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

    A backend with a ``parallel`` attribute > 1 gets that many clips at once (threads); on an
    interrupt its ``cancel()`` is called. Each clip given up is logged at INFO (``-v``): the error
    says it once for all.
    """
    cache_dir = ensure_dir(Path(cache_dir))
    prepared = prepare(requests, backend=backend)
    down: list[ClipFailed] = []  # the backend said it can make no clip now: start no more
    not_made: set[int] = set()  # indexes of the clips that failed because the backend is down

    def one(req: ClipRequest) -> ClipResult:
        t0 = time.perf_counter()
        key = req.key(backend.name, backend.version, backend.model_id)
        mp4, meta_path = clip_paths(cache_dir, key, req.take)
        label = _label(req)
        record = find_clip(cache_dir, key, req.take)
        cached = record is not None
        if record is None and down:
            raise _NotStarted(f"{label}: not started ({getattr(down[0], 'cause', down[0])})")
        if record is None:
            log.info("%s: generating %d frames with %s into %s", label, req.n_frames, backend.name, mp4)
            cb = None if progress is None else (lambda done, total, _l=label: progress(_l, done, total))
            with atomic_path(mp4) as tmp:
                made = backend.generate(req, tmp, cb)
            record = write_record(cache_dir, req, key, req.take, meta=made.to_meta(),
                                  backend={"name": backend.name, "version": backend.version,
                                           "model_id": backend.model_id},
                                  generate_s=time.perf_counter() - t0)
        else:
            log.info("%s: cached %s", label, mp4)
            if progress is not None:
                progress(label, req.n_frames, req.n_frames)
        return _result(req, key, mp4, record, cached, t0)

    results: list[ClipResult | None] = [None] * len(prepared)
    failed: list[tuple[ClipRequest, str]] = []

    def gave_up(i: int, exc: ClipFailed) -> None:
        if getattr(exc, "backend_down", False) or isinstance(exc, _NotStarted):
            if not down:
                down.append(exc)
            not_made.add(i)
        log.info("%s", exc)  # the error at the end sums them up in one line
        failed.append((prepared[i], str(exc)))

    workers = max(1, int(getattr(backend, "parallel", 1) or 1))
    if executor is not None and getattr(executor, "name", "local") != "local":
        _run_elsewhere(prepared, results, failed, backend=backend, cache_dir=cache_dir, executor=executor,
                       progress=progress, one=one)
    elif workers == 1 or len(prepared) < 2:
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
            cancel = getattr(backend, "cancel", None)
            if cancel is not None:
                cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    if failed:
        made = [r for r in results if r is not None]
        failed.sort(key=lambda f: (f[0].segment_index, f[0].take))
        if down:
            gone = {id(prepared[i]) for i in not_made}
            others = [f for f in failed if id(f[0]) not in gone]
            if others:  # another cause as well (a node failed): its own line
                log.warning("%s", _missing_message(others, len(prepared)))
            cause = getattr(down[0], "cause", None) or str(down[0])
            n = len(failed) - len(others)
            raise ClipsMissing(f"{cause} — {n} of {len(prepared)} clip{'s' if len(prepared) != 1 else ''} not made; "
                               "run again when it is back", made=made, failed=failed)
        raise ClipsMissing(_missing_message(failed, len(prepared)), made=made, failed=failed)
    return [r for r in results if r is not None]


class _NotStarted(ClipFailed):
    """A clip not started because the backend said it is down."""


def _missing_message(failed: list[tuple[ClipRequest, str]], total: int) -> str:
    segs = ", ".join(f"{r.segment_index:02d}" + (f" (take {r.take})" if r.take != 1 else "") for r, _ in failed)
    return (f"{len(failed)} of {total} clip(s) could not be made: segment(s) {segs}; first: {failed[0][1]}; "
            "run the same command again to make only those")
