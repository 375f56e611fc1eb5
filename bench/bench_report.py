"""Benchmark the alignment report: does it tell a song's own lyrics from another song's?

Usage: ``python bench/bench_report.py [--no-dev] [--dev DIR]``

Every song is aligned (the working tree's default aligner: Whisper when its model is installed) with
its own lyrics, with the lyrics of another song, and (short songs) with the full song's lyrics of the
dev set (far too long); the instrumental of a synthesized song (its voice taken out) with the
song's lyrics. Reported per case: the verdict (:data:`mvtimeline.lyrics.align.report.VERDICTS`), the
``heard_score`` with its lines, syllables a second, the voice heard, the lines flagged, and the
time of the alignment (the report's decoy lines included). A good report says ``ok`` on every own
case and something else on every other.

Songs: two synthesized songs (:func:`mvtimeline.audio.demo.synthesize`, different words and tempi) and
the synthesized instrumental; the real dev excerpts (``$MVT_ALIGNMENT_DEV``, default
``../shared/data/alignment-dev``, their word truth's lines as lyrics; skipped when absent) and its
full songs. The dev songs are for evaluation only: nothing of them is written into the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEV = Path(os.environ.get("MVT_ALIGNMENT_DEV", REPO.parent / "shared" / "data" / "alignment-dev"))

OTHER_LYRICS = """[Verse]
Rivers run beneath the frozen ground tonight
Silver trains are calling from the station light
Every window holds a story never told
Paper boats are sailing on the streets of gold

[Chorus]
Hold the lantern high and let the morning come
Sing it to the hills until the night is done
"""


def _songs(tmp: Path, dev: Path | None) -> list[tuple[str, Path, Path]]:
    """(name, audio, lyrics) of every song."""
    import soundfile as sf

    from mvtimeline.audio.demo import synthesize

    a = synthesize(tmp / "a", stanzas=2, intro_bars=2, outro_bars=2)
    b = synthesize(tmp / "b", lyrics_text=OTHER_LYRICS, name="b", tempo_bpm=96, seed=3)
    mix, sr = sf.read(a.audio_path)
    voice, _ = sf.read(tmp / "a" / "demo.vocals.wav")
    n = min(len(mix), len(voice))
    sf.write(tmp / "instrumental.wav", mix[:n] - voice[:n], sr)
    out = [("synth A", a.audio_path, a.lyrics_path), ("synth B", b.audio_path, b.lyrics_path)]
    if dev is not None and dev.is_dir():
        for mp3 in sorted(dev.glob("*.mp3")):
            truth = json.loads(mp3.with_suffix(".json").read_text())
            lyr = tmp / f"{mp3.stem}.txt"
            lyr.write_text("\n".join(line["text"] for line in truth["lines"]), encoding="utf-8")
            out.append((mp3.stem[:24], mp3, lyr))
        for mp3 in sorted((dev / "full").glob("*.mp3")):
            out.append((mp3.stem[:24], mp3, mp3.with_suffix(".txt")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-dev", action="store_true", help="only the synthesized songs")
    ap.add_argument("--dev", type=Path, default=DEV)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from mvtimeline import audio
    from mvtimeline import lyrics as lyr

    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        songs = _songs(tmp, None if args.no_dev else args.dev)
        longest = max(songs, key=lambda s: len(s[2].read_text(encoding="utf-8")))
        cases = []
        for k, (name, song, own) in enumerate(songs):
            other = songs[(k + len(songs) // 2) % len(songs)][2] if len(songs) > 2 else songs[1 - k][2]
            cases += [(name, "own", song, own), (name, "another song's", song, other)]
            if len(longest[2].read_text(encoding="utf-8")) > 3 * len(own.read_text(encoding="utf-8")):
                cases.append((name, "far too long", song, longest[2]))
        cases.append(("synth A instrumental", "the song's", tmp / "instrumental.wav", songs[0][2]))
        print(f"{'song':<24} {'lyrics':<15} {'verdict':<10} {'score':>6} {'lines':>5} {'syl/s':>6} "
              f"{'voice s':>8} {'flagged':>7} {'time s':>7}")
        right = 0
        for name, kind, song, lyrics in cases:
            analysis = audio.analyze(song)
            t0 = time.perf_counter()
            aligned = lyr.align(lyr.read(lyrics), song, analysis)
            took = time.perf_counter() - t0
            rep = aligned.report
            ev = rep["evidence"]
            flagged = sum(len(v) for v in lyr.flagged(aligned).values())
            right += (rep["verdict"] == "ok") == (kind == "own")
            print(f"{name:<24} {kind:<15} {rep['verdict']:<10} {ev.get('heard_score', float('nan')):6.2f} "
                  f"{ev.get('heard_lines', 0):5.0f} {ev['syllables_per_s']:6.2f} {ev['voiced_s']:8.1f} "
                  f"{flagged:7d} {took:7.1f}", flush=True)
        print(f"\n{right} of {len(cases)} verdicts right (own lyrics ok, every other case not)")


if __name__ == "__main__":
    main()
