"""Banded dynamic time warping of a spoken template (all lines, with pauses) against the song.

Rows are template frames, columns song frames. Only a band of columns per row is evaluated (a
Sakoe–Chiba band around a prior path, e.g. the interim placement), so memory and time grow with
``rows × band`` rather than ``rows × columns``. Costs are computed inside the loop:

* a *speech* row ``j`` against song frame ``t``: ``w_mfcc · level_j · (1 − cos(mfcc_j, mfcc_t)) / 2
  + w_voice · (1 − voice_t)``: the spoken MFCCs should look like the sung ones, and the song
  should have voice there;
* a *pause* row (between lines, and before the first and after the last): ``w_voice · voice_t ·
  pause_weight_j``: pauses go where the voice is silent.

Steps: diagonal, horizontal (the song advances, the template waits: held notes and pauses) and
vertical (the template advances, the song waits) with an extra ``vertical_penalty``. The path
starts at (0, 0) and ends at (rows − 1, columns − 1). This is the monotone line → vocal-phrase
assignment and the frame-level warp in one dynamic programme.

Internal to :mod:`mvtimeline.lyrics` (used by :mod:`.dsp`).

Public: banded_dtw.
"""

from __future__ import annotations

import numpy as np

__all__ = ["banded_dtw"]

from .jit import njit


@njit(cache=True, nogil=True)
def _dtw(tm, level, pause_w, sm, voice, lo, hi, w_mfcc, w_voice, vpen, hpen):  # pragma: no cover - numba
    J = tm.shape[0]
    D_dim = tm.shape[1]
    W = 0
    for j in range(J):
        W = max(W, hi[j] - lo[j])
    inf = 1e30
    D = np.full((J, W), inf)
    B = np.zeros((J, W), np.int8)
    for j in range(J):
        for t in range(lo[j], hi[j]):
            if pause_w[j] >= 0.0:
                c = w_voice * voice[t] * pause_w[j]
            else:
                dot = 0.0
                for k in range(D_dim):
                    dot += tm[j, k] * sm[t, k]
                c = w_mfcc * level[j] * 0.5 * (1.0 - dot) + w_voice * (1.0 - voice[t])
            best = inf
            arg = 0
            if j == 0 and t == 0:
                best = 0.0
            if j > 0 and lo[j - 1] <= t - 1 < hi[j - 1]:
                d = D[j - 1, t - 1 - lo[j - 1]]
                if d < best:
                    best = d
                    arg = 0
            if t > lo[j]:
                d = D[j, t - 1 - lo[j]] + (hpen if pause_w[j] < 0.0 else 0.0)
                if d < best:
                    best = d
                    arg = 1
            if j > 0 and lo[j - 1] <= t < hi[j - 1]:
                d = D[j - 1, t - lo[j - 1]] + vpen
                if d < best:
                    best = d
                    arg = 2
            if best < inf:
                D[j, t - lo[j]] = best + c
                B[j, t - lo[j]] = arg
    # backtrack from the last cell
    T_end = hi[J - 1] - 1
    path_j = np.empty(J + T_end + 2, np.int64)
    path_t = np.empty(J + T_end + 2, np.int64)
    n = 0
    j = J - 1
    t = T_end
    total = D[j, t - lo[j]]
    if total >= inf:
        return path_j[:0].copy(), path_t[:0].copy(), total
    while True:
        path_j[n] = j
        path_t[n] = t
        n += 1
        if j == 0 and t == 0:
            break
        a = B[j, t - lo[j]]
        if a == 0:
            j -= 1
            t -= 1
        elif a == 1:
            t -= 1
        else:
            j -= 1
    return path_j[:n][::-1].copy(), path_t[:n][::-1].copy(), total


def banded_dtw(
    template: np.ndarray,
    level: np.ndarray,
    pause_weight: np.ndarray,
    song: np.ndarray,
    voice: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    w_mfcc: float = 1.0,
    w_voice: float = 0.5,
    vertical_penalty: float = 0.05,
    horizontal_penalty: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Warp ``template`` rows onto ``song`` columns inside the band ``[lo[j], hi[j])``.

    Parameters
    ----------
    template : np.ndarray, shape (J, d)
        Unit-length feature rows of the spoken lines (pause rows may hold anything).
    level : np.ndarray, shape (J,)
        0..1 loudness of each speech row (quiet rows count less).
    pause_weight : np.ndarray, shape (J,)
        < 0 for a speech row; >= 0 for a pause row (the weight of voice found under it).
    song : np.ndarray, shape (T, d)
        Unit-length feature rows of the song.
    voice : np.ndarray, shape (T,)
        0..1 voice presence per song frame.
    lo, hi : np.ndarray of int, shape (J,)
        Band per row; non-decreasing, ``lo[0] == 0``, ``hi[-1] == T``, ``lo[j] < hi[j]``.
    vertical_penalty, horizontal_penalty : float >= 0
        Extra cost of a step where only the template advances / only the song advances on a
        speech row (a held note; pause rows wait for free).

    Returns
    -------
    path_rows, path_cols : np.ndarray of int
        The warping path from (0, 0) to (J − 1, T − 1).
    total_cost : float
        Accumulated cost (``>= 1e30`` when the band admits no path).
    """
    pj, pt, total = _dtw(
        np.ascontiguousarray(template, dtype=np.float64),
        np.ascontiguousarray(level, dtype=np.float64),
        np.ascontiguousarray(pause_weight, dtype=np.float64),
        np.ascontiguousarray(song, dtype=np.float64),
        np.ascontiguousarray(voice, dtype=np.float64),
        np.ascontiguousarray(lo, dtype=np.int64),
        np.ascontiguousarray(hi, dtype=np.int64),
        float(w_mfcc),
        float(w_voice),
        float(vertical_penalty),
        float(horizontal_penalty),
    )
    return pj, pt, float(total)
