"""Clips as a generator hands them back, for the import tests and the import benchmark: real media
made with ffmpeg from the song's own slices (offsets, black heads, frozen tails, other rates,
re-encoded audio), and the work folder of a song whose chorus repeats, built once per test run.

Public: make_clip, returned_clip, once_per_run, build_import_base, IMPORT_FPS.
"""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

__all__ = ["make_clip", "returned_clip", "once_per_run", "build_import_base", "IMPORT_FPS"]

#: The frame rate of :func:`build_import_base`'s work folder.
IMPORT_FPS = Fraction(24)


def once_per_run(tmp_path_factory, name: str, build):
    """``build(folder)`` once for the whole test run: the xdist workers share the first one's result
    (made under a lock in the run's common temp folder, pickled); without xdist, once per module.
    The result is only read (a test copies the folder before changing it)."""
    import fcntl
    import os
    import pickle
    import tempfile

    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run_id:
        return build(tmp_path_factory.mktemp(name))
    root = tmp_path_factory.getbasetemp().parent / f"shared-{name}-{run_id}"
    root.mkdir(exist_ok=True)
    done = root / "result.pickle"
    with open(root / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if not done.exists():
            value = build(Path(tempfile.mkdtemp(dir=root)))
            done.write_bytes(pickle.dumps(value))
        return pickle.loads(done.read_bytes())


def build_import_base(d: Path):
    """A synthesized song (verse, chorus, verse, chorus: the chorus repeats) and its work folder
    (64x48 at :data:`IMPORT_FPS`, segments of 9 s at most) under ``d``: ``(DemoSong, folder)``."""
    from mvtimeline import pipeline
    from mvtimeline.audio.demo import synthesize
    from mvtimeline.config import Config

    song = synthesize(d / "song", stanzas=4, intro_bars=1, outro_bars=1)
    res = pipeline.run(song.audio_path, song.lyrics_path, d / "work",
                       Config(fps=IMPORT_FPS, width=64, height=48, max_segment_s=9.0))
    return song, res.project.folder


def make_clip(song_wav: Path, out: Path, *, start_s: float, dur_s: float, fps: int = 30, black_head_s: float = 0.0,
              frozen_tail_s: float = 0.0, rate: int = 44100, gain_db: float = 0.0, lowpass_hz: int | None = None,
              noise_db: float | None = None, audio: bool = True, seed: int = 0, size: str = "320x240") -> Path:
    """A clip whose picture moves (testsrc2 of ``size``; black for ``black_head_s``, frozen for the last
    ``frozen_tail_s``) and whose sound is the song from ``start_s`` (resampled, louder/softer,
    low-passed, or mixed with white noise ``noise_db`` relative to it), AAC in MP4."""
    y, sr = sf.read(str(song_wav), dtype="float32", always_2d=False)
    if y.ndim > 1:
        y = y.mean(axis=1)
    piece = np.zeros(int(round(dur_s * sr)), dtype=np.float32)
    i0 = int(round(start_s * sr))
    src = y[max(0, i0): i0 + piece.size]
    piece[max(0, -i0): max(0, -i0) + src.size] = src[: piece.size - max(0, -i0)]
    if noise_db is not None:
        rng = np.random.default_rng(seed)
        piece = piece + rng.normal(0, piece.std() * 10 ** (noise_db / 20), piece.size).astype(np.float32)
    wav = out.with_suffix(".src.wav")
    sf.write(str(wav), piece * 10 ** (gain_db / 20) * 0.9 / max(1e-6, float(np.abs(piece).max())), sr)
    vf = [f"trim=duration={dur_s}"]
    if black_head_s:
        vf.append(f"drawbox=c=black:t=fill:enable='lt(t,{black_head_s})'")
    if frozen_tail_s:
        vf.append(f"trim=duration={dur_s - frozen_tail_s},tpad=stop_mode=clone:stop_duration={frozen_tail_s}")
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={dur_s + 1}"]
    if audio:
        cmd += ["-i", str(wav)]
    cmd += ["-vf", ",".join(vf), "-map", "0:v"]
    if audio:
        af = [f"aresample={rate}"] + ([f"lowpass=f={lowpass_hz}"] if lowpass_hz else [])
        cmd += ["-map", "1:a", "-af", ",".join(af), "-c:a", "aac", "-b:a", "128k", "-ar", str(rate)]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-t", str(dur_s), str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    wav.unlink()
    return out


def returned_clip(song_wav: Path, folder: Path, span_s: tuple[float, float], rng: np.random.Generator, *,
                  head_cut_s: float = 0.0, end_s: float = 0.0) -> tuple[Path, float]:
    """A clip as a generator returns it for a segment whose clip (handles included) covers the
    song's ``span_s`` (start, end): the song's sound over it, less ``head_cut_s`` at the head,
    ``end_s`` longer (shorter when negative), at 24 or 30 fps, a black head or not, AAC at 44.1
    or 48 kHz (each drawn from ``rng``), 96x64, in ``folder`` under a random name of hex digits
    (no ``NN-`` to give its segment away). Returns it and the song time of its first frame."""
    start_s = span_s[0] + head_cut_s
    name = "".join(rng.choice(list("0123456789abcdef"), 12)) + ".mp4"
    clip = make_clip(song_wav, folder / name, start_s=start_s, dur_s=span_s[1] + end_s - start_s,
                     fps=int(rng.choice([24, 30])), black_head_s=float(rng.choice([0.0, 0.3])),
                     rate=int(rng.choice([44100, 48000])), size="96x64")
    return clip, start_s
