"""LRC lyrics, simple and enhanced (A2 / ELRC word tags).

- ``[mm:ss.xx]text``: a line and its start; ``[mm:ss]``, ``[mm:ss.x]``, ``[mm:ss.xxx]`` and
  ``[mm:ss:xx]`` are accepted. Several tags on one line (``[00:12.00][01:30.00]chorus``) make one
  lyric line per tag. Lines are sorted by time.
- A line ends where the next timed line (or end marker) starts. An empty timed line
  (``[01:02.00]`` alone, or followed only by a direction such as ``♪``) is an end marker: it ends
  the line before and is not sung. The last line ends at its last word's end if a word tag gives
  it, else after 0.35 s per syllable (between 2 and 10 s); so does a line followed by an untimed
  line.
- ``[offset:+/-ms]``: a positive offset shifts every time earlier (``t - offset``); times that
  would become negative are clamped to 0. The offset is applied to the times read, and
  ``Lyrics.offset_s`` stays 0.
- Metadata tags (``[ar:]``, ``[ti:]``, ``[al:]``, ``[au:]``, ``[by:]``, ``[length:]``, ``[re:]``,
  ``[ve:]``, and any other ``[key:value]``) are ignored.
- Enhanced LRC: ``<mm:ss.xx>`` (or ``[mm:ss.xx]`` after the text has started) before a word gives
  its start; a tag followed by no word (the last one on a line, or the first of two in a row)
  gives the end of the word before; a tag inside a word (karaoke syllables) is ignored. Words
  without a tag share the time between their neighbours by syllables. With several line tags,
  word tags belong to the first and are shifted for the others. Singer prefixes ``v1:``, ``F:``,
  ``M:``, ``D:`` are dropped.
- Text lines without a time tag: ``[Chorus]``-style tags set the section (as in plain text) and
  start a stanza, as does a blank line; a sung line without a time is kept untimed, after the
  timed line above it (it gets times from :func:`mvtimeline.lyrics.place` or the aligner).

Public: parse_lrc.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from mvtimeline.timecode import is_time_like, parse_lrc_time
from mvtimeline.types import Line, Lyrics, Word
from .text import clean, fail
from .tags import Marked, Stanzas, classify, marked_words, parse_inline, section_name, singer_names
from ..timing import finish, last_line_end

__all__ = ["parse_lrc"]

log = logging.getLogger(__name__)

_META_KEYS = frozenset(
    {
        "ar",
        "ti",
        "al",
        "au",
        "by",
        "length",
        "re",
        "ve",
        "offset",
        "tool",
        "la",
        "lang",
        "id",
        "#",
        "sign",
        "total",
    }
)
_META = re.compile(r"\s*([A-Za-z#][A-Za-z#_]{0,15})\s*:(.*)", re.DOTALL)
_OFFSET = re.compile(r"[+-]?\d+(?:\.\d*)?")
_INLINE = re.compile(r"<[^<>]*>|\[[^\[\]]*\]")
_LEADING_TAGS = re.compile(r"\s*(?:\[[^\[\]]*\]\s*)+")
_SINGER = re.compile(r"\s*(?:[vV]\d{1,2}|[FMD])\s*:\s*(?=\S)")
_WRAPPED = re.compile(r"\s*(?:\([^()]*\)|\{[^{}]*\}|\*[^*]+\*)\s*")


@dataclass
class _Entry:
    time_s: float | None  # None: an untimed sung line
    key: float  # sort key (seconds)
    order: int  # file line number
    is_marker: bool
    text: str = ""
    words: tuple[Word, ...] = ()
    section: str | None = None
    file_stanza: int = 0
    singers: tuple[str, ...] = ()


def _blank(s: str, a: int, b: int) -> str:
    return s[:a] + " " * (b - a) + s[b:]


def parse_lrc(text: str, *, name: str = "<text>", path: str = "") -> Lyrics:
    """Lyrics from LRC text (simple or enhanced).

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
        Lines in time order; timed lines have ``source="file"``, ``confidence=1.0``; words have times
        only where the line has word tags.

    Raises
    ------
    LyricsFormatError
        A bad time (``[03:61.00]``), an unclosed tag, a bad ``[offset:]``, or no sung line.

    Examples
    --------
    >>> lyr = parse_lrc("[offset:+500]\\n[00:12.00][00:30.00]Hold on\\n[00:15.00]\\n[00:20.00]Let go")
    >>> [(ln.text, ln.start_s, ln.end_s) for ln in lyr.lines]
    [('Hold on', 11.5, 14.5), ('Let go', 19.5, 29.5), ('Hold on', 29.5, 31.5)]
    """
    offset_s = 0.0
    stanzas = Stanzas()
    section: str | None = None
    singers: tuple[str, ...] = ()
    entries: list[_Entry] = []
    last_timed_key = -1.0

    for line_no, raw in enumerate(text.split("\n"), start=1):
        s = raw.strip()
        if not s:
            stanzas.brk()
            continue
        times: list[float] = []
        while s.startswith("["):
            close = s.find("]")
            if close < 0:
                raise fail(name, line_no, f"unclosed tag {clean(s, 40)!r}; close it with ']'")
            content = s[1:close]
            if is_time_like(content):
                t = parse_lrc_time(content)
                if t is None:
                    raise fail(name, line_no, f"[{clean(content, 30)}] is not a valid time (use [mm:ss.xx])")
                times.append(t)
            else:
                meta = _META.fullmatch(content)
                key = meta.group(1).lower() if meta else None
                if key is None or (key not in _META_KEYS and section_name(key)):
                    break  # a section tag or a direction: the text part handles it
                if key == "offset":
                    value = meta.group(2).strip()
                    if value and not _OFFSET.fullmatch(value):
                        raise fail(
                            name,
                            line_no,
                            f"[{clean(content, 30)}] is not a valid offset (use milliseconds: [offset:+250])",
                        )
                    offset_s = float(value or 0) / 1000.0
            s = s[close + 1 :].lstrip()

        def on_tag(tag: str, line_no: int = line_no) -> float | str:
            content = tag[1:-1]
            if not is_time_like(content):
                return tag
            t = parse_lrc_time(content)
            if t is None:
                raise fail(name, line_no, f"{clean(tag, 30)} is not a valid time (use <mm:ss.xx>)")
            return t

        if not s and not times:
            continue  # metadata only
        marked = parse_inline(s, _INLINE, on_tag)
        body = marked.text
        tag_section: str | None = None
        lead = _LEADING_TAGS.match(body)
        if lead:
            for tag in re.findall(r"\[([^\[\]]*)\]", lead.group(0)):
                sec = section_name(tag)
                if sec is not None:
                    tag_section = sec
                    singers = (singer_names(tag.split(":", 1)[1]) if ":" in tag else None) or ()
                else:
                    singers = singer_names(tag) or singers
            body = _blank(body, 0, lead.end())
        singer = _SINGER.match(body)
        if singer:
            body = _blank(body, 0, singer.end())
        stripped = body.strip()

        if not times:
            tl = classify(stripped, name=name, line_no=line_no)
            sec = tag_section or tl.section
            if sec is not None:
                section = sec
                stanzas.brk()
            if tl.singers is not None:
                singers = tl.singers
            if tl.kind != "sung":
                continue
            words = tuple(Word(w.text) for w in marked_words(Marked(body)))
            if not words:
                continue
            log.warning(
                "%s line %d: %r has no time tag; it is kept untimed", name, line_no, clean(tl.text, 40)
            )
            entries.append(
                _Entry(None, last_timed_key, line_no, False, tl.text, words, section, stanzas.next_line(), singers)
            )
            continue

        if tag_section is not None:
            section = tag_section
            stanzas.brk()
        if not stripped or _WRAPPED.fullmatch(body) or not any(c.isalnum() for c in body):
            for t in times:
                entries.append(_Entry(t, t, line_no, True))
            continue
        words_rel = marked_words(Marked(body, marked.tags))
        if not words_rel:
            for t in times:
                entries.append(_Entry(t, t, line_no, True))
            continue
        line_text = " ".join(stripped.split())
        file_stanza = stanzas.next_line()
        for t in times:
            shift = t - times[0]
            words = tuple(
                Word(
                    w.text,
                    None if w.start_s is None else w.start_s + shift,
                    None if w.end_s is None else w.end_s + shift,
                )
                for w in words_rel
            )
            entries.append(_Entry(t, t, line_no, False, line_text, words, section, file_stanza, singers))
        last_timed_key = times[0]

    if offset_s:
        for e in entries:
            if e.time_s is not None:
                e.time_s = max(0.0, e.time_s - offset_s)
            e.key -= offset_s
            e.words = tuple(
                Word(
                    w.text,
                    None if w.start_s is None else max(0.0, w.start_s - offset_s),
                    None if w.end_s is None else max(0.0, w.end_s - offset_s),
                )
                for w in e.words
            )
    entries.sort(key=lambda e: (e.key, e.order))
    return Lyrics(path=path, format="lrc", lines=finish(_lines(entries), name=name))


def _lines(entries: list[_Entry]) -> list[Line]:
    """Sorted entries → lines with ends and stanzas."""
    out: list[Line] = []
    prev: _Entry | None = None
    stanza = -1
    n = len(entries)
    next_time: list[float | None] = [None] * n  # start of the next timed entry after each one
    for i in range(n - 2, -1, -1):
        after = entries[i + 1].time_s
        next_time[i] = after if after is not None else next_time[i + 1]
    for i, e in enumerate(entries):
        if e.is_marker:
            continue
        if prev is None or e.file_stanza != prev.file_stanza or e.order < prev.order:
            stanza += 1
        prev = e
        if e.time_s is None:
            out.append(Line(e.text, e.words, e.section, stanza, line_no=e.order, singers=e.singers))
            continue
        start = e.time_s
        nxt = next_time[i]
        if i + 1 < n and entries[i + 1].time_s is None:
            end = last_line_end(start, e.words)
            if nxt is not None:
                end = min(end, nxt)
        elif nxt is not None:
            end = nxt
        else:
            end = last_line_end(start, e.words)
        end = max(start, end)
        out.append(Line(e.text, e.words, e.section, stanza, start, end, "file", 1.0, e.order, singers=e.singers))
    return out
