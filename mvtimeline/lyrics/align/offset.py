"""The global offset check: do a file's line times fit the song, or were they made for another
release (a different intro, a radio edit)?

A 0/1 "sung" indicator built from the timed lines is cross-correlated with the vocal-activity curve
of the analysis over ±``OFFSET_RANGE_S``, refined on the rising edges of the voice and, when the
song's features are at hand, on the voice's onsets (:func:`estimate_offset`). The best lag is
applied only when its correlation beats the unshifted one clearly (``OFFSET_MIN_GAIN``) and it is
at least ``OFFSET_MIN_S``; it is logged and recorded in ``Lyrics.offset_s`` (seconds added to the
file's times) by :func:`fit_offset`, which both aligners run on fully timed lyrics.

Public: estimate_offset, fit_offset, OFFSET_RANGE_S, OFFSET_MIN_GAIN, OFFSET_MIN_S, REFINE_S.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mvtimeline.types import Analysis, Line, Lyrics, Word
from ..words import line_syllables, split_words
from .features import LINE_SNAP_AFTER_S, VoiceFeatures, snap, song_features, vocal_stem

__all__ = ["estimate_offset", "fit_offset", "OFFSET_RANGE_S", "OFFSET_MIN_GAIN", "OFFSET_MIN_S", "REFINE_S"]

log = logging.getLogger(__name__)

#: The offset search looks this far (seconds) either way.
OFFSET_RANGE_S = 10.0
#: The best offset must beat no offset by this share of the correlation's range.
OFFSET_MIN_GAIN = 0.15
#: Offsets smaller than this (seconds) are not applied: line times in files are more precise than
#: the voice curve (measured: a true LRC came out 0.27 s late with a 0.15 s floor).
OFFSET_MIN_S = 0.5
#: The offset found on whole lines is refined within this many seconds on the voice's onsets.
REFINE_S = 0.6
#: Seconds per syllable assumed for a timed line's sung part in the offset search.
_S_PER_SYLLABLE = 0.3


def _sung_indicator(lines: Sequence[Line], hop_s: float, n: int) -> np.ndarray:
    ind = np.zeros(n)
    for ln in lines:
        if not ln.is_timed:
            continue
        timed_words = [w for w in ln.words if w.start_s is not None and w.end_s is not None]
        if timed_words:
            spans = [(w.start_s, w.end_s) for w in timed_words]
        else:
            words = [w.text for w in ln.words] or split_words(ln.text)
            guess = 0.5 + _S_PER_SYLLABLE * line_syllables(words)
            spans = [(ln.start_s, min(ln.end_s, ln.start_s + guess))]
        for a, b in spans:
            i, j = int(round(a / hop_s)), int(round(b / hop_s))
            ind[max(0, i): max(0, min(n, j))] = 1.0
    return ind


def estimate_offset(
    lyrics: Lyrics,
    analysis: Analysis,
    *,
    range_s: float = OFFSET_RANGE_S,
    onset: np.ndarray | None = None,
    onset_hop_s: float = 0.01,
) -> tuple[float, float]:
    """The shift (seconds, added to the lyrics' times) that best fits the timed lines to the voice.

    Parameters
    ----------
    lyrics : Lyrics
        Lyrics with (some) timed lines.
    analysis : Analysis
        The song's analysis (``vocal_activity`` every ``hop_s`` seconds).
    range_s : float > 0
        Largest shift tried either way, in seconds.
    onset : np.ndarray or None
        The voice's onset envelope (every ``onset_hop_s`` s, 0..1); when given, the shift is
        refined by moving each shifted line start onto the first clear voice onset near it and
        taking the median move (the vocal-activity curve rises early, on chords and windows).

    Returns
    -------
    offset_s : float
        0.0 unless a shift fits clearly better than none (by ``OFFSET_MIN_GAIN`` of the range of
        the correlation); positive means the song sings later than the file says.
    gain : float
        How much better the chosen shift fits than none, as a share of the correlation's range.
    """
    va = np.asarray(analysis.vocal_activity, dtype=float)
    hop = float(analysis.hop_s)
    if va.size < 8 or hop <= 0:
        return 0.0, 0.0
    ind = _sung_indicator(lyrics.lines, hop, va.size)
    if ind.sum() == 0:
        return 0.0, 0.0
    x = va - va.mean()
    max_lag = int(round(range_s / hop))
    n = va.size
    # correlation of ind shifted by lag (ind[t - lag]) with x[t], for lags -max_lag..max_lag
    size = 1 << int(math.ceil(math.log2(2 * n + 1)))
    corr_full = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(ind, size)), size)
    lags = np.arange(-max_lag, max_lag + 1)
    corr = corr_full[lags % size]
    k = int(np.argmax(corr))
    c0 = corr[max_lag]
    span = float(corr.max() - np.median(corr))
    if span <= 0:
        return 0.0, 0.0
    gain = float((corr[k] - c0) / span)
    lag = float(lags[k])
    if 0 < k < len(corr) - 1:  # parabolic refinement between frames
        a, b, c = corr[k - 1], corr[k], corr[k + 1]
        den = a - 2 * b + c
        if den < 0:
            lag += 0.5 * (a - c) / den
    # refine on the rising edges of the voice against the line starts (block ends are guesses)
    edges = np.maximum(0.0, np.diff(va, prepend=va[0]))
    edges = np.convolve(edges, np.ones(3) / 3, mode="same")
    starts = [ln.start_s / hop for ln in lyrics.lines if ln.is_timed]
    best_fine, best_score = lag, -1.0
    for fine in np.arange(lag - REFINE_S / hop, lag + REFINE_S / hop + 0.25, 0.25):
        idx = np.round(np.asarray(starts) + fine).astype(int)
        idx = idx[(idx >= 0) & (idx < n)]
        score = float(edges[idx].sum()) if idx.size else 0.0
        if score > best_score:
            best_fine, best_score = fine, score
    offset = best_fine * hop
    if onset is not None and gain >= OFFSET_MIN_GAIN:
        moves = []
        for st in starts:
            t = st * hop + offset
            snapped = snap(t, onset, onset_hop_s, 0.0, math.inf, after_s=LINE_SNAP_AFTER_S)
            if snapped != t:
                moves.append(snapped - t)
        if len(moves) >= max(2, 0.3 * len(starts)):
            offset += float(np.median(moves))
    log.debug("offset search: block lag %.3f s, refined %.3f s, gain %.2f", lag * hop, offset, gain)
    if abs(offset) < OFFSET_MIN_S or gain < OFFSET_MIN_GAIN:
        return 0.0, gain
    return round(float(offset), 3), gain


def _shift(lyrics: Lyrics, offset_s: float, duration_s: float) -> Lyrics:
    def mv(t: float | None) -> float | None:
        return None if t is None else min(max(t + offset_s, 0.0), duration_s)

    lines = tuple(
        dataclasses.replace(
            ln,
            start_s=mv(ln.start_s),
            end_s=mv(ln.end_s),
            words=tuple(Word(w.text, mv(w.start_s), mv(w.end_s)) for w in ln.words),
        )
        for ln in lyrics.lines
    )
    return dataclasses.replace(lyrics, lines=lines, offset_s=lyrics.offset_s + offset_s)


def fit_offset(lyrics: Lyrics, audio_path: Path, analysis: Analysis,
               confirm: Callable[[Lyrics, float], bool] | None = None) -> tuple[Lyrics, VoiceFeatures | None]:
    """Fully timed lyrics shifted onto the song's voice when a global offset fits clearly better
    (:func:`estimate_offset`) and ``confirm`` (Whisper's ears, when given) agrees.

    Parameters
    ----------
    lyrics : Lyrics
        Fully timed lyrics, as read from a file.
    audio_path : Path
        The song; decoded only when an offset is worth a closer look (refined on the voice's onsets).
    analysis : Analysis
        The song's analysis (voice curve; its vocal stem is listened to when there is one).
    confirm : callable(Lyrics, float) -> bool, optional
        Asked whether a found offset (seconds) should be applied; when it says no, none is.

    Returns
    -------
    lyrics : Lyrics
        Shifted (``offset_s`` records the shift, logged as a warning) or as they were.
    feats : VoiceFeatures or None
        The aligner features when they were made for the check, else None.
    """
    feats = None
    offset, gain = estimate_offset(lyrics, analysis)
    if offset:  # worth a closer look: refine on the voice's onsets
        feats = song_features(Path(audio_path), vocals=vocal_stem(analysis))
        offset, gain = estimate_offset(lyrics, analysis, onset=feats.onset, onset_hop_s=feats.onset_hop_s)
    if offset and confirm is not None and not confirm(lyrics, offset):
        log.info("%s: the voice curve suggests shifting the lyrics by %+.2f s; Whisper hears them where the "
                 "file says: kept", lyrics.path or "lyrics", offset)
        offset = 0.0
    if offset:
        log.warning("%s: lyrics times shifted by %+.2f s to fit the song's voice (fit %.2f better)",
                    lyrics.path or "lyrics", offset, gain)
        lyrics = _shift(lyrics, offset, float(analysis.duration_s))
    else:
        log.info("%s: lyrics times fit the song (no offset; best shift gains %.2f)", lyrics.path or "lyrics", gain)
    return lyrics, feats

