"""Render stage: a Kdenlive/MLT project → a video file, with melt, in a render preset.

Public: render, RenderResult, project_frames (from :mod:`mvtimeline.render.melt`);
RenderPreset, load_preset, list_presets (from :mod:`mvtimeline.render.presets`).
"""

from __future__ import annotations

from .melt import RenderResult, project_frames, render
from .presets import RenderPreset, list_presets, load_preset

__all__ = ["render", "RenderResult", "project_frames", "RenderPreset", "load_preset", "list_presets"]
