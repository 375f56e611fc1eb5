"""Cut points: segments that cover the song exactly, cut between lines or words, never inside a word.

Candidates for a cut, cheapest first:

- **between lines**: in the gap between two sung lines (the last word's end to the next line's
  first word; at the very join when lines are sung back to back), and anywhere the voice does not
  sing (intro, outro, instrumental breaks): on a beat when one falls there, else the gap's middle;
- **word gap**: inside a line, between two words, when a run of lines sung back to back is longer
  than a segment may be; the widest gaps (and the quietest: the voice curve of the analysis) are
  cheapest, on a beat inside the gap if one fits, else the gap's middle;
- **forced**: inside a sung word, only when nothing else can keep the segments short enough.

A dynamic programme picks the cheapest cuts such that every segment lasts ``min_s`` to ``max_s``
and is near ``target_s``; downbeats and the moment just before a line starts earn a bonus, voice
under the cut costs. The **cut rule** chooses which candidates exist: ``"words"`` (the default:
all three, a cut inside a word only when forced), ``"lines"`` (only between lines; a run of lines
longer than ``max_s`` is an error naming it: what the lip-sync backends need), ``"beats"`` (every
beat, inside lines too: a plain montage). Every cut records why it is there.

Public: cut_points, Cut, CutPolicy, CUT_RULES, CUT_REASONS.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import CUT_RULES
from ..errors import InputError
from ..types import Analysis, Line

__all__ = ["cut_points", "Cut", "CutPolicy", "CUT_RULES", "CUT_REASONS"]

log = logging.getLogger(__name__)

#: Why a cut is where it is.
CUT_REASONS = ("between lines", "word gap", "forced")
#: A cut this close to a word's edge (seconds) counts as outside the word.
EDGE_S = 0.02
#: Cuts between lines keep this far (seconds) after the previous line's last word when the gap allows.
END_MARGIN_S = 0.15
#: Off-beat candidates in a gap: the middle, and points this far apart (seconds) in a long gap.
GAP_STEP_S = 0.5
#: At a line start the lyrics file gives, the voice under the cut counts this much (it is the line
#: before, held up to the next: the cut is between lines all the same).
SURE_VOICE_SHARE = 0.25
#: The outro's own segment starts at least this long (seconds) after the last line's start when
#: its end is a guess (a line's end is never in the file), so a held last word is not cut.
OUTRO_MARGIN_S = 1.0
#: Word times (ours, from the aligner) may be off by this much (seconds): a beat counts as inside a
#: word gap only that far from both words.
WORD_SLACK_S = 0.1
#: Off the beat, a cut between two words goes this long (seconds) before the second word's start...
WORD_LEAD_S = 0.06
#: ... unless the voice curve dips near there below this share of its level around (a pause heard).
DIP_SHARE = 0.6
#: A line timed by the aligner (not by the lyrics file) may start this much earlier (seconds) than
#: it says: cuts before it go where the voice pauses within that much of its start.
UNSURE_S = 0.5


@dataclass(frozen=True)
class Cut:
    """One cut: the time (seconds) where a segment ends and the next begins, and why there."""

    time_s: float
    reason: str


@dataclass(frozen=True)
class CutPolicy:
    """Limits and weights for choosing cuts. Seconds throughout.

    ``max_s`` is the longest segment (the backend's limit), ``min_s`` the shortest (at least one beat
    and long enough for the dissolves at both ends), ``target_s`` the preferred length.
    """

    max_s: float
    min_s: float
    target_s: float
    vocal_weight: float = 8.0
    line_weight: float = 4.0
    downbeat_bonus: float = 0.6
    line_start_bonus: float = 0.8
    offbeat_penalty: float = 3.0
    word_gap_cost: float = 6.0
    forced_cost: float = 60.0


@dataclass(frozen=True)
class _Cand:
    time_s: float
    reason: str
    offbeat: bool
    width_s: float = 0.0  # the gap's width (word gaps)
    sure: bool = False  # a line start the lyrics file gives: the voice under it is the line before, held


def _vocal_at(analysis: Analysis, t: float, half_window_s: float = 0.12) -> float:
    """Highest vocal activity near ``t`` (a cut must not clip a word's edge)."""
    if not analysis.vocal_activity:
        return 0.0
    hop = analysis.hop_s
    a = max(0, int((t - half_window_s) / hop))
    b = min(len(analysis.vocal_activity), int(math.ceil((t + half_window_s) / hop)) + 1)
    window = analysis.vocal_activity[a:b]
    return max(window) if window else 0.0


def _word_spans(line: Line) -> list[tuple[float, float]]:
    """Where a timed line is sung: its words, or the whole line when a word has no time."""
    if line.words and all(w.start_s is not None and w.end_s is not None for w in line.words):
        spans = [(float(w.start_s), float(w.end_s)) for w in line.words if w.end_s > w.start_s]
        if spans:
            return spans
    return [(float(line.start_s), float(line.end_s))]


def _sung_edges(line: Line) -> tuple[float, float]:
    spans = _word_spans(line)
    return min(a for a, _ in spans), max(b for _, b in spans)


def _cut_edges(analysis: Analysis, line: Line, floor_s: float) -> tuple[float, float]:
    """Where a cut must stay out of for ``line``: its sung edges; for a line the aligner timed, its
    start moved back to where the voice pauses just before (the quietest moment within
    ``UNSURE_S`` before it, not before ``floor_s``): the aligner's start may be late by that much."""
    a, b = _sung_edges(line)
    if line.source == "file" or not analysis.vocal_activity:
        return a, b
    hop = analysis.hop_s
    va = analysis.vocal_activity
    i0 = max(0, int(math.ceil(max(floor_s, a - UNSURE_S) / hop)))
    i1 = min(len(va), int(a / hop) + 1)
    if i1 - i0 < 2:
        return a, b
    quiet = i0 + int(np.argmin(np.asarray(va[i0:i1])))
    return min(a, quiet * hop), b


def _all_edges(analysis: Analysis, timed: Sequence[Line]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for ln in timed:
        out.append(_cut_edges(analysis, ln, out[-1][1] if out else 0.0))
    return out


def _in_gap_points(a: float, b: float, beats: np.ndarray) -> list[tuple[float, bool]]:
    """Cut times in the gap [a, b]: the beats inside it, else its middle (and more off-beat points
    in a long gap, so a segment limit can still be met)."""
    inside = beats[(beats > a + EDGE_S) & (beats < b - EDGE_S)] if b - a > 2 * EDGE_S else beats[:0]
    if inside.size:
        return [(float(t), False) for t in inside]
    if b - a <= GAP_STEP_S:
        return [((a + b) / 2, True)]
    n = int((b - a) // GAP_STEP_S)
    return [(a + (b - a) * (k + 0.5) / n, True) for k in range(n)]


def _candidates(analysis: Analysis, lines: Sequence[Line], beats: np.ndarray, rule: str) -> list[_Cand]:
    duration = analysis.duration_s
    timed = sorted((ln for ln in lines if ln.is_timed), key=lambda ln: ln.start_s)
    out: list[_Cand] = []
    # between lines (and before the first / after the last line)
    edges = _all_edges(analysis, timed)
    gaps = []
    prev_end = 0.0
    for a, b in edges:
        # a line's start is known better than the previous line's end (often estimated): keep off
        # the end by END_MARGIN_S when the gap allows
        gaps.append((min(prev_end + END_MARGIN_S, max(prev_end, a)) if prev_end else 0.0, max(prev_end, a)))
        prev_end = max(prev_end, b)
    gaps.append((min(prev_end + END_MARGIN_S, duration), duration))
    for k, (a, b) in enumerate(gaps):
        # the next line's start itself: the surest place between two lines (a file gives it exactly;
        # the end of the line before is often a guess, and a held note may run up to it)
        if k < len(edges) and 0 < b < duration:
            out.append(_Cand(b, "between lines", not bool(np.any(np.abs(beats - b) < 0.03)),
                             sure=timed[k].source == "file"))
        if b - a > EDGE_S:
            out += [_Cand(t, "between lines", off) for t, off in _in_gap_points(a, b, beats)
                    if t < b - EDGE_S]
    if rule == "lines":
        return out
    if rule == "beats":  # a montage: every cut on a beat (between lines when one is, else anywhere)
        out = [c for c in out if not c.offbeat]
        taken = {round(c.time_s, 3) for c in out}
        sung = [s for ln in timed for s in _word_spans(ln)]
        for t in beats:
            if round(float(t), 3) in taken:
                continue
            inside = any(a + EDGE_S < t < b - EDGE_S for a, b in sung)
            out.append(_Cand(float(t), "forced" if inside else "word gap", False))
        return out
    # word gaps inside lines: a beat that fits inside the gap even if the word times are off by
    # WORD_SLACK_S; else just before the next word starts (word starts sit on the voice's onsets,
    # the surest word edge the aligner has; where a word ends is less sure)
    for ln in timed:
        spans = _word_spans(ln)
        for (_, e0), (s1, _) in zip(spans[:-1], spans[1:]):
            if s1 < e0:
                continue
            a, b = e0 + WORD_SLACK_S, s1 - WORD_SLACK_S
            inside = beats[(beats > a) & (beats < b)] if b > a else beats[:0]
            if inside.size:
                out += [_Cand(float(t), "word gap", False, s1 - e0) for t in inside]
            else:
                out.append(_Cand(_word_cut(analysis, e0, s1), "word gap", True, s1 - e0))
    return out


def _word_cut(analysis: Analysis, e0: float, s1: float) -> float:
    """Where to cut between a word ending at ``e0`` and the next starting at ``s1`` (our times):
    where the voice pauses near there when it clearly does (a dip of the voice curve within
    ``WORD_SLACK_S``), else ``WORD_LEAD_S`` before the next word's start (word starts sit on the
    voice's onsets: the surest word edge the aligner has)."""
    fallback = max(e0, s1 - WORD_LEAD_S)
    va = analysis.vocal_activity
    if not va:
        return fallback
    hop = analysis.hop_s
    i0 = max(0, int(math.ceil((min(e0, s1) - WORD_SLACK_S) / hop)))
    i1 = min(len(va), int((s1 + WORD_SLACK_S / 2) / hop) + 1)
    if i1 - i0 < 3:
        return fallback
    seg = np.asarray(va[i0:i1])
    k = int(np.argmin(seg))
    if seg[k] > DIP_SHARE * float(seg.max()):
        return fallback
    return float((i0 + k) * hop)


def _forced_grid(a: float, b: float, beats: np.ndarray, policy: CutPolicy, timed: Sequence[Line]) -> list[_Cand]:
    """The last resort: beats and a fine grid anywhere in [a, b]; those inside a sung word are forced."""
    grid = np.arange(a + policy.min_s, b - policy.min_s + 1e-9, max(0.1, policy.min_s / 4))
    pts = [(float(t), False) for t in beats if a + policy.min_s <= t <= b - policy.min_s]
    pts += [(float(t), True) for t in grid]
    out = []
    for t, off in pts:
        if any(wa + EDGE_S < t < wb - EDGE_S for ln in timed for wa, wb in _word_spans(ln)):
            reason = "forced"
        elif any(ln.start_s < t < ln.end_s for ln in timed):
            reason = "word gap"
        else:
            reason = "between lines"
        out.append(_Cand(t, reason, off))
    return out


def cut_points(analysis: Analysis, lines: Sequence[Line], *, policy: CutPolicy, rule: str = "words") -> list[Cut]:
    """Choose the inner cuts of the song (see the module's description).

    Parameters
    ----------
    analysis : Analysis
        Beats, downbeats, vocal activity, duration.
    lines : sequence of Line
        Timed lyric lines; their words' times (when all are known) mark where a cut may not go.
    policy : CutPolicy
        Segment lengths (seconds) and weights.
    rule : {"words", "lines", "beats"}
        Which cuts are allowed (see :data:`CUT_RULES`).

    Returns
    -------
    list of Cut
        Strictly increasing times in (0, duration), each with its reason (:data:`CUT_REASONS`).

    Raises
    ------
    InputError
        An unknown rule; ``max_s`` below ``min_s``; with ``rule="lines"``, a run of lines sung
        back to back longer than ``max_s`` (the message names the lines and their times).
    """
    if rule not in CUT_RULES:
        raise InputError(f"unknown cut rule {rule!r}; known: {', '.join(CUT_RULES)}")
    duration = analysis.duration_s
    if policy.max_s < policy.min_s:
        raise InputError(f"longest segment {policy.max_s:.2f} s is shorter than the shortest {policy.min_s:.2f} s")
    if duration <= policy.max_s:
        return []
    beats = np.asarray([t for t in analysis.beat_times_s if 0 < t < duration])
    downs = np.asarray(analysis.downbeat_times_s)
    timed = sorted((ln for ln in lines if ln.is_timed), key=lambda ln: ln.start_s)
    starts = [a for a, _ in _all_edges(analysis, timed)]

    def cost(c: _Cand) -> float:
        k = policy.vocal_weight * _vocal_at(analysis, c.time_s) * (SURE_VOICE_SHARE if c.sure else 1.0)
        if c.reason == "word gap":
            # the widest gaps first: a breath between words, not the tiny join of two syllables
            k += policy.word_gap_cost / (1.0 + 4.0 * c.width_s)
        elif c.reason == "forced":
            # a montage (rule "beats") cuts inside lines at a moderate cost; otherwise only when nothing else fits
            k += policy.line_weight if rule == "beats" else policy.forced_cost
        if c.offbeat:
            k += policy.offbeat_penalty if c.reason != "between lines" else policy.offbeat_penalty / 3
        elif downs.size and np.min(np.abs(downs - c.time_s)) < 0.03:
            k -= policy.downbeat_bonus
        ahead = [s - c.time_s for s in starts if 0.0 <= s - c.time_s <= 1.2]
        if ahead:
            k -= policy.line_start_bonus * (1.0 - min(ahead) / 1.2)
        return k

    cands = _candidates(analysis, timed, beats, rule)
    # anchors: the intro and the outro are segments of their own when long enough
    anchors: list[_Cand] = []
    if timed:
        first, last = starts[0], max(_sung_edges(ln)[1] for ln in timed)
        before = [c for c in cands if c.reason == "between lines" and policy.min_s <= c.time_s <= first - 0.05]
        if before:
            anchors.append(max(before, key=lambda c: (not c.offbeat, c.time_s)))
        after = [c for c in cands if c.reason == "between lines" and last + 0.05 <= c.time_s <= duration - policy.min_s]
        late = [c for c in after if c.time_s >= last + OUTRO_MARGIN_S]
        after = late or after
        if after and (not anchors or after[0].time_s - anchors[-1].time_s >= policy.min_s):
            anchors.append(min(after, key=lambda c: (c.offbeat, c.time_s)))
    bounds = [0.0, *(a.time_s for a in anchors), duration]
    cuts: list[Cut] = []
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        inner = [c for c in cands if a + policy.min_s <= c.time_s <= b - policy.min_s]
        cuts += _dp(a, b, inner, cost, policy, beats, rule, timed)
        if k < len(anchors):
            cuts.append(Cut(round(anchors[k].time_s, 6), anchors[k].reason))
    forced = sum(1 for c in cuts if c.reason == "forced")
    if forced:
        log.warning("%d of %d cuts fall inside a sung word: no gap between lines or words kept the segments "
                    "under %.1f s there", forced, len(cuts), policy.max_s)
    return cuts


def _dp(a: float, b: float, cands: list[_Cand], cost, policy: CutPolicy, beats: np.ndarray, rule: str,
        timed: Sequence[Line]) -> list[Cut]:
    """Cheapest inner cuts of [a, b] under the length limits."""
    if b - a <= policy.max_s:
        return []
    cands = sorted(cands, key=lambda c: c.time_s)
    result = _solve(a, b, cands, cost, policy)
    if result is None and rule == "lines":
        raise InputError(_long_run_message(a, b, cands, policy, timed))
    if result is None:  # nothing between lines and words does it: allow cuts inside words
        result = _solve(a, b, sorted(cands + _forced_grid(a, b, beats, policy, timed), key=lambda c: c.time_s),
                        cost, policy)
    if result is None:
        raise InputError(f"cannot cut {a:.2f}–{b:.2f} s into segments of {policy.min_s:.2f}–{policy.max_s:.2f} s")
    return result


def _long_run_message(a: float, b: float, cands: list[_Cand], policy: CutPolicy, timed: Sequence[Line]) -> str:
    times = [a, *(c.time_s for c in cands), b]
    gap_a, gap_b = max(zip(times[:-1], times[1:]), key=lambda p: p[1] - p[0])
    inside = [ln for ln in timed if ln.end_s > gap_a and ln.start_s < gap_b]
    if inside:
        nos = [ln.line_no for ln in inside if ln.line_no]
        which = (f"lines {nos[0]}–{nos[-1]} ({inside[0].start_s:.1f}–{inside[-1].end_s:.1f} s) are"
                 if len(nos) > 1 else f"line {nos[0]} ({inside[0].start_s:.1f}–{inside[-1].end_s:.1f} s) is") \
            if nos else f"lines ({inside[0].start_s:.1f}–{inside[-1].end_s:.1f} s) are"
        return (f"{which} sung back to back for "
                f"{gap_b - gap_a:.1f} s, longer than the longest segment ({policy.max_s:.1f} s): with cut_rule "
                "'lines' there is no place to cut; use cut_rule 'words' or allow longer segments")
    return f"cannot cut {a:.2f}–{b:.2f} s between lines into segments of at most {policy.max_s:.2f} s"


def _solve(a: float, b: float, cands: list[_Cand], cost, policy: CutPolicy) -> list[Cut] | None:
    times = [a] + [c.time_s for c in cands] + [b]
    node_cost = [0.0] + [cost(c) for c in cands] + [0.0]
    n = len(times)
    best = [math.inf] * n
    prev = [-1] * n
    best[0] = 0.0
    lo = 0
    for j in range(1, n):
        while times[j] - times[lo] > policy.max_s + 1e-9:
            lo += 1
        for i in range(lo, j):
            length = times[j] - times[i]
            if length < policy.min_s - 1e-9 or best[i] == math.inf:
                continue
            dev = (length - policy.target_s) / policy.target_s
            c = best[i] + node_cost[j] + dev * dev
            if c < best[j]:
                best[j], prev[j] = c, i
    if best[-1] == math.inf:
        return None
    out = []
    j = prev[-1]
    while j > 0:
        out.append(Cut(round(times[j], 6), cands[j - 1].reason))
        j = prev[j]
    return sorted(out, key=lambda c: c.time_s)
