"""Benchmark the planner: segment counts and lengths per section kind, cuts inside words, clips to make.

Usage: ``python bench/bench_plan.py [--clip 5] [--baseline REV] [--no-synth] [--no-dev] [--dev DIR]
[--work DIR]``

Songs: synthesized ones with known bars (:func:`mvtimeline.audio.demo.synthesize`: a 30 s intro at
120 BPM and an 8-bar break, sung word by word; a 150 BPM song with 16 intro bars and lines sung
back to back; an instrumental of 60 s), the real dev excerpts and full songs (``$MVT_ALIGNMENT_DEV``,
default ``../shared/data/alignment-dev``, skipped when absent). Each song is analysed and its plain
lyrics aligned by Whisper once (cached in ``--work``); then the plan is made for the default
procedural backend (20 s segments at most) with a model clip length of ``--clip`` seconds.

Reported per song: segments, clips the model makes (chained chunks counted), segments under 2 s,
segments longer than the clip length without being planned as chunks ("over"), cuts inside a true
sung word (word truth: the dev songs' and the synthesized songs' own), how many segments the
instrumental intro has and how long it is, the length (min/median/max) per section kind, and the
sections in order. ``--baseline REV`` checks REV out into a temporary git worktree and plans the
same analyses and alignments with that revision's planner (max 20 s, the old default, and max
``--clip`` s, the old way to ask for short segments) in a subprocess, side by side.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEV = Path(os.environ.get("MVT_ALIGNMENT_DEV", HERE.parents[1] / "shared/data/alignment-dev"))


def prepare(work: Path, *, synth: bool, dev: Path | None) -> list[dict]:
    """Analyse and align every song once; return ``{"name", "analysis", "aligned", "words"}`` rows."""
    from mvtimeline.audio import analyze
    from mvtimeline.audio.demo import synthesize
    from mvtimeline.lyrics import align, read
    from mvtimeline.types import Analysis, Lyrics

    rows = []
    songs: list[tuple[str, Path, Path | None, list]] = []
    if synth:
        s1 = synthesize(work / "synth", name="intro30", intro_bars=15, word_by_word=True, break_bars={1: 8})
        s2 = synthesize(work / "synth", name="fast150", tempo_bpm=150.0, intro_bars=16, back_to_back=True)
        s3 = synthesize(work / "synth", name="instrumental", lyrics_text="[Verse]\nla\n", stanzas=1, intro_bars=14,
                        outro_bars=14)
        for s, lyr in ((s1, s1.lyrics_path), (s2, s2.lyrics_path), (s3, None)):
            words = [(w["start_s"], w["end_s"]) for ln in s.lines for w in ln.get("words", [])] or \
                [(ln["start_s"], ln["end_s"]) for ln in s.lines]
            songs.append((s.audio_path.stem, s.audio_path, lyr, words if lyr else []))
    if dev is not None and dev.is_dir():
        for mp3 in sorted(dev.glob("*.mp3")) + sorted((dev / "full").glob("*.mp3")):
            truth = json.loads(mp3.with_suffix(".json").read_text(encoding="utf-8"))
            words = [(float(w["start"]), float(w["end"])) for ln in truth["lines"] for w in ln.get("words", [])]
            songs.append((mp3.stem, mp3, mp3.with_suffix(".txt"), words))
    for name, audio, lyr, words in songs:
        a_path, l_path = work / f"{name}.analysis.json", work / f"{name}.aligned.json"
        if not a_path.exists():
            analyze(audio).save(a_path)
        analysis = Analysis.load(a_path)
        if not l_path.exists():
            if lyr is None:
                Lyrics(path="", format="none", lines=()).save(l_path)
            else:
                align(read(lyr), audio, analysis, aligner="whisper").save(l_path)
        rows.append({"name": name, "analysis": str(a_path), "aligned": str(l_path), "words": words})
    return rows


def stats(rows: list[dict], *, max_s: float, clip_s: float) -> list[dict]:
    """Plan every song with the planner importable here; the figures of each plan."""
    from mvtimeline import plan
    from mvtimeline.types import Analysis, Lyrics, section_kind

    new = "clip_s" in inspect.signature(plan.build).parameters
    out = []
    for row in rows:
        analysis, aligned = Analysis.load(Path(row["analysis"])), Lyrics.load(Path(row["aligned"]))
        kwargs = {"clip_s": clip_s} if new else {}
        p = plan.build(aligned, analysis, style="cinematic", max_s=max_s, title="bench", **kwargs)
        segs = p.segments
        lengths = [s.duration_s for s in segs]
        chunks = [getattr(s, "chunks", 1) for s in segs]
        words = row["words"]
        cuts = [s.start_s for s in segs[1:]]
        inside = sum(1 for c in cuts if any(a + 0.02 < c < b - 0.02 for a, b in words))
        first_word = min((a for a, _ in words), default=analysis.duration_s)
        intro = [s for s in segs if s.end_s <= first_word + 0.3]
        per_kind: dict[str, list[float]] = {}
        for s in segs:
            per_kind.setdefault(section_kind(s.section), []).append(s.duration_s)
        order: list[str] = []
        for s in segs:
            if not order or order[-1] != s.section:
                order.append(s.section)
        out.append({
            "name": row["name"], "segments": len(segs), "clips": sum(chunks),
            "under_2s": sum(x < 2.0 - 1e-6 for x in lengths),
            "over": sum(1 for x, c in zip(lengths, chunks) if x / c > clip_s + 1e-3),
            "chained": sum(c > 1 for c in chunks),
            "inside_words": inside, "cuts": len(cuts),
            "intro_segments": len(intro), "intro_s": round(intro[-1].end_s, 1) if intro else 0.0,
            "kinds": {k: [round(min(v), 1), round(statistics.median(v), 1), round(max(v), 1), len(v)]
                      for k, v in per_kind.items()},
            "sections": order,
            "reasons": sorted({s.cut for s in segs[1:]}),
        })
    return out


def report(title: str, results: list[dict]) -> None:
    print(f"\n== {title}")
    print(f"{'song':34} {'segs':>4} {'clips':>5} {'<2s':>3} {'over':>4} {'chain':>5} {'inWord':>7} {'intro':>10}")
    tot = {"segments": 0, "under_2s": 0, "over": 0, "inside_words": 0, "cuts": 0, "clips": 0}
    for r in results:
        print(f"{r['name'][:34]:34} {r['segments']:4d} {r['clips']:5d} {r['under_2s']:3d} {r['over']:4d} "
              f"{r['chained']:5d} {r['inside_words']:3d}/{r['cuts']:<3d} {r['intro_segments']:2d} in {r['intro_s']:4.1f}s")
        for k in tot:
            tot[k] += r[k]
    print(f"{'total':34} {tot['segments']:4d} {tot['clips']:5d} {tot['under_2s']:3d} {tot['over']:4d} {'':5} "
          f"{tot['inside_words']:3d}/{tot['cuts']:<3d}   under 2 s: {100 * tot['under_2s'] / max(1, tot['segments']):.1f} %")
    for r in results:
        kinds = "  ".join(f"{k} {v[3]}×{v[0]}/{v[1]}/{v[2]}" for k, v in sorted(r["kinds"].items()))
        print(f"  {r['name'][:32]:32} {kinds}")
        print(f"  {'':32} {' → '.join(r['sections'])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=float, default=5.0, help="the model's clip length (s)")
    ap.add_argument("--max", type=float, default=20.0, help="longest segment (s): the backend's, by chaining")
    ap.add_argument("--baseline", help="a git revision to compare with")
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-dev", action="store_true")
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mvt-bench-plan")
    ap.add_argument("--stats-only", type=Path, help=argparse.SUPPRESS)  # a baseline subprocess: rows → JSON
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.stats_only:
        rows = json.loads(args.stats_only.read_text())
        print(json.dumps(stats(rows, max_s=args.max, clip_s=args.clip)))
        return
    sys.path.insert(0, str(HERE.parent))
    args.work.mkdir(parents=True, exist_ok=True)
    rows = prepare(args.work, synth=not args.no_synth, dev=None if args.no_dev else args.dev)
    report(f"this tree: clip {args.clip:g} s, max {args.max:g} s", stats(rows, max_s=args.max, clip_s=args.clip))
    if args.baseline:
        listing = args.work / "rows.json"
        listing.write_text(json.dumps(rows))
        with tempfile.TemporaryDirectory() as tmp:
            tree = Path(tmp) / "baseline"
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "add", "--detach", str(tree), args.baseline],
                           check=True, capture_output=True)
            try:
                for max_s in (args.max, args.clip):
                    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--stats-only", str(listing),
                                          "--max", str(max_s), "--clip", str(args.clip)],
                                         env={**os.environ, "PYTHONPATH": str(tree)}, check=True,
                                         capture_output=True, text=True).stdout
                    report(f"baseline {args.baseline}: max {max_s:g} s (over = longer than {args.clip:g} s)",
                           json.loads(out))
            finally:
                subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)


if __name__ == "__main__":
    main()
