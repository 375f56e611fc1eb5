"""The diffusers backend on tiny random-weight pipelines built in code (tests/tiny_pipelines.py).

Every pipeline is saved with ``save_pretrained`` into a session temp folder and loaded through the
backend's real ``from_pretrained`` path, fully offline. Skipped when torch/diffusers are not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from PIL import Image  # noqa: E402

from mvtimeline.errors import InputError  # noqa: E402
from mvtimeline.generate import get_backend, probe_video, run  # noqa: E402
from mvtimeline.media import fit_image, last_frame_png, open_image  # noqa: E402
from mvtimeline.types import ClipRequest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import tiny_pipelines  # noqa: E402

pytestmark = pytest.mark.xdist_group("diffusers")  # one worker builds the tiny pipelines once

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """Folder of each tiny pipeline, built on first use."""
    root = tmp_path_factory.mktemp("tiny-pipelines")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = tiny_pipelines.BUILDERS[name](root / name)
        return made[name]

    return get


@pytest.fixture(scope="session")
def still(tmp_path_factory) -> Path:
    rng = np.random.default_rng(7)
    p = tmp_path_factory.mktemp("still") / "still.png"
    Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(p)
    return p


def request(index: int = 1, *, image: Path | str | None = None, n_frames: int = 12, fps: Fraction = Fraction(24),
            width: int = 32, height: int = 32, seed: int = 3, take: int = 1) -> ClipRequest:
    return ClipRequest(segment_index=index, take=take, section="Verse 1", section_index=0, image_prompt="a red fox",
                       motion_prompt="running", negative_prompt="", seed=seed, width=width, height=height, fps=fps,
                       n_frames=n_frames, head_frames=2, tail_frames=2, clip_start_s=0.0, tempo_bpm=120.0,
                       image=str(image) if image else None)


def spy_calls(backend) -> list[dict]:
    """Record every call of the backend's video family (image, last_image, num_frames)."""
    calls: list[dict] = []
    family = backend._family
    real = family.call

    class Spy:
        def __getattr__(self, name):
            return getattr(family, name)

        @staticmethod
        def call(pipe, **kw):
            calls.append(kw)
            return real(pipe, **kw)

    backend._family = Spy()
    return calls


# ------------------------------------------------------------------------------ one clip per family
@pytest.mark.parametrize(
    ("family", "n_frames", "gens"),
    [("wan", 12, [5, 5]), ("ltx", 12, [13]), ("svd", 12, [6])],
)
def test_each_family_makes_exactly_the_planned_frames_at_the_project_rate(
        tiny, still, tmp_path, family, n_frames, gens, caplog) -> None:
    backend = get_backend("diffusers", video_model=str(tiny(family)), steps=1, guidance=1.0,
                          max_frames=5 if family == "wan" else None)
    [res] = run([request(image=still, n_frames=n_frames, width=64, height=48)], backend=backend, cache_dir=tmp_path)
    info = probe_video(res.path)
    assert (info["frames"], info["fps"], info["width"], info["height"]) == (n_frames, Fraction(24), 64, 48)
    assert res.meta["generations"] == gens
    assert res.meta["start_image"] == "request"
    if family != "ltx":  # 24 fps → the model's native rate (16, 7 fps), logged and noted
        assert any("at the model's native" in line for line in res.meta["adjusted"])
        assert any("at the model's native" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    if family == "ltx":  # 64x48 is not a multiple of 32: generated smaller, scaled back
        assert res.meta["generated_size"] == [64, 32]
        assert any(line.startswith("size: 64x48 → 64x32") for line in res.meta["adjusted"])


def test_keyframe_model_gives_the_start_image_and_the_character_changes_the_key(tiny, still, tmp_path) -> None:
    plain = get_backend("diffusers", video_model=str(tiny("wan")), keyframe_model=str(tiny("sd")), steps=1, guidance=1.0,
                        keyframe_steps=2)
    [res] = run([request(n_frames=6)], backend=plain, cache_dir=tmp_path)
    assert res.meta["start_image"] == "keyframe" and res.meta["keyframe_model"] == str(tiny("sd"))
    assert probe_video(res.path)["frames"] == 6
    with_char = get_backend("diffusers", video_model=str(tiny("wan")), keyframe_model=str(tiny("sd")), steps=1, guidance=1.0,
                            keyframe_steps=2, character=str(still))
    [res2] = run([request(n_frames=6)], backend=with_char, cache_dir=tmp_path)
    assert res2.key != res.key and not res2.cached
    assert "i2i" in with_char._kf_cache  # the img2img pipeline was made from the loaded weights


def test_first_last_frame_model_gets_the_keyframe_as_last_image(tiny, still, tmp_path) -> None:
    backend = get_backend("diffusers", video_model=str(tiny("wan_flf")), keyframe_model=str(tiny("sd")), steps=1, guidance=1.0,
                          keyframe_steps=1)
    calls = spy_calls(backend)
    [res] = run([request(image=still, n_frames=6)], backend=backend, cache_dir=tmp_path)
    assert res.meta["last_image"] is True and calls[-1]["last_image"] is not None
    assert np.array_equal(np.asarray(calls[0]["image"]), np.asarray(fit_image(open_image(still), 32, 32)))


# ------------------------------------------------------------------------------------ continuity
def test_chaining_feeds_the_previous_clips_last_frame(tiny, still, tmp_path) -> None:
    from mvtimeline.generate import chain

    backend = get_backend("diffusers", video_model=str(tiny("wan")), steps=1, guidance=1.0, chain=True)
    calls = spy_calls(backend)
    reqs = [request(1, image=still, n_frames=6), request(2, image=still, n_frames=6, seed=4)]
    pairs = chain(reqs, backend, tmp_path, make=True)
    (r1, c1), (r2, c2) = pairs
    assert r1.image == str(still) and r2.image != str(still)
    last = tmp_path / "last.png"
    last_frame_png(c1.path, last)
    expected = np.asarray(Image.open(last).convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(r2.image).convert("RGB")), expected)
    assert np.array_equal(np.asarray(calls[1]["image"]), expected)  # what the pipeline really got
    # looked up again without generating: the same chained keys are found
    again = chain(reqs, backend, tmp_path, make=False)
    assert [r.image for r, _ in again] == [r.image for r, _ in pairs]
    assert [res.key for _, res in pairs] == [r.key(backend.name, backend.version, backend.model_id) for r, _ in again]


def test_same_key_is_not_generated_again(tiny, still, tmp_path) -> None:
    backend = get_backend("diffusers", video_model=str(tiny("wan")), steps=1, guidance=1.0)
    calls = spy_calls(backend)
    [first] = run([request(image=still, n_frames=6)], backend=backend, cache_dir=tmp_path)
    n = len(calls)
    [second] = run([request(image=still, n_frames=6)], backend=backend, cache_dir=tmp_path)
    assert not first.cached and second.cached and second.key == first.key and len(calls) == n
    other = get_backend("diffusers", video_model=str(tiny("wan")), steps=2)
    assert request(image=still).key(other.name, other.version, other.model_id) != \
        request(image=still).key(backend.name, backend.version, backend.model_id)


def test_pipeline_is_loaded_once_and_only_when_a_clip_is_made(tiny, still, tmp_path) -> None:
    backend = get_backend("diffusers", video_model=str(tiny("wan")), steps=1, guidance=1.0)
    assert backend._video_pipe is None
    run([request(1, image=still, n_frames=5), request(2, image=still, n_frames=5)], backend=backend,
        cache_dir=tmp_path)
    pipe = backend._video_pipe
    run([request(3, image=still, n_frames=5)], backend=backend, cache_dir=tmp_path)
    assert backend._video_pipe is pipe


def test_progress_counts_denoising_steps(tiny, still, tmp_path) -> None:
    backend = get_backend("diffusers", video_model=str(tiny("wan")), steps=2, guidance=1.0, max_frames=5)
    seen = []
    run([request(image=still, n_frames=12)], backend=backend, cache_dir=tmp_path, progress=seen.append)
    # 12 frames at 24 fps = 8 at 16 fps: 2 generations x 2 steps; then the clip in the cache, once
    assert [(e.stage, e.done, e.total) for e in seen] == [("clip", i, 4) for i in range(1, 4)] + [("clip", 12, 12)]
    assert len({e.item for e in seen}) == 1 and seen[0].item.startswith("segment ")


# --------------------------------------------------------------------------------- kill and resume
def test_a_killed_run_resumes_with_only_the_missing_clips(tiny, still, tmp_path) -> None:
    script = tmp_path / "job.py"
    marker = tmp_path / "second-started"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_diffusers import request
        from mvtimeline.generate import get_backend, run

        def progress(event):
            if event.item.startswith("segment 02"):
                Path({str(marker)!r}).write_text("x")
                time.sleep(120)  # a long generation: the test kills us here

        backend = get_backend("diffusers", video_model={str(tiny("wan"))!r}, steps=1, guidance=1.0)
        reqs = [request(i, image={str(still)!r}, n_frames=5, seed=i) for i in (1, 2, 3)]
        run(reqs, backend=backend, cache_dir=Path({str(tmp_path / "clips")!r}), progress=progress)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the job never reached the second clip"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    backend = get_backend("diffusers", video_model=str(tiny("wan")), steps=1, guidance=1.0)
    reqs = [request(i, image=still, n_frames=5, seed=i) for i in (1, 2, 3)]
    results = run(reqs, backend=backend, cache_dir=tmp_path / "clips")
    assert [r.cached for r in results] == [True, False, False]
    assert all(probe_video(r.path)["frames"] == 5 for r in results)


# ------------------------------------------------------------------------------------------ errors
def test_a_folder_that_is_not_a_pipeline_lists_the_supported_ones(tmp_path) -> None:
    with pytest.raises(InputError, match=r"has no model_index.json, so it is not a diffusers pipeline; supported: "
                                         r"image-to-video: .*WanImageToVideoPipeline"):
        get_backend("diffusers", video_model=str(tmp_path))
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "AudioLDMPipeline"}))
    with pytest.raises(InputError, match=r"pipeline AudioLDMPipeline is not supported; supported: .*LTX"):
        get_backend("diffusers", video_model=str(tmp_path))


def test_an_uncached_hub_id_is_one_clear_line(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(InputError, match=r"model 'nobody/no-such-model' is not a local folder and HF_HUB_OFFLINE is "
                                         r"set and it is not in the Hugging Face cache") as exc:
        get_backend("diffusers", video_model="nobody/no-such-model")
    assert "\n" not in str(exc.value)


def test_an_image_model_as_video_model_is_refused(tiny) -> None:
    with pytest.raises(InputError, match=r"makes images, not video; pass it as --keyframe-model"):
        get_backend("diffusers", video_model=str(tiny("sd")))
    with pytest.raises(InputError, match=r"is not a text-to-image pipeline"):
        get_backend("diffusers", video_model=str(tiny("wan")), keyframe_model=str(tiny("wan")))


def test_no_start_image_and_no_keyframe_model_is_refused_before_loading(tiny, tmp_path) -> None:
    backend = get_backend("diffusers", video_model=str(tiny("wan")))
    with pytest.raises(InputError, match=r"needs a start image; pass --image IMG .* or --keyframe-model"):
        run([request()], backend=backend, cache_dir=tmp_path)
    assert backend._video_pipe is None


def test_bad_settings_are_refused() -> None:
    with pytest.raises(InputError, match=r"needs a video model: pass --video-model"):
        get_backend("diffusers")
    with pytest.raises(InputError, match=r"diffusers offload 'disk' is unknown; known: none, model, sequential, group"):
        get_backend("diffusers", video_model="x", offload="disk")
    with pytest.raises(InputError, match=r"unknown setting 'crf'"):
        get_backend("diffusers", video_model="x", crf=3)


def test_offload_without_an_accelerator_is_ignored_and_noted(tiny, still, tmp_path) -> None:
    backend = get_backend("diffusers", video_model=str(tiny("wan")), steps=1, guidance=1.0, offload="model", device="cpu",
                          vae_tiling=True)
    [res] = run([request(image=still, n_frames=5)], backend=backend, cache_dir=tmp_path)
    assert "offload model ignored: there is no accelerator" in res.meta["adjusted"]


def test_cli_diffusers_options_need_the_diffusers_backend(tmp_path) -> None:
    from mvtimeline.cli import main

    song = tmp_path / "song.wav"
    song.write_bytes(b"")
    assert main(["run", str(song), "--video-model", "x"]) == 2
    assert main(["run", str(song), "--backend", "diffusers"]) == 2
