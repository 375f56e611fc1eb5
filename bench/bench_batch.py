"""Benchmark: batch with --jobs 1 vs --jobs 2, and melt vs an ffmpeg xfade render of the same clips.

    python bench/bench_batch.py [--songs 3] [--size 640x360]

(1) N synthesized songs made and rendered by ``mvtimeline batch`` with one job, then with two
    (fresh output folders, run one after the other): wall time and the ratio jobs2/jobs1.
(2) For one of those projects, the melt render of the .kdenlive against an ffmpeg render of the same
    clips joined with ``xfade`` dissolves at the same frames plus the song, side by side (alternating,
    median of 3): wall time, ratio melt/ffmpeg, and both frame counts (they must be equal).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from mvtimeline.audio.demo import synthesize
from mvtimeline.generate import probe_video
from mvtimeline.render import render


def batch(folder: Path, out: Path, jobs: int, size: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mvtimeline.cli", "-q", "batch", str(folder), "-o", str(out), "--jobs",
                    str(jobs), "--size", size, "--fps", "25", "--force"], check=True, capture_output=True)
    return time.perf_counter() - t0


def ffmpeg_xfade(otio_path: Path, out: Path) -> float:
    """Render the .otio's V1 with xfade at its transitions and A1's song, like melt renders the .kdenlive."""
    tl = otio.adapters.read_from_file(str(otio_path))
    fps = tl.metadata["mvtimeline"]["fps"]
    n_song = tl.metadata["mvtimeline"]["n_frames"]
    items = list(tl.video_tracks()[0])
    clips = [c for c in items if isinstance(c, otio.schema.Clip)]
    trans = {i: t for i, t in enumerate(items) if isinstance(t, otio.schema.Transition)}
    pre_post = []  # (frames before the cut from the incoming, frames after from the outgoing) per cut
    for i, it in enumerate(items):
        if i in trans:
            pre_post.append((trans[i].in_offset.to_frames(), trans[i].out_offset.to_frames()))
    args = ["ffmpeg", "-v", "error", "-y"]
    graph = []
    base = otio_path.parent
    for k, c in enumerate(clips):
        args += ["-i", str(base / c.media_reference.target_url)]
        head = c.source_range.start_time.to_frames()
        n = c.source_range.duration.to_frames()
        pre = pre_post[k - 1][0] if k > 0 else 0
        post = pre_post[k][1] if k < len(pre_post) else 0
        graph.append(f"[{k}:v]trim=start_frame={head - pre}:end_frame={head + n + post},setpts=PTS-STARTPTS[c{k}]")
    cur = "c0"
    for k in range(1, len(clips)):
        prev_len = sum(c.source_range.duration.to_frames() for c in clips[:k])
        pre, post = pre_post[k - 1]
        d = pre + post
        offset_frames = prev_len - pre
        rate = float(Fraction(fps))
        graph.append(f"[{cur}][c{k}]xfade=transition=fade:duration={d / rate:.6f}:offset={offset_frames / rate:.6f}"
                     f"[x{k}]")
        cur = f"x{k}"
    song = base / tl.tracks[1][0].media_reference.target_url
    args += ["-i", str(song), "-filter_complex", ";".join(graph), "-map", f"[{cur}]", "-map", f"{len(clips)}:a",
             "-frames:v", str(n_song), "-r", fps, "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "192k", str(out)]
    t0 = time.perf_counter()
    subprocess.run(args, check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--songs", type=int, default=3)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        songs = root / "songs"
        songs.mkdir()
        for i in range(args.songs):
            s = synthesize(root / "src", name=f"song{i}", tempo_bpm=100 + 10 * i, stanzas=2, intro_bars=1,
                           outro_bars=1)
            shutil.copy(s.audio_path, songs / s.audio_path.name)
            shutil.copy(s.lyrics_path, songs / s.lyrics_path.name)
        t1 = batch(songs, root / "out1", 1, args.size)
        t2 = batch(songs, root / "out2", 2, args.size)
        print(f"batch of {args.songs} songs ({args.size}): --jobs 1 {t1:.1f} s, --jobs 2 {t2:.1f} s, "
              f"ratio jobs2/jobs1 {t2 / t1:.2f}")

        work = root / "out1" / "song0"
        melt_t, ff_t = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            r = render(work / "song0.kdenlive", root / "melt.mp4")
            melt_t.append(time.perf_counter() - t0)
            ff_t.append(ffmpeg_xfade(work / "song0.otio", root / "ffmpeg.mp4"))
        m_frames = probe_video(root / "melt.mp4")["frames"]
        f_frames = probe_video(root / "ffmpeg.mp4")["frames"]
        m, f = statistics.median(melt_t), statistics.median(ff_t)
        print(f"render {r.n_frames} frames: melt {m:.2f} s ({m_frames} frames), ffmpeg xfade {f:.2f} s "
              f"({f_frames} frames), ratio melt/ffmpeg {m / f:.2f}, same length: {m_frames == f_frames}")


if __name__ == "__main__":
    main()
