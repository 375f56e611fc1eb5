"""SubRip (``.srt``) lyrics: each cue is one lyric line with its start and end.

A cue is ``number``, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text lines, a blank line. The number may
be missing, ``.`` is accepted for ``,`` and the hours may be left out. Multi-line cue text is
joined with a space into one line. Formatting tags (``<i>``, ``<b>``, ``<font ...>``) and ASS
override blocks (``{\\an8}``) are removed; a karaoke timestamp ``<00:00:01.500>`` before a word gives
its start, as in WebVTT. Section tags and directions as cue text work as described in
:mod:`mvtimeline.lyrics.read.cues`.

Public: parse_srt.
"""

from __future__ import annotations

import re

from mvtimeline.timecode import is_time_like, parse_cue_time
from mvtimeline.types import Lyrics
from .text import clean, fail
from .cues import blocks, cues_to_lyrics, split_cues

__all__ = ["parse_srt"]

_EXAMPLE = "00:00:01,000 --> 00:00:02,500"
_TAGS = re.compile(r"<[^<>]*>|\{[^{}]*\}")


def parse_srt(text: str, *, name: str = "<text>", path: str = "") -> Lyrics:
    """Lyrics from SubRip text.

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
        One timed line per sung cue (``source="file"``, ``confidence=1.0``), sorted by start.

    Raises
    ------
    LyricsFormatError
        A block without a time line, a bad time, a cue that ends before it starts, or no sung cue.

    Examples
    --------
    >>> lyr = parse_srt("1\\n00:00:01,000 --> 00:00:02,500\\n<i>Hold on</i>\\nto me\\n")
    >>> [(ln.text, ln.start_s, ln.end_s) for ln in lyr.lines]
    [('Hold on to me', 1.0, 2.5)]
    """
    cues = []
    for block in blocks(text.split("\n"), 0):
        cues += split_cues(block, name=name, example=_EXAMPLE, allow_id=lambda s: s.strip().isdigit())

    def on_tag(tag: str, line_no: int) -> float | None:
        if tag.startswith("<") and is_time_like(tag[1:-1]):
            t = parse_cue_time(tag[1:-1])
            if t is None:
                raise fail(name, line_no, f"{clean(tag, 30)} is not a valid time (use <00:00:01.500>)")
            return t
        return None

    return cues_to_lyrics(cues, name=name, path=path, format="srt", pattern=_TAGS, on_tag=on_tag)
