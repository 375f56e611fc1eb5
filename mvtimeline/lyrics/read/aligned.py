"""JSON lyrics: mvtimeline's own aligned.json artifact, or Suno aligned words.

A ``.json`` file whose top level has ``"kind": "aligned"`` is the artifact written by
:meth:`mvtimeline.types.Lyrics.save` (schema 1); any other JSON is read as Suno aligned words
(:mod:`mvtimeline.lyrics.read.suno`).

Public: parse_json, parse_aligned.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from mvtimeline.errors import LyricsFormatError
from mvtimeline.types import Lyrics, Word
from .text import clean
from ..timing import finish
from .suno import load_json, suno_from_obj
from ..words import split_words

__all__ = ["parse_json", "parse_aligned"]

SCHEMAS = (1,)


def parse_json(text: str, *, name: str = "<text>", path: str = "") -> Lyrics:
    """Lyrics from JSON text: the aligned.json artifact if it says so, else Suno aligned words.

    Examples
    --------
    >>> parse_json('[{"word": "Hi", "start_s": 0.5, "end_s": 0.9}]').lines[0].start_s
    0.5
    """
    obj = load_json(text, name)
    if isinstance(obj, dict) and obj.get("kind") == "aligned":
        return parse_aligned(obj, name=name)
    return suno_from_obj(obj, name=name, path=path)


def _time(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{clean(repr(value), 30)} is not a time in seconds")
    return float(value)


def parse_aligned(obj: dict[str, Any], *, name: str = "<json>") -> Lyrics:
    """Lyrics from a decoded aligned.json artifact, every field checked.

    A line without words gets the words of its text; timed lines must be in order, and one that
    overlaps the next is cut at the next one's start (as every reader does).

    Raises
    ------
    LyricsFormatError
        An unknown schema, a missing or mistyped field (named as ``lines[3].start_s``), timed lines
        out of order, a line without a word, or no line.
    """
    schema = obj.get("schema")
    if schema not in SCHEMAS:
        raise LyricsFormatError(
            f"{name}: aligned schema {clean(repr(schema), 20)} is not supported; "
            f"this mvtimeline reads schema {', '.join(map(str, SCHEMAS))}"
        )
    try:
        lyr = Lyrics.from_dict(obj)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LyricsFormatError(
            f"{name}: malformed aligned file ({type(exc).__name__}: {clean(exc, 80)})"
        ) from None
    if not isinstance(lyr.path, str) or not isinstance(lyr.format, str):
        raise LyricsFormatError(f"{name}: malformed aligned file ('path' and 'format' must be text)")
    lines = []
    last_start: float | None = None
    for k, ln in enumerate(lyr.lines):
        where = f"{name} lines[{k}]"
        field = "text"
        try:
            if not isinstance(ln.text, str):
                raise ValueError("must be text")
            words = []
            for j, w in enumerate(ln.words):
                field = f"words[{j}]"
                if not isinstance(w.text, str):
                    raise ValueError("text must be text")
                words.append(Word(w.text, _time(w.start_s), _time(w.end_s)))
            for fname, value, ok in (
                ("section", ln.section, ln.section is None or isinstance(ln.section, str)),
                ("stanza", ln.stanza, isinstance(ln.stanza, int) and not isinstance(ln.stanza, bool)),
                ("source", ln.source, isinstance(ln.source, str)),
                ("line_no", ln.line_no, isinstance(ln.line_no, int) and not isinstance(ln.line_no, bool)),
                (
                    "confidence",
                    ln.confidence,
                    isinstance(ln.confidence, int | float) and not isinstance(ln.confidence, bool),
                ),
            ):
                if not ok:
                    field = fname
                    raise ValueError(f"{clean(repr(value), 30)} has the wrong type")
            field = "start_s"
            start = _time(ln.start_s)
            field = "end_s"
            end = _time(ln.end_s)
            if start is not None and end is not None and end < start:
                raise ValueError(f"{end:g} is before start_s {start:g}")
        except ValueError as exc:
            raise LyricsFormatError(f"{where}.{field}: {exc}") from None
        if not words:
            words = [Word(w) for w in split_words(ln.text)]
            if not words:
                raise LyricsFormatError(f"{where}: no words to sing (text {clean(repr(ln.text), 30)})")
        if start is not None and end is not None:
            if last_start is not None and start < last_start:
                raise LyricsFormatError(
                    f"{where}.start_s: {start:g} is before the start of the timed line above ({last_start:g})"
                )
            last_start = start
        lines.append(
            dataclasses.replace(
                ln, words=tuple(words), start_s=start, end_s=end, confidence=float(ln.confidence)
            )
        )
    if not math.isfinite(lyr.offset_s):
        raise LyricsFormatError(f"{name}: offset_s {lyr.offset_s!r} is not a number of seconds")
    return dataclasses.replace(lyr, lines=finish(lines, name=name), offset_s=float(lyr.offset_s))
