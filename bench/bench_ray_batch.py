"""Benchmark a batch on a Ray cluster against the local batch: N synthesized songs, procedural.

Usage: ``python bench/bench_ray_batch.py [--songs 3] [--size 640x360] [--fps 25]``

The same songs and settings run three ways, side by side, each into a fresh folder:

- **local, --jobs 1**: one song after another in this process;
- **local, --jobs 2**: two songs at once in worker processes (each makes its own clips);
- **ray**: a local Ray on this machine's cores: every song's analysis/alignment and render as CPU
  tasks, the clips of all songs as tasks on the same cluster, all songs at once.

Reported: seconds per way and ratios against ``--jobs 1``, and when the last song's first clip was
made (with Ray it does not wait for the other songs' renders). Ray's start-up is included (a batch
pays it once).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from mvtimeline import batch
from mvtimeline.config import Config, parse_size


def _first_clip_of(folder: Path, t0: float) -> float:
    made = [Path(p).stat().st_mtime for p in folder.glob("clips/*/take-1.json")]
    return min(made) - t0 if made else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=3)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--fps", default="25")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    from mvtimeline.audio.demo import synthesize
    from mvtimeline.generate.executors.ray import shared_cluster
    from mvtimeline.doctor import warm_up

    w, h = parse_size(args.size)
    warm_up()
    with tempfile.TemporaryDirectory(prefix="bench-ray-batch-") as tmp:
        d = Path(tmp)
        songs = d / "songs"
        songs.mkdir()
        total_s = 0.0
        for k in range(args.songs):
            s = synthesize(d / f"s{k}", stanzas=2, intro_bars=1, outro_bars=1, tempo_bpm=96 + 8 * k, seed=k)
            shutil.copy(s.audio_path, songs / f"song{k}.wav")
            shutil.copy(s.lyrics_path, songs / f"song{k}.txt")
            total_s += s.duration_s
        print(f"{args.songs} songs, {total_s:.1f} s of music, {w}x{h} at {args.fps} fps, preview renders; "
              f"{os.cpu_count()} cores")
        base = Config(fps=Fraction(args.fps), width=w, height=h)
        rows = []
        for label, cfg, jobs in (("local, --jobs 1", base, 1), ("local, --jobs 2", base, 2),
                                 ("ray (all cores)", base.replace(executor="ray"), 1)):
            out = d / label.split(",")[0].replace(" ", "") / str(jobs)
            t0 = time.time()
            with shared_cluster(cfg) as c:
                outcomes = batch.run_source(songs, out, config=c, preset="preview", jobs=jobs)
            took = time.time() - t0
            assert all(o.status == "done" for o in outcomes), json.dumps([o.__dict__ for o in outcomes])
            last = _first_clip_of(out / f"song{args.songs - 1}", t0)
            rows.append((label, took, last))
        ref = rows[0][1]
        print(f"{'way':<18}{'seconds':>9}{'× jobs 1':>10}{'last song 1st clip at (s)':>28}")
        for label, took, last in rows:
            print(f"{label:<18}{took:>9.1f}{ref / took:>10.2f}{last:>28.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
