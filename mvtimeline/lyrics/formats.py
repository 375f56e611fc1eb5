"""The lyrics formats mvtimeline reads and writes, and :func:`read`, which picks the reader.

Public: Format, FORMATS, format_names, read, read_format_for, write_format_for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import LyricsFormatError, MvtimelineError, OutputError
from ..types import Lyrics
from .read.text import clean, decode, display_name, load_bytes
from .read.aligned import parse_json
from .read.lrc import parse_lrc
from .read.plain import parse_plain
from .read.srt import parse_srt
from .read.suno import parse_suno
from .read.vtt import parse_vtt

__all__ = ["Format", "FORMATS", "format_names", "read", "read_format_for", "write_format_for"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Format:
    """A lyrics format: its name, the suffixes that select it, and whether it can be read/written."""

    name: str
    suffixes: tuple[str, ...]
    readable: bool
    writable: bool
    description: str


#: Every lyrics format by name. ``read`` and ``write`` pick one by suffix or by their ``format``
#: argument (``read``'s is the command line's ``--lyrics-format``).
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("plain", (".txt",), True, True, "plain text; [Section] tags, blank lines between stanzas"),
        Format(
            "lrc",
            (".lrc",),
            True,
            True,
            "LRC line times [mm:ss.xx]; enhanced <mm:ss.xx> word tags are read too",
        ),
        Format("elrc", (".elrc",), True, True, "enhanced LRC: line times and <mm:ss.xx> word times"),
        Format("srt", (".srt",), True, True, "SubRip subtitles, one cue per line"),
        Format("vtt", (".vtt",), True, True, "WebVTT subtitles, one cue per line, <00:00:01.000> word times"),
        Format("ass", (".ass",), False, True, "Advanced SubStation Alpha with karaoke \\k word timing"),
        Format(
            "json",
            (".json",),
            True,
            True,
            "the aligned.json artifact (reading also takes Suno aligned words)",
        ),
        Format("suno", (), True, True, "Suno aligned words: [{word, start_s, end_s, success, p_align}]"),
    )
}
_ALIASES = {"txt": "plain", "text": "plain", "webvtt": "vtt", "aligned": "json", "ssa": "ass"}

_PARSERS: dict[str, Callable[..., Lyrics]] = {
    "plain": parse_plain,
    "lrc": parse_lrc,
    "elrc": parse_lrc,
    "srt": parse_srt,
    "vtt": parse_vtt,
    "json": parse_json,
    "suno": parse_suno,
}


def format_names(*, readable: bool = True) -> dict[str, str]:
    """Every name a user may give for a format that can be read (or written), with the format it
    means: the names in :data:`FORMATS` and their aliases. ``--lyrics-format`` takes these.

    Examples
    --------
    >>> format_names()["txt"], format_names()["suno"]
    ('plain', 'suno')
    """
    names = {f.name: f.name for f in FORMATS.values() if (f.readable if readable else f.writable)}
    return names | {alias: name for alias, name in _ALIASES.items() if name in names}


def _known(readable: bool) -> str:
    names = [f.name for f in FORMATS.values() if (f.readable if readable else f.writable)]
    return ", ".join(names)


def _by_name(fmt: str, *, readable: bool, shown: str) -> str:
    key = _ALIASES.get(fmt.strip().lower().lstrip("."), fmt.strip().lower().lstrip("."))
    f = FORMATS.get(key)
    ok = f is not None and (f.readable if readable else f.writable)
    if not ok:
        err = LyricsFormatError if readable else OutputError
        verb = "read" if readable else "write"
        raise err(f"{shown}: cannot {verb} lyrics format {clean(fmt, 20)!r}; known: {_known(readable)}")
    return key


def _by_suffix(path: Path, *, readable: bool) -> str:
    suffix = path.suffix.lower()
    for f in FORMATS.values():
        if suffix in f.suffixes and (f.readable if readable else f.writable):
            return f.name
    suffixes = ", ".join(
        s for f in FORMATS.values() if (f.readable if readable else f.writable) for s in f.suffixes
    )
    err = LyricsFormatError if readable else OutputError
    what = f"suffix {clean(suffix, 20)!r}" if suffix else "no suffix"
    # reading: the command line's --lyrics-format names the format; writing goes by the suffix alone
    force = ", or give --lyrics-format" if readable else ""
    raise err(f"{display_name(path)}: {what} names no lyrics format; use one of {suffixes}{force} "
              f"({_known(readable)})")


def read_format_for(path: Path, format: str | None = None) -> str:
    """The reader name for ``path``: ``format`` if given, else by suffix.

    Raises
    ------
    LyricsFormatError
        An unknown format or suffix; the message lists the known ones.

    Examples
    --------
    >>> read_format_for(Path("song.LRC")), read_format_for(Path("x.json")), read_format_for(Path("x"), "txt")
    ('lrc', 'json', 'plain')
    """
    if format is not None:
        return _by_name(format, readable=True, shown=display_name(path))
    return _by_suffix(Path(path), readable=True)


def write_format_for(path: Path, format: str | None = None) -> str:
    """The writer name for ``path``: ``format`` if given, else by suffix.

    Raises
    ------
    OutputError
        An unknown format or suffix; the message lists the known ones.

    Examples
    --------
    >>> write_format_for(Path("out.ass")), write_format_for(Path("out.lrc"), "elrc")
    ('ass', 'elrc')
    """
    if format is not None:
        return _by_name(format, readable=False, shown=display_name(path))
    return _by_suffix(Path(path), readable=False)


_LRC_START = re.compile(r"\s*\[\s*\d{1,3}\s*:|\s*\[(?:ar|ti|al|au|by|offset|length|re|ve)\s*:", re.IGNORECASE)
_SRT_TIME = re.compile(r"\s*(?:\d+:)?\d+:\d+[,.]\d+\s*-->")


def _sniff(text: str) -> str | None:
    """A better reader for a ``.txt`` file whose content is clearly LRC, SRT or WebVTT."""
    head = [s for s in text.split("\n", 200)[:200] if s.strip()][:20]
    if not head:
        return None
    if head[0].strip().startswith("WEBVTT"):
        return "vtt"
    if _LRC_START.match(head[0]) or sum(bool(_LRC_START.match(s)) for s in head) >= max(2, len(head) // 2):
        return "lrc"
    if any(_SRT_TIME.match(s) for s in head[:3]):
        return "srt"
    return None


def read(path: Path, *, format: str | None = None) -> Lyrics:
    """Read a lyrics file in any supported format.

    Parameters
    ----------
    path : Path
        The lyrics file. Its suffix picks the reader: ``.txt`` plain, ``.lrc``/``.elrc`` LRC,
        ``.srt``, ``.vtt``, ``.json`` (aligned.json or Suno aligned words). A ``.txt`` whose content is
        clearly LRC, SRT or WebVTT is read as that (logged at INFO).
    format : str, optional
        A format name from :data:`FORMATS` (``plain``, ``lrc``, ``elrc``, ``srt``, ``vtt``, ``json``,
        ``suno``) to use whatever the suffix.

    Returns
    -------
    Lyrics
        Lines in sung order, each with ``line_no`` (1-based in the file), ``section``, ``stanza`` and
        words; timed lines (``source="file"``) end no later than the next timed line starts.

    Raises
    ------
    LyricsFormatError
        For every problem with the file, in one line naming it (and the line when there is one):
        missing, a folder, not UTF-8/UTF-16 text, binary, malformed, or without a sung line; also for
        an unknown format or suffix (the message lists the known ones).
    """
    path = Path(path)
    fmt = read_format_for(path, format)
    name = display_name(path)
    text = decode(load_bytes(path), name)
    if format is None and fmt == "plain":
        sniffed = _sniff(text)
        if sniffed is not None:
            log.info("%s: reading as %s (its content looks like it)", name, sniffed)
            fmt = sniffed
    try:
        return _PARSERS[fmt](text, name=name, path=str(path))
    except MvtimelineError:
        raise
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
        OverflowError,
    ) as exc:
        log.debug("unexpected error reading %s as %s", path, fmt, exc_info=True)
        raise LyricsFormatError(
            f"{name}: could not be read as {fmt} ({type(exc).__name__}: {clean(exc, 80)}); please report this"
        ) from None
