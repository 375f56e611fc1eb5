"""The loop backend: the user's own video looped under the whole song, or a slow zoom over a still.

Two modes, chosen by the request:

- **video** (``request.video``): frame ``i`` of the clip shows the video at song time
  ``clip_start_s + i / fps`` modulo the video's length, so the video restarts every time it ends
  and two segments of the same song show the same video frame at the same song time
  (:func:`source_indices`). With ``pingpong`` it plays forward then backward instead of jumping
  back to its start. The video is resampled to the project rate by picking the source frame shown
  at each output time (no blending), its bottom ``crop_bottom`` of the height is cut off, and it
  is cover-fitted to ``width`` x ``height`` (scaled and centre-cropped, no borders, see
  :func:`fit_box`).
- **image** (``request.image``, no video): the still, cropped and fitted the same way, with a
  gentle zoom towards its centre over the whole clip (:func:`image_zoom`).

A short video is decoded once, straight to the output size, and kept in memory (the frames the
clip uses, within ``memory_mb``); a longer one is streamed, decoding ahead and seeking back in
chunks for the backward half of a ping-pong. Frames go to
:func:`mvtimeline.generate.encode.encode_video`, so the clip has exactly ``n_frames`` frames.

Public: LoopBackend, fit_box, source_indices, image_zoom, video_frames, still_frames,
with_source.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, RunError
from ..types import ClipRequest
from .base import check_image, check_request
from .encode import EncodeSettings, encode_video
from .procedural import _default_workers, _ordered_map

__all__ = [
    "LoopBackend",
    "fit_box",
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
STREAM_CHUNK = 48  # streaming: frames decoded per backward seek (ping-pong)
_EPS_S = 1e-6  # an output time this close to a source frame's start counts as that frame


# ------------------------------------------------------------------------------------------ geometry
def fit_box(
    src_width: int, src_height: int, width: int, height: int, *, crop_bottom: float = 0.0
) -> tuple[float, float, float, float]:
    """The part of a source picture that fills the output: bottom strip removed, centred, output aspect.

    Parameters
    ----------
    src_width, src_height : int > 0
        Source size in pixels.
    width, height : int > 0
        Output size in pixels (only the aspect matters here).
    crop_bottom : float in [0, 0.5)
        Fraction of the source height cut off its bottom before fitting.

    Returns
    -------
    (x0, y0, box_width, box_height) : tuple of float
        The box in source pixels; scaling it to ``width`` x ``height`` covers the output with no
        borders. It lies within the top ``src_height * (1 - crop_bottom)`` rows.

    Examples
    --------
    >>> fit_box(320, 240, 160, 90, crop_bottom=0.25)
    (0.0, 0.0, 320.0, 180.0)
    >>> fit_box(1920, 1080, 1080, 1920)
    (656.25, 0.0, 607.5, 1080.0)
    """
    visible_h = src_height * (1.0 - crop_bottom)
    aspect = width / height
    if src_width / visible_h > aspect:
        bw, bh = visible_h * aspect, visible_h
    else:
        bw, bh = float(src_width), src_width / aspect
    return ((src_width - bw) / 2, (visible_h - bh) / 2, bw, bh)


# --------------------------------------------------------------------------------------- time map
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
    return end**s


# ------------------------------------------------------------------------------------- video input
@dataclass(frozen=True)
class _VideoIndex:
    """Presentation times of a video's frames, from its packets (only the first frame is decoded).

    ``width`` x ``height`` is the size as displayed: a phone video stored sideways with a display
    rotation (``quarter_turns`` counter-clockwise quarter turns) has them swapped.
    """

    pts: tuple[int, ...]
    starts_s: np.ndarray
    duration_s: float
    width: int
    height: int
    fps: float
    quarter_turns: int = 0


def _index_video(path: Path) -> _VideoIndex:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"video {path} has no video stream")
            stream = container.streams.video[0]
            pts = sorted(
                {
                    int(p.pts)
                    for p in container.demux(stream)
                    if p.pts is not None and p.size > 0 and not p.is_discard
                }
            )
            tb = float(stream.time_base)
            rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
            container.seek(0)
            first = next(iter(container.decode(stream)), None)
            if first is None:
                raise InputError(f"video {path} has no frames")
            turns = round((getattr(first, "rotation", 0) or 0) / 90) % 4
            width, height = (first.width, first.height) if turns % 2 == 0 else (first.height, first.width)
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"video {path} is not a readable video ({exc})") from None
    if not pts:
        raise InputError(f"video {path} has no frames")
    starts = (np.asarray(pts, dtype=np.float64) - pts[0]) * tb
    steps = np.diff(starts)
    last = float(np.median(steps)) if len(steps) else 1.0 / rate
    return _VideoIndex(
        pts=tuple(pts), starts_s=starts, duration_s=float(starts[-1] + last), width=width, height=height,
        fps=(len(steps) / float(starts[-1])) if len(steps) and starts[-1] > 0 else rate, quarter_turns=turns,
    )


class _Fitter:
    """Decoded frame → RGB array of the output size: scale the whole frame in libswscale so the
    fit box becomes ``width`` x ``height``, turn it upright (display rotation), cut the box out.

    ``src_w`` x ``src_h`` is the displayed size (after ``quarter_turns`` counter-clockwise turns).
    """

    def __init__(
        self, src_w: int, src_h: int, width: int, height: int, crop_bottom: float, quarter_turns: int = 0
    ) -> None:
        x0, y0, bw, _ = fit_box(src_w, src_h, width, height, crop_bottom=crop_bottom)
        k = width / bw
        self.scaled = (max(width, round(src_w * k)), max(height, round(src_h * k)))  # upright
        self.x0 = min(max(0, round(x0 * k)), self.scaled[0] - width)
        self.y0 = min(max(0, round(y0 * k)), self.scaled[1] - height)
        self.width, self.height = width, height
        self.turns = quarter_turns % 4

    def __call__(self, frame: Any) -> np.ndarray:
        sw, sh = self.scaled if self.turns % 2 == 0 else self.scaled[::-1]
        rgb = frame.to_ndarray(width=sw, height=sh, format="rgb24", interpolation="BICUBIC")
        if self.turns:
            rgb = np.rot90(rgb, self.turns)
        box = rgb[self.y0 : self.y0 + self.height, self.x0 : self.x0 + self.width]
        return np.ascontiguousarray(box)


class _StreamReader:
    """Random access to a video's fitted frames by index, decoding forward and seeking when needed.

    Frames are kept in a least-recently-used store of ``capacity`` frames; a jump backwards (the
    backward half of a ping-pong, or a wrap to the start) seeks to the keyframe before the frame
    ``STREAM_CHUNK`` frames earlier and decodes that chunk in one go.
    """

    def __init__(self, path: Path, index: _VideoIndex, fit: _Fitter, capacity: int) -> None:
        import av

        self.av = av
        self.path = path
        self.container = av.open(str(path))
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        self.index = index
        self.fit = fit
        self.by_pts = {p: i for i, p in enumerate(index.pts)}
        self.capacity = max(2 * STREAM_CHUNK, capacity)
        self.store: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()
        self.next = 0  # index the decoder gives next
        self.frames = self.container.decode(self.stream)
        self.decoded = 0

    def close(self) -> None:
        self.container.close()

    def _seek(self, target: int) -> None:
        self.container.seek(self.index.pts[target], stream=self.stream, backward=True, any_frame=False)
        self.frames = self.container.decode(self.stream)
        self.next = -1  # unknown until a frame arrives

    def _keep(self, i: int, arr: np.ndarray) -> None:
        self.store[i] = arr
        self.store.move_to_end(i)
        while len(self.store) > self.capacity:
            self.store.popitem(last=False)

    def get(self, k: int) -> np.ndarray:
        hit = self.store.get(k)
        if hit is not None:
            self.store.move_to_end(k)
            return hit
        if self.next < 0 or not (self.next <= k < self.next + STREAM_CHUNK):
            start = k if (self.next >= 0 and k > self.next) else max(0, k - STREAM_CHUNK + 1)
            self._seek(start)
            first = start
        else:
            first = self.next
        last_i = -1
        try:
            for frame in self.frames:
                self.decoded += 1
                i = self.by_pts.get(frame.pts) if frame.pts is not None else None
                if i is None:
                    i = last_i + 1 if last_i >= 0 else -1
                if i < 0:
                    continue
                last_i = i
                self.next = i + 1
                if i >= first:
                    self._keep(i, self.fit(frame))
                if i >= k:
                    break
        except self.av.FFmpegError as exc:
            raise RunError(f"video {self.path}: decoding failed near frame {k} ({exc})") from None
        hit = self.store.get(k)
        if hit is None:
            raise RunError(f"video {self.path}: frame {k} of {len(self.index.pts)} could not be decoded")
        return hit


def _decode_needed(path: Path, index: _VideoIndex, fit: _Fitter, needed: set[int]) -> dict[int, np.ndarray]:
    """Decode the video once from the start, keeping the fitted frames whose index is in ``needed``."""
    import av

    out: dict[int, np.ndarray] = {}
    by_pts = {p: i for i, p in enumerate(index.pts)}
    last = max(needed)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            i = -1
            for frame in container.decode(stream):
                j = by_pts.get(frame.pts) if frame.pts is not None else None
                i = j if j is not None else i + 1
                if i in needed and i not in out:
                    out[i] = fit(frame)
                if i >= last:
                    break
    except (av.FFmpegError, OSError) as exc:
        raise RunError(f"video {path}: decoding failed ({exc})") from None
    missing = sorted(needed - set(out))
    if missing:
        raise RunError(f"video {path}: {len(missing)} frames could not be decoded (first: {missing[0]})")
    return out


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
    index = _index_video(path)
    fit = _Fitter(index.width, index.height, request.width, request.height, request.crop_bottom, index.quarter_turns)
    order = source_indices(_frame_times_s(request), index.starts_s, index.duration_s, pingpong=request.pingpong)
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
        store = _decode_needed(path, index, fit, needed)
        for k in order:
            yield store[int(k)]
        return
    reader = _StreamReader(path, index, fit, capacity=budget_frames)
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
    from PIL import Image, ImageOps

    if request.image is None:
        raise InputError(f"segment {request.segment_index}: image mode needs request.image")
    path = Path(request.image)
    try:
        with Image.open(path) as im:
            img = ImageOps.exif_transpose(im).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"image {path} is not a readable image ({exc})") from None
    W, H = request.width, request.height
    zoom = image_zoom(request)
    x0, y0, bw, bh = fit_box(*img.size, W, H, crop_bottom=request.crop_bottom)
    # enough pixels that the deepest zoom still has about one source pixel per output pixel
    k = min(bw / W, float(zoom.max()))
    work = img.resize(
        (max(2, round(W * k)), max(2, round(H * k))), resample=Image.Resampling.LANCZOS,
        box=(x0, y0, x0 + bw, y0 + bh),
    )
    ww, wh = work.size

    def render(i: int) -> np.ndarray:
        cw, ch = ww / zoom[i], wh / zoom[i]
        bx, by = (ww - cw) / 2, (wh - ch) / 2
        box = (float(bx), float(by), float(bx + cw), float(by + ch))
        return np.asarray(work.resize((W, H), resample=Image.Resampling.BILINEAR, box=box))

    yield from _ordered_map(render, request.n_frames, workers=workers or _default_workers())


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
        E.g. from :func:`mvtimeline.pipeline.clip_requests`.
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
        from .cache import image_sha256

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
class LoopBackend:
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
            Anything :func:`mvtimeline.generate.base.check_request` rejects; ``crop_bottom``
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
            _probe_first_frame(p)
            if request.video_sha256 is None:
                raise InputError(
                    f"{where}: video {p} has no video_sha256 (part of the cache key); "
                    "fill it with mvtimeline.generate.loop.with_source"
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
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Make the clip of ``request`` into ``out`` (an .mp4 path, written in place).

        Parameters
        ----------
        request : ClipRequest
            What to make; checked with :meth:`check` first.
        out : Path
            Where to write the MP4.
        progress : callable(done, total), optional
            Frames encoded so far and ``n_frames``.

        Returns
        -------
        dict
            ``mode`` ("video" or "image"), ``crop_bottom``; in video mode ``pingpong`` and the
            source's ``source_frames``, ``source_fps``, ``source_duration_s``, ``source_size``,
            ``in_memory``; in image mode ``zoom_end``; plus the encoder's description (frames,
            size, fps, codec, crf, preset, keyint, bytes) and ``adjusted`` (empty).

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
        meta.update(enc)
        meta["adjusted"] = []
        return meta


def _probe_first_frame(path: Path) -> None:
    """Open a video and decode its first frame, or raise ``InputError`` naming the file."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"video {path} has no video stream")
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                if frame.width < 2 or frame.height < 2:
                    raise InputError(f"video {path} is only {frame.width}x{frame.height} px")
                return
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"video {path} is not a readable video ({exc})") from None
    raise InputError(f"video {path} has no frames")
