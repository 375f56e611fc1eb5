"""Kdenlive document version 1.1 (sequences, Kdenlive 23.04+): its structure read back with lxml
against the facts in KDENLIVE-FORMAT.md section 2.2, and melt rendering the active sequence.

Kdenlive 22.12 (the only one here) refuses 1.1 documents by design, so no test opens one in a real
Kdenlive.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

import av
import numpy as np
import pytest
from support.probe import ffprobe
from support.timelines import COLOURS, build_timeline, needs_ffmpeg, needs_melt
from lxml import etree

from mvtimeline.render import render
from mvtimeline.timeline.kdenlive.xml import write_to_file, write_to_string
from mvtimeline.timeline.kdenlive.read import read_summary
from mvtimeline.timeline.kdenlive.layout import guide_category
from mvtimeline.timeline.kdenlive.xml11 import sequence_uuid

pytestmark = needs_ffmpeg

BRACED_UUID = re.compile(r"\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    """One 29.97 fps project with two takes per segment and downbeats, written as 1.04 and as 1.1."""
    folder = tmp_path_factory.mktemp("kdenlive11")
    project = build_timeline(folder, fps=Fraction(30000, 1001), takes=2, beats_s=(0.8, 2.4))
    old = write_to_file(project.timeline, folder / "song.kdenlive", document_id=1700000000000)
    new = write_to_file(project.timeline, folder / "song11.kdenlive", document_id=1700000000000, version="1.1")
    return project, old, new


def props(el: etree._Element) -> dict[str, str]:
    return {p.get("name"): p.text or "" for p in el.findall("property")}


def test_kdenlive11_document_is_a_sequence_played_by_a_project_tractor(both):
    _, _, path = both
    root = etree.parse(str(path)).getroot()
    assert root.tag == "mlt" and root.get("root") is None
    children = [el for el in root if el.tag != "profile"]
    project_tractor = children[-1]
    assert project_tractor.tag == "tractor" and props(project_tractor)["kdenlive:projectTractor"] == "1"
    (track,) = project_tractor.findall("track")
    uuid = track.get("producer")
    assert BRACED_UUID.fullmatch(uuid)
    sequence = root.find(f"tractor[@id='{uuid}']")
    main_bin = root.find("playlist[@id='main_bin']")
    assert children.index(sequence) < children.index(main_bin) == len(children) - 2  # main_bin after the sequence

    seq = props(sequence)
    assert seq["kdenlive:uuid"] == uuid and seq["kdenlive:producer_type"] == "17"
    assert seq["kdenlive:clipname"] == "test song"
    assert seq["kdenlive:sequenceproperties.documentuuid"] == uuid
    assert seq["kdenlive:sequenceproperties.groups"] == "[]"
    assert seq["kdenlive:sequenceproperties.tracksCount"] == "2"
    assert [t.get("producer") for t in sequence.findall("track")] == ["black_track", "tractor0", "tractor1"]

    doc = props(main_bin)
    assert doc["kdenlive:docproperties.version"] == "1.1"
    assert doc["kdenlive:docproperties.uuid"] == uuid
    assert doc["kdenlive:docproperties.activetimeline"] == doc["kdenlive:docproperties.opensequences"] == uuid
    assert doc["kdenlive:docproperties.documentid"] == "1700000000000"
    assert "kdenlive:docproperties.guides" not in doc  # guides live in the sequence
    assert json.loads(doc["kdenlive:docproperties.guidesCategories"])  # categories stay document-wide
    # The sequence is a bin clip in the "Sequences" folder; its entry comes first.
    folder = doc["kdenlive:sequenceFolder"]
    assert doc[f"kdenlive:folder.-1.{folder}"] == "Sequences" and seq["kdenlive:folderid"] == folder
    assert main_bin.find("entry").get("producer") == uuid


def test_kdenlive11_ids_are_unique_and_defined_before_use(both):
    _, _, path = both
    root = etree.parse(str(path)).getroot()
    summary = read_summary(path)
    (sequence,) = summary.sequences
    ids = [b.kdenlive_id for b in summary.bin] + list(summary.folders) + [sequence.kdenlive_id]
    assert len(ids) == len(set(ids))
    seen: set[str] = set()
    for el in root.iter():
        ref = el.get("producer") if el.tag in ("entry", "track") else None
        if ref is not None:
            assert ref in seen, f"{el.tag} uses {ref} before it is defined"
        if el.tag in ("producer", "playlist", "tractor") and el.get("id"):
            seen.add(el.get("id"))
    for el in root.iter("entry", "blank", "producer", "transition", "tractor", "track"):
        for attr in ("in", "out", "length"):
            if el.get(attr) is not None:
                assert el.get(attr).isdigit(), (el.tag, attr, el.get(attr))


def test_kdenlive11_holds_the_same_timeline_bin_and_guides_as_1_04(both):
    _, old_path, new_path = both
    old, new = read_summary(old_path), read_summary(new_path)
    assert new.version == "1.1" and old.version == "1.04"
    assert new.project_tractor and not old.project_tractor
    for key in ("profile", "n_frames", "bin", "tracks", "clips", "mixes", "guides", "guide_categories",
                "main_tracks", "main_transitions", "expanded_folders"):  # fmt: skip
        assert getattr(new, key) == getattr(old, key), key
    sequences_folder = int(new.sequences[0].folderid)
    assert {k: v for k, v in new.folders.items() if k != sequences_folder} == old.folders
    assert any(g.type == guide_category("beat") for g in new.guides)  # downbeats are in the sequence's guides
    # Each points at the sidecar its Kdenlive reads: <project>.srt (22.12), <project>.ass (24.12+).
    assert new.subtitle_filter["av.filename"] == str(new_path.resolve()) + ".ass"
    assert old.subtitle_filter["av.filename"] == str(old_path.resolve()) + ".srt"


def test_kdenlive11_output_is_reproducible_with_a_document_id(both):
    project, _, path = both
    a = write_to_string(project.timeline, project_path=path, document_id=1700000000000, version="1.1")
    b = write_to_string(project.timeline, project_path=path, document_id=1700000000000, version="1.1")
    assert a == b == path.read_text(encoding="utf-8")
    assert sequence_uuid(1700000000000) in a
    other = write_to_string(project.timeline, project_path=path, document_id=1700000000001, version="1.1")
    assert sequence_uuid(1700000000001) in other and sequence_uuid(1700000000000) not in other


# ------------------------------------------------------------------------------------------- melt
def patch(frame: np.ndarray) -> np.ndarray:
    """Mean colour of a top-left patch, away from the subtitles."""
    return frame[10:40, 10:60].reshape(-1, 3).mean(axis=0)


@pytest.fixture(scope="module", params=["25", "29.97"])
def rendered11(request, tmp_path_factory: pytest.TempPathFactory):
    """A 4 s 1.1 project with two takes per segment, rendered by melt (subtitles burned in)."""
    fps = {"25": Fraction(25), "29.97": Fraction(30000, 1001)}[request.param]
    folder = tmp_path_factory.mktemp(f"render11-{request.param}")
    project = build_timeline(folder, fps=fps, takes=2)
    path = write_to_file(project.timeline, folder / "song.kdenlive", version="1.1")
    result = render(path, folder / "song.mp4", x264_preset="ultrafast", subtitles=True)
    with av.open(str(result.path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return project, result, frames


@needs_melt
def test_kdenlive11_render_of_the_active_sequence_lasts_exactly_the_song(rendered11):
    project, result, frames = rendered11
    video = ffprobe(result.path)["video"]
    assert int(video["nb_read_frames"]) == len(frames) == project.n_frames == result.n_frames
    assert Fraction(video["r_frame_rate"]) == project.fps
    assert (video["width"], video["height"]) == (320, 180)


@needs_melt
def test_kdenlive11_render_dissolves_blend_the_chosen_takes_and_cuts_stay_pure(rendered11):
    project, _, frames = rendered11
    bounds = (0, *project.cuts, project.n_frames)
    mixes = [(cut - project.pre, cut + project.post) for cut in project.cuts]
    for k, colour in enumerate(project.colours):  # the chosen take (the segment's colour), never take 1 (grey)
        for f in range(bounds[k], bounds[k + 1]):
            if not any(a <= f <= b for a, b in mixes):
                assert np.abs(patch(frames[f]) - COLOURS[colour]).max() < 20, (f, colour, patch(frames[f]))
    for k, (a, b) in enumerate(mixes):
        before, after = np.array(COLOURS[project.colours[k]]), np.array(COLOURS[project.colours[k + 1]])
        mid = patch(frames[(a + b) // 2])
        assert np.abs(mid - (before + after) / 2).max() < 50, mid
        assert np.abs(mid - before).max() > 80 and np.abs(mid - after).max() > 80


@needs_melt
def test_kdenlive11_render_burns_in_the_sequences_subtitles(rendered11):
    project, _, frames = rendered11

    def text_pixels(frame: np.ndarray) -> int:
        band = frame[120:180].astype(int)
        return int((np.abs(band - patch(frame)).max(axis=-1) > 100).sum())

    assert text_pixels(frames[round(0.9 * project.fps)]) > 100  # inside "first line"
    assert text_pixels(frames[round(0.1 * project.fps)]) == 0
