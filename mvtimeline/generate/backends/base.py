"""The backend protocol, its defaults, and the checks every request goes through (the registry: :mod:`.registry`).

A backend turns one :class:`~mvtimeline.types.ClipRequest` into one MP4 file. It has a ``name``
and a ``version`` (both part of the cache key, with ``model_id``), says how long a clip it can
make (``max_seconds``; ``clip_seconds`` in one generation), checks requests before any work (``check``) and makes a clip
(``generate``), reporting frames or steps as ``Progress("clip", done, total)`` events.

Every optional capability is declared in :class:`Backend` with its default in
:class:`BackendBase` (which every backend inherits), so the executors and the pipeline read it
plainly, never probe for it:

- ``chain``: each clip starts from the previous clip's last frame (made one after another);
- ``parallel``: how many clips it makes at once (threads; ComfyUI: one per live server);
- ``wants_audio`` and ``stems_dir``: driven by each segment's audio, whose slices it keeps there;
- ``needs_image``: it cannot start without a still (``--image``, ``--cast``, a keyframe model);
- ``cancel()``: stop the clips in flight (Ctrl-C); ``check_servers()``: the servers it drives answer;
- ``loads``, ``keyframe_loaded``: how often its model was loaded, whether its keyframe model is
  (a Ray worker's statistics); ``keyframe_size()``: the size of a clip's keyframe (None: none).

Public: Backend, BackendBase, check_request.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Protocol, runtime_checkable

from mvtimeline.errors import InputError
from mvtimeline.progress import ProgressFn
from mvtimeline.types import ClipRequest, GeneratedClip

__all__ = ["Backend", "BackendBase", "check_request"]

MIN_SIZE = 16
MAX_SIZE = 8192
MAX_FPS = 240


@runtime_checkable
class Backend(Protocol):
    """What the generate stage needs from a backend.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"procedural"``; part of the cache key.
    version : str
        Changes whenever the same request would give a different clip; part of the cache key.
    max_seconds : float > 0
        The longest segment it makes, in seconds (the planner splits longer ones); by chaining
        several generations when it is longer than ``clip_seconds``.
    clip_seconds : float > 0
        The longest clip its model makes in one generation, in seconds: sung segments are cut to fit
        it where a gap allows; a longer segment is planned as chained chunks (``Segment.chunks``).
    model_id : str
        The model (hub id or folder name) for model backends, ``""`` for procedural; part of the
        cache key.
    chain : bool
        Each clip of a take starts from the previous clip's last frame (default False).
    parallel : int >= 1
        Clips it makes at once, each in a thread (default 1).
    wants_audio : bool
        Driven by each segment's audio (default False).
    stems_dir : Path or None
        Where an audio-driven backend keeps the audio slices it sends (None: a temp folder; the
        pipeline sets the work folder's when it is None).
    needs_image : bool
        It cannot make a clip without a still (default False).
    loads : int
        Times its model was loaded in this process (0 without a model).
    keyframe_loaded : bool
        Its keyframe model is loaded (default False).
    """

    name: str
    version: str
    max_seconds: float
    clip_seconds: float
    model_id: str
    chain: bool
    parallel: int
    wants_audio: bool
    stems_dir: Path | None
    loads: int

    @property
    def needs_image(self) -> bool:
        """It cannot make a clip without a still."""
        ...

    @property
    def keyframe_loaded(self) -> bool:
        """Its keyframe model is loaded in this process."""
        ...

    def check(self, request: ClipRequest) -> None:
        """Raise ``InputError`` for a request this backend cannot make; no heavy work."""
        ...

    def generate(
        self,
        request: ClipRequest,
        out: Path,
        progress: ProgressFn | None = None,
    ) -> GeneratedClip:
        """Write the clip of ``request`` to ``out`` (an .mp4) and say what was made.

        ``progress`` receives ``Progress("clip", done, total)`` as frames (or steps) are made.
        """
        ...

    def cancel(self) -> None:
        """Stop the clips being made, where it can (ComfyUI: interrupt our prompts)."""
        ...

    def check_servers(self) -> list[str]:
        """The servers it drives that answer (raises ``RunError`` when none does); ``[]`` when it
        drives none."""
        ...

    def keyframe_size(self, request: ClipRequest) -> tuple[int, int] | None:
        """The size of the clip's keyframe image, made by a keyframe model first (None: it uses none)."""
        ...


class BackendBase:
    """The defaults of every optional capability of :class:`Backend`; backends inherit them and
    override what they have."""

    chain: bool = False
    parallel: int = 1
    wants_audio: bool = False
    stems_dir: Path | None = None
    loads: int = 0

    @property
    def needs_image(self) -> bool:
        """It can start without a still."""
        return False

    @property
    def keyframe_loaded(self) -> bool:
        """No keyframe model."""
        return False

    def check(self, request: ClipRequest) -> None:
        """The checks every request goes through (:func:`check_request`)."""
        check_request(request)

    def cancel(self) -> None:
        """Nothing to stop."""

    def check_servers(self) -> list[str]:
        """No server to check."""
        return []

    def keyframe_size(self, request: ClipRequest) -> tuple[int, int] | None:
        """No keyframe."""
        return None


def check_request(request: ClipRequest) -> None:
    """Check the fields of a request every backend relies on.

    Parameters
    ----------
    request : ClipRequest
        The request to check.

    Raises
    ------
    InputError
        Non-positive ``n_frames``; width or height odd or outside 16..8192 px; ``fps`` not a
        positive rate up to 240; negative or too many handle frames; ``take`` < 1; a negative or
        non-finite tempo; non-finite loudness or downbeat values; an image that is not an
        existing file. The message names the segment, the field and the value.
    """
    where = f"segment {request.segment_index} take {request.take}"
    if not isinstance(request.n_frames, int) or request.n_frames < 1:
        raise InputError(f"{where}: n_frames {request.n_frames!r} must be a positive integer")
    for field in ("width", "height"):
        v = getattr(request, field)
        if not isinstance(v, int) or v % 2 or not MIN_SIZE <= v <= MAX_SIZE:
            raise InputError(
                f"{where}: {field} {v!r} px must be an even integer from {MIN_SIZE} to {MAX_SIZE} "
                "(H.264 yuv420p needs even sizes)"
            )
    if not isinstance(request.fps, Fraction) or not 0 < request.fps <= MAX_FPS:
        raise InputError(
            f"{where}: fps {request.fps!r} must be a Fraction in (0, {MAX_FPS}], e.g. Fraction(30000, 1001)"
        )
    if request.take < 1:
        raise InputError(f"{where}: take {request.take!r} must be >= 1")
    head, tail = request.head_frames, request.tail_frames
    if head < 0 or tail < 0 or head + tail > request.n_frames:
        raise InputError(
            f"{where}: handles head_frames={request.head_frames}, tail_frames={request.tail_frames} "
            f"do not fit in n_frames={request.n_frames}"
        )
    if not math.isfinite(request.tempo_bpm) or request.tempo_bpm < 0:
        raise InputError(f"{where}: tempo_bpm {request.tempo_bpm!r} must be finite and >= 0 (0 = unknown)")
    if not all(math.isfinite(v) for v in request.loudness):
        raise InputError(f"{where}: loudness has non-finite values")
    if not all(math.isfinite(v) for v in request.downbeats_s):
        raise InputError(f"{where}: downbeats_s has non-finite values")
    if request.image is not None:
        p = Path(request.image)
        if not p.is_file():
            what = "is a folder, not an image file" if p.is_dir() else "does not exist"
            raise InputError(f"{where}: image {p} {what}")
