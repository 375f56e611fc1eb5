"""The price lines of the CLI (issue 23): ``run --dry-run`` and ``plan`` say how long making what is
missing would take (and cost, with ``--gpu-price``), ``run`` and ``generate`` what the clips took."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from support.cli import CliResult, run_cli

from mvtimeline import pipeline
from mvtimeline.workfolder import WorkFolder

SMALL = ["--size", "64x48", "--fps", "12"]


def mvt(*args) -> CliResult:
    return run_cli(*args, env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def made(short_song, tmp_path_factory):
    """``run --gpu-price 0.59``: its folder and what it printed (read only: copy the folder to change it)."""
    out = tmp_path_factory.mktemp("price-cli") / "work"
    proc = mvt("-q", "run", short_song.audio_path, "--lyrics", short_song.lyrics_path, "-o", out, "--gpu-price",
               "0.59", *SMALL)
    assert proc.returncode == 0, proc.stderr
    return out, proc


@pytest.fixture
def work(made, tmp_path) -> Path:
    shutil.copytree(made[0], tmp_path / "work")
    return tmp_path / "work"


def drop_one_clip(folder: Path) -> int:
    """Delete the chosen take of segment 2 from the cache; its frames."""
    project = WorkFolder.open(folder)
    backend = pipeline.project_backend(project)
    req = project.clip_requests(project.load_plan(), project.load_analysis(), backend)[1]
    shutil.rmtree(project.clips_dir / req.key(backend.name, backend.version, backend.model_id))
    return req.n_frames


def test_run_says_what_its_clips_took_and_cost_and_keeps_the_price(made):
    out, proc = made
    n = len(WorkFolder.open(out).load_plan().segments)
    assert re.search(rf"^this run: {n} clips took (under )?[\d.]+ s of CPU time, "
                     r"(under \$0\.01|\$\d+\.\d\d) at \$0\.59/h$", proc.stdout, re.M), proc.stdout
    assert json.loads((out / "project.json").read_text())["gpu_price_per_hour"] == 0.59


def test_plan_says_how_long_the_missing_takes_would_take(work):
    frames = drop_one_clip(work)
    proc = mvt("plan", work, "--gpu-price", "2.5")
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if "to generate" in ln]
    assert len(line) == 1, proc.stdout
    assert line[0].startswith(f"1 clip to generate ({frames} frames): ") and "of CPU time" in line[0]
    assert "at $2.5/h (measured on" in line[0]
    assert json.loads((work / "project.json").read_text())["gpu_price_per_hour"] == 2.5


def test_plan_with_every_take_made_says_nothing_of_time(made, tmp_path):
    shutil.copytree(made[0], tmp_path / "w")
    proc = mvt("plan", tmp_path / "w")
    assert proc.returncode == 0 and "to generate" not in proc.stdout and "CPU time" not in proc.stdout


def test_generate_says_what_the_new_clip_took(work):
    drop_one_clip(work)
    proc = mvt("-q", "generate", work)
    assert proc.returncode == 0, proc.stderr
    n = len(WorkFolder.open(work).load_plan().segments)
    assert re.search(rf"^this run: 1 clip took (under )?[\d.]+ s of CPU time, .* at \$0\.59/h "
                     rf"\(all {n} clips of the plan: ", proc.stdout, re.M), proc.stdout


def test_a_dry_run_plans_and_prices_but_makes_nothing(short_song, tmp_path):
    out = tmp_path / "work"
    proc = mvt("-q", "run", short_song.audio_path, "--lyrics", short_song.lyrics_path, "-o", out, "--dry-run",
               "--takes", "2", "--gpu-price", "1", *SMALL)
    assert proc.returncode == 0, proc.stderr
    n = len(WorkFolder.open(out).load_plan().segments)
    assert re.search(rf"^dry run: {n} segments; {2 * n} clips to generate \([\d,]+ frames\): "
                     r"(about|under) [\d.]+ s of CPU time, "
                     r"(under \$0\.01|\$\d+\.\d\d) at \$1/h \(default for procedural until measured\)$", proc.stdout,
                     re.M), proc.stdout
    assert not list((out / "clips").glob("*/*.mp4")) and not (out / "demo.kdenlive").exists()


def test_a_dry_run_of_a_made_folder_has_nothing_to_make(made, short_song, tmp_path):
    shutil.copytree(made[0], tmp_path / "w")
    proc = mvt("-q", "run", short_song.audio_path, "--lyrics", short_song.lyrics_path, "-o", tmp_path / "w",
               "--dry-run", *SMALL)
    assert proc.returncode == 0, proc.stderr
    assert "every clip is in the cache, nothing to generate" in proc.stdout


@pytest.mark.parametrize("value, said", [("-1", "--gpu-price -1.0 must be 0 or more"),
                                         ("cheap", "'cheap' is not a valid float")])
def test_a_bad_gpu_price_is_one_line_and_exit_2(made, short_song, tmp_path, value, said):
    shutil.copytree(made[0], tmp_path / "w")
    before = (tmp_path / "w" / "project.json").read_text()
    for args in (["plan", tmp_path / "w"], ["generate", tmp_path / "w"],
                 ["run", short_song.audio_path, "-o", tmp_path / "new", "--dry-run"]):
        proc = mvt(*args, "--gpu-price", value)
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert said in lines[0] and "gpu-price" in lines[0]
    assert (tmp_path / "w" / "project.json").read_text() == before and not (tmp_path / "new").exists()
