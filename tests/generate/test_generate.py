"""The generate stage: procedural clips (real encodes at tiny sizes), the cache, the checks."""

from __future__ import annotations

import colorsys
import dataclasses
import json
import re
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from support.probe import ffprobe

from mvtimeline.errors import InputError, RunError
from mvtimeline.generate import (
    Backend,
    clip_paths,
    find_clip,
    get_backend,
    image_sha256,
    known_backends,
    probe_video,
    run,
)
from mvtimeline.generate.backends.base import BackendBase
from mvtimeline.generate.encode import encode_video
from mvtimeline.progress import Progress
from mvtimeline.generate.backends.procedural import (MOVES, PULSE_ZOOM, ProceduralBackend, camera_move, camera_path, section_hue)
from mvtimeline.types import ClipRequest

W, H = 160, 90


def make_request(**changes: Any) -> ClipRequest:
    base = dict(
        segment_index=0,
        take=1,
        section="Verse 1",
        section_index=0,
        image_prompt="neon city at night",
        motion_prompt="slow push in",
        negative_prompt="",
        seed=11,
        width=W,
        height=H,
        fps=Fraction(25),
        n_frames=25,
        head_frames=2,
        tail_frames=2,
        clip_start_s=3.0,
        tempo_bpm=120.0,
    )
    base.update(changes)
    return ClipRequest(**base)


def decode(path: Path) -> np.ndarray:
    """All frames of a clip as RGB, shape (n, h, w, 3), float."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(np.float64)


def seed_for(move: str, segment_index: int = 0) -> int:
    return next(s for s in range(1000) if camera_move(seed=s, segment_index=segment_index) == move)


@pytest.fixture(scope="module")
def backend() -> ProceduralBackend:
    return ProceduralBackend()


@pytest.fixture(scope="module")
def gradient_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4:3 still (so cover-fit crops it): red grows left → right, green top → bottom."""
    w, h = 400, 300
    red = np.broadcast_to(np.linspace(0, 255, w)[None, :], (h, w))
    green = np.broadcast_to(np.linspace(0, 255, h)[:, None], (h, w))
    blue = np.full((h, w), 90.0)
    path = tmp_path_factory.mktemp("img") / "gradient.png"
    Image.fromarray(np.stack([red, green, blue], axis=-1).round().astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def textured_image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A still with detail everywhere (random colour blocks), like a photo."""
    blocks = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("img") / "texture.png"
    Image.fromarray(blocks).resize((400, 300), Image.Resampling.BICUBIC).save(path)
    return path


@pytest.fixture(scope="module")
def clip_of(backend: ProceduralBackend, tmp_path_factory: pytest.TempPathFactory):
    """Encode a request once per module and return its decoded frames and meta."""
    folder = tmp_path_factory.mktemp("clips")
    memo: dict[ClipRequest, tuple[np.ndarray, dict[str, Any]]] = {}

    def make(req: ClipRequest) -> tuple[np.ndarray, dict[str, Any]]:
        if req not in memo:
            out = folder / f"clip{len(memo)}.mp4"
            meta = backend.generate(req, out).to_meta()
            memo[req] = (decode(out), meta)
        return memo[req]

    return make


# -------------------------------------------------------------------------------------- encoding
@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)], ids=["25", "30000/1001"])
@pytest.mark.parametrize("with_image", [False, True], ids=["abstract", "image"])
def test_clip_has_exact_frame_count_size_and_rate(
    backend: ProceduralBackend, gradient_image: Path, tmp_path: Path, fps: Fraction, with_image: bool
) -> None:
    req = make_request(fps=fps, n_frames=37, image=str(gradient_image) if with_image else None)
    out = tmp_path / "clip.mp4"
    meta = backend.generate(req, out).to_meta()
    info = probe_video(out)
    assert (info["frames"], info["width"], info["height"]) == (37, W, H)
    assert info["fps"] == fps
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["duration_s"] == pytest.approx(float(37 / fps), abs=1e-6)
    assert meta["frames"] == 37 and meta["mode"] == ("image" if with_image else "abstract")
    if shutil.which("ffprobe"):
        data = ffprobe(out)
        stream = data["video"]
        rate = f"{fps.numerator}/{fps.denominator}"
        assert int(stream["nb_read_frames"]) == 37
        assert stream["r_frame_rate"] == rate and stream["avg_frame_rate"] == rate
        assert (stream["width"], stream["height"], stream["pix_fmt"]) == (W, H, "yuv420p")
        assert data["format"]["nb_streams"] == 1  # no audio


def test_encoder_refuses_a_frame_source_that_ends_early(tmp_path: Path) -> None:
    frames = (np.zeros((H, W, 3), np.uint8) for _ in range(3))
    with pytest.raises(RunError, match="ended after 3 of 5 frames"):
        encode_video(frames, tmp_path / "x.mp4", width=W, height=H, fps=Fraction(25), n_frames=5)


def test_encoder_refuses_a_frame_of_the_wrong_size(tmp_path: Path) -> None:
    frames = iter([np.zeros((H, W + 2, 3), np.uint8)])
    with pytest.raises(RunError, match=r"frame 0 has shape \(90, 162, 3\)"):
        encode_video(frames, tmp_path / "x.mp4", width=W, height=H, fps=Fraction(25), n_frames=1)


# -------------------------------------------------------------------------------------- abstract
def test_abstract_brightness_follows_loudness(clip_of) -> None:
    n = 30
    loud = tuple(np.r_[np.full(10, 0.05), np.linspace(0.05, 1.0, 10), np.full(10, 1.0)])
    frames, _ = clip_of(make_request(n_frames=n, loudness=loud))
    luma = frames @ np.array([0.2126, 0.7152, 0.0722])
    mean_luma = luma.mean(axis=(1, 2))
    assert mean_luma[25] > 2.0 * mean_luma[5]
    assert np.corrcoef(mean_luma, loud)[0, 1] > 0.95


def _mean_hue(frames: np.ndarray) -> float:
    r, g, b = frames.mean(axis=(0, 1, 2)) / 255.0
    return colorsys.rgb_to_hsv(r, g, b)[0]


def _hue_distance(a: float, b: float) -> float:
    d = abs(a - b) % 1.0
    return min(d, 1.0 - d)


def test_neighbouring_sections_have_different_hues(clip_of) -> None:
    hues = [_mean_hue(clip_of(make_request(section_index=k, n_frames=10))[0]) for k in range(4)]
    for k in range(3):
        assert _hue_distance(hues[k], hues[k + 1]) > 0.15, hues
    for k, hue in enumerate(hues):
        assert _hue_distance(hue, section_hue(k)) < 0.1, (k, hue)


def test_abstract_segments_with_other_seeds_look_different(clip_of) -> None:
    a, _ = clip_of(make_request(seed=1, n_frames=10))
    b, _ = clip_of(make_request(seed=2, n_frames=10))
    assert np.abs(a - b).mean() > 5.0


def test_abstract_visuals_move_over_time(clip_of) -> None:
    frames, _ = clip_of(make_request(n_frames=25))
    assert np.abs(frames[-1] - frames[0]).mean() > 2.0


def test_loudness_of_another_length_is_resampled_and_noted(clip_of) -> None:
    frames, meta = clip_of(make_request(n_frames=20, loudness=(0.1, 0.1, 1.0, 1.0)))
    assert len(frames) == 20
    assert meta["adjusted"] == ["loudness: 4 values resampled to 20 frames"]


# ----------------------------------------------------------------------------------------- image
def _zoom_measure(frames: np.ndarray) -> np.ndarray:
    """Per frame, 1 / std of the red channel: proportional to the zoom on a linear red ramp."""
    return 1.0 / frames[..., 0].std(axis=(1, 2))


@pytest.mark.parametrize("move", MOVES)
def test_image_clip_moves_in_the_seeded_direction(clip_of, gradient_image: Path, move: str) -> None:
    req = make_request(image=str(gradient_image), seed=seed_for(move), n_frames=40)
    frames, meta = clip_of(req)
    assert meta["move"] == move
    red = frames[..., 0].mean(axis=(1, 2))  # grows when the view moves right
    green = frames[..., 1].mean(axis=(1, 2))  # grows when the view moves down
    zoom = _zoom_measure(frames)
    if move == "pan_right":
        assert red[-1] - red[0] > 5
    elif move == "pan_left":
        assert red[0] - red[-1] > 5
    elif move == "pan_down":
        assert green[-1] - green[0] > 5
    elif move == "pan_up":
        assert green[0] - green[-1] > 5
    elif move == "zoom_in":
        assert zoom[-1] / zoom[0] > 1.03
    else:
        assert zoom[0] / zoom[-1] > 1.03


@pytest.mark.parametrize("move", MOVES)
def test_image_clip_changes_every_frame(clip_of, textured_image: Path, move: str) -> None:
    frames, _ = clip_of(make_request(image=str(textured_image), seed=seed_for(move), n_frames=20))
    step = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    assert (step > 0.5).all(), step


def test_direction_depends_on_the_seed() -> None:
    moves = {camera_move(seed=s, segment_index=4) for s in range(40)}
    assert moves == set(MOVES)


def test_motion_speed_is_proportional_to_tempo() -> None:
    seed = seed_for("pan_right")
    slow = camera_path(make_request(seed=seed, tempo_bpm=60.0, n_frames=50))
    fast = camera_path(make_request(seed=seed, tempo_bpm=120.0, n_frames=50))
    travel_slow = slow.center_x[-1] - slow.center_x[0]
    travel_fast = fast.center_x[-1] - fast.center_x[0]
    assert travel_slow > 0
    assert travel_fast == pytest.approx(2 * travel_slow, rel=1e-6)


def test_downbeat_gives_a_short_zoom_pulse(clip_of, gradient_image: Path) -> None:
    # a pan keeps the base zoom constant, so a zoom change can only come from the pulse
    common = dict(image=str(gradient_image), seed=seed_for("pan_right"), n_frames=40, fps=Fraction(25))
    common.update(width=320, height=180)
    plain, _ = clip_of(make_request(**common))
    pulsed, _ = clip_of(make_request(**common, downbeats_s=(1.0,)))  # on frame 25
    ratio = _zoom_measure(pulsed) / _zoom_measure(plain)  # ~1 + pulse, with ~0.3 % coding noise
    assert abs(ratio[19:25].mean() - 1.0) < 0.004, "nothing before the downbeat"
    assert ratio[25] == pytest.approx(1.0 + PULSE_ZOOM, abs=0.01)
    assert ratio[25] - ratio[27] > 0.01, "decaying"
    assert abs(ratio[30:36].mean() - 1.0) < 0.004, "gone 0.2 s later"


def test_image_is_cover_fitted_without_borders(clip_of, gradient_image: Path) -> None:
    frames, _ = clip_of(make_request(image=str(gradient_image), seed=seed_for("zoom_out"), n_frames=10))
    first = frames[0]
    # zoom 1 shows the 4:3 still cropped to 16:9: full red ramp across, green cut top and bottom
    assert first[:, :3, 0].mean() < 15 and first[:, -3:, 0].mean() > 240
    assert first[:3, :, 1].mean() > 20 and first[-3:, :, 1].mean() < 235


# ----------------------------------------------------------------------------------------- cache
class CountingBackend(BackendBase):
    """The procedural backend, counting the clips it makes."""

    def __init__(self) -> None:
        self.inner = ProceduralBackend()
        self.name, self.version, self.model_id = self.inner.name, self.inner.version, self.inner.model_id
        self.max_seconds = self.inner.max_seconds
        self.clip_seconds = self.inner.clip_seconds
        self.calls = 0

    def check(self, request: ClipRequest) -> None:
        self.inner.check(request)

    def generate(self, request, out, progress=None):
        self.calls += 1
        return self.inner.generate(request, out, progress)


def test_backend_protocol_is_met() -> None:
    assert isinstance(ProceduralBackend(), Backend)
    assert isinstance(CountingBackend(), Backend)


def test_second_run_reuses_clips_without_encoding(tmp_path: Path, gradient_image: Path) -> None:
    requests = [
        make_request(segment_index=0, n_frames=10),
        make_request(segment_index=1, n_frames=12, image=str(gradient_image), section_index=1),
    ]
    counting = CountingBackend()
    first = run(requests, backend=counting, cache_dir=tmp_path)
    assert counting.calls == 2 and [r.cached for r in first] == [False, False]
    assert all(r.path.is_file() and r.path.with_suffix(".json").is_file() for r in first)
    mtimes = [r.path.stat().st_mtime_ns for r in first]

    second = run(requests, backend=counting, cache_dir=tmp_path)
    assert counting.calls == 2, "nothing encoded the second time"
    assert [r.cached for r in second] == [True, True]
    assert [r.path for r in second] == [r.path for r in first]
    assert [r.path.stat().st_mtime_ns for r in second] == mtimes
    assert [r.n_frames for r in second] == [10, 12]
    assert second[1].meta["move"] == first[1].meta["move"]
    record = json.loads(first[0].path.with_suffix(".json").read_text())
    assert record["kind"] == "clip" and record["schema"] == 1
    assert record["backend"] == {"name": "procedural", "version": "1", "model_id": ""}
    assert record["request"]["fps"] == "25/1" and record["meta"]["frames"] == 10


def test_a_changed_prompt_or_seed_gives_a_new_key(tmp_path: Path, backend: ProceduralBackend) -> None:
    req = make_request(n_frames=5)
    variants = [
        req,
        dataclasses.replace(req, image_prompt="desert at dawn"),
        dataclasses.replace(req, motion_prompt="orbit"),
        dataclasses.replace(req, seed=12),
        dataclasses.replace(req, n_frames=6),
    ]
    results = run(variants, backend=backend, cache_dir=tmp_path)
    assert len({r.key for r in results}) == len(variants)
    assert len({r.path for r in results}) == len(variants)
    from mvtimeline.types import take_seed

    # take 2 is made with its own seed, in the folder of the segment's key (the takes side by side)
    other_take = run([dataclasses.replace(req, take=2, seed=take_seed(req.seed, 2))], backend=backend,
                     cache_dir=tmp_path)[0]
    assert other_take.key == results[0].key and other_take.path.name == "take-2.mp4"
    assert not other_take.cached


def test_a_half_written_file_is_not_taken_as_a_clip(tmp_path: Path, backend: ProceduralBackend) -> None:
    req = make_request(n_frames=8)
    key = req.key(backend.name, backend.version, backend.model_id)
    mp4, meta = clip_paths(tmp_path, key, 1)
    mp4.parent.mkdir(parents=True)
    (mp4.parent / ".take-1.x1y2.part.mp4").write_bytes(b"\x00" * 100)  # a crash mid-encode
    assert find_clip(tmp_path, key, 1) is None
    mp4.write_bytes(b"\x00" * 100)  # a crash after the rename, before the record
    assert find_clip(tmp_path, key, 1) is None

    result = run([req], backend=backend, cache_dir=tmp_path)[0]
    assert not result.cached and result.path == mp4
    assert probe_video(mp4)["frames"] == 8

    meta.write_text("{ not json")  # a damaged record: made again, not trusted
    assert find_clip(tmp_path, key, 1) is None
    again = run([req], backend=backend, cache_dir=tmp_path)[0]
    assert not again.cached and find_clip(tmp_path, key, 1) is not None


def test_a_crash_mid_encode_leaves_nothing_under_the_clip_name(tmp_path: Path) -> None:
    class Crashing(CountingBackend):
        def generate(self, request, out, progress=None):
            Path(out).write_bytes(b"half a clip")
            raise RunError("encoder died")

    req = make_request(n_frames=5)
    with pytest.raises(RunError, match="encoder died"):
        run([req], backend=Crashing(), cache_dir=tmp_path)
    key_dir = tmp_path / req.key("procedural", "1", "")
    assert list(key_dir.iterdir()) == []


def test_image_hash_is_filled_in_and_follows_the_content(tmp_path: Path, gradient_image: Path) -> None:
    image = tmp_path / "still.png"
    shutil.copy(gradient_image, image)
    backend = ProceduralBackend()
    req = make_request(n_frames=5, image=str(image))
    first = run([req], backend=backend, cache_dir=tmp_path / "clips")[0]
    filled = dataclasses.replace(req, image_sha256=image_sha256(image))
    assert first.key == filled.key(backend.name, backend.version, backend.model_id)

    Image.new("RGB", (64, 36), (200, 10, 10)).save(image)  # the user replaces the still
    second = run([filled], backend=backend, cache_dir=tmp_path / "clips")[0]  # stale hash
    assert second.key != first.key and not second.cached


def test_progress_reports_frames_and_cached_clips(tmp_path: Path, backend: ProceduralBackend) -> None:
    seen: list[Progress] = []
    req = make_request(segment_index=3, n_frames=6)
    run([req], backend=backend, cache_dir=tmp_path, progress=seen.append)
    assert [e.done for e in seen] == [1, 2, 3, 4, 5, 6]
    assert {(e.stage, e.item, e.total, e.worker) for e in seen} == {("clip", "segment 03 take 1", 6, "")}
    seen.clear()
    run([req], backend=backend, cache_dir=tmp_path, progress=seen.append)
    assert seen == [Progress("clip", 6, 6, item="segment 03 take 1")]


def test_non_default_encoder_settings_change_the_key() -> None:
    req = make_request()
    default, custom = ProceduralBackend(), get_backend("procedural", crf=28)
    assert custom.version != default.version
    assert req.key(custom.name, custom.version) != req.key(default.name, default.version)


# ---------------------------------------------------------------------------------------- checks
def test_missing_image_is_rejected_before_any_work(tmp_path: Path) -> None:
    counting = CountingBackend()
    missing = str(tmp_path / "nope.png")
    requests = [make_request(segment_index=0), make_request(segment_index=1, image=missing)]
    with pytest.raises(InputError, match=r"segment 1 take 1: image .*nope\.png does not exist"):
        run(requests, backend=counting, cache_dir=tmp_path / "clips")
    assert counting.calls == 0


def test_a_file_that_is_not_an_image_is_rejected(tmp_path: Path, backend: ProceduralBackend) -> None:
    bad = tmp_path / "photo.jpg"
    bad.write_text("not really a jpeg")
    with pytest.raises(InputError, match=r"segment 0: image .*photo\.jpg is not a readable image"):
        run([make_request(image=str(bad))], backend=backend, cache_dir=tmp_path / "clips")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (dict(width=161), r"width 161 px must be an even integer"),
        (dict(height=91), r"height 91 px must be an even integer"),
        (dict(n_frames=0), r"n_frames 0 must be a positive integer"),
        (dict(fps=Fraction(0)), r"fps .* must be a Fraction"),
        (dict(tempo_bpm=float("nan")), r"tempo_bpm nan"),
        (dict(head_frames=20, tail_frames=20), r"handles .* do not fit in n_frames=25"),
        (dict(loudness=(0.5, float("inf"))), r"loudness has non-finite values"),
    ],
)
def test_bad_requests_are_rejected_with_a_clear_message(
    tmp_path: Path, backend: ProceduralBackend, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        run([make_request(**changes)], backend=backend, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"unknown backend 'sora'; known: procedural, "):
        get_backend("sora")
    assert {"procedural", "diffusers"} <= set(known_backends())


def test_diffusers_backend_without_a_video_model_says_what_to_pass() -> None:
    with pytest.raises(InputError, match="--video-model"):
        get_backend("diffusers")


def test_unknown_backend_setting_is_rejected() -> None:
    with pytest.raises(InputError, match=r"unknown setting 'steps'; known: crf, preset, keyint_s"):
        get_backend("procedural", steps=4)
    with pytest.raises(InputError, match=r"x264 preset 'warp' is unknown"):
        get_backend("procedural", preset="warp")


def test_missing_image_hash_helper_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"image .*gone\.png does not exist"):
        image_sha256(tmp_path / "gone.png")


def test_generate_library_code_never_prints_or_imports_rich() -> None:
    import mvtimeline.generate as pkg

    for path in Path(pkg.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\bprint\(", text), path
        assert not re.search(r"^\s*(import|from)\s+rich\b", text, re.M), path


def test_the_executor_names_the_options_take_are_the_executors_there_are():
    """``--executor`` and the settings check read config.EXECUTORS; the table that builds them must match."""
    from mvtimeline import config
    from mvtimeline.generate import EXECUTORS

    assert tuple(EXECUTORS) == config.EXECUTORS
