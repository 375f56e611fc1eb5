"""Cut points: segments that cover the song exactly, cut where an editor would, never inside a word.

The song is split into **stretches**: the sung runs (lines with rests shorter than a break between
them) and the instrumental ones (intro, breaks, outro). Where one meets the other is a ``section``
cut: a downbeat (else a beat) up to a bar before the voice comes in, the first one after it stops.

- **Instrumental stretches** are cut on the music's phrases: downbeats counted in groups of 2, 4
  and 8 bars from where the voice comes in (the outro: from where it stopped), the audio's own
  section changes, and, only to keep within the model's length, a plain beat (``model length``).
  The pace sets how long they run (``calm``: long phrases; ``energetic``: two bars or so).
- **Sung stretches** are cut so that each segment fits what the model makes in one go
  (``clip_s``): in a gap between lines (``line gap``; ``section`` where the lyrics' section
  changes), else between words (``word gap``: the widest and quietest gaps first, on a beat inside
  the gap when one fits), never inside a sung word. A stretch with no gap for longer than the model
  makes (a held note) becomes one segment of several chained chunks, up to ``max_s`` (what the
  backend makes by chaining); only beyond that a cut goes inside a word (``forced``).

A dynamic programme picks the cheapest cuts in each stretch: every segment lasts ``min_s`` to
``max_s``, near the pace's length, not under ``short_s`` unless nothing else fits. The **cut rule**
chooses which candidates exist in sung stretches: ``"words"`` (the default), ``"lines"`` (only
between lines; a run of lines longer than ``max_s`` is an error naming it: what the lip-sync
backends need), ``"beats"`` (every beat, inside lines too: a plain montage).

Public: cut_points, cut_candidates, lines_in, Cut, CutPolicy, Pace, PACES, CUT_RULES, CUT_REASONS, chunks_of.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
import dataclasses
from dataclasses import dataclass

import numpy as np

from ..config import CUT_RULES, PACE_NAMES
from ..errors import InputError
from ..types import Analysis, Line, section_kind

__all__ = ["cut_points", "cut_candidates", "lines_in", "Cut", "CutPolicy", "Pace", "PACES", "CUT_RULES", "CUT_REASONS", "chunks_of"]

log = logging.getLogger(__name__)

#: Why a cut is where it is (a phrase cut says how many bars its phrase has: ``"phrase (4 bars)"``).
CUT_REASONS = ("line gap", "word gap", "section", "phrase", "downbeat", "model length", "forced")
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
#: A cut the voice does not pause at (the curve at the cut above this share of its level around, and
#: above the song's voice threshold) may be inside a held or slurred word whatever the word times
#: say: it costs more than chaining one more clip.
NO_DIP_SHARE = 0.6
#: A gap between aligned lines narrower than this (seconds) is checked for a pause like a word gap.
NARROW_GAP_S = 0.3
#: How far around a cut (seconds) the voice's level is taken, and how close to it the pause must be.
DIP_AROUND_S, DIP_AT_S = 0.35, 0.04
#: A segment of a sung stretch with less singing than this (seconds) is a rest: it costs extra.
EMPTY_S = 0.3
#: The grid (seconds) on which sung time is counted.
SUNG_GRID_S = 0.05
#: A rest of the voice at least this long (seconds, or two bars when longer) is an instrumental
#: stretch of its own.
BREAK_S = 4.0


@dataclass(frozen=True)
class Pace:
    """How fast the cuts come: instrumental segments near ``instrumental_s`` seconds (on 2/4/8-bar
    phrases), sung ones near ``sung_share`` of the model's clip length, choruses near
    ``chorus_bars`` bars when set."""

    name: str
    instrumental_s: float
    sung_share: float
    chorus_bars: float | None = None


#: The paces a style or ``--pace`` names.
PACES = {
    "calm": Pace("calm", 12.0, 1.0),
    "steady": Pace("steady", 8.0, 0.85),
    "energetic": Pace("energetic", 4.0, 0.6, chorus_bars=1.5),
}
assert tuple(PACES) == PACE_NAMES


@dataclass(frozen=True)
class Cut:
    """One cut: the time (seconds) where a segment ends and the next begins, and why there."""

    time_s: float
    reason: str


@dataclass(frozen=True)
class CutPolicy:
    """Limits and weights for choosing cuts. Seconds throughout.

    ``clip_s`` is the longest clip the model makes in one go (sung segments fit it unless no gap
    allows), ``max_s`` the longest segment the backend makes at all (by chaining clips; ``clip_s``
    when it does not chain), ``min_s`` the shortest (at least one beat and long enough for the
    dissolves at both ends), ``short_s`` the length under which a segment costs extra,
    ``target_s`` the preferred length of a sung segment, ``instrumental_s`` of an instrumental
    one, ``chorus_s`` of a sung one in a chorus (None: ``target_s``).
    """

    max_s: float
    min_s: float
    target_s: float
    clip_s: float | None = None
    instrumental_s: float = 8.0
    chorus_s: float | None = None
    short_s: float = 2.0
    vocal_weight: float = 8.0
    line_weight: float = 4.0
    downbeat_bonus: float = 0.6
    line_start_bonus: float = 0.8
    offbeat_penalty: float = 3.0
    word_gap_cost: float = 6.0
    forced_cost: float = 60.0
    chain_cost: float = 25.0  # per extra chunk of a sung segment (an instrumental one: chain_cost / 100)
    no_pause_cost: float = 30.0  # a cut where the voice does not pause
    short_cost: float = 4.0

    @property
    def clip_limit_s(self) -> float:
        return self.max_s if self.clip_s is None else min(self.clip_s, self.max_s)


def lines_in(lines: Sequence[Line], a: float, b: float) -> tuple[str, ...]:
    """The texts of the timed ``lines`` sung in [a, b) for more than 0.1 s: a segment's lyric."""
    return tuple(ln.text for ln in lines if ln.is_timed and ln.start_s < b and ln.end_s > a
                 and (min(b, ln.end_s) - max(a, ln.start_s)) > 0.1)


def chunks_of(duration_s: float, clip_s: float | None) -> int:
    """How many chained clips the model makes for a segment of ``duration_s`` (1 without a limit).

    Examples
    --------
    >>> chunks_of(9.0, 5.0), chunks_of(5.0, 5.0), chunks_of(3.0, None)
    (2, 1, 1)
    """
    if clip_s is None or not math.isfinite(clip_s) or clip_s <= 0:
        return 1
    return max(1, math.ceil(duration_s / clip_s - 1e-6))


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
    seg = np.asarray(va[i0:i1])
    quiet = i0 + int(np.flatnonzero(seg <= seg.min() + 0.02)[-1])  # the quiet moment nearest the start
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
            if timed[k].source == "file":
                out.append(_Cand(b, "between lines", not bool(np.any(np.abs(beats - b) < 0.03)), sure=True))
            elif b - a <= 2 * EDGE_S or not analysis.vocal_activity:  # back to back: the join itself
                out.append(_Cand(b, "between lines", not bool(np.any(np.abs(beats - b) < 0.03)), max(0.0, b - a)))
            else:
                # an aligned line's start may be late: the quietest moment of the gap is the surest place
                hop = analysis.hop_s
                i0, i1 = int(math.ceil(a / hop)), min(len(analysis.vocal_activity), int(b / hop) + 1)
                if i1 > i0:
                    q = (i0 + int(np.argmin(np.asarray(analysis.vocal_activity[i0:i1])))) * hop
                    out.append(_Cand(float(q), "between lines", not bool(np.any(np.abs(beats - q) < 0.03)), b - a))
        if b - a > EDGE_S:
            out += [_Cand(t, "between lines", off, b - a) for t, off in _in_gap_points(a, b, beats)
                    if t < b - EDGE_S]
            if b - a >= 2 * WORD_SLACK_S and a > 0:  # just after the line before ends: the rest opens the next
                out.append(_Cand(a, "between lines", not bool(np.any(np.abs(beats - a) < 0.03)), b - a))
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


def cut_candidates(analysis: Analysis, lines: Sequence[Line], *, rule: str = "words") -> list[Cut]:
    """Every place the planner may cut the song under ``rule``, never inside a sung word: the gaps
    between lines (and, for ``"words"``, between words), each with its reason, in time order.

    Parameters
    ----------
    analysis : Analysis
    lines : sequence of Line
        Timed lyric lines.
    rule : {"words", "lines", "beats"}

    Returns
    -------
    list of Cut
        Strictly increasing times in (0, duration); no ``"forced"`` one.

    Raises
    ------
    InputError
        An unknown rule.
    """
    if rule not in CUT_RULES:
        raise InputError(f"unknown cut rule {rule!r}; known: {', '.join(CUT_RULES)}")
    duration = analysis.duration_s
    timed = sorted((ln for ln in lines if ln.is_timed), key=lambda ln: ln.start_s)
    beats = np.asarray([t for t in analysis.beat_times_s if 0 < t < duration])
    best: dict[float, Cut] = {}
    for c in _candidates(analysis, timed, beats, rule):
        if c.reason == "forced" or not 0 < c.time_s < duration:
            continue
        t = round(c.time_s, 3)
        if t not in best or (best[t].reason == "word gap" and c.reason == "between lines"):
            best[t] = Cut(t, c.reason)
    return [best[t] for t in sorted(best)]


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


def cut_points(analysis: Analysis, lines: Sequence[Line], *, policy: CutPolicy, rule: str = "words",
               sections: Sequence[str] | None = None) -> list[Cut]:
    """Choose the inner cuts of the song (see the module's description).

    Parameters
    ----------
    analysis : Analysis
        Beats, downbeats, vocal activity, sections, duration.
    lines : sequence of Line
        Timed lyric lines; their words' times (when all are known) mark where a cut may not go.
    policy : CutPolicy
        Segment lengths (seconds) and weights.
    rule : {"words", "lines", "beats"}
        Which cuts are allowed (see :data:`CUT_RULES`).
    sections : sequence of str, optional
        The section of each line of ``lines`` (:func:`mvtimeline.plan.sections.label_lines`): a line
        gap where it changes is a ``section`` cut, and choruses follow ``policy.chorus_s``.

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
    order = sorted(range(len(lines)), key=lambda i: lines[i].start_s if lines[i].is_timed else 0.0)
    timed = [lines[i] for i in order if lines[i].is_timed]
    if sections is not None and len(sections) == len(lines):
        names = [sections[i] for i in order if lines[i].is_timed]
    else:
        names = [ln.section or "" for ln in timed]
    if not math.isfinite(policy.max_s):  # a backend without a limit (the loop): one segment
        return []
    if duration <= policy.clip_limit_s and (timed or duration <= policy.instrumental_s * 1.5
                                            or duration <= policy.min_s * 2):
        return []
    ctx = _Context.make(analysis, timed, names, policy, rule)
    cuts: list[Cut] = []
    for k, st in enumerate(ctx.stretches):
        if k:
            cuts.append(Cut(round(st.a, 6), "section"))
        cuts += ctx.cut_stretch(st)
    forced = sum(1 for c in cuts if c.reason == "forced")
    if forced:
        log.warning("%d of %d cuts fall inside a sung word: no gap between lines or words kept the segments "
                    "under %.1f s there", forced, len(cuts), policy.max_s)
    return cuts


@dataclass(frozen=True)
class _Stretch:
    a: float
    b: float
    sung: bool
    anchor_s: float = 0.0  # instrumental: the phrases count bars from here


@dataclass
class _Context:
    analysis: Analysis
    timed: list[Line]
    names: list[str]
    policy: CutPolicy
    rule: str
    beats: np.ndarray
    downs: np.ndarray
    bar_s: float
    beat_s: float
    starts: list[float]
    sung_spans: list[tuple[float, float]]
    chorus_spans: list[tuple[float, float]]
    stretches: list[_Stretch]
    voice_floor: float = 1.0
    sung_cum: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(1))
    sung_cands: list[_Cand] = dataclasses.field(default_factory=list)  # cut candidates of the sung stretches

    @classmethod
    def make(cls, analysis: Analysis, timed: list[Line], names: list[str], policy: CutPolicy,
             rule: str) -> _Context:
        duration = analysis.duration_s
        beats = np.asarray([t for t in analysis.beat_times_s if 0 < t < duration])
        downs = np.asarray([t for t in analysis.downbeat_times_s if 0 <= t < duration])
        beat_s = 60.0 / analysis.tempo_bpm if analysis.tempo_bpm > 0 else 0.5
        bar_s = beat_s * max(1, analysis.beats_per_bar)
        edges = _all_edges(analysis, timed)
        spans = [s for ln in timed for s in _word_spans(ln)]
        chorus = [(float(ln.start_s), float(ln.end_s)) for ln, nm in zip(timed, names)
                  if nm and section_kind(nm) == "chorus"]
        ctx = cls(analysis, timed, names, policy, rule, beats, downs, bar_s, beat_s, [a for a, _ in edges], spans,
                  chorus, [])
        if analysis.vocal_activity:
            from ..audio import voice_threshold

            ctx.voice_floor = voice_threshold(np.asarray(analysis.vocal_activity))
        ctx.stretches = ctx._split(edges)
        ctx.sung_cands = _candidates(analysis, timed, beats, rule)
        grid = np.zeros(int(duration / SUNG_GRID_S) + 2)
        for a, b in spans:
            grid[int(a / SUNG_GRID_S): int(math.ceil(b / SUNG_GRID_S))] = 1.0
        ctx.sung_cum = np.concatenate([[0.0], np.cumsum(grid)])
        return ctx

    def sung_s(self, a: float, b: float) -> float:
        """Seconds of [a, b] inside a sung word (on a ``SUNG_GRID_S`` grid)."""
        n = len(self.sung_cum) - 1
        i, j = min(n, max(0, int(a / SUNG_GRID_S))), min(n, max(0, int(b / SUNG_GRID_S)))
        return float(self.sung_cum[j] - self.sung_cum[i]) * SUNG_GRID_S

    def pauses_at(self, t_s: float) -> bool:
        """Whether the voice pauses at ``t_s``: the curve within ``DIP_AT_S`` is under the song's voice
        threshold or under ``NO_DIP_SHARE`` of its level within ``DIP_AROUND_S``."""
        va = self.analysis.vocal_activity
        if not va:
            return True
        hop = self.analysis.hop_s
        i0, i1 = max(0, int((t_s - DIP_AT_S) / hop)), min(len(va), int(math.ceil((t_s + DIP_AT_S) / hop)) + 1)
        j0, j1 = max(0, int((t_s - DIP_AROUND_S) / hop)), min(len(va), int(math.ceil((t_s + DIP_AROUND_S) / hop)) + 1)
        if i1 <= i0 or j1 <= j0:
            return True
        at, around = min(va[i0:i1]), max(va[j0:j1])
        return at < self.voice_floor or at < NO_DIP_SHARE * around

    # -- stretches ---------------------------------------------------------------------------------
    def _quiet(self, t: float) -> bool:
        return self.pauses_at(t) and _vocal_at(self.analysis, t, 0.06) < max(self.voice_floor, 0.3)

    def _entry(self, start_s: float, floor_s: float, sure: bool) -> float:
        """Where an instrumental stretch ends before the voice comes in at ``start_s``: the latest
        downbeat up to a bar before (where the voice pauses, unless the lyrics file gives the line's
        start: ``sure``), else such a beat up to a beat before, else ``start_s``."""
        lo = max(floor_s, start_s - self.bar_s * 1.01)
        for t in self.downs[(self.downs >= lo) & (self.downs <= start_s)][::-1]:
            if sure or self._quiet(float(t)):
                return float(t)
        for t in self.beats[(self.beats >= max(lo, start_s - self.beat_s * 1.01)) & (self.beats <= start_s)][::-1]:
            if sure or self._quiet(float(t)):
                return float(t)
        return start_s

    def _exit(self, end_s: float, ceil_s: float, sure: bool) -> float:
        """Where an instrumental stretch starts after the voice stops at ``end_s``: the first downbeat
        within two bars where the voice pauses (a held last note may outlast the words' times; with
        the lyrics file's times, ``sure``, within a bar, paused or not), else such a beat, else the
        first moment the voice pauses, else just after ``end_s``."""
        lo = end_s + END_MARGIN_S
        hi = min(ceil_s - self.policy.short_s, end_s + (1 if sure else 2) * self.bar_s)
        for grid in (self.downs, self.beats):
            for t in grid[(grid >= lo) & (grid <= hi)]:
                if self._quiet(float(t)) or (sure and _vocal_at(self.analysis, float(t), 0.06) < self.voice_floor):
                    return float(t)
        if sure:  # the file's times: its line is over (an end is never in an LRC, so not before a second)
            for grid in (self.downs, self.beats):
                ts = grid[(grid >= lo) & (grid <= hi)]
                if ts.size:
                    return float(ts[0])
        hop = self.analysis.hop_s
        for t in np.arange(lo, max(lo, hi), hop * 2):
            if self._quiet(float(t)):
                return float(t)
        return min(lo, ceil_s)

    def _split(self, edges: list[tuple[float, float]]) -> list[_Stretch]:
        duration = self.analysis.duration_s
        if not self.timed:
            first = self.downs[0] if self.downs.size else 0.0
            return [_Stretch(0.0, duration, False, float(first))]
        long_rest = max(BREAK_S, 2 * self.bar_s)
        runs: list[list] = []  # [start, end, first line sure, last line sure] of sung runs
        for (a, b), ln in zip(edges, self.timed):
            sure = ln.source == "file"
            end = max(b, float(ln.start_s) + OUTRO_MARGIN_S) if sure and not _has_words(ln) else b
            if runs and a - runs[-1][1] < long_rest:
                runs[-1][1] = max(runs[-1][1], end)
                runs[-1][3] = sure
            else:
                runs.append([a, end, sure, sure])
        short = self.policy.short_s
        out: list[_Stretch] = []
        cursor = 0.0
        sung_from: float | None = None
        for k, (a, b, sure_in, sure_out) in enumerate(runs):
            if sung_from is None:
                entry = self._entry(a, cursor, sure_in)
                if entry - cursor >= short:  # an intro or a break of its own
                    out.append(_Stretch(cursor, entry, False, entry))
                    cursor = entry
                sung_from = cursor
            last = k + 1 == len(runs)
            leave = self._exit(b, duration if last else runs[k + 1][0], sure_out)
            room = duration - leave if last else self._entry(runs[k + 1][0], leave, runs[k + 1][2]) - leave
            if room >= (short if last else long_rest):  # a break shorter than a rest between stanzas: sung on
                out.append(_Stretch(sung_from, leave, True))
                cursor, sung_from = leave, None
        if sung_from is not None:
            out.append(_Stretch(sung_from, duration, True))
            cursor = duration
        if cursor < duration - 1e-6:
            out.append(_Stretch(cursor, duration, False, cursor))
        return out

    # -- cutting a stretch -------------------------------------------------------------------------
    def cut_stretch(self, st: _Stretch) -> list[Cut]:
        p = self.policy
        if st.b - st.a <= p.min_s * 2:
            return []
        if st.sung:
            return self._cut_sung(st)
        return self._cut_instrumental(st)

    def _seg_cost(self, sung: bool) -> Callable[[float, float], float]:
        p = self.policy
        clip = p.clip_limit_s

        def cost(a: float, b: float) -> float:
            length = b - a
            if sung:
                mid = (a + b) / 2
                target = p.chorus_s if p.chorus_s and any(x <= mid <= y for x, y in self.chorus_spans) else p.target_s
                c = ((length - target) / target) ** 2
                c += p.chain_cost * (chunks_of(length, clip) - 1)
                if length < p.short_s:
                    c += p.short_cost
                if self.sung_s(a, b) < EMPTY_S:  # a rest between lines: it belongs to a line's shot
                    c += p.short_cost
            else:
                target = p.instrumental_s
                c = 2.0 * ((length - target) / target) ** 2
                c += p.chain_cost / 100 * (chunks_of(length, clip) - 1)
                if length < max(p.short_s, min(self.bar_s, 3.0)) - 1e-6:
                    c += p.short_cost
            return c

        return cost

    def _cut_instrumental(self, st: _Stretch) -> list[Cut]:
        p = self.policy
        lo, hi = st.a + p.min_s, st.b - p.min_s
        cands: list[tuple[float, str, float]] = []  # time, reason, cost
        if self.downs.size:
            j0 = int(np.argmin(np.abs(self.downs - st.anchor_s)))
            for j, t in enumerate(self.downs):
                if not lo <= t <= hi:
                    continue
                k = abs(j - j0)
                level = 8 if k % 8 == 0 else 4 if k % 4 == 0 else 2 if k % 2 == 0 else 1
                cost = {8: 0.0, 4: 0.2, 2: 0.6, 1: 1.2}[level]
                cands.append((float(t), f"phrase ({level} bars)" if level > 1 else "downbeat", cost))
        taken = {round(t, 3) for t, _, _ in cands}
        for sec in self.analysis.sections:
            t = sec.start_s
            if not lo <= t <= hi:
                continue
            near = self.downs[np.abs(self.downs - t) <= self.bar_s * 0.5] if self.downs.size else self.downs
            t = float(near[np.argmin(np.abs(near - t))]) if near.size else float(t)
            cands = [c for c in cands if abs(c[0] - t) > 1e-3]
            cands.append((t, "section", 0.1))
            taken.add(round(t, 3))
        for t in self.beats:
            if lo <= t <= hi and round(float(t), 3) not in taken:
                cands.append((float(t), "model length", 2.5))
        if not cands or st.b - st.a > 4 * p.max_s:
            grid = np.arange(lo, hi + 1e-9, max(0.25, p.min_s / 2))
            cands += [(float(t), "model length", 4.0) for t in grid if round(float(t), 3) not in taken]
        cands.sort()
        # no lyrics here: the voice curve hears the instruments too; it only steers off an ad-lib
        nodes = [(t, reason, c + _vocal_at(self.analysis, t)) for t, reason, c in cands]
        result = _solve(st.a, st.b, nodes, self._seg_cost(False), p)
        if result is None:
            raise InputError(f"cannot cut {st.a:.2f}–{st.b:.2f} s into segments of {p.min_s:.2f}–{p.max_s:.2f} s")
        return result

    def _line_gap_reason(self, t: float) -> str:
        before = [k for k, s in enumerate(self.starts) if s < t - 1e-6]
        if before and before[-1] + 1 < len(self.names) and self.names[before[-1]] != self.names[before[-1] + 1]:
            return "section"
        return "line gap"

    def _cut_sung(self, st: _Stretch) -> list[Cut]:
        p = self.policy
        analysis, beats, downs, starts = self.analysis, self.beats, self.downs, self.starts
        inside = [ln for ln in self.timed if ln.end_s > st.a and ln.start_s < st.b]
        # just before a line the lyrics file times is the surest place between lines; an aligned
        # line's start may be late
        sure_starts = [s for s, ln in zip(starts, self.timed) if ln.source == "file"]
        cands = [c for c in self.sung_cands if st.a + p.min_s <= c.time_s <= st.b - p.min_s]

        def cost(c: _Cand) -> float:
            voice = _vocal_at(analysis, c.time_s, 0.06)
            k = p.vocal_weight * voice * (SURE_VOICE_SHARE if c.sure else 1.0)
            # between words, or lines sung almost back to back, the times may be off: the voice must pause
            narrow = c.reason == "word gap" or (c.reason == "between lines" and c.width_s < NARROW_GAP_S)
            if not c.sure and narrow and not self.pauses_at(c.time_s):
                k += p.no_pause_cost
            elif not c.sure and not narrow and voice > self.voice_floor:  # a held note the words' times miss
                k += p.no_pause_cost
            if c.reason == "word gap":
                # the widest gaps first: a breath between words, not the tiny join of two syllables; and
                # (rule "words") only when chaining one more clip cannot do: the aligner's word edges are
                # not sure enough (on the dev songs 70-88 % of the gaps it finds lie inside a sung word of
                # the hand-made truth, whose words mostly touch), the gaps between lines are (1 %)
                k += p.word_gap_cost / (1.0 + 4.0 * c.width_s)
                if self.rule == "words":
                    k += p.chain_cost + 1.0
            elif c.reason == "forced":
                # a montage (rule "beats") cuts inside lines at a moderate cost; otherwise only when nothing else fits
                k += p.line_weight if self.rule == "beats" else p.forced_cost
            if c.offbeat:
                k += p.offbeat_penalty if c.reason != "between lines" else p.offbeat_penalty / 3
            elif downs.size and np.min(np.abs(downs - c.time_s)) < 0.03:
                k -= p.downbeat_bonus
            ahead = [s - c.time_s for s in sure_starts if 0.0 <= s - c.time_s <= 1.2]
            if ahead:
                k -= p.line_start_bonus * (1.0 - min(ahead) / 1.2)
            return k

        def nodes(cs: list[_Cand]) -> list[tuple[float, str, float]]:
            out = []
            for c in sorted(cs, key=lambda c: c.time_s):
                reason = self._line_gap_reason(c.time_s) if c.reason == "between lines" else c.reason
                out.append((c.time_s, reason, cost(c)))
            return out

        seg_cost = self._seg_cost(True)
        result = _solve(st.a, st.b, nodes(cands), seg_cost, p)
        if result is None and self.rule == "lines":
            raise InputError(_long_run_message(st.a, st.b, sorted(cands, key=lambda c: c.time_s), p, inside))
        if result is None:  # nothing between lines and words does it: allow cuts inside words
            more = _forced_grid(st.a, st.b, beats, p, inside)
            result = _solve(st.a, st.b, nodes(cands + more), seg_cost, p)
        if result is None:
            raise InputError(f"cannot cut {st.a:.2f}–{st.b:.2f} s into segments of {p.min_s:.2f}–{p.max_s:.2f} s")
        return result


def _has_words(line: Line) -> bool:
    return bool(line.words) and all(w.start_s is not None and w.end_s is not None for w in line.words)


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


def _solve(a: float, b: float, nodes: list[tuple[float, str, float]], seg_cost: Callable[[float, float], float],
           policy: CutPolicy) -> list[Cut] | None:
    """Cheapest cuts of [a, b] among ``nodes`` (time, reason, cost), every segment ``min_s``..``max_s``."""
    times = [a] + [t for t, _, _ in nodes] + [b]
    node_cost = [0.0] + [c for _, _, c in nodes] + [0.0]
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
            c = best[i] + node_cost[j] + seg_cost(times[i], times[j])
            if c < best[j]:
                best[j], prev[j] = c, i
    if best[-1] == math.inf:
        return None
    out = []
    j = prev[-1]
    while j > 0:
        out.append(Cut(round(times[j], 6), nodes[j - 1][1]))
        j = prev[j]
    return sorted(out, key=lambda c: c.time_s)
