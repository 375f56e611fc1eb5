"""The command line: bad input is one clear line and exit 2; every command has help and a README entry."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.cli import CliResult, run_cli_process
from support.cli import run_cli as _run

from mvtimeline.cli import cli

README = Path(__file__).resolve().parents[2] / "README.md"


def run_cli(args: list) -> CliResult:
    """The console entry point in this process (stderr and exit code as a user sees them)."""
    return _run(*args)


def assert_one_line_error(proc: CliResult, *needles: str) -> None:
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
    """The one real process of this folder: ``python -m mvtimeline`` as a user starts it."""
    out = tmp_path / "out"
    proc = run_cli_process("run", tmp_path / "nope.wav", "-o", out)
    assert_one_line_error(proc, "nope.wav", "no such")
    assert not out.exists()
    assert run_cli(["run", tmp_path / "nope.wav", "-o", out]) == proc  # in this process: the same, to the byte


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


# ------------------------------------------------------------------ one truth: help, README, accepted values
def _help(*args: str) -> str:
    """``--help`` of a command, unwrapped (whitespace runs made one space)."""
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=400, max_content_width=400)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def _listed(help_text: str, before: str, after: str) -> list[str]:
    """The comma-separated names a help text lists between ``before`` and ``after``."""
    m = re.search(re.escape(before) + r"(.*?)" + re.escape(after), help_text)
    assert m, help_text
    return [name.strip() for name in m.group(1).split(",")]


def test_fps_help_and_readme_list_exactly_the_accepted_rates():
    from mvtimeline.timecode import KNOWN_FPS

    rates = list(KNOWN_FPS)
    assert _listed(_help("run"), "Project frame rate: ", ", or a value equal") == rates
    assert _listed(_help("batch"), "Frame rate for every song: ", " (default") == rates
    assert _listed(_help("demo"), "Frame rate: ", " (default") == rates
    readme = " ".join(README.read_text().split())
    assert _listed(readme, "`--fps 30` (one of ", "; or a value equal") == rates


def test_an_unlisted_fps_is_refused_in_one_line(tmp_path):
    for rate in ("26", "7"):
        proc = run_cli(["run", tmp_path / "song.wav", "--fps", rate, "-o", tmp_path / "out"])
        assert_one_line_error(proc, f"'{rate}'", "--fps", "12, 15, 16, 23.976, 24, 25, 29.97, 30, 50, 59.94, 60")
    proc = run_cli(["batch", tmp_path, "-o", tmp_path / "out", "--fps", "10"])
    assert_one_line_error(proc, "'10'", "23.976")
    assert not (tmp_path / "out").exists()


def test_a_rational_equal_to_a_listed_rate_is_accepted():
    from fractions import Fraction

    from mvtimeline.cli import FPS
    from mvtimeline.timecode import parse_fps

    assert FPS.convert("30000/1001", None, None) == Fraction(30000, 1001)
    assert parse_fps("60/1") == Fraction(60) and parse_fps("24.0") == Fraction(24)
    assert parse_fps("23.98") == Fraction(24000, 1001)


def test_lyrics_format_is_checked_and_listed_on_every_command_that_takes_it():
    from mvtimeline.cli import NameType
    from mvtimeline.lyrics.formats import FORMATS, format_names

    takers = {name: cmd for name, cmd in cli.commands.items()
              if any(p.name == "lyrics_format" for p in cmd.params)}
    assert set(takers) == {"run", "align"}
    readable = [f.name for f in FORMATS.values() if f.readable]
    for name, cmd in takers.items():
        param = next(p for p in cmd.params if p.name == "lyrics_format")
        assert isinstance(param.type, NameType) and param.type.table == format_names(readable=True)
        listing = ", ".join(_listed(_help(name), "in this format: ", " (default: by its suffix)"))
        assert re.sub(r" \(or [^)]*\)", "", listing).split(", ") == readable, name  # the formats...
        aliases = re.findall(r"\(or ([^)]*)\)", listing)  # ... and the other names they take
        assert set(readable) | {a for group in aliases for a in group.split(", ")} == set(format_names()), name
        assert param.type.convert("TXT", param, None) == "plain"
    proc = run_cli(["align", "song.wav", "words.txt", "-o", "x.lrc", "--lyrics-format", "docx"])
    assert_one_line_error(proc, "unknown lyrics format 'docx'", "plain (or txt, text), lrc")


def test_backend_preset_and_export_format_help_come_from_their_tables():
    from mvtimeline.generate.backends.registry import known_backends
    from mvtimeline.render.presets import list_presets
    from mvtimeline.timeline.export import FORMATS as EXPORT_FORMATS

    assert _listed(_help("run"), "Clip backend: ", " (default procedural") == list(known_backends())
    assert "loop" in known_backends()
    for command in ("run", "render", "batch"):
        assert _listed(_help(command), "Render preset" + (" for every song" if command == "batch" else "") + ": ",
                       ", or a preset .toml file") == list_presets(), command
    assert _listed(_help("export"), "Formats to write: ", " (repeatable") == list(EXPORT_FORMATS)
    proc = run_cli(["run", "song.wav", "--backend", "wan"])
    assert_one_line_error(proc, "unknown backend 'wan'", "procedural, loop, diffusers, comfyui")


def test_render_help_states_its_default():
    assert "Also render NAME.mp4 with melt (default --no-render" in _help("run")


def test_global_flags_also_after_the_command(tmp_path):
    proc = run_cli(["run", tmp_path / "nope.wav", "-v"])
    assert proc.returncode == 2 and "Traceback" in proc.stderr and "No such option" not in proc.stderr
    assert "no such audio file" in proc.stderr.splitlines()[-1]
    proc = run_cli(["run", tmp_path / "nope.wav", "-q"])
    assert_one_line_error(proc, "nope.wav")
    result = CliRunner().invoke(cli, ["pick", str(tmp_path), "1", "1", "--verbose", "--quiet"])
    assert "No such option" not in result.output


def test_a_usage_error_is_one_line_and_exit_2(tmp_path):
    proc = run_cli(["run", tmp_path / "song.wav", "--foo"])
    assert proc.returncode == 2
    assert proc.stderr == "mvtimeline run: error: no such option --foo (see mvtimeline run --help)\n"
    proc = run_cli(["run"])
    assert proc.returncode == 2
    assert proc.stderr == "mvtimeline run: error: missing argument 'SONG' (see mvtimeline run --help)\n"
    assert_one_line_error(run_cli(["--foo", "run"]), "mvtimeline: error: no such option --foo")
    assert_one_line_error(run_cli(["nosuch"]), "mvtimeline: error: no such command 'nosuch'")
    proc = run_cli(["run", "--help"])
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: mvtimeline run [OPTIONS] SONG")


def test_counts_are_printed_in_the_right_number():
    from mvtimeline.cli import _plural

    assert [_plural(n, "section") for n in (0, 1, 2)] == ["0 sections", "1 section", "2 sections"]
    source = (Path(__file__).resolve().parents[2] / "mvtimeline" / "cli.py").read_text()
    assert not re.findall(r".*[a-z]\(s\).*", source)  # "clip(s)": use _plural
