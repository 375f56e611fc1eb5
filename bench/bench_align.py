"""Benchmark lyrics.align against the naive baselines on synthesized songs and the real dev set.

Usage: ``python bench/bench_align.py [--no-synth] [--no-dev] [--dev DIR]``

(a) Synthesized songs (:func:`mvtimeline.demo.synthesize`, known line starts; word truth is not
    known there, so only line onsets): 90/120/150 BPM in English, 90/120 BPM in German (voice "de").
(b) The real dev set (``$MVT_ALIGNMENT_DEV``, default ``../shared/data/alignment-dev`` beside the checkout;
skipped when absent): the aligner gets
    each clip's lyrics one line per line (the ground truth's line texts, no times), and is scored
    with the dev set's own ``score_alignment.py`` (line and word onsets, JamendoLyrics convention:
    per song, then averaged over songs).

For every song: line-onset mean abs error, median, % within 0.3 s and 1 s, word-onset error where
truth exists, and % of the plan's cuts (``plan.build``, cinematic, max 8 s) that fall inside a truly
sung line (more than 0.15 s from its edges), for ``align``, ``place`` (interim) and an even spread
of the lines over the song, side by side.
"""

from __future__ import annotations

import argparse
import os
import dataclasses
import importlib.util
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mvtimeline import plan
from mvtimeline.audio import analyze
from mvtimeline.demo import synthesize
from mvtimeline.lyrics import align, place, read
from mvtimeline.types import Lyrics

DEV = Path(os.environ.get("MVT_ALIGNMENT_DEV", Path(__file__).resolve().parents[2] / "shared/data/alignment-dev"))
GERMAN = """[Strophe]
Die Lichter der Stadt rufen meinen Namen
Jedes Fenster brennt wie eine Flamme
Ich gehe weiter wo der Fluss sich biegt
Ich zähle Sterne bis der Abend endet

[Refrain]
Unter dem Neon werden wir lebendig
Herzen wie Motoren unter Strom
Halt dich fest und lass nie los
Wir tanzen im Abendrot
"""
CUT_MARGIN = 0.15


def even_spread(lyrics: Lyrics, duration_s: float) -> Lyrics:
    n = len(lyrics.lines)
    step = duration_s / n
    lines = [dataclasses.replace(ln, start_s=k * step, end_s=(k + 1) * step, words=tuple(
        dataclasses.replace(w, start_s=None, end_s=None) for w in ln.words), source="interim", confidence=0.0)
        for k, ln in enumerate(lyrics.lines)]
    out = dataclasses.replace(lyrics, lines=tuple(lines))
    return place(out, vocal_regions_s=(), duration_s=duration_s)  # fills word times inside the lines


def onset_stats(pred: list[float], true: list[float]) -> dict:
    e = np.abs(np.asarray(pred) - np.asarray(true))
    return {"mae": float(e.mean()), "med": float(np.median(e)), "max": float(e.max()),
            "p03": 100.0 * float((e < 0.3).mean()), "p1": 100.0 * float((e < 1.0).mean())}


def cuts_in_lines(lyr: Lyrics, analysis, spans: list[tuple[float, float]]) -> tuple[float, int]:
    p = plan.build(lyr, analysis, style="cinematic", max_s=8, title="bench")
    cuts = [s.start_s for s in p.segments[1:]]
    bad = sum(1 for c in cuts if any(a + CUT_MARGIN < c < b - CUT_MARGIN for a, b in spans))
    return (100.0 * bad / len(cuts) if cuts else 0.0), len(cuts)


def row(name: str, method: str, st: dict, cut: tuple[float, int], extra: str = "") -> None:
    print(f"{name:<34} {method:<7} MAE {st['mae']:6.3f}  Med {st['med']:6.3f}  max {st['max']:6.2f}  "
          f"<0.3 {st['p03']:5.1f}%  <1 {st['p1']:5.1f}%  cuts-in-line {cut[0]:5.1f}% ({cut[1]}){extra}")


def bench_synth(work: Path) -> dict:
    songs = [("en 90 BPM", 90, "en-us", None), ("en 120 BPM", 120, "en-us", None),
             ("en 150 BPM", 150, "en-us", None), ("de 90 BPM", 90, "de", GERMAN), ("de 120 BPM", 120, "de", GERMAN)]
    agg: dict[str, list] = {"align": [], "place": [], "even": []}
    cut_agg: dict[str, list] = {"align": [], "place": [], "even": []}
    times = []
    print("\n(a) synthesized songs: line onsets (s)")
    for name, bpm, voice, text in songs:
        song = synthesize(work / name.replace(" ", "_"), tempo_bpm=bpm, voice=voice, lyrics_text=text, stanzas=2)
        a = analyze(song.audio_path)
        lyr = read(song.lyrics_path)
        t0 = time.perf_counter()
        al = align(lyr, song.audio_path, a)
        times.append((time.perf_counter() - t0, song.duration_s))
        truth = [ln["start_s"] for ln in song.lines]
        spans = [(ln["start_s"], ln["end_s"]) for ln in song.lines]
        for method, out in (("align", al), ("place", place(lyr, vocal_regions_s=a.vocal_regions_s,
                                                              duration_s=a.duration_s)),
                            ("even", even_spread(lyr, a.duration_s))):
            st = onset_stats([ln.start_s for ln in out.lines], truth)
            cut = cuts_in_lines(out, a, spans)
            agg[method].append(st)
            cut_agg[method].append(cut[0])
            extra = f"  ({times[-1][0]:.1f} s for {song.duration_s:.0f} s)" if method == "align" else ""
            row(f"{name} ({song.duration_s:.0f} s)", method, st, cut, extra)
    print("synthesized, mean over songs:")
    for method in agg:
        st = {k: statistics.fmean(s[k] for s in agg[method]) for k in agg[method][0]}
        row("ALL synthesized", method, st, (statistics.fmean(cut_agg[method]), 0))
    return agg


def _scorer():
    spec = importlib.util.spec_from_file_location("score_alignment", DEV / "score_alignment.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _as_pred(lyr: Lyrics) -> dict:
    return {"lines": [{"text": ln.text, "start": ln.start_s, "end": ln.end_s,
                       "words": [{"text": w.text, "start": w.start_s, "end": w.end_s} for w in ln.words]}
                      for ln in lyr.lines]}


def bench_dev(dev: Path, work: Path) -> None:
    if not (dev / "score_alignment.py").exists():
        print(f"\n(b) dev set: {dev} not found, skipped")
        return
    sc = _scorer()
    print(f"\n(b) real dev set ({dev}): line / word onsets (s), scored with score_alignment.py")
    res: dict[str, list] = {"align": [], "place": [], "even": []}
    cut_res: dict[str, list] = {"align": [], "place": [], "even": []}
    times = []
    for gt_path in sorted(dev.glob("*.json")):
        gt = json.loads(gt_path.read_text(encoding="utf-8"))
        audio = gt_path.with_suffix(".mp3")
        if not audio.exists():
            continue
        txt = work / f"{gt_path.stem}.txt"
        txt.write_text("\n".join(ln["text"] for ln in gt["lines"]) + "\n", encoding="utf-8")
        a = analyze(audio)
        lyr = read(txt)
        t0 = time.perf_counter()
        al = align(lyr, audio, a)
        times.append(time.perf_counter() - t0)
        spans = [(ln["start"], ln["end"]) for ln in gt["lines"]]
        for method, out in (("align", al), ("place", place(lyr, vocal_regions_s=a.vocal_regions_s,
                                                              duration_s=a.duration_s)),
                            ("even", even_spread(lyr, a.duration_s))):
            r = sc.score(_as_pred(out), gt)
            cut = cuts_in_lines(out, a, spans)
            res[method].append(r)
            cut_res[method].append(cut[0])
            ls, ws = r["lines"], r.get("words")
            st = {"mae": ls["mae"], "med": ls["medae"], "max": max(abs(e) for e in r["_line_errs"]),
                  "p03": ls["within_0.3"], "p1": ls["within_1.0"]}
            extra = f"  words MAE {ws['mae']:6.2f} <0.3 {ws['within_0.3']:5.1f}%" if ws else ""
            if method == "align":
                extra += f"  conf {statistics.fmean(ln.confidence for ln in out.lines):.2f}"
            row(gt_path.stem[:34], method, st, cut, extra)
    print("dev set, song-mean (JamendoLyrics convention) and pooled:")
    for method in res:
        lm = sc.song_mean(res[method], "lines")
        wm = sc.song_mean(res[method], "words")
        errs = [abs(e) for r in res[method] for e in r["_line_errs"]]
        print(f"  {method:<6} lines song-mean MAE {lm['mae']:6.3f} Med {lm['medae']:6.3f} <0.3 {lm['within_0.3']:5.1f}% "
              f"<1 {lm['within_1.0']:5.1f}% | pooled MAE {statistics.fmean(errs):6.3f} "
              f"<1 {100 * sum(e < 1 for e in errs) / len(errs):5.1f}% | words song-mean MAE {wm['mae']:6.3f} "
              f"<0.3 {wm['within_0.3']:5.1f}% | plan cuts in sung lines {statistics.fmean(cut_res[method]):5.1f}%")
    print(f"  align time per clip: mean {statistics.fmean(times):.1f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-dev", action="store_true")
    ap.add_argument("--dev", type=Path, default=DEV)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-align-") as tmp:
        if not args.no_synth:
            bench_synth(Path(tmp))
        if not args.no_dev:
            bench_dev(args.dev, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
