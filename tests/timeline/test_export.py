"""Exports for other editors, takes and guides in the timeline, picking a take."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pysubs2
import pytest

from mvtimeline import pipeline
from mvtimeline.config import Config
from mvtimeline.errors import InputError
from mvtimeline.timecode import seconds_to_frame
from mvtimeline.timeline import export
from mvtimeline.timeline.kdenlive.read import read_summary

FPS = Fraction(25)
CONFIG = Config(fps=FPS, width=160, height=90, dissolve_s=0.4, takes=2, beat_guides=True)


@pytest.fixture(scope="module")
def job(demo_song, tmp_path_factory):
    return pipeline.run(demo_song.audio_path, demo_song.lyrics_path, tmp_path_factory.mktemp("export"), CONFIG)


@pytest.fixture(scope="module")
def timeline(job):
    return otio.adapters.read_from_file(str(job.project.path(".otio")))


def _clips(tl):
    return [c for c in tl.video_tracks()[0] if isinstance(c, otio.schema.Clip)]


def _cuts(tl):
    """Cut frames of the video track: where each clip after the first begins on the timeline."""
    return [c.range_in_parent().start_time.to_frames() for c in _clips(tl)[1:]]


def test_every_take_is_listed_and_the_chosen_one_is_on_the_timeline(job, timeline):
    for clip in _clips(timeline):
        meta = clip.metadata["mvtimeline"]
        assert [t["take"] for t in meta["takes"]] == [1, 2]
        assert meta["take"] == 1
        # the .otio names its media after the clips (links in NAME-media/): the same file as take 1
        assert Path(job.project.folder, clip.media_reference.target_url).samefile(
            Path(job.project.folder, meta["takes"][0]["path"]))


def test_takes_are_bin_clips_in_a_folder_per_segment(job):
    summary = read_summary(job.project.path(".kdenlive"))
    takes = [b for b in summary.bin if " take " in b.name]
    assert len(takes) == 2 * len(job.plan.segments)
    assert len(summary.folders) == len(job.plan.segments)


def test_otio_media_paths_are_relative_so_the_folder_can_move(job, timeline):
    for clip in _clips(timeline):
        url = clip.media_reference.target_url
        assert not url.startswith("/") and (job.project.folder / url).is_file()


def test_guides_mark_sections_lines_and_downbeats(job, timeline, demo_analysis):
    kinds = [m.metadata["mvtimeline"]["kind"] for m in timeline.tracks.markers]
    assert {"section", "line", "beat"} <= set(kinds)
    frames = [m.marked_range.start_time.to_frames() for m in timeline.tracks.markers]
    assert len(frames) == len(set(frames))  # one guide per frame
    colours = {m.metadata["mvtimeline"]["kind"]: m.color for m in timeline.tracks.markers}
    assert colours["section"] != colours["line"] != colours["beat"]


def test_otio_round_trip_is_equal(job, timeline, tmp_path):
    path = export.write(timeline, tmp_path / "again.otio")
    back = otio.adapters.read_from_file(str(path))
    assert otio.adapters.write_to_string(back) == otio.adapters.write_to_string(
        otio.adapters.read_from_file(str(path)))
    assert _cuts(back) == _cuts(timeline)
    assert [c.name for c in _clips(back)] == [c.name for c in _clips(timeline)]
    assert len(back.tracks.markers) == len(timeline.tracks.markers)


@pytest.mark.parametrize("fmt", ["fcp7", "fcpx", "edl"])
def test_adapter_formats_read_back_with_the_same_clips_cuts_and_markers(fmt, timeline, tmp_path):
    path = export.write(timeline, tmp_path / f"song{export.FORMATS[fmt]}", format=fmt)
    # an EDL does not say its frame rate: the reader must be told (it assumes 24)
    back = otio.adapters.read_from_file(str(path), **({"rate": float(FPS)} if fmt == "edl" else {}))
    ours, theirs = _clips(timeline), _clips(back)
    assert len(theirs) == len(ours)
    # order: the same media, clip after clip (an EDL names its sources by reel: one per segment and take;
    # the adapter's reader takes a dissolve's media from its FROM CLIP comment, so reels are what counts)
    if fmt == "edl":
        assert [c.metadata["cmx_3600"]["reel"] for c in theirs] == \
            [f"S{c.metadata['mvtimeline']['segment']:03d}T{c.metadata['mvtimeline']['take']}" for c in ours]
    else:
        assert [Path(c.media_reference.target_url).name for c in theirs] == \
            [Path(c.media_reference.target_url).name for c in ours]
    transitions = [t for t in timeline.video_tracks()[0] if isinstance(t, otio.schema.Transition)]
    if fmt == "edl":
        # CMX 3600 puts a dissolve's event at the start of the dissolve: check the record-in timecodes
        text = path.read_text()
        starts = [int(h) * 3600 * 25 + int(m) * 60 * 25 + int(s) * 25 + int(f) for h, m, s, f in
                  re.findall(r"^\d{3}\s+\S+\s+V\s+D\s+\d+\s+\S+\s+\S+\s+(\d\d):(\d\d):(\d\d):(\d\d)", text, re.M)]
        assert starts == [c - t.in_offset.to_frames() for c, t in zip(_cuts(timeline), transitions)]
    else:
        assert _cuts(back) == _cuts(timeline)
    markers = {m.name for m in back.tracks.markers} | {m.name for c in theirs for m in c.markers}
    assert len(markers) == len({m.name for m in timeline.tracks.markers})


def test_unknown_format_lists_the_known_ones(timeline, tmp_path):
    with pytest.raises(InputError, match="known: kdenlive, otio, fcp7, fcpx, edl, srt, ass"):
        export.write(timeline, tmp_path / "song.mov")


def test_ass_has_karaoke_word_timing_and_srt_has_every_line(job, demo_song):
    ass = pysubs2.load(str(job.project.path(".ass")))
    srt = pysubs2.load(str(job.project.path(".srt")))
    assert len(srt) == len(demo_song.lines) == len(ass)
    assert all("\\k" in ev.text for ev in ass)
    first = ass[0]
    assert sum(int(k) for k in re.findall(r"\\k(\d+)", first.text)) * 10 <= first.end - first.start + 10
    assert ass.styles["Default"].fontsize >= 24


def test_pick_puts_another_take_on_the_timeline_and_rewrites_the_project(job):
    project = pipeline.load_project(job.project.folder)
    pipeline.pick(project, 2, 2)
    tl = otio.adapters.read_from_file(str(job.project.path(".otio")))
    clip = _clips(tl)[1]
    assert clip.metadata["mvtimeline"]["take"] == 2
    assert Path(job.project.folder, clip.media_reference.target_url).samefile(
        Path(job.project.folder, clip.metadata["mvtimeline"]["takes"][1]["path"]))  # take 2's file
    summary = read_summary(job.project.path(".kdenlive"))
    v1 = [c for c in summary.clips if c.track == "V1"]
    assert v1[1].resource.endswith("take-2.mp4")
    assert summary.n_frames == seconds_to_frame(job.plan.duration_s, FPS)


def test_picking_a_take_that_was_never_made_says_how_to_make_it(job):
    project = pipeline.load_project(job.project.folder)
    with pytest.raises(InputError, match=r"no take 7; make it with 'mvtimeline generate .* --segment 3 --takes 7'"):
        pipeline.pick(project, 3, 7)


def test_align_and_export_write_the_same_subtitle_files_byte_for_byte(job, demo_song, tmp_path):
    """One writer per format: ``mvtimeline align -o`` and ``mvtimeline export`` agree (the .ass too,
    for a project of the align's default 1920x1080)."""
    from support.cli import run_cli

    from mvtimeline.lyrics import write
    from mvtimeline.timeline.build import build

    project = job.project
    for fmt in ("srt",):  # whole commands, as a user runs them
        a = tmp_path / f"aligned.{fmt}"
        run_cli("-q", "align", demo_song.audio_path, demo_song.lyrics_path, "-o", a, check=True)
        run_cli("-q", "export", project.folder, "--format", fmt, check=True)
        assert a.read_bytes() == project.path(f".{fmt}").read_bytes()
    aligned = project.load_aligned()
    plan = project.load_plan()
    clips = pipeline.chosen_clips(project, plan, project.load_analysis())
    tl = build(plan, clips, aligned=aligned, fps=FPS, width=1920, height=1080, audio_path=project.song,
               backend="procedural")
    export.write(tl, tmp_path / "export.ass")
    write(aligned, tmp_path / "align.ass")
    assert (tmp_path / "export.ass").read_bytes() == (tmp_path / "align.ass").read_bytes()
