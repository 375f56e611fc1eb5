"""Where a clip's sound sits in the song: cross-correlation of log-mel band envelopes.

Both signals become log-mel spectrograms (40 bands, ``HOP_S`` hops) whose bands are each turned
into onset-like envelopes (the positive first difference, then standardised); the correlation of
the two, summed over bands, is computed for every lag in the search window with FFTs. The best
lag is refined to a fraction of a hop by a parabola through its neighbours. The confidence is the
peak less the best lag at least ``EXCLUDE_S`` away from it (a repeated chorus inside the window
shows up as a runner-up as high as the peak).

Public: find_offset, Offset, SR, HOP_S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["find_offset", "Offset", "SR", "HOP_S", "song_envelopes", "envelopes"]

SR = 22050
HOP = 128
HOP_S = HOP / SR  # 5.8 ms
N_MELS = 40
EXCLUDE_S = 0.25  # a runner-up lies at least this far from the peak


@dataclass(frozen=True)
class Offset:
    """``song_time = clip_time + offset_s``; ``score`` the peak correlation (-1..1), ``runner_up``
    the best correlation elsewhere in the window and ``runner_up_offset_s`` where, ``confidence``
    = score - runner_up (0: two places fit equally; about 0.4 for a clean copy of the song, 0.1
    for one under as much noise)."""

    offset_s: float
    score: float
    runner_up: float
    runner_up_offset_s: float
    confidence: float


def envelopes(samples: np.ndarray, sr: int = SR) -> np.ndarray:
    """Per-band onset envelopes (bands x frames), standardised, of mono ``samples`` at ``sr``."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(samples, dtype=np.float32), sr=sr, n_fft=1024, hop_length=HOP,
                                         n_mels=N_MELS, fmax=min(8000, sr // 2), center=True)
    logm = np.log1p(100.0 * mel)
    env = np.maximum(0.0, np.diff(logm, axis=1, prepend=logm[:, :1]))
    env -= env.mean(axis=1, keepdims=True)
    sd = env.std(axis=1, keepdims=True)
    return env / np.where(sd > 1e-9, sd, 1.0)


def song_envelopes(samples: np.ndarray, sr: int = SR) -> np.ndarray:
    """:func:`envelopes` of the whole song (computed once, searched for every clip)."""
    return envelopes(samples, sr)


def _corr(song: np.ndarray, clip: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Correlation per lag (frames, ``lo``..``hi``) of ``clip`` against ``song``, normalised by
    the overlap so a clip hanging over the song's ends is not rewarded."""
    from scipy.signal import fftconvolve

    n = clip.shape[1]
    a, b = max(0, lo), min(song.shape[1], hi + n)
    seg = song[:, a:b]
    if seg.shape[1] < 2:
        return np.arange(lo, hi + 1), np.full(hi - lo + 1, -1.0)
    full = np.zeros(seg.shape[1] + n - 1)
    for k in range(song.shape[0]):
        full += fftconvolve(seg[k], clip[k][::-1], mode="full")
    # full[j] = sum_t seg[t + j - (n - 1)] * clip[t]  → lag (song frame of clip frame 0) = a + j - (n - 1)
    lags = a + np.arange(full.size) - (n - 1)
    ones = np.ones(n)
    overlap = fftconvolve(np.ones(seg.shape[1]), ones, mode="full")
    score = full / (song.shape[0] * np.maximum(overlap, 1.0))
    score[overlap < 0.6 * n] = -1.0  # at least 60 % of the clip inside the song
    keep = (lags >= lo) & (lags <= hi)
    return lags[keep], score[keep]


def find_offset(clip: np.ndarray, song_env: np.ndarray, *, center_s: float, window_s: float,
                sr: int = SR) -> Offset:
    """Where ``clip`` (mono samples at ``sr``) best fits in the song (``song_env`` from
    :func:`song_envelopes`), searching ``song_time = clip_time + offset`` for offsets within
    ``center_s ± window_s``.

    Returns
    -------
    Offset
    """
    env = envelopes(clip, sr)
    lo = int(np.floor((center_s - window_s) / HOP_S))
    hi = int(np.ceil((center_s + window_s) / HOP_S))
    lags, score = _corr(song_env, env, lo, hi)
    k = int(np.argmax(score))
    frac = 0.0
    if 0 < k < score.size - 1:
        y0, y1, y2 = score[k - 1], score[k], score[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            frac = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
    peak_s = (lags[k] + frac) * HOP_S
    far = np.abs(lags - lags[k]) * HOP_S >= EXCLUDE_S
    if far.any():
        j = int(np.argmax(np.where(far, score, -np.inf)))
        runner, runner_s = float(score[j]), float(lags[j] * HOP_S)
    else:
        runner, runner_s = 0.0, peak_s
    peak = float(score[k])
    conf = max(0.0, peak - runner)
    return Offset(offset_s=peak_s, score=peak, runner_up=runner, runner_up_offset_s=runner_s, confidence=conf)
