"""melt renders the written Kdenlive project: exactly the song's frames, real dissolves, subtitles."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest_kdenlive import COLOURS, build_timeline, needs_ffmpeg, needs_melt

from mvtimeline.errors import InputError, RenderFailed, ToolMissing
from mvtimeline.render import project_frames, render
from mvtimeline.timeline.kdenlive import write_to_file
from mvtimeline.timeline.kdenlive_read import read_summary

pytestmark = [needs_ffmpeg, needs_melt]

RATES = {"25": Fraction(25), "29.97": Fraction(30000, 1001)}


@pytest.fixture(scope="module", params=list(RATES))
def rendered(request, tmp_path_factory: pytest.TempPathFactory):
    """A 4 s project at each rate, written and rendered once: (project, .kdenlive, result, frames)."""
    fps = RATES[request.param]
    folder = tmp_path_factory.mktemp(f"render{request.param}")
    project = build_timeline(folder, fps=fps)
    path = write_to_file(project.timeline, folder / "song.kdenlive")
    seen: list[float] = []
    result = render(path, folder / "song.mp4", progress=seen.append, subtitles=True)
    with av.open(str(result.path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return project, path, result, frames, seen


def ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def patch(frame: np.ndarray) -> np.ndarray:
    """Mean colour of a top-left patch, away from the subtitles."""
    return frame[10:40, 10:60].reshape(-1, 3).mean(axis=0)


def text_pixels(frame: np.ndarray) -> int:
    """Pixels of the bottom band that differ strongly from the clip colour: subtitle fill and outline."""
    band = frame[120:180].astype(int)
    return int((np.abs(band - patch(frame)).max(axis=-1) > 100).sum())


def test_kdenlive_render_lasts_exactly_the_song(rendered):
    project, _, result, frames, seen = rendered
    streams = ffprobe(result.path)
    video = streams["video"]
    assert int(video["nb_read_frames"]) == project.n_frames == result.n_frames == len(frames)
    assert Fraction(video["r_frame_rate"]) == project.fps == result.fps
    assert float(video["duration"]) == pytest.approx(float(project.n_frames / project.fps), abs=1e-3)
    assert (video["codec_name"], video["pix_fmt"], video["width"], video["height"]) == ("h264", "yuv420p", 320, 180)
    assert streams["audio"]["codec_name"] == "aac"
    assert float(streams["audio"]["duration"]) == pytest.approx(result.duration_s, abs=0.05)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)


def test_kdenlive_render_dissolves_blend_the_two_clips_and_cuts_stay_pure(rendered):
    project, _, _, frames, _ = rendered
    bounds = (0, *project.cuts, project.n_frames)
    mixes = [(cut - project.pre, cut + project.post) for cut in project.cuts]

    def in_mix(f: int) -> bool:
        return any(a <= f <= b for a, b in mixes)

    for k, colour in enumerate(project.colours):  # outside the dissolves: the clip's own colour
        for f in range(bounds[k], bounds[k + 1]):
            if not in_mix(f):
                assert np.abs(patch(frames[f]) - COLOURS[colour]).max() < 20, (f, colour, patch(frames[f]))
    for k, (a, b) in enumerate(mixes):  # the middle of a dissolve: halfway between the two colours
        before, after = np.array(COLOURS[project.colours[k]]), np.array(COLOURS[project.colours[k + 1]])
        mid = patch(frames[(a + b) // 2])
        assert np.abs(mid - (before + after) / 2).max() < 50, mid
        assert np.abs(mid - before).max() > 80 and np.abs(mid - after).max() > 80


def test_kdenlive_render_burns_in_the_subtitles(rendered):
    project, _, _, frames, _ = rendered

    sung = round(0.9 * project.fps)  # inside "first line" (0.4-1.5 s)
    silent = round(0.1 * project.fps)  # before any lyric
    assert text_pixels(frames[sung]) > 100
    assert text_pixels(frames[silent]) == 0


def test_kdenlive_render_leaves_the_lyrics_out_of_the_picture_unless_asked(rendered, tmp_path):
    project, path, _, _, _ = rendered
    result = render(path, tmp_path / "clean.mp4", x264_preset="ultrafast")
    with av.open(str(result.path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert text_pixels(frames[round(0.9 * project.fps)]) == 0


def test_kdenlive_render_of_a_moved_project_finds_media_and_subtitles(rendered, tmp_path):
    project, path, _, _, _ = rendered
    moved = tmp_path / "moved"
    shutil.copytree(path.parent, moved, ignore=shutil.ignore_patterns("*.mp4.*", "song.mp4"))
    for clip in project.clip_paths:  # media inside the project folder travel with it
        assert (moved / "clips" / clip.name).exists()
    (path.parent / "song.kdenlive.srt").rename(path.parent / "song.kdenlive.srt.away")  # stale av.filename
    try:
        result = render(moved / "song.kdenlive", tmp_path / "out.mkv", subtitles=True)
    finally:
        (path.parent / "song.kdenlive.srt.away").rename(path.parent / "song.kdenlive.srt")
    with av.open(str(result.path)) as container:
        frame = next(f for i, f in enumerate(container.decode(video=0)) if i == round(0.9 * project.fps))
    rgb = frame.to_ndarray(format="rgb24")
    assert text_pixels(rgb) > 100  # subtitles found beside the moved project
    assert patch(rgb)[0] > 200  # and the picture is not black


def test_kdenlive_render_without_its_subtitle_file_drops_the_filter_instead_of_going_black(rendered, tmp_path, caplog):
    project, path, _, _, _ = rendered
    moved = tmp_path / "moved"
    shutil.copytree(path.parent, moved, ignore=shutil.ignore_patterns("*.mp4.*", "song.mp4", "*.srt"))
    (path.parent / "song.kdenlive.srt").rename(path.parent / "song.kdenlive.srt.away")
    try:
        with caplog.at_level("WARNING", logger="mvtimeline.render.melt"):
            result = render(moved / "song.kdenlive", tmp_path / "out.mp4", x264_preset="ultrafast", subtitles=True)
    finally:
        (path.parent / "song.kdenlive.srt.away").rename(path.parent / "song.kdenlive.srt")
    assert "rendering without subtitles" in caplog.text
    with av.open(str(result.path)) as container:
        rgb = next(f for i, f in enumerate(container.decode(video=0)) if i == round(0.9 * project.fps))
    rgb = rgb.to_ndarray(format="rgb24")
    assert patch(rgb)[0] > 200 and text_pixels(rgb) == 0


def test_kdenlive_render_to_another_size(rendered, tmp_path):
    _, path, _, _, _ = rendered
    result = render(path, tmp_path / "small.mp4", width=160, height=90, x264_preset="ultrafast")
    video = ffprobe(result.path)["video"]
    assert (video["width"], video["height"], int(video["nb_read_frames"])) == (160, 90, result.n_frames)


def test_project_frames_ignore_the_endless_black_track(rendered):
    project, path, _, _, _ = rendered
    assert project_frames(path) == (project.n_frames, project.fps)
    assert read_summary(path)["n_frames"] == project.n_frames


# ------------------------------------------------------------------------------------------ errors
def test_render_of_a_missing_project_is_rejected(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        render(tmp_path / "nope.kdenlive", tmp_path / "out.mp4")


def test_render_of_a_file_that_is_not_mlt_is_rejected(tmp_path):
    bad = tmp_path / "song.kdenlive"
    bad.write_text("this is not XML", encoding="utf-8")
    with pytest.raises(InputError, match="not a Kdenlive/MLT project"):
        render(bad, tmp_path / "out.mp4")
    bad.write_text("<svg/>", encoding="utf-8")
    with pytest.raises(InputError, match="root element is <svg>"):
        render(bad, tmp_path / "out.mp4")


def test_render_with_a_missing_clip_is_rejected_before_melt_runs(rendered, tmp_path):
    _, path, _, _, _ = rendered
    copy = tmp_path / "song.kdenlive"
    shutil.copyfile(path, copy)  # its relative clips/ paths now point nowhere
    with pytest.raises(InputError, match=r"media file 'song.wav' \(clip song\) is missing"):
        render(copy, tmp_path / "out.mp4")
    assert not list(tmp_path.glob("*.mp4"))


def test_render_with_an_undecodable_clip_is_rejected(rendered, tmp_path):
    _, path, _, _, _ = rendered
    moved = tmp_path / "p"
    shutil.copytree(path.parent, moved, ignore=shutil.ignore_patterns("*.mp4.*", "song.mp4"))
    next((moved / "clips").glob("01-*.mp4")).write_bytes(b"not a video")
    with pytest.raises(InputError, match="cannot be decoded"):
        render(moved / "song.kdenlive", tmp_path / "out.mp4")


def test_render_options_are_checked(rendered, tmp_path):
    _, path, _, _, _ = rendered
    with pytest.raises(InputError, match="suffix '.gif' is not supported"):
        render(path, tmp_path / "out.gif")
    with pytest.raises(InputError, match="positive and even"):
        render(path, tmp_path / "out.mp4", width=321, height=180)
    with pytest.raises(InputError, match="preset 'warp' is unknown"):
        render(path, tmp_path / "out.mp4", x264_preset="warp")


def test_render_without_melt_names_the_package(rendered, tmp_path):
    _, path, _, _, _ = rendered
    with pytest.raises(ToolMissing, match="apt-get install melt"):
        render(path, tmp_path / "out.mp4", melt="melt-is-not-installed")


def test_render_failure_leaves_no_partial_file(rendered, tmp_path):
    _, path, _, _, _ = rendered
    out = tmp_path / "out.mp4"
    with pytest.raises(RenderFailed, match="exited with code 1"):
        render(path, out, melt="false")  # a real program that fails without writing anything
    assert list(tmp_path.iterdir()) == []
