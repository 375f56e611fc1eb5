"""WebVTT (``.vtt``) lyrics: each cue is one lyric line with its start and end.

The file starts with ``WEBVTT``; ``NOTE``, ``STYLE`` and ``REGION`` blocks are skipped. A cue is an
optional identifier, ``[hh:]mm:ss.mmm --> [hh:]mm:ss.mmm [settings]`` and text lines; multi-line
text is joined with a space into one line. Tags (``<i>``, ``<c.red>``, ``<v Singer>``) are removed,
ruby text (``<rt>``) dropped and entities (``&amp;``) decoded. Karaoke timestamps
``<00:00:01.500>`` before a word give its start (the first word starts with the cue unless tagged);
a timestamp followed by no word gives the end of the word before; the last word ends with the cue
unless a trailing timestamp says earlier. Section tags and directions as cue text work as described
in :mod:`mvtimeline.lyrics.read.cues`.

Public: parse_vtt.
"""

from __future__ import annotations

import html
import re

from mvtimeline.timecode import is_time_like, parse_cue_time
from mvtimeline.types import Lyrics
from .text import clean, fail
from .cues import blocks, cues_to_lyrics, split_cues

__all__ = ["parse_vtt"]

_EXAMPLE = "00:01.000 --> 00:02.500"
_HEADER = re.compile(r"WEBVTT(?:[ \t].*)?")
_RUBY = re.compile(r"<rt\b[^<>]*>.*?</rt\s*>|<rp\b[^<>]*>.*?</rp\s*>", re.DOTALL)
_TAGS = re.compile(r"<[^<>]*>|&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_SKIPPED = ("NOTE", "STYLE", "REGION")


def parse_vtt(text: str, *, name: str = "<text>", path: str = "") -> Lyrics:
    """Lyrics from WebVTT text.

    Parameters
    ----------
    text : str
        The decoded file, lines separated by ``\\n``.
    name : str
        File name used in error messages.
    path : str
        Stored as ``Lyrics.path``.

    Returns
    -------
    Lyrics
        One timed line per sung cue (``source="file"``, ``confidence=1.0``), sorted by start; words
        timed where the cue has karaoke timestamps.

    Raises
    ------
    LyricsFormatError
        No ``WEBVTT`` header, a cue without a time line, a bad time, or no sung cue.

    Examples
    --------
    >>> lyr = parse_vtt("WEBVTT\\n\\n00:01.000 --> 00:03.000\\nHold <00:02.000>on\\n")
    >>> [(w.text, w.start_s, w.end_s) for w in lyr.lines[0].words]
    [('Hold', 1.0, 2.0), ('on', 2.0, 3.0)]
    """
    lines = text.split("\n")
    if not _HEADER.fullmatch(lines[0].rstrip()):
        raise fail(
            name,
            1,
            f"missing the WEBVTT header (got {clean(lines[0].strip(), 30)!r}); "
            "a WebVTT file starts with 'WEBVTT'",
        )
    header_end = next((i for i, s in enumerate(lines) if not s.strip()), len(lines))
    cues = []
    for block in blocks(lines, header_end):
        first = block[0][1].strip()
        if (
            any(first == kw or first.startswith((kw + " ", kw + "\t")) for kw in _SKIPPED)
            and "-->" not in first
        ):
            continue
        cues += split_cues(block, name=name, example=_EXAMPLE, allow_id=lambda s: "-->" not in s)
    for cue in cues:
        cue.text = _RUBY.sub("", cue.text)

    def on_tag(tag: str, line_no: int) -> float | str | None:
        if tag.startswith("&"):
            return html.unescape(tag)
        content = tag[1:-1]
        if is_time_like(content):
            t = parse_cue_time(content)
            if t is None:
                raise fail(name, line_no, f"{clean(tag, 30)} is not a valid time (use <00:00:01.500>)")
            return t
        return None

    return cues_to_lyrics(cues, name=name, path=path, format="vtt", pattern=_TAGS, on_tag=on_tag)
