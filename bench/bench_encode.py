"""Procedural backend vs a bare ffmpeg pipe, encoding the same abstract frames.

For each size, the abstract frames of one request are first rendered at full size into a raw
rgb24 file. Then, alternating, median of ``--reps`` runs:

- ``ours``: ``ProceduralBackend.generate`` (draws the frames itself, then PyAV + libx264);
- ``pyav``: :func:`mvtimeline.generate.encode.encode_video` fed the raw full-size frames
  (the PyAV encode path alone, no drawing);
- ``bare``: ``ffmpeg -f rawvideo -pix_fmt rgb24 -i - -c:v libx264 ...`` reading the raw file on
  stdin, with the same settings (preset, crf, GOP, BT.709 limited range, yuv420p, +faststart).

Prints frames per second for each and the ratios ours/bare and pyav/bare (time ratios: < 1 means
faster than the bare pipe). ``ours`` includes drawing the frames; ``bare`` gets them for free.

Usage: ``python bench/bench_encode.py [--seconds 10] [--fps 30] [--reps 3] [--sizes 1280x720,1920x1080]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from mvtimeline.timecode import parse_fps
from mvtimeline.generate.encode import EncodeSettings, encode_video
from mvtimeline.media import probe_video
from mvtimeline.generate.backends.procedural import ProceduralBackend, abstract_frames
from mvtimeline.types import ClipRequest


def make_request(width: int, height: int, fps: Fraction, seconds: float) -> ClipRequest:
    n = round(seconds * fps)
    t = np.arange(n) / float(fps)
    loudness = tuple(float(v) for v in 0.5 + 0.4 * np.sin(2 * np.pi * t / 4.0))
    return ClipRequest(
        segment_index=3,
        take=1,
        section="Chorus",
        section_index=2,
        image_prompt="",
        motion_prompt="",
        negative_prompt="",
        seed=1234,
        width=width,
        height=height,
        fps=fps,
        n_frames=n,
        head_frames=0,
        tail_frames=0,
        clip_start_s=0.0,
        tempo_bpm=120.0,
        downbeats_s=tuple(float(v) for v in np.arange(0.0, seconds, 2.0)),
        loudness=loudness,
    )


def bare_command(req: ClipRequest, settings: EncodeSettings, out: Path) -> list[str]:
    fps = f"{req.fps.numerator}/{req.fps.denominator}"
    return [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{req.width}x{req.height}", "-r", fps, "-i", "-",
        "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
        "-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf),
        "-g", str(settings.keyint_frames(req.fps)), "-sc_threshold", "0",
        "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv",
        "-movflags", "+faststart", "-an", str(out),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", default="30")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--tmp", type=Path, default=None, help="folder for the raw frames (default: system temp)")
    args = ap.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("ffmpeg is not installed", file=sys.stderr)
        return 1
    fps = parse_fps(args.fps)
    backend = ProceduralBackend()
    print(f"cpus={os.cpu_count()} fps={args.fps} seconds={args.seconds} reps={args.reps} "
          f"preset={backend.settings.preset} crf={backend.settings.crf}")
    print(f"{'size':>10} {'frames':>6} | {'ours fps':>8} {'pyav fps':>8} {'bare fps':>8} | "
          f"{'ours/bare':>9} {'pyav/bare':>9}")
    with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench-encode-") as tmpdir:
        tmp = Path(tmpdir)
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.lower().split("x"))
            req = make_request(w, h, fps, args.seconds)
            raw = tmp / f"{w}x{h}.rgb"
            with raw.open("wb") as f:
                for frame in abstract_frames(req, full_size=True):
                    f.write(frame.tobytes())
            frames = np.memmap(raw, dtype=np.uint8, mode="r", shape=(req.n_frames, h, w, 3))
            times: dict[str, list[float]] = {"ours": [], "pyav": [], "bare": []}

            def ours() -> None:
                backend.generate(req, tmp / "ours.mp4")

            def pyav() -> None:
                encode_video(iter(frames), tmp / "pyav.mp4", width=w, height=h, fps=fps,
                             n_frames=req.n_frames, settings=backend.settings)

            def bare() -> None:
                with raw.open("rb") as stdin:
                    subprocess.run(bare_command(req, backend.settings, tmp / "bare.mp4"), stdin=stdin, check=True)

            runs = {"ours": ours, "pyav": pyav, "bare": bare}
            for rep in range(args.reps):
                order = list(runs) if rep % 2 == 0 else list(reversed(runs))
                for name in order:
                    t0 = time.perf_counter()
                    runs[name]()
                    times[name].append(time.perf_counter() - t0)
            for name in runs:
                got = probe_video(tmp / f"{name}.mp4")["frames"]
                assert got == req.n_frames, f"{name}: {got} frames, expected {req.n_frames}"
            med = {k: statistics.median(v) for k, v in times.items()}
            n = req.n_frames
            print(f"{size:>10} {n:>6} | {n / med['ours']:8.1f} {n / med['pyav']:8.1f} {n / med['bare']:8.1f} | "
                  f"{med['ours'] / med['bare']:9.2f} {med['pyav'] / med['bare']:9.2f}")
            sizes = {k: (tmp / f"{k}.mp4").stat().st_size for k in runs}
            print(f"{'':>10} {'':>6}   bytes: ours {sizes['ours']}, pyav {sizes['pyav']}, bare {sizes['bare']}")
            del frames
            raw.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
