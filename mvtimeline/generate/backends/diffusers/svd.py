"""Stable Video Diffusion (SVD / SVD-XT) through diffusers' ``StableVideoDiffusionPipeline``.

No text prompt: the clip comes from the image alone. Every generation has the UNet's trained
``num_frames`` (14 SVD, 25 XT) at 7 fps (the model is conditioned on ``fps - 1``); sizes are multiples
of 8. ``guidance`` sets ``max_guidance_scale`` (guidance ramps from 1.0 over the frames). The
temporal VAE decoder cannot tile; frames are decoded in chunks of 8 instead.

Public: load, spec, call.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .common import DiffusersSettings, ModelRef, VideoSpec, load_pipeline

__all__ = ["load", "spec", "call"]

NATIVE_FPS = 7
#: One generation, in seconds (SVD-XT: 25 frames at 7 fps; SVD: 14).
CLIP_SECONDS = 25 / NATIVE_FPS
NATIVE_FPS_GUESS = NATIVE_FPS


def load(ref: ModelRef, settings: DiffusersSettings, *, device: str, dtype: Any, notes: list[str]) -> Any:
    """``StableVideoDiffusionPipeline.from_pretrained(folder)``."""
    from diffusers import StableVideoDiffusionPipeline

    return load_pipeline(StableVideoDiffusionPipeline, ref, settings, device=device, dtype=dtype, notes=notes)


def spec(pipe: Any) -> VideoSpec:
    """Fixed frame count (the UNet's ``num_frames``), size multiple 8, 7 fps."""
    return VideoSpec(
        step=1,
        fixed=True,
        max_frames=int(pipe.unet.config.num_frames),
        multiple=int(pipe.vae_scale_factor),
        native_fps=Fraction(NATIVE_FPS),
        native_area=576 * 1024,
        supports_last=False,
        steps=25,
        guidance=3.0,
    )


def call(pipe: Any, *, image: Any, last_image: Any | None, prompt: str, negative_prompt: str, width: int,
         height: int, num_frames: int, steps: int, guidance: float, generator: Any,
         callback: Callable[..., dict] | None) -> Any:
    """One generation of ``num_frames`` frames as floats in 0..1, shape (F, H, W, 3); prompts unused."""
    out = pipe(image=image, height=height, width=width, num_frames=num_frames, num_inference_steps=steps,
               max_guidance_scale=max(1.0, guidance), fps=NATIVE_FPS, decode_chunk_size=min(8, num_frames),
               generator=generator, output_type="np", callback_on_step_end=callback)
    return out.frames[0]
