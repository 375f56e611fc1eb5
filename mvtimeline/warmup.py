"""Compile the numba code (librosa's beat tracker and friends, the aligner's DTW and structure DP)
once, in one process.

numba keeps compiled code in an on-disk cache beside the sources; two processes that compile the
same function at the same moment can leave that cache corrupt, and every later process that loads
it crashes. So whatever is about to start several processes (a parallel batch, ``make deps``, the
test session) first calls :func:`warm_up` in a single process.

Public: warm_up.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["warm_up"]

log = logging.getLogger(__name__)


def warm_up() -> None:
    """Run the analysis on 6 s of synthetic clicks and the aligner's DTW on a toy problem."""
    import soundfile as sf

    from .audio import analyze
    from .lyrics.align.dtw import banded_dtw
    from .lyrics.align.structure import compile_kernels

    sr = 22050
    t = np.arange(6 * sr) / sr
    y = 0.05 * np.sin(2 * np.pi * 220 * t)
    for beat in np.arange(0.25, 6.0, 0.5):
        i = int(beat * sr)
        y[i: i + 400] += np.hanning(800)[400:] * 0.8
    with tempfile.TemporaryDirectory(prefix="mvtimeline-warmup-") as tmp:
        path = Path(tmp) / "clicks.wav"
        sf.write(str(path), y.astype(np.float32), sr)
        analyze(path)
    rng = np.random.default_rng(0)
    j, n, d = 6, 40, 4
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    banded_dtw(unit(rng.random((j, d))), np.ones(j), np.full(j, -1.0), unit(rng.random((n, d))), rng.random(n),
               np.zeros(j, dtype=np.int64), np.full(j, n, dtype=np.int64))
    compile_kernels()
    log.info("numba code compiled and cached")


if __name__ == "__main__":
    warm_up()
