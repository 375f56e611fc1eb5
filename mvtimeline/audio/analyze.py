"""Analyse a song with librosa: tempo, beats, downbeats, loudness, onsets, sections, where the voice sings.

Public: analyze, vocal_activity, voice_threshold, downbeats, STEPS.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..progress import Progress, ProgressFn, ignore
from ..types import Analysis, Section
from .load import load

__all__ = ["analyze", "vocal_activity", "voice_threshold", "downbeats", "STEPS"]

log = logging.getLogger(__name__)

SR = 22050
HOP = 512  # curves are sampled every HOP / SR ≈ 23 ms
BEAT_HOP = 256


#: The steps of :func:`analyze`, in order (the ``item`` of its progress events).
STEPS = ("decode", "beats", "loudness", "voice", "sections")


def analyze(path: Path, *, vocals: Path | None = None, progress: ProgressFn | None = None) -> Analysis:
    """Analyse the song at ``path``.

    Parameters
    ----------
    path : Path
        An audio file ffmpeg decodes.
    vocals : Path, optional
        A vocal stem of this song (same duration and rate, :func:`~mvtimeline.audio.check_stem`):
        the voice curve comes from it instead of the song's voice foreground.
    progress : ProgressFn, optional
        Called with ``Progress("analyze", i, n, item=step)`` as each step of :data:`STEPS` starts,
        and ``Progress("analyze", n, n)`` when the analysis is done.

    Returns
    -------
    Analysis
        Duration (s), tempo (BPM), beat and downbeat times (s), curves every ``hop_s`` seconds
        (onset strength, loudness, vocal activity; 0..1), vocal regions (s), sections.

    Raises
    ------
    InputError, AudioFormatError
        The file is missing or not audio.
    """
    import librosa

    report = progress or ignore

    def step(name: str) -> None:
        report(Progress("analyze", STEPS.index(name), len(STEPS), item=name))

    step("decode")
    y, sr = load(path, sr=SR)
    duration_s = y.size / sr
    hop_s = HOP / sr

    step("beats")
    # beats on a finer grid (BEAT_HOP): at HOP the tempo's lag resolution is ~2 % (117 vs 120 BPM)
    onset_fine = librosa.onset.onset_strength(y=y, sr=sr, hop_length=BEAT_HOP)
    tempo, beat_frames = librosa.beat.beat_track(onset_envelope=onset_fine, sr=sr, hop_length=BEAT_HOP,
                                                 trim=False)
    tempo_bpm = float(np.atleast_1d(tempo)[0])
    beat_times = librosa.frames_to_time(beat_frames, sr=sr, hop_length=BEAT_HOP)
    beat_times = beat_times[(beat_times > 0) & (beat_times < duration_s)]
    if tempo_bpm <= 0 or beat_times.size < 2:
        log.warning("%s: no steady beat found; using a 120 BPM grid", path)
        tempo_bpm = 120.0
        beat_times = np.arange(0.5, duration_s, 0.5)
    n_pairs = onset_fine.size // 2
    onset = onset_fine[: 2 * n_pairs].reshape(n_pairs, 2).max(axis=1)  # pooled to the HOP grid
    down, per_bar = downbeats(y, sr, beat_times)

    step("loudness")
    rms = librosa.feature.rms(y=y, hop_length=HOP)[0]
    db = librosa.amplitude_to_db(rms, ref=np.max(rms) if rms.max() > 0 else 1.0)
    loudness = np.clip((db + 40.0) / 40.0, 0.0, 1.0)

    step("voice")
    if vocals is not None:
        stem, _ = load(Path(vocals), sr=SR)
        stem = np.pad(stem, (0, max(0, y.size - stem.size)))[: y.size]
        vocal = vocal_activity(stem, sr, isolated=True)
    else:
        vocal = vocal_activity(y, sr)
    n = len(onset)
    vocal = _fit(vocal, n)
    loudness = _fit(loudness, n)
    regions = _regions(vocal, hop_s, threshold=voice_threshold(vocal))

    step("sections")
    sections = _sections(y, sr, beat_times, duration_s)

    onset_n = onset / onset.max() if onset.max() > 0 else onset
    report(Progress("analyze", len(STEPS), len(STEPS)))
    return Analysis(
        audio_path=str(Path(path).resolve()),
        duration_s=float(duration_s),
        sample_rate=int(sr),
        tempo_bpm=round(tempo_bpm, 3),
        beat_times_s=tuple(float(t) for t in beat_times),
        downbeat_times_s=tuple(float(t) for t in down),
        beats_per_bar=per_bar,
        hop_s=hop_s,
        onset_strength=tuple(float(v) for v in onset_n),
        loudness=tuple(float(v) for v in loudness),
        vocal_activity=tuple(float(v) for v in vocal),
        vocal_regions_s=tuple(regions),
        sections=tuple(sections),
        vocals_path=str(Path(vocals).resolve()) if vocals is not None else "",
    )


def _fit(curve: np.ndarray, n: int) -> np.ndarray:
    if len(curve) == n:
        return curve
    x_old = np.linspace(0, 1, len(curve))
    return np.interp(np.linspace(0, 1, n), x_old, curve)


def downbeats(y: np.ndarray, sr: int, beat_times_s: np.ndarray, *, per_bar: int = 4) -> tuple[np.ndarray, int]:
    """Estimate downbeats: the beat phase (mod ``per_bar``) with the most low-frequency onset energy.

    A kick drum on the one is the commonest cue; the bass onset strength (below ~150 Hz) at each beat
    is summed per phase and the strongest phase wins.

    Parameters
    ----------
    y : np.ndarray
        The song, mono.
    sr : int > 0
        Its sample rate, in Hz.
    beat_times_s : np.ndarray
        The beats, in seconds.
    per_bar : int >= 1
        Beats per bar.

    Returns
    -------
    downbeat_times_s : np.ndarray
    per_bar : int
    """
    import librosa

    if beat_times_s.size < per_bar:
        return beat_times_s[:1], per_bar
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
    low = librosa.onset.onset_strength(S=librosa.amplitude_to_db(S[freqs < 150]), sr=sr, hop_length=HOP)
    frames = librosa.time_to_frames(beat_times_s, sr=sr, hop_length=HOP)
    frames = np.clip(frames, 0, len(low) - 1)
    strength = np.array([low[max(0, f - 2): f + 3].max() for f in frames])
    scores = [strength[p::per_bar].mean() for p in range(per_bar)]
    phase = int(np.argmax(scores))
    return beat_times_s[phase::per_bar], per_bar


def vocal_activity(y: np.ndarray, sr: int, *, isolated: bool = False) -> np.ndarray:
    """A 0..1 curve of how much a voice sings, one value per ``HOP`` samples.

    A harmonic/percussive split removes drums; a median over ~1.4 s in each frequency bin takes out
    sustained chords and pads (their partials hold still, a voice's move with pitch and vowels). The
    curve is the level of what is left in the voice band (150–4000 Hz), in dB mapped from -50..0 dB
    (relative to the loud end) to 0..1, smoothed over ~0.1 s.

    ``isolated``: ``y`` is a vocal stem (the voice alone): its level in the voice band is the curve,
    with no foreground to find.

    A pitch-tracking cue (``librosa.pyin`` voicing on the foreground) was measured and left out: on
    the dev set's word truth it lowers the share of sung frames found (98.8 → 82 % with a quarter
    weight) for a few points of pauses found, and a cut is safe only where no voice is missed.
    """
    import librosa
    import scipy.ndimage

    hop = HOP * 2
    freqs = librosa.fft_frequencies(sr=sr, n_fft=2048)
    top = int(np.searchsorted(freqs, VOICE_TOP_HZ)) + 1  # the voice band only: the filters cost per bin
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=hop))[:top]
    if isolated:
        fg = S
    else:
        H, _P = librosa.decompose.hpss(S, kernel_size=(17, 31), margin=(1.0, 2.0))
        background = scipy.ndimage.median_filter(H, size=(1, 31))  # ~1.4 s: sustained chords and pads
        fg = np.maximum(H - background, 0.0)
    energy = (fg[freqs[:top] >= 150] ** 2).sum(axis=0)
    if energy.max() <= 0:
        return np.zeros(2 * energy.size)
    db = librosa.power_to_db(energy, ref=np.percentile(energy, 99))
    curve = scipy.ndimage.uniform_filter1d(np.clip((db + 50.0) / 50.0, 0.0, 1.0), size=3)
    return np.repeat(curve, 2)


#: The voice band's top (Hz): what the foreground keeps.
VOICE_TOP_HZ = 4000.0


def voice_threshold(curve: np.ndarray) -> float:
    """The level separating "singing" from "not singing" in a vocal-activity curve.

    Otsu's threshold between the quiet and the loud mode of the curve's histogram, kept in
    0.1..0.6.

    Parameters
    ----------
    curve : ndarray of float in 0..1
        A vocal-activity curve (:func:`vocal_activity`).

    Returns
    -------
    float
        The threshold; 1.0 for an empty or silent curve (nothing counts as singing).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> quiet, sung = rng.normal(0.1, 0.03, 500), rng.normal(0.7, 0.05, 500)
    >>> 0.1 < voice_threshold(np.clip(np.r_[quiet, sung], 0, 1)) < 0.7
    True
    """
    if curve.size == 0 or curve.max() <= 0:
        return 1.0
    hist, edges = np.histogram(curve, bins=64, range=(0, 1))
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers) / np.maximum(w0, 1)
    m1 = ((hist * centers).sum() - np.cumsum(hist * centers)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(np.clip(centers[int(np.argmax(between))], 0.1, 0.6))


def _regions(curve: np.ndarray, hop_s: float, *, threshold: float, min_s: float = 0.75,
             bridge_s: float = 0.2) -> list[tuple[float, float]]:
    """Where ``curve`` is above ``threshold``: (start, end) pairs in seconds, tiny gaps bridged."""
    active = curve >= threshold
    regions: list[list[float]] = []
    i = 0
    n = len(active)
    while i < n:
        if active[i]:
            j = i
            while j < n and active[j]:
                j += 1
            start, end = i * hop_s, j * hop_s
            if regions and start - regions[-1][1] < bridge_s:
                regions[-1][1] = end
            else:
                regions.append([start, end])
            i = j
        else:
            i += 1
    return [(round(a, 4), round(b, 4)) for a, b in regions if b - a >= min_s]


def _sections(y: np.ndarray, sr: int, beat_times: np.ndarray, duration_s: float) -> list[Section]:
    """Structural sections: agglomerative clustering of beat-synchronous chroma + MFCC, labelled A, B..."""
    import librosa

    if beat_times.size < 8:
        return [Section(0.0, float(duration_s), "A")]
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=HOP)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, hop_length=HOP, n_mfcc=13)
    feats = np.vstack([librosa.util.normalize(chroma, axis=0), librosa.util.normalize(mfcc[1:], axis=1)])
    beat_frames = librosa.time_to_frames(beat_times, sr=sr, hop_length=HOP)
    sync = librosa.util.sync(feats, beat_frames, aggregate=np.median)
    k = int(np.clip(round(duration_s / 20.0), 2, 12))
    k = min(k, sync.shape[1] - 1)
    bounds = librosa.segment.agglomerative(sync, k)
    bound_times = [0.0]
    edges = np.concatenate([[0.0], beat_times])
    for b in bounds[1:]:
        t = float(edges[min(b, len(edges) - 1)])
        if t - bound_times[-1] >= 2.0 and duration_s - t >= 2.0:
            bound_times.append(t)
    bound_times.append(float(duration_s))
    # label by similarity of mean features
    means = []
    times = librosa.frames_to_time(np.arange(feats.shape[1]), sr=sr, hop_length=HOP)
    for a, b in zip(bound_times[:-1], bound_times[1:]):
        sel = (times >= a) & (times < b)
        v = feats[:, sel].mean(axis=1) if sel.any() else np.zeros(feats.shape[0])
        means.append(v / (np.linalg.norm(v) + 1e-9))
    labels: list[str] = []
    for i, v in enumerate(means):
        label = None
        for j in range(i):
            if float(v @ means[j]) > 0.97:
                label = labels[j]
                break
        if label is None:
            label = chr(ord("A") + len(set(labels)) % 26)
        labels.append(label)
    return [Section(round(a, 4), round(b, 4), lab) for a, b, lab in zip(bound_times[:-1], bound_times[1:], labels)]
