"""Benchmark: analysis + lyrics + plan + timeline + export on a synthesized 4-minute song.

Prints the time of each stage and of all of them as a ratio to the song's duration (median of
several runs; lower is better, 1.0 = as long as the song). Clip generation is excluded (its own
benchmark is bench_encode.py): the clips are made once, at a tiny size, before the timed runs.

    python bench/bench_pipeline.py [--runs 3] [--minutes 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from mvtimeline import pipeline
from mvtimeline.config import Config
from mvtimeline.audio.demo import synthesize


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=4.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        song = synthesize(Path(tmp) / "src", min_duration_s=args.minutes * 60, name="bench")
        cfg = Config(fps=Fraction(30), width=64, height=36)
        project = pipeline.new_project(song.audio_path, song.lyrics_path, Path(tmp) / "work", cfg)
        # warm-up run: imports, numba compilation, clips into the cache
        analysis = pipeline.analyze_step(project)
        aligned = pipeline.align_step(project, analysis)
        plan = pipeline.plan_step(project, analysis, aligned)
        clips = pipeline.generate_step(project, plan, analysis).chosen
        rows: dict[str, list[float]] = {k: [] for k in ("analyze", "lyrics", "plan", "timeline+export", "total")}
        for _ in range(args.runs):
            (project.folder / "analysis.json").unlink()
            (project.folder / "plan.json").unlink()
            t0 = time.perf_counter()
            analysis = pipeline.analyze_step(project)
            t1 = time.perf_counter()
            aligned = pipeline.align_step(project, analysis)
            t2 = time.perf_counter()
            plan = pipeline.plan_step(project, analysis, aligned)
            t3 = time.perf_counter()
            pipeline.export_step(project, plan, aligned, clips)
            t4 = time.perf_counter()
            for key, dt in zip(rows, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                rows[key].append(dt)
        d = song.duration_s
        print(f"song: {d:.1f} s synthesized, {len(plan.segments)} segments, median of {args.runs} runs")
        print(f"{'stage':<18}{'seconds':>10}{'ratio to song':>16}")
        for key, values in rows.items():
            m = statistics.median(values)
            print(f"{key:<18}{m:>10.2f}{m / d:>16.4f}")


if __name__ == "__main__":
    main()
