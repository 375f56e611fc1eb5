"""Render presets: each renders the size, rate and codec it promises."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction

import pytest
from conftest_kdenlive import build_timeline, needs_ffmpeg

from mvtimeline.errors import InputError
from mvtimeline.render import list_presets, load_preset, render
from mvtimeline.timeline.kdenlive import write_to_file

pytestmark = needs_ffmpeg

# preset → (project size it is rendered from, expected output size, codec, pix_fmt)
CASES = {
    "youtube": ((192, 108), (1920, 1080), "h264", "yuv420p"),
    "shorts": ((108, 192), (1080, 1920), "h264", "yuv420p"),
    "square": ((108, 108), (1080, 1080), "h264", "yuv420p"),
    "4k": ((192, 108), (3840, 2160), "h264", "yuv420p"),
    "preview": ((1280, 720), (640, 360), "h264", "yuv420p"),
    "intermediate": ((320, 180), (320, 180), "prores", "yuv422p10le"),
}


def test_every_bundled_preset_is_covered():
    assert sorted(CASES) == list_presets()


def _probe(path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
                         check=True, capture_output=True, text=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


@pytest.mark.parametrize("name", sorted(CASES))
def test_preset_renders_its_size_rate_and_codec(name, tmp_path):
    size, expected, codec, pix_fmt = CASES[name]
    fps = Fraction(30000, 1001)
    project = build_timeline(tmp_path, fps=fps, seconds=1.2, cut_s=(0.6,), colours=("red", "blue"), size=size)
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    preset = load_preset(name)
    result = render(path, tmp_path / f"out{preset.suffix}", preset=preset)
    streams = _probe(result.path)
    video = streams["video"]
    assert (video["width"], video["height"]) == expected
    assert (video["codec_name"], video["pix_fmt"]) == (codec, pix_fmt)
    assert Fraction(video["r_frame_rate"]) == fps
    assert int(video["nb_read_frames"]) == project.n_frames
    assert "audio" in streams


def test_a_preset_of_another_shape_is_refused_rather_than_distorting(tmp_path):
    project = build_timeline(tmp_path, seconds=1.0, cut_s=(0.5,), colours=("red", "blue"))  # 16:9
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    with pytest.raises(InputError, match="preset 'shorts' is 1080x1920 .* --size 1080x1920"):
        render(path, tmp_path / "out.mp4", preset="shorts")


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(InputError, match="known: 4k, intermediate, preview, shorts, square, youtube"):
        load_preset("vhs")


def test_a_preset_file_with_a_typo_names_the_key(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('name = "mine"\ncrff = 20\n')
    with pytest.raises(InputError, match="unknown key 'crff'"):
        load_preset(bad)
