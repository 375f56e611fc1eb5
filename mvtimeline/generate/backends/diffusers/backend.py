"""The diffusers backend: an optional keyframe (text-to-image) then an image-to-video clip.

``get_backend("diffusers", video_model=PATH_OR_ID, ...)`` builds a :class:`DiffusersBackend`. Building
it reads the model folders' ``model_index.json`` (family, fingerprint) but loads no weights; the
pipelines are loaded once, on the first clip that needs them.

Per clip:

1. the start image: ``request.image`` (the user's still, or the previous clip's last frame when the
   caller chains), else a keyframe from the keyframe model (img2img from the character image when
   one is set). With neither: ``InputError`` from :meth:`DiffusersBackend.check`.
2. the generation plan: the clip's ``n_frames`` at the project rate are taken from frames made at the
   model's native rate (nearest frame by absolute time); those are rounded to the family's rule
   (4k+1 Wan, 8k+1 LTX, SVD's fixed count) and split into generations of at most ``max_frames``,
   each one started from the last frame of the one before. The size follows the project's aspect
   within the model's native area, in the family's multiples; the encoder scales to the project
   size. Every adjustment is logged as a warning (old → new) and listed in the meta's ``adjusted``.
3. a first-last-frame model also gets the segment's keyframe as ``last_image`` when the start image
   came from the request and a keyframe model is set.

Public: DiffusersBackend, BACKEND_VERSION.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from mvtimeline.errors import InputError, RunError
from mvtimeline.progress import Progress, ProgressFn
from mvtimeline.types import ClipRequest, GeneratedClip
from ..base import BackendBase, check_request
from mvtimeline.media import fit_image, open_image
from .common import (DiffusersSettings, ModelRef, VideoSpec, require_torch, resolve_dtype, resolve_device, resolve_model, to_uint8)
from ...grid import fit_size, native_indices, split_generations
from mvtimeline.generate.encode import EncodeSettings, encode_video

__all__ = ["DiffusersBackend", "BACKEND_VERSION"]

log = logging.getLogger(__name__)

#: bump when the same settings would give other clips
BACKEND_VERSION = "1"


def _sha12(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


class DiffusersBackend(BackendBase):
    """Clips from a diffusers image-to-video model (Wan, LTX-Video, SVD), keyframes from a T2I model.

    Parameters
    ----------
    **settings
        The fields of :class:`~mvtimeline.generate.backends.diffusers.common.DiffusersSettings`
        (``video_model`` is required).

    Attributes
    ----------
    name : str
        ``"diffusers"``.
    version : str
        Backend version + everything in the settings that changes the pixels (pipeline class,
        steps, guidance, dtype, negative prompt, sizes, keyframe model and character image hash);
        part of the cache key.
    model_id : str
        ``video_model@fingerprint`` (``+keyframe_model@fingerprint``); part of the cache key.
    max_seconds : float
        Longest segment the planner gives it (several generations are chained within a clip).
    clip_seconds : float
        One generation of the video model at its native length (before the model is loaded: the
        family's, or ``max_frames`` at its usual rate); the planner fits sung segments to it.
    chain : bool
        The caller should feed each clip's last frame to the next clip (``pipeline`` does).

    Raises
    ------
    InputError
        Bad settings, torch/diffusers missing, a model that is not there or not supported.
    """

    name = "diffusers"

    def __init__(self, **settings: Any) -> None:
        self.settings = DiffusersSettings(**settings)
        require_torch()
        s = self.settings
        self.video: ModelRef = resolve_model(s.video_model, role="video")
        self.keyframe: ModelRef | None = resolve_model(s.keyframe_model, role="keyframe") if s.keyframe_model else None
        self.chain = s.chain
        self.max_seconds = float(s.max_seconds)
        self._family = importlib.import_module(f"{__package__}.{self.video.family}")
        clip = float(self._family.CLIP_SECONDS)
        if s.max_frames is not None:
            clip = min(clip, (s.max_frames - 1) / self._family.NATIVE_FPS_GUESS)
        self.clip_seconds = max(0.5, min(self.max_seconds, clip))
        self._kf_family = importlib.import_module(f"{__package__}.t2i") if self.keyframe else None
        self._device: str | None = None
        self._dtype: Any = None
        self._video_pipe: Any = None
        self._kf_pipe: Any = None
        self._kf_cache: dict[str, Any] = {}
        self._spec: VideoSpec | None = None
        self._load_notes: list[str] = []
        self.loads = 0  # times the video pipeline was loaded (once per process)
        self.model_id = self.video.label + (f"+{self.keyframe.label}" if self.keyframe else "")
        char = _sha12(Path(s.character).read_bytes()) if s.character else "-"
        neg = _sha12(s.negative_prompt.encode()) if s.negative_prompt is not None else "-"
        self.version = ";".join([
            BACKEND_VERSION, self.video.class_name, f"steps={s.steps or 'default'}",
            f"guidance={s.guidance if s.guidance is not None else 'default'}", f"dtype={s.dtype}",
            f"area={s.max_area or 'native'}", f"max_frames={s.max_frames or 'native'}", f"neg={neg}",
            f"kf={self.keyframe.class_name if self.keyframe else '-'}", f"kf_steps={s.keyframe_steps or 'default'}",
            f"char={char}@{s.character_strength if s.character else '-'}",
        ])

    # ------------------------------------------------------------------------------------- checks
    def check(self, request: ClipRequest) -> None:
        """Check a request before any weights are loaded.

        Raises
        ------
        InputError
            A bad request field, or no start image: no ``request.image`` and no keyframe model.
        """
        check_request(request)
        if request.image is None and self.keyframe is None:
            raise InputError(
                f"segment {request.segment_index}: the diffusers backend needs a start image; pass --image IMG "
                "(a still to animate) or --keyframe-model PATH_OR_ID (a text-to-image model)")

    # ------------------------------------------------------------------------------------ loading
    def _ensure_device(self) -> None:
        if self._device is None:
            self._device = resolve_device(self.settings.device)
            self._dtype = resolve_dtype(self.settings.dtype, self._device)

    def video_pipeline(self) -> Any:
        """The image-to-video pipeline, loaded on first use."""
        if self._video_pipe is None:
            self._ensure_device()
            t0 = time.perf_counter()
            self._video_pipe = self._family.load(self.video, self.settings, device=self._device, dtype=self._dtype,
                                                 notes=self._load_notes)
            self._spec = self._family.spec(self._video_pipe)
            self.loads += 1
            log.info("video model %s loaded in %.1f s", self.video.given, time.perf_counter() - t0)
        return self._video_pipe

    def keyframe_pipeline(self) -> Any:
        """The text-to-image pipeline, loaded on first use (None without a keyframe model)."""
        if self.keyframe is None:
            return None
        if self._kf_pipe is None:
            self._ensure_device()
            self._kf_pipe = self._kf_family.load(self.keyframe, self.settings, device=self._device,
                                                 dtype=self._dtype, notes=self._load_notes)
        return self._kf_pipe

    @property
    def keyframe_loaded(self) -> bool:
        """The keyframe model is loaded in this process."""
        return self._kf_pipe is not None

    @property
    def spec(self) -> VideoSpec:
        """The video family's constraints (loads the video pipeline)."""
        self.video_pipeline()
        assert self._spec is not None
        return self._spec

    # ----------------------------------------------------------------------------------- planning
    def plan(self, request: ClipRequest) -> dict[str, Any]:
        """How a request will be made: native frames, generations, size and the adjustments (loads the model).

        Returns
        -------
        dict
            ``native_fps`` (Fraction), ``indices`` (native frame of each output frame), ``generations``
            (frame counts), ``width``/``height`` (generation size), ``adjusted`` (lines).
        """
        sp = self.spec
        s = self.settings
        adjusted: list[str] = []
        where = f"segment {request.segment_index}"
        indices = native_indices(request.n_frames, request.fps, sp.native_fps)
        needed = indices[-1] + 1
        if sp.native_fps != request.fps:
            adjusted.append(f"frames: {request.n_frames} at {_fmt(request.fps)} fps → {needed} at the model's "
                            f"native {_fmt(sp.native_fps)} fps (resampled to {request.n_frames} when encoding)")
        max_frames = sp.max_frames
        if s.max_frames is not None and not sp.fixed:
            capped = max(sp.step + 1, (min(s.max_frames, sp.max_frames) - 1) // max(sp.step, 1) * max(sp.step, 1) + 1)
            if capped != s.max_frames:
                adjusted.append(f"max_frames: {s.max_frames} → {capped} ({_rule(sp)})")
            max_frames = capped
        gens = split_generations(needed, max_frames=max_frames, step=sp.step, fixed=sp.fixed)
        made = gens[0] + sum(g - 1 for g in gens[1:])
        if len(gens) > 1:
            adjusted.append(f"generations: {needed} native frames > {max_frames} per generation → "
                            f"{len(gens)} generations of {gens} frames chained by last frame")
        if made != needed:
            adjusted.append(f"frames: {needed} → {made} generated ({_rule(sp)}); the extra ones are dropped")
        area = s.max_area or sp.native_area
        w, h = fit_size(request.width, request.height, multiple=sp.multiple, max_area=area)
        if (w, h) != (request.width, request.height):
            adjusted.append(f"size: {request.width}x{request.height} → {w}x{h} generated (multiples of "
                            f"{sp.multiple}, at most {area} px), scaled back when encoding")
        for line in adjusted:
            log.warning("%s: %s", where, line)
        return {"native_fps": sp.native_fps, "indices": indices, "generations": gens, "width": w, "height": h,
                "adjusted": adjusted}

    # --------------------------------------------------------------------------------- generation
    def keyframe_size(self, request: ClipRequest) -> tuple[int, int] | None:
        """The size the keyframe of ``request`` is made at, or None when its clip uses no keyframe
        (no keyframe model, or a start image and a model without a last frame). Loads the video
        model (its constraints decide)."""
        sp = self.spec
        if self.keyframe is None or not (request.image is None or sp.supports_last):
            return None
        return fit_size(request.width, request.height, multiple=sp.multiple,
                        max_area=self.settings.max_area or sp.native_area)

    def keyframe_image(self, request: ClipRequest, width: int, height: int,
                       callback: Callable[..., dict] | None = None) -> Any:
        """The keyframe of ``request`` (a PIL image, ``width`` x ``height``) from the keyframe model
        alone: the video model is not loaded, so the two may live on different GPUs."""
        import torch

        s = self.settings
        negative = s.negative_prompt if s.negative_prompt is not None else request.negative_prompt
        reference = fit_image(open_image(s.character, where="--character"), width, height) if s.character else None
        gen = torch.Generator("cpu").manual_seed(request.seed % (1 << 63))
        return self._kf_family.keyframe(
            self.keyframe_pipeline(), prompt=request.image_prompt, negative_prompt=negative, width=width,
            height=height, steps=s.keyframe_steps or s.steps, guidance=None, generator=gen, reference=reference,
            strength=s.character_strength, callback=callback, cache=self._kf_cache)

    def generate(self, request: ClipRequest, out: Path,
                 progress: ProgressFn | None = None, *, keyframe: Any = None) -> GeneratedClip:
        """Make the clip of ``request`` into ``out`` (exactly ``request.n_frames`` frames at ``request.fps``).

        ``progress`` receives ``Progress("clip", done, total)`` counting denoising steps (keyframe + every generation), then frames
        encoded are not reported separately. ``keyframe``: the keyframe already made elsewhere
        (:meth:`keyframe_image`, the same pixels this would make), so the keyframe model is not
        loaded here.

        Returns
        -------
        GeneratedClip
            ``adjusted`` (lines) and ``details``: encoder fields (see
            :func:`~mvtimeline.generate.encode.encode_video`), ``model``, ``pipeline``,
            ``native_fps``, ``generations``, ``generated_size``, ``steps``, ``guidance``,
            ``start_image`` (``request``/``keyframe``), ``last_image`` (bool), ``device``,
            ``dtype``, ``seconds_by_stage``.
        """
        import numpy as np
        import torch
        from PIL import Image

        self.check(request)
        t0 = time.perf_counter()
        pipe = self.video_pipeline()
        sp = self.spec
        plan = self.plan(request)
        adjusted = list(self._load_notes) + plan["adjusted"]
        w, h = plan["width"], plan["height"]
        s = self.settings
        steps = s.steps or sp.steps
        guidance = s.guidance if s.guidance is not None else sp.guidance
        negative = s.negative_prompt if s.negative_prompt is not None else request.negative_prompt
        prompt = ", ".join(p for p in (request.image_prompt, request.motion_prompt) if p)
        use_keyframe = self.keyframe is not None and (request.image is None or sp.supports_last)
        kf_steps = s.keyframe_steps or s.steps or 50  # 50: the usual T2I pipeline default
        if s.character:
            kf_steps = max(1, int(kf_steps * s.character_strength))
        total = len(plan["generations"]) * steps + (kf_steps if use_keyframe and keyframe is None else 0)
        done = [0]

        def step_cb(_pipe: Any, i: int, t: Any, kwargs: dict) -> dict:
            done[0] += 1
            if progress is not None:
                progress(Progress("clip", done[0], max(total, done[0])))
            return {}

        stages: dict[str, float] = {}
        keyframe_img = None
        if use_keyframe and keyframe is not None:  # made elsewhere
            keyframe_img = keyframe.convert("RGB")
            if keyframe_img.size != (w, h):
                keyframe_img = fit_image(keyframe_img, w, h)
        elif use_keyframe:
            t1 = time.perf_counter()
            keyframe_img = self.keyframe_image(request, w, h, callback=step_cb)
            stages["keyframe_s"] = round(time.perf_counter() - t1, 3)
        if request.image is not None:
            first = fit_image(open_image(request.image, where=f"segment {request.segment_index}"), w, h)
            start = "request"
            last = keyframe_img if (keyframe_img is not None and sp.supports_last) else None
        else:
            first, start, last = keyframe_img, "keyframe", None

        if sp.requires_last and last is None:
            note = (f"{self.video.class_name} needs a last frame and none was given (no keyframe model); "
                    "using the start image as the last frame")
            log.warning("segment %d: %s", request.segment_index, note)
            adjusted.append(note)
        t1 = time.perf_counter()
        pieces = []
        image = first
        n_gens = len(plan["generations"])
        for g, n in enumerate(plan["generations"]):
            gen = torch.Generator("cpu").manual_seed((request.seed + g) % (1 << 63))
            end = last if g == n_gens - 1 else None
            if end is None and sp.requires_last:
                end = last if last is not None else image
            frames = self._family.call(
                pipe, image=image, last_image=end, prompt=prompt,
                negative_prompt=negative, width=w, height=h, num_frames=n, steps=steps, guidance=guidance,
                generator=gen, callback=step_cb)
            arr = to_uint8(frames)
            if arr.shape[0] != n:
                raise RunError(f"segment {request.segment_index}: {self.video.class_name} returned {arr.shape[0]} "
                               f"frames, expected {n}")
            pieces.append(arr if g == 0 else arr[1:])
            image = Image.fromarray(arr[-1])
        native = np.concatenate(pieces, axis=0)
        stages["video_s"] = round(time.perf_counter() - t1, 3)
        indices = plan["indices"]

        t1 = time.perf_counter()
        meta = encode_video((native[j] for j in indices), out, width=request.width, height=request.height,
                            fps=request.fps, n_frames=request.n_frames, settings=EncodeSettings(), scale=True)
        stages["encode_s"] = round(time.perf_counter() - t1, 3)
        stages["total_s"] = round(time.perf_counter() - t0, 3)
        meta.update(
            model=self.video.given, model_fingerprint=self.video.fingerprint, pipeline=self.video.class_name,
            keyframe_model=self.keyframe.given if self.keyframe else None,
            native_fps=_fmt(sp.native_fps), generations=list(plan["generations"]), native_frames=int(len(native)),
            generated_size=[w, h], steps=steps, guidance=guidance, start_image=start,
            last_image=last is not None, device=self._device, dtype=str(self._dtype).replace("torch.", ""),
            seconds_by_stage=stages,
        )
        return GeneratedClip(n_frames=meta.pop("frames"), details=meta, adjusted=tuple(adjusted))


def _fmt(fps: Fraction) -> str:
    fps = Fraction(fps)
    return str(fps.numerator) if fps.denominator == 1 else f"{fps.numerator}/{fps.denominator}"


def _rule(sp: VideoSpec) -> str:
    if sp.fixed:
        return f"the model makes {sp.max_frames} frames per generation"
    return f"{sp.step}k+1 frames" if sp.step > 1 else "any count"
