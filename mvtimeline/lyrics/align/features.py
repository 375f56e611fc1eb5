"""Voice features of a song for the aligner: MFCCs of a voice-enhanced signal, a voice curve, onsets.

The song is decoded at 16 kHz mono and split into a *foreground* (the voice, mostly) the same way
:func:`mvtimeline.audio.analyze.vocal_activity` does it: a harmonic/percussive split removes the
drums, and a running median over ~1.3 s in each frequency bin removes sustained chords and pads.
From the foreground come MFCC c1–c12 with cepstral mean/variance normalisation (no c0, so loudness
and a constant timbre offset do not count) and a spectral-flux onset envelope on a finer grid, used
to snap line and word starts onto where the voice actually starts (:func:`snap`).

Internal to :mod:`mvtimeline.lyrics` (used by :mod:`.dsp`, :mod:`.offset` and :mod:`.tts`).

Public: VoiceFeatures, song_features, mfcc_features, normalize_rows, vocal_stem, snap, SR, HOP, N_FFT,
SNAP_S, LINE_SNAP_AFTER_S, SNAP_REL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvtimeline.types import Analysis

__all__ = ["VoiceFeatures", "song_features", "mfcc_features", "normalize_rows", "vocal_stem", "snap", "SR", "HOP",
           "N_FFT", "SNAP_S", "LINE_SNAP_AFTER_S", "SNAP_REL"]


#: Sample rate (Hz) the aligner works at: the voice band is below 8 kHz.
SR = 16000
#: STFT size and hop (samples): 64 ms windows every 40 ms.
N_FFT = 1024
HOP = 640
#: Hop (samples) of the onset envelope used for snapping: 10 ms.
ONSET_HOP = 160
N_MFCC = 13
N_MELS = 40
#: Word starts move to a voice onset at most this far (seconds); line starts look from
#: ``SNAP_S`` before to ``LINE_SNAP_AFTER_S`` after (the voice curve and the analysis windows
#: see a voice some 0.1–0.2 s before it starts).
SNAP_S = 0.12
LINE_SNAP_AFTER_S = 0.5
#: A clear onset is at least this share of the strongest one in the window.
SNAP_REL = 0.35


@dataclass(frozen=True)
class VoiceFeatures:
    """Features of the song every ``hop_s`` seconds (frame k is centred at ``k * hop_s``).

    ``mfcc``: (n_frames, 12) unit-length rows of the voice foreground; ``onset``: foreground onset
    strength every ``onset_hop_s`` seconds, 0..1; ``music``: (n_frames, 24) unit-length rows of the
    whole mix (chroma and MFCC c1–c12, each half CMVN'd), to find where the song repeats itself.
    """

    hop_s: float
    mfcc: np.ndarray
    onset: np.ndarray
    onset_hop_s: float
    duration_s: float
    music: np.ndarray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.mfcc.shape[0])


def mfcc_features(power: np.ndarray, *, normalize: bool = True) -> np.ndarray:
    """MFCC c1..c12 of a power spectrogram (``N_FFT``, ``SR``), one row per frame.

    With ``normalize``, CMVN over time and unit-length rows (:func:`normalize_rows`); without, raw.

    Returns
    -------
    np.ndarray, shape (n_frames, 12)
    """
    import librosa

    mel = librosa.feature.melspectrogram(S=power, sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=80.0, fmax=7600.0)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, ref=np.max(mel) if mel.max() > 0 else 1.0,
                                                      top_db=80.0), n_mfcc=N_MFCC)[1:]
    feats = mfcc.T.astype(np.float64)
    return normalize_rows(feats) if normalize else feats


def normalize_rows(feats: np.ndarray) -> np.ndarray:
    """CMVN over the frames (rows), then every row scaled to unit length."""
    feats = (feats - feats.mean(axis=0, keepdims=True)) / (feats.std(axis=0, keepdims=True) + 1e-6)
    return feats / (np.linalg.norm(feats, axis=1, keepdims=True) + 1e-9)


def song_features(audio_path: Path, *, vocals: Path | None = None) -> VoiceFeatures:
    """Decode ``audio_path`` and compute the aligner's voice features.

    Parameters
    ----------
    audio_path : Path
        Any audio file :func:`mvtimeline.audio.load.load` decodes.
    vocals : Path, optional
        A vocal stem of the song: the voice features come from it as it is (no foreground to find);
        the ``music`` rows still come from the song.

    Returns
    -------
    VoiceFeatures
    """
    import librosa
    import scipy.ndimage

    from mvtimeline.audio.load import load

    y, sr = load(Path(audio_path), sr=SR)
    duration_s = y.size / sr
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))
    if vocals is not None:
        stem, _ = load(Path(vocals), sr=SR)
        stem = np.pad(stem, (0, max(0, y.size - stem.size)))[: y.size]
        fg = np.abs(librosa.stft(stem, n_fft=N_FFT, hop_length=HOP))
        voice_src = stem
    else:
        H, _P = librosa.decompose.hpss(S, kernel_size=(13, 17), margin=(1.0, 2.0))
        background = scipy.ndimage.median_filter(H, size=(1, 33))  # ~1.3 s: sustained chords and pads
        fg = np.maximum(H - background, 0.0)
        voice_src = y
    mfcc = mfcc_features(fg**2)
    chroma = librosa.feature.chroma_stft(S=S**2, sr=sr, n_fft=N_FFT).T
    music = np.hstack([normalize_rows(chroma), normalize_rows(mfcc_features(S**2, normalize=False))])
    music = music / (np.linalg.norm(music, axis=1, keepdims=True) + 1e-9)

    # onset envelope of the foreground on a 10 ms grid: the foreground mask applied to a finer STFT
    S_fine = np.abs(librosa.stft(voice_src, n_fft=N_FFT, hop_length=ONSET_HOP))
    if vocals is not None:
        mask_fine = np.ones_like(S_fine)
    else:
        mask = fg / (S + 1e-9)
        ratio = HOP // ONSET_HOP
        mask_fine = np.repeat(mask, ratio, axis=1)[:, : S_fine.shape[1]]
        if mask_fine.shape[1] < S_fine.shape[1]:
            pad = S_fine.shape[1] - mask_fine.shape[1]
            mask_fine = np.pad(mask_fine, ((0, 0), (0, pad)), mode="edge")
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    band = (freqs >= 150) & (freqs <= 4000)
    fg_fine = (S_fine * mask_fine)[band]
    onset = librosa.onset.onset_strength(S=librosa.amplitude_to_db(fg_fine, ref=np.max), sr=sr,
                                         hop_length=ONSET_HOP, lag=2)
    ref = float(np.percentile(onset, 99.5)) if onset.size else 0.0
    if ref > 0:  # a robust scale: a few huge transients must not flatten the voice's onsets
        onset = np.clip(onset / ref, 0.0, 1.0)
    return VoiceFeatures(hop_s=HOP / sr, mfcc=mfcc, onset=onset.astype(np.float64), onset_hop_s=ONSET_HOP / sr,
                         duration_s=float(duration_s), music=music)


def vocal_stem(analysis: Analysis) -> Path | None:
    """The vocal stem the analysis was made with, if any (the aligner then listens to it)."""
    return Path(analysis.vocals_path) if analysis.vocals_path else None


def snap(t: float, onset: np.ndarray, hop: float, lo: float, hi: float, *, before_s: float = SNAP_S,
         after_s: float = SNAP_S) -> float:
    """Move ``t`` onto the first clear voice onset in ``[t - before_s, t + after_s]`` (and in [lo, hi]).

    A clear onset is a local peak of the onset envelope at least ``SNAP_REL`` of the window's
    strongest and at least 0.1; ``t`` stays where it is when there is none.

    Parameters
    ----------
    t : float
        The time to move, in seconds.
    onset : np.ndarray
        The voice's onset envelope (:attr:`VoiceFeatures.onset`), one value every ``hop`` seconds.
    hop : float > 0
        Seconds between two values of ``onset``.
    lo, hi : float
        Seconds the result must stay within.
    before_s, after_s : float >= 0
        How far (seconds) before and after ``t`` an onset is looked for.

    Returns
    -------
    float
        The onset's time in seconds, or ``t``.
    """
    a = max(lo, t - before_s)
    b = min(hi, t + after_s)
    i, j = int(math.ceil(a / hop)), int(math.floor(b / hop)) + 1
    i, j = max(i, 1), min(j, onset.size - 1)
    if j - i < 3:
        return t
    seg = onset[i:j]
    top = float(seg.max())
    if top < 0.1:
        return t
    for k in range(seg.size):
        x = onset[i + k]
        if x >= SNAP_REL * top and x >= onset[i + k - 1] and x >= onset[i + k + 1]:
            return (i + k) * hop
    return t
