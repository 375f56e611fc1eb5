"""Cue blocks shared by the SRT and WebVTT readers (internal).

A cue's text lines are joined with a space into one lyric line (a cue is what is on screen at
once, and a subtitle line wrapped in two is still one sung line). Cues are sorted by start; a cue
that overlaps the next one is cut at the next one's start. A cue whose text is a section tag
(``[Chorus]``) sets the section of the cues after it; a cue that is only a direction
(``(guitar solo)``, ``♪``) is skipped. Both start a new stanza.

Public: Cue, blocks, parse_time_line, split_cues, cues_to_lyrics.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mvtimeline.timecode import parse_cue_time
from mvtimeline.types import Line, Lyrics
from .text import clean, fail
from .tags import Marked, Stanzas, classify, marked_words, parse_inline
from ..timing import finish

__all__ = ["Cue", "blocks", "parse_time_line", "split_cues", "cues_to_lyrics"]

_TIME_LINE = re.compile(r"\s*(\S+)\s*-->\s*(\S+)(.*)")
_LOOKS_TIMED = re.compile(r"\s*\d[\d:.,]*\s*-->")


@dataclass
class Cue:
    start_s: float
    end_s: float
    text: str  # the cue's text lines joined with a space, tags still in
    line_no: int  # file line of the first text line (of the time line if no text)


def blocks(lines: list[str], first: int) -> list[list[tuple[int, str]]]:
    """Blank-line separated blocks of ``lines[first:]`` as (line number, text) pairs."""
    out: list[list[tuple[int, str]]] = []
    cur: list[tuple[int, str]] = []
    for i in range(first, len(lines)):
        if lines[i].strip():
            cur.append((i + 1, lines[i]))
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def parse_time_line(line: str, *, name: str, line_no: int, example: str) -> tuple[float, float]:
    """``00:00:01,000 --> 00:00:02,500 [settings]`` → (start, end) seconds."""
    m = _TIME_LINE.match(line)
    if not m:
        raise fail(name, line_no, f"{clean(line.strip(), 40)!r} is not a cue time line like {example}")
    times = []
    for part in (m.group(1), m.group(2)):
        t = parse_cue_time(part)
        if t is None:
            raise fail(
                name, line_no, f"{clean(part, 30)} is not a valid time (use e.g. {example.split()[0]})"
            )
        times.append(t)
    start, end = times
    if end < start:
        raise fail(
            name,
            line_no,
            f"the cue ends ({clean(m.group(2), 20)}) before it starts ({clean(m.group(1), 20)})",
        )
    return start, end


def split_cues(
    block: list[tuple[int, str]], *, name: str, example: str, allow_id: Callable[[str], bool]
) -> list[Cue]:
    """Cues of one block: ``[id]`` + time line + text (the first line is an id if ``allow_id``
    accepts it); a time line inside the text (a missing blank line) starts another cue, and a
    number just before it is that cue's id."""
    cues: list[Cue] = []
    k = 0
    if "-->" not in block[0][1]:
        if len(block) > 1 and "-->" in block[1][1] and allow_id(block[0][1]):
            k = 1
        else:
            ln, txt = block[0]
            raise fail(name, ln, f"expected a cue time line like {example}, got {clean(txt.strip(), 40)!r}")
    while k < len(block):
        ln, txt = block[k]
        start, end = parse_time_line(txt, name=name, line_no=ln, example=example)
        j = k + 1
        while j < len(block) and not _LOOKS_TIMED.match(block[j][1]):
            j += 1
        text_rows = block[k + 1 : j]
        if j < len(block) and text_rows and text_rows[-1][1].strip().isdigit():
            text_rows = text_rows[:-1]  # the next cue's number
        first_ln = text_rows[0][0] if text_rows else ln
        cues.append(Cue(start, end, " ".join(t.strip() for _, t in text_rows), first_ln))
        k = j
    return cues


def cues_to_lyrics(
    cues: list[Cue],
    *,
    name: str,
    path: str,
    format: str,
    pattern: re.Pattern[str],
    on_tag: Callable[[str, int], float | str | None],
) -> Lyrics:
    """Cues → Lyrics (see the module docstring for the rules)."""
    stanzas = Stanzas()
    section: str | None = None
    rows: list[Line] = []
    for cue in cues:
        marked = parse_inline(cue.text, pattern, lambda tag, ln=cue.line_no: on_tag(tag, ln))
        tl = classify(marked.text, name=name, line_no=cue.line_no, lrc_hint=False)
        if tl.section is not None:
            section = tl.section
            stanzas.brk()
        if tl.kind != "sung":
            if tl.kind == "tag":
                stanzas.brk()
            continue
        body = marked.text
        lead = re.match(r"\s*(?:\[[^\[\]]*\]\s*)+", body)
        if lead:
            body = " " * lead.end() + body[lead.end() :]
        words = tuple(marked_words(Marked(body, marked.tags)))
        if not words:
            continue
        rows.append(
            Line(
                tl.text, words, section, stanzas.next_line(), cue.start_s, cue.end_s, "file", 1.0, cue.line_no
            )
        )
    rows.sort(key=lambda ln: ln.start_s)
    return Lyrics(path=path, format=format, lines=finish(rows, name=name))
