"""The content-addressed clip cache: keys, paths, records; find a clip, write one. Nothing here
makes a clip (the executors do: :mod:`.executors`).

A clip lives at ``cache_dir/<key>/take-<N>.mp4`` with its record ``take-<N>.json`` beside it, where
``key = request.key(backend.name, backend.version, backend.model_id)``. The MP4 is made under a
temp name in the same folder and renamed when complete; the record is written (atomically) after
it. A clip counts as present only when both files exist and the record is readable and names the
same key, so a crash at any point leaves nothing that passes for a clip.

Public: image_sha256, clip_paths, find_clip, takes_of, write_record, store_clip, clip_result, CLIP_SCHEMA.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import logging
import shutil
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import InputError, MvtimelineError
from ..fileio import atomic_path, atomic_write, file_sha256, read_json, write_json
from ..types import ClipRequest, ClipResult

__all__ = ["image_sha256", "clip_paths", "find_clip", "takes_of", "write_record", "store_clip", "clip_result", "CLIP_SCHEMA"]

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
    try:
        return file_sha256(p)
    except FileNotFoundError:
        raise InputError(f"image {p} does not exist") from None
    except OSError as exc:
        raise InputError(f"image {p} cannot be read ({exc.strerror or exc})") from None


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


def takes_of(cache_dir: Path, key: str) -> dict[int, dict[str, Any]]:
    """The complete takes of cache key ``key`` (:func:`find_clip`): take → its record, in take order.

    Parameters
    ----------
    cache_dir : Path
    key : str

    Returns
    -------
    dict
    """
    found = {}
    for meta in (Path(cache_dir) / key).glob("take-*.json"):
        number = meta.stem.split("-", 1)[1]
        record = find_clip(cache_dir, key, int(number)) if number.isdigit() else None
        if record is not None:
            found[int(number)] = record
    return dict(sorted(found.items()))


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


def clip_result(req: ClipRequest, key: str, mp4: Path, record: dict[str, Any], *, cached: bool,
                t0: float) -> ClipResult:
    """The :class:`~mvtimeline.types.ClipResult` of a clip in the cache, from its record.

    Parameters
    ----------
    req : ClipRequest
    key : str
        Its cache key.
    mp4 : Path
        Its file.
    record : dict
        Its record (:func:`find_clip`, :func:`write_record`).
    cached : bool
        It was in the cache already (nothing was made).
    t0 : float
        ``time.perf_counter()`` when the caller started on it (``elapsed_s`` counts from there).
    """
    info = dict(record.get("meta", {}))
    info.update(
        backend=record["backend"]["name"],
        backend_version=record["backend"]["version"],
        model_id=record["backend"]["model_id"],
        generate_s=record.get("generate_s"),
    )
    return ClipResult(path=mp4, key=key, take=req.take, n_frames=int(info.get("frames", req.n_frames)),
                      fps=Fraction(req.fps), cached=cached, elapsed_s=time.perf_counter() - t0, meta=info)


def store_clip(cache_dir: Path, req: ClipRequest, key: str, clip: bytes | Path, *, backend: dict[str, str],
               meta: dict[str, Any], generate_s: float) -> tuple[Path, dict[str, Any]]:
    """Put a clip made elsewhere into the cache: its MP4 (``clip``'s bytes written, or the file at
    ``clip`` moved in whole), atomically, then its record. Returns ``(mp4, record)``.

    Parameters
    ----------
    cache_dir : Path
    req : ClipRequest
    key : str
        Its cache key.
    clip : bytes or Path
        The MP4's bytes, or a complete MP4 file (moved, e.g. from a folder every machine shares).
    backend, meta, generate_s
        As :func:`write_record`.
    """
    mp4, _ = clip_paths(cache_dir, key, req.take)
    mp4.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(clip, Path):
        with atomic_path(mp4) as tmp:
            shutil.move(str(clip), tmp)
    else:
        atomic_write(mp4, clip)
    return mp4, write_record(cache_dir, req, key, req.take, backend=backend, meta=meta, generate_s=generate_s)
