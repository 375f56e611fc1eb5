"""Render presets: each renders the size, rate and codec it promises."""

from __future__ import annotations

from fractions import Fraction

import pytest
from support.probe import ffprobe
from support.timelines import build_timeline, needs_ffmpeg

from mvtimeline.errors import InputError, ToolMissing
from mvtimeline.render import list_presets, load_preset, render
from mvtimeline.render.presets import MUXERS
from mvtimeline.timeline.kdenlive.xml import write_to_file

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


# the container ffprobe names for each suffix's muxer
FORMATS = {"mp4": "mov,mp4,m4a,3gp,3g2,mj2", "mov": "mov,mp4,m4a,3gp,3g2,mj2", "matroska": "matroska,webm"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_preset_renders_its_size_rate_and_codec(name, tmp_path):
    size, expected, codec, pix_fmt = CASES[name]
    fps = Fraction(30000, 1001)
    project = build_timeline(tmp_path, fps=fps, seconds=1.2, cut_s=(0.6,), colours=("red", "blue"), size=size)
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    preset = load_preset(name)
    result = render(path, preset=preset)  # into the preset's own container
    assert result.path == tmp_path / f"song{preset.suffix}"
    assert result.path.is_file() and not list(tmp_path.glob("*.part*"))
    streams = ffprobe(result.path)
    assert streams["format"]["format_name"] == FORMATS[MUXERS[preset.suffix]]
    video = streams["video"]
    assert (video["width"], video["height"]) == expected
    assert (video["codec_name"], video["pix_fmt"]) == (codec, pix_fmt)
    assert Fraction(video["r_frame_rate"]) == fps
    assert int(video["nb_read_frames"]) == project.n_frames
    assert "audio" in streams


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_preset_takes_the_suffixes_that_hold_its_codecs_and_refuses_the_others_before_melt(name, tmp_path):
    preset = load_preset(name)
    assert preset.suffix == preset.suffixes[0] and set(preset.suffixes) <= set(MUXERS)
    for suffix in MUXERS:
        out = tmp_path / f"out{suffix}"
        if suffix in preset.suffixes:  # accepted: it gets as far as looking for melt
            with pytest.raises((ToolMissing, InputError), match="melt-is-not-installed|no such file"):
                render(tmp_path / "song.kdenlive", out, preset=preset, melt="melt-is-not-installed")
        else:  # refused first, in one line naming the suffix to use
            with pytest.raises(InputError, match=rf"^{out}: the {name} preset writes .* which {suffix} cannot "
                                                 rf"hold; use -o {out.with_suffix(preset.suffix)}[^\n]*$"):
                render(tmp_path / "song.kdenlive", out, preset=preset, melt="melt-is-not-installed")
    assert list(tmp_path.iterdir()) == []


def test_the_intermediate_preset_refuses_mp4_and_renders_prores_in_mkv_too(tmp_path):
    project = build_timeline(tmp_path, seconds=1.0, cut_s=(0.5,), colours=("red", "blue"))
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    with pytest.raises(InputError, match=r"out.mp4: the intermediate preset writes ProRes video and PCM audio, "
                                         r"which .mp4 cannot hold; use -o .*out.mov \(or .mkv\)$"):
        render(path, tmp_path / "out.mp4", preset="intermediate")
    assert not list(tmp_path.glob("*out*"))
    result = render(path, tmp_path / "out.mkv", preset="intermediate")
    streams = ffprobe(result.path)
    assert streams["format"]["format_name"] == FORMATS["matroska"]
    assert (streams["video"]["codec_name"], streams["audio"]["codec_name"]) == ("prores", "pcm_s16le")
    assert int(streams["video"]["nb_read_frames"]) == project.n_frames


def test_a_preset_file_whose_suffix_cannot_hold_its_codecs_is_refused(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('vcodec = "prores_ks"\npix_fmt = "yuv422p10le"\nacodec = "pcm_s16le"\nsuffix = ".mp4"\n')
    with pytest.raises(InputError, match=r"mine.toml: suffix = '.mp4' cannot hold ProRes video and PCM audio; "
                                         r"use one of .mov, .mkv"):
        load_preset(bad)
    bad.write_text('suffix = ".avi"\n')
    with pytest.raises(InputError, match=r"suffix = '.avi' cannot hold"):
        load_preset(bad)


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
