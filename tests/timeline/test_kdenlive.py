"""The Kdenlive writer: what the .kdenlive file holds, read back with lxml, and real Kdenlive opening it."""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pysubs2
import pytest
from support.timelines import build_timeline, needs_ffmpeg
from lxml import etree

from mvtimeline.errors import InputError
from mvtimeline.timecode import KNOWN_FPS, fps_label, seconds_to_frame
from mvtimeline.timeline.kdenlive.xml import subtitles_path, write_to_file, write_to_string
from mvtimeline.timeline.kdenlive.read import ClipItem, GuideItem, ProjectSummary, TransitionItem, read_summary
from mvtimeline.timeline.kdenlive.layout import GUIDE_CATEGORIES, guide_category
from mvtimeline.timeline.kdenlive.profile import STOCK_PROFILES, profile_for

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


def video_clips(summary: ProjectSummary) -> list[ClipItem]:
    return [c for c in summary.clips if c.track == "V1"]


def test_kdenlive_clips_sit_at_their_planned_frames_with_dissolve_overlaps(written):
    project, path, summary = written
    bounds = (0, *project.cuts, project.n_frames)
    clips = video_clips(summary)
    assert [c.name for c in clips] == ["01 red", "02 blue", "03 lime"]
    last = len(clips) - 1
    for k, clip in enumerate(clips):
        pre = project.pre if k > 0 else 0
        post = project.post if k < last else 0
        assert clip.start_frame == bounds[k] - pre
        assert clip.end_frame == bounds[k + 1] + post
        assert clip.in_frame == 4 - pre  # head handle 4, the incoming dissolve starts `pre` earlier
        assert clip.playlist == k % 2  # alternate sub-playlists, so neighbours can overlap
        assert clip.resource == f"clips/{k:02d}-{project.colours[k]}.mp4"  # relative to the project
    assert summary.n_frames == project.n_frames == 100
    (song,) = [c for c in summary.clips if c.track == "A1"]
    assert (song.start_frame, song.end_frame, song.in_frame) == (0, 100, 0)
    assert song.resource == "song.wav"


def test_kdenlive_dissolves_are_luma_mixes_centred_on_the_cuts(written):
    project, _, summary = written
    mixes = summary.mixes
    assert [(m.in_frame, m.out_frame) for m in mixes] == [
        (cut - project.pre, cut + project.post) for cut in project.cuts
    ]
    assert all(m.service == "luma" and m.mixcut == project.post for m in mixes)
    # The first pair starts on playlist 0, the second on playlist 1 (reverse).
    assert [m.reverse for m in mixes] == [False, True]
    # Mix end minus mixcut gives the planned cut back (how Kdenlive reads it).
    assert [m.out_frame - m.mixcut for m in mixes] == list(project.cuts)


def test_kdenlive_document_is_a_22_12_project(written):
    project, path, summary = written
    root = etree.parse(str(path)).getroot()
    assert root.tag == "mlt" and root.get("root") is None and root.get("LC_NUMERIC") == "C"
    assert summary.version == "1.04"
    assert summary.document_id.isdigit()
    doc = {p.get("name"): p.text for p in root.find("playlist[@id='main_bin']").findall("property")}
    assert doc["kdenlive:docproperties.groups"] == "[]"
    assert doc["xml_retain"] == "1"
    assert summary.profile.fps == Fraction(25) and summary.profile.name == "custom_320x180_25"
    # Bin: the song then each clip, unique ids from 2, root folder, no file hash.
    assert [b.kdenlive_id for b in summary.bin] == [2, 3, 4, 5]
    assert all(b.folderid == "-1" and b.file_hash is None for b in summary.bin)
    # Each track is a tractor with two playlists; the main tractor comes last.
    tracks = [(t.name, t.audio, len(t.playlists)) for t in summary.tracks]
    assert tracks == [("A1", True, 2), ("V1", False, 2)]
    assert root[-1].tag == "tractor"
    assert summary.main_tracks == ["black_track", "tractor0", "tractor1"]
    assert summary.main_transitions == [
        TransitionItem(service="mix", a_track=0, b_track=1),
        TransitionItem(service="frei0r.cairoblend", a_track=0, b_track=2),
    ]
    # Every position is an integer frame count.
    for el in root.iter("entry", "blank", "producer", "transition", "tractor"):
        for attr in ("in", "out", "length"):
            if el.get(attr) is not None:
                assert el.get(attr).isdigit(), (el.tag, attr, el.get(attr))


def category(name: str) -> int:
    return [c[1] for c in GUIDE_CATEGORIES].index(name)


def test_kdenlive_guides_merge_labels_on_one_frame_and_use_categories(written):
    _, _, summary = written
    assert summary.guides == [
        GuideItem(pos=0, comment="Intro", type=category("Intro")),
        GuideItem(pos=10, comment="first line", type=category("Lyric line")),
        GuideItem(pos=40, comment="Chorus / chorus line", type=category("Chorus")),  # section wins, both texts
    ]


def test_kdenlive_guide_categories_have_one_colour_per_section_kind_lines_and_beats(written):
    _, _, summary = written
    categories = summary.guide_categories
    assert [c.index for c in categories] == list(range(len(categories)))
    assert [c.comment for c in categories] == [
        "Bridge", "Verse", "Intro", "Outro", "Downbeat", "Lyric line", "Other section", "Pre-chorus", "Chorus",
    ]  # fmt: skip  (the order of Kdenlive's default categories of the same colours)
    colours = [c.color for c in categories]
    assert len(set(colours)) == len(colours) and all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)


@pytest.mark.parametrize(
    ("section", "expected"),
    [("Intro", "Intro"), ("Verse 2", "Verse"), ("Pre Chorus", "Pre-chorus"), ("pre-chorus", "Pre-chorus"),
     ("Hook", "Chorus"), ("Bridge", "Bridge"), ("Outro", "Outro"), ("instrumental", "Other section"),
     ("Solo", "Other section"), ("A", "Other section"), ("", "Other section")],
)  # fmt: skip
def test_kdenlive_section_guides_take_the_category_of_their_kind(section, expected):
    assert guide_category("section", section) == category(expected)


def test_kdenlive_downbeat_guides_exist_only_for_beat_markers(tmp_path):
    markers = [(0.0, "section", "Intro"), (0.4, "line", "first line"), (1.6, "section", "Bridge")]
    plain = build_timeline(tmp_path / "plain", markers=markers, make_media=False)
    guides = read_summary(write_to_file(plain.timeline, tmp_path / "plain" / "song.kdenlive")).guides
    assert category("Downbeat") not in {g.type for g in guides}

    beats = build_timeline(tmp_path / "beats", markers=markers, beats_s=(0.0, 0.4, 0.8, 1.2), make_media=False)
    guides = read_summary(write_to_file(beats.timeline, tmp_path / "beats" / "song.kdenlive")).guides
    assert guides == [
        GuideItem(pos=0, comment="Intro", type=category("Intro")),  # a downbeat under a section: the section's
        GuideItem(pos=10, comment="first line", type=category("Lyric line")),  # ... and under a line: the line's
        GuideItem(pos=20, comment="bar 3", type=category("Downbeat")),
        GuideItem(pos=30, comment="bar 4", type=category("Downbeat")),
        GuideItem(pos=40, comment="Bridge", type=category("Bridge")),
    ]


def test_kdenlive_section_marker_carrying_its_line_shows_both_texts(tmp_path):
    project = build_timeline(tmp_path, markers=[], make_media=False)
    rate = float(project.fps)
    for name, md in (
        ("Chorus: under the neon", {"kind": "section", "section_kind": "chorus", "line": "under the neon"}),
        ("Bridge", {"kind": "section", "section_kind": "bridge", "line": "falling down"}),
    ):
        frame = 40 if name.startswith("Chorus") else 70
        m = otio.schema.Marker(name=name, marked_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(frame, rate), otio.opentime.RationalTime(0, rate)))
        m.metadata["mvtimeline"] = md
        project.timeline.tracks.markers.append(m)
    guides = read_summary(write_to_file(project.timeline, tmp_path / "song.kdenlive")).guides
    assert guides == [
        GuideItem(pos=40, comment="Chorus: under the neon", type=category("Chorus")),
        GuideItem(pos=70, comment="Bridge / falling down", type=category("Bridge")),
    ]


def test_kdenlive_subtitles_are_a_sidecar_srt_and_a_filter(written):
    project, path, summary = written
    sidecar = subtitles_path(path)
    assert sidecar.name == "song.kdenlive.srt"
    flt = summary.subtitle_filter
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
    assert [g.comment for g in summary.guides] == clean
    assert summary.bin[1].name == "<clip> & \"one\""
    text = subtitles_path(path).read_text(encoding="utf-8")
    for line in clean:
        assert line in text


def test_kdenlive_dissolve_longer_than_the_handles_is_shortened_with_a_warning(tmp_path, caplog):
    project = build_timeline(tmp_path, pre=6, post=5, head=2, tail=1)
    with caplog.at_level(logging.WARNING, logger="mvtimeline.timeline.kdenlive.xml"):
        path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    assert "do not fit the handles" in caplog.text
    summary = read_summary(path)
    # pre is limited by the incoming clip's 2-frame head, post by the outgoing clip's 1-frame tail.
    assert [(m.in_frame, m.out_frame, m.mixcut) for m in summary.mixes] == [
        (cut - 2, cut + 1, 1) for cut in project.cuts
    ]
    lengths = {b.resource: b.length for b in summary.bin}
    for clip in video_clips(summary):  # every entry stays inside its file
        assert 0 <= clip.in_frame and clip.out_frame < lengths[clip.resource]


def test_kdenlive_dissolves_longer_than_a_clip_do_not_overlap_each_other(tmp_path, caplog):
    # The middle clip lasts 5 frames; two 4+4 dissolves around it would overlap.
    project = build_timeline(tmp_path, cut_s=(1.6, 1.8), pre=4, post=4, head=8, tail=8)
    with caplog.at_level(logging.WARNING, logger="mvtimeline.timeline.kdenlive.xml"):
        summary = read_summary(write_to_file(project.timeline, tmp_path / "song.kdenlive"))
    mixes = summary.mixes
    assert len(mixes) == 2 and "do not fit" in caplog.text
    assert mixes[0].out_frame < mixes[1].in_frame
    middle = video_clips(summary)[1]
    assert middle.start_frame == mixes[0].in_frame and middle.end_frame == mixes[1].out_frame


def test_kdenlive_media_outside_the_project_folder_keep_absolute_paths(tmp_path):
    project = build_timeline(tmp_path / "media")
    path = write_to_file(project.timeline, tmp_path / "out" / "song.kdenlive")
    resources = [b.resource for b in read_summary(path).bin]
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
    for name, w, h, fps, _ in STOCK_PROFILES:
        if (mlt_dir / name).exists():
            text = dict(line.split("=", 1) for line in (mlt_dir / name).read_text().splitlines() if "=" in line)
            assert (int(text["width"]), int(text["height"])) == (w, h)
            assert Fraction(int(text["frame_rate_num"]), int(text["frame_rate_den"])) == fps


# ------------------------------------------------------------------------------------------- takes
@pytest.fixture(scope="module")
def with_takes(tmp_path_factory: pytest.TempPathFactory):
    """Three segments with three takes each; the timeline uses take 2."""
    folder = tmp_path_factory.mktemp("takes")
    project = build_timeline(folder, takes=3, chosen_take=2, make_media=False)
    path = write_to_file(project.timeline, folder / "song.kdenlive")
    return project, path, read_summary(path)


def test_kdenlive_every_take_is_a_bin_clip_in_a_folder_named_by_its_segment(with_takes):
    project, _, summary = with_takes
    assert sorted(summary.folders.values()) == sorted(project.labels)
    by_folder: dict[str, list[tuple[str, str]]] = {}
    for b in summary.bin:
        if b.folderid != "-1":
            by_folder.setdefault(summary.folders[int(b.folderid)], []).append((b.name, b.resource))
    for k, (label, takes) in enumerate(zip(project.labels, project.take_paths), start=1):
        # named "NN take T": Kdenlive labels the timeline clip with it, so the segment stays visible
        assert by_folder[label] == [(f"{k:02d} take {t}", f"clips/{p.name}") for t, p in enumerate(takes, start=1)]
    (song,) = [b for b in summary.bin if b.folderid == "-1"]  # only the song stays at the bin root
    assert song.resource == "song.wav"
    assert summary.expanded_folders == sorted(summary.folders)  # every take in view


def test_kdenlive_timeline_uses_the_chosen_take(with_takes):
    project, _, summary = with_takes
    bin_ids = {b.resource: b.kdenlive_id for b in summary.bin}
    clips = video_clips(summary)
    assert [c.resource for c in clips] == [f"clips/{p.name}" for p in project.clip_paths]
    assert all("take2" in c.resource for c in clips)
    assert [c.kdenlive_id for c in clips] == [bin_ids[c.resource] for c in clips]
    # Same cuts and dissolves as a project without takes.
    assert [(m.in_frame, m.out_frame) for m in summary.mixes] == [
        (cut - project.pre, cut + project.post) for cut in project.cuts
    ]


def test_kdenlive_folder_ids_share_the_bin_clip_id_space(with_takes):
    _, path, summary = with_takes
    ids = [b.kdenlive_id for b in summary.bin] + list(summary.folders)
    assert len(ids) == len(set(ids)) == 1 + 3 * 3 + 3 and min(ids) == 2
    root = etree.parse(str(path)).getroot()
    folder_props = [p.get("name") for p in root.find("playlist[@id='main_bin']").findall("property")
                    if p.get("name").startswith("kdenlive:folder.")]  # fmt: skip
    assert folder_props == [f"kdenlive:folder.-1.{fid}" for fid in sorted(summary.folders)]


def test_kdenlive_project_without_takes_keeps_one_bin_clip_per_file_at_the_root(written):
    _, _, summary = written
    assert summary.folders == {} and summary.expanded_folders == []
    assert [b.name for b in summary.bin] == ["song", "01 red", "02 blue", "03 lime"]


def test_kdenlive_chosen_file_missing_from_its_takes_is_added_with_a_warning(tmp_path, caplog):
    project = build_timeline(tmp_path, takes=2, make_media=False)
    first = project.timeline.tracks[0][0]
    md = first.metadata["mvtimeline"]
    md["takes"] = [t for t in md["takes"] if t["take"] != 2]  # the chosen take 2 is no longer listed
    with caplog.at_level(logging.WARNING, logger="mvtimeline.timeline.kdenlive.xml"):
        summary = read_summary(write_to_file(project.timeline, tmp_path / "song.kdenlive"))
    assert "not among its takes" in caplog.text
    folder = next(fid for fid, name in summary.folders.items() if name == project.labels[0])
    assert sorted(b.name for b in summary.bin if b.folderid == str(folder)) == ["01 take 1", "01 take 2"]
    assert video_clips(summary)[0].resource == f"clips/{project.clip_paths[0].name}"


def test_kdenlive_takes_without_a_path_are_left_out_with_a_warning(tmp_path, caplog):
    project = build_timeline(tmp_path, takes=2, make_media=False)
    md = project.timeline.tracks[0][0].metadata["mvtimeline"]
    md["takes"] = [{"take": 1, "n_frames": 10}, *[t for t in md["takes"] if t["take"] == 2]]
    with caplog.at_level(logging.WARNING, logger="mvtimeline.timeline.kdenlive.xml"):
        summary = read_summary(write_to_file(project.timeline, tmp_path / "song.kdenlive"))
    assert "has no path" in caplog.text
    folder = next(fid for fid, name in summary.folders.items() if name == project.labels[0])
    assert [b.name for b in summary.bin if b.folderid == str(folder)] == ["01 take 2"]


# ------------------------------------------------------------------------------------------ errors
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


def test_kdenlive_unknown_document_version_is_rejected_listing_the_known_ones(written, tmp_path):
    project, _, _ = written
    with pytest.raises(InputError, match=r"unknown Kdenlive document version '1\.2'; known: 1\.04, 1\.1"):
        write_to_file(project.timeline, tmp_path / "song.kdenlive", version="1.2")
    with pytest.raises(InputError, match="known: 1.04, 1.1"):
        write_to_string(project.timeline, version="22.12")
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the subtitles


# ------------------------------------------------------------------------------------ real Kdenlive
TRICKY_SUBS = [
    {"start_s": 0.3, "end_s": 1.4, "text": "first line"},
    {"start_s": 1.7, "end_s": 2.7, "text": "chorus <&> 🔥 夜空"},
    {"start_s": 2.9, "end_s": 3.9, "text": "שלום / مرحبا"},
]


OPEN_PROFILES = {"16x9-25": ((1920, 1080), Fraction(25)), "9x16-29.97": ((1080, 1920), Fraction(30000, 1001))}


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory):
    """The projects the real-Kdenlive tests open, all opened at once (each Kdenlive on its own
    virtual screen, so one loads while another waits): name → (project file, Future of the
    OpenResult). Each profile of ``OPEN_PROFILES`` with takes, guides and tricky subtitles, and
    ``"moved"``: such a project whose folder was moved away from where it was written."""
    from concurrent.futures import ThreadPoolExecutor

    from support.kdenlive_open import missing_tools, open_in_kdenlive

    missing = missing_tools()
    if missing:
        pytest.skip(f"needs apt-get install -y {' '.join(missing)}")
    paths = {}
    for name, (size, fps) in OPEN_PROFILES.items():
        folder = tmp_path_factory.mktemp(f"open-{name}")
        project = build_timeline(folder, fps=fps, size=size, takes=2, subtitles=TRICKY_SUBS, beats_s=(0.8, 2.4))
        paths[name] = write_to_file(project.timeline, folder / "song.kdenlive")
    base = tmp_path_factory.mktemp("open-moved")
    made = base / "made"
    project = build_timeline(made, takes=2, subtitles=TRICKY_SUBS)
    write_to_file(project.timeline, made / "song.kdenlive")
    moved = base / "elsewhere" / "moved"
    shutil.copytree(made, moved)
    made.rename(base / "gone")  # nothing is left where the project was written
    paths["moved"] = moved / "song.kdenlive"
    with ThreadPoolExecutor(len(paths), thread_name_prefix="kdenlive") as pool:
        runs = {name: (path, pool.submit(open_in_kdenlive, path, path.parent.parent / f"kdenlive-open-{name}"))
                for name, path in paths.items()}
        yield runs


def open_clean(run, shot_name: str):
    """The result of a run of :func:`opened`, checked clean; keep the screenshot if asked to."""
    result = run.result()
    shots = os.environ.get("MVTIMELINE_SHOTS")  # a folder where a person wants the screenshots
    if shots and result.screenshot is not None:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.screenshot, Path(shots) / f"{shot_name}.png")
    assert result.clean, f"Kdenlive showed {result.dialogs or 'no main window'}; see {result.screenshot}, {result.log}"
    return result


def loaded_clip_starts(log_path: Path) -> dict[str, list[int]]:
    """Where Kdenlive placed each timeline clip, from its log ("loaded clip: <frame> , ... TYPE: AV")."""
    starts: dict[str, list[int]] = {}
    text = log_path.read_text(encoding="utf-8", errors="replace")
    for m in re.finditer(r"loaded clip:\s+(\d+)\s*,.*TYPE:\s*(\w+)", text):
        starts.setdefault(m.group(2), []).append(int(m.group(1)))
    return {kind: sorted(set(frames)) for kind, frames in starts.items()}


@pytest.mark.kdenlive
@pytest.mark.parametrize("name", list(OPEN_PROFILES))
def test_kdenlive_opens_the_project_with_takes_guides_and_subtitles_with_no_dialog(opened, name):
    size, fps = OPEN_PROFILES[name]
    path, run = opened[name]
    summary = read_summary(path)
    result = open_clean(run, f"kdenlive-open-{size[0]}x{size[1]}-{fps_label(fps)}")
    assert result.windows == (f"song / {profile_for(*size, fps).description} — Kdenlive",)
    starts = loaded_clip_starts(result.log)  # the three chosen takes and the song reached the timeline
    assert starts["AV"] == [c.start_frame for c in video_clips(summary)]
    assert starts["Audio"] == [0]


@pytest.mark.kdenlive
def test_kdenlive_opens_a_moved_project_folder_with_no_missing_clip(opened):
    path, run = opened["moved"]
    assert not (path.parents[2] / "made").exists()
    result = open_clean(run, "kdenlive-open-moved")
    log = result.log.read_text(encoding="utf-8", errors="replace")
    assert len(loaded_clip_starts(result.log)["AV"]) == 3
    assert "srt/vtt/sbv file import" in log  # the subtitles came from the sidecar beside the moved project


SIZES = ((1920, 1080), (1080, 1920), (1080, 1080), (3840, 2160))


@pytest.mark.kdenlive
@pytest.mark.skipif(not os.environ.get("MVTIMELINE_KDENLIVE_SWEEP"), reason="set MVTIMELINE_KDENLIVE_SWEEP=1 (~3 min)")
def test_kdenlive_opens_every_size_and_rate_with_no_dialog(tmp_path):
    """16:9, 9:16, 1:1 and 4K at each of the eight rates: 32 projects, four Kdenlives at a time."""
    from concurrent.futures import ThreadPoolExecutor

    from support.kdenlive_open import missing_tools, open_in_kdenlive

    if missing_tools():
        pytest.skip(f"needs apt-get install -y {' '.join(missing_tools())}")
    jobs = []
    for fps in KNOWN_FPS.values():
        project = build_timeline(tmp_path / fps_label(fps), fps=fps, seconds=2.0, cut_s=(0.8, 1.4), takes=2)
        for w, h in SIZES:
            project.timeline.metadata["mvtimeline"].update(width=w, height=h)
            jobs.append((w, h, fps, write_to_file(project.timeline, tmp_path / fps_label(fps) / f"{w}x{h}.kdenlive")))

    def open_one(job):
        w, h, fps, path = job
        result = open_in_kdenlive(path, path.with_suffix(".open"))
        want = f"{path.stem} / {profile_for(w, h, fps).description} — Kdenlive"
        return f"{w}x{h}@{fps_label(fps)}", result.windows, want

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(open_one, jobs))
    bad = [(name, windows) for name, windows, want in results if windows != (want,)]
    assert not bad, bad
