"""Hand changes to a plan (the review page's edits): a moved cut lands only in a gap between words or
lines and keeps the song covered; edits are checked and kept by re-plans."""

import dataclasses

import pytest

from mvtimeline import plan as planner
from mvtimeline.errors import InputError
from mvtimeline.plan.edit import cut_choices, edit_segment, move_cut
from mvtimeline.types import Line, Lyrics, Word


def _word_lyrics(song) -> Lyrics:
    lines = tuple(Line(text=ln["text"], section=ln["section"], start_s=ln["start_s"], end_s=ln["end_s"],
                       words=tuple(Word(w["text"], w["start_s"], w["end_s"]) for w in ln["words"]),
                       source="file", confidence=1.0) for ln in song.lines)
    return Lyrics(path="song.elrc", format="elrc", lines=lines)


@pytest.fixture(scope="module")
def planned(word_song, word_analysis):
    lyrics = _word_lyrics(word_song)
    plan = planner.build(lyrics, word_analysis, style="cinematic", max_s=8.0, title="song")
    return plan, lyrics


def _inside_a_word(t: float, song) -> bool:
    return any(w["start_s"] + 0.02 < t < w["end_s"] - 0.02 for ln in song.lines for w in ln["words"])


def test_every_choice_is_a_gap_and_a_moved_cut_snaps_to_the_nearest(planned, word_song, word_analysis):
    plan, lyrics = planned
    moved_any = False
    for seg in plan.segments[1:]:
        choices = cut_choices(plan, word_analysis, lyrics.lines, seg.index, min_s=1.0)
        for c in choices:
            assert not _inside_a_word(c.time_s, word_song), (seg.index, c)
            assert c.reason in ("word gap", "between lines")
        for want in (seg.start_s - 0.9, seg.start_s + 0.7, 0.0, 1e6):
            if not choices:
                continue
            new, cut, invalid = move_cut(plan, word_analysis, lyrics.lines, seg.index, want, min_s=1.0)
            assert cut.time_s == min((c.time_s for c in choices), key=lambda t: abs(t - want))
            assert not _inside_a_word(cut.time_s, word_song)
            k = seg.index - 1
            assert new.segments[k - 1].end_s == new.segments[k].start_s == pytest.approx(cut.time_s)
            planner.validate(new, max_s=None)  # still covering the song exactly
            assert new.segments[k].duration_s >= 1.0 and new.segments[k - 1].duration_s >= 1.0
            if invalid:
                moved_any = True
                assert invalid == [seg.index - 1, seg.index]
                assert new.segments[k].seed == seg.seed  # the segments keep their seeds and edits
                others = [s for s in new.segments if s.index not in invalid]
                assert others == [s for s in plan.segments if s.index not in invalid]
    assert moved_any


def test_a_moved_cut_carries_the_lyrics_of_its_new_bounds(planned, word_analysis):
    plan, lyrics = planned
    seg = next(s for s in plan.segments[1:] if s.lines)
    choices = cut_choices(plan, word_analysis, lyrics.lines, seg.index, min_s=1.0)
    later = [c for c in choices if c.time_s > seg.start_s + 0.3]
    if not later:
        pytest.skip("no later gap in this plan")
    new, cut, _ = move_cut(plan, word_analysis, lyrics.lines, seg.index, later[-1].time_s, min_s=1.0)
    moved = new.segments[seg.index - 1]
    for text in moved.lines:
        ln = next(x for x in lyrics.lines if x.text == text)
        assert ln.end_s > cut.time_s


def test_the_first_segment_has_no_cut_to_move(planned, word_analysis):
    plan, lyrics = planned
    with pytest.raises(InputError, match="segment 1 starts the song"):
        move_cut(plan, word_analysis, lyrics.lines, 1, 3.0, min_s=1.0)
    with pytest.raises(InputError, match="no segment 99"):
        move_cut(plan, word_analysis, lyrics.lines, 99, 3.0, min_s=1.0)


@pytest.mark.parametrize("fields, message", [
    ({"seed": -1}, "seed"), ({"seed": True}, "seed"), ({"seed": 2**32}, "seed"), ({"seed": "7"}, "seed"),
    ({"image_prompt": ""}, "cannot be empty"), ({"take": 3}, "cannot be edited"), ({"singer": 5}, "text"),
    ({"motion_prompt": "x" * 5000}, "characters"),
])
def test_bad_edits_are_refused(planned, fields, message):
    plan, _ = planned
    with pytest.raises(InputError, match=message):
        edit_segment(plan, 2, **fields)


def test_edits_are_kept_by_a_replan(planned, word_analysis):
    plan, lyrics = planned
    edited = edit_segment(plan, 2, image_prompt="  a red   fox  ", seed=42, singer="Anna")
    seg = edited.segments[1]
    assert (seg.image_prompt, seg.seed, seg.singer) == ("a red fox", 42, "Anna")
    again = planner.build(lyrics, word_analysis, style="cinematic", max_s=8.0, title="song", previous=edited)
    kept = again.segments[1]
    assert (kept.image_prompt, kept.seed, kept.singer) == ("a red fox", 42, "Anna")
    assert dataclasses.replace(kept, auto={}) != dataclasses.replace(plan.segments[1], auto={})
