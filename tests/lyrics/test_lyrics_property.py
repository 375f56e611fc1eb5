"""Property tests of the lyrics stage: any input gives Lyrics or a LyricsFormatError; round trips;
place() invariants."""

from __future__ import annotations

import itertools
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvtimeline.errors import LyricsFormatError
from mvtimeline.lyrics import place, read, split_words, write
from mvtimeline.types import Line, Lyrics, Word

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
READ_FORMATS = ("plain", "lrc", "elrc", "srt", "vtt", "json", "suno")
SUFFIX = {
    "plain": ".txt",
    "lrc": ".lrc",
    "elrc": ".lrc",
    "srt": ".srt",
    "vtt": ".vtt",
    "json": ".json",
    "suno": ".json",
}
_counter = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("lyrics-prop")


def _check_lyrics(lyr: Lyrics, *, artifact: bool = False) -> None:
    """What every reader promises about a Lyrics it returns (an aligned.json artifact keeps its own
    line numbers and sources)."""
    assert isinstance(lyr, Lyrics) and lyr.lines
    timed = [ln for ln in lyr.lines if ln.is_timed]
    for a, b in itertools.pairwise(timed):
        assert a.end_s <= b.start_s + 1e-9
    for ln in lyr.lines:
        assert isinstance(ln.text, str) and ln.words
        assert ln.line_no >= (0 if artifact else 1)
        assert "\n" not in ln.text
        if ln.is_timed:
            assert 0.0 <= ln.start_s <= ln.end_s and math.isfinite(ln.end_s)
            assert ln.source == "file" or artifact
            t = ln.start_s
            for w in ln.words:
                if w.start_s is not None:
                    assert t - 1e-9 <= w.start_s <= w.end_s <= ln.end_s + 1e-9
                    t = w.end_s
        else:
            assert all(w.start_s is None and w.end_s is None for w in ln.words)


def _read_any(folder, content: bytes, fmt: str) -> None:
    path = folder / f"in{next(_counter)}{SUFFIX[fmt]}"
    path.write_bytes(content)
    try:
        lyr = read(path, format=fmt)
    except LyricsFormatError as exc:
        msg = str(exc)
        assert "\n" not in msg and "please report" not in msg, msg
        assert path.name in msg
        return
    _check_lyrics(lyr, artifact=b'"kind": "aligned"' in content)


@SETTINGS
@given(content=st.binary(max_size=400), fmt=st.sampled_from(READ_FORMATS))
def test_random_bytes_give_lyrics_or_a_lyrics_format_error(folder, content, fmt):
    _read_any(folder, content, fmt)


@SETTINGS
@given(content=st.text(max_size=300), fmt=st.sampled_from(READ_FORMATS))
def test_random_text_gives_lyrics_or_a_lyrics_format_error(folder, content, fmt):
    _read_any(folder, content.encode("utf-8", "surrogatepass"), fmt)


# Text built from the pieces these formats are made of, so the parsers get past their first check.
_times = st.sampled_from(
    ["00:12.00", "01:02.5", "1:2", "03:61.00", "00:00.000", "99:59.99", "00:12", "", "x:1", "-1:00"]
)
_cue_times = st.sampled_from(
    ["00:00:01,000", "00:01.500", "01:00:00.000", "00:00:61,000", "00:02", "1:2:3:4", ""]
)
_words = st.sampled_from(
    ["hello", "world", "我爱你", "(ooh)", "♪", "—", "don't", "   ", "a", "ラーメン", "&amp;", "<i>", "</i>"]
)
_tags = st.sampled_from(
    [
        "[Verse 1]",
        "[Chorus]",
        "[ar:x]",
        "[offset:+250]",
        "[offset:abc]",
        "[Male Vocal]",
        "[",
        "]",
        "(solo)",
        "v1:",
    ]
)


@st.composite
def _lrc_text(draw):
    lines = []
    for _ in range(draw(st.integers(0, 8))):
        parts = [f"[{draw(_times)}]" for _ in range(draw(st.integers(0, 3)))]
        for _ in range(draw(st.integers(0, 5))):
            parts.append(draw(st.one_of(_words, _tags, _times.map(lambda t: f"<{t}>"))))
        lines.append(draw(st.sampled_from(["", " "])).join(parts))
    return "\n".join(lines)


@st.composite
def _cue_text(draw):
    blocks = ["WEBVTT"] if draw(st.booleans()) else []
    for k in range(draw(st.integers(0, 5))):
        rows = [str(k + 1)] if draw(st.booleans()) else []
        rows.append(
            f"{draw(_cue_times)} --> {draw(_cue_times)}" + draw(st.sampled_from(["", " align:start"]))
        )
        for _ in range(draw(st.integers(0, 2))):
            rows.append(
                " ".join(
                    draw(st.lists(st.one_of(_words, _tags, _cue_times.map(lambda t: f"<{t}>")), max_size=4))
                )
            )
        blocks.append("\n".join(rows))
    return draw(st.sampled_from(["\n\n", "\n"])).join(blocks)


_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=True), st.text(max_size=8)
)


@st.composite
def _suno_json(draw):
    items = []
    for _ in range(draw(st.integers(0, 6))):
        item = {}
        if draw(st.booleans()) or True:
            item["word"] = draw(
                st.one_of(_words, _tags, st.just("\n"), st.just("[Cho"), st.just("rus]\n"), _json_scalars)
            )
        for key in draw(
            st.lists(
                st.sampled_from(["start_s", "end_s", "startS", "endS", "success", "p_align", "palign"]),
                max_size=5,
            )
        ):
            item[key] = draw(st.one_of(st.floats(0, 100), _json_scalars))
        items.append(item)
    shape = draw(st.sampled_from(["list", "aligned_words", "data", "aligned"]))
    if shape == "list":
        obj = items
    elif shape == "aligned_words":
        obj = {"aligned_words": items}
    elif shape == "data":
        obj = {"data": {"alignedWords": items}}
    else:
        obj = {
            "kind": "aligned",
            "schema": 1,
            "path": "x",
            "format": "lrc",
            "lines": draw(
                st.lists(
                    st.dictionaries(
                        st.sampled_from(["text", "words", "start_s", "end_s", "stanza"]), _json_scalars
                    ),
                    max_size=3,
                )
            ),
        }
    return json.dumps(obj)


@SETTINGS
@given(content=_lrc_text(), fmt=st.sampled_from(("lrc", "plain")))
def test_lrc_like_text_gives_lyrics_or_a_lyrics_format_error(folder, content, fmt):
    _read_any(folder, content.encode(), fmt)


@SETTINGS
@given(content=_cue_text(), fmt=st.sampled_from(("srt", "vtt")))
def test_cue_like_text_gives_lyrics_or_a_lyrics_format_error(folder, content, fmt):
    _read_any(folder, content.encode(), fmt)


@SETTINGS
@given(content=_suno_json())
def test_json_like_input_gives_lyrics_or_a_lyrics_format_error(folder, content):
    _read_any(folder, content.encode(), "json")


# ------------------------------------------------------------------------------------- round trips
_vocab = ["love", "neon", "fire", "tonight", "我", "爱", "you", "beautiful", "don't", "city"]


@st.composite
def _timed_lyrics(draw):
    t = draw(st.floats(0, 5))
    lines = []
    stanza = 0
    for k in range(draw(st.integers(1, 6))):
        words = []
        start = t
        for w in draw(st.lists(st.sampled_from(_vocab), min_size=1, max_size=5)):
            t += draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
            ws = t
            t += draw(st.floats(0.05, 1.5))
            words.append(Word(w, round(ws, 2), round(t, 2)))
        t += draw(st.sampled_from([0.0, 0.0, 0.5, 3.0]))
        end = t
        if draw(st.booleans()):
            stanza += 1
        section = (
            draw(st.sampled_from([None, "Verse 1", "Chorus"]))
            if k == 0 or draw(st.booleans())
            else lines[-1].section
        )
        text = " ".join(w.text for w in words)
        lines.append(
            Line(text, tuple(words), section, stanza, round(start, 2), round(end, 2), "aligned", 0.9, k + 1)
        )
    return Lyrics("x.lrc", "lrc", tuple(lines))


@SETTINGS
@given(
    lyr=_timed_lyrics(),
    target=st.sampled_from(
        [(".lrc", None), (".elrc", None), (".srt", None), (".vtt", None), (".json", "suno"), (".json", None)]
    ),
)
def test_timed_lyrics_round_trip_through_every_writer(folder, lyr, target):
    suffix, fmt = target
    out = write(lyr, folder / f"rt{next(_counter)}{suffix}", format=fmt)
    again = read(out, format=fmt)
    assert len(again.lines) == len(lyr.lines)
    for a, b in zip(lyr.lines, again.lines, strict=True):
        assert split_words(b.text) == split_words(a.text)
        if fmt == "suno":  # Suno words carry no line times: a line lasts from its first to last word
            a = Line(a.text, a.words, start_s=a.words[0].start_s, end_s=a.words[-1].end_s)
        assert b.start_s == pytest.approx(a.start_s, abs=0.01)
        assert b.end_s == pytest.approx(a.end_s, abs=0.01)
        one_word_cue = (
            suffix == ".vtt"
            and len(a.words) == 1
            and (a.words[0].start_s, a.words[0].end_s) == (a.start_s, a.end_s)
        )
        if suffix in (".elrc", ".vtt", ".json") and not one_word_cue:  # WebVTT has no tag for that word
            for wa, wb in zip(a.words, b.words, strict=True):
                assert (wb.start_s, wb.end_s) == pytest.approx((wa.start_s, wa.end_s), abs=0.01)


# ------------------------------------------------------------------------------------------- place
@st.composite
def _place_case(draw):
    duration = draw(st.floats(1.0, 400.0))
    n = draw(st.integers(1, 12))
    lines = []
    t = 0.0
    stanza = 0
    for k in range(n):
        words = tuple(Word(w) for w in draw(st.lists(st.sampled_from(_vocab), min_size=1, max_size=6)))
        stanza += draw(st.integers(0, 1))
        if draw(st.integers(0, 3)) == 0:
            s = t + draw(st.floats(0, duration / n))
            e = s + draw(st.floats(0, duration / n))
            t = e
            lines.append(Line(" ".join(w.text for w in words), words, None, stanza, s, e, "file", 1.0, k + 1))
        else:
            lines.append(Line(" ".join(w.text for w in words), words, None, stanza, line_no=k + 1))
    regions = draw(
        st.lists(
            st.tuples(st.floats(-10, 450), st.floats(0, 60)).map(lambda p: (p[0], p[0] + p[1])), max_size=10
        )
    )
    return Lyrics("p.txt", "plain", tuple(lines)), regions, duration


@SETTINGS
@given(case=_place_case())
def test_place_times_every_line_in_order_inside_the_song(case):
    lyr, regions, duration = case
    out = place(lyr, vocal_regions_s=regions, duration_s=duration)
    assert [ln.text for ln in out.lines] == [ln.text for ln in lyr.lines]
    prev_end = 0.0
    for before, ln in zip(lyr.lines, out.lines, strict=True):
        assert ln.is_timed
        assert prev_end <= ln.start_s + 1e-9 and ln.start_s <= ln.end_s <= duration + 1e-9
        t = ln.start_s
        for w in ln.words:
            assert t - 1e-9 <= w.start_s <= w.end_s <= ln.end_s + 1e-9
            t = w.end_s
        if before.is_timed:
            assert ln.source == "file"
            assert ln.start_s == pytest.approx(min(before.start_s, duration))
        else:
            assert ln.source == "interim"
        prev_end = ln.end_s
