"""Synthesized songs for the tests: a beat, chords and an espeak-ng voice, with the truth about
them (tempo, beat and downbeat times, sung line times), from :func:`mvtimeline.audio.demo.synthesize`.

The session fixtures in ``tests/conftest.py`` make the songs several modules use once per test
process: ``demo_song`` (:data:`DEMO`), ``short_song`` (:data:`SHORT`), ``word_song`` (:data:`WORDS`)
and ``break_song`` (:data:`BREAK`), and ``demo_analysis``, ``word_analysis``, ``break_analysis``.
A test that would change a song's files copies them to its ``tmp_path`` first.

Public: DEMO, SHORT, WORDS, BREAK, synthesize_or_skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

__all__ = ["DEMO", "SHORT", "WORDS", "BREAK", "synthesize_or_skip"]

#: The demo song the most tests use: 2 stanzas at 120 BPM, 2 bars of intro and outro (44.5 s).
DEMO: dict[str, Any] = {"stanzas": 2, "intro_bars": 2, "outro_bars": 2}
#: The shortest song with lyrics: 1 stanza at 120 BPM, 1 bar of intro and outro (22.5 s).
SHORT: dict[str, Any] = {"stanzas": 1, "intro_bars": 1, "outro_bars": 1}
#: The demo song sung word by word, a breath between words (the truth has every word's time).
WORDS: dict[str, Any] = {**DEMO, "word_by_word": True}
#: Four stanzas (the chorus sung twice) and a 20 s instrumental break after the second (100.5 s).
BREAK: dict[str, Any] = {"stanzas": 4, "intro_bars": 2, "outro_bars": 2, "break_bars": {1: 10}}


def synthesize_or_skip(out_dir: Path, **params):
    """:func:`mvtimeline.audio.demo.synthesize` into ``out_dir``, or skip the test when espeak-ng is
    missing. ``params`` are synthesize's keyword arguments."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make deps)")
    from mvtimeline.audio.demo import synthesize

    return synthesize(out_dir, **params)
