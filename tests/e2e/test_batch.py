"""Batch: several songs, one broken; failures are contained, finished songs are skipped on a re-run."""

from __future__ import annotations

import json
import shutil

import pytest
from support.cli import CliResult, run_cli
from support.songs import SHORT, synthesize_or_skip

from mvtimeline.batch import discover
from mvtimeline.errors import InputError


@pytest.fixture(scope="module")
def song_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("songs")
    for name, tempo in (("alpha", 110.0), ("beta", 128.0), ("gamma", 96.0)):
        s = synthesize_or_skip(folder / "src", name=name, tempo_bpm=tempo, **SHORT)
        shutil.copy(s.audio_path, folder / f"{name}.wav")
        shutil.copy(s.lyrics_path, folder / f"{name}.txt")
    (folder / "beta.txt").unlink()
    (folder / "beta.lrc").write_text("[00:01.00]fine line\n[03:61.00]broken time\n", encoding="utf-8")
    shutil.rmtree(folder / "src")
    return folder


def _batch(*args) -> CliResult:
    return run_cli("-q", "batch", *args)


def test_batch_renders_the_good_songs_reports_the_broken_one_and_skips_finished_songs(song_folder, tmp_path):
    out = tmp_path / "out"
    common = ["--size", "160x90", "--fps", "25", "--json"]
    first = _batch(song_folder, "-o", out, "--jobs", "2", *common)
    assert first.returncode == 1, first.stderr
    outcomes = {o["name"]: o for o in json.loads(first.stdout)}
    assert outcomes["alpha"]["status"] == outcomes["gamma"]["status"] == "done"
    assert outcomes["beta"]["status"] == "failed"
    assert "beta.lrc line 2" in outcomes["beta"]["error"] and "[03:61.00]" in outcomes["beta"]["error"]
    for name in ("alpha", "gamma"):
        assert (out / name / f"{name}.kdenlive").is_file()
        assert (out / name / f"{name}.mp4").stat().st_size > 0
    mtime = (out / "alpha" / "alpha.mp4").stat().st_mtime_ns

    second = _batch(song_folder, "-o", out, "--jobs", "1", *common)
    assert second.returncode == 1
    again = {o["name"]: o["status"] for o in json.loads(second.stdout)}
    assert again == {"alpha": "skipped", "beta": "failed", "gamma": "skipped"}
    assert (out / "alpha" / "alpha.mp4").stat().st_mtime_ns == mtime


def test_a_manifest_names_songs_and_settings(song_folder, tmp_path):
    manifest = tmp_path / "batch.toml"
    manifest.write_text(f'''
[defaults]
style = "neon"
[[song]]
name = "first"
song = "{song_folder / 'alpha.wav'}"
lyrics = "{song_folder / 'alpha.txt'}"
preset = "preview"
''', encoding="utf-8")
    (item,) = discover(manifest)
    assert item.name == "first" and item.lyrics.name == "alpha.txt"
    assert item.settings == {"style": "neon", "preset": "preview"}


def test_a_manifest_with_an_unknown_key_is_refused(tmp_path):
    manifest = tmp_path / "batch.toml"
    manifest.write_text('[[song]]\nsong = "a.wav"\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(InputError, match="song 1: unknown key 'colour'"):
        discover(manifest)


def test_an_empty_folder_is_a_clear_error(tmp_path):
    proc = _batch(tmp_path, "-o", tmp_path / "out")
    assert proc.returncode == 2 and "no songs found" in proc.stderr and "Traceback" not in proc.stderr
