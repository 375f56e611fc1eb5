"""Benchmark the Ray executor against the local one: procedural clips of one song.

Usage: ``python bench/bench_ray.py [--size 1280x720] [--fps 30] [--max-segment 6]``

The same clip requests (a synthesized song, procedural backend, default ``1280x720`` at 30 fps so a
clip is a few seconds of CPU work) made three ways, side by side, each into a fresh cache:

- **local**: this process (the default executor);
- **ray, 1 worker**: a local Ray with one CPU (``ray.init(num_cpus=1)``): Ray's own cost per clip
  (scheduling, the inputs put in the object store, the clip's bytes back, the driver's write);
- **ray, 2 workers**: two CPUs: the scaling (bounded by this machine's cores: on 2 cores the
  driver, Ray's processes and the encoder's threads share them).

Ray's start-up is left out of the times (it is paid once per run). Reported: seconds, seconds per
clip, ratios.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from mvtimeline import generate, pipeline
from mvtimeline.config import Config, parse_size
from mvtimeline.generate.executors.ray import RayExecutor


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--fps", default="30")
    ap.add_argument("--max-segment", type=float, default=6.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    import ray

    w, h = parse_size(args.size)
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        d = Path(tmp)
        from mvtimeline.audio.demo import synthesize

        song = synthesize(d / "song", stanzas=2, intro_bars=1, outro_bars=1)
        cfg = Config(fps=Fraction(args.fps), width=w, height=h, max_segment_s=args.max_segment)
        p = pipeline.new_project(song.audio_path, song.lyrics_path, d / "work", cfg)
        a = pipeline.analyze_step(p)
        plan = pipeline.plan_step(p, a, pipeline.align_step(p, a))
        backend = generate.get_backend("procedural")
        reqs = p.clip_requests(plan, a, backend)
        seconds = sum(float(Fraction(r.n_frames) / r.fps) for r in reqs)
        print(f"{len(reqs)} clips, {seconds:.1f} s of video at {w}x{h}, {args.fps} fps; {os.cpu_count()} cores")
        t0 = time.perf_counter()
        generate.run(reqs, backend=backend, cache_dir=d / "local")
        local = time.perf_counter() - t0
        times = {}
        for n in (1, 2):
            ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            try:
                ex = RayExecutor(("procedural", {}))
                ex.run(reqs[:1], backend=backend, cache_dir=d / f"warm{n}")  # workers up
                t0 = time.perf_counter()
                ex.run(reqs, backend=backend, cache_dir=d / f"ray{n}")
                times[n] = time.perf_counter() - t0
            finally:
                ray.shutdown()
        per = local / len(reqs)
        print(f"  local            {local:7.1f} s  {per:6.2f} s/clip")
        for n, t in times.items():
            print(f"  ray, {n} worker{'s' if n > 1 else ' '}   {t:7.1f} s  {t / len(reqs):6.2f} s/clip  "
                  f"vs local ×{local / t:.2f}")
        print(f"  Ray's cost per clip (1 worker vs local): {(times[1] - local) / len(reqs):+.3f} s "
              f"({100 * (times[1] / local - 1):+.1f} %); 2 workers vs 1: ×{times[1] / times[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
