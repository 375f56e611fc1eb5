"""The analysis against the truth: tempo, beats, downbeats and where the voice sings, measured on
synthesized songs whose beat grid and sung line times are known exactly (as librosa's own tests
check ``beat_track`` on a click train of a known tempo).

Two songs at different tempi: the demo song (120 BPM, ``demo_song`` in conftest) and a faster one
(140 BPM, another seed) with a 6-bar instrumental break between its stanzas.
"""

from __future__ import annotations

import numpy as np
import pytest

#: A beat (or downbeat) is found when the analysis puts one this close to it (seconds).
HIT_S = 0.05
#: The voice curve may start a little early and end a little late around a sung line (seconds).
VOICE_SLACK_S = 1.0


@pytest.fixture(scope="module")
def fast_song(tmp_path_factory):
    """140 BPM, seed 2, two stanzas with a 6-bar break (about 10 s with no voice) between them."""
    from support.songs import synthesize_or_skip

    return synthesize_or_skip(tmp_path_factory.mktemp("fast"), tempo_bpm=140.0, seed=2, stanzas=2, intro_bars=2,
                              outro_bars=2, break_bars={0: 6})


@pytest.fixture(scope="module")
def fast_analysis(fast_song):
    from mvtimeline.audio import analyze

    return analyze(fast_song.audio_path)


@pytest.fixture(params=["demo", "fast"])
def case(request):
    """(song, its analysis) for each of the two songs."""
    if request.param == "demo":
        return request.getfixturevalue("demo_song"), request.getfixturevalue("demo_analysis")
    return request.getfixturevalue("fast_song"), request.getfixturevalue("fast_analysis")


def hit_rate(found, truth, *, within_s: float = HIT_S) -> float:
    """The share of ``truth`` times that have a ``found`` time within ``within_s`` seconds."""
    found, truth = np.asarray(found, float), np.asarray(truth, float)
    if not truth.size:
        return 1.0
    if not found.size:
        return 0.0
    return float((np.abs(truth[:, None] - found[None, :]).min(axis=1) <= within_s).mean())


def covered_s(spans, start_s: float, end_s: float) -> float:
    """Seconds of [start_s, end_s] inside the union of ``spans`` (which do not overlap)."""
    return sum(max(0.0, min(end_s, b) - max(start_s, a)) for a, b in spans)


# ------------------------------------------------------------------------------------------ the checks
def test_the_checks_can_fail():
    """The measures tell a wrong answer from the right one: a grid half a beat off hits nothing,
    a grid at double tempo finds every beat but half of what it says is wrong."""
    beat_s = 0.5
    truth = np.arange(40) * beat_s
    assert hit_rate(truth + 0.01, truth) == 1.0
    assert hit_rate(truth + beat_s / 2, truth) == 0.0
    double = np.arange(80) * beat_s / 2
    assert hit_rate(double, truth) == 1.0 and hit_rate(truth, double) == 0.5
    assert covered_s([(1.0, 2.0), (3.0, 5.0)], 1.5, 4.0) == pytest.approx(1.5)


# ------------------------------------------------------------------------------------------ tempo, beats
def test_tempo_is_the_songs_within_two_percent(case):
    song, analysis = case
    assert analysis.tempo_bpm == pytest.approx(song.tempo_bpm, rel=0.02)
    assert analysis.duration_s == pytest.approx(song.duration_s, abs=0.05)


def test_beats_fall_on_the_true_grid(case):
    song, analysis = case
    truth = np.array(song.beat_times_s)
    found = np.array(analysis.beat_times_s)
    assert hit_rate(found, truth) >= 0.9  # most true beats are found, each within 50 ms
    inside = found[found <= truth[-1] + HIT_S]  # (the song rings out a beat after the last bar)
    assert hit_rate(truth, inside) >= 0.9  # and nearly every beat found is a true one
    gaps = np.diff(found)
    assert np.median(gaps) == pytest.approx(60.0 / song.tempo_bpm, rel=0.02)


def test_downbeats_are_the_first_beats_of_the_bars(case):
    song, analysis = case
    assert analysis.beats_per_bar == 4
    truth = np.array(song.downbeat_times_s)
    found = np.array(analysis.downbeat_times_s)
    assert hit_rate(found, truth) >= 0.9
    inside = found[found <= truth[-1] + HIT_S]
    assert hit_rate(truth, inside) >= 0.9  # not the second or third beat of the bar


# ------------------------------------------------------------------------------------------ voice
def test_vocal_regions_cover_every_sung_line(case):
    song, analysis = case
    regions = analysis.vocal_regions_s
    sung = sum(ln["end_s"] - ln["start_s"] for ln in song.lines)
    heard = sum(covered_s(regions, ln["start_s"], ln["end_s"]) for ln in song.lines)
    assert heard >= 0.9 * sung
    for ln in song.lines:
        share = covered_s(regions, ln["start_s"], ln["end_s"]) / (ln["end_s"] - ln["start_s"])
        assert share >= 0.8, (ln, regions)


def test_vocal_regions_stay_off_the_instrumental_parts(case):
    """Every region is a sung line (give or take a second); intro, breaks and outro have no voice."""
    song, analysis = case
    lines = song.lines
    for a, b in analysis.vocal_regions_s:
        assert any(ln["start_s"] - VOICE_SLACK_S <= a < ln["end_s"] and ln["start_s"] < b <= ln["end_s"] + VOICE_SLACK_S
                   for ln in lines), ((a, b), [(ln["start_s"], ln["end_s"]) for ln in lines])
    gaps = [(0.0, lines[0]["start_s"])] + [(x["end_s"], y["start_s"]) for x, y in zip(lines, lines[1:])]
    gaps.append((lines[-1]["end_s"], song.duration_s))
    for start_s, end_s in gaps:
        quiet = (start_s + VOICE_SLACK_S, end_s - VOICE_SLACK_S)
        if quiet[1] > quiet[0]:
            assert covered_s(analysis.vocal_regions_s, *quiet) == 0.0, (start_s, end_s)
    voiced = sum(b - a for a, b in analysis.vocal_regions_s)
    assert voiced <= 1.5 * sum(ln["end_s"] - ln["start_s"] for ln in lines)


def test_the_break_has_no_voice(fast_song, fast_analysis):
    """The 6-bar break (about 10 s of drums and chords) between the stanzas is instrumental."""
    first, second = (ln for ln in fast_song.lines[3:5])  # last line of stanza 1, first of stanza 2
    assert second["start_s"] - first["end_s"] > 8.0  # the song has its break where the test expects it
    assert covered_s(fast_analysis.vocal_regions_s, first["end_s"] + VOICE_SLACK_S,
                     second["start_s"] - VOICE_SLACK_S) == 0.0
    assert fast_analysis.curve_at("vocal_activity", (first["end_s"] + second["start_s"]) / 2) < 0.5
