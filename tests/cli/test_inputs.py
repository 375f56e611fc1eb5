"""Every input of a run is checked before any heavy work: a bad one is one line, exit 2, and no work
folder (the analysis never started)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.cli import CliResult, run_cli


def assert_refused_before_work(proc: CliResult, out: Path, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not out.exists()


@pytest.fixture()
def corrupt_png(tmp_path) -> Path:
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)).save(good)
    bad = tmp_path / "still.png"
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])  # a valid header, half the pixels
    return bad


def test_a_corrupt_image_is_refused_before_the_analysis(demo_song, corrupt_png, tmp_path):
    out = tmp_path / "work"
    proc = run_cli("run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "--image", corrupt_png, "-o", out)
    assert_refused_before_work(proc, out, "--image", "still.png", "not a readable image")


def test_a_video_that_does_not_decode_is_refused_before_the_analysis(demo_song, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    out = tmp_path / "work"
    proc = run_cli("run", demo_song.audio_path, "--video", video, "-o", out)
    assert_refused_before_work(proc, out, "clip.mp4", "not a readable video")


def test_an_unknown_render_preset_is_refused_before_the_analysis(demo_song, tmp_path):
    out = tmp_path / "work"
    proc = run_cli("run", demo_song.audio_path, "--preset", "vhs", "-o", out)
    assert_refused_before_work(proc, out, "unknown render preset 'vhs'", "youtube")


def test_a_model_folder_that_is_not_a_pipeline_is_refused_before_the_analysis(demo_song, tmp_path):
    pytest.importorskip("diffusers")
    empty = tmp_path / "model"
    empty.mkdir()
    out = tmp_path / "work"
    proc = run_cli("run", demo_song.audio_path, "--backend", "diffusers", "--video-model", empty, "-o", out)
    assert_refused_before_work(proc, out, "model")


def test_a_style_file_with_an_unknown_key_names_it(demo_song, tmp_path):
    style = tmp_path / "mine.toml"
    style.write_text('image = "a"\nmotion = "b"\ncolour = "red"\n')
    out = tmp_path / "work"
    proc = run_cli("run", demo_song.audio_path, "--style", style, "-o", out)
    assert_refused_before_work(proc, out, "unknown key 'colour'", "image", "motion")


def test_a_run_builds_its_backend_once_and_reads_the_lyrics_once(short_song, tmp_path, monkeypatch):
    from fractions import Fraction

    import mvtimeline.generate
    import mvtimeline.lyrics
    from mvtimeline import pipeline
    from mvtimeline.config import Config

    calls = {"backend": 0, "read": 0}
    real_backend, real_read = mvtimeline.generate.get_backend, mvtimeline.lyrics.read

    def get_backend(*a, **k):
        calls["backend"] += 1
        return real_backend(*a, **k)

    def read(*a, **k):
        calls["read"] += 1
        return real_read(*a, **k)

    monkeypatch.setattr(mvtimeline.generate, "get_backend", get_backend)
    monkeypatch.setattr(mvtimeline.lyrics, "read", read)
    pipeline.run(short_song.audio_path, short_song.lyrics_path, tmp_path / "work",
                 Config(fps=Fraction(25), width=160, height=90))
    assert calls == {"backend": 1, "read": 1}


def test_lyrics_with_an_unknown_suffix_name_the_option_that_reads_them(demo_song, tmp_path):
    words = tmp_path / "words.doc"
    words.write_text("la la la\n")
    out = tmp_path / "work"
    proc = run_cli("run", demo_song.audio_path, "--lyrics", words, "-o", out)
    assert_refused_before_work(proc, out, "words.doc", "--lyrics-format", "plain, lrc")
    assert "format=" not in proc.stderr


def test_an_unlisted_frame_rate_is_refused_before_the_analysis(demo_song, tmp_path):
    out = tmp_path / "work"
    proc = run_cli("run", demo_song.audio_path, "--fps", "26", "-o", out)
    assert_refused_before_work(proc, out, "--fps", "'26'", "23.976, 24, 25, 29.97, 30, 50, 59.94, 60")
    settings = tmp_path / "mvtimeline.toml"
    settings.write_text("fps = 7\n")
    proc = run_cli("--config", settings, "run", demo_song.audio_path, "-o", out)
    assert_refused_before_work(proc, out, "'7'", "23.976")
