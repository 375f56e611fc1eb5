import dataclasses
import json

import numpy as np
import pytest

from mvtimeline import plan as planner
from mvtimeline.errors import InputError, SchemaVersionError
from mvtimeline.types import Line, Lyrics, Plan



def truth(song) -> dict:
    return {"lines": list(song.lines), "beat_times_s": list(song.beat_times_s)}


def _timed_lyrics(song) -> Lyrics:
    lines = tuple(Line(text=ln["text"], section=ln["section"], start_s=ln["start_s"], end_s=ln["end_s"],
                       source="file", confidence=1.0) for ln in truth(song)["lines"])
    return Lyrics(path="demo.lrc", format="lrc", lines=lines)


def _assert_cuts_on_beats_outside_lines(p: Plan, song, *, tolerance_s=0.05):
    t = truth(song)
    beats = np.asarray(t["beat_times_s"])
    cuts = [s.start_s for s in p.segments[1:]]
    assert cuts, "the song should be cut at least once"
    for c in cuts:
        assert np.min(np.abs(beats - c)) <= tolerance_s, f"cut at {c:.3f} s is not on a beat"
        for line in t["lines"]:
            assert not (line["start_s"] < c < line["end_s"]), f"cut at {c:.3f} s is inside {line['text']!r}"


def test_cuts_fall_on_beats_inside_vocal_gaps_with_timed_lyrics(demo_song, demo_analysis):
    p = planner.build(_timed_lyrics(demo_song), demo_analysis, style="cinematic", max_s=8.0, title="demo")
    _assert_cuts_on_beats_outside_lines(p, demo_song)
    assert all(s.duration_s <= 8.0 + 1e-6 for s in p.segments)
    beat_s = 60 / demo_analysis.tempo_bpm
    assert all(s.duration_s >= beat_s - 1e-6 for s in p.segments)


def test_cuts_avoid_singing_even_with_untimed_lyrics(demo_song, demo_analysis):
    from mvtimeline import lyrics

    read = lyrics.read(demo_song.lyrics_path)
    placed = lyrics.place(read, vocal_regions_s=demo_analysis.vocal_regions_s, duration_s=demo_analysis.duration_s)
    p = planner.build(placed, demo_analysis, style="neon", max_s=10.0, title="demo")
    _assert_cuts_on_beats_outside_lines(p, demo_song)


def test_segments_cover_the_song_exactly(demo_song, demo_analysis):
    p = planner.build(_timed_lyrics(demo_song), demo_analysis, style="anime", max_s=6.0, title="demo")
    assert p.segments[0].start_s == 0.0
    assert p.segments[-1].end_s == pytest.approx(demo_analysis.duration_s, abs=1e-6)
    for a, b in zip(p.segments[:-1], p.segments[1:]):
        assert a.end_s == b.start_s


def test_intro_and_outro_are_segments_of_their_own(demo_song, demo_analysis):
    p = planner.build(_timed_lyrics(demo_song), demo_analysis, style="cinematic", max_s=20.0, title="demo")
    t = truth(demo_song)
    assert p.segments[0].section == "Intro" and p.segments[0].lines == ()
    assert p.segments[0].end_s <= t["lines"][0]["start_s"]
    assert p.segments[-1].section == "Outro" and p.segments[-1].lines == ()
    assert p.segments[-1].start_s >= t["lines"][-1]["end_s"]


def test_segments_carry_sections_lines_and_prompts_from_the_style(demo_song, demo_analysis):
    p = planner.build(_timed_lyrics(demo_song), demo_analysis, style="cinematic", max_s=8.0, title="demo")
    chorus = [s for s in p.segments if s.section == "Chorus"]
    assert chorus and all(s.lines for s in chorus)
    first = chorus[0]
    assert first.lines[0] in first.image_prompt
    assert "chorus" in first.image_prompt and "euphoric" in first.image_prompt
    assert "BPM" in first.motion_prompt
    others = [s for s in p.segments if s.section != "Chorus"]
    assert len({s.seed for s in others}) == len(others)


def test_replan_keeps_the_users_edited_prompts_and_seeds(demo_song, demo_analysis, tmp_path):
    lyr = _timed_lyrics(demo_song)
    p = planner.build(lyr, demo_analysis, style="cinematic", max_s=8.0, title="demo")
    seg = p.segments[2]
    edited = dataclasses.replace(seg, image_prompt="a red fox in the snow", seed=42)
    p2 = dataclasses.replace(p, segments=p.segments[:2] + (edited,) + p.segments[3:])
    path = p2.save(tmp_path / "plan.json")
    again = planner.build(lyr, demo_analysis, style="neon", max_s=8.0, title="demo", previous=Plan.load(path))
    kept = again.segments[2]
    assert kept.image_prompt == "a red fox in the snow" and kept.seed == 42
    assert "synthwave" in again.segments[3].image_prompt  # unedited prompts follow the new style


def test_plan_round_trips_through_json(demo_song, demo_analysis, tmp_path):
    p = planner.build(_timed_lyrics(demo_song), demo_analysis, style="cinematic", max_s=8.0, title="demo")
    assert Plan.load(p.save(tmp_path / "plan.json")) == p


def test_plan_with_unknown_schema_is_rejected(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"kind": "plan", "schema": 99, "segments": []}))
    with pytest.raises(SchemaVersionError, match="schema 99 is not supported"):
        Plan.load(path)


def test_a_hand_edited_plan_with_a_gap_is_rejected(demo_song, demo_analysis):
    p = planner.build(_timed_lyrics(demo_song), demo_analysis, style="cinematic", max_s=8.0, title="demo")
    broken = dataclasses.replace(p.segments[1], end_s=p.segments[1].end_s - 0.5)
    bad = dataclasses.replace(p, segments=p.segments[:1] + (broken,) + p.segments[2:])
    with pytest.raises(InputError, match="gap or overlap"):
        planner.validate(bad, max_s=8.0)


def test_unknown_style_lists_the_known_ones():
    with pytest.raises(InputError, match="known: anime, cinematic, neon, watercolor"):
        planner.load_style("baroque")


def test_templates_run_in_a_sandbox(tmp_path):
    evil = tmp_path / "evil.toml"
    evil.write_text('image = "{{ lyrics.__class__.__mro__[1].__subclasses__() }}"\nmotion = "x"\n')
    style = planner.load_style(evil)
    from mvtimeline.plan.prompts import render_prompts

    with pytest.raises(InputError, match="evil.toml"):
        render_prompts(style, {"lyrics": "hi", "section": "Verse", "seed": 1})
