"""Benchmark the clip sync of ``mvtimeline import`` against audio-offset-finder, side by side.

Usage: ``python bench/bench_import.py [--clips 50] [--seed 0]`` (audio-offset-finder installed for
the side-by-side column: ``pip install audio-offset-finder``; without it only ours is measured).

A synthesized song (verse, chorus, verse, chorus) and its work folder; ``--clips`` clips cut from
the song's own slices as a generator would hand them back: a random segment, an offset of
-1.5..+1.5 s, 24 or 30 fps, black heads and frozen tails, AAC at 44.1 or 48 kHz, -6 dB, a low-pass,
or white noise at 0 dB. Each clip is synced by

- **ours**: :func:`mvtimeline.audio.sync.find_offset` around its segment (what ``import
  --segment`` and pack-named clips do), and also over the whole song (a clip found by sound);
- **audio-offset-finder** 0.5 (MFCC cross-correlation, its defaults): against the same window of
  the song, and against the whole song.

Reported: error in frames at 24 fps (mean, max, share within one frame), seconds per clip, and how
many clips of a repeated section were put on the wrong repeat.

``--joint R``: instead, R folders of returned clips without names (one per sung segment of the
import tests' work folder, both choruses included: each a little longer or shorter than asked,
four with their head cut by 0.3-0.6 s) imported whole (``import_clips``), as the
``tests/generate/test_import_joint.py`` folder but with any segment's head cut, choruses too.
Reported per folder: clips, placed right (its segment, in sync to a frame), placed wrong, refused
(and which segments), seconds for the import.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from support.clips import build_import_base, make_clip, returned_clip  # noqa: E402

from mvtimeline import pipeline  # noqa: E402
from mvtimeline.audio import load  # noqa: E402
from mvtimeline.audio.sync import SR, find_offset, song_envelopes  # noqa: E402
from mvtimeline.config import Config  # noqa: E402

FPS = 24
WINDOW_S = 3.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--joint", type=int, default=0, metavar="R", help="R folders of unnamed clips, placed jointly")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.joint:
        return joint(args.joint, args.seed)
    try:
        from audio_offset_finder.audio_offset_finder import find_offset_between_buffers
    except ImportError:
        find_offset_between_buffers = None
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        d = Path(tmp)
        from mvtimeline.audio.demo import synthesize

        song = synthesize(d / "song", stanzas=4, intro_bars=1, outro_bars=1)
        res = pipeline.run(song.audio_path, song.lyrics_path, d / "work",
                           Config(fps=Fraction(FPS), width=320, height=180, max_segment_s=6.0))
        project = res.project
        reqs = project.clip_requests(res.plan, project.load_analysis(), pipeline.project_backend(project))
        y, _ = load(song.audio_path, sr=SR)
        y8k, _ = load(song.audio_path, sr=8000)
        env = song_envelopes(y)
        sung = [r for r, s in zip(reqs, res.plan.segments) if s.lines]
        chorus_lines = {s.lines for s in res.plan.segments if s.section == "Chorus" and s.lines}
        repeats = {r.segment_index for r, s in zip(reqs, res.plan.segments) if s.lines in chorus_lines
                   and sum(1 for x in res.plan.segments if x.lines == s.lines) > 1}
        rows = []
        for k in range(args.clips):
            req = sung[int(rng.integers(len(sung)))]
            delta = float(rng.uniform(-1.5, 1.5))
            truth = req.clip_start_s + delta
            kind = ["clean", "aac48k-6dB", "lowpass3k", "noise0dB"][k % 4]
            clip = make_clip(song.audio_path, d / f"c{k}.mp4", start_s=truth,
                             dur_s=float(Fraction(req.n_frames) / req.fps) + 1.0, fps=[24, 30][k % 2],
                             black_head_s=float(rng.choice([0.0, 0.4])), frozen_tail_s=float(rng.choice([0.0, 0.5])),
                             rate=48000 if kind == "aac48k-6dB" else 44100,
                             gain_db=-6.0 if kind == "aac48k-6dB" else 0.0,
                             lowpass_hz=3000 if kind == "lowpass3k" else None,
                             noise_db=0.0 if kind == "noise0dB" else None, seed=k)
            a = load(clip, sr=SR)[0]
            t0 = time.perf_counter()
            local = find_offset(a, env, center_s=req.clip_start_s, window_s=WINDOW_S)
            t_ours = time.perf_counter() - t0
            whole = find_offset(a, env, center_s=len(y) / SR / 2, window_s=len(y) / SR / 2 + 1)
            row = {"kind": kind, "truth": truth, "ours": local.offset_s, "ours_whole": whole.offset_s,
                   "t_ours": t_ours, "repeat": req.segment_index in repeats, "conf": local.confidence}
            if find_offset_between_buffers is not None:
                a8 = load(clip, sr=8000)[0]
                lo = max(0.0, req.clip_start_s - WINDOW_S)
                win = y8k[int(lo * 8000): int((req.clip_start_s + WINDOW_S) * 8000) + a8.size]
                t0 = time.perf_counter()
                r = find_offset_between_buffers(win, a8, 8000)
                row["t_aof"] = time.perf_counter() - t0
                row["aof"] = lo + float(r["time_offset"])
                row["aof_whole"] = float(find_offset_between_buffers(y8k, a8, 8000)["time_offset"])
            rows.append(row)
            print(f"  clip {k:2d} {kind:<11} truth {truth:7.3f}  ours {row['ours'] - truth:+.4f} s"
                  + (f"  aof {row['aof'] - truth:+.4f} s" if "aof" in row else ""), file=sys.stderr)
        print(f"{len(rows)} clips, errors in frames at {FPS} fps (1 frame = {1000 / FPS:.1f} ms)")

        def stats(key: str, subset: list[dict]) -> str:
            e = [abs(r[key] - r["truth"]) * FPS for r in subset]
            return (f"mean {statistics.fmean(e):6.3f}  max {max(e):8.2f}  within 1 frame "
                    f"{100 * sum(x < 1 for x in e) / len(e):5.1f}%")
        for kind in ("clean", "aac48k-6dB", "lowpass3k", "noise0dB", None):
            subset = [r for r in rows if kind is None or r["kind"] == kind]
            if not subset:
                continue
            label = kind or "ALL"
            print(f"  {label:<11} ours (segment window) {stats('ours', subset)}")
            if "aof" in subset[0]:
                print(f"  {'':<11} audio-offset-finder  {stats('aof', subset)}")
        print(f"  seconds per clip: ours {statistics.fmean(r['t_ours'] for r in rows):.4f}"
              + (f", audio-offset-finder {statistics.fmean(r['t_aof'] for r in rows):.4f}" if "t_aof" in rows[0] else ""))
        rep = [r for r in rows if r["repeat"]]
        if rep:
            wrong = lambda key: sum(abs(r[key] - r["truth"]) > 1.0 for r in rep)  # noqa: E731
            print(f"  clips of a repeated chorus: {len(rep)}; off by more than 1 s: ours with its segment "
                  f"{wrong('ours')}, ours over the whole song {wrong('ours_whole')}"
                  + (f", audio-offset-finder over the whole song {wrong('aof_whole')}" if "aof_whole" in rep[0] else ""))
    return 0


def joint(rounds: int, seed: int) -> int:
    """The ``--joint`` case: folders of unnamed returned clips, each imported as a whole."""
    import json
    import shutil

    from mvtimeline.types import Plan

    with tempfile.TemporaryDirectory(prefix="bench-import-joint-") as tmp:
        d = Path(tmp)
        song, base = build_import_base(d / "base")
        segs = [s for s in Plan.load(base / "plan.json").segments if s.lines]
        reqs = {r["request"]["segment_index"]: r["request"]
                for r in (json.loads(p.read_text()) for p in (base / "clips").glob("*/take-1.json"))}
        totals = [0, 0, 0, 0]
        for k in range(rounds):
            rng = np.random.default_rng([seed, k])
            cut = set(rng.choice([s.index for s in segs], 4, replace=False).tolist())
            pack = d / f"pack{k}"
            pack.mkdir()
            truth = {}
            for s in segs:
                r = reqs[s.index]
                span = (r["clip_start_s"], r["clip_start_s"] + float(Fraction(r["n_frames"]) / Fraction(r["fps"])))
                clip, start_s = returned_clip(song.audio_path, pack, span, rng,
                                              head_cut_s=float(rng.uniform(0.3, 0.6)) if s.index in cut else 0.0,
                                              end_s=float(rng.uniform(-0.12, 0.12)))
                truth[clip.name] = (s.index, start_s)
            work = d / f"work{k}"
            shutil.copytree(base, work)
            t0 = time.perf_counter()
            rows = pipeline.import_clips(work, [pack])
            took = time.perf_counter() - t0
            right = sum(r.ok and r.segment == truth[r.clip.name][0] and abs(r.offset_s - truth[r.clip.name][1]) < 1 / FPS
                        for r in rows)
            wrong = sum(r.ok and r.segment != truth[r.clip.name][0] for r in rows)
            refused = sorted(truth[r.clip.name][0] for r in rows if not r.ok)
            for i, v in enumerate((len(rows), right, wrong, len(refused))):
                totals[i] += v
            print(f"  folder {k}: {len(rows)} clips, {right} right, {wrong} wrong, refused {len(refused)} "
                  f"(segments {refused}, heads cut {sorted(cut)}), import {took:.1f} s")
        print(f"{rounds} folders: {totals[0]} clips, {totals[1]} right, {totals[2]} wrong, {totals[3]} refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
