"""Plan stage: segments that cover the song exactly, with prompts and seeds.

Public: build, validate, with_takes, forced_cuts, Cut, CutPolicy, CUT_RULES, CUT_REASONS, load_style,
list_styles, section_kind.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..types import Analysis, Line, Lyrics, Plan, Segment
from .cast import Singer, describe, singer_of_segment
from .prompts import list_styles, load_style, render_prompts, section_kind
from .segment import CUT_REASONS, CUT_RULES, Cut, CutPolicy, cut_points

__all__ = ["build", "validate", "with_takes", "forced_cuts", "Cut", "CutPolicy", "CUT_RULES", "CUT_REASONS",
           "load_style", "list_styles", "section_kind"]


_MATCH_S = 1e-3


def _seed(title: str, index: int, start_s: float) -> int:
    h = hashlib.sha256(f"{title}:{index}:{start_s:.3f}".encode()).hexdigest()
    return int(h[:8], 16) & 0x7FFFFFFF


def _policy(analysis: Analysis, *, max_s: float, dissolve_s: float) -> CutPolicy:
    beat_s = 60.0 / analysis.tempo_bpm if analysis.tempo_bpm > 0 else 0.5
    min_s = max(beat_s, 2.0 * dissolve_s + 0.1)
    bar_s = beat_s * max(1, analysis.beats_per_bar)
    target = float(np.clip(2 * bar_s, min(4.0, max_s), max_s * 0.8))
    return CutPolicy(max_s=max_s, min_s=min(min_s, max_s), target_s=max(target, min_s))


def _section_of(start_s: float, end_s: float, lines: Sequence[Line], first_s: float, last_s: float) -> str:
    overlap: dict[str, float] = {}
    for line in lines:
        if not line.is_timed:
            continue
        o = min(end_s, line.end_s) - max(start_s, line.start_s)
        if o > 0:
            name = line.section or "Verse"
            overlap[name] = overlap.get(name, 0.0) + o
    if overlap:
        return max(overlap, key=overlap.get)
    if end_s <= first_s + 1e-6:
        return "Intro"
    if start_s >= last_s - 1e-6:
        return "Outro"
    return "Instrumental"


def build(
    aligned: Lyrics,
    analysis: Analysis,
    *,
    style: str,
    max_s: float,
    dissolve_s: float = 0.5,
    title: str = "song",
    previous: Plan | None = None,
    replan: bool = False,
    cut_rule: str = "words",
    cast: Mapping[str, Singer] | None = None,
    setting: str = "",
) -> Plan:
    """Make the plan of a song.

    Parameters
    ----------
    aligned : Lyrics
        Lyrics with times on every line (an instrumental song: no lines).
    analysis : Analysis
        The song's analysis (beats, vocal activity, duration).
    style : str
        A bundled style name or a style file path.
    max_s : float > 0
        Longest segment in seconds (the backend's ``max_seconds``).
    dissolve_s : float >= 0
        Dissolve length in seconds; segments are made at least twice as long.
    previous : Plan or None
        The plan already on disk. Unless ``replan``, its segment bounds are kept as they are (the user
        may have moved them). Either way, a segment with the same bounds keeps its seed and take, and
        its prompts where the user edited them.
    cut_rule : {"words", "lines", "beats"}
        Where cuts may go (:data:`CUT_RULES`): never inside a sung word unless forced (default),
        only between lines, or on any beat.
    cast : mapping of str to Singer, optional
        The singers (:mod:`mvtimeline.plan.cast`): each segment's singer is named from the lyric
        tags (a lone singer sings everything), and their role and appearance begin its image prompt.
        A singer the user set in the previous plan is kept and drives the prompts.
    setting : str
        Where the video takes place: ends every image prompt, word for word.

    Returns
    -------
    Plan
        Each segment records why it starts where it does (``cut``).

    Raises
    ------
    InputError
        Unknown style or cut rule, or limits that cannot cover the song (with ``cut_rule="lines"``:
        a run of lines longer than ``max_s``, named in the message).
    """
    if cut_rule not in CUT_RULES:
        raise InputError(f"unknown cut rule {cut_rule!r}; known: {', '.join(CUT_RULES)}")
    st = load_style(style)
    lines = [ln for ln in aligned.lines if ln.is_timed]
    first_s = min((ln.start_s for ln in lines), default=analysis.duration_s)
    last_s = max((ln.end_s for ln in lines), default=0.0)
    if previous is not None and not replan and abs(previous.duration_s - analysis.duration_s) < _MATCH_S:
        bounds = [(s.start_s, s.end_s) for s in previous.segments]
        reasons = {round(s.start_s, 3): s.cut for s in previous.segments}
    else:
        policy = _policy(analysis, max_s=max_s, dissolve_s=dissolve_s)
        cuts = cut_points(analysis, lines, policy=policy, rule=cut_rule)
        edges = [0.0, *(c.time_s for c in cuts), analysis.duration_s]
        bounds = list(zip(edges[:-1], edges[1:]))
        reasons = {round(c.time_s, 3): c.reason for c in cuts}

    old = {(round(s.start_s, 3), round(s.end_s, 3)): s for s in (previous.segments if previous else ())}
    segments = []
    # who sings each stretch; nobody (an intro, a break): the singer before, at the start the first one
    auto_singers: list[str] = []
    for a, b in bounds:
        auto_singers.append(singer_of_segment(lines, a, b, previous=auto_singers[-1] if auto_singers else "",
                                              cast=cast))
    first = next((x for x in auto_singers if x), "")
    auto_singers = [x or first for x in auto_singers]
    for i, (a, b) in enumerate(bounds, start=1):
        seg_lines = tuple(ln.text for ln in lines if ln.start_s < b and ln.end_s > a
                          and (min(b, ln.end_s) - max(a, ln.start_s)) > 0.1)
        section = _section_of(a, b, lines, first_s, last_s)
        prev = old.get((round(a, 3), round(b, 3)))
        seed = prev.seed if prev else _seed(title, i, a)
        loud = [analysis.curve_at("loudness", t) for t in np.linspace(a, b, 8)]
        ctx = dict(lyrics=" / ".join(seg_lines), section=section, tempo_bpm=analysis.tempo_bpm, index=i,
                   count=len(bounds), title=title, start_s=round(a, 2), end_s=round(b, 2), seed=seed,
                   energy="energetic" if float(np.mean(loud)) > 0.6 else "gentle")
        auto_singer = auto_singers[i - 1]
        singer = prev.singer if prev and prev.singer != prev.auto.get("singer", prev.singer) else auto_singer
        who, where = describe(singer, cast, setting)
        ctx.update(singer=singer, who=who, setting=where)
        auto = render_prompts(st, ctx)
        auto["image_prompt"] = ", ".join(p for p in (who, auto["image_prompt"], where) if p)
        prompts = dict(auto)
        if prev:
            for key in prompts:
                if getattr(prev, key) != prev.auto.get(key, getattr(prev, key)):
                    prompts[key] = getattr(prev, key)  # edited by the user: keep it
        auto["singer"] = auto_singer
        segments.append(Segment(index=i, start_s=round(a, 6), end_s=round(b, 6), section=section,
                                lines=seg_lines, seed=seed, take=prev.take if prev else 1, auto=auto,
                                cut=reasons.get(round(a, 3), "") if i > 1 else "", singer=singer, **prompts))
    plan = Plan(audio_path=analysis.audio_path, duration_s=analysis.duration_s, style=st.name,
                dissolve_s=dissolve_s, segments=tuple(segments), cut_rule=cut_rule)
    validate(plan, max_s=None)
    return plan


def validate(plan: Plan, *, max_s: float | None) -> Plan:
    """Check that a (possibly hand-edited) plan covers [0, duration] exactly, in order.

    Raises
    ------
    InputError
        Naming the first segment that breaks a rule.
    """
    segs = plan.segments
    if not segs:
        raise InputError("plan has no segments")
    if abs(segs[0].start_s) > _MATCH_S:
        raise InputError(f"plan segment {segs[0].index} starts at {segs[0].start_s} s, not 0")
    for a, b in zip(segs[:-1], segs[1:]):
        if abs(a.end_s - b.start_s) > _MATCH_S:
            raise InputError(f"plan segments {a.index} and {b.index} leave a gap or overlap "
                             f"({a.end_s} s vs {b.start_s} s)")
    for s in segs:
        if s.end_s <= s.start_s:
            raise InputError(f"plan segment {s.index} ends before it starts")
        if max_s is not None and s.duration_s > max_s + _MATCH_S:
            raise InputError(f"plan segment {s.index} lasts {s.duration_s:.2f} s, longer than the backend's "
                             f"{max_s:.2f} s")
    if abs(segs[-1].end_s - plan.duration_s) > _MATCH_S:
        raise InputError(f"plan ends at {segs[-1].end_s} s but the song lasts {plan.duration_s} s")
    if len({s.index for s in segs}) != len(segs):
        raise InputError("plan segment numbers are not unique")
    return plan


def forced_cuts(plan: Plan) -> list[Segment]:
    """The segments whose starting cut falls inside a sung word (no gap could keep them short)."""
    return [s for s in plan.segments if s.cut == "forced"]


def with_takes(plan: Plan, takes: dict[int, int]) -> Plan:
    """A copy of ``plan`` with the chosen take of some segments changed."""
    segs = tuple(dataclasses.replace(s, take=takes.get(s.index, s.take)) for s in plan.segments)
    return dataclasses.replace(plan, segments=segs)
