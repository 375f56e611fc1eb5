"""Render stage: a Kdenlive/MLT project → a video file, with melt.

Public: render, RenderResult, project_frames (from :mod:`mvtimeline.render.melt`).
"""

from __future__ import annotations

from .melt import RenderResult, project_frames, render

__all__ = ["render", "RenderResult", "project_frames"]
