"""Suno aligned-words JSON: word-level times as Suno's aligned-lyrics API returns them.

Accepted shapes: a list of word objects; or an object with ``aligned_words``, ``alignedWords`` or
``words`` holding that list (also one level down under ``data``, as third-party wrappers return
it). A word object has ``word`` (text) and ``start_s``/``end_s`` (or ``startS``/``endS``) in
seconds, optionally ``success`` (bool) and ``p_align`` (or ``palign``, 0..1).

The ``word`` texts are joined into one stream: a ``\\n`` ends a lyric line, a blank line ends a
stanza, and a ``[Verse]``-style tag (possibly spread over several words) sets the section and is
not sung. A word is trusted unless ``success`` is false, ``p_align`` is below ``MIN_P_ALIGN``,
or it starts before the trusted word before it; an untrusted word's times are re-estimated from
its neighbours by syllables, and a line with no trusted word is left untimed. A line's
``confidence`` is the share of its words that are trusted; ``line_no`` is the 1-based index of its
first word in the list (messages say "item N"). Lines stay in the order of the list.

Public: parse_suno, suno_from_obj, MIN_P_ALIGN.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from mvtimeline.errors import LyricsFormatError
from mvtimeline.types import Line, Lyrics, Word
from .text import clean, fail
from .tags import Stanzas, section_name
from ..timing import finish, finite_seconds
from ..words import count_syllables, word_spans

__all__ = ["parse_suno", "suno_from_obj", "load_json", "MIN_P_ALIGN"]

log = logging.getLogger(__name__)

#: Words with a lower ``p_align`` are not trusted.
MIN_P_ALIGN = 0.3
#: Seconds per syllable used to extend a line over untrusted words at its edges.
_S_PER_SYLLABLE = 0.3
_TAG = re.compile(r"\[([^\[\]\n]*)\]")
_LIST_KEYS = ("aligned_words", "alignedWords", "words")


def load_json(text: str, name: str) -> Any:
    """``json.loads`` with one-line ``LyricsFormatError`` messages naming the line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(name, exc.lineno, f"not valid JSON ({clean(exc.msg, 60)})") from None
    except RecursionError:
        raise LyricsFormatError(f"{name}: JSON nested too deeply to be lyrics") from None


def _word_list(obj: Any, depth: int = 0) -> list | None:
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        for key in _LIST_KEYS:
            if isinstance(obj.get(key), list):
                return obj[key]
        if depth == 0 and isinstance(obj.get("data"), dict):
            return _word_list(obj["data"], 1)
    return None


def _first(d: dict, *keys: str) -> Any:
    for k in keys:
        if k in d:
            return d[k]
    return None


def parse_suno(text: str, *, name: str = "<text>", path: str = "") -> Lyrics:
    """Lyrics from Suno aligned-words JSON text; see :func:`suno_from_obj`.

    Examples
    --------
    >>> js = '[{"word": "[Verse]\\\\nHold ", "start_s": 1.0, "end_s": 1.4, "success": true, "p_align": 0.9},'
    >>> js += ' {"word": "on\\\\n", "start_s": 1.5, "end_s": 2.0, "success": true, "p_align": 0.8}]'
    >>> ln = parse_suno(js).lines[0]
    >>> ln.text, ln.section, ln.start_s, ln.end_s, [(w.text, w.start_s, w.end_s) for w in ln.words]
    ('Hold on', 'Verse', 1.0, 2.0, [('Hold', 1.0, 1.4), ('on', 1.5, 2.0)])
    """
    return suno_from_obj(load_json(text, name), name=name, path=path)


def suno_from_obj(obj: Any, *, name: str = "<json>", path: str = "") -> Lyrics:
    """Lyrics from decoded Suno aligned-words JSON.

    Parameters
    ----------
    obj : list or dict
        The decoded JSON (see the module docstring for the shapes).
    name : str
        File name used in error messages.
    path : str
        Stored as ``Lyrics.path``.

    Returns
    -------
    Lyrics
        Timed lines (``source="file"``) with timed words, in the order of the list.

    Raises
    ------
    LyricsFormatError
        Not a word list, an item without ``word`` text or with a bad time, an item that ends before
        it starts, an unclosed ``[`` tag, or no sung word.
    """
    items = _word_list(obj)
    if items is None:
        raise LyricsFormatError(
            f"{name}: not Suno aligned words (expected a list of {{word, start_s, end_s}} "
            "or an object with 'alignedWords')"
        )
    parts: list[str] = []
    owner: list[int] = []
    spans: list[tuple[float, float]] = []
    trusted: list[bool] = []
    last_start = 0.0
    for i, item in enumerate(items):
        no = i + 1
        if not isinstance(item, dict):
            raise fail(name, no, "expected an object with word, start_s and end_s", where="item")
        word = item.get("word")
        if not isinstance(word, str):
            raise fail(name, no, f"'word' must be text, got {clean(repr(word), 30)}", where="item")
        if "\x00" in word:
            raise fail(name, no, "'word' holds a NUL character", where="item")
        times = []
        for keys in (("start_s", "startS", "start"), ("end_s", "endS", "end")):
            raw = _first(item, *keys)
            t = finite_seconds(raw)
            if t is None:
                raise fail(
                    name, no, f"{keys[0]} {clean(repr(raw), 30)} is not a time in seconds", where="item"
                )
            times.append(t)
        if times[1] < times[0]:
            raise fail(name, no, f"end_s {times[1]:g} is before start_s {times[0]:g}", where="item")
        success = item.get("success", True)
        p = _first(item, "p_align", "palign", "pAlign")
        ok = success is not False and not (
            isinstance(p, int | float) and not isinstance(p, bool) and p < MIN_P_ALIGN
        )
        if ok and times[0] < last_start:
            log.debug(
                "%s item %d: starts at %.3f s, before the word before it (%.3f s); not trusted",
                name,
                no,
                times[0],
                last_start,
            )
            ok = False
        if ok:
            last_start = times[0]
        parts.append(word)
        owner += [i] * len(word)
        spans.append((times[0], times[1]))
        trusted.append(ok)
    stream = "".join(parts)

    stanzas = Stanzas()
    section: str | None = None
    lines: list[Line] = []
    prev_end = 0.0
    pos = 0
    for raw_line in stream.split("\n"):
        base = pos
        pos += len(raw_line) + 1
        body = raw_line
        for m in _TAG.finditer(raw_line):
            name_ = section_name(m.group(1))
            if name_ is not None:
                section = name_
                stanzas.brk()
            body = body[: m.start()] + " " * (m.end() - m.start()) + body[m.end() :]
        if "[" in body:
            at = base + body.index("[")
            raise fail(
                name,
                owner[at] + 1,
                f"unclosed tag {clean(body[body.index('[') :].strip(), 30)!r}",
                where="item",
            )
        if not body.strip():
            if raw_line.strip() == "":
                stanzas.brk()
            continue
        found = word_spans(body)
        if not found:
            continue
        first_items = [owner[base + a] for _, a, _ in found]
        last_items = [owner[base + b - 1] for _, _, b in found]
        words: list[Word] = []
        n_ok = 0
        for k, (w, _, _) in enumerate(found):
            fi, li = first_items[k], last_items[k]
            word_ok = all(trusted[j] for j in range(fi, li + 1))
            n_ok += word_ok
            start = spans[fi][0] if trusted[fi] and not (k and last_items[k - 1] == fi) else None
            end = (
                spans[li][1]
                if trusted[li] and not (k + 1 < len(found) and first_items[k + 1] == li)
                else None
            )
            words.append(Word(w, start, end))
        known = [t for wd in words for t in (wd.start_s, wd.end_s) if t is not None]
        text = " ".join(body.split())
        line_no = first_items[0] + 1
        if not known:
            lines.append(
                Line(text, tuple(Word(w.text) for w in words), section, stanzas.next_line(), line_no=line_no)
            )
            continue
        lead = next(k for k, wd in enumerate(words) if wd.start_s is not None or wd.end_s is not None)
        trail = next(
            k
            for k in range(len(words) - 1, -1, -1)
            if words[k].start_s is not None or words[k].end_s is not None
        )
        lo = words[0].start_s
        if lo is None:
            lo = max(
                prev_end, min(known) - _S_PER_SYLLABLE * sum(count_syllables(w.text) for w in words[:lead])
            )
        hi = words[-1].end_s
        if hi is None:
            hi = max(known) + _S_PER_SYLLABLE * sum(count_syllables(w.text) for w in words[trail + 1 :])
        lo, hi = min(lo, min(known)), max(hi, max(known))
        prev_end = hi
        lines.append(
            Line(
                text,
                tuple(words),
                section,
                stanzas.next_line(),
                lo,
                hi,
                "file",
                round(n_ok / len(words), 3),
                line_no,
            )
        )
    return Lyrics(path=path, format="suno", lines=finish(lines, name=name))
