"""Changes a person makes to a plan by hand (the review page, or code): a segment's prompts, singer,
seed or keyframe; a cut moved to a neighbouring gap between lines or words.

Each function takes a :class:`~mvtimeline.types.Plan` and returns a new one; nothing is written
here (:mod:`mvtimeline.pipeline` saves it). A changed prompt differs from the segment's ``auto``
one, so later re-plans keep it (:func:`mvtimeline.plan.build`).

Public: edit_segment, move_cut, cut_choices, EDITABLE.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..errors import InputError
from ..types import Analysis, Line, Plan
from .segment import Cut, chunks_of, cut_candidates, lines_in

__all__ = ["edit_segment", "move_cut", "cut_choices", "EDITABLE"]

#: The fields of a segment a person may set by hand, and their types.
EDITABLE = {"image_prompt": str, "motion_prompt": str, "negative_prompt": str, "singer": str, "seed": int,
            "image": str}
_SEED_MAX = 2**32 - 1
#: A prompt longer than this is refused (a paste gone wrong, not a prompt).
MAX_PROMPT_CHARS = 4000


def _segment(plan: Plan, index: int) -> int:
    for k, s in enumerate(plan.segments):
        if s.index == index:
            return k
    raise InputError(f"plan has no segment {index}; segments are 1..{len(plan.segments)}")


def edit_segment(plan: Plan, index: int, **fields: object) -> Plan:
    """``plan`` with some fields of segment ``index`` set (:data:`EDITABLE`).

    Parameters
    ----------
    plan : Plan
    index : int
        The segment's number.
    **fields
        ``image_prompt``, ``motion_prompt``, ``negative_prompt``, ``singer`` (text), ``seed`` (0 ..
        2**32-1), ``image`` (a keyframe image, relative to the work folder; ``""``: none).

    Returns
    -------
    Plan

    Raises
    ------
    InputError
        No such segment, an unknown field, a value of the wrong type or out of range.
    """
    k = _segment(plan, index)
    changes: dict[str, object] = {}
    for name, value in fields.items():
        kind = EDITABLE.get(name)
        if kind is None:
            raise InputError(f"a segment's {name!r} cannot be edited; editable: {', '.join(EDITABLE)}")
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _SEED_MAX:
                raise InputError(f"seed must be a whole number 0..{_SEED_MAX}, not {value!r}")
        elif not isinstance(value, str):
            raise InputError(f"{name} must be text, not {type(value).__name__}")
        else:
            value = " ".join(value.split()) if name != "image" else value.strip()
            if len(value) > MAX_PROMPT_CHARS:
                raise InputError(f"{name} is {len(value)} characters long; {MAX_PROMPT_CHARS} at most")
            if name == "image_prompt" and not value:
                raise InputError("the image prompt cannot be empty")
        changes[name] = value
    segs = list(plan.segments)
    segs[k] = dataclasses.replace(segs[k], **changes)
    return dataclasses.replace(plan, segments=tuple(segs))


def cut_choices(plan: Plan, analysis: Analysis, lines: Sequence[Line], index: int, *,
                min_s: float, max_s: float | None = None) -> list[Cut]:
    """Where the cut at the start of segment ``index`` may move: the planner's gaps between lines
    (and words, unless the plan cuts only between lines) inside the two segments it joins, keeping
    each at least ``min_s`` (and at most ``max_s``) long.

    Parameters
    ----------
    plan : Plan
    analysis : Analysis
    lines : sequence of Line
        The timed lyrics.
    index : int
        The segment whose start is the cut (2 .. the last).
    min_s, max_s : float
        The shortest and longest segment allowed, in seconds.

    Returns
    -------
    list of Cut
        In time order; the cut where it is now is among them when it sits in a gap.

    Raises
    ------
    InputError
        No such segment, or the first one (the song's start is not a cut).
    """
    k = _segment(plan, index)
    if k == 0:
        raise InputError("segment 1 starts the song: its start is not a cut; move the end of it (the start "
                         "of segment 2)")
    a, b = plan.segments[k - 1].start_s, plan.segments[k].end_s
    rule = plan.cut_rule if plan.cut_rule in ("words", "lines") else "words"
    out = []
    for c in cut_candidates(analysis, lines, rule=rule):
        left, right = c.time_s - a, b - c.time_s
        if left < min_s or right < min_s:
            continue
        if max_s is not None and (left > max_s or right > max_s):
            continue
        out.append(c)
    return out


def move_cut(plan: Plan, analysis: Analysis, lines: Sequence[Line], index: int, time_s: float, *,
             min_s: float, max_s: float | None = None) -> tuple[Plan, Cut, list[int]]:
    """``plan`` with the cut at the start of segment ``index`` moved to the gap nearest ``time_s``
    (:func:`cut_choices`: it snaps to gaps only, never inside a sung word).

    The two segments it joins get new bounds, lyric lines and chunk counts; their seeds, takes and
    edited prompts stay, but the clips made for the old bounds no longer fit: both must be made again.

    Parameters
    ----------
    plan : Plan
    analysis : Analysis
    lines : sequence of Line
    index : int
        The segment whose start moves.
    time_s : float
        Where the person wants it.
    min_s, max_s : float
        As :func:`cut_choices`.

    Returns
    -------
    (Plan, Cut, list of int)
        The new plan, the cut as placed, and the segments whose clips it invalidates (none when the
        cut did not move).

    Raises
    ------
    InputError
        No such segment, the first one, or no gap between the neighbouring cuts to move it to.
    """
    choices = cut_choices(plan, analysis, lines, index, min_s=min_s, max_s=max_s)
    k = _segment(plan, index)
    if not choices:
        raise InputError(f"segment {index}: no gap between lines or words to move its start to between "
                         f"{plan.segments[k - 1].start_s:.2f} s and {plan.segments[k].end_s:.2f} s")
    cut = min(choices, key=lambda c: abs(c.time_s - time_s))
    before, seg = plan.segments[k - 1], plan.segments[k]
    if abs(cut.time_s - seg.start_s) < 1e-3:
        return plan, cut, []
    clip = plan.clip_s or None
    t = round(cut.time_s, 6)
    segs = list(plan.segments)
    segs[k - 1] = dataclasses.replace(before, end_s=t, lines=lines_in(lines, before.start_s, t),
                                      chunks=chunks_of(t - before.start_s, clip))
    segs[k] = dataclasses.replace(seg, start_s=t, cut=cut.reason, lines=lines_in(lines, t, seg.end_s),
                                  chunks=chunks_of(seg.end_s - t, clip))
    return dataclasses.replace(plan, segments=tuple(segs)), cut, [before.index, seg.index]
