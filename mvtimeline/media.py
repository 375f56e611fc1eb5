"""Reading pictures and videos: one place for image fitting and video decoding.

Shared by the procedural, loop and diffusers backends, the storyboard and clip import:

- :func:`open_image`, :func:`check_image` — a still as upright RGB, or a one-line error;
- :func:`fit_box`, :func:`fit_image` — the part of a picture that fills an output size (bottom
  strip removed, centred, no borders) and the still resampled to it;
- :func:`index_video`, :class:`VideoIndex` — every frame's presentation time, from the packets;
- :class:`FrameFitter`, :func:`decode_frames`, :class:`StreamReader` — decoded frames fitted to
  an output size, all at once or with random access;
- :func:`probe_video`, :func:`probe_first_frame` — what a file holds, counted by decoding;
- :func:`frame_at`, :func:`last_frame_png` — one frame by time, the last frame as a PNG;
- :func:`ordered_map`, :func:`default_workers` — frames made in order by a few threads;
- :func:`load_font` — text on pictures (storyboard, alignment plot; times are written by
  :func:`mvtimeline.timecode.format_time`);
- :func:`blank_ends` — black, flat or frozen stretches at a video's head and tail.

Public: blank_ends, open_image, check_image, fit_box, fit_image, VideoIndex, index_video, FrameFitter,
decode_frames, StreamReader, probe_video, probe_first_frame, frame_at, last_frame_png, ordered_map,
default_workers, STREAM_CHUNK, load_font.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, RunError

__all__ = [
    "open_image",
    "check_image",
    "fit_box",
    "fit_image",
    "VideoIndex",
    "index_video",
    "FrameFitter",
    "decode_frames",
    "blank_ends",
    "StreamReader",
    "probe_video",
    "probe_first_frame",
    "frame_at",
    "last_frame_png",
    "ordered_map",
    "default_workers",
    "STREAM_CHUNK",
    "load_font",
]

STREAM_CHUNK = 48  # streaming: frames decoded per backward seek (e.g. the backward half of a ping-pong)


# ------------------------------------------------------------------------------------------- stills
def open_image(path: str | Path, *, where: str = "") -> Any:
    """A still as an upright (EXIF orientation applied) RGB PIL image.

    Raises
    ------
    InputError
        The file cannot be read as an image (the message names ``where`` and the file).
    """
    from PIL import Image, ImageOps

    prefix = f"{where}: " if where else ""
    try:
        with Image.open(path) as im:
            return ImageOps.exif_transpose(im).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{prefix}image {path} is not a readable image ({exc})") from None


def check_image(path: str | Path, *, where: str, decode: bool = False) -> None:
    """Check that ``path`` is an image PIL can read, at least 2x2 px.

    Parameters
    ----------
    path : str or Path
        The image.
    where : str
        What the image is for, to start the message (e.g. ``"segment 3"``, ``"--image"``).
    decode : bool, default False
        Decode the pixels too (a truncated or corrupt file is found; a JPEG is decoded at a
        reduced size, so a big one takes a fraction of a second); else only the header is read.

    Raises
    ------
    InputError
        Naming ``where``, the file and what is wrong.
    """
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            if decode:
                im.draft("RGB", (max(2, w // 8), max(2, h // 8)))
                im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InputError(f"{where}: image {path} is not a readable image ({exc})") from None
    if w < 2 or h < 2:
        raise InputError(f"{where}: image {path} is only {w}x{h} px")


# --------------------------------------------------------------------------------------- geometry
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


def fit_image(img: Any, width: int, height: int, *, crop_bottom: float = 0.0, max_scale: float | None = None) -> Any:
    """The part of a still that fills ``width`` x ``height`` (:func:`fit_box`), resampled (Lanczos).

    Parameters
    ----------
    img : PIL.Image.Image
        The still (RGB).
    width, height : int > 0
        Output size in pixels.
    crop_bottom : float in [0, 0.5)
        Fraction of the still's height cut off its bottom first.
    max_scale : float > 0, optional
        None: exactly ``width`` x ``height``. Else the result has ``k`` times that size, with
        ``k = min(box width / width, max_scale)``: enough pixels for a zoom of ``max_scale`` to
        keep about one source pixel per output pixel, never more than the source has.

    Returns
    -------
    PIL.Image.Image
    """
    from PIL import Image

    x0, y0, bw, bh = fit_box(img.width, img.height, width, height, crop_bottom=crop_bottom)
    if max_scale is None:
        size = (width, height)
    else:
        k = min(bw / width, max_scale)
        size = (max(2, round(width * k)), max(2, round(height * k)))
    return img.resize(size, resample=Image.Resampling.LANCZOS, box=(x0, y0, x0 + bw, y0 + bh))


# ------------------------------------------------------------------------------------------- videos
@dataclass(frozen=True)
class VideoIndex:
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


def index_video(path: Path) -> VideoIndex:
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
    return VideoIndex(
        pts=tuple(pts), starts_s=starts, duration_s=float(starts[-1] + last), width=width, height=height,
        fps=(len(steps) / float(starts[-1])) if len(steps) and starts[-1] > 0 else rate, quarter_turns=turns,
    )


class FrameFitter:
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


class StreamReader:
    """Random access to a video's fitted frames by index, decoding forward and seeking when needed.

    Frames are kept in a least-recently-used store of ``capacity`` frames; a jump backwards (the
    backward half of a ping-pong, or a wrap to the start) seeks to the keyframe before the frame
    ``STREAM_CHUNK`` frames earlier and decodes that chunk in one go.
    """

    def __init__(self, path: Path, index: VideoIndex, fit: FrameFitter, capacity: int) -> None:
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


def decode_frames(path: Path, index: VideoIndex, fit: FrameFitter, needed: set[int]) -> dict[int, np.ndarray]:
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


def probe_video(path: Path) -> dict[str, Any]:
    """Decode a video file and describe it: frames counted by decoding, size, rate, duration.

    Parameters
    ----------
    path : Path
        A video file PyAV can read.

    Returns
    -------
    dict
        ``frames`` (int, counted by decoding every frame), ``width``, ``height`` (pixels),
        ``fps`` (Fraction, the stream's average rate), ``duration_s`` (float, last pts + 1 frame),
        ``codec`` and ``pix_fmt``.

    Raises
    ------
    InputError
        The file cannot be opened or decoded.
    """
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            n = 0
            last_pts = None
            for frame in container.decode(stream):
                n += 1
                last_pts = frame.pts
            fps = Fraction(stream.average_rate) if stream.average_rate else Fraction(0)
            tb = stream.time_base
            duration_s = float(last_pts * tb + 1 / fps) if (last_pts is not None and fps) else 0.0
            return {
                "frames": n,
                "width": stream.codec_context.width,
                "height": stream.codec_context.height,
                "fps": fps,
                "duration_s": duration_s,
                "codec": stream.codec_context.name,
                "pix_fmt": stream.codec_context.pix_fmt,
            }
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise InputError(f"{path}: not a readable video ({exc})") from None


def probe_first_frame(path: Path) -> None:
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


def frame_at(clip: Path, t_s: float, *, fps: Fraction, width: int | None = None) -> np.ndarray:
    """The RGB frame of a video shown at ``t_s`` seconds from its first frame.

    Parameters
    ----------
    clip : Path
        The video.
    t_s : float >= 0
        Seconds from the first frame.
    fps : Fraction > 0
        The video's frame rate (the frame within half a frame of ``t_s`` is taken).
    width : int > 0, optional
        Scale the frame to this width (height in proportion); default: as stored.

    Returns
    -------
    ndarray, uint8, shape (h, w, 3)

    Raises
    ------
    InputError
        The video is missing or cannot be decoded.
    """
    import av

    half_frame_s = 0.5 / float(fps)
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            tb = stream.time_base
            container.seek(max(0, int(t_s / tb)), stream=stream, backward=True, any_frame=False)
            best = None
            for frame in container.decode(stream):
                best = frame
                if frame.pts is not None and float(frame.pts * tb) >= t_s - half_frame_s:
                    break
            if best is None:
                raise InputError(f"{clip}: the video has no frames")
            kwargs: dict[str, Any] = {"format": "rgb24"}
            if width:
                kwargs.update(width=width, height=max(2, round(best.height * width / best.width)))
            return best.to_ndarray(**kwargs)
    except (av.FFmpegError, OSError, IndexError) as exc:
        raise InputError(f"{clip}: cannot read the video ({exc})") from None


def last_frame_png(mp4: Path, out: Path) -> Path:
    """Decode the last frame of ``mp4`` and write it as an RGB PNG at ``out`` (atomically)."""
    import av
    from PIL import Image

    from .fileio import atomic_path

    last = None
    try:
        with av.open(str(mp4)) as container:
            for frame in container.decode(video=0):
                last = frame
    except (av.FFmpegError, OSError) as exc:
        raise RunError(f"{mp4}: cannot read its last frame ({exc})") from None
    if last is None:
        raise RunError(f"{mp4}: has no frames")
    with atomic_path(Path(out)) as tmp:
        Image.fromarray(last.to_ndarray(format="rgb24")).save(tmp, format="PNG")
    return Path(out)


# ------------------------------------------------------------------------------------------ threads
def default_workers() -> int:
    return max(1, min(6, (os.cpu_count() or 2) // 2))


def ordered_map(fn: Callable[[int], np.ndarray], n: int, *, workers: int) -> Iterator[np.ndarray]:
    """``fn(0) ... fn(n - 1)`` in order, computed by ``workers`` threads a few items ahead."""
    if workers <= 1:
        for i in range(n):
            yield fn(i)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mvtimeline-kenburns") as pool:
        pending: collections.deque[Any] = collections.deque()
        next_i = 0
        try:
            while next_i < n or pending:
                while next_i < n and len(pending) < 2 * workers:
                    pending.append(pool.submit(fn, next_i))
                    next_i += 1
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()


# ---------------------------------------------------------------------------------- drawing helpers
_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
_BOLD_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/Library/Fonts/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)


def load_font(size: int, *, bold: bool = False) -> Any:
    """A PIL font of ``size`` px: DejaVu Sans (or the system's Arial), else PIL's default."""
    from PIL import ImageFont

    for path in _BOLD_FONTS if bold else _FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def blank_ends(path: Path, *, black_luma: float = 20.0, flat_std: float = 2.5, frozen_diff: float = 0.4
               ) -> tuple[float, float, VideoIndex]:
    """Seconds of blank picture at a video's head and tail: black or flat (one colour) frames at
    either end, and a frozen tail (frames that no longer change) after a picture that moved.

    Each frame is looked at as a 32x18 grey thumbnail: black when its mean luma is under
    ``black_luma``, flat when its spread is under ``flat_std``, frozen when it differs from the
    frame before by less than ``frozen_diff`` on average (0..255).

    Returns
    -------
    (head_s, tail_s, VideoIndex)
        The trims (the head ends at the first frame kept, the tail starts after the last one) and
        the video's frame index.

    Raises
    ------
    InputError
        Not a readable video, or no frame that is not blank.
    """
    import av

    index = index_video(path)
    stats = []
    prev = None
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                g = frame.to_ndarray(width=32, height=18, format="gray").astype(np.float32)
                diff = float(np.abs(g - prev).mean()) if prev is not None else 255.0
                stats.append((float(g.mean()), float(g.std()), diff))
                prev = g
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"video {path} cannot be decoded ({exc})") from None
    n = min(len(stats), len(index.pts))
    if n == 0:
        raise InputError(f"video {path} has no frames")
    blank = [m < black_luma or sd < flat_std for m, sd, _ in stats[:n]]
    first = next((i for i in range(n) if not blank[i]), None)
    if first is None:
        raise InputError(f"video {path} is blank from start to end (black or one colour)")
    last = max(i for i in range(n) if not blank[i])
    moving = [i for i in range(first + 1, last + 1) if stats[i][2] >= frozen_diff]
    if moving and moving[-1] < last and (last - moving[-1]) >= 2:
        last = moving[-1]  # frozen after the last change: keep that frame, drop the copies
    starts = index.starts_s
    step = float(np.median(np.diff(starts))) if n > 1 else 1.0 / max(index.fps, 1.0)
    head_s = float(starts[first])
    tail_s = max(0.0, index.duration_s - float(starts[last]) - step)
    return head_s, tail_s, index
