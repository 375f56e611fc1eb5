from fractions import Fraction

import numpy as np
import pytest

from mvtimeline.errors import InputError
from mvtimeline.timecode import KNOWN_FPS, frame_to_seconds, parse_fps, seconds_to_frame, segment_frames
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
