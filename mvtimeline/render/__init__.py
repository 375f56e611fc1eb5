"""Render stage: a Kdenlive/MLT project → a video file, with melt, in a render preset.

Public: render, portable, RenderResult, project_frames, check_fonts (from
:mod:`mvtimeline.render.melt`); RenderPreset, load_preset, list_presets, check_output (from
:mod:`mvtimeline.render.presets`).
"""

from __future__ import annotations

from .melt import RenderResult, check_fonts, portable, project_frames, render
from .presets import RenderPreset, check_output, list_presets, load_preset

__all__ = ["render", "portable", "RenderResult", "project_frames", "check_fonts", "RenderPreset",
           "load_preset", "list_presets", "check_output"]
