"""The settings of one run (fps, size, backend, style...), from defaults, mvtimeline.toml and flags.

Public: Config, parse_size, load_toml.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .errors import InputError
from .frames import parse_fps

__all__ = ["Config", "parse_size", "load_toml"]


@dataclass(frozen=True)
class Config:
    """Settings for a run. Sizes in pixels, times in seconds, ``fps`` exact."""

    fps: Fraction = Fraction(30)
    width: int = 1920
    height: int = 1080
    backend: str = "procedural"
    style: str = "cinematic"
    dissolve_s: float = 0.5
    max_segment_s: float | None = None  # None: the backend's max_seconds
    takes: int = 1
    images: tuple[Path, ...] = field(default_factory=tuple)
    beat_guides: bool = False
    kdenlive_format: str = "1.04"
    video: Path | None = None  # the loop job: a clip looped over the whole song
    pingpong: bool = False
    crop_bottom: float = 0.0  # fraction of the height cut off the bottom of the user's image/video
    diffusers: dict[str, Any] = field(default_factory=dict, hash=False)  # settings of the diffusers backend

    def backend_settings(self) -> dict[str, Any]:
        """Keyword settings for ``get_backend(self.backend, ...)``: the ``diffusers`` dict for that backend."""
        return dict(self.diffusers) if self.backend == "diffusers" else {}

    @property
    def head_s(self) -> float:
        """Extra seconds generated before a segment's first frame: none, since dissolves start at
        the cut (the incoming clip shows its own first frame at the cut)."""
        return 0.0

    @property
    def tail_s(self) -> float:
        """Extra seconds generated after a segment's last frame: the dissolve into the next segment
        plus two frames, so the outgoing clip can run on under the whole dissolve."""
        return self.dissolve_s + 2 / float(self.fps)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` → ``(1920, 1080)``; both even and at least 16.

    Examples
    --------
    >>> parse_size("1080x1920")
    (1080, 1920)
    """
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not m:
        raise InputError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1920x1080")
    w, h = int(m.group(1)), int(m.group(2))
    if w < 16 or h < 16 or w > 8192 or h > 8192 or w % 2 or h % 2:
        raise InputError(f"size {text!r}: width and height must be even numbers from 16 to 8192")
    return w, h


_TOML_KEYS = {"fps", "size", "backend", "style", "dissolve", "max_segment", "takes", "beat_guides", "kdenlive_format"}


def load_toml(path: Path) -> dict[str, Any]:
    """Read ``mvtimeline.toml`` into click default_map values; an unknown key is an ``InputError``."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        raise InputError(f"{path}: unknown key {unknown[0]!r}; known: {', '.join(sorted(_TOML_KEYS))}")
    if "fps" in data:
        parse_fps(str(data["fps"]))
    if "size" in data:
        parse_size(str(data["size"]))
    return data
