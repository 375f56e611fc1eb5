"""Wan image-to-video through diffusers' ``WanImageToVideoPipeline``.

One class serves Wan 2.1 I2V (480P/720P), Wan 2.1 FLF2V (first + last frame), Wan 2.2 I2V-A14B (two
experts; takes a last frame) and Wan 2.2 TI2V-5B (packaged as ``WanPipeline``; loaded here as
image-to-video). Frame counts are ``4k+1`` (the VAE's temporal factor), sizes multiples of
``vae_scale_factor_spatial * patch_size`` (16, or 32 for TI2V-5B); native rate 16 fps (24 for TI2V-5B).

Public: load, spec, call.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .common import DiffusersSettings, ModelRef, VideoSpec, load_pipeline

__all__ = ["load", "spec", "call"]

#: One generation at the native length, in seconds (Wan 2.1/2.2 I2V: 81 frames at 16 fps; TI2V-5B:
#: 121 at 24), before the model is loaded: the planner fits sung segments to it.
CLIP_SECONDS = 5.0
#: Frames per second assumed with a max_frames setting before the model is loaded.
NATIVE_FPS_GUESS = 16


def load(ref: ModelRef, settings: DiffusersSettings, *, device: str, dtype: Any, notes: list[str]) -> Any:
    """``WanImageToVideoPipeline.from_pretrained(folder)`` (also for a TI2V-5B ``WanPipeline`` folder)."""
    from diffusers import WanImageToVideoPipeline

    return load_pipeline(WanImageToVideoPipeline, ref, settings, device=device, dtype=dtype, notes=notes)


def spec(pipe: Any) -> VideoSpec:
    """Frame rule, size multiple, native rate and length of a loaded Wan pipeline."""
    ti2v = bool(getattr(pipe.config, "expand_timesteps", False))
    tcfg = pipe.transformer.config
    patch = tcfg.patch_size[1] if isinstance(tcfg.patch_size, (list, tuple)) else tcfg.patch_size
    flf = getattr(tcfg, "pos_embed_seq_len", None) is not None
    two_experts = getattr(pipe, "transformer_2", None) is not None
    return VideoSpec(
        step=int(pipe.vae_scale_factor_temporal),
        fixed=False,
        max_frames=121 if ti2v else 81,
        multiple=int(pipe.vae_scale_factor_spatial) * int(patch),
        native_fps=Fraction(24 if ti2v else 16),
        native_area=704 * 1280 if ti2v else 480 * 832,
        # TI2V-5B silently ignores last_image; Wan 2.1 I2V (not FLF) crashes on it
        supports_last=(flf or two_experts) and not ti2v,
        steps=50,
        guidance=5.0,
        requires_last=flf,  # the FLF2V transformer embeds two images, always
    )


def call(pipe: Any, *, image: Any, last_image: Any | None, prompt: str, negative_prompt: str, width: int,
         height: int, num_frames: int, steps: int, guidance: float, generator: Any,
         callback: Callable[..., dict] | None) -> Any:
    """One generation: ``num_frames`` frames (already 4k+1) as floats in 0..1, shape (F, H, W, 3)."""
    kwargs: dict[str, Any] = {}
    if last_image is not None:
        kwargs["last_image"] = last_image
    out = pipe(image=image, prompt=prompt, negative_prompt=negative_prompt or None, height=height, width=width,
               num_frames=num_frames, num_inference_steps=steps, guidance_scale=guidance, generator=generator,
               output_type="np", callback_on_step_end=callback, **kwargs)
    return out.frames[0]
