"""The planner's pace and lengths: phrases in instrumental stretches, the model's clip length in sung
ones, chained chunks for what no gap can split, sections people recognise, and why each cut is there.

Songs are synthesized with known bars, lines and words (:func:`mvtimeline.audio.demo.synthesize`), or
built by hand (a held note) with an analysis whose beats and voice are known exactly.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mvtimeline import plan as planner
from mvtimeline.plan import label_lines
from mvtimeline.types import Analysis, Line, Lyrics, Word, section_kind

EDGE_S = 0.02
CLIP_S = 5.0


def _lyrics(song, *, tags: bool = True, words: bool = True) -> Lyrics:
    """The song's true times as lyrics from a file (line times) with the true words when known."""
    lines = []
    for ln in song.lines:
        ws = tuple(Word(w["text"], w["start_s"], w["end_s"]) for w in ln.get("words", ())) if words else ()
        lines.append(Line(text=ln["text"], words=ws, section=ln["section"] if tags else None,
                          start_s=ln["start_s"], end_s=ln["end_s"], source="file", confidence=1.0))
    return Lyrics(path="song.lrc", format="lrc", lines=tuple(lines))


@pytest.fixture(scope="module")
def intro_song(tmp_path_factory):
    """120 BPM, a 30 s instrumental intro (15 bars), verse and chorus sung word by word, an 8-bar break."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make deps)")
    from mvtimeline.audio import analyze
    from mvtimeline.audio.demo import synthesize

    song = synthesize(tmp_path_factory.mktemp("intro"), stanzas=2, intro_bars=15, outro_bars=4, word_by_word=True,
                      break_bars={0: 8})
    return song, analyze(song.audio_path)


@pytest.fixture(scope="module")
def four_stanzas(tmp_path_factory):
    """The demo lyrics' four stanzas (verse, chorus, verse, chorus) at 120 BPM."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make deps)")
    from mvtimeline.audio import analyze
    from mvtimeline.audio.demo import synthesize

    song = synthesize(tmp_path_factory.mktemp("four"), intro_bars=4, outro_bars=2)
    return song, analyze(song.audio_path)


def _build(song, analysis, **kw):
    kw.setdefault("max_s", 20.0)
    kw.setdefault("clip_s", CLIP_S)
    return planner.build(_lyrics(song), analysis, style="cinematic", title="t", **kw)


def _word_spans(song):
    return [(w["start_s"], w["end_s"]) for ln in song.lines for w in ln.get("words", ())]


# ----------------------------------------------------------------------------------------- phrases
def test_a_30_s_instrumental_intro_is_a_few_phrases_on_downbeats_not_a_clip_per_bar(intro_song):
    song, analysis = intro_song
    p = _build(song, analysis)
    first_line = song.lines[0]["start_s"]
    intro = [s for s in p.segments if s.end_s <= first_line + 1e-6]
    assert 2 <= len(intro) <= 4, [(s.start_s, s.end_s) for s in intro]
    assert intro[-1].end_s > first_line - 2.0  # the intro runs up to the voice
    downs = np.asarray(song.downbeat_times_s)
    for s in intro[1:]:
        assert np.min(np.abs(downs - s.start_s)) < 0.06, f"intro cut at {s.start_s:.2f} s is not on a downbeat"
        assert s.cut.startswith("phrase (") or s.cut in ("section", "downbeat"), s.cut
        assert s.duration_s >= 4 * 2.0 - 0.1 or s is intro[-1]  # a phrase of 4 bars or more
    assert all(s.section == "Intro" for s in intro)


def test_the_pace_sets_how_long_instrumental_segments_run(intro_song):
    song, analysis = intro_song
    first_line = song.lines[0]["start_s"]
    count = {pace: len([s for s in _build(song, analysis, pace=pace).segments if s.end_s <= first_line + 1e-6])
             for pace in ("calm", "steady", "energetic")}
    assert count["calm"] <= count["steady"] < count["energetic"], count
    assert count["energetic"] <= 8  # two bars or so, never a clip per bar
    with pytest.raises(Exception, match="unknown pace"):
        _build(song, analysis, pace="frantic")


# ------------------------------------------------------------------------------------ model length
def test_with_a_5_s_model_no_clip_is_longer_and_no_cut_falls_inside_a_word(intro_song):
    song, analysis = intro_song
    p = _build(song, analysis)
    words = _word_spans(song)
    assert [s.start_s for s in p.segments[1:] if any(a + EDGE_S < s.start_s < b - EDGE_S for a, b in words)] == []
    for s in p.segments:
        assert s.chunks == int(np.ceil(s.duration_s / CLIP_S - 1e-6)), (s.index, s.duration_s, s.chunks)
        assert s.duration_s / s.chunks <= CLIP_S + 1e-6
    sung = [s for s in p.segments if s.lines]
    assert sung and all(s.chunks == 1 for s in sung)  # every line fits: no sung segment is chained
    assert sum(s.duration_s < 2.0 for s in p.segments) == 0
    assert p.clip_s == CLIP_S and p.pace == "steady"


def _held_note_song(hold_s: float = 9.0):
    """120 BPM, 40 s: a line of short words, a rest, "oh" held for ``hold_s`` seconds, a rest, a line."""
    bpm, dur, hop = 120.0, 40.0, 512 / 22050
    beats = tuple(float(t) for t in np.arange(0.5, dur, 0.5))
    downs = tuple(float(t) for t in np.arange(0.5, dur, 2.0))
    words_a = [Word(w, 4.5 + 0.5 * k, 4.9 + 0.5 * k) for k, w in enumerate("one two three four five".split())]
    held = [Word("oh", 11.0, 11.0 + hold_s)]
    words_b = [Word(w, 23.0 + 0.5 * k, 23.4 + 0.5 * k) for k, w in enumerate("six seven eight nine".split())]
    lines = (Line("one two three four five", tuple(words_a), start_s=4.5, end_s=6.9, source="aligned", confidence=1),
             Line("oh", tuple(held), start_s=11.0, end_s=11.0 + hold_s, source="aligned", confidence=1),
             Line("six seven eight nine", tuple(words_b), start_s=23.0, end_s=24.9, source="aligned", confidence=1))
    t = np.arange(int(dur / hop)) * hop
    voice = np.full(t.size, 0.05)
    for ln in lines:
        for w in ln.words:
            voice[(t >= w.start_s) & (t < w.end_s)] = 0.9
    analysis = Analysis(audio_path="held.wav", duration_s=dur, sample_rate=22050, tempo_bpm=bpm, beat_times_s=beats,
                        downbeat_times_s=downs, beats_per_bar=4, hop_s=hop, onset_strength=tuple(np.zeros(t.size)),
                        loudness=tuple(np.full(t.size, 0.5)), vocal_activity=tuple(voice), vocal_regions_s=(),
                        sections=())
    return analysis, Lyrics(path="held.txt", format="txt", lines=lines)


def test_a_sustained_9_s_note_is_one_segment_of_two_chained_chunks():
    analysis, lyrics = _held_note_song(9.0)
    p = planner.build(lyrics, analysis, style="cinematic", max_s=20.0, clip_s=CLIP_S, title="held")
    note = (11.0, 20.0)
    inside = [s for s in p.segments if s.start_s < note[1] and s.end_s > note[0]]
    assert len(inside) == 1, [(s.start_s, s.end_s, s.cut) for s in p.segments]
    seg = inside[0]
    assert seg.start_s <= note[0] and seg.end_s >= note[1]
    assert seg.chunks == 2 and seg.duration_s <= 2 * CLIP_S + 1e-6
    assert "forced" not in {s.cut for s in p.segments}
    assert sum(s.chunks for s in p.segments) > len(p.segments)
    # a backend that does not chain (clip = longest segment): the note must be cut, and it says so
    q = planner.build(lyrics, analysis, style="cinematic", max_s=CLIP_S, title="held")
    assert all(s.chunks == 1 and s.duration_s <= CLIP_S + 1e-6 for s in q.segments)
    assert "forced" in {s.cut for s in q.segments}


# ------------------------------------------------------------------------------------------ reasons
def test_each_cut_says_truly_why_it_is_there(intro_song):
    song, analysis = intro_song
    p = _build(song, analysis)
    lines = [(ln["start_s"], ln["end_s"]) for ln in song.lines]
    words = _word_spans(song)
    downs = np.asarray(song.downbeat_times_s)
    first, last = lines[0][0], lines[-1][1]
    seen = set()
    for s in p.segments[1:]:
        t, why = s.start_s, s.cut
        seen.add(why.split(" (")[0])
        between_lines = any(b0 <= t + EDGE_S and t - EDGE_S <= a1 for (_, b0), (a1, _) in zip(lines[:-1], lines[1:]))
        if why == "line gap":
            assert between_lines, f"line gap cut at {t:.2f} s is not between two lines"
        elif why == "word gap":
            assert any(a0 < t < b1 and not any(a + EDGE_S < t < b - EDGE_S for a, b in words)
                       for a0, b1 in lines), f"word gap cut at {t:.2f} s is not between two words of a line"
        elif why.startswith("phrase (") or why == "downbeat":
            assert np.min(np.abs(downs - t)) < 0.06, f"{why} cut at {t:.2f} s is not on a downbeat"
            assert t < first or t > last or between_lines
        elif why == "section":
            before = [ln for ln in song.lines if ln["end_s"] <= t + EDGE_S]
            after = [ln for ln in song.lines if ln["start_s"] >= t - EDGE_S]
            gap_to_voice = min([ln["start_s"] - t for ln in after] + [t - before[-1]["end_s"] if before else 99])
            changes = bool(before and after and before[-1]["section"] != after[0]["section"])
            assert changes or gap_to_voice >= 0.0, f"section cut at {t:.2f} s"
            assert not any(a + EDGE_S < t < b - EDGE_S for a, b in lines), f"section cut at {t:.2f} s inside a line"
        else:
            assert why in ("model length",), why
    assert {"phrase", "section", "line gap"} <= seen, seen


# ----------------------------------------------------------------------------------------- sections
def test_a_repeated_stanza_is_labelled_chorus_both_times_without_tags(four_stanzas):
    song, analysis = four_stanzas
    lyr = _lyrics(song, tags=False)
    labels = label_lines(lyr.lines, analysis).names
    truth = [ln["section"] for ln in song.lines]  # Verse 1, Chorus, Verse 2, Chorus
    for got, want in zip(labels, truth):
        assert section_kind(got) == section_kind(want), (got, want)
    assert [n for n in dict.fromkeys(labels)] == ["Verse 1", "Chorus", "Verse 2"]
    p = planner.build(lyr, analysis, style="cinematic", max_s=20.0, clip_s=CLIP_S, title="t")
    chorus = [s for s in p.segments if s.section == "Chorus"]
    starts = [ln["start_s"] for ln in song.lines if ln["section"] == "Chorus"]
    assert chorus and {s.start_s < starts[4] - 0.5 for s in chorus} == {True, False}  # in both choruses
    assert p.segments[0].section == "Intro" and p.segments[-1].section == "Outro"


def test_the_chorus_motif_repeats_the_first_choruses_seeds(four_stanzas, tmp_path):
    song, analysis = four_stanzas
    p = planner.build(_lyrics(song, tags=False), analysis, style="cinematic", max_s=20.0, clip_s=CLIP_S, title="t")
    second = song.lines[8]["start_s"]  # verse 1, chorus, verse 2: four lines each; then the chorus again
    assert song.lines[12]["section"] == "Chorus" and song.lines[8]["section"] != "Chorus"
    one = [s.seed for s in p.segments if s.section == "Chorus" and s.end_s <= second]
    two = [s.seed for s in p.segments if s.section == "Chorus" and s.start_s >= second]
    assert one and two and two == [one[k % len(one)] for k in range(len(two))]
    style = tmp_path / "plain.toml"
    style.write_text('name = "plain"\nimage = "{{ lyrics }}"\nmotion = "{{ camera }}"\nchorus_motif = false\n')
    q = planner.build(_lyrics(song, tags=False), analysis, style=str(style), max_s=20.0, clip_s=CLIP_S, title="t")
    assert len({s.seed for s in q.segments}) == len(q.segments)


@pytest.mark.parametrize("texts, want", [
    # a song without repeats: verses
    (["a b c", "", "d e f", "", "g h i"], ["Verse 1", "Verse 2", "Verse 3"]),
    # pre-chorus before every chorus, a bridge between the later choruses, an outro after the last
    (["v one", "", "pre up", "", "hook la", "hook oh", "", "v two", "", "pre up", "", "hook la", "hook oh", "",
      "bridge x", "", "hook la", "hook oh", "", "end z"],
     ["Verse 1", "Pre-Chorus", "Chorus", "Chorus", "Verse 2", "Pre-Chorus", "Chorus", "Chorus", "Bridge",
      "Chorus", "Chorus", "Outro"]),
    # no blank lines (an LRC): the lines that come back in order are the chorus
    (["walk the line", "under the sky", "hold me now", "never let go", "new day rising", "over the sea",
      "hold me now", "never let go", "hold me now", "never let go"],
     ["Verse 1", "Verse 1", "Chorus", "Chorus", "Verse 2", "Verse 2", "Chorus", "Chorus", "Chorus", "Chorus"]),
    # tags win
    (["[Intro]", "oh", "", "[Hook]", "la la", "", "[Verse]", "x y", "", "[Hook]", "la la"],
     ["Intro", "Hook", "Verse", "Hook"]),
])
def test_sections_from_the_lyrics(texts, want):
    lines, stanza, t, tag = [], 0, 0.0, None
    for x in texts:
        if not x:
            stanza += 1
            continue
        if x.startswith("["):
            tag = x[1:-1]
            continue
        lines.append(Line(text=x, stanza=stanza, section=tag, start_s=t, end_s=t + 2.0))
        t += 3.0
    assert list(label_lines(lines).names) == want


# ------------------------------------------------------------------------------------------- summary
def test_the_summary_fits_a_screen_and_counts_the_clips(intro_song):
    song, analysis = intro_song
    p = _build(song, analysis)
    text = planner.summary(p)
    assert len(text) <= 24 and all(len(line) < 80 for line in text), text
    assert text[0].startswith(f"{len(p.segments)} segments, {sum(s.chunks for s in p.segments)} clips to make")
    assert any(line.startswith("Intro ") for line in text) and any(line.startswith("Chorus ") for line in text)
    assert text[-1] == "no cut forced inside a sung word"
