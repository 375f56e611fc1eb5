"""Plan stage: segments that cover the song exactly, with prompts and seeds.

Public: build, validate, with_takes, forced_cuts, summary, Cut, CutPolicy, Pace, PACES, CUT_RULES,
CUT_REASONS, load_style, list_styles, section_kind, label_lines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InputError
from ..types import Analysis, Line, Lyrics, Plan, Segment
from .cast import Singer, describe, singer_of_segment
from .prompts import list_styles, load_style, render_prompts, section_kind
from .sections import Labels, label_lines
from .segment import CUT_REASONS, CUT_RULES, PACES, Cut, CutPolicy, Pace, chunks_of, cut_points, lines_in

__all__ = ["build", "validate", "with_takes", "forced_cuts", "summary", "Cut", "CutPolicy", "Pace", "PACES",
           "CUT_RULES", "CUT_REASONS", "load_style", "list_styles", "section_kind", "label_lines"]


_MATCH_S = 1e-3


def _seed(title: str, index: int, start_s: float) -> int:
    h = hashlib.sha256(f"{title}:{index}:{start_s:.3f}".encode()).hexdigest()
    return int(h[:8], 16) & 0x7FFFFFFF


def _policy(analysis: Analysis, *, max_s: float, clip_s: float | None, dissolve_s: float, pace: Pace) -> CutPolicy:
    beat_s = 60.0 / analysis.tempo_bpm if analysis.tempo_bpm > 0 else 0.5
    bar_s = beat_s * max(1, analysis.beats_per_bar)
    min_s = min(max(beat_s, 2.0 * dissolve_s + 0.1), max_s)
    clip = min(clip_s, max_s) if clip_s else max_s
    if not math.isfinite(clip):  # no model limit (the loop backend): sung segments as the old default
        clip = max(min_s, 2 * bar_s, 5.0) / pace.sung_share
    short_s = min(2.0, 0.9 * clip)
    target = max(min_s, short_s, clip * pace.sung_share)
    chorus = min(clip, max(short_s, pace.chorus_bars * bar_s)) if pace.chorus_bars else None
    return CutPolicy(max_s=max_s, min_s=min_s, target_s=target, clip_s=min(clip, max_s),
                     instrumental_s=max(pace.instrumental_s, min_s), chorus_s=chorus, short_s=short_s)


def _segment_label(a: float, b: float, lines: Sequence[Line], labels: Labels, first_s: float,
                   last_s: float) -> tuple[str, int, int]:
    """The section a segment shows (the line it overlaps most), that part's number and occurrence."""
    best, score = -1, 0.0
    for i, line in enumerate(lines):
        o = min(b, line.end_s) - max(a, line.start_s)
        if o > score:
            best, score = i, o
    if best >= 0:
        return labels.names[best], labels.part[best], labels.occurrence[best]
    if b <= first_s + 1e-6:
        return "Intro", -1, 0
    if a >= last_s - 1e-6:
        return "Outro", -1, 0
    return "Instrumental", -1, 0


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
    clip_s: float | None = None,
    pace: str | None = None,
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
        Longest segment in seconds (the backend's ``max_seconds``: with chaining, several clips).
    clip_s : float > 0, optional
        The longest clip the model makes in one go (the backend's ``clip_seconds``); sung segments
        fit it where a gap between lines or words allows, longer ones are planned as chained chunks
        (``Segment.chunks``). None: ``max_s``.
    pace : {"calm", "steady", "energetic"}, optional
        How fast the cuts come (:data:`PACES`); None: the style's (``steady`` when it names none).
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
        Unknown style, cut rule or pace, or limits that cannot cover the song (with
        ``cut_rule="lines"``: a run of lines longer than ``max_s``, named in the message).
    """
    if cut_rule not in CUT_RULES:
        raise InputError(f"unknown cut rule {cut_rule!r}; known: {', '.join(CUT_RULES)}")
    st = load_style(style)
    pace_name = pace or st.pace or "steady"
    if pace_name not in PACES:
        raise InputError(f"unknown pace {pace_name!r}; known: {', '.join(PACES)}")
    lines = sorted((ln for ln in aligned.lines if ln.is_timed), key=lambda ln: ln.start_s)
    labels = label_lines(lines, analysis)
    clip = min(clip_s, max_s) if clip_s else max_s
    first_s = min((ln.start_s for ln in lines), default=analysis.duration_s)
    last_s = max((ln.end_s for ln in lines), default=0.0)
    if previous is not None and not replan and abs(previous.duration_s - analysis.duration_s) < _MATCH_S:
        bounds = [(s.start_s, s.end_s) for s in previous.segments]
        reasons = {round(s.start_s, 3): s.cut for s in previous.segments}
    else:
        policy = _policy(analysis, max_s=max_s, clip_s=clip_s, dissolve_s=dissolve_s, pace=PACES[pace_name])
        cuts = cut_points(analysis, lines, policy=policy, rule=cut_rule, sections=labels.names)
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
    # the chorus motif: a repeated part's later segments take the seeds of its first occurrence's
    motif: dict[tuple[int, int], list[int]] = {}  # (part, occurrence) → seeds in order
    for i, (a, b) in enumerate(bounds, start=1):
        seg_lines = lines_in(lines, a, b)
        section, part, occurrence = _segment_label(a, b, lines, labels, first_s, last_s)
        prev = old.get((round(a, 3), round(b, 3)))
        seed = _seed(title, i, a)
        if st.chorus_motif and part != -1 and section_kind(section) == "chorus":
            own = motif.setdefault((part, occurrence), [])
            firsts = motif.get((part, 0), [])
            if occurrence > 0 and firsts:
                seed = firsts[len(own) % len(firsts)]
            own.append(seed)
        seed = prev.seed if prev else seed
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
                                cut=reasons.get(round(a, 3), "") if i > 1 else "", singer=singer,
                                chunks=chunks_of(b - a, clip), **prompts))
    plan = Plan(audio_path=analysis.audio_path, duration_s=analysis.duration_s, style=st.name,
                dissolve_s=dissolve_s, segments=tuple(segments), cut_rule=cut_rule, pace=pace_name,
                clip_s=clip if math.isfinite(clip) else 0.0)
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


def _mmss(t: float) -> str:
    m, sec = divmod(max(0.0, t), 60.0)
    return f"{int(m)}:{sec:04.1f}"


def summary(plan: Plan) -> list[str]:
    """A plan on one screen (lines under 80 characters): segments and clips per section in song order,
    the shortest and longest segment, how many clips the model must make, the cuts by reason and the
    cuts forced inside a sung word.

    Examples
    --------
    >>> from mvtimeline.types import Plan, Segment
    >>> segs = (Segment(1, 0.0, 8.0, "Intro", chunks=2), Segment(2, 8.0, 12.0, "Verse 1", cut="section"),
    ...         Segment(3, 12.0, 16.0, "Verse 1", cut="line gap"))
    >>> for line in summary(Plan("song.wav", 16.0, "cinematic", 0.5, segs, pace="steady", clip_s=5.0)):
    ...     print(line)
    3 segments, 4 clips to make (a clip is 5.0 s at most; 1 segment chained)
    pace steady, cut rule words; segments 4.0–8.0 s, 0 under 2 s
    section            time            segments  clips   shortest  longest
    Intro              0:00.0–0:08.0          1      2      8.0 s    8.0 s
    Verse 1            0:08.0–0:16.0          2      2      4.0 s    4.0 s
    cuts: section 1, line gap 1
    no cut forced inside a sung word
    """
    segs = plan.segments
    clips = sum(s.chunks for s in segs)
    chained = sum(1 for s in segs if s.chunks > 1)
    limit = f"a clip is {plan.clip_s:.1f} s at most; " if plan.clip_s else ""
    out = [f"{len(segs)} segments, {clips} clips to make ({limit}{chained} segment{'s' if chained != 1 else ''} "
           "chained)"]
    lengths = [s.duration_s for s in segs]
    out.append(f"pace {plan.pace or 'steady'}, cut rule {plan.cut_rule}; segments {min(lengths):.1f}–"
               f"{max(lengths):.1f} s, {sum(x < 2.0 - 1e-6 for x in lengths)} under 2 s")
    out.append(f"{'section':<18} {'time':<15} {'segments':>8} {'clips':>6} {'shortest':>10} {'longest':>8}")
    groups: list[list[Segment]] = []
    for seg in segs:
        if groups and groups[-1][0].section == seg.section:
            groups[-1].append(seg)
        else:
            groups.append([seg])
    for g in groups:
        ls = [s.duration_s for s in g]
        when = f"{_mmss(g[0].start_s)}–{_mmss(g[-1].end_s)}"
        out.append(f"{g[0].section[:18]:<18} {when:<15} {len(g):>8} {sum(s.chunks for s in g):>6} "
                   f"{min(ls):>8.1f} s {max(ls):>6.1f} s")
    reasons: dict[str, int] = {}
    for seg in segs[1:]:
        reasons[seg.cut or "yours"] = reasons.get(seg.cut or "yours", 0) + 1
    out.append("cuts: " + ", ".join(f"{r} {n}" for r, n in reasons.items()))
    forced = forced_cuts(plan)
    if forced:
        where = ", ".join(f"{s.index} at {_mmss(s.start_s)}" for s in forced[:6]) + (" …" if len(forced) > 6 else "")
        out.append(f"{len(forced)} cut(s) inside a sung word (no gap kept the segment short enough): segment {where}")
    else:
        out.append("no cut forced inside a sung word")
    return out


def with_takes(plan: Plan, takes: dict[int, int]) -> Plan:
    """A copy of ``plan`` with the chosen take of some segments changed."""
    segs = tuple(dataclasses.replace(s, take=takes.get(s.index, s.take)) for s in plan.segments)
    return dataclasses.replace(plan, segments=segs)
