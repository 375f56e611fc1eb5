"""Benchmark the ComfyUI backend: its overhead per clip against a bare client, and 2 servers vs 1.

Usage: ``python bench/bench_comfyui.py [--comfyui URL] [--clips N] [--gpu-s S]``

(a) **Overhead per clip**: the same filled graphs (the ``still`` workflow, one per segment of a
    synthesized song) run twice on the same server, side by side: by the backend (upload, prompt,
    websocket, history, download, conform to the project's frames and encode) and by a bare client
    (``POST /prompt`` + wait for ``executing node: null`` + ``/history`` + ``/view``, inputs already
    uploaded). Ratio = backend time / bare time. Against ``--comfyui URL`` (a real ComfyUI) or the
    test suite's stand-in server. The workflow takes a fraction of a second, so the ratio shows the
    backend's own cost; it is also given for a 60 s generation (a short Wan clip on a GPU).
(b) **Throughput with 2 servers vs 1**: stand-in servers whose prompts take ``--gpu-s`` seconds (a
    GPU's work), the same clips through the backend with one server and with two.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from comfy_standin import StandIn, png_bytes  # noqa: E402

from mvtimeline import generate  # noqa: E402
from mvtimeline.config import Config  # noqa: E402
from mvtimeline.generate.backends.comfyui.client import ComfyClient
from mvtimeline.generate.backends.comfyui.backend import ComfyUIBackend


def requests(work: Path, n: int, image: Path) -> list:
    """``n`` clip requests of about 3 s at 24 fps, 320x176, the still image, distinct seeds."""
    from mvtimeline.audio import analyze
    from mvtimeline.audio.demo import synthesize
    from mvtimeline.lyrics import align, read
    from mvtimeline import plan as planner

    song = synthesize(work / "song", stanzas=2, intro_bars=1, outro_bars=1)
    analysis = analyze(song.audio_path)
    p = planner.build(align(read(song.lyrics_path), song.audio_path, analysis), analysis, style="cinematic",
                      max_s=3.0, title="bench")
    cfg = Config(fps=Fraction(24), width=320, height=176, images=(image,))
    reqs = generate.clip_requests(p, analysis, cfg)
    while len(reqs) < n:
        reqs += [dataclasses.replace(r, seed=r.seed + len(reqs)) for r in reqs]
    return reqs[:n]


def bare(url: str, backend: ComfyUIBackend, reqs: list, work: Path) -> float:
    """Seconds per clip for prompt + wait + history + download of the graphs the backend would send."""
    async def main() -> float:
        async with ComfyClient(url) as c:
            name = await c.upload(Path(reqs[0].image))
            graphs = []
            for r in reqs:
                gw, gh = backend.generation_size(r)
                graphs.append(backend.workflow.fill({"image": name, "frames": backend.native_frames(r), "width": gw,
                                                     "height": gh, "fps": 16, "seed": r.seed}))
            t0 = time.perf_counter()
            for k, g in enumerate(graphs):
                files = await c.run(g, outputs=backend.workflow.binding.outputs)
                await c.download(files[0], work / f"bare-{k}.mp4")
            return (time.perf_counter() - t0) / len(graphs)
    return asyncio.run(main())


def through_backend(backend: ComfyUIBackend, reqs: list, cache: Path) -> float:
    t0 = time.perf_counter()
    generate.run(reqs, backend=backend, cache_dir=cache)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comfyui", help="a real ComfyUI server for (a); default: the stand-in")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--gpu-s", type=float, default=2.0, help="seconds a stand-in prompt takes in (b)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-comfy-") as tmp:
        work = Path(tmp)
        image = work / "k.png"
        image.write_bytes(png_bytes(size=(640, 360)))
        reqs = requests(work, args.clips, image)
        seconds = sum(float(Fraction(r.n_frames) / r.fps) for r in reqs)
        print(f"{len(reqs)} clips, {seconds:.1f} s of video at 320x176, 24 fps (workflow 'still')")

        with StandIn(work / "srv") as s:
            url = args.comfyui or s.url
            where = "real ComfyUI" if args.comfyui else "stand-in"
            backend = ComfyUIBackend(servers=[url], workflow="still")
            b = bare(url, backend, reqs, work)
            # two rounds of the backend, fresh caches, the first warms up imports and the encoder
            through_backend(backend, reqs[:2], work / "warm")
            t = through_backend(backend, reqs, work / "cache") / len(reqs)
            print(f"(a) {where} {url}: bare client {b:.3f} s/clip, backend {t:.3f} s/clip, ratio {t / b:.3f} "
                  f"(backend adds {t - b:+.3f} s/clip: upload, conform and H.264 encode of the project frames; "
                  f"for a 60 s generation that is a ratio of {(60 + t - b) / 60:.4f})")

        with StandIn(work / "a") as a, StandIn(work / "b") as bsrv:
            a.delay_s = bsrv.delay_s = args.gpu_s
            one = through_backend(ComfyUIBackend(servers=[a.url], workflow="still"), reqs, work / "c1")
            two = through_backend(ComfyUIBackend(servers=[a.url, bsrv.url], workflow="still"), reqs, work / "c2")
            print(f"(b) stand-ins, {args.gpu_s:g} s per prompt: 1 server {one:.1f} s, 2 servers {two:.1f} s, "
                  f"throughput ×{one / two:.2f} (split {len(a.prompts_run) - len(reqs)}/{len(bsrv.prompts_run)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
