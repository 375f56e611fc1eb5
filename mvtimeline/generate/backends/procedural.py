"""The procedural backend: clips made without a model, from the user's still or from nothing.

Two modes, chosen by ``request.image``:

- **image** (a user still): a Ken Burns move over the image, cover-fitted to the output size. The
  move (zoom in/out, pan left/right/up/down) comes from ``seed`` and ``segment_index``
  (:func:`camera_move`), its speed is proportional to ``tempo_bpm``, and every downbeat gives a
  small zoom pulse that decays within about 0.2 s (:func:`camera_path`).
- **abstract** (no image): soft moving gradients and light blobs seeded by ``seed``, in a base hue
  per ``section_index`` (:func:`section_hue`), with brightness following ``loudness`` frame by
  frame and a small lift on downbeats (:func:`abstract_frames`). The pattern is drawn on a coarse
  grid (matrix products of separable terms) and scaled up by the encoder (libswscale), so
  1920x1080 costs about as little as 640x360.

Frames go to :func:`mvtimeline.generate.encode.encode_video` (H.264, yuv420p, exact frame count).

Public: ProceduralBackend, camera_move, camera_path, CameraPath, section_hue, abstract_frames,
image_frames, MOVES.
"""

from __future__ import annotations

import colorsys
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mvtimeline.errors import InputError
from mvtimeline.progress import ProgressFn
from mvtimeline.types import ClipRequest, GeneratedClip
from mvtimeline.media import check_image, default_workers, fit_image, open_image, ordered_map
from .base import BackendBase, check_request
from ..encode import EncodeSettings, encode_video

__all__ = [
    "ProceduralBackend",
    "camera_move",
    "camera_path",
    "CameraPath",
    "section_hue",
    "abstract_frames",
    "image_frames",
    "MOVES",
]

log = logging.getLogger(__name__)

#: Camera moves of the image mode, in the order :func:`camera_move` draws from.
MOVES: tuple[str, ...] = ("zoom_in", "zoom_out", "pan_left", "pan_right", "pan_up", "pan_down")

REF_BPM = 120.0  # tempo at which the rates below apply; speed scales with tempo_bpm / REF_BPM
ZOOM_RATE_PER_S = 0.04  # zoom factor gained per second at REF_BPM (1.00 → 1.04 in one second)
PAN_RATE_PER_S = 0.03  # fraction of the image width (or height) travelled per second at REF_BPM
MAX_ZOOM_CHANGE = 0.35  # cap on the zoom change over one clip
MAX_PAN = 0.30  # cap on the travel over one clip, as a fraction of the image
PULSE_ZOOM = 0.03  # zoom pulse on a downbeat: +3 %
PULSE_DECAY_S = 0.05  # its time constant: e^(-0.2 / 0.05) < 2 % left after 0.2 s
GRID_MAX_WIDTH = 256  # abstract mode: pattern grid width in pixels before the encoder scales up
DEFAULT_LOUDNESS = 0.6  # abstract mode: level when the request has no loudness curve


# ------------------------------------------------------------------------------------------ helpers
def _rng(request: ClipRequest, stream: int) -> np.random.Generator:
    """A generator determined by the seed, the segment and a stream number (one per use)."""
    seed = request.seed & 0xFFFFFFFFFFFFFFFF
    return np.random.default_rng([seed, request.segment_index & 0xFFFFFFFF, stream])


def _tempo_factor(tempo_bpm: float) -> float:
    """Speed multiplier: ``tempo_bpm / 120`` clipped to tempos 40..240; 0 (unknown) counts as 120."""
    if not tempo_bpm or tempo_bpm <= 0:
        return 1.0
    return float(np.clip(tempo_bpm, 40.0, 240.0)) / REF_BPM


def _frame_times_s(request: ClipRequest) -> np.ndarray:
    """Seconds from clip frame 0 to each frame, computed from the exact rate (no running sum)."""
    return np.arange(request.n_frames, dtype=np.float64) * (request.fps.denominator / request.fps.numerator)


def _pulse_envelope(t_s: np.ndarray, downbeats_s: tuple[float, ...]) -> np.ndarray:
    """Per-frame pulse in 0..1: 1 at a downbeat, decaying as ``exp(-dt / PULSE_DECAY_S)``."""
    if not downbeats_s:
        return np.zeros_like(t_s)
    d = np.asarray(downbeats_s, dtype=np.float64)
    dt = t_s[:, None] - d[None, :]
    env = np.where(dt >= 0, np.exp(-np.maximum(dt, 0) / PULSE_DECAY_S), 0.0)
    return env.max(axis=1)


def _loudness_per_frame(request: ClipRequest, adjusted: list[str]) -> np.ndarray:
    """``request.loudness`` as one value in 0..1 per frame.

    Empty → a constant ``DEFAULT_LOUDNESS``. Another length than ``n_frames`` is resampled
    linearly, logged as a warning and noted in ``adjusted``.
    """
    n = request.n_frames
    if not request.loudness:
        return np.full(n, DEFAULT_LOUDNESS)
    values = np.clip(np.asarray(request.loudness, dtype=np.float64), 0.0, 1.0)
    if len(values) != n:
        note = f"loudness: {len(values)} values resampled to {n} frames"
        log.warning("segment %d: %s", request.segment_index, note)
        adjusted.append(note)
        src = np.linspace(0.0, 1.0, len(values)) if len(values) > 1 else np.zeros(1)
        values = np.interp(np.linspace(0.0, 1.0, n), src, values)
    return values


# ------------------------------------------------------------------------------------- image mode
def camera_move(*, seed: int, segment_index: int) -> str:
    """The camera move of a segment in image mode, one of :data:`MOVES`.

    Parameters
    ----------
    seed : int
        The segment's seed.
    segment_index : int >= 0
        The segment's index in the plan.

    Returns
    -------
    str
        ``zoom_in``, ``zoom_out``, ``pan_left``, ``pan_right``, ``pan_up`` or ``pan_down``; the
        same seed and segment always give the same move.

    Examples
    --------
    >>> camera_move(seed=7, segment_index=2) == camera_move(seed=7, segment_index=2)
    True
    >>> camera_move(seed=7, segment_index=2) in MOVES
    True
    """
    rng = np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, segment_index & 0xFFFFFFFF, 1])
    return MOVES[int(rng.integers(len(MOVES)))]


@dataclass(frozen=True)
class CameraPath:
    """The view over the (cover-fitted) image for every frame of a clip.

    ``zoom`` is >= 1 (1 shows the whole cover-fitted image, 2 shows half its width);
    ``center_x``/``center_y`` are the view centre as fractions of the image width/height (0..1);
    ``pulse`` is the downbeat envelope in 0..1 that was multiplied into the zoom.
    """

    move: str
    zoom: np.ndarray
    center_x: np.ndarray
    center_y: np.ndarray
    pulse: np.ndarray


def camera_path(request: ClipRequest) -> CameraPath:
    """Zoom and view centre per frame of an image-mode clip.

    The move is :func:`camera_move`. Zooms gain ``ZOOM_RATE_PER_S`` per second and pans travel
    ``PAN_RATE_PER_S`` of the image per second, both times ``tempo_bpm / 120`` (tempo clipped to
    40..240 BPM, 0 meaning 120), capped at ``MAX_ZOOM_CHANGE`` / ``MAX_PAN`` over the clip. A zoom
    keeps a seeded focus point fixed on screen; a pan zooms in just enough to have room to travel.
    Each downbeat in ``request.downbeats_s`` (seconds from frame 0) multiplies the zoom by up to
    ``1 + PULSE_ZOOM``, decaying with time constant ``PULSE_DECAY_S``.

    Parameters
    ----------
    request : ClipRequest
        Uses ``seed``, ``segment_index``, ``n_frames``, ``fps``, ``tempo_bpm``, ``downbeats_s``.

    Returns
    -------
    CameraPath
        Arrays of length ``n_frames``.
    """
    move = camera_move(seed=request.seed, segment_index=request.segment_index)
    t = _frame_times_s(request)
    dur_s = request.n_frames / float(request.fps)
    speed = _tempo_factor(request.tempo_bpm)
    pulse = _pulse_envelope(t, request.downbeats_s)
    bump = 1.0 + PULSE_ZOOM * pulse
    rng = _rng(request, 2)
    if move in ("zoom_in", "zoom_out"):
        fx, fy = 0.5 + rng.uniform(-0.12, 0.12, size=2)
        rate = min(ZOOM_RATE_PER_S * speed, MAX_ZOOM_CHANGE / dur_s)
        base = 1.0 + rate * (t if move == "zoom_in" else (dur_s - t))
        zoom = base * bump
        # zoom about the focus point: it stays where it is on screen
        cx = fx + (0.5 - fx) / zoom
        cy = fy + (0.5 - fy) / zoom
    else:
        rate = min(PAN_RATE_PER_S * speed, MAX_PAN / dur_s)
        travel = rate * dur_s
        zoom = np.full_like(t, 1.02 / (1.0 - travel)) * bump
        along = 0.5 + rate * (t - dur_s / 2)  # centre moving towards larger x (or y)
        if move in ("pan_left", "pan_up"):
            along = 1.0 - along
        across = np.full_like(t, 0.5 + rng.uniform(-0.5, 0.5) * (1.0 - 1.02 / zoom[0]))
        cx, cy = (along, across) if move in ("pan_left", "pan_right") else (across, along)
    half = 0.5 / zoom
    cx = np.clip(cx, half, 1.0 - half)
    cy = np.clip(cy, half, 1.0 - half)
    return CameraPath(move=move, zoom=zoom, center_x=cx, center_y=cy, pulse=pulse)


def image_frames(
    request: ClipRequest, *, path: CameraPath | None = None, workers: int | None = None
) -> Iterator[np.ndarray]:
    """RGB frames of the Ken Burns move over ``request.image``.

    Parameters
    ----------
    request : ClipRequest
        With ``image`` set to a readable still; ``crop_bottom`` of its height is cut off its
        bottom before it is fitted.
    path : CameraPath, optional
        The view per frame; defaults to :func:`camera_path` of the request.
    workers : int >= 1, optional
        Threads resampling frames; defaults to half the CPU cores (1..6).

    Yields
    ------
    ndarray, uint8, shape (height, width, 3)
        ``n_frames`` frames.

    Raises
    ------
    InputError
        The image cannot be read.
    """
    from PIL import Image

    if request.image is None:
        raise InputError(f"segment {request.segment_index}: image mode needs request.image")
    cam = path or camera_path(request)
    W, H = request.width, request.height
    # the still cropped to the output aspect (centred), with about one source pixel per output
    # pixel at the deepest zoom (never enlarged beyond the source)
    work = fit_image(open_image(request.image, where=f"segment {request.segment_index}"), W, H,
                     crop_bottom=request.crop_bottom, max_scale=float(cam.zoom.max()))
    ww, wh = work.size

    def render(i: int) -> np.ndarray:
        bw, bh = ww / cam.zoom[i], wh / cam.zoom[i]
        x0 = cam.center_x[i] * ww - bw / 2
        y0 = cam.center_y[i] * wh - bh / 2
        box = (float(x0), float(y0), float(x0 + bw), float(y0 + bh))
        return np.asarray(work.resize((W, H), resample=Image.Resampling.BILINEAR, box=box))

    # PIL releases the GIL while resampling, so a few threads scale with the cores
    yield from ordered_map(render, request.n_frames, workers=workers or default_workers())


# ---------------------------------------------------------------------------------- abstract mode
def section_hue(section_index: int) -> float:
    """Base hue (0..1 on the colour wheel) of a section in abstract mode.

    Successive sections step by the golden angle (0.382 of a turn), so neighbours are far apart
    and the same section index always has the same hue.

    Examples
    --------
    >>> round(section_hue(0), 3), round(section_hue(1), 3)
    (0.58, 0.962)
    """
    return (0.58 + 0.381966 * section_index) % 1.0


def abstract_frames(
    request: ClipRequest, *, full_size: bool = False, adjusted: list[str] | None = None
) -> Iterator[np.ndarray]:
    """RGB frames of the abstract audio-reactive visuals.

    Colour: a mix of the section's hue (:func:`section_hue`) and a seeded neighbour hue, driven by
    three slow plane waves; light: four soft blobs on slow Lissajous paths. Brightness is
    ``0.1 + 0.9 * loudness`` per frame (plus a small lift on downbeats), so louder frames are
    brighter. Motion speed scales with ``tempo_bpm / 120``.

    Parameters
    ----------
    request : ClipRequest
        Uses ``seed``, ``segment_index``, ``section_index``, size, ``fps``, ``n_frames``,
        ``tempo_bpm``, ``loudness`` (one value per frame, 0..1; other lengths are resampled)
        and ``downbeats_s``.
    full_size : bool, default False
        Scale each frame up to ``width`` x ``height`` here (PIL, bilinear; slow at HD). By
        default frames come at the pattern grid size (at most ``GRID_MAX_WIDTH`` px wide, same
        aspect) and the encoder scales them (``encode_video(..., scale=True)``), which is much
        cheaper.
    adjusted : list of str, optional
        Receives a note for each value that had to be adjusted.

    Yields
    ------
    ndarray, uint8, shape (grid_height, grid_width, 3) or (height, width, 3)
        ``n_frames`` frames.
    """
    from PIL import Image

    W, H = request.width, request.height
    gw = min(W, GRID_MAX_WIDTH)
    gh = max(2, round(H * gw / W))
    scale_up = full_size and (gw, gh) != (W, H)
    aspect = W / H
    x = np.linspace(0.0, aspect, gw, dtype=np.float32)[None, :]
    y = np.linspace(0.0, 1.0, gh, dtype=np.float32)[:, None]

    rng = _rng(request, 3)
    speed = _tempo_factor(request.tempo_bpm)
    t_all = _frame_times_s(request)
    loud = _loudness_per_frame(request, adjusted if adjusted is not None else [])
    pulse = _pulse_envelope(t_all, request.downbeats_s)

    hue = (section_hue(request.section_index) + rng.uniform(-0.02, 0.02)) % 1.0
    hue2 = (hue + rng.choice([-1.0, 1.0]) * rng.uniform(0.06, 0.13)) % 1.0
    c1 = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.7, 0.9), 1.0), dtype=np.float32)
    c2 = np.array(colorsys.hsv_to_rgb(hue2, rng.uniform(0.55, 0.85), 1.0), dtype=np.float32)
    dc = c2 - c1

    # plane waves sin(kx x + ky y + phase(t)) = sin(kx x + phase) cos(ky y) + cos(kx x + phase) sin(ky y)
    n_waves = 3
    freq = rng.uniform(0.5, 1.4, n_waves) * 2 * math.pi
    theta = rng.uniform(0, 2 * math.pi, n_waves)
    kx, ky = freq * np.cos(theta), freq * np.sin(theta)
    omega = rng.uniform(0.15, 0.45, n_waves) * speed  # rad/s
    phase0 = rng.uniform(0, 2 * math.pi, n_waves)
    # the sum of the waves is the matrix product ywave (gh, 2K) @ xwave(t) (2K, gw). The products
    # are einsum's own loops, not BLAS: BLAS rounds differently with its thread count and memory
    # alignment, and a clip must be the same bytes wherever it is made (a Ray worker runs BLAS on
    # one thread). _matmul note: the matrices are small (coarse grid, K <= 8), so this costs little.
    ywave = np.concatenate([np.cos(ky[None, :] * y), np.sin(ky[None, :] * y)], axis=1).astype(np.float32)
    xs = x[0].astype(np.float64)

    # light blobs: separable Gaussians exp(-(x-cx)^2/r^2) * exp(-(y-cy)^2/r^2), summed as
    # yblob (gh, B) @ xblob (B, gw)
    n_blobs = 4
    bx0 = rng.uniform(0.2, 0.8, n_blobs) * aspect
    by0 = rng.uniform(0.2, 0.8, n_blobs)
    bax = rng.uniform(0.1, 0.35, n_blobs) * aspect
    bay = rng.uniform(0.1, 0.3, n_blobs)
    bwx = rng.uniform(0.05, 0.14, n_blobs) * 2 * math.pi * speed  # rad/s
    bwy = rng.uniform(0.05, 0.14, n_blobs) * 2 * math.pi * speed
    bph = rng.uniform(0, 2 * math.pi, (2, n_blobs))
    brad = rng.uniform(0.18, 0.4, n_blobs)
    bamp = rng.uniform(0.5, 1.0, n_blobs)
    ys = y[:, 0].astype(np.float64)

    dcf = (dc * np.float32(0.5 / n_waves)).astype(np.float32)  # colour change per unit of wave sum
    base = (c1 + 0.5 * dc).astype(np.float32)  # colour at wave sum 0
    for i in range(request.n_frames):
        t = float(t_all[i])
        arg = kx[:, None] * xs[None, :] + (phase0 + omega * t)[:, None]  # (K, gw)
        xwave = np.concatenate([np.sin(arg), np.cos(arg)], axis=0).astype(np.float32)
        wave = np.einsum("ik,kj->ij", ywave, xwave)  # (gh, gw), in -K..K; not BLAS: see _matmul note

        grow = 1.0 + 0.25 * pulse[i]
        cx = bx0 + bax * np.sin(bwx * t + bph[0])
        cy = by0 + bay * np.sin(bwy * t + bph[1])
        r2 = (brad * grow) ** 2
        xblob = (np.exp(-((xs[None, :] - cx[:, None]) ** 2) / r2[:, None]) * bamp[:, None]).astype(np.float32)
        yblob = np.exp(-((ys[:, None] - cy[None, :]) ** 2) / r2[None, :]).astype(np.float32)
        blobs = np.einsum("ik,kj->ij", yblob, xblob)
        np.clip(blobs, 0.0, 1.0, out=blobs)

        level = 0.1 + 0.9 * loud[i] + 0.08 * pulse[i]
        # colour * shade + glow, in 0..255 (+0.5 so that the uint8 cast rounds); all terms >= 0
        shade = blobs * np.float32(0.7 * 255 * level) + np.float32(0.3 * 255 * level)
        glow = blobs * blobs * np.float32(0.25 * 255 * level) + np.float32(0.5)
        rgb = wave[..., None] * dcf  # (gh, gw, 3)
        rgb += base
        rgb *= shade[..., None]
        rgb += glow[..., None]
        np.minimum(rgb, np.float32(255.0), out=rgb)
        small = rgb.astype(np.uint8)
        if scale_up:
            yield np.asarray(Image.fromarray(small).resize((W, H), resample=Image.Resampling.BILINEAR))
        else:
            yield small


# ---------------------------------------------------------------------------------------- backend
class ProceduralBackend(BackendBase):
    """Clips without a model: Ken Burns over a still, or abstract audio-reactive visuals.

    Parameters
    ----------
    crf : int in [0, 51], default 20
        x264 constant rate factor.
    preset : str, default ``"veryfast"``
        x264 preset.
    keyint_s : float > 0, default 1.0
        Seconds between keyframes.

    Notes
    -----
    Non-default encoder settings are part of :attr:`version`, so they change the cache key.
    ``max_seconds`` is a planning hint (segments longer than it are split by the planner); this
    backend itself can make clips of any length. ``clip_seconds`` is a video model's (Wan 2.x:
    81 frames at 16 fps), so a plan made with it previews the clips a model run makes.
    """

    name = "procedural"
    model_id = ""
    max_seconds = 20.0
    clip_seconds = 5.0
    VERSION = "1"

    def __init__(self, *, crf: int = 20, preset: str = "veryfast", keyint_s: float = 1.0) -> None:
        self.settings = EncodeSettings(crf=crf, preset=preset, keyint_s=keyint_s)
        if self.settings == EncodeSettings():
            self.version = self.VERSION
        else:
            self.version = f"{self.VERSION}+crf{crf}-{preset}-k{keyint_s:g}"

    def __repr__(self) -> str:
        return f"ProceduralBackend(version={self.version!r})"

    def check(self, request: ClipRequest) -> None:
        """Check a request before any work starts.

        Raises
        ------
        InputError
            Anything :func:`mvtimeline.generate.backends.base.check_request` rejects, a ``crop_bottom``
            outside [0, 0.5), or an image PIL cannot identify.
        """
        check_request(request)
        crop = request.crop_bottom
        if not isinstance(crop, (int, float)) or not math.isfinite(crop) or not 0.0 <= crop < 0.5:
            raise InputError(
                f"segment {request.segment_index}: crop_bottom {crop!r} must be a fraction of the height "
                "in [0, 0.5), e.g. 0.1 to remove the bottom tenth"
            )
        if request.image is not None:
            check_image(request.image, where=f"segment {request.segment_index}")

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
            Its ``details``: ``mode`` ("image" or "abstract"), ``move`` (image mode) and the
            encoder's description (size, fps, codec, crf, preset, keyint, bytes); ``adjusted``:
            notes on adjusted values (may be empty).

        Raises
        ------
        InputError
            A bad request or unreadable image.
        RunError
            The encoder failed.
        """
        self.check(request)
        adjusted: list[str] = []
        meta: dict[str, Any] = {}
        scale = False
        if request.image is not None:
            cam = camera_path(request)
            frames = image_frames(request, path=cam)
            meta.update(mode="image", move=cam.move, zoom_max=round(float(cam.zoom.max()), 4))
        else:
            frames = abstract_frames(request, adjusted=adjusted)
            meta.update(mode="abstract", hue=round(section_hue(request.section_index), 4))
            scale = True
        enc = encode_video(
            frames,
            Path(out),
            width=request.width,
            height=request.height,
            fps=request.fps,
            n_frames=request.n_frames,
            settings=self.settings,
            scale=scale,
            progress=progress,
        )
        return GeneratedClip(n_frames=enc.pop("frames"), details={**meta, **enc}, adjusted=tuple(adjusted))
