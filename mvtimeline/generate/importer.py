"""Clips made anywhere (Kling, Runway, Wan2GP, a friend's ComfyUI), brought into a work folder in
sync with the song, each as a new take of its segment.

For every clip:

1. **which segment**: the pack's folder or file name (``03-chorus-...``), else ``--segment``, else
   by its sound (a silent clip needs ``--segment``). The clips found by their sound are placed
   together: each is scored against every segment where its sound fits nearly as well as at its
   best place (the sync score there, how far its span misses the segment's, with or without the
   handles), then assigned jointly (one clip per segment unless one clearly is a second take;
   :func:`scipy.optimize.linear_sum_assignment`). So a chorus sung twice to the same music sends
   each of its clips to its own repeat by their lengths and by their sound past the repeated
   part, and a clip that fits two repeats alike goes to the one the folder has no clip for. A
   clip is refused (``give --segment N``, naming both places) only when the assignment with it
   elsewhere costs about as little;
2. **where in sync**: its sound cross-correlated with the song around that segment
   (:func:`mvtimeline.audio.sync.find_offset`, a few seconds either way, so a repeated chorus
   elsewhere cannot win) → ``song_time = clip_time + offset_s``; below :data:`MIN_CONFIDENCE` it is
   refused with both candidate places, unless ``offset_s`` is given. A clip whose sound fits
   nowhere in the song (below :data:`MIN_MATCH`, a clip of another song) stops the import before
   anything is written, where a part sung twice (two places that fit well and alike) asks for
   ``--segment``;
3. **blank ends**: black, flat or frozen frames at its head and tail are left out
   (:func:`mvtimeline.media.blank_ends`);
4. **conform**: each project frame of the segment's clip (with its handles) takes the clip's frame
   at that song time, fitted to the project's size, encoded like every backend's clip, into the clip
   cache as the segment's next take (atomic), with a record of the source, offset, trims and
   confidence. A clip that does not cover the whole stretch is imported but flagged ``short``
   with the share it covers and what fills the rest (``covers 70 % (the last 2.4 s frozen)``):
   the frames it lacks come from the segment's chosen take (its nearest good frame is held, frozen,
   when there is none), never black.
5. **placement** (:func:`mvtimeline.pipeline.import_clips`): the new take is in the project bin;
   ``pick`` also puts it on the timeline.

``whole``: one long video of the whole song is synced once and cut at the plan's cut points into a
take per segment.

Public: import_takes, Imported, MIN_CONFIDENCE, MIN_MATCH, WINDOW_S.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError, MvtimelineError
from ..types import ClipRequest, Plan

if TYPE_CHECKING:
    from ..workfolder import WorkFolder
    from .backends.base import Backend

__all__ = ["import_takes", "Imported", "MIN_CONFIDENCE", "MIN_MATCH", "WINDOW_S"]

log = logging.getLogger(__name__)

#: Seconds either side of the segment's place in the song where its clip's sound is looked for.
WINDOW_S = 3.0
#: Least margin of the best sync over the runner-up (correlation units) to trust it.
MIN_CONFIDENCE = 0.04
#: Least :func:`_fit` of a clip's sound with the song (Pearson correlation of band envelopes) to
#: count as a clip of this song. Measured on 2-8.6 s clips (a synthesized song and a real one):
#: the song re-encoded (AAC, MP3, 16 kHz, low-passed) 0.45-0.99, its vocals alone 0.35 or more,
#: under white noise 5 dB below it 0.36 or more; 9 real songs' excerpts 0.32 at most, white and
#: pink noise 0.10. Between: noise as loud as the song (0.18-0.38), songs of the same drum kit
#: and chords (synthesized, up to 0.44 at another tempo), one tone (one onset fits any onset).
MIN_MATCH = 0.30
#: A clip this quiet (RMS) carries no sound to sync by.
SILENT_RMS = 1e-3
# Placing clips found by their sound, jointly (:func:`_options`, :func:`_solve`). Costs are in
# units of ``min_confidence`` of sync score, the margin by which a sync must beat a second place.
# Set on the import tests' song, whose two choruses sound alike within 0.1-2.9 units after AAC and
# whose repeated segments' requests differ by 0 to 0.54 s in length: ``bench/bench_import.py
# --joint 6`` (96 unnamed clips, 24 with their head cut by 0.3-0.6 s) places 94 right, 0 wrong,
# refuses 2 (a second-chorus clip cut to the first chorus's span); one clip at a time: 70, 0, 26.
#: Either end of a clip may miss its segment's (with handles or without) by this (s) at no cost:
#: a generator rounds a clip to its own frame counts.
_LENGTH_SLACK_S = 0.15
#: Seconds of an end's miss beyond the slack that cost 1 (as much as ``min_confidence`` of sound).
_LENGTH_UNIT_S = 0.2
#: An end that misses by more counts no more than this (s): a clip trimmed by hand.
_LENGTH_CAP_S = 1.0
#: What a segment's second clip in one import costs: a clip goes to another place that fits
#: by less than this worse, rather than be a second take of a segment that has one.
_TAKE_COST = 1.25
#: A clip whose place beats the best assignment with it elsewhere by less than this is refused.
_AMBIGUOUS_MARGIN = 1.0
#: A place whose fit is within this of the clip's best (and above MIN_MATCH) is a candidate.
_PLACE_SPAN = 0.2
#: Places closer than this (s) are one place; at most _MAX_PLACES are looked at.
_PLACE_GAP_S = 1.0
_MAX_PLACES = 6
#: A place whose sound costs less than this sounds like a repeat: a clip placed elsewhere says so.
_REPEAT_SOUND = 4.0
#: Seconds either side of a place where the sync looks for its score there.
_NEAR_S = 0.25
_PACK_NAME = re.compile(r"^(\d{1,3})-")


@dataclass
class Imported:
    """One row of the import summary.

    ``confidence`` is the sync's margin over the runner-up place (correlation units), ``match``
    how well the clip's sound fits the song where it was put (0..1, see :data:`MIN_MATCH`),
    ``coverage`` the share of the segment's frames the clip itself shows (0..1). ``result`` is
    ``imported``, ``short`` (``, picked`` when put on the timeline) or ``refused: <why>``;
    ``flags`` the notes that go with it.
    """

    clip: Path
    segment: int | None = None
    take: int | None = None
    offset_s: float | None = None
    head_trim_s: float = 0.0
    tail_trim_s: float = 0.0
    confidence: float | None = None
    result: str = ""
    flags: list[str] = field(default_factory=list)
    match: float | None = None
    coverage: float | None = None

    @property
    def ok(self) -> bool:
        return self.take is not None


def _segment_from_name(path: Path, known: set[int]) -> int | None:
    for part in (path.parent.name, path.name):
        m = _PACK_NAME.match(part)
        if m and int(m.group(1)) in known:
            return int(m.group(1))
    return None


def _clip_audio(path: Path) -> np.ndarray | None:
    """The clip's sound (mono, at the sync rate), or None when it has none or it is silent."""
    import av

    from ..audio import load
    from ..audio.sync import SR

    try:
        with av.open(str(path)) as c:
            if not c.streams.audio:
                return None
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"{path}: not a readable video ({exc})") from None
    try:
        y, _ = load(path, sr=SR)
    except MvtimelineError:
        return None
    if y.size == 0 or float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) < SILENT_RMS:
        return None
    return y


def _fit_curve(audio: np.ndarray, song_env: np.ndarray, *, center_s: float | None = None,
               window_s: float | None = None) -> tuple[np.ndarray, int]:
    """:func:`_fit`'s correlation at every offset it searches: ``(r, lo)``, ``r[k]`` the fit at
    ``song_time = clip_time + (lo + k) * HOP_S`` (``r`` empty when no offset is searched)."""
    from scipy.signal import fftconvolve

    from ..audio.sync import HOP_S, envelopes

    clip = envelopes(audio)
    bands, n = clip.shape
    total = song_env.shape[1]
    pad = int(0.4 * n)
    lo, hi = -pad, total - n + pad
    if center_s is not None and window_s is not None:
        lo = max(lo, int(np.floor((center_s - window_s) / HOP_S)))
        hi = min(hi, int(np.ceil((center_s + window_s) / HOP_S)))
    if hi < lo:
        return np.zeros(0), lo
    seg = np.zeros((bands, hi - lo + n))  # the song around the window, zeros past its ends
    a, b = max(0, lo), min(total, hi + n)
    seg[:, a - lo: b - lo] = song_env[:, a:b]
    num = sum(fftconvolve(seg[k], clip[k][::-1], mode="valid") for k in range(bands))
    c1 = np.pad(np.cumsum(seg, axis=1), ((0, 0), (1, 0)))
    c2 = np.pad(np.cumsum(seg * seg, axis=1), ((0, 0), (1, 0)))
    s1, s2 = c1[:, n:] - c1[:, :-n], c2[:, n:] - c2[:, :-n]
    var = np.maximum(0.0, s2 - s1 * s1 / n).sum(axis=0)  # the song's spread over each stretch
    centred = clip - clip.mean(axis=1, keepdims=True)
    den = np.sqrt(var * float((centred * centred).sum()))
    return np.where(den > 1e-9, num / np.maximum(den, 1e-9), 0.0), lo


def _fit(audio: np.ndarray, song_env: np.ndarray, *, center_s: float | None = None,
         window_s: float | None = None) -> tuple[float, float]:
    """How well ``audio`` (mono, at the sync rate) fits the song at its best place: the Pearson
    correlation of its band envelopes with the song's over the stretch it would cover (the
    song's mean and spread taken over that stretch, so a quiet part is not at a loss), for every
    ``song_time = clip_time + offset`` with ``offset`` in ``center_s ± window_s`` (the whole song
    when ``center_s`` is None) and at least 60 % of the clip inside the song.

    Returns
    -------
    (match, offset_s)
        The best correlation (-1..1; a copy of the song's sound fits at about 0.9, a clip of
        another song at 0.3 at most, see :data:`MIN_MATCH`) and its offset in seconds.
    """
    from ..audio.sync import HOP_S

    r, lo = _fit_curve(audio, song_env, center_s=center_s, window_s=window_s)
    if r.size == 0:
        return 0.0, 0.0 if center_s is None else float(center_s)
    k = int(np.argmax(r))
    return float(r[k]), float((lo + k) * HOP_S)


def _stranger(path: Path, confidence: float, match: float) -> str:
    """The one-line refusal of a clip whose sound fits nowhere in the song."""
    return (f"{path.name} does not match this song (confidence {confidence:.2f}, fit {match:.2f} < {MIN_MATCH:.2f}): "
            "its sound is nowhere in it; a clip of another song? (--offset S imports it anyway)")


@dataclass(frozen=True)
class _Option:
    """A segment a clip found by its sound may be of: where it would sit (``song_time = clip_time
    + place_s``) and what that costs (``sound`` + ``length``, in units of ``min_confidence`` of sync
    score, see :func:`_options`)."""

    segment: int
    place_s: float
    sound: float
    length: float

    @property
    def cost(self) -> float:
        return self.sound + self.length


def _places(r: np.ndarray, lo: int) -> list[float]:
    """The offsets (s) where a clip's sound fits the song nearly as well as at its best place
    (:func:`_fit_curve`'s ``r, lo``): each a peak at least :data:`_PLACE_GAP_S` from a better one,
    within :data:`_PLACE_SPAN` of the best and above :data:`MIN_MATCH`, best first."""
    from ..audio.sync import HOP_S

    out: list[float] = []
    if r.size == 0:
        return out
    left = r.astype(np.float64).copy()
    gap = int(round(_PLACE_GAP_S / HOP_S))
    floor = max(MIN_MATCH, float(left.max()) - _PLACE_SPAN)
    while len(out) < _MAX_PLACES:
        k = int(np.argmax(left))
        if not left[k] >= floor:
            break
        out.append((lo + k) * HOP_S)
        left[max(0, k - gap): k + gap + 1] = -np.inf
    return out


def _length_cost(start_s: float, end_s: float, spans: list[tuple[float, float]]) -> float:
    """How far a clip's span in the song (s) is from the nearest of ``spans`` (its segment's
    request, handles included, and the segment alone): each end's miss beyond
    :data:`_LENGTH_SLACK_S`, counted up to :data:`_LENGTH_CAP_S`, in units of :data:`_LENGTH_UNIT_S`."""
    def miss(e: float) -> float:
        return max(0.0, min(abs(e), _LENGTH_CAP_S) - _LENGTH_SLACK_S)

    return min(miss(start_s - a) + miss(end_s - b) for a, b in spans) / _LENGTH_UNIT_S


def _options(audio: np.ndarray, dur_s: float, places: list[float], song_env: np.ndarray, plan: Plan,
             reqs: dict[int, ClipRequest], unit: float) -> dict[int, _Option]:
    """Every segment a clip found by its sound may be of, with its cost: at each of its
    ``places`` (:func:`_places`), the sync score there against the best place's (each
    ``unit`` below it costs 1: a clip that runs past a repeated part into what differs fits
    only one place), plus how far its span (``dur_s`` long) is from that segment's
    (:func:`_length_cost`). The candidates at a place are the segments it mostly covers (or
    that mostly lie in it) and the one its middle falls in."""
    from ..audio.sync import find_offset

    found = [find_offset(audio, song_env, center_s=p, window_s=_NEAR_S) for p in places]
    best = max(f.score for f in found)
    out: dict[int, _Option] = {}
    for f in found:
        a, b = f.offset_s, f.offset_s + dur_s
        mid = 0.5 * (a + b)
        sound = max(0.0, best - f.score) / unit
        # (a clip hanging over the song's end: the last segment's, over its start: the first's)
        at_mid = next((s for s in plan.segments if mid < s.end_s), plan.segments[-1])
        for seg in plan.segments:
            covered = max(0.0, min(b, seg.end_s) - max(a, seg.start_s))
            if covered < 0.5 * min(dur_s, seg.duration_s) and seg is not at_mid:
                continue
            req = reqs[seg.index]
            spans = [(req.clip_start_s, req.clip_start_s + float(Fraction(req.n_frames) / Fraction(req.fps))),
                     (seg.start_s, seg.end_s)]
            opt = _Option(seg.index, f.offset_s, sound, _length_cost(a, b, spans))
            if seg.index not in out or opt.cost < out[seg.index].cost:
                out[seg.index] = opt
    return out


def _solve(costs: list[dict[int, float]], taken: dict[int, int]) -> tuple[list[int | None], float]:
    """The cheapest assignment of clips to segments (``costs[i][segment]``, a clip only to its
    own candidates), a segment's second clip costing :data:`_TAKE_COST` more, its third twice
    that (``taken`` counts the clips a segment already has from this import). Returns each
    clip's segment (None where it has no candidate) and the total cost."""
    from scipy.optimize import linear_sum_assignment

    segs = sorted({s for c in costs for s in c})
    cols = [(s, k) for s in segs for k in range(sum(1 for c in costs if s in c))]
    if not cols:
        return [None] * len(costs), 0.0
    big = 1e9
    m = np.full((len(costs), len(cols)), big)
    for i, c in enumerate(costs):
        for j, (s, k) in enumerate(cols):
            if s in c:
                m[i, j] = c[s] + _TAKE_COST * (k + taken.get(s, 0))
    rows, picked = linear_sum_assignment(m)
    out: list[int | None] = [None] * len(costs)
    total = 0.0
    for i, j in zip(rows, picked):
        if m[i, j] < big:
            out[i] = cols[j][0]
            total += float(m[i, j])
    return out, total


def _ambiguous(mine: _Option, other: _Option, *, with_others: bool) -> str:
    """The one-line refusal of a clip that fits two segments alike, even with the other clips placed."""
    also = " (with the other clips placed too)" if with_others else ""
    if abs(mine.place_s - other.place_s) < _PLACE_GAP_S:
        a, b = sorted((mine.segment, other.segment))
        return (f"refused: it lies across segments {a} and {b} alike{also}, its length fits neither better; "
                "give --segment N")
    x, y = sorted((mine, other), key=lambda o: o.place_s)
    return (f"refused: its sound fits at {x.place_s:.2f} s (segment {x.segment}) and {y.place_s:.2f} s "
            f"(segment {y.segment}) of the song alike (a repeated part?){also}, its length tells them apart "
            "no better; give --segment N")


def _conform(src: Path, index: Any, req: ClipRequest, out: Path, *, offset_s: float, keep: tuple[float, float],
             fill: Path | None = None) -> tuple[list[str], dict[str, Any]]:
    """Encode the project frames of ``req`` from ``src``: frame i shows the clip at song time
    ``req.clip_start_s + i / fps`` (clip time = song time - offset), inside ``keep`` (clip seconds).
    Frames the clip does not cover (wholly before ``keep[0]`` or after ``keep[1]``) come from
    ``fill`` (the segment's previous take, same frames), else the clip's nearest good frame is held
    (frozen). A segment frame not covered makes a ``short`` note: the share of the segment the clip
    covers and, for each end, how many seconds it lacks and what shows there instead."""
    from ..fileio import atomic_path
    from .encode import EncodeSettings, encode_video
    from ..media import FrameFitter, decode_frames, index_video

    fps = Fraction(req.fps)
    starts = index.starts_s
    step = float(np.median(np.diff(starts))) if len(starts) > 1 else 1.0 / max(index.fps, 1.0)
    first_ok = int(np.searchsorted(starts, keep[0] - 1e-6))
    last_ok = max(first_ok, int(np.searchsorted(starts, keep[1] - 1e-6)) - 1)
    want: list[int] = []
    uncovered: list[int] = []
    for i in range(req.n_frames):
        c = req.clip_start_s + float(Fraction(i) / fps) - offset_s  # clip time of project frame i
        k = int(np.searchsorted(starts, c + 0.5 * step, side="right")) - 1  # nearest frame in time
        if c + 1 / float(fps) <= keep[0] + 1e-6 or c >= keep[1] - 1e-6:  # wholly outside what the clip shows
            uncovered.append(i)
        want.append(min(max(k, first_ok), last_ok))
    seg_frames = range(req.head_frames, req.n_frames - req.tail_frames)
    short = [i for i in uncovered if i in seg_frames]
    fit = FrameFitter(index.width, index.height, req.width, req.height, 0.0, index.quarter_turns)
    frames = decode_frames(src, index, fit, set(want))
    filled: dict[int, np.ndarray] = {}
    if uncovered and fill is not None:
        findex = index_video(fill)
        ffit = FrameFitter(findex.width, findex.height, req.width, req.height, 0.0, findex.quarter_turns)
        got = decode_frames(fill, findex, ffit, {i for i in uncovered if i < len(findex.pts)})
        filled = {i: got[i] for i in uncovered if i in got}
    notes = []
    coverage = 1.0 - len(short) / max(1, len(seg_frames))
    if short:
        notes.append(_short_note(short, filled, seg_frames, fps, coverage))
    with atomic_path(out) as tmp:
        enc = encode_video((filled[i] if i in filled else frames[k] for i, k in enumerate(want)), tmp,
                           width=req.width, height=req.height, fps=fps, n_frames=req.n_frames,
                           settings=EncodeSettings())
    return notes, {"frames_uncovered": len(uncovered), "frames_filled": len(filled), "coverage": round(coverage, 4),
                   "encoder": enc}


def _short_note(short: list[int], filled: dict[int, Any], seg_frames: range, fps: Fraction, coverage: float) -> str:
    """``short: covers 70 % (the last 2.4 s frozen)``: what a clip lacks of its segment
    (``short``: the segment's frames it does not cover) and what shows there instead."""
    mid = (seg_frames.start + seg_frames.stop) / 2
    parts = []
    for side, frames in (("first", [i for i in short if i < mid]), ("last", [i for i in short if i >= mid])):
        if frames:
            what = "from the previous take" if all(i in filled for i in frames) else "frozen"
            secs = float(len(frames) / fps)
            parts.append(f"the {side} {secs:.{1 if secs >= 0.1 else 2}f} s {what}")
    return f"short: covers {100 * coverage:.0f} % ({' and '.join(parts)})"


def import_takes(project: WorkFolder, clips: list[Path], *, backend: Backend, segment: int | None = None,
                 offset_s: float | None = None, whole: bool = False, min_confidence: float = MIN_CONFIDENCE
                 ) -> list[Imported]:
    """Import ``clips`` (files, or folders searched for videos) into a work folder's clip cache, each
    as a new take of its segment (putting them in the project, or on its timeline, is
    :func:`mvtimeline.pipeline.import_clips`'s). Clips whose name gives no segment (and no
    ``segment``, ``offset_s`` or ``whole``) are placed together by their sound and length, each
    on its own segment unless it clearly is a second take (module notes, step 1); a clip that
    could go to another segment says which in its flags (``placed by sound and length: segment
    7, not 17 (margin 2.4)``, the margin in units of ``min_confidence`` of sync score).

    Parameters
    ----------
    project : WorkFolder
        A work folder (``mvtimeline run`` made its plan and analysis).
    clips : list of Path
        Video files, or folders (a shot pack: each ``NN-…`` folder's videos).
    segment : int, optional
        The segment every clip is of (needed for a silent clip).
    offset_s : float, optional
        ``song_time = clip_time + offset_s``: skip the sync (a clip it cannot sync).
    backend : Backend
        The backend the folder's settings name: the new takes are filed under its cache keys.
    whole : bool
        Each clip covers the whole song: synced once, cut into a take per segment.
    min_confidence : float
        Refuse a sync whose margin over the runner-up is smaller; it is also the unit in which
        clips found by their sound are weighed against each other.

    Returns
    -------
    list of Imported
        One row per clip (per segment with ``whole``), refused ones with ``result`` saying why.

    Raises
    ------
    InputError
        No clip given, a clip that does not exist or is not a readable video,
        an unknown segment, a silent clip without ``segment``, a clip whose sound fits nowhere in
        the song (below :data:`MIN_MATCH`: a clip of another song; nothing is imported then).
    """
    from ..audio import load
    from ..audio.sync import SR, find_offset, song_envelopes
    from .cache import find_clip, write_record
    from ..media import blank_ends
    from ..fileio import file_sha256

    plan = project.load_plan()
    analysis = project.load_analysis()
    known = {s.index for s in plan.segments}
    if segment is not None and segment not in known:
        raise InputError(f"plan has no segment {segment}; segments are 1..{len(plan.segments)}")
    files: list[Path] = []
    for c in clips:
        c = Path(c)
        if c.is_dir():
            found = sorted(p for p in c.rglob("*") if p.suffix.lower() in (".mp4", ".mov", ".mkv", ".webm", ".avi")
                           and p.is_file() and not p.name.startswith("."))
            if not found:
                raise InputError(f"{c}: no video files in it")
            files += found
        elif not c.is_file():
            raise InputError(f"{c}: no such file")
        else:
            files.append(c)
    if not files:
        raise InputError("no clip to import")
    # check every file before any work: a truncated file is an error, not a half import
    checked = {f: blank_ends(f) for f in files}
    reqs = {r.segment_index: r for r in project.clip_requests(plan, analysis, backend)}
    song_env = song_envelopes(load(project.song, sr=SR)[0])

    def seg_at(t: float) -> int:
        return next((s.index for s in plan.segments if s.start_s <= t < s.end_s), plan.segments[-1].index)

    # every clip's place first, nothing written: a clip of another song stops the import before any work
    rows: list[Imported] = []
    todo: dict[int, tuple[list[int], float, float | None]] = {}  # id(row) → its segments and sync
    strangers: list[str] = []
    by_sound: list[tuple[Imported, np.ndarray, Any, list[float]]] = []  # placed jointly, below

    def sync(row: Imported, audio: np.ndarray | None, index: Any, targets: list[int],
             center_s: float | None = None) -> None:
        """The clip's sync, once (around ``center_s``, else its segment's start): into ``todo``,
        or ``row.result`` saying why not, or ``strangers``."""
        f = row.clip
        head_s = checked[f][0]
        row.segment = None if whole else targets[0]
        if offset_s is not None:
            off, conf = float(offset_s), None
        elif audio is None:
            if whole:
                raise InputError(f"{f.name}: a whole-song video without sound needs --offset S")
            req = reqs[targets[0]]
            off, conf = req.clip_start_s + float(Fraction(req.head_frames) / req.fps) - head_s, None
            row.flags.append("no sound: its first good frame is put at the segment's start")
        else:
            if whole:  # the video starts near the song's start, give or take a blank head or a cut intro
                center, window = 0.0, WINDOW_S + abs(analysis.duration_s - index.duration_s)
            else:
                center, window = reqs[targets[0]].clip_start_s if center_s is None else center_s, WINDOW_S
            found = find_offset(audio, song_env, center_s=center, window_s=window)
            off, conf = float(found.offset_s), float(found.confidence)
            row.offset_s, row.confidence = round(off, 3), round(conf, 3)
            if row.match is None:
                row.match = round(_fit(audio, song_env, center_s=center, window_s=window)[0], 3)
            if row.match < MIN_MATCH:  # not here: elsewhere in the song, or nowhere
                match, there = _fit(audio, song_env)
                if match < MIN_MATCH:
                    strangers.append(_stranger(f, conf, max(match, row.match)))
                    return
                row.result = (f"refused: its sound is not near segment {targets[0]} but at {there:.2f} s of the song "
                              f"(segment {seg_at(there + index.duration_s / 2)}, match {match:.2f}); "
                              "give that --segment N, or --offset S")
                return
            if conf < min_confidence:
                row.result = (f"refused: unsure sync (best {found.offset_s:+.2f} s score {found.score:.2f}, "
                              f"next {found.runner_up_offset_s:+.2f} s score {found.runner_up:.2f}); pass --offset S")
                return
        todo[id(row)] = (targets, off, conf)

    for f in files:
        head_s, tail_s, index = checked[f]
        audio = _clip_audio(f)
        row = Imported(clip=f, head_trim_s=round(head_s, 3), tail_trim_s=round(tail_s, 3))
        rows.append(row)
        if whole:
            sync(row, audio, index, sorted(known))
            continue
        seg = segment or _segment_from_name(f, known)
        if seg is None and audio is None:
            raise InputError(f"{f.name}: no sound to find its segment by; give --segment N")
        if seg is None and offset_s is None:  # by its sound: placed with the other such clips, below
            found = find_offset(audio, song_env, center_s=analysis.duration_s / 2,
                                window_s=analysis.duration_s / 2 + 1.0)
            r, lo = _fit_curve(audio, song_env)
            match = float(r.max()) if r.size else 0.0
            row.offset_s, row.confidence, row.match = round(found.offset_s, 3), round(found.confidence, 3), round(match, 3)
            if match < MIN_MATCH:
                strangers.append(_stranger(f, found.confidence, match))
                continue
            by_sound.append((row, audio, index, _places(r, lo)))
            continue
        if seg is None:  # placed by --offset: the segment its middle falls in
            seg = seg_at(float(offset_s) + index.duration_s / 2)  # type: ignore[arg-type]
        sync(row, audio, index, [seg])
    if by_sound and not strangers:
        # jointly: each clip to one segment (a second take only where it clearly is one), refusing
        # a clip only when it fits two places alike even with the others placed
        taken: dict[int, int] = {}
        for targets, _, _ in todo.values():
            taken[targets[0]] = taken.get(targets[0], 0) + 1
        unit = max(float(min_confidence), 1e-6)
        options = [_options(audio, index.duration_s, places, song_env, plan, reqs, unit)
                   for _, audio, index, places in by_sound]
        costs = [{s: o.cost for s, o in opts.items()} for opts in options]
        assigned, total = _solve(costs, taken)
        for (row, *_), opts in zip(by_sound, options):
            log.debug("%s: %s", row.clip.name, ", ".join(f"segment {o.segment} at {o.place_s:.2f} s: sound {o.sound:.2f}"
                                                          f" length {o.length:.2f}" for o in opts.values()))
        log.debug("joint placement of %d clips: %s (total %.2f)", len(costs), assigned, total)
        for i, (row, audio, index, _) in enumerate(by_sound):
            s = assigned[i]
            if s is None:  # (every clip found by sound has a candidate)
                row.result = "refused: no segment fits it; give --segment N"
                continue
            barred = [dict(c) for c in costs]
            del barred[i][s]
            margin, other = float("inf"), None
            if barred[i]:
                alt, alt_total = _solve(barred, taken)
                other = alt[i]
                margin = alt_total - total
            if other is not None and margin < _AMBIGUOUS_MARGIN:
                row.result = _ambiguous(options[i][s], options[i][other], with_others=len(by_sound) > 1)
                continue
            if other is not None and options[i][other].sound < _REPEAT_SOUND:  # a repeat it was told from
                row.flags.append(f"placed by sound and length: segment {s}, not {other} (margin {margin:.1f})")
            sync(row, audio, index, [s], center_s=options[i][s].place_s)
    if strangers:
        raise InputError("; ".join(strangers))
    by_take: dict[int, dict[int, ClipRequest]] = {}

    def _new_take(seg_index: int) -> tuple[int, ClipRequest]:
        """The segment's next take number (after every take in the cache) and its request (a
        take's request, so its cache key, may differ from the chosen take's: its own seed)."""
        def req_of(t: int) -> ClipRequest:
            if t not in by_take:
                by_take[t] = {r.segment_index: r for r in project.clip_requests(plan, analysis, backend, takes=[t])}
            return by_take[t][seg_index]

        names = [int(m.group(1)) for p in project.clips_dir.glob("*/take-*.json")
                 if (m := re.fullmatch(r"take-(\d+)\.json", p.name))]
        have = [t for t in range(1, max(names, default=0) + 1)
                if find_clip(project.clips_dir, req_of(t).key(backend.name, backend.version, backend.model_id), t)]
        take = max(have, default=0) + 1
        return take, req_of(take)

    out: list[Imported] = []
    for row in rows:
        if id(row) not in todo:  # refused
            out.append(row)
            continue
        targets, off, conf = todo[id(row)]
        f = row.clip
        head_s, tail_s, index = checked[f]
        keep = (head_s, index.duration_s - tail_s)
        for seg_index in targets:
            chosen_req = reqs[seg_index]
            take, req = _new_take(seg_index)
            key = req.key(backend.name, backend.version, backend.model_id)
            r = Imported(clip=f, segment=seg_index, offset_s=round(off, 4), head_trim_s=row.head_trim_s,
                         tail_trim_s=row.tail_trim_s, confidence=None if conf is None else round(conf, 3),
                         flags=list(row.flags), match=row.match)
            t0 = time.perf_counter()
            mp4 = project.clips_dir / key / f"take-{take}.mp4"
            mp4.parent.mkdir(parents=True, exist_ok=True)
            chosen_key = chosen_req.key(backend.name, backend.version, backend.model_id)
            fill = (project.clips_dir / chosen_key / f"take-{chosen_req.take}.mp4"
                    if find_clip(project.clips_dir, chosen_key, chosen_req.take) else None)
            notes, details = _conform(f, index, req, mp4, offset_s=off, keep=keep, fill=fill)
            r.flags += notes
            r.coverage = details["coverage"]
            write_record(project.clips_dir, req, key, take, backend={"name": "import", "version": "1", "model_id": ""},
                         meta={"mode": "import", "source": str(f.resolve()), "source_sha256": file_sha256(f),
                               "offset_s": off, "head_trim_s": head_s, "tail_trim_s": tail_s, "confidence": conf,
                               "match": row.match, "whole": whole, "flags": r.flags, "frames": req.n_frames,
                               "adjusted": [], **details},
                         generate_s=time.perf_counter() - t0)
            assert find_clip(project.clips_dir, key, take) is not None
            r.take = take
            r.result = "short" if any(n.startswith("short") for n in notes) else "imported"
            out.append(r)
    return out
