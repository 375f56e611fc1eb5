"""Write lyrics to a file: LRC, enhanced LRC, SRT, WebVTT, ASS karaoke, plain text, JSON.

Every writer has a string form (``to_lrc`` ...) and :func:`write` picks one by suffix or
``format=`` and writes atomically. Each format written here reads back with
:func:`mvtimeline.lyrics.read` to the same lines and times (LRC keeps centiseconds, the others
milliseconds).

- ``.lrc``: ``[mm:ss.xx]text`` per line, a ``[Section]`` line where the section changes, a blank
  line between stanzas, and an empty ``[mm:ss.xx]`` end marker after a line that ends before the
  next one starts (and after the last line). Untimed lines are written without a time tag.
- ``.elrc`` (or ``format="elrc"``): as ``.lrc``, plus ``<mm:ss.xx>`` before each word of a line
  whose words are all timed, and one after the last word (its end); a gap between two words is
  written as two tags in a row (``word <end> <start>next``).
- ``.srt``, ``.vtt``: one cue per line; WebVTT cues carry ``<hh:mm:ss.mmm>`` word times like
  enhanced LRC. ``.ass``: a readable default style (1920x1080, white text sung over grey, black
  outline, bottom centre) and ``{\\kNN}`` karaoke word durations.
- ``.json``: the aligned.json artifact (:meth:`Lyrics.save`); ``format="suno"``: Suno
  aligned-words JSON (words without times are spread by syllables and marked ``success: false``,
  ``p_align: 0``; timed words get ``success: true``, ``p_align: 1``).
- ``.txt``: plain text with ``[Section]`` tags and blank lines between stanzas.

Timed formats (SRT, WebVTT, ASS, Suno) need every line timed: run the aligner or
:func:`mvtimeline.lyrics.place` first, else ``OutputError``.

Public: write, to_lrc, to_srt, to_vtt, to_ass, to_plain, to_suno.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import OutputError
from ..fileio import atomic_write
from ..timecode import fmt_cue_time, fmt_lrc_time
from ..types import Line, Lyrics, Word
from .read.text import clean, display_name
from .timing import fill_word_times
from .formats import write_format_for
from .words import is_cjk

__all__ = ["write", "to_lrc", "to_srt", "to_vtt", "to_ass", "to_plain", "to_suno"]

log = logging.getLogger(__name__)

#: ASS script resolution and the default style (readable on a 1080p video).
ASS_PLAY_RES = (1920, 1080)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cue_line(text: str) -> str:
    """A subtitle cue's text on one line: line breaks become spaces, other characters stay."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _join_words(words: Sequence[str]) -> list[str]:
    """Separators to put before each word: none between two CJK words, else a space."""
    seps = []
    for k, w in enumerate(words):
        if k == 0:
            seps.append("")
        else:
            prev = words[k - 1]
            seps.append("" if is_cjk(prev.rstrip()[-1:] or "x") and is_cjk(w.lstrip()[:1] or "x") else " ")
    return seps


def _words_timed(line: Line) -> bool:
    return bool(line.words) and all(w.start_s is not None and w.end_s is not None for w in line.words)


def _need_timed(lyrics: Lyrics, shown: str) -> None:
    for ln in lyrics.lines:
        if not ln.is_timed:
            raise OutputError(
                f"{shown}: line {ln.line_no} ({clean(ln.text, 30)!r}) has no times; align the lyrics "
                "(or place them) before writing a timed format"
            )


def _sections_and_stanzas(lines: Sequence[Line]) -> list[tuple[bool, str | None]]:
    """Per line: (a blank line goes before it, a section tag goes before it)."""
    out = []
    prev: Line | None = None
    for ln in lines:
        new_section = ln.section is not None and (prev is None or ln.section != prev.section)
        blank = prev is not None and (ln.stanza != prev.stanza or new_section)
        out.append((blank, ln.section if new_section else None))
        prev = ln
    return out


# ------------------------------------------------------------------------------------------- text
def to_plain(lyrics: Lyrics) -> str:
    """Plain text: ``[Section]`` tags where the section changes, blank lines between stanzas.

    Examples
    --------
    >>> from mvtimeline.types import Line
    >>> to_plain(Lyrics("", "plain", (Line("a b", section="Chorus"), Line("c d", stanza=1)))).splitlines()
    ['[Chorus]', 'a b', '', 'c d']
    """
    out: list[str] = []
    for ln, (blank, section) in zip(lyrics.lines, _sections_and_stanzas(lyrics.lines), strict=True):
        if blank:
            out.append("")
        if section:
            out.append(f"[{_one_line(section)}]")
        out.append(_one_line(ln.text))
    return "\n".join(out) + "\n"


def to_lrc(lyrics: Lyrics, *, words: bool = False) -> str:
    """LRC text; with ``words=True`` enhanced LRC (``<mm:ss.xx>`` word tags).

    Examples
    --------
    >>> from mvtimeline.types import Line, Word
    >>> ln = Line("Hold on", (Word("Hold", 1.0, 1.5), Word("on", 1.5, 2.0)), start_s=1.0, end_s=2.5)
    >>> to_lrc(Lyrics("", "lrc", (ln,)), words=True).splitlines()
    ['[re:mvtimeline]', '[00:01.00]<00:01.00>Hold <00:01.50>on <00:02.00>', '[00:02.50]']
    """
    out = ["[re:mvtimeline]"]
    lines = lyrics.lines
    layout = _sections_and_stanzas(lines)
    untimed = 0
    for i, ln in enumerate(lines):
        blank, section = layout[i]
        if blank:
            out.append("")
        if section:
            out.append(f"[{_one_line(section)}]")
        if not ln.is_timed:
            untimed += 1
            out.append(_one_line(ln.text))
            continue
        tag = f"[{fmt_lrc_time(ln.start_s)}]"
        if words and _words_timed(ln):
            out.append(tag + _word_tagged(ln.words, lambda t: f"<{fmt_lrc_time(t)}>", fmt_lrc_time))
        else:
            out.append(tag + _one_line(ln.text))
        nxt = next((x.start_s for x in lines[i + 1 :] if x.is_timed), None)
        if nxt is None or fmt_lrc_time(ln.end_s) != fmt_lrc_time(nxt):
            out.append(f"[{fmt_lrc_time(ln.end_s)}]")
    if untimed:
        log.warning("%d untimed line(s) written to LRC without a time tag", untimed)
    return "\n".join(out) + "\n"


def _word_tagged(words: Sequence[Word], tag: Callable[[float], str], key: Callable[[float], str]) -> str:
    """``<t>word <t>word <t>``; a gap between words is ``<end> <start>``; times compared as written."""
    texts = [_one_line(w.text) for w in words]
    seps = _join_words(texts)
    parts = []
    for k, w in enumerate(words):
        if k:
            prev = words[k - 1]
            if key(prev.end_s) != key(w.start_s):
                parts.append(f" {tag(prev.end_s)}")
            parts.append(seps[k] or "")
        parts.append(f"{tag(w.start_s)}{texts[k]}")
    parts.append(f" {tag(words[-1].end_s)}")
    return "".join(parts)


# ------------------------------------------------------------------------------------- subtitles
def to_srt(lyrics: Lyrics) -> str:
    """SubRip: one numbered cue per line (every line must be timed).

    Examples
    --------
    >>> from mvtimeline.types import Line
    >>> to_srt(Lyrics("", "srt", (Line("Hold on", start_s=1.0, end_s=2.5),))).splitlines()
    ['1', '00:00:01,000 --> 00:00:02,500', 'Hold on', '']
    """
    _need_timed(lyrics, "srt")
    out = []
    for k, ln in enumerate(lyrics.lines, start=1):
        out += [
            str(k),
            f"{fmt_cue_time(ln.start_s, sep=',')} --> {fmt_cue_time(ln.end_s, sep=',')}",
            _cue_line(ln.text),
            "",
        ]
    return "\n".join(out) + "\n"


def _vtt_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_vtt(lyrics: Lyrics) -> str:
    """WebVTT: one cue per line, word timestamps where every word of the line is timed.

    Examples
    --------
    >>> from mvtimeline.types import Line, Word
    >>> ln = Line("Hold on", (Word("Hold", 1.0, 1.5), Word("on", 1.5, 2.0)), start_s=1.0, end_s=2.0)
    >>> to_vtt(Lyrics("", "vtt", (ln,))).splitlines()
    ['WEBVTT', '', '00:00:01.000 --> 00:00:02.000', 'Hold <00:00:01.500>on', '']
    """
    _need_timed(lyrics, "vtt")
    out = ["WEBVTT", ""]
    for ln in lyrics.lines:
        out.append(f"{fmt_cue_time(ln.start_s)} --> {fmt_cue_time(ln.end_s)}")
        if _words_timed(ln):
            out.append(_vtt_words(ln))
        else:
            out.append(_vtt_escape(_one_line(ln.text)))
        out.append("")
    return "\n".join(out) + "\n"


def _vtt_words(ln: Line) -> str:
    """Cue text with ``<hh:mm:ss.mmm>`` before each word that does not start with the cue, and
    after the last word when it ends before the cue."""
    words = ln.words
    texts = [_vtt_escape(_one_line(w.text)) for w in words]
    seps = _join_words(texts)
    key = fmt_cue_time
    parts = []
    for k, w in enumerate(words):
        if k:
            prev = words[k - 1]
            if key(prev.end_s) != key(w.start_s):
                parts.append(f" <{key(prev.end_s)}>")
            parts.append(seps[k])
        if k or key(w.start_s) != key(ln.start_s):
            parts.append(f"<{key(w.start_s)}>")
        parts.append(texts[k])
    if key(words[-1].end_s) != key(ln.end_s):
        parts.append(f" <{key(words[-1].end_s)}>")
    return "".join(parts)


def _ass_text(s: str) -> str:
    return _cue_line(s).replace("\\", "/").replace("{", "(").replace("}", ")")


def to_ass(lyrics: Lyrics, *, karaoke: bool = True, play_res: tuple[int, int] = ASS_PLAY_RES) -> str:
    """ASS subtitles, one event per line (every line must be timed).

    Parameters
    ----------
    lyrics : Lyrics
        Timed lyrics.
    karaoke : bool, default True
        Karaoke word timing: each word is ``{\\kNN}word`` (NN: how long it is sung, in
        centiseconds); a lead-in before the first word and a pause between words are an empty
        ``{\\kNN}``. Without it the events hold the plain line (what a subtitle track shows).
    play_res : (int, int)
        The script resolution in pixels (the video's size); the default style (bottom centre,
        bold white with a black outline) scales with its height.
    """
    import pysubs2

    _need_timed(lyrics, "ass")
    width, height = play_res
    scale = height / ASS_PLAY_RES[1]
    subs = pysubs2.SSAFile()
    subs.info["PlayResX"] = str(width)
    subs.info["PlayResY"] = str(height)
    subs.info["WrapStyle"] = "0"
    subs.info["ScaledBorderAndShadow"] = "yes"
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname="DejaVu Sans",
        fontsize=max(24, round(64 * scale)),  # readable on a small preview too
        primarycolor=pysubs2.Color(255, 255, 255, 0),  # sung: white
        secondarycolor=pysubs2.Color(170, 170, 170, 0),  # not yet sung: grey
        outlinecolor=pysubs2.Color(0, 0, 0, 0),
        backcolor=pysubs2.Color(0, 0, 0, 128),
        bold=True,
        outline=max(1.0, round(3 * scale, 1)),
        shadow=1.0,
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=round(80 * width / ASS_PLAY_RES[0]),
        marginr=round(80 * width / ASS_PLAY_RES[0]),
        marginv=round(70 * scale),
    )
    for ln in lyrics.lines:
        start_cs = round(ln.start_s * 100)
        end_cs = max(start_cs, round(ln.end_s * 100))
        if karaoke and _words_timed(ln):
            texts = [_ass_text(w.text) for w in ln.words]
            seps = _join_words(texts)
            marks = [start_cs]  # line start, then each word's start and end, in centiseconds
            for w in ln.words:
                for t in (w.start_s, w.end_s):
                    marks.append(max(marks[-1], min(end_cs, round(t * 100))))
            parts = []
            if marks[1] > start_cs:
                parts.append(f"{{\\k{marks[1] - start_cs}}}")
            for k, t in enumerate(texts):
                s_cs, e_cs = marks[1 + 2 * k], marks[2 + 2 * k]
                parts.append(f"{seps[k]}{{\\k{e_cs - s_cs}}}{t}")
                if k + 1 < len(texts) and marks[3 + 2 * k] > e_cs:
                    parts.append(f"{{\\k{marks[3 + 2 * k] - e_cs}}}")  # a pause between words
            text = "".join(parts)
        else:
            text = _ass_text(ln.text)
        subs.append(pysubs2.SSAEvent(start=start_cs * 10, end=end_cs * 10, text=text, style="Default"))
    return subs.to_string("ass")


# ------------------------------------------------------------------------------------------- json
def to_suno(lyrics: Lyrics) -> str:
    """Suno aligned-words JSON: section tags and newlines inside the ``word`` texts."""
    _need_timed(lyrics, "suno")
    items = []
    layout = _sections_and_stanzas(lyrics.lines)
    for ln, (blank, section) in zip(lyrics.lines, layout, strict=True):
        words = ln.words or (Word(_one_line(ln.text)),)
        estimated = [w.start_s is None or w.end_s is None for w in words]
        filled = fill_word_times(words, ln.start_s, ln.end_s)
        prefix = ("\n" if blank and items else "") + (f"[{_one_line(section)}]\n" if section else "")
        for k, w in enumerate(filled):
            text = (prefix if k == 0 else "") + _one_line(w.text) + ("\n" if k == len(filled) - 1 else " ")
            items.append(
                {
                    "word": text,
                    "start_s": round(w.start_s, 3),
                    "end_s": round(w.end_s, 3),
                    "success": not estimated[k],
                    "p_align": 0.0 if estimated[k] else 1.0,
                }
            )
    return json.dumps(items, indent=1, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------------------------------ write
def write(lyrics: Lyrics, path: Path, *, format: str | None = None) -> Path:
    """Write lyrics to ``path`` atomically, in the format its suffix (or ``format``) names.

    Parameters
    ----------
    lyrics : Lyrics
        What to write; timed formats need every line timed.
    path : Path
        Output file; ``.lrc``, ``.elrc``, ``.srt``, ``.vtt``, ``.ass``, ``.json``, ``.txt``.
    format : str, optional
        ``plain``, ``lrc``, ``elrc``, ``srt``, ``vtt``, ``ass``, ``json`` or ``suno``, whatever the
        suffix.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputError
        An unknown format or suffix (the known ones are listed), an untimed line for a timed
        format, or a file that cannot be written.
    """
    path = Path(path)
    fmt = write_format_for(path, format)
    if fmt == "json":
        return lyrics.save(path)
    render: dict[str, Callable[[Lyrics], str]] = {
        "plain": to_plain,
        "lrc": to_lrc,
        "elrc": lambda ly: to_lrc(ly, words=True),
        "srt": to_srt,
        "vtt": to_vtt,
        "ass": to_ass,
        "suno": to_suno,
    }
    try:
        text = render[fmt](lyrics)
    except OutputError as exc:
        raise OutputError(str(exc).replace(f"{fmt}:", f"{display_name(path)}:", 1)) from None
    return atomic_write(path, text)
