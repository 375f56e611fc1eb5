"""Atomic writes and versioned JSON artifacts.

Every file mvtimeline writes goes through :func:`atomic_write` (temp file in the same folder, then
``os.replace``), so a crash never leaves a half file under the final name.

Every content hash of a file (the song's for ``analysis.json``, an image's for a clip's cache key,
a batch's stamps, a Whisper model's) is :func:`file_sha256`.

Public: atomic_write, atomic_path, write_json, read_json, backup_path, ensure_dir, relative_path, file_sha256, inside_folder.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .errors import InputError, OutputError, SchemaVersionError

__all__ = ["atomic_write", "atomic_path", "write_json", "read_json", "backup_path", "ensure_dir", "relative_path",
           "file_sha256", "inside_folder"]


def file_sha256(path: Path | str) -> str:
    """SHA-256 of a file's bytes, as 64 lower-case hex digits (read in 1 MiB blocks).

    Parameters
    ----------
    path : Path or str
        The file.

    Returns
    -------
    str
        The hex digest.

    Raises
    ------
    OSError
        The file does not exist or cannot be read (callers name it in their own error).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     (Path(d) / "a").write_bytes(b"abc")
    ...     file_sha256(Path(d) / "a")[:16]
    3
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ensure_dir(path: Path) -> Path:
    """Create an output folder (and parents), or raise ``OutputError`` naming it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create output folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder is not writable")
    return path


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it is renamed onto ``path``, else removed.

    The temp name keeps the suffix, so tools that pick a format by suffix (ffmpeg, melt) work.
    """
    path = Path(path)
    ensure_dir(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a project file is as readable as any other
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path) as tmp:
        try:
            tmp.write_bytes(raw)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return Path(path)


def write_json(path: Path, obj: dict[str, Any]) -> Path:
    """Write a JSON artifact atomically, pretty-printed, UTF-8."""
    return atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_json(path: Path, *, kind: str, schemas: tuple[int, ...] = (1,)) -> dict[str, Any]:
    """Read a versioned JSON artifact.

    Raises
    ------
    InputError
        The file is missing or is not JSON.
    SchemaVersionError
        Its ``"schema"`` is not one of ``schemas``.
    """
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable {kind} file ({exc})") from None
    if not isinstance(obj, dict) or obj.get("kind", kind) != kind:
        raise InputError(f"{path}: not a {kind} file")
    schema = obj.get("schema")
    if schema not in schemas:
        known = ", ".join(map(str, schemas))
        raise SchemaVersionError(
            f"{path}: {kind} schema {schema!r} is not supported; this mvtimeline reads schema {known}"
        )
    return obj


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def backup_path(path: Path) -> Path:
    """A fresh backup name for ``path``: ``NAME.bak-YYYYmmdd-HHMMSS`` (with a counter if taken)."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.bak-{stamp}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bak-{stamp}-{n}")
        n += 1
    return candidate


def relative_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when it is inside it, else absolute (as stored in project.json).

    Examples
    --------
    >>> relative_path(Path("/w/song.wav"), Path("/w")), relative_path(Path("/elsewhere/a.png"), Path("/w"))
    ('song.wav', '/elsewhere/a.png')
    """
    p, base = Path(path).resolve(), Path(base).resolve()
    try:
        return str(p.relative_to(base))
    except ValueError:
        return str(p)


def inside_folder(folder: Path, relative: str) -> Path:
    """The file ``relative`` names inside ``folder``, refused when it could lie outside it.

    A request from the review page names files this way; an absolute path, a ``..`` part, a
    backslash or NUL, or a link that leads out of the folder (checked on the resolved path) is refused.

    Parameters
    ----------
    folder : Path
        The work folder.
    relative : str
        A ``/``-separated path inside it.

    Returns
    -------
    Path
        ``folder / relative`` (not resolved: links inside the folder stay as they are).

    Raises
    ------
    InputError
        The path is absolute, climbs out, or leads out through a link.
    """
    text = str(relative)
    parts = text.split("/")
    if (not text or text.startswith("/") or "\\" in text or "\0" in text or ".." in parts
            or (len(text) > 1 and text[1] == ":")):
        raise InputError(f"{text!r}: not a path inside the work folder")
    path = Path(folder) / text
    root = Path(folder).resolve()
    try:
        path.resolve().relative_to(root)
    except ValueError:
        raise InputError(f"{text!r}: leads out of the work folder") from None
    return path
