"""Runs that survive faults: kill -9 and re-run, truncated clips, Ctrl-C, a full disk.

A run that is killed or interrupted is a real process (``CMD``); the runs around it go through
``run_cli`` in this process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.cli import run_cli

from mvtimeline.generate import probe_video

CMD = [sys.executable, "-m", "mvtimeline.cli", "-q"]


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen([*CMD, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _finished_clips(folder: Path) -> list[Path]:
    return sorted((folder / "clips").glob("*/take-*.json"))


def _wait_for(predicate, proc: subprocess.Popen, timeout_s: float = 300.0) -> None:
    t0 = time.monotonic()
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before the fault could be injected: {proc.stderr.read()}")
        if time.monotonic() - t0 > timeout_s:
            proc.kill()
            pytest.fail("timed out waiting for the run to get going")
        time.sleep(0.05)


def _made(stdout: str) -> tuple[int, int]:
    m = re.search(r"(\d+) clips? made, (\d+) from the cache", stdout)
    assert m, stdout
    return int(m.group(1)), int(m.group(2))


def test_kill_during_generate_then_rerun_redoes_nothing_finished(demo_song, tmp_path):
    out = tmp_path / "work"
    args = ["run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", out, "--size", "64x48",
            "--fps", "12"]
    proc = _start(*args)
    _wait_for(lambda: len(_finished_clips(out)) >= 2, proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _finished_clips(out)
    for meta in finished:  # everything under a valid name is whole
        record = json.loads(meta.read_text())
        info = probe_video(meta.with_suffix(".mp4"))
        assert info["frames"] == record["request"]["n_frames"]
    again = run_cli("-q", *args)
    assert again.returncode == 0, again.stderr
    made, cached = _made(again.stdout)
    assert cached == len(finished) and made + cached == len(json.loads((out / "plan.json").read_text())["segments"])


def test_a_truncated_clip_in_the_cache_is_detected_and_made_again(short_song, tmp_path):
    out = tmp_path / "work"
    args = ["run", short_song.audio_path, "--lyrics", short_song.lyrics_path, "-o", out, "--size", "64x48",
            "--fps", "12"]
    run_cli("-q", *args, check=True)
    victim = _finished_clips(out)[1].with_suffix(".mp4")
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    again = run_cli("-q", *args)
    assert again.returncode == 0, again.stderr
    made, _ = _made(again.stdout)
    assert made == 1
    assert victim.stat().st_size > len(data) // 2 and probe_video(victim)["frames"] > 0


def test_kill_during_render_leaves_no_half_file_under_the_final_name(short_song, tmp_path):
    out = tmp_path / "work"
    run_cli("-q", "run", short_song.audio_path, "--lyrics", short_song.lyrics_path, "-o", out, "--size", "320x180",
            "--fps", "25", check=True)
    final = out / "demo.mp4"
    proc = _start("render", out / "demo.kdenlive", "-o", final)
    _wait_for(lambda: any(p.stat().st_size > 0 for p in out.glob(".demo.*.part.mp4")), proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not final.exists()
    again = run_cli("-q", "render", out / "demo.kdenlive", "-o", final)
    assert again.returncode == 0, again.stderr
    assert probe_video(final)["frames"] > 0


def test_ctrl_c_exits_130_with_one_line_on_how_to_resume(demo_song, tmp_path):
    """Ctrl-C after the first clip: the demo song's 21 clips at 320x180 leave the run most of its work to do
    (a shorter job can finish before the signal arrives)."""
    out = tmp_path / "work"
    proc = _start("run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", out, "--size", "320x180")
    _wait_for(lambda: len(_finished_clips(out)) >= 1, proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "run the same command again to resume" in lines[0] and "Traceback" not in stderr


@pytest.fixture
def tiny_disk(tmp_path):
    """A 9 MB tmpfs: room for the song, not for everything after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=9M", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


def test_a_full_disk_is_one_clear_line_and_no_half_files(demo_song, tiny_disk):
    out = tiny_disk / "work"
    (tiny_disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024))  # the song (7.8 MB) no longer fits
    proc = run_cli("-q", "run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", out, "--size", "160x90")
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0] and "Traceback" not in proc.stderr
    assert not list(out.glob("*.part*")) and not (out / "demo.wav").exists()
