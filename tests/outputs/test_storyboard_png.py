"""The PNG storyboard's text layout and the alignment picture's legend, labels and flags, on plans and
lyrics made in code (no audio, no clips): text stays inside its tile or picture, never overlaps,
shows every lyric line and exact times, and flagged lines are marked whatever the flag is called."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mvtimeline.outputs import alignplot
from mvtimeline.outputs.alignplot import draw_alignment, flag_colour, header_layout, text_font
from mvtimeline.outputs.storyboard import format_clock, sheet_layout
from mvtimeline.types import Analysis, Line, Lyrics, Plan, Segment, Word

LONG = "and every light along the boulevard is calling out my name again tonight, louder than before"
WORDY = "Supercalifragilisticexpialidocious antidisestablishmentarianism"
CJK = "你好世界 I love you 我们一起唱歌吧，唱到天亮"
TEXTS = ["I walk along the empty street", LONG, CJK, WORDY, "oh", "la la la"]
FLAGS = [(), ("over instrumental",), ("unsure",), ("too short",), ("too long", "unsure"), ("a flag nobody knows",)]
PROMPT = "a lone figure walking under neon lights in the rain, cinematic, 35mm, shallow depth of field, moody"


def _lyrics(n_lines: int, duration_s: float) -> Lyrics:
    """``n_lines`` lines spread over the song, each with its words, cycling through texts and flags."""
    step = duration_s / (n_lines + 1)
    lines = []
    for i in range(n_lines):
        text = TEXTS[i % len(TEXTS)]
        a, b = (i + 0.5) * step, (i + 0.5) * step + step * (0.3 if i % 3 == 0 else 0.9)
        ws = text.split()
        words = tuple(Word(w, a + k * (b - a) / len(ws), a + (k + 1) * (b - a) / len(ws)) for k, w in enumerate(ws))
        lines.append(Line(text=text, words=words, start_s=a, end_s=b, source="aligned", confidence=0.8,
                          flags=FLAGS[i % len(FLAGS)], line_no=i + 1))
    return Lyrics(path="song.txt", format="plain", lines=tuple(lines))


def _plan(lyrics: Lyrics, n_segments: int, duration_s: float) -> Plan:
    """Segments of equal length (the first one 1.28 s) holding the lines that overlap them, as the planner does."""
    edges = list(np.linspace(0.0, duration_s, n_segments + 1))
    if n_segments > 1:
        edges[1] = 1.28
    segs = []
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]), start=1):
        lines = tuple(ln.text for ln in lyrics.lines if ln.start_s < b and ln.end_s > a
                      and min(b, ln.end_s) - max(a, ln.start_s) > 0.1)
        section = ["Intro", "Verse 1", "Pre-Chorus 2"][i % 3]
        segs.append(Segment(index=i, start_s=float(a), end_s=float(b), section=section, lines=lines,
                            image_prompt=PROMPT, seed=i, take=1 + (i % 4 == 0)))
    return Plan(audio_path="song.wav", duration_s=duration_s, style="cinematic", dissolve_s=0.4, segments=tuple(segs))


def _analysis(duration_s: float) -> Analysis:
    hop = 0.05
    t = np.arange(int(duration_s / hop)) * hop
    return Analysis(audio_path="song.wav", duration_s=duration_s, sample_rate=22050, tempo_bpm=120.0,
                    beat_times_s=tuple(np.arange(0, duration_s, 0.5)),
                    downbeat_times_s=tuple(np.arange(0, duration_s, 2.0)),
                    beats_per_bar=4, hop_s=hop, onset_strength=(), loudness=tuple(0.5 for _ in t),
                    vocal_activity=tuple(float(v) for v in 0.5 + 0.5 * np.sin(t / 2)),
                    vocal_regions_s=((2.0, duration_s * 0.4), (duration_s * 0.5, duration_s - 2.0)), sections=())


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(box: tuple[int, ...], area: tuple[int, ...]) -> bool:
    return area[0] <= box[0] and area[1] <= box[1] and box[2] <= area[2] and box[3] <= area[3]


def _pil_boxes(t) -> list[tuple[int, int, int, int]]:
    """The ink of a text run as PIL's own ``ImageDraw.textbbox`` measures it, one box per font used."""
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    return [tuple(int(round(v)) for v in draw.textbbox(point, part, font=font, anchor="ls"))
            for point, part, font in t.font.layout(t.xy, t.text)]


def _squash(text: str) -> str:
    """Text with the places a row may break removed: spaces and the hyphens of broken words."""
    return re.sub(r"[\s\-]", "", text)


@pytest.fixture(scope="module", params=[(200, 1), (200, 7), (360, 7), (640, 7), (200, 60), (360, 60), (640, 3)],
                ids=lambda p: f"{p[0]}px-{p[1]}seg")
def board(request):
    tile_width, n = request.param
    duration = max(30.0, 4.0 * n)
    lyrics = _lyrics(max(8, 2 * n), duration)
    plan = _plan(lyrics, n, duration)
    title = f"a rather long project name for a song — {n} segments, {format_clock(duration)}, procedural, cinematic"
    return plan, lyrics, sheet_layout(plan, aspect=16 / 9, title=title, lyrics=lyrics, tile_width=tile_width)


def _tile_area(layout, k: int) -> tuple[int, int, int, int]:
    x, y = layout.grid.thumbs[k]
    w, h = layout.grid.tile_size
    return (x, y + layout.grid.thumb_size[1], x + w, y + h)


def test_every_text_stays_inside_its_tile_and_the_picture(board):
    plan, _, layout = board
    width, height = layout.grid.size
    for t in layout.texts:
        assert _inside(t.box, (0, 0, width, height)), t
        for pil_box in _pil_boxes(t):  # measured by PIL itself, not only by the layout
            assert _inside(pil_box, t.box), (t, pil_box)
        if t.segment == 0:
            assert _inside(t.box, (0, 0, width, layout.grid.header_height)), t
        else:
            k = [s.index for s in plan.segments].index(t.segment)
            assert _inside(t.box, _tile_area(layout, k)), t
    for m in layout.markers:
        assert _inside(m.box, (0, 0, width - 1, height - 1)), m


def test_no_two_texts_or_markers_overlap(board):
    _, _, layout = board
    by_area: dict[int, list] = {}
    for item in (*layout.texts, *(m for m in layout.markers if m.kind != "outline")):
        by_area.setdefault(item.segment, []).append(item)  # tiles do not overlap (checked above)
    for items in by_area.values():
        for i, a in enumerate(items):
            for b in items[i + 1:]:
                assert not _overlap(a.box, b.box), (a, b)


def test_every_lyric_line_of_every_segment_is_shown_whole(board):
    plan, _, layout = board
    for seg in plan.segments:
        rows = [t for t in layout.texts if t.segment == seg.index and t.kind == "lyric"]
        if any(t.kind == "more" for t in layout.texts if t.segment == seg.index):
            continue  # more lines than a tile can hold: test_a_segment_with_too_many_lines_says_how_many
        assert {t.line for t in rows} == set(range(len(seg.lines)))
        for j, line in enumerate(seg.lines):
            assert _squash("".join(t.text for t in rows if t.line == j)) == _squash(line), (seg.index, line)
        if not seg.lines:
            assert any(t.kind == "instrumental" for t in layout.texts if t.segment == seg.index)


def test_times_are_shown_to_the_hundredth(board):
    plan, _, layout = board
    for seg in plan.segments:
        header = "".join(t.text for t in layout.texts if t.segment == seg.index and t.kind == "header")
        assert f"{format_clock(seg.start_s)}–{format_clock(seg.end_s)}" in header.replace(" ", ""), header
    if len(plan.segments) > 1:  # the first segment ends at 1.28 s
        first = "".join(t.text for t in layout.texts if t.segment == 1 and t.kind == "header")
        assert "0:00.00–0:01.28" in first and "00:01" not in first


def test_flagged_lines_are_marked_with_every_flag_by_name(board):
    plan, lyrics, layout = board
    seen = set()
    for seg in plan.segments:
        flagged = [ln for ln in lyrics.lines if ln.text in seg.lines and ln.flags and ln.start_s < seg.end_s
                   and ln.end_s > seg.start_s]
        texts = [t for t in layout.texts if t.segment == seg.index]
        if any(t.kind == "more" for t in texts) or not flagged:
            continue
        names = {t.text for t in texts if t.kind == "flag"}
        for ln in flagged:
            j = seg.lines.index(ln.text)
            assert set(ln.flags) <= {t.text for t in texts if t.kind == "flag" and t.line == j}, (seg.index, ln.flags)
            colours = {m.colour for m in layout.markers if m.segment == seg.index and m.kind == "flag" and m.line == j}
            assert colours == {flag_colour(ln.flags[0])}
            seen |= set(ln.flags)
        assert names and any(m.kind == "outline" and m.segment == seg.index for m in layout.markers)
    legend = {t.text for t in layout.texts if t.segment == 0 and t.kind == "legend"}
    assert seen <= set(layout.flags) <= legend
    assert set(layout.flags) == {f for seg in plan.segments for ln in lyrics.lines if ln.text in seg.lines
                                 and ln.start_s < seg.end_s and ln.end_s > seg.start_s for f in ln.flags}
    assert "a flag nobody knows" in {f for ln in lyrics.lines for f in ln.flags}


def test_a_segment_with_too_many_lines_says_how_many_it_leaves_out():
    lyrics = _lyrics(80, 100.0)
    plan = Plan(audio_path="song.wav", duration_s=100.0, style="cinematic", dissolve_s=0.4, segments=(
        Segment(index=1, start_s=0.0, end_s=100.0, section="Verse 1", lines=tuple(ln.text for ln in lyrics.lines),
                image_prompt=PROMPT),))
    layout = sheet_layout(plan, aspect=16 / 9, title="t", lyrics=lyrics, tile_width=200)
    rows = [t for t in layout.texts if t.kind == "lyric"]
    more = [t for t in layout.texts if t.kind == "more"]
    assert len(more) == 1 and rows
    left = int(re.search(r"\+(\d+) more lines?", more[0].text).group(1))
    assert left + len({t.line for t in rows}) == 80
    assert more[0].box[1] > max(t.box[1] for t in rows)  # said after the lines shown
    for t in rows:  # every row holds whole words of its line, a cut one ends in "…"
        line = plan.segments[0].lines[t.line]
        text = t.text[:-2] if t.text.endswith(" …") else t.text
        assert _squash(text) in _squash(line)
    assert all(t.font.size >= 11 for t in rows)


def test_chinese_lyrics_are_drawn_with_a_font_that_has_them():
    font = text_font(15)
    runs = font.runs(CJK)
    if not font.has_glyph("你"):
        pytest.skip("no CJK font installed (e.g. fonts-noto-cjk, fonts-droid-fallback)")
    assert all(font.has_glyph(ch) for ch in CJK if not ch.isspace())
    cjk_fonts = {id(f) for part, f in runs if "你" in part}
    latin_fonts = {id(f) for part, f in runs if "love" in part}
    assert cjk_fonts and latin_fonts and all(f.getmetrics() for _, f in runs)
    # drawn: the glyphs differ from each other (no row of identical "missing glyph" boxes)
    from PIL import Image, ImageDraw

    masks = []
    for ch in "你好世界":
        img = Image.new("L", (24, 24))
        alignplot.draw_text(ImageDraw.Draw(img), (2, 2), ch, font, 255)
        masks.append(np.asarray(img))
    assert all(np.abs(masks[0].astype(int) - m).sum() > 0 for m in masks[1:])


def test_format_clock_keeps_hundredths():
    assert format_clock(1.28) == "0:01.28"
    assert format_clock(61.005) in ("1:01.00", "1:01.01")
    assert format_clock(59.996) == "1:00.00"


def test_tiny_tiles_do_not_fail():
    lyrics = _lyrics(6, 20.0)
    layout = sheet_layout(_plan(lyrics, 3, 20.0), aspect=16 / 9, title="t", lyrics=lyrics, tile_width=32)
    assert layout.grid.tile_size[0] == 32 and {t.segment for t in layout.texts} == {0, 1, 2, 3}


# ---------------------------------------------------------------------------------------- alignment
@pytest.mark.parametrize("width", [232, 408, 1400, alignplot.WIDTH])
def test_alignment_legend_and_title_stay_inside_the_picture(width):
    lyrics = _lyrics(12, 60.0)
    header = header_layout(width, title="a rather long project name for a song — alignment and cuts", lyrics=lyrics)
    boxes = []
    for xy, text, font in header.texts:
        left, top, right, bottom = font.getbbox(text)
        boxes.append((xy[0] + left, xy[1] + top, xy[0] + right, xy[1] + bottom))
    boxes += [box for box, _, _ in header.swatches]
    for i, a in enumerate(boxes):
        assert _inside(a, (0, 0, width, header.height)), (width, a)
        for b in boxes[i + 1:]:
            assert not _overlap(a, b), (a, b)
    names = [text for _, text, _ in header.texts]
    for flag in ("over instrumental", "unsure", "too short", "too long", "a flag nobody knows"):
        assert f"flag: {flag}" in names or width < 300  # a narrow picture may shorten a name
    img = draw_alignment(_analysis(60.0), lyrics, title="a rather long project name for a song — alignment and cuts",
                         width=width)
    assert img.size[0] == width
    if width == alignplot.WIDTH:
        assert header.height == alignplot.HEADER_H  # the first row where it always was


def _bar(width: int, t0_s: float, t1_s: float, lane: int, header_h: int) -> tuple[int, int, int, int]:
    span = width - alignplot.MARGIN_L - alignplot.MARGIN_R
    x0 = alignplot.MARGIN_L + t0_s / alignplot.ROW_S * span
    x1 = alignplot.MARGIN_L + t1_s / alignplot.ROW_S * span
    y0 = header_h + 6 + 56 + 8 + lane * 26
    return int(x0), y0, int(x1), y0 + 22


def test_alignment_marks_flagged_lines_whatever_the_flag():
    lines = (Line("plain line", start_s=1.0, end_s=4.0, source="aligned", confidence=0.9),
             Line("a line too short", start_s=6.0, end_s=9.0, source="aligned", confidence=0.9, flags=("too short",)),
             Line("a new kind of doubt", start_s=11.0, end_s=14.0, source="aligned", confidence=0.9,
                  flags=("a flag nobody knows",)))
    lyrics = Lyrics(path="l.txt", format="plain", lines=lines)
    img = np.asarray(draw_alignment(_analysis(30.0), lyrics).convert("RGB")).astype(int)
    header_h = alignplot.header_height(alignplot.WIDTH, lyrics=lyrics)

    def has(colour, box):
        x0, y0, x1, y1 = box
        area = img[y0:y1 + 1, x0:x1 + 1].reshape(-1, 3)
        return int((np.abs(area - np.array(colour)).sum(axis=1) < 20).sum())

    plain = _bar(alignplot.WIDTH, 1.0, 4.0, 0, header_h)
    short = _bar(alignplot.WIDTH, 6.0, 9.0, 1, header_h)
    other = _bar(alignplot.WIDTH, 11.0, 14.0, 0, header_h)
    assert has(flag_colour("too short"), short) > 100  # outlined in the flag's colour
    assert has(flag_colour("a flag nobody knows"), other) > 100
    assert has(flag_colour("too short"), plain) == 0 and has(flag_colour("a flag nobody knows"), plain) == 0
    names = [text for _, text, _ in header_layout(alignplot.WIDTH, lyrics=lyrics).texts]
    assert "flag: too short" in names and "flag: a flag nobody knows" in names and "flag: unsure" not in names


def test_alignment_labels_stop_before_the_next_bar_of_their_lane():
    # two short lines in the same lane (0 and 2), close together, with long texts
    lines = (Line("a very long line of lyrics that would run far past its short bar", start_s=2.0, end_s=3.0,
                  source="aligned", confidence=0.9),
             Line("x", start_s=3.2, end_s=3.6, source="aligned", confidence=0.9),
             Line("the next line of the same lane, also long", start_s=4.0, end_s=5.0, source="aligned",
                  confidence=0.9))
    lyrics = Lyrics(path="l.txt", format="plain", lines=lines)
    for width in (600, alignplot.WIDTH):
        img = np.asarray(draw_alignment(_analysis(30.0), lyrics, width=width).convert("RGB")).astype(int)
        header_h = alignplot.header_height(width, lyrics=lyrics)
        x0, y0, _, y1 = _bar(width, 4.0, 5.0, 0, header_h)
        # left of the next bar, in the label's rows: background or bar, no text pixels
        strip = img[y0 + 8:y1 - 1, x0 - 3:x0 + 1].reshape(-1, 3)
        assert ((np.abs(strip - np.array([30, 30, 35])).sum(axis=1) < 150).sum()) == 0, width
