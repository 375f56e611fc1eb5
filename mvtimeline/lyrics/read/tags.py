"""Helpers shared by the lyrics readers: loading text, one-line errors, times, tags, word timing.

Internal to :mod:`mvtimeline.lyrics`; nothing here is public API.
"""

from __future__ import annotations

import codecs
import dataclasses
import logging
import math
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mvtimeline.errors import LyricsFormatError
from mvtimeline.types import Line, Word
from ..words import count_syllables, word_spans

log = logging.getLogger(__name__)

#: A lyrics file larger than this is not a lyrics file (an audio or video file given by mistake).
MAX_BYTES = 10 * 1024 * 1024

#: The last line of an LRC file (or a line followed by an untimed one) lasts this many seconds per
#: syllable, at least ``LAST_LINE_MIN_S`` and at most ``LAST_LINE_MAX_S``, unless its words say more.
LAST_LINE_S_PER_SYLLABLE = 0.35
LAST_LINE_MIN_S = 2.0
LAST_LINE_MAX_S = 10.0


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


def load_text(path: Path) -> str:
    """Decoded text of a lyrics file (see :func:`load_bytes` and :func:`decode`)."""
    return decode(load_bytes(path), display_name(path))


# ------------------------------------------------------------------------------------------- times
_TIME_LIKE = re.compile(r"\s*[-+]?\d[\d\s:.,]*")
_LRC_TIME = re.compile(r"(\d{1,3}):(\d{1,2})(?:[.:,](\d{1,3}))?")
_CUE_TIME = re.compile(r"(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?")


def is_time_like(content: str) -> bool:
    """True if a tag's content is meant as a time (digits, colons, dots), valid or not."""
    return ":" in content and _TIME_LIKE.fullmatch(content) is not None


def _frac(digits: str | None) -> float:
    return float("0." + digits) if digits else 0.0


def parse_lrc_time(content: str) -> float | None:
    """``"01:02.50"`` → 62.5 s; ``mm:ss``, ``mm:ss.x``..``mm:ss.xxx`` (``:`` or ``,`` also as the
    decimal mark); None if invalid (seconds >= 60, missing parts).

    Examples
    --------
    >>> parse_lrc_time("01:02.50"), parse_lrc_time("1:02"), parse_lrc_time("03:61.00")
    (62.5, 62.0, None)
    """
    m = _LRC_TIME.fullmatch(content.strip())
    if not m:
        return None
    minutes, seconds = int(m.group(1)), int(m.group(2))
    if seconds >= 60:
        return None
    return round(minutes * 60 + seconds + _frac(m.group(3)), 6)


def parse_cue_time(content: str) -> float | None:
    """SRT/WebVTT time ``[hh:]mm:ss[.,]mmm`` → seconds; None if invalid.

    Examples
    --------
    >>> parse_cue_time("00:01:02,500"), parse_cue_time("01:02.500"), parse_cue_time("00:61:00,000")
    (62.5, 62.5, None)
    """
    m = _CUE_TIME.fullmatch(content.strip())
    if not m:
        return None
    hours = int(m.group(1) or 0)
    minutes, seconds = int(m.group(2)), int(m.group(3))
    if minutes >= 60 or seconds >= 60:
        return None
    return round(hours * 3600 + minutes * 60 + seconds + _frac(m.group(4)), 6)


def fmt_lrc_time(t_s: float) -> str:
    """Seconds → ``mm:ss.xx`` (centiseconds, minutes may exceed 59).

    Examples
    --------
    >>> fmt_lrc_time(62.504), fmt_lrc_time(3600.0)
    ('01:02.50', '60:00.00')
    """
    cs = round(max(0.0, t_s) * 100)
    minutes, cs = divmod(cs, 6000)
    return f"{minutes:02d}:{cs // 100:02d}.{cs % 100:02d}"


def fmt_cue_time(t_s: float, *, sep: str = ".") -> str:
    """Seconds → ``hh:mm:ss.mmm`` (``sep=","`` for SRT).

    Examples
    --------
    >>> fmt_cue_time(62.5), fmt_cue_time(3723.0006, sep=",")
    ('00:01:02.500', '01:02:03,001')
    """
    ms = round(max(0.0, t_s) * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    return f"{hours:02d}:{minutes:02d}:{ms // 1000:02d}{sep}{ms % 1000:03d}"


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


# ------------------------------------------------------------------------------------ word timing
def spread(weights: Sequence[float], lo_s: float, hi_s: float) -> list[tuple[float, float]]:
    """Split ``[lo_s, hi_s]`` into back-to-back spans proportional to ``weights``.

    Examples
    --------
    >>> spread([1, 3], 10.0, 14.0)
    [(10.0, 11.0), (11.0, 14.0)]
    """
    total = float(sum(weights)) or 1.0
    hi_s = max(hi_s, lo_s)
    out = []
    acc = 0.0
    t0 = lo_s
    for k, w in enumerate(weights):
        acc += w
        t1 = hi_s if k == len(weights) - 1 else lo_s + (hi_s - lo_s) * acc / total
        out.append((t0, t1))
        t0 = t1
    return out


def fill_word_times(words: Sequence[Word], lo_s: float, hi_s: float) -> tuple[Word, ...]:
    """Times for every word of a line that lasts ``[lo_s, hi_s]`` seconds.

    Known starts and ends are kept (clamped into the line, in order); a run of words without a start
    shares the time between the known neighbours by syllables; a word without an end ends where the
    next word starts (the last one at ``hi_s``).
    """
    n = len(words)
    if n == 0:
        return ()
    hi_s = max(hi_s, lo_s)
    S: list[float | None] = [w.start_s for w in words]
    E: list[float | None] = [w.end_s for w in words]
    syl = [count_syllables(w.text) for w in words]
    i = 0
    while i < n:
        if S[i] is not None:
            i += 1
            continue
        j = i
        while j + 1 < n and S[j + 1] is None:
            j += 1
        a = i
        if i == 0:
            left = lo_s
        elif E[i - 1] is not None:
            left = E[i - 1]
        else:
            a = i - 1
            left = S[i - 1]
        if j + 1 < n:
            right = S[j + 1]
            if E[j] is not None:
                right = min(right, E[j])
        else:
            right = E[j] if E[j] is not None else hi_s
        left = min(max(left, lo_s), hi_s)
        right = min(max(right, left), hi_s)
        for k, (s, e) in zip(range(a, j + 1), spread(syl[a : j + 1], left, right), strict=True):
            S[k], E[k] = s, e
        i = j + 1
    t = lo_s
    for k in range(n):
        t = min(max(S[k], t), hi_s)
        S[k] = t
    out = []
    for k in range(n):
        nxt = S[k + 1] if k + 1 < n else hi_s
        e = E[k] if E[k] is not None else nxt
        e = min(max(e, S[k]), nxt)
        out.append(Word(words[k].text, float(S[k]), float(e)))
    return tuple(out)


def last_line_end(start_s: float, words: Sequence[Word]) -> float:
    """End of a line with no next line: its last word's end if known, else a syllable estimate."""
    if words and words[-1].end_s is not None and words[-1].end_s > start_s:
        return words[-1].end_s
    syl = sum(count_syllables(w.text) for w in words)
    est = min(LAST_LINE_MAX_S, max(LAST_LINE_MIN_S, LAST_LINE_S_PER_SYLLABLE * syl))
    latest = max((t for w in words for t in (w.start_s, w.end_s) if t is not None), default=start_s)
    return max(start_s + est, latest)


def finish(lines: Sequence[Line], *, name: str) -> tuple[Line, ...]:
    """Make read lines consistent: timed lines end no later than the next timed line starts, timed
    lines with any word time get every word timed inside the line, untimed lines have no word
    times. Raises ``LyricsFormatError`` when no sung line is left."""
    if not lines:
        raise LyricsFormatError(f"{name}: no sung lines (the file is empty or holds only tags)")
    out = list(lines)
    timed = [i for i, ln in enumerate(out) if ln.is_timed]
    for k, i in enumerate(timed):
        ln = out[i]
        start, end = float(ln.start_s), float(ln.end_s)
        end = max(end, start)
        if k + 1 < len(timed):
            nxt = float(out[timed[k + 1]].start_s)
            if end > nxt:
                log.debug(
                    "%s line %d: end %.3f s clamped to the next line's start %.3f s",
                    name,
                    ln.line_no,
                    end,
                    nxt,
                )
                end = max(start, nxt)
        words = ln.words
        if any(w.start_s is not None or w.end_s is not None for w in words):
            words = fill_word_times(words, start, end)
        out[i] = _replace(ln, start_s=start, end_s=end, words=words)
    for i, ln in enumerate(out):
        if not ln.is_timed:
            words = tuple(Word(w.text) for w in ln.words)
            out[i] = _replace(ln, start_s=None, end_s=None, words=words, source="none", confidence=0.0)
    return tuple(out)


def _replace(line: Line, **changes: object) -> Line:
    return dataclasses.replace(line, **changes)


def finite_seconds(value: object) -> float | None:
    """``value`` as seconds if it is a finite, non-negative real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    if not math.isfinite(v) or v < 0:
        return None
    return v


def untimed_runs(lines: Sequence[Line]) -> list[tuple[int, int]]:
    """``(i, j)`` for each maximal run ``lines[i:j]`` of untimed lines (timed lines are anchors).

    Examples
    --------
    >>> timed, free = Line("a", start_s=0.0, end_s=1.0), Line("b")
    >>> untimed_runs([free, timed, free, free, timed])
    [(0, 1), (2, 4)]
    """
    runs = []
    i, n = 0, len(lines)
    while i < n:
        if lines[i].is_timed:
            i += 1
            continue
        j = i
        while j < n and not lines[j].is_timed:
            j += 1
        runs.append((i, j))
        i = j
    return runs
