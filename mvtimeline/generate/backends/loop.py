"""The loop backend: the user's own video looped under the whole song, or a slow zoom over a still.

Two modes, chosen by the request:

- **video** (``request.video``): frame ``i`` of the clip shows the video at song time
  ``clip_start_s + i / fps`` modulo the video's length, so the video restarts every time it ends
  and two segments of the same song show the same video frame at the same song time
  (:func:`source_indices`). With ``pingpong`` it plays forward then backward instead of jumping
  back to its start. The video is resampled to the project rate by picking the source frame shown
  at each output time (no blending), its bottom ``crop_bottom`` of the height is cut off, and it
  is cover-fitted to ``width`` x ``height`` (scaled and centre-cropped, no borders, see
  :func:`mvtimeline.media.fit_box`).
- **image** (``request.image``, no video): the still, cropped and fitted the same way, with a
  gentle zoom towards its centre over the whole clip (:func:`image_zoom`).

A short video is decoded once, straight to the output size, and kept in memory (the frames the
clip uses, within ``memory_mb``); a longer one is streamed, decoding ahead and seeking back in
chunks for the backward half of a ping-pong. Frames go to
:func:`mvtimeline.generate.encode.encode_video`, so the clip has exactly ``n_frames`` frames.

Public: LoopBackend, source_indices, image_zoom, video_frames, still_frames, with_source.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mvtimeline.errors import InputError
from mvtimeline.progress import ProgressFn
from mvtimeline.types import ClipRequest, GeneratedClip
from mvtimeline.media import (FrameFitter, StreamReader, check_image, decode_frames, default_workers, fit_image, index_video, open_image, ordered_map, probe_first_frame)
from .base import BackendBase, check_request
from ..encode import EncodeSettings, encode_video

__all__ = [
    "LoopBackend",
    "source_indices",
    "image_zoom",
    "video_frames",
    "still_frames",
    "with_source",
]

log = logging.getLogger(__name__)

MAX_CROP_BOTTOM = 0.5  # crop_bottom must be below this fraction of the height
ZOOM_END = 1.15  # image mode: zoom reached at the end of the clip...
ZOOM_RATE_PER_S = 0.02  # ...but never faster than +2 % per second (short clips zoom less)
DEFAULT_MEMORY_MB = 1536  # video frames kept in memory at the output size before streaming instead
_EPS_S = 1e-6  # an output time this close to a source frame's start counts as that frame


# ------------------------------------------------------------------------------------------ geometry
# --------------------------------------------------------------------------------------- time map
def take_phase(request: ClipRequest) -> float:
    """Where in the video (a share of its length) take ``request.take`` starts its loop: 0 for take 1
    (the video in step with the song), for a further take a share drawn from its seed, so takes of
    the loop job differ like takes of a model.

    Examples
    --------
    >>> import dataclasses
    >>> from fractions import Fraction
    >>> from mvtimeline.types import ClipRequest, take_seed
    >>> r = ClipRequest(segment_index=1, take=1, section="Verse", section_index=0, image_prompt="", motion_prompt="",
    ...                 negative_prompt="", seed=7, width=64, height=48, fps=Fraction(25), n_frames=5, head_frames=0,
    ...                 tail_frames=0, clip_start_s=0.0, tempo_bpm=120.0)
    >>> take_phase(r), 0 < take_phase(dataclasses.replace(r, take=2, seed=take_seed(7, 2))) < 1
    (0.0, True)
    """
    if request.take <= 1:
        return 0.0
    return float(np.random.default_rng([request.seed & 0xFFFFFFFFFFFFFFFF, 1]).uniform(0.2, 0.8))


def _frame_times_s(request: ClipRequest) -> np.ndarray:
    """Song time of each clip frame, from the exact rate (no running sum)."""
    i = np.arange(request.n_frames, dtype=np.float64)
    return request.clip_start_s + i * (request.fps.denominator / request.fps.numerator)


def source_indices(
    times_s: np.ndarray, starts_s: Sequence[float], duration_s: float, *, pingpong: bool = False
) -> np.ndarray:
    """Which source frame is on screen at each song time, the source looping from song time 0.

    Parameters
    ----------
    times_s : ndarray of float
        Song times in seconds (may be negative: the handle before the song's start).
    starts_s : sequence of float, increasing, first 0
        Presentation time of each source frame, in seconds from the first.
    duration_s : float > starts_s[-1]
        Length of the source (the last frame's start plus its duration), in seconds.
    pingpong : bool, default False
        Play forward then backward (frames ``0 .. N-1, N-2 .. 1``, each for its own duration)
        instead of wrapping from the last frame to the first.

    Returns
    -------
    ndarray of int
        Source frame index for each time.

    Examples
    --------
    A 4-frame source at 4 fps sampled at 4 fps, looping and ping-pong:

    >>> t = np.arange(10) / 4
    >>> source_indices(t, [0, 0.25, 0.5, 0.75], 1.0).tolist()
    [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    >>> source_indices(t, [0, 0.25, 0.5, 0.75], 1.0, pingpong=True).tolist()
    [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    """
    starts = np.asarray(starts_s, dtype=np.float64)
    n = len(starts)
    durations = np.diff(np.append(starts, duration_s))
    order = np.arange(n)
    if pingpong and n > 2:
        order = np.concatenate([order, np.arange(n - 2, 0, -1)])
        durations = np.concatenate([durations, durations[n - 2 : 0 : -1]])
    elif pingpong and n == 2:
        pass  # 0, 1, 0, 1 ... is already the ping-pong of two frames
    period = float(durations.sum())
    seq_starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    u = np.mod(np.asarray(times_s, dtype=np.float64) + _EPS_S, period)
    k = np.searchsorted(seq_starts, u, side="right") - 1
    k = np.clip(k, 0, len(order) - 1)
    return order[k]


def image_zoom(request: ClipRequest) -> np.ndarray:
    """Zoom factor per frame in image mode: 1 at frame 0, growing evenly (in log scale) to the end.

    The last frame reaches ``ZOOM_END`` (1.15), or less on a short clip, so the zoom never runs
    faster than ``ZOOM_RATE_PER_S`` (+2 % per second).

    Examples
    --------
    >>> from fractions import Fraction
    >>> req = ClipRequest(1, 1, "Verse", 0, "", "", "", 0, 160, 90, Fraction(10), 50, 0, 0, 0.0, 120.0)
    >>> z = image_zoom(req)
    >>> round(float(z[0]), 3), round(float(z[-1]), 3)
    (1.0, 1.1)
    """
    n = request.n_frames
    dur_s = n / float(request.fps)
    end = min(ZOOM_END, 1.0 + ZOOM_RATE_PER_S * dur_s)
    s = np.arange(n, dtype=np.float64) / max(1, n - 1)
    phase = take_phase(request)
    if phase:  # a further take: zooms out instead, or less far, by its seed
        s = s[::-1] if phase >= 0.5 else s * 0.6
    return end**s


# ------------------------------------------------------------------------------------- video input
def video_frames(
    request: ClipRequest, *, memory_mb: float = DEFAULT_MEMORY_MB, info: dict[str, Any] | None = None
) -> Iterator[np.ndarray]:
    """RGB frames of the looped ``request.video``, fitted to the output size.

    Parameters
    ----------
    request : ClipRequest
        With ``video`` set; uses ``clip_start_s``, ``fps``, ``n_frames``, size, ``crop_bottom``
        and ``pingpong``.
    memory_mb : float > 0, default 1536
        The source frames the clip uses are decoded once and kept in memory (at the output size)
        when they take at most this many MiB; otherwise the video is streamed.
    info : dict, optional
        Receives a description of the source (``source_frames``, ``source_fps``,
        ``source_duration_s``, ``source_size`` (as displayed), ``source_quarter_turns`` (display
        rotation applied, counter-clockwise), ``in_memory``).

    Yields
    ------
    ndarray, uint8, shape (height, width, 3)
        ``n_frames`` frames.

    Raises
    ------
    InputError
        The video cannot be read.
    RunError
        Decoding failed part-way.
    """
    if request.video is None:
        raise InputError(f"segment {request.segment_index}: video mode needs request.video")
    path = Path(request.video)
    index = index_video(path)
    fit = FrameFitter(index.width, index.height, request.width, request.height, request.crop_bottom, index.quarter_turns)
    times = _frame_times_s(request) + take_phase(request) * index.duration_s  # a further take: its own phase
    order = source_indices(times, index.starts_s, index.duration_s, pingpong=request.pingpong)
    needed = set(order.tolist())
    frame_bytes = request.width * request.height * 3
    budget_frames = int(memory_mb * 2**20 // frame_bytes)
    in_memory = len(needed) <= budget_frames
    if info is not None:
        info.update(
            source_frames=len(index.pts),
            source_fps=round(index.fps, 4),
            source_duration_s=round(index.duration_s, 4),
            source_size=[index.width, index.height],
            source_quarter_turns=index.quarter_turns,
            in_memory=in_memory,
        )
    log.info(
        "segment %d: looping %s (%d frames, %.2f s, %s) over %d frames, %s",
        request.segment_index, path, len(index.pts), index.duration_s,
        "ping-pong" if request.pingpong else "wrap", request.n_frames,
        "decoded into memory" if in_memory else "streamed",
    )
    if in_memory:
        store = decode_frames(path, index, fit, needed)
        for k in order:
            yield store[int(k)]
        return
    reader = StreamReader(path, index, fit, capacity=budget_frames)
    try:
        for k in order:
            yield reader.get(int(k))
    finally:
        reader.close()
    log.debug("segment %d: %d frames decoded while streaming", request.segment_index, reader.decoded)


# ------------------------------------------------------------------------------------- image input
def still_frames(request: ClipRequest, *, workers: int | None = None) -> Iterator[np.ndarray]:
    """RGB frames of the slow zoom over ``request.image`` (bottom strip cut, cover-fitted).

    Parameters
    ----------
    request : ClipRequest
        With ``image`` set to a readable still; uses size, ``fps``, ``n_frames``, ``crop_bottom``.
    workers : int >= 1, optional
        Threads resampling frames; defaults to half the CPU cores (1..6).

    Yields
    ------
    ndarray, uint8, shape (height, width, 3)
        ``n_frames`` frames; frame ``i`` shows the centre ``1 / zoom[i]`` of the fitted still
        (:func:`image_zoom`).

    Raises
    ------
    InputError
        The image cannot be read.
    """
    from PIL import Image

    if request.image is None:
        raise InputError(f"segment {request.segment_index}: image mode needs request.image")
    img = open_image(request.image)
    W, H = request.width, request.height
    zoom = image_zoom(request)
    # enough pixels that the deepest zoom still has about one source pixel per output pixel
    work = fit_image(img, W, H, crop_bottom=request.crop_bottom, max_scale=float(zoom.max()))
    ww, wh = work.size

    def render(i: int) -> np.ndarray:
        cw, ch = ww / zoom[i], wh / zoom[i]
        bx, by = (ww - cw) / 2, (wh - ch) / 2
        box = (float(bx), float(by), float(bx + cw), float(by + ch))
        return np.asarray(work.resize((W, H), resample=Image.Resampling.BILINEAR, box=box))

    yield from ordered_map(render, request.n_frames, workers=workers or default_workers())


# ----------------------------------------------------------------------------------------- requests
def with_source(
    requests: Sequence[ClipRequest],
    *,
    video: Path | str | None = None,
    pingpong: bool = False,
    crop_bottom: float = 0.0,
) -> list[ClipRequest]:
    """The requests with the user's video (hashed once), ping-pong and bottom crop filled in.

    Parameters
    ----------
    requests : sequence of ClipRequest
        E.g. from :func:`mvtimeline.generate.requesting.clip_requests`.
    video : Path or str, optional
        The video to loop; its SHA-256 goes into ``video_sha256`` (part of the cache key).
    pingpong : bool, default False
        Forward then backward instead of wrapping.
    crop_bottom : float in [0, 0.5), default 0
        Fraction of the source height to cut off its bottom (video or image).

    Returns
    -------
    list of ClipRequest

    Raises
    ------
    InputError
        The video cannot be read, or ``crop_bottom`` is out of range.
    """
    _check_crop(crop_bottom, "crop_bottom")
    changes: dict[str, Any] = {"pingpong": bool(pingpong), "crop_bottom": float(crop_bottom)}
    if video is not None:
        from ..cache import image_sha256

        p = Path(video)
        if not p.is_file():
            raise InputError(f"video {p} {'is a folder, not a file' if p.is_dir() else 'does not exist'}")
        changes.update(video=str(p), video_sha256=image_sha256(p))
    return [dataclasses.replace(r, **changes) for r in requests]


def _check_crop(crop: Any, where: str) -> None:
    if (
        isinstance(crop, bool)
        or not isinstance(crop, (int, float))
        or not math.isfinite(crop)
        or not 0.0 <= crop < MAX_CROP_BOTTOM
    ):
        raise InputError(
            f"{where}: crop_bottom {crop!r} must be a fraction of the height in [0, {MAX_CROP_BOTTOM}), "
            "e.g. 0.1 to remove the bottom tenth"
        )


# ---------------------------------------------------------------------------------------- backend
class LoopBackend(BackendBase):
    """Clips from the user's own footage: a looped video, or a slow zoom over a still.

    Parameters
    ----------
    crf : int in [0, 51], default 20
        x264 constant rate factor.
    preset : str, default ``"veryfast"``
        x264 preset.
    keyint_s : float > 0, default 1.0
        Seconds between keyframes.
    memory_mb : float > 0, default 1536
        MiB of decoded video frames (at the output size) kept in memory before streaming instead;
        it changes speed and memory only, never the clip.

    Notes
    -----
    ``max_seconds`` is infinite, so the planner makes one segment for the whole song (unless the
    user asks for a shorter ``max_segment_s``). Non-default encoder settings are part of
    :attr:`version`, so they change the cache key.
    """

    name = "loop"
    model_id = ""
    max_seconds = float("inf")
    clip_seconds = float("inf")
    VERSION = "1"

    def __init__(
        self, *, crf: int = 20, preset: str = "veryfast", keyint_s: float = 1.0,
        memory_mb: float = DEFAULT_MEMORY_MB,
    ) -> None:
        self.settings = EncodeSettings(crf=crf, preset=preset, keyint_s=keyint_s)
        if not isinstance(memory_mb, (int, float)) or not memory_mb > 0:
            raise InputError(f"backend 'loop': memory_mb {memory_mb!r} must be a positive number of MiB")
        self.memory_mb = float(memory_mb)
        if self.settings == EncodeSettings():
            self.version = self.VERSION
        else:
            self.version = f"{self.VERSION}+crf{crf}-{preset}-k{keyint_s:g}"

    def __repr__(self) -> str:
        return f"LoopBackend(version={self.version!r})"

    def check(self, request: ClipRequest) -> None:
        """Check a request before any work starts (the video is opened and one frame decoded).

        Raises
        ------
        InputError
            Anything :func:`mvtimeline.generate.backends.base.check_request` rejects; ``crop_bottom``
            outside [0, 0.5); neither a video nor an image; a video that does not exist, does not
            decode or has no ``video_sha256``; an image PIL cannot read. The message names the
            file.
        """
        check_request(request)
        where = f"segment {request.segment_index}"
        _check_crop(request.crop_bottom, where)
        if request.video is not None:
            p = Path(request.video)
            if not p.is_file():
                what = "is a folder, not a video file" if p.is_dir() else "does not exist"
                raise InputError(f"{where}: video {p} {what}")
            probe_first_frame(p)
            if request.video_sha256 is None:
                raise InputError(
                    f"{where}: video {p} has no video_sha256 (part of the cache key); "
                    "fill it with mvtimeline.generate.backends.loop.with_source"
                )
        elif request.image is not None:
            check_image(request.image, where=where)
        else:
            raise InputError(
                f"{where}: the loop backend needs a video (--video FILE) or an image (--image FILE)"
            )

    def generate(
        self,
        request: ClipRequest,
        out: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedClip:
        """Make the clip of ``request`` into ``out`` (an .mp4 path, written in place).

        Parameters
        ----------
        request : ClipRequest
            What to make; checked with :meth:`check` first.
        out : Path
            Where to write the MP4.
        progress : ProgressFn, optional
            ``Progress("clip", done, total)``: frames encoded so far and ``n_frames``.

        Returns
        -------
        GeneratedClip
            Its ``details``: ``mode`` ("video" or "image"), ``crop_bottom``; in video mode
            ``pingpong`` and the source's ``source_frames``, ``source_fps``,
            ``source_duration_s``, ``source_size``, ``in_memory``; in image mode ``zoom_end``;
            plus the encoder's description (size, fps, codec, crf, preset, keyint, bytes).

        Raises
        ------
        InputError
            A bad request or an unreadable source.
        RunError
            Decoding or encoding failed.
        """
        self.check(request)
        meta: dict[str, Any] = {"crop_bottom": request.crop_bottom}
        if request.video is not None:
            frames = video_frames(request, memory_mb=self.memory_mb, info=meta)
            meta.update(mode="video", pingpong=request.pingpong)
        else:
            frames = still_frames(request)
            meta.update(mode="image", zoom_end=round(float(image_zoom(request)[-1]), 4))
        enc = encode_video(
            frames,
            Path(out),
            width=request.width,
            height=request.height,
            fps=request.fps,
            n_frames=request.n_frames,
            settings=self.settings,
            progress=progress,
        )
        return GeneratedClip(n_frames=enc.pop("frames"), details={**meta, **enc})
