"""Decode a song to mono float32 samples: soundfile first, ffmpeg for everything else.

Public: load, check, check_stem, probe, probe_duration, AUDIO_SUFFIXES, STEM_TOLERANCE_S.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..errors import AudioFormatError, InputError, ToolMissing

__all__ = ["load", "check", "check_stem", "probe", "probe_duration", "wav_window", "AUDIO_SUFFIXES", "STEM_TOLERANCE_S"]

#: A vocal stem may last this much (seconds) more or less than its song (an encoder's padding).
STEM_TOLERANCE_S = 0.1


AUDIO_SUFFIXES = (".wav", ".mp3", ".flac", ".m4a", ".ogg", ".opus", ".aac", ".aiff", ".aif")


def _check_file(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such audio file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not an audio file")
    return path


def load(path: Path, *, sr: int | None = 22050) -> tuple[np.ndarray, int]:
    """Decode ``path`` to mono float32 at ``sr`` Hz (``None`` keeps the file's rate).

    Parameters
    ----------
    path : Path
        Any file ffmpeg decodes: wav, mp3, flac, m4a, ogg...
    sr : int > 0 or None
        Target sample rate in Hz.

    Returns
    -------
    samples : np.ndarray, shape (n,), float32 in [-1, 1]
    sr : int
        The sample rate of ``samples`` in Hz.

    Raises
    ------
    InputError
        Missing file or a folder.
    AudioFormatError
        Not decodable as audio, or no samples.
    """
    path = _check_file(path)
    y, native_sr = _load_soundfile(path)
    if y is None:
        y, native_sr = _load_ffmpeg(path, sr)
    if y.size == 0:
        raise AudioFormatError(f"{path}: contains no audio samples")
    if sr is not None and native_sr != sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
        native_sr = sr
    return np.ascontiguousarray(y, dtype=np.float32), int(native_sr)


_SOUNDFILE_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif")


def _load_soundfile(path: Path) -> tuple[np.ndarray | None, int]:
    """libsndfile for the formats it owns; mp3 and the rest go to ffmpeg (libsndfile's mp3 decoder
    prints notes to stderr on junk)."""
    if path.suffix.lower() not in _SOUNDFILE_SUFFIXES:
        return None, 0
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError):
        return None, 0
    return data.mean(axis=1), int(rate)


def _ffmpeg() -> str:
    exe = shutil.which("ffmpeg")
    if not exe:
        raise ToolMissing("ffmpeg is not installed: apt-get install ffmpeg")
    return exe


def _load_ffmpeg(path: Path, sr: int | None) -> tuple[np.ndarray, int]:
    rate = sr or 44100
    cmd = [_ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate),
           "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        why = reason[-1] if reason else "no audio stream"
        raise AudioFormatError(f"{path}: not an audio file ffmpeg can decode ({why.split(': ')[-1]})")
    return np.frombuffer(proc.stdout, dtype="<f4").copy(), rate


def probe(path: Path) -> tuple[float, int]:
    """Duration (seconds) and sample rate (Hz) of an audio file: from the header for the formats
    libsndfile reads, else from the decoded samples.

    Raises
    ------
    InputError, AudioFormatError
    """
    path = _check_file(path)
    if path.suffix.lower() in _SOUNDFILE_SUFFIXES:
        import soundfile as sf

        try:
            info = sf.info(str(path))
            if info.frames > 0 and info.samplerate > 0:
                return info.frames / info.samplerate, int(info.samplerate)
        except (RuntimeError, sf.LibsndfileError, TypeError, ValueError):
            pass
    y, rate = load(path, sr=None)
    return y.size / rate, rate


def check_stem(stem: Path, song: Path) -> Path:
    """Fail fast unless ``stem`` is audio of the same song: its sample rate and (within
    ``STEM_TOLERANCE_S``) its duration equal the song's (a stem of another mix or edit would put
    every word in the wrong place).

    Raises
    ------
    InputError, AudioFormatError
        One line naming the stem and what differs.
    """
    stem = check(Path(stem))
    stem_s, stem_rate = probe(stem)
    song_s, song_rate = probe(Path(song))
    if stem_rate != song_rate:
        raise InputError(f"{stem}: the vocal stem is {stem_rate} Hz, the song {song_rate} Hz: export the stem at "
                         "the song's rate")
    if abs(stem_s - song_s) > STEM_TOLERANCE_S:
        raise InputError(f"{stem}: the vocal stem lasts {stem_s:.2f} s, the song {song_s:.2f} s: a stem of "
                         "this very mix is needed (same start, same length)")
    return stem


def probe_duration(path: Path) -> float:
    """Duration of the song in seconds, from the decoded sample count at the file's own rate."""
    y, rate = load(path, sr=None)
    return y.size / rate


def check(path: Path) -> Path:
    """Fail fast, before any work folder is made, if ``path`` is not decodable audio.

    Decodes only the first second.

    Raises
    ------
    InputError, AudioFormatError
    """
    path = _check_file(path)
    y, _ = _load_soundfile(path)
    if y is not None:
        if y.size == 0:
            raise AudioFormatError(f"{path}: contains no audio samples")
        return path
    cmd = [_ffmpeg(), "-v", "error", "-nostdin", "-t", "1", "-i", str(path), "-vn", "-ac", "1", "-f", "f32le", "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0 or not proc.stdout:
        raise AudioFormatError(f"{path}: not an audio file ffmpeg can decode")
    return path


def wav_window(samples: np.ndarray, rate: int, start_s: float, n_samples: int) -> bytes:
    """A mono PCM-16 WAV of ``n_samples`` of ``samples`` (at ``rate`` Hz) from ``start_s``: silence
    where it runs past the end (or before 0), so its length is exactly ``n_samples`` (an audio slice
    as long as the video made for it).

    Examples
    --------
    >>> import io, soundfile as sf
    >>> sf.info(io.BytesIO(wav_window(np.ones(100, np.float32) * 0.5, 100, 0.5, 80))).frames
    80
    """
    import io

    import soundfile as sf

    out = np.zeros(int(n_samples), dtype=np.float32)
    i0 = int(round(max(0.0, start_s) * rate))
    piece = np.asarray(samples, dtype=np.float32)[i0: i0 + out.size]
    out[: piece.size] = piece
    buf = io.BytesIO()
    sf.write(buf, out, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()
