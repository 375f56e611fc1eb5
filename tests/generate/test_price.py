"""The price before the gamble (issue 23): a backend's speed measured on the clips it made in a work
folder, the expected time and cost of what is about to be made, and what the clips made took."""

from __future__ import annotations

import dataclasses
import json
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from support.clips import make_clip

from mvtimeline import pipeline
from mvtimeline.config import Config
from mvtimeline.errors import InputError
from mvtimeline.generate import get_backend, price
from mvtimeline.workfolder import WorkFolder

SETTINGS = Config(fps=Fraction(12), width=64, height=48, takes=2)


@pytest.fixture(scope="module")
def made(short_song, tmp_path_factory):
    """A procedural work folder with two takes of every segment (read only: copy it to change it)."""
    out = tmp_path_factory.mktemp("price") / "work"
    res = pipeline.run(short_song.audio_path, short_song.lyrics_path, out, SETTINGS)
    return res.project.folder


@pytest.fixture
def work(made, tmp_path) -> WorkFolder:
    """A copy of :func:`made` to change."""
    shutil.copytree(made, tmp_path / "work")
    return WorkFolder.open(tmp_path / "work")


def records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "clips").glob("*/take-*.json"))]


def test_the_rate_is_measured_on_the_clips_the_backend_made(made):
    project = WorkFolder.open(made)
    rate = price.rate_for(project, pipeline.project_backend(project))
    recs = records(made)
    assert len(recs) == 2 * len(project.load_plan().segments)
    assert rate.measured and rate.clips == len(recs) and rate.source == f"measured on {len(recs)} clips"
    frames = sum(r["request"]["n_frames"] for r in recs)
    assert rate.s_per_frame == pytest.approx(sum(r["generate_s"] for r in recs) / frames)
    assert (rate.width, rate.height) == (64, 48)


def test_the_estimate_is_frames_times_the_rate_scaled_by_pixels_and_priced(made):
    project = WorkFolder.open(made)
    plan, analysis = project.load_plan(), project.load_analysis()
    backend = pipeline.project_backend(project)
    reqs = project.clip_requests(plan, analysis, backend)
    rate = price.Rate("procedural", "", 0.25, 64, 48, measured=True, clips=3, source="measured on 3 clips")
    frames = sum(r.n_frames for r in reqs)
    est = price.estimate(reqs, rate)
    assert (est.frames, est.clips, est.cost) == (frames, len(reqs), None)
    assert est.seconds == pytest.approx(frames * 0.25)
    bigger = [dataclasses.replace(r, width=128, height=96) for r in reqs]  # 4x the pixels
    assert price.estimate(bigger, rate).seconds == pytest.approx(4 * frames * 0.25)
    at = price.estimate(reqs, rate, 0.59)
    assert at.cost == pytest.approx(frames * 0.25 / 3600 * 0.59, abs=1e-6)
    assert price.estimate(reqs, rate, 1.18).cost == pytest.approx(2 * at.cost, abs=1e-6)
    assert price.estimate(reqs, rate, 0).cost == 0
    assert "at $0.59/h (measured on 3 clips)" in price.describe(at)


def test_a_bad_price_is_refused_in_one_line(made):
    rate = price.Rate("procedural", "", 0.25, 64, 48)
    with pytest.raises(InputError, match=r"--gpu-price -1 must be 0 or more"):
        price.estimate([], rate, -1)
    with pytest.raises(InputError, match=r"--gpu-price 'cheap' is not a number"):
        price.estimate([], rate, "cheap")


def test_a_backend_that_made_nothing_here_gets_its_stated_default(made):
    project = WorkFolder.open(made)
    other = get_backend("procedural", crf=30)  # another version: none of the folder's clips are its
    rate = price.rate_for(project, other)
    assert not rate.measured and rate.clips == 0
    assert rate.source == "default for procedural until measured"
    assert rate.s_per_frame == price.DEFAULT_RATES[("procedural", "")]["s_per_frame"]


def test_a_bundled_workflow_has_its_own_default_counted_in_its_frames(made):
    project = WorkFolder.open(made)
    wan = get_backend("comfyui", servers=["http://127.0.0.1:9"], workflow="wan22-i2v")  # nothing contacted
    rate = price.rate_for(project, wan)
    assert not rate.measured and "bundled wan22-i2v workflow" in rate.source and "until measured" in rate.source
    assert rate.fps == 16 and (rate.width, rate.height) == (640, 640)
    # 3 s at the project's 12 fps is 36 frames, 48 of the model's 16 fps frames, at the default's size
    req = project.clip_requests(project.load_plan(), project.load_analysis(), wan)[0]
    req = dataclasses.replace(req, n_frames=36, width=640, height=640)
    assert price.estimate([req], rate).seconds == pytest.approx(48 * rate.s_per_frame)
    still = get_backend("comfyui", servers=["http://127.0.0.1:9"], workflow="still")
    assert price.rate_for(project, still).s_per_frame < rate.s_per_frame / 100


def test_reused_and_imported_clips_are_not_measured(work, short_song, tmp_path):
    backend = pipeline.project_backend(work)
    before = price.rate_for(work, backend)
    gen, _ = pipeline.generate(work.folder, takes=2)  # everything from the cache
    assert gen.made == 0 and price.rate_for(work, backend) == before
    seg = work.load_plan().segments[0]
    clip = make_clip(short_song.audio_path, tmp_path / "mine.mp4", start_s=seg.start_s, dur_s=seg.duration_s + 1,
                     size="64x48")
    [row] = pipeline.import_clips(work.folder, [clip], segment=seg.index)
    assert row.take == 3
    imported = [r for r in records(work.folder) if r["backend"]["name"] == "import"]
    assert len(imported) == 1 and imported[0]["generate_s"] > 0  # the time it took to conform: not GPU time
    assert price.rate_for(work, backend) == before
    assert price.spent(work, work.load_plan()).clips == before.clips


def test_a_record_that_made_nothing_is_not_measured(work):
    backend = pipeline.project_backend(work)
    before = price.rate_for(work, backend)
    meta = sorted(work.clips_dir.glob("*/take-1.json"))[0]
    record = json.loads(meta.read_text())
    record["generate_s"] = 0.0
    meta.write_text(json.dumps(record))
    after = price.rate_for(work, backend)
    assert after.clips == before.clips - 1


def test_what_the_clips_took_adds_up_per_segment_and_in_total(made):
    project = WorkFolder.open(made)
    plan = project.load_plan()
    sp = price.spent(project, plan, gpu_price_per_hour=0.59)
    recs = records(made)
    by_segment: dict[int, float] = {}
    for r in recs:
        by_segment[r["request"]["segment_index"]] = by_segment.get(r["request"]["segment_index"], 0) + r["generate_s"]
    assert [s.segment for s in sp.segments] == [s.index for s in plan.segments]
    assert all(s.clips == 2 for s in sp.segments)  # both takes
    assert {s.segment: s.seconds for s in sp.segments} == pytest.approx(by_segment)
    assert sp.seconds == pytest.approx(sum(by_segment.values())) and sp.clips == len(recs)
    assert sp.cost == pytest.approx(sp.seconds / 3600 * 0.59, abs=1e-6)
    assert price.spent(project, plan).cost is None  # no price set
    assert price.spent(project, plan, before=price.made_clips(project)).clips == 0


def test_pending_counts_only_the_chosen_takes_not_in_the_cache(work):
    plan, analysis = work.load_plan(), work.load_analysis()
    backend = pipeline.project_backend(work)
    assert price.pending(work, plan, analysis, backend).clips == 0
    req = work.clip_requests(plan, analysis, backend)[1]
    shutil.rmtree(work.clips_dir / req.key(backend.name, backend.version, backend.model_id))
    est = price.pending(work, plan, analysis, backend, gpu_price_per_hour=2.0)
    rate = price.rate_for(work, backend)
    assert (est.clips, est.frames) == (1, req.n_frames)
    assert est.seconds == pytest.approx(req.n_frames * rate.s_per_frame, rel=1e-6)
    assert est.cost == pytest.approx(est.seconds / 3600 * 2.0, abs=1e-6)
    assert price.pending(work, plan, analysis, backend, takes=[1, 2, 3]).clips == len(plan.segments) + 2


def test_the_price_setting_is_checked_and_kept_in_project_json(work):
    cfg = Config.from_options(base=work.config, gpu_price_per_hour="0.59")
    assert cfg.gpu_price_per_hour == 0.59
    saved = work.with_config(cfg)
    saved.save()
    assert json.loads((work.folder / "project.json").read_text())["gpu_price_per_hour"] == 0.59
    assert WorkFolder.open(work.folder).config.gpu_price_per_hour == 0.59
    assert Config.from_dict(Config().to_dict(work.folder), work.folder).gpu_price_per_hour is None
    with pytest.raises(InputError, match=r"^--gpu-price -0.5 must be 0 or more"):
        Config.from_options(gpu_price_per_hour=-0.5)
