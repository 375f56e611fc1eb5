"""LTX-Video image-to-video through diffusers' ``LTXImageToVideoPipeline``.

Frame counts are ``8k+1`` for the released models (the VAE's temporal compression; read from the
loaded VAE), sizes multiples of 32 (the pipeline refuses others); generated at 24 fps (passed as
``frame_rate``). An ``LTXPipeline`` (text-to-video) folder has the same components and is loaded
as image-to-video.

Public: load, spec, call.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from .common import DiffusersSettings, ModelRef, VideoSpec, load_pipeline

__all__ = ["load", "spec", "call"]

NATIVE_FPS = 24
#: One generation at the native length, in seconds (161 frames at 24 fps).
CLIP_SECONDS = 161 / NATIVE_FPS
NATIVE_FPS_GUESS = NATIVE_FPS


def load(ref: ModelRef, settings: DiffusersSettings, *, device: str, dtype: Any, notes: list[str]) -> Any:
    """``LTXImageToVideoPipeline.from_pretrained(folder)``."""
    from diffusers import LTXImageToVideoPipeline

    return load_pipeline(LTXImageToVideoPipeline, ref, settings, device=device, dtype=dtype, notes=notes)


def spec(pipe: Any) -> VideoSpec:
    """Frame rule, size multiple, native rate and length of a loaded LTX pipeline."""
    spatial = int(pipe.vae_spatial_compression_ratio) * int(pipe.transformer_spatial_patch_size)
    return VideoSpec(
        step=int(pipe.vae_temporal_compression_ratio) * int(pipe.transformer_temporal_patch_size),
        fixed=False,
        max_frames=161,
        multiple=max(32, spatial),
        native_fps=Fraction(NATIVE_FPS),
        native_area=512 * 704,
        supports_last=False,
        steps=50,
        guidance=3.0,
    )


def call(pipe: Any, *, image: Any, last_image: Any | None, prompt: str, negative_prompt: str, width: int,
         height: int, num_frames: int, steps: int, guidance: float, generator: Any,
         callback: Callable[..., dict] | None) -> Any:
    """One generation: ``num_frames`` frames (already 8k+1) as floats in 0..1, shape (F, H, W, 3)."""
    out = pipe(image=image, prompt=prompt, negative_prompt=negative_prompt or None, height=height, width=width,
               num_frames=num_frames, frame_rate=NATIVE_FPS, num_inference_steps=steps, guidance_scale=guidance,
               generator=generator, output_type="np", callback_on_step_end=callback)
    return out.frames[0]
