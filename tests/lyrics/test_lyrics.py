"""Lyrics stage: readers, writers and interim placement (mvtimeline.lyrics)."""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

import pysubs2
import pytest

from mvtimeline.errors import InputError, LyricsFormatError, OutputError
from mvtimeline.lyrics import FORMATS, count_syllables, place, read, split_words, write
from mvtimeline.types import Line, Lyrics, Word

TOL_S = 0.010  # round trips keep times within 10 ms

# ------------------------------------------------------------------------------------------ samples
PLAIN = """\
[Intro]
(guitar)

[Verse 1]
I see your face in every window
Neon rivers on the avenue

[Pre-Chorus]
Hold on, hold on

[Chorus]
We are the fire inside
We are the light — we never hide
(guitar solo)
[Male Vocal]

[Verse 2: Alice]
君の名は
♪ ♪
"""

LRC = """\
[ar:Someone]
[ti:A Song]
[al:An Album]
[by:someone else]
[length: 03:12]
[re:some tool]
[ve:1.0]
[offset:+250]

[Verse 1]
[00:12.00]I see your face in every window
[00:15.50]Neon rivers on the avenue
[00:19.00]

[Chorus]
[00:21.00][01:05.00]We are the fire inside
[00:24.00][01:08.00]We are the light
[00:27.5]

[Verse 2]
[00:40.000]Second verse begins
[00:44]Ends here
"""

ELRC = """\
[ti:Enhanced]
[00:01.00]<00:01.00>Hold <00:01.40>on <00:01.80>to <00:02.00>me <00:02.60>
[00:03.00]v1: <00:03.00>Beau<00:03.20>ti<00:03.40>ful <00:04.00> <00:04.50>night <00:05.00>
[00:06.00]<00:06.00>我<00:06.30>爱<00:06.60>你 <00:07.20>
"""

SRT = """\
1
00:00:01,000 --> 00:00:03,200
<i>I see your face</i>
in every window

2
00:00:03,500 --> 00:00:06,000
{\\an8}Neon rivers on the avenue

3
00:00:07,000 --> 00:00:08,000
♪

4
00:00:09,000 --> 00:00:11,500
We are the fire inside
"""

VTT = """\
WEBVTT - lyrics
Kind: captions
Language: en

NOTE written by hand
for the test

STYLE
::cue { color: white }

intro
00:01.000 --> 00:03.000 align:center line:90%
<v Singer>Hold <00:00:01.500>on &amp; <00:00:02.200>stay<00:00:02.800>

00:00:03.000 --> 00:00:05.000
<c.yellow>Neon</c> rivers
on the avenue
"""

SUNO_WORDS = [
    {"word": "[Verse]\nI ", "start_s": 0.5, "end_s": 0.7, "success": True, "p_align": 0.95},
    {"word": "see ", "start_s": 0.7, "end_s": 1.0, "success": True, "p_align": 0.9},
    {"word": "you\n", "start_s": 1.0, "end_s": 1.6, "success": True, "p_align": 0.9},
    {"word": "Neon ", "start_s": 2.0, "end_s": 2.5, "success": True, "p_align": 0.8},
    {"word": "rivers\n\n", "start_s": 2.5, "end_s": 3.2, "success": True, "p_align": 0.8},
    {"word": "[Cho", "start_s": 3.2, "end_s": 3.2, "success": False, "p_align": 0.0},
    {"word": "rus]\nWe ", "start_s": 5.0, "end_s": 5.2, "success": True, "p_align": 0.9},
    {"word": "burn ", "start_s": 0.0, "end_s": 0.0, "success": False, "p_align": 0.0},
    {"word": "bright\n", "start_s": 5.8, "end_s": 6.4, "success": True, "p_align": 0.9},
]


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def _timed(lyr: Lyrics) -> list[tuple[str, float, float]]:
    return [(ln.text, ln.start_s, ln.end_s) for ln in lyr.lines]


# -------------------------------------------------------------------------------------------- plain
def test_plain_reader_takes_sections_stanzas_and_skips_directions(tmp_path):
    lyr = read(_write(tmp_path, "song.txt", PLAIN))
    assert lyr.format == "plain"
    got = [(ln.text, ln.section, ln.stanza, ln.line_no) for ln in lyr.lines]
    assert got == [
        ("I see your face in every window", "Verse 1", 0, 5),
        ("Neon rivers on the avenue", "Verse 1", 0, 6),
        ("Hold on, hold on", "Pre-Chorus", 1, 9),
        ("We are the fire inside", "Chorus", 2, 12),
        ("We are the light — we never hide", "Chorus", 2, 13),
        ("君の名は", "Verse 2", 3, 18),
    ]
    assert all(ln.start_s is None and ln.end_s is None and ln.source == "none" for ln in lyr.lines)
    assert [w.text for w in lyr.lines[4].words] == ["We", "are", "the", "light", "we", "never", "hide"]


def test_cjk_characters_are_one_word_each():
    assert split_words("我爱你 baby") == ["我", "爱", "你", "baby"]
    assert split_words("「ラーメン」が好き") == ["「ラー", "メ", "ン」", "が", "好", "き"]
    assert split_words("사랑해 너를") == ["사랑해", "너를"]  # Hangul is spaced like Latin text


def test_plain_text_in_utf16_and_utf8_bom_reads_the_same(tmp_path):
    ref = read(_write(tmp_path, "a.txt", PLAIN))
    for i, raw in enumerate(
        (
            codecs.BOM_UTF8 + PLAIN.encode("utf-8"),
            PLAIN.encode("utf-16"),
            codecs.BOM_UTF16_BE + PLAIN.encode("utf-16-be"),
        )
    ):
        lyr = read(_write(tmp_path, f"b{i}.txt", raw))
        assert lyr.lines == ref.lines


def test_windows_line_endings_keep_line_numbers(tmp_path):
    lyr = read(_write(tmp_path, "crlf.txt", PLAIN.replace("\n", "\r\n").encode()))
    assert [ln.line_no for ln in lyr.lines] == [5, 6, 9, 12, 13, 18]


def test_txt_holding_lrc_is_read_as_lrc(tmp_path):
    lyr = read(_write(tmp_path, "from-lrclib.txt", "[00:01.00]Hello there\n[00:02.00]Bye\n"))
    assert lyr.format == "lrc"
    assert _timed(lyr)[0] == ("Hello there", 1.0, 2.0)


# ---------------------------------------------------------------------------------------------- lrc
def test_lrc_reader_applies_offset_expands_tags_and_sorts(tmp_path):
    lyr = read(_write(tmp_path, "song.lrc", LRC))
    o = 0.25  # [offset:+250]: lyrics shown 250 ms earlier
    got = [(ln.text, ln.section, ln.stanza, ln.line_no) for ln in lyr.lines]
    assert got == [
        ("I see your face in every window", "Verse 1", 0, 11),
        ("Neon rivers on the avenue", "Verse 1", 0, 12),
        ("We are the fire inside", "Chorus", 1, 16),
        ("We are the light", "Chorus", 1, 17),
        ("Second verse begins", "Verse 2", 2, 21),
        ("Ends here", "Verse 2", 2, 22),
        ("We are the fire inside", "Chorus", 3, 16),
        ("We are the light", "Chorus", 3, 17),
    ]
    starts = [ln.start_s for ln in lyr.lines]
    assert starts == pytest.approx([12 - o, 15.5 - o, 21 - o, 24 - o, 40 - o, 44 - o, 65 - o, 68 - o])
    ends = [ln.end_s for ln in lyr.lines]
    # the empty [00:19.00] ends line 2; a line ends at the next line's start; the last lasts >= 2 s
    assert ends[:6] == pytest.approx([15.5 - o, 19 - o, 24 - o, 27.5 - o, 44 - o, 65 - o])
    assert ends[7] - starts[7] >= 2.0
    assert all(ln.source == "file" and ln.confidence == 1.0 for ln in lyr.lines)
    assert all(w.start_s is None for ln in lyr.lines for w in ln.words)


def test_negative_lrc_offset_shifts_later(tmp_path):
    lyr = read(_write(tmp_path, "neg.lrc", "[offset:-500]\n[00:01.00]one\n[00:02.00]two\n"))
    assert [ln.start_s for ln in lyr.lines] == pytest.approx([1.5, 2.5])


def test_several_time_tags_on_one_line_make_several_lines(tmp_path):
    lyr = read(_write(tmp_path, "rep.lrc", "[00:05.00][00:01.00] [00:09.00]la la\n[00:03.00]mid\n"))
    assert _timed(lyr) == [("la la", 1.0, 3.0), ("mid", 3.0, 5.0), ("la la", 5.0, 9.0), ("la la", 9.0, 11.0)]


def test_enhanced_lrc_word_tags_give_word_times(tmp_path):
    lyr = read(_write(tmp_path, "song.lrc", ELRC))
    first, second, third = lyr.lines
    assert [(w.text, w.start_s, w.end_s) for w in first.words] == [
        ("Hold", 1.0, 1.4),
        ("on", 1.4, 1.8),
        ("to", 1.8, 2.0),
        ("me", 2.0, 2.6),
    ]
    assert (first.start_s, first.end_s) == (1.0, 3.0)
    # the singer prefix is dropped, syllable tags stay inside the word, "<end> <start>" is a gap
    assert second.text == "Beautiful night"
    assert [(w.text, w.start_s, w.end_s) for w in second.words] == [
        ("Beautiful", 3.0, 4.0),
        ("night", 4.5, 5.0),
    ]
    assert [(w.text, w.start_s) for w in third.words] == [("我", 6.0), ("爱", 6.3), ("你", 6.6)]
    assert third.end_s == pytest.approx(7.2)  # the last line ends at its last word's end


def test_lrc_untimed_text_line_is_kept_in_place_untimed(tmp_path, caplog):
    lyr = read(_write(tmp_path, "gap.lrc", "[00:01.00]one\nforgot the tag\n[00:10.00]three\n"))
    assert [ln.text for ln in lyr.lines] == ["one", "forgot the tag", "three"]
    assert lyr.lines[1].start_s is None
    assert lyr.lines[0].end_s < 10.0  # leaves room for the untimed line
    assert "no time tag" in caplog.text


# ------------------------------------------------------------------------------------------ srt/vtt
def test_srt_reader_joins_cue_lines_and_strips_tags(tmp_path):
    lyr = read(_write(tmp_path, "song.srt", SRT))
    assert _timed(lyr) == [
        ("I see your face in every window", 1.0, 3.2),
        ("Neon rivers on the avenue", 3.5, 6.0),
        ("We are the fire inside", 9.0, 11.5),
    ]
    assert [ln.line_no for ln in lyr.lines] == [3, 8, 16]
    assert lyr.lines[2].stanza == 1  # the ♪ cue separates stanzas


def test_vtt_reader_skips_notes_and_reads_word_timestamps(tmp_path):
    lyr = read(_write(tmp_path, "song.vtt", VTT))
    assert _timed(lyr) == [("Hold on & stay", 1.0, 3.0), ("Neon rivers on the avenue", 3.0, 5.0)]
    assert [(w.text, w.start_s, w.end_s) for w in lyr.lines[0].words] == [
        ("Hold", 1.0, 1.5),
        ("on", 1.5, 2.2),
        ("stay", 2.2, 2.8),
    ]
    assert all(w.start_s is None for w in lyr.lines[1].words)


# --------------------------------------------------------------------------------------------- json
def test_suno_words_split_lines_on_newlines_and_tags_set_sections(tmp_path):
    lyr = read(_write(tmp_path, "suno.json", json.dumps(SUNO_WORDS)))
    assert lyr.format == "suno"
    got = [(ln.text, ln.section, ln.stanza, ln.start_s, ln.end_s) for ln in lyr.lines]
    assert got == [
        ("I see you", "Verse", 0, 0.5, 1.6),
        ("Neon rivers", "Verse", 0, 2.0, 3.2),
        ("We burn bright", "Chorus", 1, 5.0, 6.4),
    ]
    we, burn, bright = lyr.lines[2].words
    # "burn" was not aligned (success false): it fills the time between its neighbours
    assert we.end_s <= burn.start_s < burn.end_s <= bright.start_s
    assert lyr.lines[2].confidence == pytest.approx(2 / 3, abs=0.01)
    assert lyr.lines[0].confidence == 1.0


def test_suno_camelcase_wrapped_in_data_reads_the_same(tmp_path):
    camel = [
        {
            "word": w["word"],
            "startS": w["start_s"],
            "endS": w["end_s"],
            "success": w["success"],
            "palign": w["p_align"],
        }
        for w in SUNO_WORDS
    ]
    wrapped = {"code": 200, "data": {"alignedWords": camel, "waveformData": [0.1], "hootCer": 0.1}}
    a = read(_write(tmp_path, "a.json", json.dumps(SUNO_WORDS)))
    b = read(_write(tmp_path, "b.json", json.dumps(wrapped)))
    c = read(_write(tmp_path, "c.json", json.dumps({"aligned_words": SUNO_WORDS})), format="suno")
    assert a.lines == b.lines == c.lines


def test_aligned_json_reads_back_exactly(tmp_path):
    lyr = read(_write(tmp_path, "song.lrc", ELRC))
    out = write(lyr, tmp_path / "aligned.json")
    again = read(out)
    assert again == lyr


# ---------------------------------------------------------------------------------------- round trip
def _assert_same(a: Lyrics, b: Lyrics, *, words: bool, sections: bool = True) -> None:
    assert [" ".join(split_words(ln.text)) for ln in b.lines] == [
        " ".join(split_words(ln.text)) for ln in a.lines
    ]
    for x, y in zip(a.lines, b.lines, strict=True):
        assert [w.text for w in y.words] == [w.text for w in x.words]
        if x.is_timed:
            assert y.start_s == pytest.approx(x.start_s, abs=TOL_S)
            assert y.end_s == pytest.approx(x.end_s, abs=TOL_S)
        else:
            assert not y.is_timed
        if sections:
            assert (y.section, y.stanza) == (x.section, x.stanza)
        if words:
            for wx, wy in zip(x.words, y.words, strict=True):
                assert wy.start_s == pytest.approx(wx.start_s, abs=TOL_S)
                assert wy.end_s == pytest.approx(wx.end_s, abs=TOL_S)


ROUND_TRIPS = [
    # (sample file, its content, format to write, suffix, word times survive, sections survive)
    ("song.txt", PLAIN, None, ".txt", False, True),
    ("song.lrc", LRC, None, ".lrc", False, True),
    ("song.lrc", ELRC, "elrc", ".lrc", True, True),
    ("song.lrc", ELRC, None, ".elrc", True, True),
    ("song.srt", SRT, None, ".srt", False, False),
    ("song.vtt", VTT, None, ".vtt", True, False),
    ("suno.json", json.dumps(SUNO_WORDS), "suno", ".json", True, True),
    ("suno.json", json.dumps(SUNO_WORDS), None, ".json", True, True),
]


@pytest.mark.parametrize(("name", "content", "fmt", "suffix", "words", "sections"), ROUND_TRIPS)
def test_every_reader_round_trips_through_its_writer(tmp_path, name, content, fmt, suffix, words, sections):
    lyr = read(_write(tmp_path, name, content))
    out = write(lyr, tmp_path / f"out{suffix}", format=fmt)
    again = read(out, format="suno" if fmt == "suno" else None)
    _assert_same(lyr, again, words=words, sections=sections)
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []  # atomic: no temp file left


def test_placed_lyrics_round_trip_through_every_timed_format(tmp_path):
    lyr = place(
        read(_write(tmp_path, "song.txt", PLAIN)),
        vocal_regions_s=[(3.0, 30.0), (34.0, 60.0)],
        duration_s=70.0,
    )
    for suffix, fmt, words in (
        (".lrc", None, False),
        (".elrc", None, True),
        (".srt", None, False),
        (".vtt", None, True),
        (".json", "suno", True),
    ):
        out = write(lyr, tmp_path / f"placed{suffix}", format=fmt)
        again = read(out, format=fmt)
        _assert_same(lyr, again, words=words, sections=suffix in (".lrc", ".elrc", ".json"))


def test_ass_has_a_karaoke_tag_per_word_summing_to_the_line(tmp_path):
    lyr = read(_write(tmp_path, "song.lrc", ELRC))
    out = write(lyr, tmp_path / "song.ass")
    subs = pysubs2.load(str(out))
    assert subs.info["PlayResY"] == "1080"
    assert subs.styles["Default"].fontsize >= 40
    assert len(subs.events) == len(lyr.lines)
    for ev, ln in zip(subs.events, lyr.lines, strict=True):
        assert ev.start == round(ln.start_s * 1000) and ev.end == round(ln.end_s * 1000)
        ks = [int(k) for k in re.findall(r"\\k(\d+)", ev.text)]
        assert len(ks) >= len(ln.words)
        assert sum(ks) == round((ln.words[-1].end_s - ln.start_s) * 100)  # up to the last word's end
        assert ev.plaintext.replace(" ", "") == ln.text.replace(" ", "")


def test_timed_formats_refuse_untimed_lines(tmp_path):
    lyr = read(_write(tmp_path, "song.txt", PLAIN))
    for suffix in (".srt", ".vtt", ".ass"):
        with pytest.raises(OutputError, match=rf"out{re.escape(suffix)}: line 5 .* has no times"):
            write(lyr, tmp_path / f"out{suffix}")
    assert not list(tmp_path.glob("out.*"))


def test_unknown_output_format_lists_the_known_ones(tmp_path):
    lyr = read(_write(tmp_path, "song.txt", PLAIN))
    with pytest.raises(
        OutputError,
        match=r"out\.mov: suffix '\.mov' names no lyrics format; .* "
        r"\(plain, lrc, elrc, srt, vtt, ass, json, suno\)",
    ):
        write(lyr, tmp_path / "out.mov")
    with pytest.raises(OutputError, match="cannot write lyrics format 'docx'"):
        write(lyr, tmp_path / "out.txt", format="docx")


def test_formats_table_names_readers_and_writers():
    assert {n for n, f in FORMATS.items() if f.readable} == {
        "plain",
        "lrc",
        "elrc",
        "srt",
        "vtt",
        "json",
        "suno",
    }
    assert {n for n, f in FORMATS.items() if f.writable} >= {
        "lrc",
        "elrc",
        "srt",
        "vtt",
        "ass",
        "json",
        "plain",
    }


# ------------------------------------------------------------------------------------------- errors
MALFORMED = [
    ("bad.lrc", "[00:01.00]fine\n[03:61.00]bad", r"^bad\.lrc line 2: \[03:61\.00\] is not a valid time"),
    ("bad.lrc", "[ti:x]\n[00:12.00 hello", r"^bad\.lrc line 2: unclosed tag '\[00:12\.00 hello'"),
    ("bad.lrc", "[offset:soon]\n[00:01.00]a", r"^bad\.lrc line 1: \[offset:soon\] is not a valid offset"),
    ("bad.lrc", "[00:01.00]a <00:02.99.1>b", r"^bad\.lrc line 1: <00:02\.99\.1> is not a valid time"),
    ("bad.txt", "[Verse 1\nhello", r"^bad\.txt line 1: unclosed tag"),
    (
        "bad.srt",
        "1\n00:00:01,000 --> 00:00:61,000\nhi\n",
        r"^bad\.srt line 2: 00:00:61,000 is not a valid time",
    ),
    (
        "bad.srt",
        "1\n00:00:05,000 --> 00:00:01,000\nhi\n",
        r"^bad\.srt line 2: the cue ends .* before it starts",
    ),
    ("bad.srt", "hello\nworld\n", r"^bad\.srt line 1: expected a cue time line"),
    ("bad.vtt", "00:01.000 --> 00:02.000\nhi\n", r"^bad\.vtt line 1: missing the WEBVTT header"),
    (
        "bad.vtt",
        "WEBVTT\n\n00:01.000 --> 00:02.000\nhi <00:61.000>\n",
        r"^bad\.vtt line 4: <00:61\.000> is not a valid time",
    ),
    ("bad.json", '[{"word": "hi",\n "start_s": 1.0,,}]', r"^bad\.json line 2: not valid JSON"),
    (
        "bad.json",
        '[{"word": "hi", "start_s": "soon", "end_s": 2}]',
        r"^bad\.json item 1: start_s 'soon' is not a time",
    ),
    (
        "bad.json",
        '[{"word": "a", "start_s": 1, "end_s": 2}, {"word": "b", "start_s": 3, "end_s": 2}]',
        r"^bad\.json item 2: end_s 2 is before start_s 3",
    ),
    (
        "bad.json",
        '{"kind": "aligned", "schema": 99, "lines": []}',
        r"^bad\.json: aligned schema 99 is not supported",
    ),
    ("bad.json", '{"hello": 1}', r"^bad\.json: not Suno aligned words"),
    ("empty.txt", "", r"^empty\.txt: no sung lines"),
    ("tags.lrc", "[ar:x]\n[ti:y]\n[Chorus]\n(solo)\n", r"^tags\.lrc: no sung lines"),
]


@pytest.mark.parametrize(("name", "content", "pattern"), MALFORMED)
def test_malformed_input_raises_one_line_naming_file_and_line(tmp_path, name, content, pattern):
    with pytest.raises(LyricsFormatError, match=pattern) as info:
        read(_write(tmp_path, name, content))
    assert "\n" not in str(info.value)


def test_binary_junk_is_a_lyrics_format_error(tmp_path):
    with pytest.raises(LyricsFormatError, match=r"^junk\.lrc line 1: byte 0x.. is not UTF-8 text"):
        read(_write(tmp_path, "junk.lrc", b"ID3\x04\x00\x00\xff\xfb\x90\x00" * 20))
    with pytest.raises(LyricsFormatError, match=r"^nul\.txt line 2: control character U\+0000"):
        read(_write(tmp_path, "nul.txt", b"hello\nwor\x00ld\n"))


def test_latin1_file_is_refused_with_a_hint(tmp_path):
    with pytest.raises(
        LyricsFormatError, match=r"^l1\.txt line 2: byte 0xe9 is not UTF-8 text; save the file as UTF-8"
    ):
        read(_write(tmp_path, "l1.txt", "first\ncaf\u00e9\n".encode("latin-1")))


def test_missing_file_and_folder_are_lyrics_format_errors(tmp_path):
    with pytest.raises(LyricsFormatError, match=r"nope\.lrc: no such file$"):
        read(tmp_path / "nope.lrc")
    folder = tmp_path / "dir.txt"
    folder.mkdir()
    with pytest.raises(LyricsFormatError, match=r"dir\.txt: is a folder"):
        read(folder)
    assert issubclass(LyricsFormatError, InputError)


def test_unknown_format_lists_the_known_ones(tmp_path):
    p = _write(tmp_path, "song.doc", "hello")
    with pytest.raises(
        LyricsFormatError, match=r"song\.doc: suffix '\.doc' names no lyrics format; use one of \.txt, \.lrc"
    ):
        read(p)
    with pytest.raises(
        LyricsFormatError,
        match="cannot read lyrics format 'mov'; known: plain, lrc, elrc, srt, vtt, json, suno",
    ):
        read(p, format="mov")
    assert read(p, format="txt").lines[0].text == "hello"


# -------------------------------------------------------------------------------------------- place
def _untimed(*texts: str, stanzas: tuple[int, ...] | None = None) -> Lyrics:
    lines = tuple(
        Line(t, tuple(Word(w) for w in split_words(t)), stanza=(stanzas[i] if stanzas else 0), line_no=i + 1)
        for i, t in enumerate(texts)
    )
    return Lyrics("test.txt", "plain", lines)


def _check_invariants(out: Lyrics, duration_s: float) -> None:
    prev_end = 0.0
    for ln in out.lines:
        assert ln.is_timed
        assert 0.0 <= prev_end <= ln.start_s + 1e-9 <= ln.end_s + 2e-9 <= duration_s + 3e-9
        t = ln.start_s
        for w in ln.words:
            assert t - 1e-9 <= w.start_s <= w.end_s + 1e-9 <= ln.end_s + 2e-9
            t = w.end_s
        prev_end = ln.end_s


def test_place_keeps_order_and_stays_inside_vocal_regions():
    lyr = _untimed("one little line", "another little line", "third one here", "and the last one")
    regions = [(10.0, 20.0), (25.0, 30.0), (40.0, 55.0)]
    out = place(lyr, vocal_regions_s=regions, duration_s=60.0)
    _check_invariants(out, 60.0)
    assert [ln.text for ln in out.lines] == [ln.text for ln in lyr.lines]
    assert all(ln.source == "interim" and ln.confidence == pytest.approx(0.2) for ln in out.lines)
    for ln in out.lines:
        for w in ln.words:
            mid = (w.start_s + w.end_s) / 2
            assert any(a <= mid <= b for a, b in regions), (w, regions)
    assert out.lines[0].start_s == 10.0 and out.lines[-1].end_s == 55.0


def test_place_weights_lines_and_words_by_syllables():
    lyr = _untimed("go", "everybody beautiful tomorrow")
    out = place(lyr, vocal_regions_s=[(0.0, 12.0)], duration_s=12.0)
    short, long_ = out.lines
    n_short = sum(count_syllables(w.text) for w in lyr.lines[0].words)
    n_long = sum(count_syllables(w.text) for w in lyr.lines[1].words)
    assert (long_.end_s - long_.start_s) / (short.end_s - short.start_s) == pytest.approx(n_long / n_short)
    per_syllable = [(w.end_s - w.start_s) / count_syllables(w.text) for w in long_.words]
    assert per_syllable == pytest.approx([per_syllable[0]] * 3)
    assert count_syllables("beautiful") == 3 and count_syllables("go") == 1


def test_place_puts_stanza_breaks_on_the_larger_vocal_gap():
    lyr = _untimed("a b c d", "e f g h", "i j k l", "m n o p", stanzas=(0, 0, 1, 1))
    # two gaps: a short breath at 14 s, a long instrumental break 22..32 s; the stanza break's
    # natural place (half the vocal time) is nearer the breath, but it lands on the break
    regions = [(5.0, 14.0), (14.4, 22.0), (32.0, 40.0)]
    out = place(lyr, vocal_regions_s=regions, duration_s=45.0)
    _check_invariants(out, 45.0)
    assert out.lines[1].end_s == pytest.approx(22.0)
    assert out.lines[2].start_s == pytest.approx(32.0)


def test_place_respects_anchors_and_spreads_untimed_lines_between_them():
    lines = (
        Line(
            "first anchor",
            (Word("first"), Word("anchor")),
            start_s=10.0,
            end_s=12.0,
            source="file",
            confidence=1.0,
        ),
        Line("in between one", tuple(Word(w) for w in ("in", "between", "one"))),
        Line("in between two", tuple(Word(w) for w in ("in", "between", "two"))),
        Line(
            "second anchor",
            (Word("second", 30.0, 31.0), Word("anchor")),
            start_s=30.0,
            end_s=32.0,
            source="file",
            confidence=1.0,
        ),
        Line("after it all", tuple(Word(w) for w in ("after", "it", "all"))),
    )
    lyr = Lyrics("x.lrc", "lrc", lines)
    out = place(lyr, vocal_regions_s=[(0.0, 60.0)], duration_s=60.0)
    _check_invariants(out, 60.0)
    a, b, c, d, e = out.lines
    assert (a.start_s, a.end_s, a.source, a.confidence) == (10.0, 12.0, "file", 1.0)
    assert (d.start_s, d.end_s, d.source) == (30.0, 32.0, "file")
    assert a.words[0].start_s == 10.0 and a.words[-1].end_s == 12.0  # anchor words filled in
    assert d.words[0].start_s == 30.0 and d.words[0].end_s == 31.0
    assert 12.0 <= b.start_s < b.end_s <= c.start_s < c.end_s <= 30.0
    assert 32.0 <= e.start_s < e.end_s <= 60.0


def test_place_without_vocal_regions_uses_five_to_ninety_five_percent():
    out = place(_untimed("one line", "two lines"), vocal_regions_s=[], duration_s=100.0)
    assert out.lines[0].start_s == pytest.approx(5.0)
    assert out.lines[-1].end_s == pytest.approx(95.0)


def test_place_rejects_a_bad_duration_and_anchors_out_of_order():
    with pytest.raises(InputError, match="duration_s"):
        place(_untimed("x"), vocal_regions_s=[], duration_s=0)
    lines = (Line("b", start_s=5.0, end_s=6.0, line_no=1), Line("a", start_s=2.0, end_s=3.0, line_no=2))
    with pytest.raises(LyricsFormatError, match=r"x\.lrc line 2: starts at 2\.00 s, before line 1"):
        place(Lyrics("x.lrc", "lrc", lines), vocal_regions_s=[], duration_s=10.0)


def test_headings_as_lyric_sites_write_them_name_sections(tmp_path):
    lyr = read(
        _write(
            tmp_path, "site.txt", "Verse 1:\nfirst line\n(Chorus)\nsecond line\nChorus\nchorus is sung here\n"
        )
    )
    got = [(ln.text, ln.section, ln.stanza) for ln in lyr.lines]
    assert got == [
        ("first line", "Verse 1", 0),
        ("second line", "Chorus", 1),
        ("chorus is sung here", "Chorus", 2),
    ]


def test_enhanced_lrc_writer_marks_word_gaps_with_two_tags():
    from mvtimeline.lyrics.write import to_lrc

    ln = Line("a b", (Word("a", 1.0, 1.2), Word("b", 1.5, 2.0)), start_s=1.0, end_s=2.0)
    assert (
        to_lrc(Lyrics("", "lrc", (ln,)), words=True).splitlines()[1]
        == "[00:01.00]<00:01.00>a <00:01.20> <00:01.50>b <00:02.00>"
    )


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(LyricsFormatError, match=r"pipe\.txt: is not a regular file"):
        read(fifo)


def test_lrc_time_tag_variants_are_accepted(tmp_path):
    text = "[00:01]a\n[00:02.5]b\n[00:03.25]c\n[00:04.125]d\n[00:05:50]e\n[0:06,75]f\n"
    lyr = read(_write(tmp_path, "variants.lrc", text))
    assert [ln.start_s for ln in lyr.lines] == pytest.approx([1.0, 2.5, 3.25, 4.125, 5.5, 6.75])
