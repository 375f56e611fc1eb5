"""Interim timing: spread untimed lyric lines over the song's vocal regions.

Before (or instead of) real alignment, every line needs a time so the later stages can run.
:func:`place` gives one, from the vocal-active regions the audio stage found and the lyrics'
own structure; it loads no audio.

How:

- Lines that already have times (from the file, or aligned) are anchors and keep them. Each run of
  untimed lines is placed between the anchor before it (its end; 0 for the first run) and the
  anchor after it (its start; the song's end for the last run).
- Inside that span, the run is laid over the vocal regions only, as if the regions were glued
  end to end ("vocal time"), each line getting a share proportional to its syllables. A span
  with less than ``MIN_VOCAL_S_PER_LINE`` seconds of vocals per line is used whole instead;
  with no vocal regions at all the song's 5 %..95 % is used.
- A boundary between two lines may move onto a gap between vocal regions, so lines do not run
  over instrumental parts: moving costs the distance (as a share of the run's vocal time), a gap
  earns a bonus growing with its length, up to ``STANZA_GAP_BONUS`` for a stanza break and
  ``LINE_GAP_BONUS`` for a break inside a stanza, so stanza breaks land on the larger gaps. The
  cheapest set of boundaries (in order) is found by dynamic programming.
- Words share their line's vocal time by syllables; a word boundary next to a vocal gap inside the
  line moves onto it.
- Placed lines get ``source="interim"`` and ``confidence=INTERIM_CONFIDENCE``; anchors keep their
  source and confidence, and their untimed words are spread over them by syllables. Every time is
  within ``[0, duration_s]`` and every line ends no later than the next one starts.

What both aligners do to lines the file timed sits here too: :func:`needs_word_times` says which
timed lines still need their words timed, :func:`tighten` ends a word-timed line with its last word.

Public: place, tighten, needs_word_times, INTERIM_CONFIDENCE.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
import math
from collections.abc import Sequence

from mvtimeline.errors import InputError, LyricsFormatError
from mvtimeline.types import Line, Lyrics, Word
from ..read.text import display_name
from ..timing import fill_word_times, untimed_runs
from ..words import count_syllables, line_syllables, split_words

__all__ = ["place", "tighten", "needs_word_times", "INTERIM_CONFIDENCE"]

log = logging.getLogger(__name__)

#: Confidence of a line placed by :func:`place` (its times are a guess).
INTERIM_CONFIDENCE = 0.2
#: Share of the song used when no vocal region is known.
FALLBACK_SPAN = (0.05, 0.95)
#: Below this many seconds of vocals per line, a run is spread over its whole span.
MIN_VOCAL_S_PER_LINE = 0.2
#: Largest bonus (in shares of the run's vocal time) for putting a stanza / line break on a gap.
STANZA_GAP_BONUS = 0.25
LINE_GAP_BONUS = 0.04
#: A gap this long (seconds) or longer earns the full bonus.
GAP_REF_S = 2.0
_EPS = 1e-9


class _VocalTime:
    """Sorted, disjoint regions glued end to end: positions in vocal seconds ↔ song seconds."""

    def __init__(self, regions: list[tuple[float, float]]) -> None:
        self.regions = regions
        self.cum = [0.0]
        for a, b in regions:
            self.cum.append(self.cum[-1] + (b - a))
        self.total = self.cum[-1]

    def edges(self) -> list[tuple[float, float]]:
        """(vocal position, gap length in s) of each gap between two regions."""
        return [
            (self.cum[j + 1], self.regions[j + 1][0] - self.regions[j][1])
            for j in range(len(self.regions) - 1)
        ]

    def to_song(self, p: float, *, side: str) -> float:
        """Song time of vocal position ``p``; at a gap, ``side="end"`` gives the gap's start (where
        something ends), ``side="start"`` its end (where the next thing starts)."""
        p = min(max(p, 0.0), self.total)
        j = min(bisect.bisect_right(self.cum, p + _EPS) - 1, len(self.regions) - 1)
        if side == "end" and j > 0 and abs(p - self.cum[j]) <= _EPS:
            return self.regions[j - 1][1]
        a, b = self.regions[j]
        return min(b, max(a, a + (p - self.cum[j])))


def _clean_regions(regions: Sequence[tuple[float, float]], duration_s: float) -> list[tuple[float, float]]:
    out = []
    for r in regions:
        try:
            a, b = float(r[0]), float(r[1])
        except (TypeError, ValueError, IndexError):
            raise InputError(f"vocal region {r!r} is not a (start_s, end_s) pair") from None
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        a, b = max(0.0, a), min(duration_s, b)
        if b - a > 1e-6:
            out.append((a, b))
    out.sort()
    merged: list[tuple[float, float]] = []
    for a, b in out:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _syllables(line: Line) -> int:
    words = [w.text for w in line.words] or split_words(line.text)
    return line_syllables(words)


def _choose_boundaries(
    natural: list[float], stanza_break: list[bool], edges: list[tuple[float, float]], total: float
) -> list[float]:
    """Boundary positions (vocal time), each at its natural place or on a gap, strictly increasing."""
    if not natural:
        return []
    cands: list[list[tuple[float, float]]] = []
    for k, nat in enumerate(natural):
        top = STANZA_GAP_BONUS if stanza_break[k] else LINE_GAP_BONUS
        opts = [(nat, 0.0)]
        lo_i = bisect.bisect_left(edges, (nat - top * total, -1.0))
        for p, gap in edges[lo_i:]:
            if p > nat + top * total:
                break
            cost = abs(p - nat) / total - top * min(1.0, gap / GAP_REF_S)
            if cost < 0:
                opts.append((p, cost))
        opts.sort()
        cands.append(opts)
    min_step = total * 1e-6
    best: list[list[float]] = []
    back: list[list[int]] = []
    for k, opts in enumerate(cands):
        row, ptr = [], []
        for pos, cost in opts:
            if pos <= min_step or pos >= total - min_step:
                row.append(math.inf)
                ptr.append(-1)
                continue
            if k == 0:
                row.append(cost)
                ptr.append(-1)
                continue
            b, bi = math.inf, -1
            for i, (ppos, _) in enumerate(cands[k - 1]):
                if ppos < pos - min_step and best[k - 1][i] < b:
                    b, bi = best[k - 1][i], i
            row.append(b + cost)
            ptr.append(bi)
        best.append(row)
        back.append(ptr)
    i = min(range(len(best[-1])), key=best[-1].__getitem__)
    if not math.isfinite(best[-1][i]):
        return natural
    out = []
    for k in range(len(cands) - 1, -1, -1):
        out.append(cands[k][i][0])
        i = back[k][i]
    return out[::-1]


def _snap_words(bounds: list[float], edges: list[tuple[float, float]]) -> list[float]:
    """Move the word boundary nearest to each gap inside the line onto that gap."""
    q = list(bounds)
    for p, _gap in edges:
        if not (q[0] + _EPS < p < q[-1] - _EPS) or len(q) < 3:
            continue
        k = min(range(1, len(q) - 1), key=lambda i: abs(q[i] - p))
        if q[k - 1] + _EPS < p < q[k + 1] - _EPS:
            q[k] = p
    return q


def _place_run(lines: list[Line], lo: float, hi: float, regions: list[tuple[float, float]]) -> list[Line]:
    n = len(lines)
    if hi - lo <= _EPS:
        log.info("%d untimed line(s) have no room between their neighbours at %.2f s", n, lo)
        return [
            dataclasses.replace(
                ln,
                start_s=lo,
                end_s=lo,
                words=tuple(Word(w.text, lo, lo) for w in ln.words),
                source="interim",
                confidence=INTERIM_CONFIDENCE,
            )
            for ln in lines
        ]
    clipped = [(max(a, lo), min(b, hi)) for a, b in regions if min(b, hi) - max(a, lo) > 1e-6]
    if sum(b - a for a, b in clipped) < MIN_VOCAL_S_PER_LINE * n:
        clipped = [(lo, hi)]
    vt = _VocalTime(clipped)
    weights = [_syllables(ln) for ln in lines]
    total_w = float(sum(weights))
    natural, acc = [], 0.0
    for w in weights[:-1]:
        acc += w
        natural.append(vt.total * acc / total_w)
    breaks = [
        lines[k + 1].stanza != lines[k].stanza or lines[k + 1].section != lines[k].section
        for k in range(n - 1)
    ]
    edges = vt.edges()
    bounds = [0.0, *_choose_boundaries(natural, breaks, edges, vt.total), vt.total]
    out = []
    for i, ln in enumerate(lines):
        p0, p1 = bounds[i], bounds[i + 1]
        start, end = vt.to_song(p0, side="start"), vt.to_song(p1, side="end")
        words = ln.words
        if words:
            syl = [count_syllables(w.text) for w in words]
            q = [p0]
            acc = 0.0
            for s in syl[:-1]:
                acc += s
                q.append(p0 + (p1 - p0) * acc / sum(syl))
            q.append(p1)
            q = _snap_words(q, edges)
            words = tuple(
                Word(w.text, vt.to_song(q[k], side="start"), vt.to_song(q[k + 1], side="end"))
                for k, w in enumerate(words)
            )
        out.append(
            dataclasses.replace(
                ln, start_s=start, end_s=end, words=words, source="interim", confidence=INTERIM_CONFIDENCE
            )
        )
    return out


def place(lyrics: Lyrics, *, vocal_regions_s: Sequence[tuple[float, float]], duration_s: float) -> Lyrics:
    """Give every untimed line (and word) an interim time over the vocal regions.

    Parameters
    ----------
    lyrics : Lyrics
        Lines in sung order; timed lines are anchors (in order, not overlapping).
    vocal_regions_s : sequence of (start_s, end_s)
        Where the voice is active, in seconds on the song (e.g. ``Analysis.vocal_regions_s``);
        unsorted or overlapping is fine, parts outside ``[0, duration_s]`` are cut off. Empty:
        the song's 5 %..95 % is used.
    duration_s : float > 0
        Length of the song in seconds.

    Returns
    -------
    Lyrics
        Same lines, every one timed with every word timed; placed lines have ``source="interim"``,
        ``confidence=0.2``. All times lie in ``[0, duration_s]``, lines do not overlap.

    Raises
    ------
    InputError
        ``duration_s`` not a positive finite number, or a region that is not a pair of numbers.
    LyricsFormatError
        An anchor that starts before the anchor above it.

    Examples
    --------
    >>> from mvtimeline.types import Line, Lyrics, Word
    >>> one_two = Line("one two", (Word("one"), Word("two")))
    >>> lyr = Lyrics("", "plain", (one_two, Line("three", (Word("three"),), stanza=1)))
    >>> out = place(lyr, vocal_regions_s=[(10.0, 14.0), (20.0, 22.0)], duration_s=30.0)
    >>> [(ln.start_s, ln.end_s, ln.source) for ln in out.lines]
    [(10.0, 14.0, 'interim'), (20.0, 22.0, 'interim')]
    >>> [(w.text, w.start_s, w.end_s) for w in out.lines[0].words]
    [('one', 10.0, 12.0), ('two', 12.0, 14.0)]
    """
    try:
        duration = float(duration_s)
    except (TypeError, ValueError):
        duration = math.nan
    if not math.isfinite(duration) or duration <= 0:
        raise InputError(f"duration_s {duration_s!r} must be a positive number of seconds")
    regions = _clean_regions(vocal_regions_s, duration)
    if not regions:
        regions = [(FALLBACK_SPAN[0] * duration, FALLBACK_SPAN[1] * duration)]
    name = display_name(lyrics.path) if lyrics.path else "lyrics"
    lines = list(lyrics.lines)
    n = len(lines)
    anchors = [i for i, ln in enumerate(lines) if ln.is_timed]

    prev: int | None = None
    for i in anchors:
        ln = lines[i]
        start = min(max(float(ln.start_s), 0.0), duration)
        end = min(max(float(ln.end_s), start), duration)
        if (start, end) != (ln.start_s, ln.end_s):
            log.info(
                "%s line %d: %.3f..%.3f s clipped to the song (%.3f..%.3f s)",
                name,
                ln.line_no,
                ln.start_s,
                ln.end_s,
                start,
                end,
            )
        if prev is not None:
            p = lines[prev]
            if start < p.start_s - _EPS:
                raise LyricsFormatError(
                    f"{name} line {ln.line_no}: starts at {start:.2f} s, before line {p.line_no} above it "
                    f"({p.start_s:.2f} s); timed lines must be in order"
                )
            if p.end_s > start:
                log.info(
                    "%s line %d: end %.3f s cut to the next line's start %.3f s",
                    name,
                    p.line_no,
                    p.end_s,
                    start,
                )
                lines[prev] = _with_words(dataclasses.replace(p, end_s=start))
        lines[i] = dataclasses.replace(ln, start_s=start, end_s=end)
        prev = i
    for i in anchors:
        lines[i] = _with_words(lines[i])

    for i, j in untimed_runs(lines):  # each run sits between two anchors (or a song end)
        lo = lines[i - 1].end_s if i > 0 else 0.0
        hi = lines[j].start_s if j < n else duration
        lines[i:j] = _place_run(lines[i:j], lo, max(lo, hi), regions)
    return dataclasses.replace(lyrics, lines=tuple(lines))


def _with_words(line: Line) -> Line:
    """An anchor with every word timed inside it."""
    if not line.words:
        return line
    return dataclasses.replace(line, words=fill_word_times(line.words, line.start_s, line.end_s))


def needs_word_times(line: Line) -> bool:
    """True for a timed line with a word (or no word list) still without its times."""
    return line.is_timed and not (line.words and all(w.start_s is not None and w.end_s is not None
                                                     for w in line.words))


def tighten(lyrics: Lyrics) -> Lyrics:
    """A line whose words are all timed ends where its last word ends (not at the next line's tag:
    the gap after it is where a cut may go), so word-timed formats agree on line ends."""
    lines = []
    for ln in lyrics.lines:
        if ln.is_timed and ln.words and all(w.start_s is not None and w.end_s is not None for w in ln.words):
            last = float(ln.words[-1].end_s)
            if ln.start_s < last < ln.end_s:
                ln = dataclasses.replace(ln, end_s=last)
        lines.append(ln)
    return dataclasses.replace(lyrics, lines=tuple(lines))
