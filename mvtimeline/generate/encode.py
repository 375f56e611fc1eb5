"""Frames (RGB arrays) → an H.264 MP4 through PyAV, frame-exact at a rational rate.

Shared by every backend: a backend makes ``uint8`` RGB frames of shape ``(height, width, 3)``
and hands them to :func:`encode_video`, which writes exactly ``n_frames`` frames at ``fps``
(frame ``i`` has pts ``i`` in a time base of ``1/fps``), yuv420p, BT.709 limited range, tagged as
such, no audio. Frames are made on a helper thread while the main thread encodes, so numpy/PIL
work overlaps with libx264.

Public: encode_video, EncodeSettings.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, RunError
from ..progress import Progress, ProgressFn

__all__ = ["encode_video", "EncodeSettings"]


# libavutil enum values (pixfmt.h): AVCOL_PRI_BT709, AVCOL_TRC_BT709, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG
_BT709 = 1
_RANGE_MPEG = 1

_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
)


@dataclass(frozen=True)
class EncodeSettings:
    """libx264 settings of a clip.

    Parameters
    ----------
    crf : int in [0, 51]
        Constant rate factor; lower is better quality and bigger files. 20 looks clean for
        editing without huge files.
    preset : str
        x264 speed preset, one of ``ultrafast`` ... ``veryslow``.
    keyint_s : float > 0
        Seconds between keyframes (the GOP length); short GOPs make scrubbing in an editor fast.
    """

    crf: int = 20
    preset: str = "veryfast"
    keyint_s: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.crf, int) or not 0 <= self.crf <= 51:
            raise InputError(f"crf {self.crf!r} is out of range; use an integer from 0 to 51")
        if self.preset not in _PRESETS:
            raise InputError(f"x264 preset {self.preset!r} is unknown; known: {', '.join(_PRESETS)}")
        if not self.keyint_s > 0:
            raise InputError(f"keyint_s {self.keyint_s!r} must be > 0 seconds")

    def keyint_frames(self, fps: Fraction) -> int:
        """GOP length in frames at ``fps`` (at least 1)."""
        return max(1, round(self.keyint_s * float(fps)))


def encode_video(
    frames: Iterable[np.ndarray],
    out: Path,
    *,
    width: int,
    height: int,
    fps: Fraction,
    n_frames: int,
    settings: EncodeSettings | None = None,
    scale: bool = False,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Encode RGB frames into an H.264 yuv420p MP4 with exactly ``n_frames`` frames.

    Parameters
    ----------
    frames : iterable of ndarray, uint8, shape (height, width, 3)
        RGB frames in display order (any size with ``scale=True``); it must yield at least
        ``n_frames`` of them (extra ones are not read). Iterated on a helper thread.
    out : Path
        The MP4 to write (its folder must exist). Written in place: callers that need atomicity
        pass a temp path (see :func:`mvtimeline.fileio.atomic_path`).
    width, height : int, even, > 0
        Frame size in pixels.
    fps : Fraction > 0
        Exact frame rate, e.g. ``Fraction(30000, 1001)``; the stream time base is ``1/fps``.
    n_frames : int > 0
        Frames to write.
    settings : EncodeSettings, optional
        crf, preset and keyframe spacing; defaults to ``EncodeSettings()``.
    scale : bool, default False
        Accept frames of any size and scale them to ``width`` x ``height`` (bicubic, in
        libswscale, together with the RGB → YUV conversion). Smooth procedural content can be
        drawn on a coarse grid this way at little cost. Without it a frame of another size is an
        error.
    progress : ProgressFn, optional
        Receives ``Progress("clip", done, n_frames)`` after each frame is handed to the encoder.

    Returns
    -------
    dict
        ``frames``, ``width``, ``height``, ``fps`` ("num/den"), ``codec``, ``pix_fmt``,
        ``color`` ("bt709-tv"), ``crf``, ``preset``, ``keyint`` (frames), ``bytes``.

    Raises
    ------
    RunError
        The frame source ended early or gave a frame of the wrong shape, or the encoder failed.
    """
    import av  # PyAV: a core dependency, imported here to keep `import mvtimeline` light
    from av.video.reformatter import VideoReformatter

    settings = settings or EncodeSettings()
    fps = Fraction(fps)
    keyint = settings.keyint_frames(fps)
    out = Path(out)
    done = 0
    try:
        container = av.open(str(out), mode="w", format="mp4", options={"movflags": "+faststart"})
    except (av.FFmpegError, OSError) as exc:
        raise RunError(f"{out}: cannot open for writing ({exc})") from None
    try:
        stream = container.add_stream(
            "libx264",
            rate=fps,
            options={"crf": str(settings.crf), "preset": settings.preset, "sc_threshold": "0"},
        )
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        frame_tb = Fraction(fps.denominator, fps.numerator)  # the muxer may change stream.time_base
        stream.time_base = frame_tb
        ctx = stream.codec_context
        ctx.time_base = frame_tb
        ctx.gop_size = keyint
        # PyAV defaults to slice threads; x264's frame threads (what the ffmpeg CLI uses) are
        # faster and compress better
        ctx.thread_type = "AUTO"
        ctx.thread_count = 0
        ctx.framerate = fps
        ctx.color_primaries = _BT709
        ctx.color_trc = _BT709
        ctx.colorspace = _BT709
        ctx.color_range = _RANGE_MPEG
        reformatter = VideoReformatter()  # keeps its swscale context from frame to frame
        sws_threads = 0 if width * height >= 640 * 360 else 1  # threads only pay off on big frames
        for arr in _prefetch(frames, n_frames):
            if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or (
                not scale and arr.shape[:2] != (height, width)
            ):
                raise RunError(
                    f"{out}: frame {done} has shape {arr.shape} {arr.dtype}; "
                    f"expected ({height}, {width}, 3) uint8"
                )
            rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            frame = reformatter.reformat(
                rgb,
                width=width,
                height=height,
                format="yuv420p",
                dst_colorspace="ITU709",
                dst_color_range="MPEG",
                interpolation="BICUBIC",
                threads=sws_threads,
            )
            frame.pts = done
            frame.time_base = frame_tb
            for packet in stream.encode(frame):
                container.mux(packet)
            done += 1
            if progress is not None:
                progress(Progress("clip", done, n_frames))
        if done < n_frames:
            raise RunError(f"{out}: the frame source ended after {done} of {n_frames} frames")
        for packet in stream.encode(None):
            container.mux(packet)
    except av.FFmpegError as exc:
        raise RunError(f"{out}: encoding failed at frame {done} ({exc})") from None
    finally:
        try:
            container.close()
        except av.FFmpegError as exc:  # pragma: no cover - only on a full disk and the like
            raise RunError(f"{out}: cannot finish the file ({exc})") from None
    return {
        "frames": done,
        "width": width,
        "height": height,
        "fps": f"{fps.numerator}/{fps.denominator}",
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "color": "bt709-tv",
        "crf": settings.crf,
        "preset": settings.preset,
        "keyint": keyint,
        "bytes": out.stat().st_size,
    }


_DONE = object()


def _prefetch(frames: Iterable[np.ndarray], limit: int, depth: int = 4) -> Iterator[np.ndarray]:
    """Iterate ``frames`` (at most ``limit``) on a helper thread, ``depth`` frames ahead.

    An exception in the source is re-raised in the consumer; if the consumer stops early the
    helper thread is told to stop and joined.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        it: Iterator[np.ndarray] | None = None
        try:
            it = iter(frames)
            for _ in range(limit):
                try:
                    item = next(it)
                except StopIteration:
                    break
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(_Failure(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # let a generator source release its threads and files now

    thread = threading.Thread(target=work, name="mvtimeline-frames", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join()


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
