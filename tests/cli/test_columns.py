"""Every table the CLI prints fits an 80-column terminal, cuts no path, and warnings are printed
above the live progress bars, not inside them (issue 21, item 6)."""

from __future__ import annotations

import io
import logging

import pytest

from mvtimeline.batch import Outcome
from mvtimeline.cli import batch_lines, doctor_lines, plan_rows
from mvtimeline.types import Check
from mvtimeline.plan import summary
from mvtimeline.types import Plan, Segment

LONG = "/home/someone/Music/videos/2026/15-30_Explosive_Ear_Candy_-_Like_The_Sun/15-30_Explosive_Ear_Candy.mp4"


def _plan(n: int = 12) -> Plan:
    segs = []
    t = 0.0
    for i in range(1, n + 1):
        lines = ("and every little word we sang that summer in the rain", "is gone, my love, is gone") if i % 3 else ()
        segs.append(Segment(index=i, start_s=t, end_s=t + 7.25, section="Pre-Chorus 2" if i % 2 else "Instrumental",
                            lines=lines, cut="phrase (8 bars)" if i % 2 else "model length", chunks=2))
        t += 7.25
    return Plan(audio_path="song.wav", duration_s=t, style="cinematic", dissolve_s=0.5, segments=tuple(segs))


def _fits(lines: list[str], width: int = 80) -> None:
    for line in lines:
        for row in line.split("\n"):
            assert len(row) <= width, f"{len(row)} columns: {row!r}"


def test_plan_list_fits_80_columns_with_a_header():
    rows = plan_rows(_plan(), width=80)
    _fits(rows)
    assert rows[0].split()[:3] == ["#", "start", "end"] and "lyrics" in rows[0]
    assert len(rows) == 13
    verbose = plan_rows(_plan(), width=80, verbose=True)
    _fits(verbose)
    assert any("is gone, my love, is gone" in r for r in verbose)  # -v: every lyric line whole
    _fits(summary(_plan()))


def test_batch_summary_fits_80_columns_and_prints_each_path_whole():
    outcomes = [Outcome("15-30_Explosive_Ear_Candy_-_Like_The_Sun_and_a_very_long_name", "done", output=LONG,
                        elapsed_s=812.3),
                Outcome("broken", "failed", error="broken.mp3: cannot decode the song (ffmpeg: invalid data)",
                        elapsed_s=0.4)]
    lines = batch_lines(outcomes, width=80)
    rows = [ln for ln in lines if not ln.startswith("    ")]
    _fits(rows)
    assert lines[0] == "2 songs: 1 ok, 1 failed"
    assert f"    {LONG}" in lines  # whole, on its own line (the terminal wraps it)
    assert any(ln.strip().startswith("broken.mp3: cannot decode") for ln in lines)


def test_doctor_columns_line_up_and_long_details_wrap_without_cutting():
    detail = ("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers built with gcc 12 "
              "(Debian 12.2.0-14) configuration: --prefix=/usr --extra-version=0+deb12u1")
    rows = [Check("aligner", "ok", "Whisper base"), Check("ffmpeg", "ok", detail),
            Check("torch", "missing", "not installed: pip install 'mvtimeline[diffusers]'"),
            Check("comfyui", "error", "http://127.0.0.1:8188: connection refused")]
    lines = doctor_lines(rows, width=80)
    _fits(lines)
    starts = {ln.split("\n")[0].index(r.name) for ln, r in zip(lines, rows)}
    assert starts == {8}  # the columns line up
    assert all(ln[23:].startswith(r.detail.split()[0]) and ln[22] == " " for ln, r in zip(lines, rows))
    assert " ".join(" ".join(lines[1].split("\n")).split()[2:]) == " ".join(detail.split())  # nothing cut


def test_a_warning_is_printed_above_the_live_progress(monkeypatch):
    from rich.console import Console

    from mvtimeline import cli as cli_mod
    from mvtimeline.progress import Progress

    buf = io.StringIO()
    con = Console(file=buf, width=80, force_terminal=True, color_system=None)
    monkeypatch.setattr(cli_mod, "_STDERR", con)
    cli_mod._setup_logging(False)
    try:
        with cli_mod.Reporter(con) as rep:
            rep(Progress("analyze", 0.5, 1.0))
            logging.getLogger("mvtimeline.test").warning("a warning of some length that says what went wrong "
                                                         "and what to do about it, wrapped at eighty")
            rep(Progress("analyze", 1.0, 1.0))
    finally:
        logging.getLogger().handlers = [h for h in logging.getLogger().handlers
                                        if not isinstance(h, cli_mod._ConsoleHandler)]
    text = buf.getvalue()
    import re

    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert "WARNING mvtimeline.test: a warning" in plain and "wrapped at eighty" in plain
    for row in plain.replace("\r", "\n").split("\n"):
        assert len(row) <= 80, row
        assert not ("WARNING" in row and "analyze" in row)  # not mixed into a progress row


@pytest.mark.parametrize("width", [80])
def test_the_progress_bars_fit(width):
    from rich.console import Console

    from mvtimeline import cli as cli_mod
    from mvtimeline.progress import Progress

    buf = io.StringIO()
    con = Console(file=buf, width=width, force_terminal=True, color_system=None)
    with cli_mod.Reporter(con) as rep:
        rep(Progress("a stage with a rather long name indeed", 0.3, 1.0))
        rep(Progress("clip", 0.5, 1.0, item="12 Chorus take 2"))
    import re

    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())
    assert all(len(r) <= width for r in plain.replace("\r", "\n").split("\n"))


def test_doctor_checks_are_data_and_the_ffmpeg_line_is_whole():
    import shutil

    from mvtimeline.doctor import checks

    rows = checks()
    names = [r.name for r in rows]
    assert names[0] == "aligner" and {"torch", "ffmpeg", "melt", "kdenlive"} <= set(names)
    assert all(r.status in ("ok", "missing", "error") for r in rows)
    if shutil.which("ffmpeg"):
        ffmpeg = next(r for r in rows if r.name == "ffmpeg")
        assert ffmpeg.status == "ok" and ffmpeg.detail.split(": ", 1)[1].startswith("ffmpeg version ")
        assert not ffmpeg.detail.endswith(("the F", "…"))  # the version, not a cut banner
    gone = checks(comfyui_servers=["http://127.0.0.1:9"])
    assert any(r.status == "error" and "127.0.0.1:9" in r.detail for r in gone)


def test_quiet_prints_errors_only_and_leaves_the_loggers_alone(monkeypatch):
    from rich.console import Console

    from mvtimeline import cli as cli_mod

    buf = io.StringIO()
    monkeypatch.setattr(cli_mod, "_STDERR", Console(file=buf, width=80, color_system=None))
    try:
        cli_mod._setup_logging(False, True)
        log = logging.getLogger("mvtimeline.test")
        log.warning("a warning -q hides")
        log.error("an error it shows")
        assert "a warning" not in buf.getvalue() and "an error it shows" in buf.getvalue()
        assert logging.getLogger().getEffectiveLevel() == logging.WARNING  # other handlers still hear warnings
    finally:
        logging.getLogger().handlers = [h for h in logging.getLogger().handlers
                                        if not isinstance(h, cli_mod._ConsoleHandler)]
