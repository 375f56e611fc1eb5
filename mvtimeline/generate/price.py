"""The price before the gamble: how long the clips about to be made will take, and what they cost.

Every clip the generate stage makes keeps the seconds it took in its record
(``clips/<key>/take-N.json``: ``generate_s``, ``backend`` and the ``request``'s frames and size).
From those records a backend's speed is measured, in seconds per frame at a frame size
(:func:`rate_for`); until a backend has made a clip in the work folder, a stated default stands in
(:data:`DEFAULT_RATES`, each figure with its source). Frames times that rate is the expected time
(:func:`estimate`), and at a GPU price per hour (the ``gpu_price_per_hour`` setting, ``--gpu-price``)
its cost. After a run, :func:`spent` adds up what the plan's clips really took.

Public:

- :class:`Rate`, :func:`rate_for`, :data:`DEFAULT_RATES` — a backend's seconds per frame.
- :class:`Estimate`, :func:`estimate`, :func:`pending` — the time and cost of clips to be made.
- :class:`Spent`, :class:`SegmentSpent`, :func:`spent`, :func:`made_clips` — what the clips made took and cost.
- :func:`format_duration`, :func:`format_cost`, :func:`describe`, :func:`describe_spent` — one-line texts.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..config import validate
from ..types import ClipRequest
from .cache import find_clip
from .requesting import chain

if TYPE_CHECKING:
    from ..types import Analysis, Plan
    from ..workfolder import WorkFolder
    from .backends.base import Backend

__all__ = ["Rate", "Estimate", "SegmentSpent", "Spent", "DEFAULT_RATES", "rate_for", "estimate", "pending", "spent",
           "made_clips",
           "format_duration", "format_cost", "describe", "describe_spent", "IMPORT_BACKEND", "MIN_MAKING_S",
           "CPU_BACKENDS"]

log = logging.getLogger(__name__)

#: The backend name in the record of a clip brought in with ``mvtimeline import`` (no GPU time).
IMPORT_BACKEND = "import"
#: Backends that make clips on the CPU: their time is said as CPU time.
CPU_BACKENDS = ("procedural", "loop")
#: A record whose ``generate_s`` is below this made nothing (a clip reused, not made): not measured.
MIN_MAKING_S = 0.001


@dataclass(frozen=True)
class Rate:
    """How fast a backend makes clips: ``s_per_frame`` seconds per frame of ``width`` x ``height``.

    Attributes
    ----------
    backend : str
        The backend's name (``procedural``, ``comfyui``...).
    model : str
        The model or workflow (the backend's ``model_id``; ``""`` for procedural and loop).
    s_per_frame : float >= 0
        Seconds per frame at ``width`` x ``height``.
    width, height : int > 0
        The frame size the rate is for, in pixels; other sizes scale by their pixel count.
    fps : Fraction or None
        The frame rate frames are counted at (a video model's own, e.g. 16 for Wan): a request's
        frames are converted to it first. None: the request's own frames.
    max_pixels : int or None
        A model that renders at most this many pixels per frame (and scales the result up) costs
        no more for a larger frame. None: no cap.
    measured : bool
        Measured on clips of this work folder (else a stated default).
    clips : int >= 0
        How many clip records it was measured on (0 for a default).
    source : str
        One line for people: ``"measured on 12 clips"``, ``"default for the bundled wan22-i2v
        workflow until measured"``.
    """

    backend: str
    model: str
    s_per_frame: float
    width: int
    height: int
    fps: Fraction | None = None
    max_pixels: int | None = None
    measured: bool = False
    clips: int = 0
    source: str = ""

    def pixels(self, width: int, height: int) -> int:
        """The pixels a frame of ``width`` x ``height`` costs at this rate (capped by ``max_pixels``)."""
        px = int(width) * int(height)
        return min(px, self.max_pixels) if self.max_pixels else px

    def seconds(self, n_frames: int, width: int, height: int, fps: Fraction) -> float:
        """Expected seconds for one clip of ``n_frames`` frames at ``fps`` and ``width`` x ``height``.

        Examples
        --------
        >>> Rate("procedural", "", 0.01, 100, 100).seconds(30, 200, 100, Fraction(30))
        0.6
        """
        frames = Fraction(n_frames) * (Fraction(self.fps) / Fraction(fps) if self.fps else 1)
        scale = self.pixels(width, height) / self.pixels(self.width, self.height)
        return round(float(frames) * self.s_per_frame * scale, 9)


@dataclass(frozen=True)
class Estimate:
    """The expected time and cost of making some clips.

    Attributes
    ----------
    seconds : float >= 0
        Expected GPU (or CPU, for procedural) seconds.
    cost : float or None
        ``seconds`` at ``gpu_price_per_hour`` (None when no price is set).
    frames : int
        Frames to make (the requests' own frames).
    clips : int
        Clips to make.
    rate : Rate
        The rate it was worked out at.
    gpu_price_per_hour : float or None
        The price it was worked out at.
    """

    seconds: float
    cost: float | None
    frames: int
    clips: int
    rate: Rate
    gpu_price_per_hour: float | None = None


@dataclass(frozen=True)
class SegmentSpent:
    """What the clips made of one segment took: ``seconds``, ``cost`` (None without a price), ``clips``."""

    segment: int
    seconds: float
    cost: float | None
    clips: int


@dataclass(frozen=True)
class Spent:
    """What the clips made took, per segment (in plan order, segments with no clip made left out)
    and in total; ``cost`` is None without a price; ``backends`` names what made them."""

    segments: tuple[SegmentSpent, ...]
    seconds: float
    cost: float | None
    clips: int
    gpu_price_per_hour: float | None = None
    backends: tuple[str, ...] = ()  # the names of the backends that made them


def _default(s_per_frame: float, width: int, height: int, fps: int | None, what: str, *,
             capped: bool = False) -> dict[str, Any]:
    return {"s_per_frame": s_per_frame, "width": width, "height": height,
            "fps": Fraction(fps) if fps else None, "max_pixels": width * height if capped else None, "what": what}


#: Stated defaults until a backend has made clips in the work folder: ``(backend, model)`` → rate.
#: ``model`` is a bundled ComfyUI workflow's name, a diffusers pipeline family, or ``""``.
DEFAULT_RATES: dict[tuple[str, str], dict[str, Any]] = {
    # Measured here (2 shared CPU cores, libx264 veryfast; 3 clips of 150 frames at 1920x1080, 30 fps):
    # procedural, abstract visuals 0.015 s per frame, an image's moves 0.023-0.026 s: 0.02.
    ("procedural", ""): _default(0.02, 1920, 1080, None, "procedural"),
    # The loop backend, the same way (a 1920x1080 video cut and re-encoded): 0.018-0.020 s per frame.
    ("loop", ""): _default(0.02, 1920, 1080, None, "loop"),
    # Comfy-Org/workflow_templates templates/video_wan2_2_14B_i2v.json, note "VRAM Usage": RTX 4090D
    # 24GB, fp8_scaled, 640*640, 81 frames, 2nd generation ~513 s (our workflow is that template
    # without the 4-step LoRA) → 513 / 81 = 6.3 s per 16 fps frame.
    ("comfyui", "wan22-i2v"): _default(6.3, 640, 640, 16, "the bundled wan22-i2v workflow (RTX 4090D, "
                                                          "ComfyUI's template note)"),
    # Wan 2.2 S2V 14B, 20 steps, cfg 6: no first-party timing found; taken as the same 14B model at
    # the same steps as wan22-i2v above.
    ("comfyui", "wan22-s2v"): _default(6.3, 640, 640, 16, "the bundled wan22-s2v workflow (assumed as "
                                                          "wan22-i2v: same 14B size and steps)"),
    # InfiniteTalk (Wan 2.1 14B + audio) with the lightx2v LoRA: 6 steps at cfg 1. From the same
    # template note's "fp8_scaled + 4steps LoRA" row (~71 s for 81 frames at 640*640), times 6/4 steps:
    # ~107 s → 1.3 s per 25 fps frame.
    ("comfyui", "infinitetalk"): _default(1.3, 640, 640, 25, "the bundled infinitetalk workflow (derived "
                                                             "from ComfyUI's 4-step Wan note)"),
    # The weights-free test workflows only copy and encode frames on the server: a guess, not measured.
    ("comfyui", "still"): _default(0.02, 1920, 1080, 16, "the bundled still workflow (no model; a guess)"),
    ("comfyui", "still-audio"): _default(0.02, 1920, 1080, 16, "the bundled still-audio workflow (no model; "
                                                               "a guess)"),
    # Wan-Video/Wan2.2 README: TI2V-5B makes a 5 s 720P clip (121 frames at 1280x704, 24 fps) "in
    # under 9 minutes" on one RTX 4090 → 540 / 121 = 4.5 s per frame (diffusers renders at most the
    # model's native area, so a larger frame costs the same).
    ("diffusers", "wan"): _default(4.5, 1280, 704, 24, "a Wan model in diffusers (Wan 2.2 TI2V-5B on an RTX "
                                                       "4090, its README)", capped=True),
    # Lightricks/LTX-Video model card: "24 FPS videos at a 768x512 resolution faster than they can be
    # watched" (on an H100, arXiv 2501.00103): 1/24 s per frame at best.
    ("diffusers", "ltx"): _default(1 / 24, 768, 512, 24, "an LTX-Video model in diffusers (real time on an "
                                                         "H100, its model card; at best)", capped=True),
    # The SVD-XT demo Space on Hugging Face (Stability's demo text): 25 frames at 1024x576, "Each
    # generation takes ~60s in an A100" → 2.4 s per frame.
    ("diffusers", "svd"): _default(2.4, 1024, 576, 7, "a Stable Video Diffusion model in diffusers (SVD-XT "
                                                      "on an A100, its demo Space)", capped=True),
}

#: The default for a model the table does not know (a workflow file of the user's own, a new
#: diffusers family): a 14B video model's, the dearest in the table, said as such.
_UNKNOWN_MODEL = ("comfyui", "wan22-i2v")


def _model_key(backend: Backend) -> tuple[str, str, str]:
    """``(backend, table model, how the model is named)`` of a backend for :data:`DEFAULT_RATES`."""
    name = backend.name
    if name == "comfyui":
        workflow = backend.model_id.split("+", 1)[0]
        return name, workflow, f"workflow {workflow}"
    if name == "diffusers":
        from .backends.diffusers.common import VIDEO_CLASSES

        parts = backend.version.split(";")
        family = VIDEO_CLASSES.get(parts[1], "") if len(parts) > 1 else ""
        return name, family, f"model {backend.model_id.split('@', 1)[0]}"
    return name, "", name


def _default_rate(backend: Backend) -> Rate:
    name, model, named = _model_key(backend)
    key = (name, model)
    if key in DEFAULT_RATES:
        d = DEFAULT_RATES[key]
        what = d["what"]
    else:
        d = DEFAULT_RATES[_UNKNOWN_MODEL] if name in ("comfyui", "diffusers") else DEFAULT_RATES[("procedural", "")]
        what = f"{named} (taken as a 14B video model)" if name in ("comfyui", "diffusers") else named
    return Rate(backend=name, model=backend.model_id, s_per_frame=d["s_per_frame"], width=d["width"],
                height=d["height"], fps=d["fps"], max_pixels=d["max_pixels"], measured=False, clips=0,
                source=f"default for {what} until measured")


def _records(project: WorkFolder) -> Iterable[dict[str, Any]]:
    """Every readable clip record in the work folder's cache (complete clips only)."""
    root = project.clips_dir
    if not root.is_dir():
        return
    for meta in sorted(root.glob("*/take-*.json")):
        try:
            take = int(meta.stem.split("-", 1)[1])
        except ValueError:
            continue
        record = find_clip(root, meta.parent.name, take)
        if record is not None:
            yield record


def _made(record: dict[str, Any]) -> float | None:
    """Seconds it took to make a record's clip, or None: imported, or nothing was made."""
    who = record.get("backend") or {}
    took = record.get("generate_s")
    if who.get("name") == IMPORT_BACKEND or not isinstance(took, (int, float)) or not math.isfinite(took):
        return None
    return float(took) if took >= MIN_MAKING_S else None


def rate_for(project: WorkFolder, backend: Backend) -> Rate:
    """The rate ``backend`` makes clips at, measured on the clips it made in ``project``'s cache.

    A clip counts when its record names the same backend (name, version and model id: for
    ComfyUI the workflow and its hash) and the seconds it took to make it; clips brought in with
    ``mvtimeline import`` and records of clips that were not made (under :data:`MIN_MAKING_S`)
    do not. Clips of other frame sizes count by their pixels. With no clip, the stated default of
    :data:`DEFAULT_RATES`.

    Parameters
    ----------
    project : WorkFolder
        The work folder (its ``clips/`` cache is read).
    backend : Backend
        Its ``name``, ``version`` and ``model_id`` pick the records.

    Returns
    -------
    Rate
        ``measured`` with ``clips`` > 0, or the default.
    """
    default = _default_rate(backend)
    total_s = 0.0
    pixel_frames = 0.0
    sizes: Counter[tuple[int, int]] = Counter()
    clips = 0
    for record in _records(project):
        who = record.get("backend") or {}
        if (who.get("name"), who.get("version"), who.get("model_id")) != (backend.name, backend.version,
                                                                             backend.model_id):
            continue
        took = _made(record)
        req = record.get("request") or {}
        try:
            n_frames, width, height = int(req["n_frames"]), int(req["width"]), int(req["height"])
            fps = Fraction(str(req["fps"]))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            continue
        if took is None or n_frames <= 0 or width <= 0 or height <= 0:
            continue
        frames = float(Fraction(n_frames) * (default.fps / fps if default.fps else 1))
        total_s += took
        pixel_frames += frames * default.pixels(width, height)
        sizes[(width, height)] += n_frames
        clips += 1
    if not clips:
        return default
    width, height = sizes.most_common(1)[0][0]
    s_per_frame = total_s / pixel_frames * default.pixels(width, height)
    return Rate(backend=backend.name, model=backend.model_id, s_per_frame=s_per_frame, width=width, height=height,
                fps=default.fps, max_pixels=default.max_pixels, measured=True, clips=clips,
                source=f"measured on {clips} clip{'s' if clips != 1 else ''}")


def _price(value: float | None) -> float | None:
    """A price per hour checked as the setting is (:data:`mvtimeline.config.VALIDATORS`), or None."""
    return None if value is None else float(validate("gpu_price_per_hour", value))


def estimate(requests: Sequence[ClipRequest], rate: Rate, gpu_price_per_hour: float | None = None) -> Estimate:
    """The expected time of making ``requests`` at ``rate``, and its cost.

    Each clip takes its frames (converted to the rate's ``fps`` when it has one) times
    ``rate.s_per_frame``, scaled by its pixels over the rate's.

    Parameters
    ----------
    requests : sequence of ClipRequest
        The clips to be made.
    rate : Rate
        From :func:`rate_for`.
    gpu_price_per_hour : float >= 0, optional
        What an hour of the machine costs; None: no cost.

    Returns
    -------
    Estimate

    Raises
    ------
    InputError
        A negative or non-numeric price.

    Examples
    --------
    >>> rate = Rate("procedural", "", 0.5, 64, 48, measured=True, clips=3, source="measured on 3 clips")
    >>> req = ClipRequest(segment_index=1, take=1, section="Verse", section_index=0, image_prompt="",
    ...                   motion_prompt="", negative_prompt="", seed=1, width=64, height=48, fps=Fraction(30),
    ...                   n_frames=60, head_frames=0, tail_frames=0, clip_start_s=0.0, tempo_bpm=120.0)
    >>> e = estimate([req, req], rate, 3.6)
    >>> e.seconds, e.cost, e.frames, e.clips
    (60.0, 0.06, 120, 2)
    """
    price = _price(gpu_price_per_hour)
    seconds = sum(rate.seconds(r.n_frames, r.width, r.height, r.fps) for r in requests)
    seconds = round(float(seconds), 9)
    cost = None if price is None else round(seconds / 3600 * price, 9)
    return Estimate(seconds=seconds, cost=cost, frames=sum(r.n_frames for r in requests), clips=len(requests),
                    rate=rate, gpu_price_per_hour=price)


def pending(project: WorkFolder, plan: Plan, analysis: Analysis, backend: Backend, *,
            takes: Sequence[int] | None = None, gpu_price_per_hour: float | None = None) -> Estimate:
    """The expected time and cost of the clips of ``plan`` not in the cache yet.

    Parameters
    ----------
    project : WorkFolder
    plan : Plan
    analysis : Analysis
    backend : Backend
        What would make them (its name, version and model id make the cache keys and pick the rate).
    takes : sequence of int >= 1, optional
        Takes of every segment (default: each segment's chosen take).
    gpu_price_per_hour : float >= 0, optional
        Default: the project's ``gpu_price_per_hour`` setting.

    Returns
    -------
    Estimate
        Of the missing clips only (``clips`` 0 when all are made).
    """
    reqs = project.clip_requests(plan, analysis, backend, takes=takes)
    if backend.chain:  # a clip's key follows the clip before it: those in the cache give theirs
        reqs = [r for r, _ in chain(reqs, backend, project.clips_dir, make=False)]
    todo = [r for r in reqs
            if find_clip(project.clips_dir, r.key(backend.name, backend.version, backend.model_id), r.take) is None]
    price = project.config.gpu_price_per_hour if gpu_price_per_hour is None else gpu_price_per_hour
    return estimate(todo, rate_for(project, backend), price)


def made_clips(project: WorkFolder) -> frozenset[str]:
    """Every clip made in the work folder's cache so far, each named by its key, take and record's
    time: give it to :func:`spent` as ``before`` to count only the clips a command makes after it.

    Parameters
    ----------
    project : WorkFolder

    Returns
    -------
    frozenset of str
    """
    return frozenset(_clip_id(r) for r in _records(project))


def _clip_id(record: dict[str, Any]) -> str:
    return f"{record.get('key')}/take-{record.get('take')}@{record.get('created')}/{record.get('generate_s')}"


def spent(project: WorkFolder, plan: Plan, *, gpu_price_per_hour: float | None = None,
          before: frozenset[str] | None = None) -> Spent:
    """What the clips made for ``plan``'s segments took, every take, per segment and in total.

    Every clip record in the cache of one of the plan's segments counts (a segment's clips are those
    whose request names its number and starts where it starts, so clips of an older plan's cut
    do not); clips brought in with ``mvtimeline import`` and reused ones cost nothing.

    Parameters
    ----------
    project : WorkFolder
    plan : Plan
    gpu_price_per_hour : float >= 0, optional
        Default: the project's setting; None there too: no cost.
    before : frozenset of str, optional
        Clips not to count (:func:`made_clips` before a run: what that run made is counted).

    Returns
    -------
    Spent
    """
    price = _price(project.config.gpu_price_per_hour if gpu_price_per_hour is None else gpu_price_per_hour)
    starts = {s.index: s.start_s for s in plan.segments}
    seconds: dict[int, float] = {}
    counts: dict[int, int] = {}
    names: set[str] = set()
    for record in _records(project):
        took = _made(record)
        req = record.get("request") or {}
        index = req.get("segment_index")
        if took is None or index not in starts:
            continue
        start_s = float(req.get("clip_start_s", 0.0)) + float(req.get("head_frames", 0)) / float(
            Fraction(str(req.get("fps", "30"))))
        if abs(start_s - starts[index]) > 0.05:  # another plan's segment under the same number
            continue
        if before is not None and _clip_id(record) in before:
            continue
        seconds[index] = seconds.get(index, 0.0) + took
        names.add(str((record.get("backend") or {}).get("name", "")))
        counts[index] = counts.get(index, 0) + 1

    def cost(s: float) -> float | None:
        return None if price is None else round(s / 3600 * price, 9)

    rows = tuple(SegmentSpent(segment=i, seconds=round(seconds[i], 3), cost=cost(seconds[i]), clips=counts[i])
                 for i in sorted(seconds))
    total = round(sum(seconds.values()), 3)
    return Spent(segments=rows, seconds=total, cost=cost(total), clips=sum(counts.values()),
                 gpu_price_per_hour=price, backends=tuple(sorted(names)))


# ------------------------------------------------------------------------------------------ texts
def format_duration(seconds: float) -> str:
    """A duration for people: ``"under 0.1 s"``, ``"0.4 s"``, ``"12 s"``, ``"3 min 20 s"``, ``"2 h 5 min"``.

    Examples
    --------
    >>> format_duration(0.01), format_duration(0.42), format_duration(12.4), format_duration(200)
    ('under 0.1 s', '0.4 s', '12 s', '3 min 20 s')
    >>> format_duration(7500), format_duration(0)
    ('2 h 5 min', '0 s')
    """
    s = max(0.0, float(seconds))
    if s == 0:
        return "0 s"
    if s < 0.05:
        return "under 0.1 s"
    if s < 10:
        return f"{s:.1f} s"
    whole = int(round(s))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        m, sec = divmod(whole, 60)
        return f"{m} min" + (f" {sec} s" if sec else "")
    h, rest = divmod(whole, 3600)
    m = int(round(rest / 60))
    if m == 60:
        h, m = h + 1, 0
    return f"{h} h" + (f" {m} min" if m else "")


def format_cost(cost: float) -> str:
    """A cost in dollars: two decimals, ``"under $0.01"`` for less than a cent.

    Examples
    --------
    >>> format_cost(0.0312), format_cost(0.004), format_cost(0), format_cost(12.5)
    ('$0.03', 'under $0.01', '$0.00', '$12.50')
    """
    if 0 < cost < 0.005:
        return "under $0.01"
    return f"${cost:,.2f}"


def _kind(backend: str) -> str:
    return "CPU" if backend in CPU_BACKENDS else "GPU"


def _at(cost: float | None, price: float | None) -> str:
    if cost is None or price is None:
        return ""
    return f", {format_cost(cost)} at ${price:g}/h"


def describe(est: Estimate) -> str:
    """One line for an estimate: ``"about 3 min 20 s of GPU time, $0.03 at $0.59/h (measured on 12 clips)"``.

    Examples
    --------
    >>> rate = Rate("comfyui", "wan22-i2v", 6.3, 640, 640, measured=True, clips=12, source="measured on 12 clips")
    >>> describe(Estimate(seconds=200.0, cost=0.0328, frames=400, clips=4, rate=rate, gpu_price_per_hour=0.59))
    'about 3 min 20 s of GPU time, $0.03 at $0.59/h (measured on 12 clips)'
    """
    about = "" if format_duration(est.seconds).startswith("under") else "about "
    return f"{about}{format_duration(est.seconds)} of {_kind(est.rate.backend)} time" \
           f"{_at(est.cost, est.gpu_price_per_hour)} ({est.rate.source})"


def describe_spent(sp: Spent | SegmentSpent, price: float | None = None) -> str:
    """One line for what clips took: ``"4 clips took 1 min 5 s of GPU time, $0.01 at $0.59/h"``.

    Examples
    --------
    >>> describe_spent(Spent(segments=(), seconds=65.0, cost=0.0107, clips=4, gpu_price_per_hour=0.59))
    '4 clips took 1 min 5 s of GPU time, $0.01 at $0.59/h'
    """
    price = sp.gpu_price_per_hour if isinstance(sp, Spent) else price
    cpu = isinstance(sp, Spent) and bool(sp.backends) and all(b in CPU_BACKENDS for b in sp.backends)
    return f"{sp.clips} clip{'s' if sp.clips != 1 else ''} took {format_duration(sp.seconds)} of " \
           f"{'CPU' if cpu else 'GPU'} time{_at(sp.cost, price)}"

