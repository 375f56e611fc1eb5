"""Shared fixtures: synthesized songs with known timings (espeak-ng voice over a beat and chords)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest


def pytest_configure(config):
    """Compile numba's code once before the test processes use it: xdist workers (and the CLI
    subprocesses the tests start) compiling the same function at once can corrupt numba's cache."""
    import fcntl
    import tempfile

    lock = Path(tempfile.gettempdir()) / "mvtimeline-numba-warmup.lock"
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            from mvtimeline.warmup import warm_up

            warm_up()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pytest_collection_modifyitems(config, items):
    # the slow end-to-end and real-Kdenlive tests share xdist groups so two heavy ones never run at once
    for item in items:
        if item.get_closest_marker("kdenlive"):
            item.add_marker(pytest.mark.xdist_group("kdenlive"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def demo_song(tmp_path_factory):
    """A 2-stanza synthesized song at 120 BPM: ``DemoSong`` with its truth (beats, line times)."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make deps)")
    from mvtimeline.audio.demo import synthesize

    return synthesize(tmp_path_factory.mktemp("demo"), stanzas=2, intro_bars=2, outro_bars=2)


@pytest.fixture(scope="session")
def demo_analysis(demo_song):
    from mvtimeline.audio import analyze

    return analyze(demo_song.audio_path)


@pytest.fixture(scope="session")
def demo_lrc(demo_song, tmp_path_factory) -> Path:
    """An LRC of the demo song with its true line times."""
    out = tmp_path_factory.mktemp("lrc") / "demo.lrc"
    rows = []
    for line in demo_song.lines:
        m, s = divmod(line["start_s"], 60)
        rows.append(f"[{int(m):02d}:{s:05.2f}]{line['text']}")
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out
