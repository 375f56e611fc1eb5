"""Clean in every Kdenlive people run: 22.12 (Debian 12, installed), 24.12 and 26.08 (Debian chroots).

The demo-sized project (the demo song, 13 segments with two takes each, guides, 16 lyric lines) in
document versions 1.04 and 1.1 (1.1 needs 23.04+), at 16:9 25 fps and 9:16 29.97 fps, opens with no
dialog in each version. Kdenlive 26.08 saves it and our reader reads the same clips, takes, guides
and subtitles back; ``pick`` on that Kdenlive-saved project keeps the other edits; the ``.otio``
imports into 26.08 with named clips, working dissolves, guides in their categories, in sync.

The chroots come from ``kdenlive_chroot.sh`` (see :mod:`kdenlive_chroot`); ``make test`` sets them
up. Structural checks that need no Kdenlive run everywhere.

The whole module is one xdist group with the other real-Kdenlive tests, so its demo projects (a
minute to make) are made once, on one worker. The Kdenlive runs start together at the first test that
needs one (:func:`kdenlive_runs`): one lane per Kdenlive (22.12 here, 24.12, 26.08), each running its
opens, saves and import one after the other, so that one Kdenlive loads while another one waits;
each test then checks its own run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from support.kdenlive_chroot import SUITES, import_otio, open_in_chroot, save_in_chroot, skip_reason
from lxml import etree

from mvtimeline import pipeline
from mvtimeline.config import Config
from mvtimeline.timeline import export
from mvtimeline.timeline.kdenlive.xml import subtitles_paths
from mvtimeline.timeline.kdenlive.read import read_summary
from mvtimeline.timeline.kdenlive.layout import GUIDE_CATEGORIES, guide_category
from mvtimeline.types import Analysis, Lyrics, Plan

pytestmark = pytest.mark.xdist_group("kdenlive")

#: Kdenlive's default guide categories (KdenliveSettings guidesCategories): index → colour.
KDENLIVE_DEFAULT_COLOURS = ["#9b59b6", "#3daee9", "#1abc9c", "#1cdc9a", "#c9ce3b", "#fdbc4b", "#f39c1f", "#f47750",
                            "#da4453"]  # fmt: skip
PROFILES = {"16x9-25": (320, 180, Fraction(25)), "9x16-29.97": (180, 320, Fraction(30000, 1001))}
#: The project profile the test opens: the real size (media stay tiny, same shape).
OPEN_SIZES = {"16x9-25": (1920, 1080), "9x16-29.97": (1080, 1920)}


@pytest.fixture(scope="module")
def full_demo(tmp_path_factory):
    """The demo song of ``make demo`` (88.5 s, four stanzas)."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make deps)")
    from mvtimeline.audio.demo import synthesize

    return synthesize(tmp_path_factory.mktemp("full-demo"))


def _project(song, folder: Path, profile: str, version: str) -> pipeline.RunResult:
    w, h, fps = PROFILES[profile]
    cfg = Config(fps=fps, width=w, height=h, takes=2, kdenlive_format=version)
    return pipeline.run(song.audio_path, song.lyrics_path, folder, cfg)


@pytest.fixture(scope="module")
def made(full_demo, tmp_path_factory):
    """The demo song made into a project per profile (clips at a tiny size of the profile's shape,
    1.04): profile → (WorkFolder, plan, analysis, aligned lyrics, chosen clips)."""
    out = {}
    for profile in PROFILES:
        base = _project(full_demo, tmp_path_factory.mktemp(f"demo-{profile}"), profile, "1.04")
        plan = Plan.load(base.project.folder / "plan.json")
        analysis = Analysis.load(base.project.folder / "analysis.json")
        aligned = Lyrics.load(base.project.folder / "aligned.json")
        out[profile] = (base.project, plan, analysis, aligned, pipeline.chosen_clips(base.project, plan, analysis))
    return out


def _written_in(made, folder: Path, profile: str, version: str, size: tuple[int, int]):
    """A copy of the profile's work folder in ``folder``, its project files written there at ``size``
    in document ``version`` (so that their paths are those of ``folder``)."""
    base, plan, analysis, aligned, clips = made[profile]
    shutil.copytree(base.folder, folder)
    for stale in folder.glob("demo.kdenlive*"):
        stale.unlink()
    project = dataclasses.replace(pipeline.load_project(folder), config=base.config.replace(
        width=size[0], height=size[1], kdenlive_format=version))
    moved = {k: (req, dataclasses.replace(res, path=folder / res.path.relative_to(base.folder)))
             for k, (req, res) in clips.items()}
    pipeline.export_step(project, plan, aligned, moved, formats=("kdenlive", "otio"), analysis=analysis)
    return project


@pytest.fixture(scope="module")
def projects(made):
    """The demo project per (profile, version): clips made at a tiny size of the profile's shape,
    project files written at the real size (1920x1080 / 1080x1920), as Kdenlive users have them."""
    out = {}
    for profile in PROFILES:
        base = made[profile][0]
        for version in ("1.04", "1.1"):
            folder = base.folder.parent / f"{base.folder.name}-{version}"
            out[(profile, version)] = _written_in(made, folder, profile, version, OPEN_SIZES[profile])
    return out


def _to_pick_in(made, folder: Path):
    """The 16:9 demo project as ``mvtimeline run`` writes it (1.04, at the clips' size), in a work
    folder of its own in ``folder``, for a test that changes it."""
    return _written_in(made, folder / "job", "16x9-25", "1.04", PROFILES["16x9-25"][:2])


# -------------------------------------------------------------------------------- structure, everywhere
@pytest.mark.parametrize("version", ["1.04", "1.1"])
def test_every_producer_but_the_black_track_is_in_the_bin_and_the_black_one_is_marked(projects, version):
    """Kdenlive 24.12 lists a producer outside main_bin as an "Unreferenced clip" unless it is the
    black track marked with kdenlive:playlistid (Clip Problems dialog otherwise)."""
    path = projects[("16x9-25", version)].path(".kdenlive")
    root = etree.parse(str(path)).getroot()
    in_bin = {e.get("producer") for e in root.find("playlist[@id='main_bin']").findall("entry")}
    for el in root:
        if el.tag not in ("producer", "chain"):
            continue
        props = {p.get("name"): p.text for p in el.findall("property")}
        if el.get("id") == "black_track":
            assert props["kdenlive:playlistid"] == "black_track"
        else:
            assert el.get("id") in in_bin, el.get("id")


@pytest.mark.parametrize("version", ["1.04", "1.1"])
def test_both_subtitle_sidecars_hold_every_lyric_line(projects, full_demo, version):
    project = projects[("16x9-25", version)]
    srt, ass = subtitles_paths(project.path(".kdenlive"))
    import pysubs2

    texts = [line["text"] for line in full_demo.lines]
    assert [e.plaintext for e in pysubs2.load(str(srt))] == texts
    events = pysubs2.load(str(ass))
    assert [e.plaintext for e in events] == texts  # plain lines: what a subtitle track shows
    assert "[V4+ Styles]" in ass.read_text(encoding="utf-8")
    summary = read_summary(project.path(".kdenlive"))
    assert summary.subtitles_file == ass and len(summary.subtitles) == len(texts)
    if version == "1.1":
        seq = summary.sequences[0].properties
        assert json.loads(seq["subtitlesList"]) == [{"file": ass.name, "id": 0, "name": "Subtitles"}]
        assert seq["kdenlive:activeSubtitleIndex"] == "0"
        # 24.12 asks to overwrite the subtitle file when the filter names another file than the list
        assert summary.subtitle_filter["av.filename"] == str(ass.resolve())
    else:
        assert summary.subtitle_filter["av.filename"] == str(srt.resolve())


def test_guide_categories_have_kdenlives_default_colours_for_their_numbers():
    assert [colour for _, _, colour in GUIDE_CATEGORIES] == KDENLIVE_DEFAULT_COLOURS


def test_otio_names_its_clips_files_and_carries_guide_categories(projects):
    project = projects[("16x9-25", "1.04")]
    path = project.path(".otio")
    tl = otio.adapters.read_from_file(str(path))
    clips = [c for c in tl.video_tracks()[0] if isinstance(c, otio.schema.Clip)]
    for clip in clips:
        media = path.parent / clip.media_reference.target_url
        assert media.parent == export.media_folder(path)
        assert media.name == f"{clip.name} (take {clip.metadata['mvtimeline']['take']}).mp4"
        chosen = next(t for t in clip.metadata["mvtimeline"]["takes"] if t["take"] == clip.metadata["mvtimeline"]["take"])
        assert media.samefile(path.parent / chosen["path"])  # a link, not a copy
        assert clip.source_range.start_time.value == 0  # the file starts with its segment
    for trans in tl.video_tracks()[0]:
        if isinstance(trans, otio.schema.Transition):
            assert trans.in_offset.value == 0 and trans.out_offset.value > 0  # starts at the cut
    guides = {g.pos: g.type for g in read_summary(project.path(".kdenlive")).guides}
    for marker in tl.tracks.markers:
        frame = int(marker.marked_range.start_time.value)
        assert marker.metadata["kdenlive"]["type"] == guides[frame]
        assert marker.comment


def test_pick_on_an_edited_project_changes_only_that_clip_and_keeps_a_copy(made, tmp_path):
    folder = _to_pick_in(made, tmp_path).folder
    path = folder / "demo.kdenlive"
    tree = etree.parse(str(path))
    for p in tree.getroot().iter("property"):  # the user renames a guide and a track
        if p.get("name") == "kdenlive:docproperties.guides":
            guides = json.loads(p.text)
            guides[0]["comment"] = "my own intro guide"
            p.text = json.dumps(guides)
        if p.get("name") == "kdenlive:track_name" and p.text == "V1":
            p.text = "Singer"
    tree.write(str(path), xml_declaration=True, encoding="utf-8")
    edited = path.read_bytes()
    before = read_summary(path)
    result = pipeline.pick(folder, 2, 2)
    after = read_summary(path)
    assert [b.read_bytes() for b in result.backups if b.name.startswith("demo.kdenlive.bak")] == [edited]
    assert after.guides[0].comment == "my own intro guide"
    assert [t.name for t in after.tracks] == [t.name for t in before.tracks] and "Singer" in \
        [t.name for t in after.tracks]
    v1 = [c for c in after.clips if c.track == "Singer"]
    old = [c for c in before.clips if c.track == "Singer"]
    assert v1[1].name == "02 take 2" and v1[1].resource.endswith("take-2.mp4")
    assert [(c.start_frame, c.end_frame, c.in_frame) for c in v1] == \
        [(c.start_frame, c.end_frame, c.in_frame) for c in old]
    assert [c.resource for k, c in enumerate(v1) if k != 1] == [c.resource for k, c in enumerate(old) if k != 1]


# ----------------------------------------------------------------------------------------- real Kdenlive
def _keep_shots(result_shots, name: str) -> None:
    shots = os.environ.get("MVTIMELINE_SHOTS")  # a folder where a person wants the screenshots
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        for shot in result_shots:
            shutil.copyfile(shot, Path(shots) / f"{name}-{shot.name}")


OPEN_CASES = [("22.12", v, p) for v in ("1.04",) for p in PROFILES] + [
    (s, v, p) for s in SUITES for v in ("1.04", "1.1") for p in PROFILES
]


class _Lanes:
    """One thread per Kdenlive (a lane); each run is started once, by its key, and its Future kept."""

    def __init__(self) -> None:
        self.pools: dict[str, ThreadPoolExecutor] = {}
        self.runs: dict[tuple, Future] = {}

    def start(self, lane: str, key: tuple, fn, *args) -> Future:
        if key not in self.runs:
            pool = self.pools.setdefault(lane, ThreadPoolExecutor(1, thread_name_prefix=f"kdenlive-{lane}"))
            self.runs[key] = pool.submit(fn, *args)
        return self.runs[key]

    def result(self, key: tuple):
        return self.runs[key].result()

    def close(self) -> None:
        for pool in self.pools.values():
            pool.shutdown(wait=True, cancel_futures=True)


def _save_in_26(project) -> Path:
    """Kdenlive 26.08 opens the project and saves it as ``saved-in-26.kdenlive`` beside it."""
    return save_in_chroot("forky", project.path(".kdenlive"), project.folder / "saved-in-26.kdenlive",
                          project.folder.parent / f"{project.folder.name}-save-26")


def _save_to_pick_in(made, folder: Path) -> Path:
    return _save_in_26(_to_pick_in(made, folder))


@pytest.fixture(scope="module")
def kdenlive_runs(made, projects, tmp_path_factory):
    """Every Kdenlive run of the module, started at once in its lane: the opens of ``OPEN_CASES``
    (22.12 here, 24.12 and 26.08 in their chroots), then in 26.08 the saves of both documents (and of
    the project ``mvtimeline run`` writes, for the pick test to change) and the OTIO import. A Kdenlive that cannot
    run here starts nothing (its tests skip)."""
    from support.kdenlive_open import missing_tools, open_in_kdenlive

    lanes = _Lanes()
    root = tmp_path_factory.mktemp("kdenlive-runs")
    for suite, version, profile in OPEN_CASES:
        path, out = projects[(profile, version)].path(".kdenlive"), root / f"{suite}-{version}-{profile}"
        if suite == "22.12" and not missing_tools():
            lanes.start(suite, ("open", suite, version, profile), open_in_kdenlive, path, out)
        elif suite != "22.12" and not skip_reason(suite):
            lanes.start(suite, ("open", suite, version, profile), open_in_chroot, suite, path, out)
    if not skip_reason("forky"):
        for version in ("1.04", "1.1"):
            lanes.start("forky", ("save", version), _save_in_26, projects[("16x9-25", version)])
        lanes.start("forky", ("save", "to pick in"), _save_to_pick_in, made, tmp_path_factory.mktemp("pick-in-26"))
        project = projects[("16x9-25", "1.04")]
        lanes.start("forky", ("otio",), import_otio, "forky", project.path(".otio"), root / "otio")
    yield lanes
    lanes.close()


@pytest.mark.kdenlive
@pytest.mark.parametrize(("suite", "version", "profile"), OPEN_CASES,
                         ids=[f"{s}-{v}-{p}" for s, v, p in OPEN_CASES])  # fmt: skip
def test_demo_project_opens_with_no_dialog(kdenlive_runs, suite, version, profile):
    if suite == "22.12":
        from support.kdenlive_open import missing_tools

        if missing_tools():
            pytest.skip(f"needs apt-get install -y {' '.join(missing_tools())}")
        result = kdenlive_runs.result(("open", suite, version, profile))
        shots = [result.screenshot] if result.screenshot else []
        _keep_shots(shots, f"{suite}-{version}-{profile}")
        assert result.clean, f"Kdenlive 22.12 showed {result.dialogs or 'no main window'}; see {shots}"
        return
    reason = skip_reason(suite)
    if reason:
        pytest.skip(reason)
    result = kdenlive_runs.result(("open", suite, version, profile))
    _keep_shots(result.screenshots, f"{suite}-{version}-{profile}")
    assert result.clean, result.message()


@pytest.mark.kdenlive
@pytest.mark.parametrize("version", ["1.04", "1.1"])
def test_kdenlive_26_saves_the_project_and_we_read_the_same_clips_takes_guides_and_subtitles(projects, kdenlive_runs,
                                                                                             version):
    reason = skip_reason("forky")
    if reason:
        pytest.skip(reason)
    project = projects[("16x9-25", version)]
    ours = read_summary(project.path(".kdenlive"))
    saved = kdenlive_runs.result(("save", version))
    theirs = read_summary(saved)
    assert theirs.version == "1.1" and theirs.docproperties["kdenliveversion"].startswith("26.08")

    def timeline(summary):
        return [(c.track, c.start_frame, c.end_frame, c.in_frame, Path(c.resource).name, c.name)
                for c in summary.clips]

    assert timeline(theirs) == timeline(ours)
    assert [(m.in_frame, m.out_frame) for m in theirs.mixes] == [(m.in_frame, m.out_frame)
                                                                        for m in ours.mixes]
    takes = lambda s: sorted((str(s.folders.get(int(b.folderid))), b.name) for b in s.bin)  # noqa: E731
    assert takes(theirs) == takes(ours)  # every take, in its segment's folder
    assert [(g.pos, g.comment, g.type) for g in theirs.guides] == \
        [(g.pos, g.comment, g.type) for g in ours.guides]
    assert theirs.subtitles_file.name == "saved-in-26.kdenlive.ass"
    assert [s.text for s in theirs.subtitles] == [s.text for s in ours.subtitles]


@pytest.mark.kdenlive
def test_pick_on_a_project_kdenlive_26_saved_keeps_its_edits_and_still_opens_clean(kdenlive_runs, tmp_path):
    reason = skip_reason("forky")
    if reason:
        pytest.skip(reason)
    # the demo project, in a work folder of this test's own, as Kdenlive 26.08 saved it there
    saved = kdenlive_runs.result(("save", "to pick in"))
    folder = saved.parent
    path = folder / "demo.kdenlive"
    shutil.copyfile(saved, path)  # the user saved the project in Kdenlive 26.08
    shutil.copyfile(saved.with_name(f"{saved.name}.ass"), path.with_name("demo.kdenlive.ass"))
    before = read_summary(path)
    pipeline.pick(folder, 3, 2)
    after = read_summary(path)
    assert after.docproperties["kdenliveversion"] == before.docproperties["kdenliveversion"]  # not ours
    v1 = [c for c in after.clips if c.track == "V1"]
    assert v1[2].resource.endswith("take-2.mp4") and v1[2].name == "03 take 2"
    assert [c.resource for k, c in enumerate(v1) if k != 2] == \
        [c.resource for k, c in enumerate(before.clips) if c.track == "V1" and k != 3][: len(v1) - 1]
    result = open_in_chroot("forky", path, tmp_path / "open")
    assert result.clean, result.message()


@pytest.mark.kdenlive
def test_otio_imports_into_kdenlive_26_with_named_clips_dissolves_guides_in_sync(projects, kdenlive_runs):
    reason = skip_reason("forky")
    if reason:
        pytest.skip(reason)
    project = projects[("16x9-25", "1.04")]
    imported, report = kdenlive_runs.result(("otio",))
    assert imported.is_file(), report
    log = (imported.parent / "kdenlive.log").read_text(errors="replace")
    assert "mix failed" not in log
    theirs, ours = read_summary(imported), read_summary(project.path(".kdenlive"))
    v1 = [c for c in theirs.clips if c.track == "V1"]
    our_v1 = [c for c in ours.clips if c.track == "V1"]
    tl = otio.adapters.read_from_file(str(project.path(".otio")))
    names = [c.name for c in tl.video_tracks()[0] if isinstance(c, otio.schema.Clip)]
    assert [Path(c.resource).stem for c in v1] == [f"{n} (take 1)" for n in names]
    # in sync: each clip starts where ours does, showing its file from the same frame
    assert [(c.start_frame, c.in_frame) for c in v1] == [(c.start_frame, c.in_frame) for c in our_v1]
    assert len(theirs.mixes) == len(ours.mixes) == len(v1) - 1
    assert [(g.pos, g.type) for g in theirs.guides] == [(g.pos, g.type) for g in ours.guides]
    assert {g.type for g in theirs.guides} >= {guide_category("section", "Chorus"), guide_category("line")}


SWEEP_SIZES = ((1920, 1080), (1080, 1920), (1080, 1080), (3840, 2160))


@pytest.mark.kdenlive
@pytest.mark.skipif(not os.environ.get("MVTIMELINE_KDENLIVE_SWEEP"),
                    reason="set MVTIMELINE_KDENLIVE_SWEEP=1 (~40 min: 64 opens)")  # fmt: skip
def test_every_size_and_rate_opens_with_no_dialog_in_24_12_and_26_08(tmp_path):
    """16:9, 9:16, 1:1 and 4K at each of the eight rates (32 projects) in 24.12 and 26.08, one
    Kdenlive per chroot at a time (the tool keeps one output folder per chroot)."""
    from concurrent.futures import ThreadPoolExecutor

    from support.timelines import build_timeline

    from mvtimeline.timecode import KNOWN_FPS, fps_label
    from mvtimeline.timeline.kdenlive.xml import write_to_file

    for suite in SUITES:
        if skip_reason(suite):
            pytest.skip(skip_reason(suite))
    jobs = []
    for fps in KNOWN_FPS.values():
        project = build_timeline(tmp_path / fps_label(fps), fps=fps, seconds=2.0, cut_s=(0.8, 1.4), takes=2)
        for w, h in SWEEP_SIZES:
            project.timeline.metadata["mvtimeline"].update(width=w, height=h)
            jobs.append((f"{w}x{h}@{fps_label(fps)}",
                         write_to_file(project.timeline, tmp_path / fps_label(fps) / f"{w}x{h}.kdenlive")))

    def sweep(suite: str) -> list[str]:
        bad = []
        for name, path in jobs:
            result = open_in_chroot(suite, path, path.with_suffix(f".{suite}"))
            if not result.clean:
                bad.append(f"{name}: {result.message()}")
        return bad

    with ThreadPoolExecutor(len(SUITES)) as pool:
        bad = [b for found in pool.map(sweep, SUITES) for b in found]
    assert not bad, "\n".join(bad)
