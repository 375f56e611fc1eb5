"""Benchmark: the diffusers backend vs a bare pipeline call, and (on CUDA) full-size Wan 2.1 1.3B speed.

Default (CPU is fine): builds the tiny Wan I2V pipeline of tests/tiny_pipelines.py, then times, side by
side and interleaved, (a) ``backend.generate`` of one request and (b) the bare
``pipe(image=..., num_frames=..., ...)`` call with the same inputs + ``encode_video`` of its frames.
Prints the median of each and the ratio (target <= 1.02).

``--full-wan``: the full-size Wan 2.1 1.3B transformer config with random bf16 weights; seconds per
denoising step at 480x832, 81 frames, and peak VRAM, for each offload mode (none, model, sequential,
group). Needs CUDA; on a machine without it, prints a message and exits 0.

Usage: python bench/bench_diffusers.py [--repeats 5] [--full-wan] [--steps 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

WAN_13B = dict(patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=36, out_channels=16,
               text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
               eps=1e-6, image_dim=1280, rope_max_seq_len=1024)


def bench_overhead(repeats: int) -> None:
    import numpy as np
    import torch
    from PIL import Image

    import tiny_pipelines
    from mvtimeline.generate import get_backend
    from mvtimeline.generate.encode import encode_video
    from mvtimeline.types import ClipRequest

    torch.set_num_threads(max(1, torch.get_num_threads()))
    tmp = Path(tempfile.mkdtemp(prefix="bench-diffusers-"))
    folder = tiny_pipelines.build_wan_i2v(tmp / "wan")
    still = tmp / "still.png"
    Image.fromarray((np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)).save(still)
    # 16 fps project = the model's native rate, size 32x32 (a multiple of 16): nothing to adjust
    req = ClipRequest(segment_index=1, take=1, section="Verse", section_index=0, image_prompt="a fox",
                      motion_prompt="", negative_prompt="", seed=1, width=32, height=32, fps=Fraction(16),
                      n_frames=9, head_frames=0, tail_frames=0, clip_start_s=0.0, tempo_bpm=120.0, image=str(still))
    backend = get_backend("diffusers", video_model=str(folder), steps=2, guidance=1.0)
    pipe = backend.video_pipeline()
    image = Image.open(still).convert("RGB")

    def ours(i: int) -> float:
        t0 = time.perf_counter()
        backend.generate(req, tmp / f"ours-{i}.mp4")
        return time.perf_counter() - t0

    def bare(i: int) -> float:
        t0 = time.perf_counter()
        frames = pipe(image=image, prompt="a fox", height=32, width=32, num_frames=9, num_inference_steps=2,
                      guidance_scale=1.0, generator=torch.Generator("cpu").manual_seed(1), output_type="np").frames[0]
        arr = (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8)
        encode_video(iter(arr), tmp / f"bare-{i}.mp4", width=32, height=32, fps=Fraction(16), n_frames=9, scale=True)
        return time.perf_counter() - t0

    ours(-1), bare(-1)  # warm up
    a, b = [], []
    for i in range(repeats):  # alternate which goes first, so neither always runs on warmer caches
        if i % 2:
            b.append(bare(i))
            a.append(ours(i))
        else:
            a.append(ours(i))
            b.append(bare(i))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"tiny Wan I2V, 9 frames 32x32, 2 steps, {repeats} runs interleaved")
    print(f"  backend.generate  median {ma * 1000:8.1f} ms")
    print(f"  bare pipe+encode  median {mb * 1000:8.1f} ms")
    print(f"  ratio {ma / mb:.3f} (target <= 1.02)")


def bench_full_wan(steps: int) -> None:
    import torch

    if not torch.cuda.is_available():
        print("--full-wan: no CUDA GPU here; skipped (run it on a GPU machine)")
        return
    from diffusers import WanTransformer3DModel

    dev = torch.device("cuda")
    frames, h, w = 81, 480, 832
    lat = (1, 16, (frames - 1) // 4 + 1, h // 8, w // 8)
    print(f"Wan 2.1 1.3B-size transformer (random bf16 weights, I2V in_channels 36), {w}x{h}, {frames} frames, "
          f"latents {lat}")
    for mode in ("none", "model", "sequential", "group"):
        torch.manual_seed(0)
        model = WanTransformer3DModel(**WAN_13B).to(torch.bfloat16).eval()
        if mode == "none":
            model.to(dev)
        elif mode == "model":
            from accelerate import cpu_offload_with_hook

            model, _hook = cpu_offload_with_hook(model, dev)
        elif mode == "sequential":
            from accelerate import cpu_offload

            cpu_offload(model, execution_device=dev)
        else:
            model.enable_group_offload(onload_device=dev, offload_device=torch.device("cpu"),
                                       offload_type="block_level", num_blocks_per_group=1, use_stream=True)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        x = torch.randn(lat[0], 36, *lat[2:], device=dev, dtype=torch.bfloat16)
        text = torch.randn(1, 512, 4096, device=dev, dtype=torch.bfloat16)
        img = torch.randn(1, 257, 1280, device=dev, dtype=torch.bfloat16)
        t = torch.tensor([500], device=dev)
        times = []
        with torch.no_grad():
            for i in range(steps + 1):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                model(hidden_states=x, timestep=t, encoder_hidden_states=text, encoder_hidden_states_image=img,
                      return_dict=False)
                torch.cuda.synchronize()
                if i:  # the first step warms up
                    times.append(time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(f"  offload {mode:<10} {statistics.median(times):7.2f} s/step (one CFG branch)  peak VRAM {peak:6.2f} GiB")
        del model, x, text, img
        torch.cuda.empty_cache()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--full-wan", action="store_true", help="full-size Wan 2.1 1.3B on CUDA (skips on CPU)")
    ap.add_argument("--steps", type=int, default=3, help="--full-wan: timed steps per offload mode")
    args = ap.parse_args()
    if args.full_wan:
        bench_full_wan(args.steps)
    else:
        bench_overhead(args.repeats)


if __name__ == "__main__":
    main()
