"""Lyrics files as text: their bytes, their decoding, and the one-line messages about them.

Used by :func:`mvtimeline.lyrics.formats.read` (loading and decoding a file), by every reader
(:func:`fail`, :func:`clean`) and by :mod:`mvtimeline.lyrics.write` (names in messages).

Public: load_bytes, decode, clean, display_name, fail, MAX_BYTES.
"""

from __future__ import annotations

import codecs
import re
import stat
from pathlib import Path

from mvtimeline.errors import LyricsFormatError

__all__ = ["load_bytes", "decode", "clean", "display_name", "fail", "MAX_BYTES"]

#: A lyrics file larger than this is not a lyrics file (an audio or video file given by mistake).
MAX_BYTES = 10 * 1024 * 1024


# ---------------------------------------------------------------------------------------- messages
def clean(s: str, limit: int = 60) -> str:
    """A value as it may appear inside a one-line message: printable, at most ``limit`` chars."""
    s = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(s))
    return s if len(s) <= limit else s[: limit - 1] + "…"


def display_name(path: Path | str) -> str:
    """The file name used in messages (the last path component, made printable)."""
    name = Path(path).name or str(path)
    return clean(name, 120)


def fail(name: str, line_no: int | None, msg: str, *, where: str = "line") -> LyricsFormatError:
    """``LyricsFormatError("<name> line N: msg")``, always one line."""
    head = f"{name} {where} {line_no}" if line_no else name
    return LyricsFormatError(clean(f"{head}: {msg}", 400))


# -------------------------------------------------------------------------------------------- load
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Control characters (tab, newline, carriage return excepted): a binary file, not lyrics.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def load_bytes(path: Path) -> bytes:
    """The raw bytes of a lyrics file; missing, folder, unreadable or huge raise ``LyricsFormatError``."""
    shown = clean(str(path), 200)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise LyricsFormatError(f"{shown}: is a folder, not a lyrics file")
        if not stat.S_ISREG(st.st_mode):
            raise LyricsFormatError(f"{shown}: is not a regular file")
        size = st.st_size
        if size > MAX_BYTES:
            raise LyricsFormatError(
                f"{shown}: {size / 1e6:.0f} MB is too large for a lyrics file "
                f"(at most {MAX_BYTES // 2**20} MiB)"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise LyricsFormatError(f"{shown}: no such file") from None
    except OSError as exc:
        raise LyricsFormatError(f"{shown}: cannot read ({clean(exc.strerror or exc, 80)})") from None


def decode(raw: bytes, name: str) -> str:
    """Text of a lyrics file: UTF-8 (BOM optional), UTF-16 or UTF-32 with a BOM; newlines → ``\\n``.

    Raises ``LyricsFormatError`` naming the line for undecodable bytes and for control characters
    (a binary file).
    """
    encoding = "utf-8"
    body = raw
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            encoding, body = enc, raw[len(bom) :]
            break
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8":
            line_no = body.count(b"\n", 0, exc.start) + 1
            bad = body[exc.start : exc.start + 1].hex()
            raise fail(
                name,
                line_no,
                f"byte 0x{bad} is not UTF-8 text; save the file as UTF-8 (or UTF-16 with a BOM)",
            ) from None
        raise LyricsFormatError(
            f"{name}: not valid {encoding.upper()} text ({clean(exc.reason, 60)})"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    bad = _CONTROL.search(text)
    if bad:
        ch = bad.group(0)
        line_no = text.count("\n", 0, bad.start()) + 1
        hint = (
            " (UTF-16 without a byte-order mark, or a binary file?)" if ch == "\x00" else " (a binary file?)"
        )
        raise fail(name, line_no, f"control character U+{ord(ch):04X} is not lyrics text{hint}")
    return text

