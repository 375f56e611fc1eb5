"""Plan + generated clips → the OpenTimelineIO timeline (shape: see :mod:`mvtimeline.timeline`).

Public: build, clip_request_frames, segment_frames.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import InputError
from ..frames import frames_at_least, seconds_to_frame
from ..types import ClipRequest, ClipResult, Lyrics, Plan, section_kind

__all__ = ["build", "segment_frames", "SegmentFrames"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SegmentFrames:
    """A segment on the frame grid: ``[start_frame, end_frame)``, with its clip's handle frames."""

    start_frame: int
    end_frame: int
    head_frames: int
    tail_frames: int

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def clip_frames(self) -> int:
        """Frames the generated clip must have: the segment plus both handles."""
        return self.n_frames + self.head_frames + self.tail_frames


def segment_frames(plan: Plan, fps: Fraction, *, handle_s: float) -> list[SegmentFrames]:
    """Each segment's frames, from absolute times (no accumulated durations, so nothing drifts).

    The first segment starts at frame 0 and the last ends at the song's last frame; every boundary is
    ``seconds_to_frame`` of its time. ``handle_s`` seconds of extra frames are asked at both ends.

    Raises
    ------
    InputError
        A segment shorter than one frame at this rate.
    """
    handle = frames_at_least(handle_s, fps)
    out = []
    for seg in plan.segments:
        a, b = seconds_to_frame(seg.start_s, fps), seconds_to_frame(seg.end_s, fps)
        if b <= a:
            raise InputError(f"plan segment {seg.index} ({seg.start_s:.3f}–{seg.end_s:.3f} s) is shorter than "
                             f"one frame at {float(fps):.3f} fps")
        out.append(SegmentFrames(a, b, handle, handle))
    return out


def build(
    plan: Plan,
    clips: Mapping[int, tuple[ClipRequest, ClipResult]],
    *,
    aligned: Lyrics,
    fps: Fraction,
    width: int,
    height: int,
    audio_path: Path,
    backend: str,
    name: str | None = None,
    takes: Mapping[int, Sequence[ClipResult]] | None = None,
    downbeats_s: Sequence[float] = (),
):
    """Assemble the timeline.

    Parameters
    ----------
    plan : Plan
        The segments; each needs an entry in ``clips``.
    clips : mapping segment index → (ClipRequest, ClipResult)
        The chosen take of each segment.
    aligned : Lyrics
        Timed lyrics: subtitles and line markers.
    fps : Fraction
        Project rate.
    audio_path : Path
        The song file placed on A1.
    takes : mapping segment index → ClipResults, optional
        Every generated take of each segment (for the editor's bin); default: just the chosen one.
    downbeats_s : sequence of float
        Downbeat times (seconds) to mark as ``beat`` guides; empty for none.

    Returns
    -------
    opentimelineio.schema.Timeline
    """
    import opentimelineio as otio

    rate = float(fps)

    def rt(frames: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(frames, rate)

    n_song = seconds_to_frame(plan.duration_s, fps)
    frames = segment_frames(plan, fps, handle_s=0.0)
    missing = [s.index for s in plan.segments if s.index not in clips]
    if missing:
        raise InputError(f"no generated clip for plan segment {missing[0]}")
    tl = otio.schema.Timeline(name=name or Path(audio_path).stem)
    tl.global_start_time = rt(0)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    dissolve = round(Fraction(plan.dissolve_s) * fps)
    pre_post: list[tuple[int, int]] = []  # per cut: frames before, after
    for k in range(len(plan.segments) - 1):
        req_a, _ = clips[plan.segments[k].index]
        req_b, _ = clips[plan.segments[k + 1].index]
        pre, post = dissolve // 2, dissolve - dissolve // 2
        pre = min(pre, req_b.head_frames)
        post = min(post, req_a.tail_frames)
        pre_post.append((pre, post))
    # a segment must hold the tail of the dissolve before it and the head of the one after it
    for k, f in enumerate(frames):
        after_prev = pre_post[k - 1][1] if k > 0 else 0
        before_next = pre_post[k][0] if k < len(pre_post) else 0
        if after_prev + before_next > f.n_frames:
            scale = f.n_frames / (after_prev + before_next)
            if k > 0:
                pre_post[k - 1] = (pre_post[k - 1][0], int(after_prev * scale))
            if k < len(pre_post):
                pre_post[k] = (int(before_next * scale), pre_post[k][1])
            log.warning("segment %d is too short for its dissolves; shortened them", plan.segments[k].index)

    for k, (seg, f) in enumerate(zip(plan.segments, frames)):
        req, res = clips[seg.index]
        if req.n_frames < f.n_frames + req.head_frames:
            raise InputError(f"clip of segment {seg.index} has {req.n_frames} frames, needs "
                             f"{f.n_frames + req.head_frames}")
        ref = otio.schema.ExternalReference(
            target_url=str(Path(res.path).resolve()),
            available_range=otio.opentime.TimeRange(rt(0), rt(res.n_frames)),
        )
        clip = otio.schema.Clip(
            name=seg.label,
            media_reference=ref,
            source_range=otio.opentime.TimeRange(rt(req.head_frames), rt(f.n_frames)),
        )
        all_takes = sorted((takes or {}).get(seg.index, ()) or [res], key=lambda r: r.take)
        if res.take not in {t.take for t in all_takes}:
            all_takes = sorted([*all_takes, res], key=lambda r: r.take)
        clip.metadata["mvtimeline"] = {
            "segment": seg.index,
            "take": res.take,
            "takes": [{"take": t.take, "path": str(Path(t.path).resolve()), "n_frames": t.n_frames, "key": t.key}
                      for t in all_takes],
            "label": seg.label,
            "section": seg.section,
            "section_kind": section_kind(seg.section),
            "lines": list(seg.lines),
            "image_prompt": seg.image_prompt,
            "motion_prompt": seg.motion_prompt,
            "seed": seg.seed,
            "backend": backend,
            "key": res.key,
            "start_s": seg.start_s,
            "end_s": seg.end_s,
        }
        if k > 0:
            pre, post = pre_post[k - 1]
            if pre + post > 0:
                video.append(otio.schema.Transition(
                    name="dissolve",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(pre),
                    out_offset=rt(post),
                ))
        video.append(clip)
    tl.tracks.append(video)

    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    song = otio.schema.Clip(
        name="song",
        media_reference=otio.schema.ExternalReference(
            target_url=str(Path(audio_path).resolve()),
            available_range=otio.opentime.TimeRange(rt(0), rt(n_song)),
        ),
        source_range=otio.opentime.TimeRange(rt(0), rt(n_song)),
    )
    audio.append(song)
    tl.tracks.append(audio)

    for marker in _markers(plan, aligned, fps, downbeats_s=downbeats_s):
        tl.tracks.markers.append(marker)

    subtitles = [
        {"start_s": ln.start_s, "end_s": ln.end_s, "text": ln.text, "section": ln.section,
         "words": [{"text": w.text, "start_s": w.start_s, "end_s": w.end_s} for w in ln.words]}
        for ln in aligned.lines if ln.is_timed
    ]
    tl.metadata["mvtimeline"] = {
        "schema": 1,
        "fps": f"{fps.numerator}/{fps.denominator}",
        "width": width,
        "height": height,
        "n_frames": n_song,
        "duration_s": plan.duration_s,
        "audio_path": str(Path(audio_path).resolve()),
        "style": plan.style,
        "subtitles": subtitles,
    }
    return tl


def _markers(plan: Plan, aligned: Lyrics, fps: Fraction, *, downbeats_s: Sequence[float] = ()) -> list:
    """Section guides where the section changes, line guides at line starts, optional downbeat
    guides; one marker per frame (a line starting on a section's frame is merged into it)."""
    import opentimelineio as otio

    rate = float(fps)
    by_frame: dict[int, dict] = {}
    n_song = seconds_to_frame(plan.duration_s, fps)
    for t in downbeats_s:
        f = seconds_to_frame(t, fps)
        if 0 <= f < n_song:
            by_frame[f] = {"kind": "beat", "label": f"bar {len(by_frame) + 1}"}
    last_section = None
    for seg in plan.segments:
        if seg.section != last_section:
            f = seconds_to_frame(seg.start_s, fps)
            by_frame[f] = {"kind": "section", "label": seg.section, "section_kind": section_kind(seg.section)}
            last_section = seg.section
    for ln in aligned.lines:
        if not ln.is_timed:
            continue
        f = seconds_to_frame(ln.start_s, fps)
        if f in by_frame and by_frame[f]["kind"] == "section":
            by_frame[f]["label"] = f"{by_frame[f]['label']}: {ln.text}"
            by_frame[f]["line"] = ln.text
        else:
            by_frame[f] = {"kind": "line", "label": ln.text}
    out = []
    for f in sorted(by_frame):
        info = by_frame[f]
        color = {"section": otio.schema.MarkerColor.PURPLE, "line": otio.schema.MarkerColor.CYAN,
                 "beat": otio.schema.MarkerColor.YELLOW}[info["kind"]]
        m = otio.schema.Marker(
            name=info["label"],
            marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(f, rate),
                                                 otio.opentime.RationalTime(0, rate)),
            color=color,
            metadata={"mvtimeline": dict(info)},
        )
        m.comment = info["label"]
        out.append(m)
    return out
