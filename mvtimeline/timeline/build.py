"""Plan + generated clips → the OpenTimelineIO timeline (shape: see :mod:`mvtimeline.timeline`).

Dissolves start at the cut ("start at cut"): the outgoing clip runs on over the first frames of
the next segment from its tail handle, while the incoming clip starts at its own first frame. So
a clip's file begins exactly at its segment, which every editor imports in sync (Kdenlive's OTIO
import resets the in point of every clip after the first to the file's first frame).

Public: build.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

from ..errors import InputError
from ..timecode import seconds_to_frame, segment_frames
from ..types import ClipRequest, ClipResult, Lyrics, Plan, section_kind
from .kdenlive.layout import MARKER_COLOURS, guide_category

__all__ = ["build"]

log = logging.getLogger(__name__)


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
    frames = segment_frames(plan, fps)
    missing = [s.index for s in plan.segments if s.index not in clips]
    if missing:
        raise InputError(f"no generated clip for plan segment {missing[0]}")
    tl = otio.schema.Timeline(name=name or Path(audio_path).stem)
    tl.global_start_time = rt(0)
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    dissolve = round(Fraction(plan.dissolve_s) * fps)
    # per cut: frames of the dissolve before the cut (none: the incoming clip starts at its own first
    # frame) and after it (the outgoing clip's tail handle, inside the incoming segment, which keeps
    # at least one frame of its own)
    pre_post: list[tuple[int, int]] = []
    for k in range(len(plan.segments) - 1):
        req_a, _ = clips[plan.segments[k].index]
        post = min(dissolve, req_a.tail_frames, max(0, frames[k + 1].n_frames - 1))
        if post < dissolve:
            log.warning("dissolve after segment %d shortened to %d frames (the clip's tail handle or the next "
                        "segment is shorter than %d frames)", plan.segments[k].index, post, dissolve)
        pre_post.append((0, post))

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
        category = guide_category(info["kind"], info.get("section_kind"))
        m = otio.schema.Marker(
            name=info["label"],
            marked_range=otio.opentime.TimeRange(otio.opentime.RationalTime(f, rate),
                                                 otio.opentime.RationalTime(0, rate)),
            color=MARKER_COLOURS[category],
            # Kdenlive's OTIO import takes the guide category from metadata["kdenlive"]["type"]
            metadata={"mvtimeline": dict(info), "kdenlive": {"type": category}},
        )
        m.comment = info["label"]
        out.append(m)
    return out
