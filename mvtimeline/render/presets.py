"""Render presets: TOML files bundled in ``mvtimeline/templates/render/`` (or the user's own, by
path) naming codec, size and quality.

Public: RenderPreset, load_preset, list_presets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..bundled import bundled_names, load_toml_file
from ..errors import InputError

__all__ = ["RenderPreset", "load_preset", "list_presets"]


@dataclass(frozen=True)
class RenderPreset:
    """How to encode a render.

    ``width``/``height`` (pixels) is the frame size the preset is made for (None: the project's);
    ``scale_width`` scales to that width keeping the project's shape. ``crf`` and ``x264_preset``
    apply to libx264; ``extra`` holds further melt avformat consumer properties.
    """

    name: str
    description: str = ""
    width: int | None = None
    height: int | None = None
    scale_width: int | None = None
    suffix: str = ".mp4"
    vcodec: str = "libx264"
    pix_fmt: str = "yuv420p"
    crf: int | None = 20
    x264_preset: str = "veryfast"
    acodec: str = "aac"
    audio_bitrate: str | None = "192k"
    extra: dict[str, str] = field(default_factory=dict)

    def size_for(self, project_w: int, project_h: int) -> tuple[int, int] | None:
        """Output size for a project of ``project_w``x``project_h``; None keeps the project's size.

        Raises
        ------
        InputError
            The preset's shape differs from the project's (it would distort the picture).
        """
        if self.width and self.height:
            if (self.width, self.height) == (project_w, project_h):
                return None
            if self.width * project_h != self.height * project_w:
                raise InputError(
                    f"render preset {self.name!r} is {self.width}x{self.height} but the project is "
                    f"{project_w}x{project_h}: another shape; make the project with --size "
                    f"{self.width}x{self.height} (or run --preset {self.name})")
            return self.width, self.height
        if self.scale_width:
            w = self.scale_width - self.scale_width % 2
            h = round(project_h * w / project_w / 2) * 2
            return (w, h) if (w, h) != (project_w, project_h) else None
        return None


def list_presets() -> list[str]:
    """Names of the bundled presets."""
    return bundled_names("render")


_FIELDS = set(RenderPreset.__dataclass_fields__)


def load_preset(name_or_path: str | Path) -> RenderPreset:
    """A bundled preset by name, or a preset file by path.

    Raises
    ------
    InputError
        Unknown name (the message lists the known ones), unreadable file or unknown key.
    """
    p, data = load_toml_file("render", name_or_path, keys=_FIELDS)
    data.setdefault("name", p.stem)
    data["extra"] = {str(k): str(v) for k, v in dict(data.get("extra", {})).items()}
    try:
        return RenderPreset(**data)
    except TypeError as exc:
        raise InputError(f"{p}: {exc}") from None
