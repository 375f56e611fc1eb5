"""Comparing clips made in different places (test helper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def same_pictures(a: Path, b: Path) -> bool:
    """The two clips show the same frames: as many, each within encoder noise of the other. (Not
    bytes: PyAV's H.264 encode of identical frames is not bit-reproducible run to run while
    another thread makes frames; measured 3 outcomes in 20 encodes, pixels within a level or two.)"""
    import av

    def frames(p: Path) -> list:
        with av.open(str(p)) as c:
            return [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(video=0)]
    fa, fb = frames(a), frames(b)
    return len(fa) == len(fb) and all(np.abs(x - y).mean() < 2.0 for x, y in zip(fa, fb))

