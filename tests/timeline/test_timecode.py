from fractions import Fraction

import numpy as np
import pytest

from mvtimeline.errors import InputError
from mvtimeline.timecode import (KNOWN_FPS, fmt_cue_time, fmt_lrc_time, format_time, frame_to_seconds, is_time_like,
                                  parse_cue_time, parse_fps, parse_lrc_time, seconds_to_frame, segment_frames)
from mvtimeline.types import Plan, Segment

RATES = list(KNOWN_FPS.values())


def _plan(edges):
    segs = tuple(Segment(index=i + 1, start_s=a, end_s=b, section="Verse") for i, (a, b) in
                 enumerate(zip(edges[:-1], edges[1:])))
    return Plan(audio_path="x.wav", duration_s=edges[-1], style="cinematic", dissolve_s=0.5, segments=segs)


@pytest.mark.parametrize("fps", RATES, ids=[str(float(r))[:6] for r in RATES])
def test_segments_tile_the_song_frame_exactly_at_every_rate(fps, rng):
    cuts = list(np.cumsum(rng.uniform(0.5, 9.0, size=60)))  # irregular segments over ~5 minutes
    duration = cuts[-1] + 3.123456
    edges = [0.0, *cuts, duration]
    frames = segment_frames(_plan(edges), fps, head_s=0.3, tail_s=0.3)
    assert frames[0].start_frame == 0
    for a, b in zip(frames[:-1], frames[1:]):
        assert a.end_frame == b.start_frame  # no gap, no overlap
    assert frames[-1].end_frame == seconds_to_frame(duration, fps)  # the last frame is the song's end
    # every boundary comes from its absolute time, so it is within half a frame of it (no drift)
    for t, f in zip(edges, [frames[0].start_frame] + [f.end_frame for f in frames]):
        assert abs(f / fps - Fraction(t)) <= Fraction(1, 2) / fps


@pytest.mark.parametrize("fps", RATES, ids=[str(float(r))[:6] for r in RATES])
def test_summed_durations_would_drift_but_absolute_rounding_does_not(fps):
    # 300 segments of 1.001 s: rounding each duration and summing drifts; rounding absolute times does not
    edges = [i * 1.001 for i in range(301)]
    frames = segment_frames(_plan(edges), fps)
    assert frames[-1].end_frame == seconds_to_frame(edges[-1], fps)
    assert abs(frames[-1].end_frame / fps - Fraction(edges[-1])) <= Fraction(1, 2) / fps


def test_seconds_to_frame_rejects_negative_and_nan():
    with pytest.raises(InputError, match="not a time"):
        seconds_to_frame(-1.0, Fraction(25))
    with pytest.raises(InputError, match="not a time"):
        seconds_to_frame(float("nan"), Fraction(25))


def test_frame_to_seconds_inverts_seconds_to_frame():
    fps = Fraction(30000, 1001)
    for f in (0, 1, 1799, 8991):
        assert seconds_to_frame(frame_to_seconds(f, fps), fps) == f


@pytest.mark.parametrize("text,expected", [("29.97", Fraction(30000, 1001)), ("30000/1001", Fraction(30000, 1001)),
                                           ("23.98", Fraction(24000, 1001)), ("25", Fraction(25))])
def test_parse_fps_maps_ntsc_names_to_exact_fractions(text, expected):
    assert parse_fps(text) == expected


@pytest.mark.parametrize("text", ["fast", "0", "-5", "1/0"])
def test_parse_fps_rejects_nonsense(text):
    with pytest.raises(InputError, match="fps"):
        parse_fps(text)


@pytest.mark.parametrize("t_s", [0.0, 0.01, 59.99, 62.5, 599.42, 3599.99, 3723.25])
def test_lyrics_times_read_back_what_they_write(t_s):
    assert parse_lrc_time(fmt_lrc_time(t_s)) == pytest.approx(t_s, abs=0.005)
    assert parse_cue_time(fmt_cue_time(t_s)) == pytest.approx(t_s, abs=0.0005)
    assert parse_cue_time(fmt_cue_time(t_s, sep=",")) == pytest.approx(t_s, abs=0.0005)


@pytest.mark.parametrize("text", ["03:61.00", "1:2:3:4", "ab:cd", "", "12"])
def test_lrc_times_that_are_not_times_read_as_none(text):
    assert parse_lrc_time(text) is None


def test_time_like_tags_and_picture_times():
    assert is_time_like("03:61.00") and is_time_like("00:12") and not is_time_like("Verse 1: Anna")
    assert [format_time(t) for t in (0.0, 59.999, 83.9, 6000.2)] == ["00:00", "00:59", "01:23", "100:00"]
