"""Word and line timing shared by the lyrics readers and the aligners.

A reader finishes the lines it read with :func:`finish` (timed lines in order, words timed inside
their line); the aligners and the interim placement time the words of a placed line with
:func:`fill_word_times` and walk the untimed stretches with :func:`untimed_runs`.

Public: spread, fill_word_times, last_line_end, finish, finite_seconds, untimed_runs,
LAST_LINE_S_PER_SYLLABLE, LAST_LINE_MIN_S, LAST_LINE_MAX_S.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence

from mvtimeline.errors import LyricsFormatError
from mvtimeline.types import Line, Word
from .words import count_syllables

__all__ = ["spread", "fill_word_times", "last_line_end", "finish", "finite_seconds", "untimed_runs",
           "LAST_LINE_S_PER_SYLLABLE", "LAST_LINE_MIN_S", "LAST_LINE_MAX_S"]

log = logging.getLogger(__name__)

#: The last line of an LRC file (or a line followed by an untimed one) lasts this many seconds per
#: syllable, at least ``LAST_LINE_MIN_S`` and at most ``LAST_LINE_MAX_S``, unless its words say more.
LAST_LINE_S_PER_SYLLABLE = 0.35
LAST_LINE_MIN_S = 2.0
LAST_LINE_MAX_S = 10.0


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
