"""The Kdenlive writer: what the .kdenlive file holds, read back with lxml, and real Kdenlive opening it."""

from __future__ import annotations

import logging
import math
import os
import shutil
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pysubs2
import pytest
from conftest_kdenlive import build_timeline, needs_ffmpeg
from lxml import etree

from mvtimeline.errors import InputError
from mvtimeline.frames import fps_label, seconds_to_frame
from mvtimeline.timeline import kdenlive
from mvtimeline.timeline.kdenlive import profile_for, read_summary, subtitles_path, write_to_file, write_to_string

pytestmark = needs_ffmpeg

TRICKY = [
    "<b>Tom & \"Jerry\"</b> it's <&\"'>",
    "fire 🔥 and ice 🧊 👩‍👩‍👧",
    "夜空の星 我爱你",
    "שלום עולם",
    "مرحبا بالعالم",
    "bell\x07 and tab\tand null\x00",
]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory):
    """A 25 fps, 4 s project: cuts at 40 and 70, 3+3 frame dissolves, 4-frame handles."""
    folder = tmp_path_factory.mktemp("kdenlive25")
    project = build_timeline(folder)
    path = write_to_file(project.timeline, folder / "song.kdenlive")
    return project, path, read_summary(path)


def video_clips(summary: dict) -> list[dict]:
    return [c for c in summary["clips"] if c["track"] == "V1"]


def test_kdenlive_clips_sit_at_their_planned_frames_with_dissolve_overlaps(written):
    project, path, summary = written
    bounds = (0, *project.cuts, project.n_frames)
    clips = video_clips(summary)
    assert [c["name"] for c in clips] == ["01 red", "02 blue", "03 lime"]
    last = len(clips) - 1
    for k, clip in enumerate(clips):
        pre = project.pre if k > 0 else 0
        post = project.post if k < last else 0
        assert clip["start_frame"] == bounds[k] - pre
        assert clip["end_frame"] == bounds[k + 1] + post
        assert clip["in_frame"] == 4 - pre  # head handle 4, the incoming dissolve starts `pre` earlier
        assert clip["playlist"] == k % 2  # alternate sub-playlists, so neighbours can overlap
        assert clip["resource"] == f"clips/{k:02d}-{project.colours[k]}.mp4"  # relative to the project
    assert summary["n_frames"] == project.n_frames == 100
    (song,) = [c for c in summary["clips"] if c["track"] == "A1"]
    assert (song["start_frame"], song["end_frame"], song["in_frame"]) == (0, 100, 0)
    assert song["resource"] == "song.wav"


def test_kdenlive_dissolves_are_luma_mixes_centred_on_the_cuts(written):
    project, _, summary = written
    mixes = summary["mixes"]
    assert [(m["in_frame"], m["out_frame"]) for m in mixes] == [
        (cut - project.pre, cut + project.post) for cut in project.cuts
    ]
    assert all(m["service"] == "luma" and m["mixcut"] == project.post for m in mixes)
    # The first pair starts on playlist 0, the second on playlist 1 (reverse).
    assert [m["reverse"] for m in mixes] == [False, True]
    # Mix end minus mixcut gives the planned cut back (how Kdenlive reads it).
    assert [m["out_frame"] - m["mixcut"] for m in mixes] == list(project.cuts)


def test_kdenlive_document_is_a_22_12_project(written):
    project, path, summary = written
    root = etree.parse(str(path)).getroot()
    assert root.tag == "mlt" and root.get("root") is None and root.get("LC_NUMERIC") == "C"
    assert summary["version"] == "1.04"
    assert summary["document_id"].isdigit()
    doc = {p.get("name"): p.text for p in root.find("playlist[@id='main_bin']").findall("property")}
    assert doc["kdenlive:docproperties.groups"] == "[]"
    assert doc["xml_retain"] == "1"
    assert summary["profile"]["fps"] == Fraction(25) and summary["profile"]["name"] == "custom_320x180_25"
    # Bin: the song then each clip, unique ids from 2, root folder, no file hash.
    assert [b["kdenlive_id"] for b in summary["bin"]] == [2, 3, 4, 5]
    assert all(b["folderid"] == "-1" and b["file_hash"] is None for b in summary["bin"])
    # Each track is a tractor with two playlists; the main tractor comes last.
    tracks = [(t["name"], t["audio"], len(t["playlists"])) for t in summary["tracks"]]
    assert tracks == [("A1", True, 2), ("V1", False, 2)]
    assert root[-1].tag == "tractor"
    assert summary["main_tracks"] == ["black_track", "tractor0", "tractor1"]
    assert summary["main_transitions"] == [
        {"service": "mix", "a_track": 0, "b_track": 1},
        {"service": "frei0r.cairoblend", "a_track": 0, "b_track": 2},
    ]
    # Every position is an integer frame count.
    for el in root.iter("entry", "blank", "producer", "transition", "tractor"):
        for attr in ("in", "out", "length"):
            if el.get(attr) is not None:
                assert el.get(attr).isdigit(), (el.tag, attr, el.get(attr))


def test_kdenlive_guides_merge_labels_on_one_frame_and_use_categories(written):
    _, _, summary = written
    assert summary["guides"] == [
        {"pos": 0, "comment": "Intro", "type": 0},
        {"pos": 10, "comment": "first line", "type": 1},
        {"pos": 40, "comment": "Chorus / chorus line", "type": 0},
    ]
    categories = {c["index"]: c["comment"] for c in summary["guide_categories"]}
    assert categories[0] == "Section" and categories[1] == "Lyric line"
    assert len({c["color"] for c in summary["guide_categories"]}) == len(summary["guide_categories"])


def test_kdenlive_subtitles_are_a_sidecar_srt_and_a_filter(written):
    project, path, summary = written
    sidecar = subtitles_path(path)
    assert sidecar.name == "song.kdenlive.srt"
    flt = summary["subtitle_filter"]
    assert flt["internal_added"] == "237"
    assert Path(flt["av.filename"]).is_absolute() and Path(flt["av.filename"]) == sidecar.resolve()
    subs = pysubs2.load(str(sidecar))
    assert [e.text for e in subs] == ["first line", "chorus line", "last line"]
    frames = [math.floor(Fraction(e.start, 1000) * 25) for e in subs]
    assert frames == [seconds_to_frame(t, Fraction(25)) for t in (0.4, 1.6, 2.9)]  # snapped to frame starts


def test_kdenlive_cues_landing_on_one_frame_get_distinct_starts(tmp_path):
    subs = [
        {"start_s": 1.00, "end_s": 1.01, "text": "one"},
        {"start_s": 1.01, "end_s": 1.5, "text": "two"},
        {"start_s": 1.015, "end_s": 2.0, "text": "three"},
    ]
    fps = Fraction(30000, 1001)
    project = build_timeline(tmp_path, fps=fps, seconds=3.0, cut_s=(1.5,), colours=("red", "blue"), subtitles=subs)
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    events = pysubs2.load(str(subtitles_path(path)))
    # Kdenlive turns ms into frames; each cue must land on its own frame, in order.
    start_frames = [math.floor(Fraction(e.start, 1000) * fps) for e in events]
    assert start_frames == [30, 31, 32]
    assert all(e.end > e.start for e in events)
    assert all(a.end <= b.start for a, b in zip(events, events[1:]))


def test_kdenlive_lyrics_with_markup_emoji_cjk_and_rtl_text_give_valid_xml(tmp_path):
    subs = [{"start_s": 0.2 + 0.6 * i, "end_s": 0.7 + 0.6 * i, "text": t} for i, t in enumerate(TRICKY)]
    markers = [(0.2 + 0.6 * i, "line", t) for i, t in enumerate(TRICKY)]
    project = build_timeline(tmp_path, seconds=4.0, subtitles=subs, markers=markers)
    project.timeline.tracks[0][0].name = "<clip> & \"one\""
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    etree.parse(str(path), etree.XMLParser(recover=False))  # strict parse: valid XML
    summary = read_summary(path)
    clean = [t.replace("\x07", "").replace("\x00", "") for t in TRICKY]
    assert [g["comment"] for g in summary["guides"]] == clean
    assert summary["bin"][1]["name"] == "<clip> & \"one\""
    text = subtitles_path(path).read_text(encoding="utf-8")
    for line in clean:
        assert line in text


def test_kdenlive_dissolve_longer_than_the_handles_is_shortened_with_a_warning(tmp_path, caplog):
    project = build_timeline(tmp_path, pre=6, post=5, head=2, tail=1)
    with caplog.at_level(logging.WARNING, logger="mvtimeline.timeline.kdenlive"):
        path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    assert "do not fit the handles" in caplog.text
    summary = read_summary(path)
    # pre is limited by the incoming clip's 2-frame head, post by the outgoing clip's 1-frame tail.
    assert [(m["in_frame"], m["out_frame"], m["mixcut"]) for m in summary["mixes"]] == [
        (cut - 2, cut + 1, 1) for cut in project.cuts
    ]
    lengths = {b["resource"]: b["length"] for b in summary["bin"]}
    for clip in video_clips(summary):  # every entry stays inside its file
        assert 0 <= clip["in_frame"] and clip["out_frame"] < lengths[clip["resource"]]


def test_kdenlive_dissolves_longer_than_a_clip_do_not_overlap_each_other(tmp_path, caplog):
    # The middle clip lasts 5 frames; two 4+4 dissolves around it would overlap.
    project = build_timeline(tmp_path, cut_s=(1.6, 1.8), pre=4, post=4, head=8, tail=8)
    with caplog.at_level(logging.WARNING, logger="mvtimeline.timeline.kdenlive"):
        summary = read_summary(write_to_file(project.timeline, tmp_path / "song.kdenlive"))
    mixes = summary["mixes"]
    assert len(mixes) == 2 and "do not fit" in caplog.text
    assert mixes[0]["out_frame"] < mixes[1]["in_frame"]
    middle = video_clips(summary)[1]
    assert middle["start_frame"] == mixes[0]["in_frame"] and middle["end_frame"] == mixes[1]["out_frame"]


def test_kdenlive_media_outside_the_project_folder_keep_absolute_paths(tmp_path):
    project = build_timeline(tmp_path / "media")
    path = write_to_file(project.timeline, tmp_path / "out" / "song.kdenlive")
    resources = [b["resource"] for b in read_summary(path)["bin"]]
    assert resources == [str(project.song.resolve())] + [str(p.resolve()) for p in project.clip_paths]


def test_kdenlive_string_output_is_reproducible_with_a_document_id(written):
    project, path, _ = written
    a = write_to_string(project.timeline, project_path=path, document_id=1700000000000)
    b = write_to_string(project.timeline, project_path=path, document_id=1700000000000)
    assert a == b and "1700000000000" in a
    assert "avfilter.subtitles" not in write_to_string(project.timeline)  # no project path: no sidecar


def test_kdenlive_profile_names_match_mlt_stock_profiles():
    assert profile_for(1920, 1080, Fraction(30000, 1001)).name == "atsc_1080p_2997"
    assert profile_for(1280, 720, Fraction(25)).name == "atsc_720p_25"
    assert profile_for(1080, 1920, Fraction(30)).name == "vertical_hd_30"
    mlt_dir = Path("/usr/share/mlt-7/profiles")
    for name, w, h, fps, _ in kdenlive._STOCK:
        if (mlt_dir / name).exists():
            text = dict(line.split("=", 1) for line in (mlt_dir / name).read_text().splitlines() if "=" in line)
            assert (int(text["width"]), int(text["height"])) == (w, h)
            assert Fraction(int(text["frame_rate_num"]), int(text["frame_rate_den"])) == fps


def test_kdenlive_timeline_without_frame_size_is_rejected(written):
    project, _, _ = written
    timeline = otio.schema.Timeline.from_json_string(project.timeline.to_json_string())
    del timeline.metadata["mvtimeline"]["width"]
    with pytest.raises(InputError, match="width"):
        write_to_string(timeline)


def test_kdenlive_timeline_without_song_is_rejected(written):
    project, _, _ = written
    timeline = otio.schema.Timeline.from_json_string(project.timeline.to_json_string())
    del timeline.tracks[1]
    with pytest.raises(InputError, match="no audio track"):
        write_to_string(timeline)


def test_kdenlive_summary_of_a_non_project_is_rejected(tmp_path):
    bad = tmp_path / "notes.kdenlive"
    bad.write_text("<html/>", encoding="utf-8")
    with pytest.raises(InputError, match="not a Kdenlive/MLT project"):
        read_summary(bad)


# ------------------------------------------------------------------------------------ real Kdenlive
@pytest.mark.kdenlive
@pytest.mark.parametrize("fps", [Fraction(25), Fraction(30000, 1001)], ids=["25", "29.97"])
def test_kdenlive_opens_the_project_with_no_dialog(tmp_path, fps):
    from kdenlive_open import missing_tools, open_in_kdenlive

    missing = missing_tools()
    if missing:
        pytest.skip(f"needs apt-get install -y {' '.join(missing)}")
    subs = [
        {"start_s": 0.3, "end_s": 1.4, "text": "first line"},
        {"start_s": 1.7, "end_s": 2.7, "text": "chorus <&> 🔥 夜空"},
        {"start_s": 2.9, "end_s": 3.9, "text": "שלום / مرحبا"},
    ]
    project = build_timeline(tmp_path, fps=fps, subtitles=subs)
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    result = open_in_kdenlive(path, tmp_path / "kdenlive-open")
    shots = os.environ.get("MVTIMELINE_SHOTS")  # a folder where a person wants the screenshots
    if shots and result.screenshot is not None:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.screenshot, Path(shots) / f"kdenlive-open-{fps_label(fps)}.png")
    assert result.clean, f"Kdenlive showed {result.dialogs or 'no main window'}; see {result.screenshot}, {result.log}"
    assert result.windows == ("song / 320x180 " + ("25" if fps == 25 else "29.97") + " fps — Kdenlive",)
    log = result.log.read_text(encoding="utf-8", errors="replace")
    assert log.count("loaded clip:") >= 4  # three video clips and the song reached the timeline
