"""The command line: bad input is one clear line and exit 2; every command has help and a README entry."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mvtimeline.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    """Run the real console entry point in a subprocess (stderr and exit code as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "mvtimeline.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_every_command_has_help_and_a_readme_entry():
    readme = README.read_text()
    runner = CliRunner()
    for name, command in cli.commands.items():
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0, name
        assert command.help, name
        assert f"mvtimeline {name}" in readme, f"README does not mention 'mvtimeline {name}'"


def test_missing_song_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "out"
    proc = run_cli(["run", tmp_path / "nope.wav", "-o", out])
    assert_one_line_error(proc, "nope.wav", "no such")
    assert not out.exists()


def test_a_text_file_given_as_audio_is_rejected_before_any_output(tmp_path, demo_song):
    fake = tmp_path / "song.mp3"
    fake.write_text("this is not audio\n")
    out = tmp_path / "out"
    proc = run_cli(["run", fake, "--lyrics", demo_song.lyrics_path, "-o", out])
    assert_one_line_error(proc, "song.mp3", "not an audio file")
    assert not out.exists()


def test_empty_lyrics_are_rejected(tmp_path, demo_song):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / "out"
    proc = run_cli(["run", demo_song.audio_path, "--lyrics", empty, "-o", out])
    assert_one_line_error(proc, "empty.txt")
    assert not out.exists()


def test_an_invalid_lrc_time_names_file_and_line(tmp_path, demo_song):
    bad = tmp_path / "bad.lrc"
    bad.write_text("[00:01.00]first line\n[03:61.00]second line\n")
    out = tmp_path / "out"
    proc = run_cli(["run", demo_song.audio_path, "--lyrics", bad, "-o", out])
    assert_one_line_error(proc, "bad.lrc", "line 2", "[03:61.00]")
    assert not out.exists()


def test_an_unwritable_output_folder_is_a_clear_error(tmp_path, demo_song):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli(["run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", blocker / "out"])
    assert_one_line_error(proc, str(blocker / "out"), "cannot create output folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_a_read_only_output_folder_is_a_clear_error(tmp_path, demo_song):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    proc = run_cli(["run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", ro / "out"])
    assert_one_line_error(proc, "ro")


def test_bad_option_values_are_usage_errors(tmp_path, demo_song):
    proc = run_cli(["run", demo_song.audio_path, "--fps", "fast"])
    assert proc.returncode == 2 and "fps" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli(["run", demo_song.audio_path, "--size", "1920by1080"])
    assert proc.returncode == 2 and "WIDTHxHEIGHT" in proc.stderr


def test_unknown_style_lists_the_known_ones(tmp_path, demo_song):
    proc = run_cli(["run", demo_song.audio_path, "--style", "baroque", "-o", tmp_path / "o"])
    assert_one_line_error(proc, "baroque", "cinematic")


def test_unknown_export_format_lists_the_known_ones(tmp_path):
    proc = run_cli(["export", tmp_path, "--format", "mov"])
    assert_one_line_error(proc, "unknown format 'mov'", "known: kdenlive, otio, fcp7, fcpx, edl, srt, ass")


def test_render_of_a_missing_project_is_one_line(tmp_path):
    proc = run_cli(["render", tmp_path / "none.kdenlive"])
    assert_one_line_error(proc, "none.kdenlive")


def test_verbose_adds_the_traceback(tmp_path):
    proc = run_cli(["-v", "run", tmp_path / "nope.wav"])
    assert proc.returncode == 2 and "Traceback" in proc.stderr and re.search(r"nope\.wav", proc.stderr)
