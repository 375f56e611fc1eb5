"""The whole job on a synthesized song: project files, cache, user edits kept, render length, real Kdenlive."""

from __future__ import annotations

import os
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from support.probe import ffprobe

from mvtimeline import pipeline
from mvtimeline.config import Config
from mvtimeline.timecode import seconds_to_frame
from mvtimeline.timeline.kdenlive.read import read_summary

FPS = Fraction(25)
CONFIG = Config(fps=FPS, width=64, height=48, dissolve_s=0.4)


@pytest.fixture(scope="module")
def job(demo_song, tmp_path_factory):
    out = tmp_path_factory.mktemp("job")
    result = pipeline.run(demo_song.audio_path, demo_song.lyrics_path, out, CONFIG)
    return result


def test_run_writes_the_project_files_and_artifacts(job):
    folder = job.project.folder
    for name in ("demo.kdenlive", "demo.kdenlive.srt", "demo.otio", "demo.srt", "analysis.json", "aligned.json",
                 "plan.json", "project.json"):
        assert (folder / name).is_file(), name
    assert job.clips_made == len(job.plan.segments) and job.clips_cached == 0


def test_kdenlive_project_has_a_clip_per_segment_mixes_guides_and_subtitles(job, demo_song):
    summary = read_summary(job.project.path(".kdenlive"))
    clips = [c for c in summary.clips if c.track == "V1"]
    assert len(clips) == len(job.plan.segments)
    assert len(summary.mixes) == len(job.plan.segments) - 1
    assert summary.n_frames == seconds_to_frame(demo_song.duration_s, FPS)
    comments = [g.comment for g in summary.guides]
    assert any("Chorus" in c for c in comments) and any("Intro" in c for c in comments)
    assert any(demo_song.lines[1]["text"] in c for c in comments)
    assert summary.subtitle_filter is not None
    srt = job.project.path(".kdenlive.srt").read_text(encoding="utf-8")
    assert all(line["text"] in srt for line in demo_song.lines)


def test_otio_round_trips_with_clips_transitions_and_markers(job):
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(job.project.path(".otio")))
    video = tl.tracks[0]
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    transitions = [c for c in video if isinstance(c, otio.schema.Transition)]
    assert len(clips) == len(job.plan.segments) and len(transitions) == len(clips) - 1
    assert clips[0].metadata["mvtimeline"]["segment"] == 1
    assert tl.tracks[1][0].name == "song"
    assert len(tl.tracks.markers) >= len(job.plan.segments) // 2
    assert tl.duration().to_frames() == seconds_to_frame(job.plan.duration_s, FPS)


def test_a_second_run_with_nothing_changed_encodes_nothing(job, demo_song):
    again = pipeline.run(demo_song.audio_path, demo_song.lyrics_path, job.project.folder, CONFIG)
    assert again.clips_made == 0 and again.clips_cached == len(job.plan.segments)


def test_an_edited_project_is_never_overwritten(job, demo_song):
    folder = job.project.folder
    project = job.project.path(".kdenlive")
    edited = project.read_text(encoding="utf-8").replace("</mlt>", "<!-- my edit --></mlt>")
    project.write_text(edited, encoding="utf-8")
    pipeline.run(demo_song.audio_path, demo_song.lyrics_path, folder, CONFIG)
    backups = sorted(folder.glob("demo.kdenlive.bak-*"))
    assert backups and backups[-1].read_text(encoding="utf-8") == edited
    assert "my edit" not in project.read_text(encoding="utf-8")
    # an unedited project is simply rewritten, with no new backup
    pipeline.run(demo_song.audio_path, demo_song.lyrics_path, folder, CONFIG)
    assert sorted(folder.glob("demo.kdenlive.bak-*")) == backups


def test_kdenlive_render_lasts_exactly_the_song(job, demo_song):
    out = pipeline.render_step(job.project)
    probe = ffprobe(out)
    assert int(probe["video"]["nb_read_frames"]) == seconds_to_frame(demo_song.duration_s, FPS)
    assert probe["video"]["r_frame_rate"] == "25/1"
    assert abs(float(probe["audio"]["duration"]) - demo_song.duration_s) < 0.05  # all there, in sync from frame 0


@pytest.mark.kdenlive
def test_the_demo_project_opens_in_kdenlive_with_no_dialog(job, tmp_path):
    from support.kdenlive_open import missing_tools, open_in_kdenlive

    if missing_tools():
        pytest.skip(f"needs {' '.join(missing_tools())} (make deps)")
    result = open_in_kdenlive(job.project.path(".kdenlive"), tmp_path / "open")
    shots = os.environ.get("MVTIMELINE_SHOTS")
    if shots and result.screenshot:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.screenshot, Path(shots) / "demo-open.png")
    assert result.clean, f"Kdenlive showed: {result.dialogs}"


def test_plan_command_sums_up_the_plan_and_replans_with_another_pace(job, tmp_path):
    from click.testing import CliRunner

    from mvtimeline.cli import cli
    from mvtimeline.types import Plan

    folder = tmp_path / "copy"
    shutil.copytree(job.project.folder, folder)
    res = CliRunner().invoke(cli, ["plan", str(folder)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    before = Plan.load(folder / "plan.json")
    assert lines[0].startswith(f"{len(before.segments)} segments, {sum(s.chunks for s in before.segments)} clips")
    assert any(line.startswith("Intro") for line in lines) and all(len(line) < 80 for line in lines)
    res = CliRunner().invoke(cli, ["plan", str(folder), "--pace", "energetic", "--clip-length", "3", "--list"])
    assert res.exit_code == 0, res.output
    after = Plan.load(folder / "plan.json")
    assert after.pace == "energetic" and after.clip_s == 3.0
    assert all(s.duration_s / s.chunks <= 3.0 + 1e-6 for s in after.segments)
    assert sum(s.chunks for s in after.segments) > sum(s.chunks for s in before.segments)  # shorter clips: more
    assert "pace energetic" in res.output and f"{len(after.segments):3d} " in res.output
    res = CliRunner().invoke(cli, ["plan", str(folder), "--pace", "frantic"])
    assert res.exit_code != 0 and "frantic" in res.output
