"""Model frame grids and sizes: the frame counts and frame sizes a video model accepts, and which of
its frames lands on each frame of the project. Shared by the diffusers and ComfyUI backends (and
the shot pack), applied by us, never by a pipeline's silent rounding.

- :class:`FrameGrid` — counts ``step * k + offset`` (``"4k+1"`` Wan, ``"8k+1"`` LTX, ``"5+17k"``);
- :func:`round_frames`, :func:`split_generations` — a count on a ``step*k + 1`` grid, and the chained
  generations that make a long clip;
- :func:`native_indices` — the model's frame (at its native rate) nearest each project frame;
- :func:`fit_size` — a generation size in a model's multiples (16, 32) within its area.

Public: FrameGrid, round_frames, split_generations, native_indices, fit_size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from mvtimeline.errors import InputError

__all__ = ["FrameGrid", "round_frames", "split_generations", "native_indices", "fit_size"]

_GRID = re.compile(r"^\s*(?:(\d+)\s*\+\s*(\d*)\s*k|(\d*)\s*k\s*(?:\+\s*(\d+))?)\s*$")


@dataclass(frozen=True)
class FrameGrid:
    """Frame counts a model accepts: ``step * k + offset`` for k >= 0 (``"4k+1"``, ``"5+17k"``)."""

    step: int = 1
    offset: int = 0

    @classmethod
    def parse(cls, text: str) -> FrameGrid:
        """``"4k+1"``, ``"5+17k"``, ``"8k+1"``, ``"k"``.

        Examples
        --------
        >>> FrameGrid.parse("4k+1"), FrameGrid.parse("5+17k")
        (FrameGrid(step=4, offset=1), FrameGrid(step=17, offset=5))
        """
        m = _GRID.match(str(text))
        if not m:
            raise InputError(f"frame grid {text!r}: write it like 4k+1, 5+17k or k")
        if m.group(1) is not None:
            offset, step = int(m.group(1)), int(m.group(2) or 1)
        else:
            step, offset = int(m.group(3) or 1), int(m.group(4) or 0)
        if step < 1:
            raise InputError(f"frame grid {text!r}: the step must be at least 1")
        return cls(step, offset)

    def at_least(self, n: int) -> int:
        """The smallest count on the grid that is >= ``n`` (and >= 1).

        Examples
        --------
        >>> FrameGrid(4, 1).at_least(50), FrameGrid(17, 5).at_least(124)
        (53, 124)
        """
        k = max(0, math.ceil((max(n, 1) - self.offset) / self.step))
        return self.step * k + self.offset if self.step * k + self.offset >= 1 else self.step + self.offset

    def __str__(self) -> str:
        return f"{self.step}k+{self.offset}" if self.offset else f"{self.step}k"


def round_frames(n: int, step: int) -> int:
    """Smallest count ``step*k + 1`` that is >= ``n`` (``step`` <= 1: ``n`` itself).

    Examples
    --------
    >>> round_frames(20, 4), round_frames(21, 4), round_frames(10, 8), round_frames(7, 1)
    (21, 21, 17, 7)
    """
    n = max(1, int(n))
    if step <= 1:
        return n
    return (n - 1 + step - 1) // step * step + 1


def split_generations(needed: int, *, max_frames: int, step: int, fixed: bool = False) -> list[int]:
    """Frame counts of the generations that make ``needed`` native frames, chained by last frame.

    Each generation after the first starts from the previous one's last frame, whose copy (its first
    frame) is dropped, so it adds ``count - 1`` frames. Counts follow the ``step*k + 1`` rule, are at
    least ``step + 1`` and at most ``max_frames``; with ``fixed`` every count is ``max_frames``.

    Examples
    --------
    >>> split_generations(30, max_frames=81, step=4)
    [33]
    >>> split_generations(100, max_frames=81, step=4)
    [81, 21]
    >>> split_generations(20, max_frames=14, step=1, fixed=True)
    [14, 14]
    """
    if max_frames < 2:
        raise InputError(f"max_frames {max_frames} must be >= 2")
    counts: list[int] = []
    have = 0
    lowest = max(2, step + 1)
    while have < needed:
        need = needed - have + (1 if counts else 0)
        c = max_frames if fixed else min(max_frames, max(round_frames(need, step), lowest))
        have += c - (1 if counts else 0)
        counts.append(c)
    return counts


def native_indices(n_frames: int, fps: Fraction, native_fps: Fraction) -> list[int]:
    """For each output frame at ``fps``, the nearest native frame at ``native_fps`` (from the absolute time).

    Examples
    --------
    >>> native_indices(5, Fraction(30), Fraction(15))
    [0, 1, 1, 2, 2]
    """
    ratio = Fraction(native_fps) / Fraction(fps)
    return [int(math.floor(i * ratio + Fraction(1, 2))) for i in range(n_frames)]


def fit_size(width: int, height: int, *, multiple: int, max_area: int | None) -> tuple[int, int]:
    """Generation size: the aspect of ``width`` x ``height``, at most ``max_area`` pixels, in multiples.

    Examples
    --------
    >>> fit_size(1920, 1080, multiple=16, max_area=480 * 832)
    (832, 464)
    >>> fit_size(64, 48, multiple=32, max_area=None)
    (64, 32)
    """
    w, h = float(width), float(height)
    if max_area and w * h > max_area:
        s = math.sqrt(max_area / (w * h))
        w, h = w * s, h * s
    return max(multiple, int(w) // multiple * multiple), max(multiple, int(h) // multiple * multiple)
