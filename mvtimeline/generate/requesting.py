"""Clip requests from a plan, and the chaining rule (each clip starts from the last frame before it).

- :func:`clip_requests` — one :class:`~mvtimeline.types.ClipRequest` per segment (and take): the
  segment's frames on the project's grid plus its handles, its prompts and seed, the song's
  loudness and downbeats under it, the user's still (cycled over the segments) or video.
- :func:`chain` — the requests of a chaining backend in segment order per take, each with the
  previous clip's last frame as its image; made one by one, or only looked up in the cache.

Public: clip_requests, chain, with_audio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from ..timecode import segment_frames
from ..types import Analysis, ClipRequest, ClipResult, Plan, take_seed
from ..progress import ProgressFn
from .cache import clip_paths, find_clip, image_sha256
from .executors.local import run

if TYPE_CHECKING:
    from ..config import Config
    from .backends.base import Backend

__all__ = ["clip_requests", "chain", "with_audio"]



def clip_requests(plan: Plan, analysis: Analysis, config: Config, *, takes: Sequence[int] | None = None
                  ) -> list[ClipRequest]:
    """One request per segment of ``plan``, for each take in ``takes`` (default: its chosen take).

    Parameters
    ----------
    plan : Plan
        The segments.
    analysis : Analysis
        The song's analysis (tempo, loudness curve, downbeats).
    config : Config
        Frame size and rate, handles (``head_s``/``tail_s``), the user's images or video,
        ping-pong and bottom crop, the cast (a segment's singer's picture is its image).
    takes : sequence of int >= 1, optional
        The takes to request of every segment.

    Returns
    -------
    list of ClipRequest
        Segment by segment, the takes of each in the order given.

    Raises
    ------
    InputError
        A segment shorter than one frame, a video that cannot be read, a bad ``crop_bottom``.
    """
    from ..plan.cast import cast_of, image_of

    fps = config.fps
    frames = segment_frames(plan, fps, head_s=config.head_s, tail_s=config.tail_s)
    sections: list[str] = []
    images = list(config.images)
    cast = cast_of(config.cast)
    hashes = {p: image_sha256(p) for p in images}
    hashes.update({s.image: image_sha256(s.image) for s in cast.values() if s.image is not None})
    out = []
    for seg, f in zip(plan.segments, frames):
        if seg.section not in sections:
            sections.append(seg.section)
        first = f.start_frame - f.head_frames
        clip_start_s = float(Fraction(first) / fps)
        n = f.clip_frames
        loud = tuple(round(analysis.curve_at("loudness", max(0.0, clip_start_s + float(Fraction(i) / fps))), 3)
                     for i in range(n))
        end_s = clip_start_s + float(Fraction(n) / fps)
        downs = tuple(round(d - clip_start_s, 4) for d in analysis.downbeat_times_s if clip_start_s <= d < end_s)
        # the segment's singer's picture, else the user's stills in turn
        image = image_of(seg.singer, cast) or (images[(seg.index - 1) % len(images)] if images else None)
        for take in (takes or [seg.take]):
            out.append(ClipRequest(
                segment_index=seg.index, take=take, section=seg.section, section_index=sections.index(seg.section),
                image_prompt=seg.image_prompt, motion_prompt=seg.motion_prompt,
                negative_prompt=seg.negative_prompt, seed=take_seed(seg.seed, take), width=config.width,
                height=config.height,
                fps=fps, n_frames=n, head_frames=f.head_frames, tail_frames=f.tail_frames,
                clip_start_s=round(clip_start_s, 6), tempo_bpm=analysis.tempo_bpm, downbeats_s=downs,
                loudness=loud, image=str(image) if image else None,
                image_sha256=hashes[image] if image else None,
            ))
    if config.video is not None or config.crop_bottom or config.pingpong:
        from .backends.loop import with_source

        out = with_source(out, video=config.video, pingpong=config.pingpong, crop_bottom=config.crop_bottom)
    return out


def with_audio(requests: Sequence[ClipRequest], plan: Plan, audio: Path, *, vocals: bool = False
               ) -> list[ClipRequest]:
    """The requests of a backend driven by the segment's audio: each carries the song (or the vocal
    stem, ``vocals``) with its content hash, and whether its segment has sung lines.

    Parameters
    ----------
    requests : sequence of ClipRequest
    plan : Plan
        The segments (their lyric lines say whether they are sung).
    audio : Path
        The song, or its vocal stem.
    vocals : bool
        ``audio`` is a vocal stem (an instrumental segment then keeps the stem's own near-silence).

    Returns
    -------
    list of ClipRequest
    """
    digest = image_sha256(audio)
    sung = {s.index: bool(s.lines) for s in plan.segments}
    return [dataclasses.replace(r, audio=str(audio), audio_sha256=digest, audio_is_vocals=vocals,
                                singing=sung.get(r.segment_index, True)) for r in requests]


def chain(requests: Sequence[ClipRequest], backend: Backend, cache_dir: Path, *, make: bool,
          progress: ProgressFn | None = None) -> list[tuple[ClipRequest, ClipResult | None]]:
    """The requests of a chaining backend, each with the previous clip's last frame as its image.

    Requests are taken in segment order per take. With ``make`` each clip is generated (or reused)
    before the next one is asked for; without it the clips are only looked up in the cache, and a
    missing one ends the chain (the requests after it keep their own image). The last frame of a
    clip is kept as ``clips/<key>/take-N.last.png``, so the next clip's key follows the previous
    clip's content.

    Parameters
    ----------
    requests : sequence of ClipRequest
        From :func:`clip_requests`.
    backend : Backend
        The chaining backend (its name, version and model id make the keys).
    cache_dir : Path
        The clip cache.
    make : bool
        Generate missing clips (else look them up only).
    progress : ProgressFn, optional
        Passed to :func:`mvtimeline.generate.run` (``Progress("clip", ...)`` events, each clip's
        label as ``item``).

    Returns
    -------
    list of (ClipRequest, ClipResult or None)
        In the order of ``requests``; the result is None for a clip not in the cache (``make``
        false).
    """
    from ..media import last_frame_png

    order = sorted(range(len(requests)), key=lambda i: (requests[i].take, requests[i].segment_index))
    out: dict[int, tuple[ClipRequest, ClipResult | None]] = {}
    previous: dict[int, Path | None] = {}
    for i in order:
        req = requests[i]
        png = previous.get(req.take)
        if png is not None:
            req = dataclasses.replace(req, image=str(png), image_sha256=image_sha256(png))
        elif req.image is not None and req.image_sha256 is None:
            req = dataclasses.replace(req, image_sha256=image_sha256(req.image))
        res: ClipResult | None
        if make:
            [res] = run([req], backend=backend, cache_dir=cache_dir, progress=progress)
            mp4: Path | None = res.path
        else:
            res = None
            key = req.key(backend.name, backend.version, backend.model_id)
            mp4 = clip_paths(cache_dir, key, req.take)[0]
            if find_clip(cache_dir, key, req.take) is None:
                mp4 = None
        if mp4 is not None:
            png = mp4.with_name(f"take-{req.take}.last.png")
            if not png.is_file():
                last_frame_png(mp4, png)
        previous[req.take] = png if mp4 is not None else None
        out[i] = (req, res)
    return [out[i] for i in range(len(requests))]
