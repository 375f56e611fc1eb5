"""Cut points: segments that cover the song exactly, cut on beats in vocal gaps.

Public: cut_points, CutPolicy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..types import Analysis, Line

__all__ = ["cut_points", "CutPolicy"]



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


def _inside_lines(t: float, lines: Sequence[Line], margin_s: float = 0.05) -> float:
    """Confidence-weighted 1 if ``t`` falls inside a timed line, else 0."""
    for line in lines:
        if line.is_timed and line.start_s + margin_s < t < line.end_s - margin_s:
            return max(0.25, line.confidence)
    return 0.0


def _vocal_at(analysis: Analysis, t: float, half_window_s: float = 0.12) -> float:
    """Highest vocal activity near ``t`` (a cut must not clip a word's edge)."""
    if not analysis.vocal_activity:
        return 0.0
    hop = analysis.hop_s
    a = max(0, int((t - half_window_s) / hop))
    b = min(len(analysis.vocal_activity), int(math.ceil((t + half_window_s) / hop)) + 1)
    window = analysis.vocal_activity[a:b]
    return max(window) if window else 0.0


def cut_points(analysis: Analysis, lines: Sequence[Line], *, policy: CutPolicy) -> list[float]:
    """Choose the inner cut times (seconds) for the song.

    Candidates are the beats, plus the joins between timed lines sung back to back with no beat
    between them (off-beat, at a penalty); each gets a cost for vocal activity and for sitting
    inside a timed lyric line, a bonus on downbeats and just before a line starts. The intro (before the first sung
    line) and the outro (after the last) are cut off as segments of their own when long enough. A
    dynamic programme then picks the cheapest cuts so that every segment is between ``min_s`` and
    ``max_s`` and near ``target_s``. When the beats alone cannot satisfy ``max_s`` (no beat, very slow
    tempo), extra off-beat candidates at a fine grid are allowed at a penalty.

    Returns
    -------
    list of float
        Strictly increasing cut times in (0, duration); segments are the gaps between 0, the cuts and
        the duration.

    Raises
    ------
    InputError
        ``max_s`` is below ``min_s``, or the song is too short for one segment.
    """
    duration = analysis.duration_s
    if policy.max_s < policy.min_s:
        raise InputError(f"longest segment {policy.max_s:.2f} s is shorter than the shortest {policy.min_s:.2f} s")
    if duration <= policy.max_s:
        return []
    beats = np.asarray([t for t in analysis.beat_times_s if 0 < t < duration])
    downs = np.asarray(analysis.downbeat_times_s)
    starts = [line.start_s for line in lines if line.is_timed]

    def cost(t: float, offbeat: bool) -> float:
        c = policy.vocal_weight * _vocal_at(analysis, t) + policy.line_weight * _inside_lines(t, lines)
        if offbeat:
            c += policy.offbeat_penalty
        elif downs.size and np.min(np.abs(downs - t)) < 0.03:
            c -= policy.downbeat_bonus
        if starts:
            ahead = [s - t for s in starts if 0.0 <= s - t <= 1.2]
            if ahead:
                c -= policy.line_start_bonus * (1.0 - min(ahead) / 1.2)
        return c

    # anchors: intro and outro end at the beat before the first / after the last sung moment
    sung = [(line.start_s, line.end_s) for line in lines if line.is_timed]
    if not sung:
        sung = list(analysis.vocal_regions_s)
    anchors: list[float] = []
    if sung and beats.size:
        first = min(s for s, _ in sung)
        last = max(e for _, e in sung)
        before = beats[(beats <= first - 0.05) & (beats >= policy.min_s)]
        if before.size:
            anchors.append(float(before[-1]))
        after = beats[(beats >= last + 0.05) & (beats <= duration - policy.min_s)]
        if after.size and (not anchors or after[0] - anchors[-1] >= policy.min_s):
            anchors.append(float(after[0]))

    # where lines are sung back to back with no beat between them, the boundary itself is the best
    # place left for a cut: an off-beat candidate, dearer than a beat but far cheaper than mid-line
    timed = sorted((ln for ln in lines if ln.is_timed), key=lambda ln: ln.start_s)
    joins = []
    for cur, nxt in zip(timed[:-1], timed[1:]):
        g0, g1 = cur.end_s, max(cur.end_s, nxt.start_s)
        if not np.any((beats >= g0) & (beats <= g1)) and 0 < g0 and g1 < duration:
            joins.append((g0 + g1) / 2)
    bounds = [0.0, *anchors, duration]
    cuts: list[float] = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        cuts += _dp(a, b, beats, cost, policy, extra=joins)
        if b < duration:
            cuts.append(b)
    return cuts


def _dp(a: float, b: float, beats: np.ndarray, cost, policy: CutPolicy, *, extra: Sequence[float] = ()
        ) -> list[float]:
    """Cheapest inner cuts of [a, b] (exclusive) under the length limits; ``extra`` are off-beat
    candidates (line joins)."""
    if b - a <= policy.max_s:
        return []
    cands = [(float(t), False) for t in beats if a + policy.min_s <= t <= b - policy.min_s]
    cands = sorted(cands + [(float(t), True) for t in extra if a + policy.min_s <= t <= b - policy.min_s])
    result = _solve(a, b, cands, cost, policy)
    if result is None:  # beats cannot do it: allow a fine off-beat grid too
        grid = np.arange(a + policy.min_s, b - policy.min_s + 1e-9, max(0.1, policy.min_s / 4))
        extra = [(float(t), True) for t in grid if not any(abs(t - c) < 0.05 for c, _ in cands)]
        result = _solve(a, b, sorted(cands + extra), cost, policy)
    if result is None:
        raise InputError(f"cannot cut {a:.2f}–{b:.2f} s into segments of {policy.min_s:.2f}–{policy.max_s:.2f} s")
    return result


def _solve(a: float, b: float, cands: list[tuple[float, bool]], cost, policy: CutPolicy) -> list[float] | None:
    times = [a] + [t for t, _ in cands] + [b]
    node_cost = [0.0] + [cost(t, off) for t, off in cands] + [0.0]
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
        out.append(times[j])
        j = prev[j]
    return sorted(out)
