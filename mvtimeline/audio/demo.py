"""Synthesize a demo song with known timings: a beat, chords, and an espeak-ng voice singing lyrics.

Used by ``make demo`` and by the tests and benchmarks, which need songs whose beat grid and sung
line times are known exactly.

Public: DemoSong, synthesize, DEMO_LYRICS (the whole demo job is :func:`mvtimeline.pipeline.run_demo`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError, ToolMissing
from ..fileio import atomic_write, ensure_dir


__all__ = ["DemoSong", "synthesize", "DEMO_LYRICS"]


DEMO_LYRICS = Path(__file__).parents[1] / "data" / "demo_lyrics.txt"
SR = 44100
# A minor, F, C, G: MIDI notes of each chord (root in the bass octave)
_PROGRESSION = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]


@dataclass(frozen=True)
class DemoSong:
    """A synthesized song and the truth about it. Times in seconds."""

    audio_path: Path
    lyrics_path: Path
    truth_path: Path
    tempo_bpm: float
    duration_s: float
    beat_times_s: tuple[float, ...]
    downbeat_times_s: tuple[float, ...]
    lines: tuple[dict, ...]  # {"text", "section", "start_s", "end_s"} (+ "words" when sung word by word)
    vocals_path: Path | None = None  # the voice alone (a perfect vocal stem of the mix)


def _stanzas(text: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    section = "Verse"
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            if current:
                out.append((section, current))
                current = []
            section = line[1:-1]
        elif not line:
            if current:
                out.append((section, current))
                current = []
        else:
            current.append(line)
    if current:
        out.append((section, current))
    return out


def _midi_hz(note: float) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def _espeak(text: str, *, voice: str, pitch: int, speed: int, workdir: Path) -> np.ndarray:
    exe = shutil.which("espeak-ng")
    if not exe:
        raise ToolMissing("espeak-ng is not installed: apt-get install espeak-ng")
    wav = workdir / "line.wav"
    proc = subprocess.run([exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav), text],
                          capture_output=True)
    if proc.returncode != 0:
        raise ToolMissing(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()}")
    import soundfile as sf

    y, rate = sf.read(str(wav), dtype="float32")
    if y.ndim > 1:
        y = y.mean(axis=1)
    # resample to SR by linear interpolation (speech band only, good enough for a demo)
    n = int(round(y.size * SR / rate))
    return np.interp(np.linspace(0, y.size - 1, n), np.arange(y.size), y).astype(np.float32)


def _fit_line(text: str, *, voice: str, pitch: int, room_s: float, workdir: Path) -> np.ndarray:
    """``text`` spoken, faster until it fits in ``room_s`` seconds, trimmed and normalised."""
    speed = 150
    y = _trim(_espeak(text, voice=voice, pitch=pitch, speed=speed, workdir=workdir))
    while y.size / SR > room_s and speed < 400:
        speed += 25
        y = _trim(_espeak(text, voice=voice, pitch=pitch, speed=speed, workdir=workdir))
    return y / (np.abs(y).max() + 1e-9)


#: Silence between lines sung back to back (s).
BACK_TO_BACK_GAP_S = 0.12


def _sing_words(written: str, sung: str, *, voice: str, pitch: int, room_s: float, workdir: Path, gap_s: float
                ) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """A line sung one word at a time: the samples and (written word, start, end) in seconds from
    the line's start. ``sung`` has as many words as ``written`` (CJK: one sung word per character)."""
    from ..lyrics.words import split_words

    shown = split_words(written)
    said = sung.split()
    if len(said) != len(shown):
        raise InputError(f"{written!r}: {len(shown)} words written but {len(said)} to sing ({sung!r})")
    speed = 160
    while True:
        parts = [_trim(_espeak(w, voice=voice, pitch=pitch, speed=speed, workdir=workdir)) for w in said]
        total = sum(p.size for p in parts) / SR + gap_s * (len(parts) - 1)
        if total <= room_s or speed >= 400:
            break
        speed += 40
    gap = np.zeros(int(round(gap_s * SR)), np.float32)
    out, words, t = [], [], 0.0
    for k, (w, part) in enumerate(zip(shown, parts)):
        part = part / (np.abs(part).max() + 1e-9)
        words.append((w, t, t + part.size / SR))
        out.append(part)
        t += part.size / SR
        if k + 1 < len(parts):
            out.append(gap)
            t += gap.size / SR
    return np.concatenate(out).astype(np.float32), words


def _trim(y: np.ndarray, *, threshold: float = 0.02) -> np.ndarray:
    idx = np.flatnonzero(np.abs(y) > threshold * max(1e-9, float(np.abs(y).max())))
    return y[idx[0]: idx[-1] + 1] if idx.size else y


def synthesize(
    out_dir: Path,
    *,
    lyrics_text: str | None = None,
    name: str = "demo",
    tempo_bpm: float = 120.0,
    voice: str = "en-us",
    min_duration_s: float = 0.0,
    stanzas: int | None = None,
    intro_bars: int = 4,
    outro_bars: int = 4,
    seed: int = 0,
    sung_as: Mapping[str, str] | None = None,
    word_by_word: bool = False,
    word_gap_s: float = 0.08,
    back_to_back: bool = False,
    break_bars: Mapping[int, int] | None = None,
) -> DemoSong:
    """Write ``NAME.wav``, ``NAME.vocals.wav`` (the voice alone), ``NAME.txt`` (lyrics with section
    tags) and ``NAME.truth.json`` to ``out_dir``.

    Every lyric line starts half a beat after a bar line and gets two bars (4/4); stanzas are separated
    by one instrumental bar. The sung start/end of each line is measured on the synthesized voice.

    Parameters
    ----------
    out_dir : Path
        Folder to write into (created).
    lyrics_text : str or None
        Lyrics with ``[Section]`` tags; None uses the bundled demo lyrics.
    tempo_bpm : float > 0
        Tempo in beats per minute.
    voice : str
        An espeak-ng voice, e.g. ``en-us`` or ``de``.
    min_duration_s : float >= 0
        Repeat the lyrics' stanzas until the song lasts at least this long (seconds).
    stanzas : int or None
        Use only the first ``stanzas`` stanzas.
    sung_as : mapping of str to str, optional
        What to sing for a lyric line (e.g. its pinyin with ``voice="cmn-latn-pinyin"`` for a
        line written in hanzi); the lyrics file keeps the line as written.
    word_by_word : bool
        Sing each word on its own (a short breath between words), so every word's start and end
        is known: the truth gets ``"words"`` per line (for CJK text, one per character).
    word_gap_s : float
        The silence between words sung word by word (seconds).
    back_to_back : bool
        No rest between lines and stanzas: each line starts right after the one before ends
        (the truth then has no gap between lines to cut in longer than a breath).
    break_bars : mapping of int to int, optional
        Extra instrumental bars after stanza ``k`` (0-based), e.g. ``{1: 10}`` for a 20 s break at
        120 BPM after the second stanza.

    Raises
    ------
    ToolMissing
        espeak-ng is not installed.
    """
    if tempo_bpm <= 0:
        raise InputError(f"tempo {tempo_bpm} BPM must be positive")
    out_dir = ensure_dir(Path(out_dir))
    text = lyrics_text if lyrics_text is not None else DEMO_LYRICS.read_text(encoding="utf-8")
    blocks = _stanzas(text)
    if not blocks:
        raise InputError("demo lyrics have no lines")
    if stanzas is not None:
        blocks = blocks[: max(1, stanzas)]
    beat_s = 60.0 / tempo_bpm
    bar_s = 4 * beat_s
    line_bars = 2

    def song_bars(bl: list) -> int:
        return intro_bars + sum(len(ls) * line_bars + 1 for _, ls in bl) + outro_bars + sum((break_bars or {}).values())

    base = list(blocks)
    while song_bars(blocks) * bar_s < min_duration_s:
        blocks = blocks + base
    n_bars = song_bars(blocks)
    duration_s = n_bars * bar_s + beat_s  # a beat of ring-out after the last bar
    n = int(round(duration_s * SR))
    rng = np.random.default_rng(seed)
    music = np.zeros(n, np.float32)
    vocals = np.zeros(n, np.float32)

    # --- drums: kick on every beat, snare on 2 and 4, hats on eighths
    t_kick = np.arange(int(0.18 * SR)) / SR
    kick = np.sin(2 * np.pi * (45 * t_kick + 55 * 0.04 * (1 - np.exp(-t_kick / 0.04)))) * np.exp(-t_kick / 0.07)
    t_sn = np.arange(int(0.15 * SR)) / SR
    snare = rng.standard_normal(t_sn.size) * np.exp(-t_sn / 0.04) * 0.5
    snare = np.convolve(snare, np.ones(4) / 4, mode="same")
    t_hat = np.arange(int(0.04 * SR)) / SR
    hat = np.diff(rng.standard_normal(t_hat.size + 1)) * np.exp(-t_hat / 0.01) * 0.12

    def add(buf: np.ndarray, sig: np.ndarray, at_s: float, gain: float) -> None:
        i = int(round(at_s * SR))
        if i >= buf.size:
            return
        j = min(buf.size, i + sig.size)
        buf[i:j] += gain * sig[: j - i]

    n_beats = n_bars * 4
    beat_times = [k * beat_s for k in range(n_beats)]
    for k, t in enumerate(beat_times):
        add(music, kick, t, 0.9 if k % 4 == 0 else 0.6)
        if k % 4 in (1, 3):
            add(music, snare, t, 0.6)
        add(music, hat, t + beat_s / 2, 1.0)
        add(music, hat, t, 0.7)

    # --- chords: soft pads, one chord per bar
    t_bar = np.arange(int(bar_s * SR)) / SR
    env = np.minimum(1.0, t_bar / 0.05) * np.exp(-t_bar / (bar_s * 1.5))
    for b in range(n_bars):
        notes = _PROGRESSION[b % len(_PROGRESSION)]
        pad = sum(np.sin(2 * np.pi * _midi_hz(m) * t_bar) for m in notes) / len(notes)
        bass = np.sin(2 * np.pi * _midi_hz(notes[0] - 24) * t_bar)
        add(music, (0.6 * pad + 0.5 * bass) * env, b * bar_s, 0.22)

    # --- voice
    lines: list[dict] = []
    bar = intro_bars
    cursor_s = intro_bars * bar_s + beat_s / 2
    with tempfile.TemporaryDirectory() as tmp:
        for k, (section, block) in enumerate(blocks):
            for i, text_line in enumerate(block):
                start_s = cursor_s if back_to_back else bar * bar_s + beat_s / 2
                room_s = line_bars * bar_s - beat_s * 1.25
                sung = (sung_as or {}).get(text_line, text_line)
                pitch = 40 + 8 * (i % 4)
                if word_by_word:
                    y, words = _sing_words(text_line, sung, voice=voice, pitch=pitch, room_s=room_s, workdir=Path(tmp),
                                           gap_s=word_gap_s)
                else:
                    y = _fit_line(sung, voice=voice, pitch=pitch, room_s=room_s, workdir=Path(tmp))
                    words = None
                add(vocals, y, start_s, 0.7)
                entry = {"text": text_line, "section": section, "start_s": round(start_s, 4),
                         "end_s": round(start_s + y.size / SR, 4)}
                if words is not None:
                    entry["words"] = [{"text": w, "start_s": round(start_s + a, 4), "end_s": round(start_s + b, 4)}
                                      for w, a, b in words]
                lines.append(entry)
                bar += line_bars
                cursor_s = start_s + y.size / SR + BACK_TO_BACK_GAP_S
            bar += 1 + (break_bars or {}).get(k, 0)
            if (break_bars or {}).get(k):
                cursor_s = max(cursor_s, bar * bar_s + beat_s / 2)

    mix = music + vocals
    gain = 0.9 / (np.abs(mix).max() + 1e-9)
    mix *= gain
    stereo = np.stack([mix, mix], axis=1)

    import soundfile as sf

    audio_path = out_dir / f"{name}.wav"
    tmp_audio = out_dir / f".{name}.part.wav"
    sf.write(str(tmp_audio), stereo, SR, subtype="PCM_16")
    tmp_audio.replace(audio_path)
    vocals_path = out_dir / f"{name}.vocals.wav"
    tmp_audio = out_dir / f".{name}.vocals.part.wav"
    sf.write(str(tmp_audio), np.stack([vocals * gain] * 2, axis=1), SR, subtype="PCM_16")
    tmp_audio.replace(vocals_path)

    lyrics_lines: list[str] = []
    for section, block in blocks:
        lyrics_lines += [f"[{section}]", *block, ""]
    lyrics_path = atomic_write(out_dir / f"{name}.txt", "\n".join(lyrics_lines))
    song = DemoSong(
        audio_path=audio_path,
        lyrics_path=lyrics_path,
        truth_path=out_dir / f"{name}.truth.json",
        tempo_bpm=tempo_bpm,
        duration_s=n / SR,
        beat_times_s=tuple(round(t, 6) for t in beat_times),
        downbeat_times_s=tuple(round(t, 6) for t in beat_times[::4]),
        lines=tuple(lines),
        vocals_path=vocals_path,
    )
    d = dataclasses.asdict(song)
    d.update(audio_path=str(audio_path), lyrics_path=str(lyrics_path), truth_path=str(song.truth_path),
             vocals_path=str(vocals_path))
    atomic_write(song.truth_path, json.dumps(d, indent=1))
    return song
