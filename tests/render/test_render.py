"""melt renders the written Kdenlive project: exactly the song's frames, real dissolves, subtitles."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from support.cli import run_cli
from support.probe import ffprobe
from support.timelines import COLOURS, build_timeline, needs_ffmpeg, needs_melt

from mvtimeline.errors import InputError, RenderFailed, ToolMissing
from mvtimeline.pipeline import find_project
from mvtimeline.render import project_frames, render
from mvtimeline.timeline.kdenlive.xml import write_to_file
from mvtimeline.timeline.kdenlive.read import read_summary

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
    result = render(path, folder / "song.mp4", progress=lambda event: seen.append(event.done), subtitles=True)
    with av.open(str(result.path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return project, path, result, frames, seen


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
    assert read_summary(path).n_frames == project.n_frames


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


# -------------------------------------------------------------------------------- progress
def test_render_progress_reaches_one_only_once_melt_is_done(rendered):
    _, _, result, _, seen = rendered
    assert seen[-1] == 1.0 and all(f <= 0.99 for f in seen[:-1])


def test_the_progress_meter_counts_the_frames_still_being_encoded_by_the_clock():
    from mvtimeline.render.melt import _Meter

    now = [0.0]
    shown: list[float] = []
    meter = _Meter(1000, 100, shown.append, clock=lambda: now[0])
    for frame in range(0, 1000, 10):  # melt takes 100 frames a second
        now[0] = frame / 100
        meter.frame(frame)
    assert shown[-1] == pytest.approx(991 / 1100, abs=0.005)  # the last 100 are still in the encoder
    meter.tick()
    assert shown[-1] == pytest.approx(991 / 1100, abs=0.005)  # no time has passed
    now[0] += 0.5
    meter.tick()  # half a second later, 50 more frames are done
    assert shown[-1] == pytest.approx(1041 / 1100, abs=0.005)
    now[0] += 60
    meter.tick()
    assert shown[-1] == 0.99  # and it waits there until melt has exited
    assert shown == sorted(shown)


def test_the_progress_meter_does_not_run_ahead_in_the_middle_of_a_render():
    from mvtimeline.render.melt import _Meter

    now = [0.0]
    shown: list[float] = []
    meter = _Meter(1000, 100, shown.append, clock=lambda: now[0])
    for frame in range(0, 500, 10):
        now[0] = frame / 100
        meter.frame(frame)
    before = list(shown)
    now[0] += 30  # a slow frame
    meter.tick()
    assert shown == before


# ------------------------------------------------------------------------------ work folders
def _work_folder(rendered, tmp_path: Path) -> Path:
    """A copy of the rendered project's folder made a work folder (its project.json names "song")."""
    from mvtimeline.config import Config
    from mvtimeline.workfolder import WorkFolder

    _, path, _, _, _ = rendered
    folder = tmp_path / "work"
    shutil.copytree(path.parent, folder, ignore=shutil.ignore_patterns("*.mp4.*", "song.mp4", ".*part*"))
    WorkFolder.create(folder / "song.wav", None, folder, Config()).save()
    return folder


def test_render_of_a_work_folder_renders_its_project(rendered, tmp_path):
    project, _, _, _, _ = rendered
    folder = _work_folder(rendered, tmp_path)
    (folder / "other.kdenlive").write_bytes((folder / "song.kdenlive").read_bytes())  # project.json decides
    assert find_project(folder) == folder / "song.kdenlive"
    result = render(find_project(folder), preset="preview")
    assert result.path == folder / "song.mp4" and result.n_frames == project.n_frames
    assert find_project(folder / "song.kdenlive") == folder / "song.kdenlive"  # a file is taken as it is


def test_finding_the_project_of_a_folder(tmp_path):
    with pytest.raises(InputError, match=r"nope: no such file or folder"):
        find_project(tmp_path / "nope")
    with pytest.raises(InputError, match=r"no .kdenlive project in this folder .*'mvtimeline run'"):
        find_project(tmp_path)
    (tmp_path / "a.kdenlive").write_text("<mlt/>")
    assert find_project(tmp_path) == tmp_path / "a.kdenlive"  # a plain folder: its only .kdenlive
    (tmp_path / "b.kdenlive").write_text("<mlt/>")
    with pytest.raises(InputError, match=r"2 .kdenlive projects \(a.kdenlive, b.kdenlive\) .*give one, e.g. "):
        find_project(tmp_path)


def test_a_work_folder_whose_project_is_not_written_yet_says_how_to_write_it(rendered, tmp_path):
    folder = _work_folder(rendered, tmp_path)
    (folder / "song.kdenlive").rename(folder / "elsewhere.kdenlive")
    with pytest.raises(InputError, match=r"work folder has no song.kdenlive yet; .*'mvtimeline export "):
        find_project(folder)


# -------------------------------------------------------------------------------- the command
WIDE = {"COLUMNS": "1000"}


def start_cli(args: list, **kw) -> subprocess.Popen:
    """The real console entry point in a subprocess, as a user runs it (to interrupt it)."""
    return subprocess.Popen([sys.executable, "-m", "mvtimeline.cli", "-q", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "1000"}, **kw)


def test_render_command_takes_a_work_folder_and_refuses_a_suffix_its_preset_cannot_fill(rendered, tmp_path):
    folder = _work_folder(rendered, tmp_path)
    before = sorted(folder.rglob("*"))
    proc = run_cli("-q", "render", folder, "--preset", "intermediate", "-o", folder / "out.mp4", env=WIDE)
    err = proc.stderr
    assert proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == [f"mvtimeline: error: {folder / 'out.mp4'}: the intermediate preset writes ProRes video and PCM "
                     f"audio, which .mp4 cannot hold; use -o {folder / 'out.mov'} (or .mkv)"]
    assert sorted(folder.rglob("*")) == before  # nothing written

    proc = run_cli("-q", "render", folder, "--preset", "preview", env=WIDE)
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 0, err
    assert out.startswith(f"{folder / 'song.mp4'}: ") and (folder / "song.mp4").is_file()


def test_ctrl_c_during_a_render_stops_melt_and_leaves_no_file(tmp_path):
    project = build_timeline(tmp_path, seconds=40, cut_s=(13.0, 26.0), colours=("red", "blue", "lime"))
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    out = tmp_path / "video.mp4"
    proc = start_cli(["render", path, "--preset", "youtube", "-o", out])  # 1080p, slow: long enough to interrupt
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 0 for p in tmp_path.glob(".video.*.part.mp4")):  # melt is writing
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    melts = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid).startswith(shutil.which("melt"))
             and ".video." in _cmdline(pid)]
    assert melts
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == ("mvtimeline: render interrupted; no partial file is left; run the same "
                                            "command again to render from the start")
    assert not out.exists() and not list(tmp_path.glob("*.part*"))
    assert not [pid for pid in melts if os.path.exists(f"/proc/{pid}") and _cmdline(pid)]  # melt stopped too


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
