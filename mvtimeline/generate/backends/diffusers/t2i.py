"""Keyframes through ``AutoPipelineForText2Image`` (SD 1.5, SDXL, SD3, Flux...), img2img with a reference.

With a character image the keyframe is made by ``AutoPipelineForImage2Image.from_pipe`` of the same
weights (no second load): the reference image, cover-fitted to the frame, denoised towards the prompt
with ``strength``.

Public: load, keyframe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .common import DiffusersSettings, ModelRef, load_pipeline

__all__ = ["load", "keyframe"]


def load(ref: ModelRef, settings: DiffusersSettings, *, device: str, dtype: Any, notes: list[str]) -> Any:
    """``AutoPipelineForText2Image.from_pretrained(folder)``."""
    from diffusers import AutoPipelineForText2Image

    return load_pipeline(AutoPipelineForText2Image, ref, settings, device=device, dtype=dtype, notes=notes)


def keyframe(pipe: Any, *, prompt: str, negative_prompt: str, width: int, height: int, steps: int | None,
             guidance: float | None, generator: Any, reference: Any | None = None, strength: float = 0.6,
             callback: Callable[..., dict] | None = None, cache: dict[str, Any] | None = None) -> Any:
    """One keyframe as a PIL image of ``width`` x ``height`` (multiples of 16).

    ``reference`` (a PIL image already at the frame size) switches to img2img; the img2img pipeline
    is made once with ``from_pipe`` and kept in ``cache``.
    """
    import inspect

    kwargs: dict[str, Any] = {"prompt": prompt, "generator": generator, "output_type": "pil",
                              "callback_on_step_end": callback}
    if steps is not None:
        kwargs["num_inference_steps"] = steps
    if guidance is not None:
        kwargs["guidance_scale"] = guidance
    target = pipe
    if reference is not None:
        from diffusers import AutoPipelineForImage2Image

        cache = cache if cache is not None else {}
        if "i2i" not in cache:
            cache["i2i"] = AutoPipelineForImage2Image.from_pipe(pipe)
            cache["i2i"].set_progress_bar_config(disable=True)
        target = cache["i2i"]
        kwargs.update(image=reference, strength=strength)
    params = inspect.signature(target.__call__).parameters
    if "height" in params:
        kwargs.update(height=height, width=width)
    if negative_prompt and "negative_prompt" in params:
        kwargs["negative_prompt"] = negative_prompt
    image = target(**kwargs).images[0]
    if image.size != (width, height):
        image = image.resize((width, height))
    return image.convert("RGB")
