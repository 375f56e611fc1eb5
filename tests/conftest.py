"""Shared fixtures: synthesized songs with known timings (espeak-ng voice over a beat and chords),
their analysis, and an LRC of the demo song. What they are built from lives in ``tests/support/``.

Session fixtures are made once per test process (each xdist worker has its own); a test must not
change what they give (copy the files to ``tmp_path`` first).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.songs import BREAK, DEMO, SHORT, WORDS, synthesize_or_skip


def pytest_configure(config):
    """Compile numba's code once before the test processes use it: xdist workers (and the CLI
    subprocesses the tests start) compiling the same function at once can corrupt numba's cache."""
    import fcntl
    import tempfile

    lock = Path(tempfile.gettempdir()) / "mvtimeline-numba-warmup.lock"
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            from mvtimeline.doctor import warm_up

            warm_up()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which turns xdist_group marks into groups
def pytest_collection_modifyitems(config, items):
    # the real-Kdenlive tests share an xdist group so two of them never run at once
    for item in items:
        if item.get_closest_marker("kdenlive"):
            item.add_marker(pytest.mark.xdist_group("kdenlive"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def demo_song(tmp_path_factory):
    """A 2-stanza synthesized song at 120 BPM: ``DemoSong`` with its truth (beats, line times)."""
    return synthesize_or_skip(tmp_path_factory.mktemp("demo"), **DEMO)


@pytest.fixture(scope="session")
def short_song(tmp_path_factory):
    """The shortest song with lyrics (1 stanza at 120 BPM, 22.5 s), named ``demo``: ``DemoSong``."""
    return synthesize_or_skip(tmp_path_factory.mktemp("short"), **SHORT)


@pytest.fixture(scope="session")
def word_song(tmp_path_factory):
    """The demo song sung word by word (``DemoSong`` whose lines have ``"words"`` with their times)."""
    return synthesize_or_skip(tmp_path_factory.mktemp("words"), **WORDS)


@pytest.fixture(scope="session")
def break_song(tmp_path_factory):
    """Four stanzas, the chorus sung twice, a 20 s instrumental break after the second (``DemoSong``)."""
    return synthesize_or_skip(tmp_path_factory.mktemp("break"), **BREAK)


@pytest.fixture(scope="session")
def demo_analysis(demo_song):
    """``audio.analyze`` of ``demo_song`` (an ``Analysis``; frozen, so shared as it is)."""
    from mvtimeline.audio import analyze

    return analyze(demo_song.audio_path)


@pytest.fixture(scope="session")
def word_analysis(word_song):
    """``audio.analyze`` of ``word_song``."""
    from mvtimeline.audio import analyze

    return analyze(word_song.audio_path)


@pytest.fixture(scope="session")
def break_analysis(break_song):
    """``audio.analyze`` of ``break_song``."""
    from mvtimeline.audio import analyze

    return analyze(break_song.audio_path)


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
