"""What a line of lyric text says besides its words: section headings, singer names, stage
directions, stanza breaks, and the time marks inside it.

Used by the readers: :func:`classify` sorts a line (blank, tag, sung), :class:`Stanzas` counts
stanzas, :func:`parse_inline` and :func:`marked_words` read inline word times (enhanced LRC,
WebVTT and SRT karaoke tags).

Public: section_name, singer_names, TextLine, classify, Stanzas, Marked, parse_inline, marked_words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from mvtimeline.timecode import is_time_like
from mvtimeline.types import Word
from ..words import word_spans
from .text import clean, fail

__all__ = ["section_name", "singer_names", "TextLine", "classify", "Stanzas", "Marked", "parse_inline",
           "marked_words"]


# -------------------------------------------------------------------------------------- line texts
_SECTION_WORDS = re.compile(
    r"\b(intro|verse|pre[- ]?chorus|chorus|post[- ]?chorus|refrain|hook|bridge|outro|interlude|instrumental"
    r"|solo|break|breakdown|drop|build[- ]?up|build|rap|coda|middle ?(?:8|eight)|strophe|couplet|estribillo"
    r"|coro|estrofa|puente)\b",
    re.IGNORECASE,
)
_WRAPPED = re.compile(r"\((?:[^()]*)\)|\{[^{}]*\}|\*[^*]+\*")
_HEADING_NAME = (
    r"(?:(?:final|last|first|second|third|1st|2nd|3rd|4th)\s+)?"
    r"(?:intro|verse|pre[- ]?chorus|chorus|post[- ]?chorus|bridge|outro|refrain|interlude)"
    r"(?:\s*(?:\d{1,2}|[ivx]{1,4}))?(?:\s*(?:x\s*\d|\d\s*x))?"
)
#: A heading as lyric sites write it, alone on a line: "Chorus", "Verse 2:", "(Bridge)".
_HEADING = re.compile(rf"\(\s*({_HEADING_NAME})\s*\)\s*:?|({_HEADING_NAME})\s*:?", re.IGNORECASE)


def section_name(content: str) -> str | None:
    """The section a ``[tag]`` names (``"Verse 1: Alice"`` → ``"Verse 1"``), or None if it is a
    stage direction such as ``[Male Vocal]`` or ``[Fade Out]``.

    Examples
    --------
    >>> section_name("Verse 1: Alice"), section_name("Pre-Chorus"), section_name("Male Vocal")
    ('Verse 1', 'Pre-Chorus', None)
    """
    head = " ".join(content.split(":", 1)[0].split())
    if not head or not _SECTION_WORDS.search(head):
        return None
    return head


#: Words that make a tag a stage direction, not a singer's name (``[Male Vocal]``, ``[Fade Out]``).
_DIRECTION_WORDS = frozenset(
    "male female vocal vocals voice voices whisper whispered whispering spoken speaking harmony harmonies "
    "ad-lib ad-libs adlib adlibs choir all both everyone crowd fade out end instrumental music beat repeat "
    "sfx echo applause laughs laughing silence pause drop break spoken-word rap sung singing humming hum "
    "background backing guitar piano drums bass synth strings sax orchestra melody bridge lead".split()
)
_NAME_SPLIT = re.compile(r"\s*(?:&|\+|/|,|\band\b|\bund\b|\bet\b|\by\b|和|与)\s*")
_NAME = re.compile(r"^(?:[A-Z\u00c0-\u00de][\w'.\-]*|[^\W\d_a-zA-Z][\w'.\-]*)(?:\s+[A-Z\u00c0-\u00de][\w'.\-]*){0,2}$")


def singer_names(content: str) -> tuple[str, ...] | None:
    """The singers a tag names (``"Anna & Ben"`` → ``("Anna", "Ben")``), or None when it is not a
    list of names (a direction such as ``Male Vocal``, a section word, digits).

    Examples
    --------
    >>> singer_names("Anna & Ben"), singer_names("Mary Jane"), singer_names("Male Vocal"), singer_names("x2")
    (('Anna', 'Ben'), ('Mary Jane',), None, None)
    """
    parts = [p.strip() for p in _NAME_SPLIT.split(content.strip()) if p and p.strip()]
    if not parts or len(parts) > 6:
        return None
    for p in parts:
        if not _NAME.match(p) or any(c.isdigit() for c in p) or _SECTION_WORDS.search(p):
            return None
        if any(w.lower() in _DIRECTION_WORDS for w in p.split()):
            return None
    return tuple(parts)


@dataclass(frozen=True)
class TextLine:
    """What a line of lyric text is: ``kind`` is ``blank``, ``tag`` (a section or a direction, not
    sung) or ``sung``; ``section`` is a section it names (also for ``sung`` after a leading tag);
    ``singers`` the names a tag gives (``[Verse 1: Anna]``, ``[Anna & Ben]``; a section tag without
    names gives ``()``), None when the line names nobody."""

    kind: str
    section: str | None = None
    text: str = ""
    singers: tuple[str, ...] | None = None


def classify(text: str, *, name: str, line_no: int, lrc_hint: bool = True) -> TextLine:
    """Sort one line of text: a blank, a ``[Section]`` tag, a stage direction or a sung line.

    A heading as lyric sites write it (``Chorus``, ``Verse 2:``, ``(Bridge)``) names a section too.
    A line wrapped in ``( )``, ``{ }`` or ``* *``, or without a letter or digit (``♪``, ``...``), is a
    direction. Leading ``[tags]`` are removed (a section tag among them sets the section). A line
    that starts with ``[`` and never closes it raises ``LyricsFormatError``, and so does a leading
    ``[mm:ss]`` time tag when ``lrc_hint`` (the file should be read as LRC).
    """
    s = text.strip()
    if not s:
        return TextLine("blank")
    section: str | None = None
    singers: tuple[str, ...] | None = None
    while s.startswith("["):
        close = s.find("]")
        if close < 0:
            raise fail(name, line_no, f"unclosed tag {clean(s, 40)!r}; close it with ']'")
        content = s[1:close]
        if lrc_hint and is_time_like(content):
            raise fail(
                name, line_no, f"[{clean(content, 30)}] looks like an LRC time tag; read the file as lrc"
            )
        sec = section_name(content)
        if sec is not None:
            section = sec
            singers = singer_names(content.split(":", 1)[1]) if ":" in content else None
            singers = singers or ()
        else:
            singers = singer_names(content) or singers
        s = s[close + 1 :].strip()
    if not s:
        return TextLine("tag", section, singers=singers)
    heading = _HEADING.fullmatch(s)
    if heading:
        return TextLine("tag", " ".join((heading.group(1) or heading.group(2)).split()), singers=())
    if _WRAPPED.fullmatch(s) or not any(c.isalnum() for c in s):
        return TextLine("tag", section, singers=singers)
    return TextLine("sung", section, " ".join(s.split()), singers=singers)


class Stanzas:
    """Counts stanzas: a break (blank line, section tag) starts a new one before the next sung line."""

    def __init__(self) -> None:
        self.index = 0
        self._lines = 0
        self._pending = False

    def brk(self) -> None:
        self._pending = True

    def next_line(self) -> int:
        if self._pending and self._lines:
            self.index += 1
            self._lines = 0
        self._pending = False
        self._lines += 1
        return self.index


# ------------------------------------------------------------------------------------ inline times
@dataclass
class Marked:
    """Line text with its inline time tags removed; ``tags`` are (char offset in ``text``, seconds)."""

    text: str = ""
    tags: list[tuple[int, float]] = field(default_factory=list)


def parse_inline(
    s: str,
    pattern: re.Pattern[str],
    on_tag: Callable[[str], float | str | None],
) -> Marked:
    """Split ``s`` on ``pattern``; ``on_tag(tag)`` returns a time (a timing tag), a string (text to
    keep in place of the tag) or None (drop the tag)."""
    out = Marked()
    parts: list[str] = []
    n = 0
    pos = 0
    for m in pattern.finditer(s):
        chunk = s[pos : m.start()]
        parts.append(chunk)
        n += len(chunk)
        r = on_tag(m.group(0))
        if isinstance(r, float):
            out.tags.append((n, r))
        elif isinstance(r, str):
            parts.append(r)
            n += len(r)
        pos = m.end()
    parts.append(s[pos:])
    out.text = "".join(parts)
    return out


def marked_words(marked: Marked, *, shift_s: float = 0.0) -> list[Word]:
    """Words of a marked line; a tag at a word's first character is its start, a tag that starts no
    word (before punctuation, at the end, or the first of two tags in a row) ends the word before.

    Words without a tag get None (filled later by :func:`fill_word_times`).
    """
    spans = word_spans(marked.text)
    starts: list[float | None] = [None] * len(spans)
    ends: list[float | None] = [None] * len(spans)
    if marked.tags and spans:
        text = marked.text
        groups: dict[int, list[float]] = {}
        for off, t in marked.tags:
            while off < len(text) and text[off].isspace():
                off += 1
            groups.setdefault(off, []).append(t + shift_s)
        first_at = {a: i for i, (_, a, _) in enumerate(spans)}
        for off in sorted(groups):
            times = groups[off]
            if off in first_at:
                i = first_at[off]
                starts[i] = times[-1]
                if len(times) > 1 and i > 0:
                    ends[i - 1] = times[0]
                continue
            if any(a < off < b for _, a, b in spans):
                continue  # a syllable tag inside a word
            before = [i for i, (_, _, b) in enumerate(spans) if b <= off]
            if before and ends[before[-1]] is None:
                ends[before[-1]] = times[0]
    return [Word(w, s, e) for (w, _, _), s, e in zip(spans, starts, ends, strict=True)]
