"""Storyboards of a work folder: a PNG grid of the chosen takes, an HTML page of every take."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mvtimeline import pipeline
from mvtimeline.config import Config
from mvtimeline.errors import InputError
from mvtimeline.outputs.storyboard import middle_frame, storyboard, storyboard_layout
from mvtimeline.types import Analysis, Lyrics, Plan

CONFIG = Config(fps=Fraction(12), width=160, height=90, dissolve_s=0.4, takes=2)


@pytest.fixture(scope="module")
def work(short_song, tmp_path_factory) -> Path:
    """A work folder of a short synthesized song, procedural clips, 2 takes of each segment."""
    song = short_song
    result = pipeline.run(song.audio_path, song.lyrics_path, tmp_path_factory.mktemp("sb-work"), CONFIG)
    folder = result.project.folder
    # what 'mvtimeline generate DIR --takes 1,2' does; a no-op once analyze_step returns the analysis
    # as saved (today a fresh run keys its clips on unrounded downbeats, analysis.json has them rounded)
    pipeline.generate_step(result.project, Plan.load(folder / "plan.json"),
                           Analysis.load(folder / "analysis.json"), takes=[1, 2])
    return folder


@pytest.fixture(scope="module")
def plan(work) -> Plan:
    return Plan.load(work / "plan.json")


@pytest.fixture(scope="module")
def board_png(work, tmp_path_factory) -> Path:
    return storyboard(work, tmp_path_factory.mktemp("sb-png") / "board.png")


@pytest.fixture(scope="module")
def board_html(work, tmp_path_factory) -> str:
    out = storyboard(work, tmp_path_factory.mktemp("sb-html") / "board.html")
    return out.read_text(encoding="utf-8")


def _thumbs(path: Path, work: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    from PIL import Image

    sheet = np.asarray(Image.open(path).convert("RGB"))
    layout = storyboard_layout(work).grid
    tw, th = layout.thumb_size
    return sheet, [sheet[y:y + th, x:x + tw] for x, y in layout.thumbs]


def _strip_header(work: Path, width: int) -> int:
    """Where the first row of song starts in the alignment picture of ``work`` at ``width``."""
    from mvtimeline.outputs import alignplot

    name = pipeline.load_project(work).name
    return alignplot.header_height(width, title=f"{name} — alignment and cuts",
                                   lyrics=Lyrics.load(work / "aligned.json"))


def test_png_has_one_tile_per_segment_in_a_grid(board_png, work, plan):
    from PIL import Image

    n = len(plan.segments)
    assert n >= 2
    layout = storyboard_layout(work).grid
    with Image.open(board_png) as im:
        assert im.format == "PNG"
        assert im.size[0] == layout.size[0] and im.size[1] > layout.size[1]  # the alignment strip below
    assert layout.columns * layout.rows >= n > layout.columns * (layout.rows - 1)


def _cut_pixels(strip: np.ndarray, plan: Plan, header_h: int) -> list[bool]:
    """Whether each cut of the plan is drawn in its colour where it is on the alignment strip."""
    from mvtimeline.outputs import alignplot

    span = strip.shape[1] - alignplot.MARGIN_L - alignplot.MARGIN_R
    found = []
    for seg in plan.segments[1:]:
        row = int(seg.start_s // alignplot.ROW_S)
        x = int(round(alignplot.MARGIN_L + (seg.start_s - row * alignplot.ROW_S) / alignplot.ROW_S * span))
        y = header_h + row * alignplot.ROW_H + alignplot.ROW_H - 30
        near = strip[y - 2:y + 3, x - 2:x + 3].reshape(-1, 3).astype(int)
        found.append(bool((np.abs(near - np.array(alignplot.cut_colour(seg.cut))).sum(axis=1) < 40).any()))
    return found


def test_png_ends_with_the_alignment_and_its_cuts(board_png, work, plan):
    from PIL import Image

    layout = storyboard_layout(work).grid
    strip = np.asarray(Image.open(board_png).convert("RGB"))[layout.size[1]:]
    assert all(_cut_pixels(strip, plan, _strip_header(work, strip.shape[1])))
    # the voice curve is drawn (blue fill somewhere in the first row)
    assert ((strip[:, :, 2] > 180) & (strip[:, :, 0] < 120)).sum() > 500


def test_html_ends_with_the_alignment_picture(board_html, work, plan):
    from PIL import Image

    m = re.search(r'<section class="alignment"><img src="data:image/png;base64,([^"]+)"', board_html)
    assert m
    with Image.open(io.BytesIO(base64.b64decode(m.group(1)))) as im:
        assert all(_cut_pixels(np.asarray(im.convert("RGB")), plan, _strip_header(work, im.size[0])))


def test_png_tiles_show_the_middle_of_each_segment_and_differ(board_png, work, plan):
    from PIL import Image

    _, thumbs = _thumbs(board_png, work)
    project = pipeline.load_project(work)
    clips = pipeline.chosen_clips(project, plan, Analysis.load(work / "analysis.json"))
    for seg, thumb in zip(plan.segments, thumbs):
        req, res = clips[seg.index]
        want = np.asarray(Image.fromarray(middle_frame(req, res.path)).resize(thumb.shape[1::-1]))
        assert np.abs(thumb.astype(int) - want.astype(int)).mean() < 6, seg.index
    for i in range(len(thumbs)):
        for j in range(i + 1, len(thumbs)):
            assert np.abs(thumbs[i].astype(int) - thumbs[j].astype(int)).mean() > 3, (i + 1, j + 1)


def test_png_tiles_carry_text_under_the_picture(board_png, work, plan):
    sheet, _ = _thumbs(board_png, work)
    layout = storyboard_layout(work).grid
    tw, th = layout.thumb_size
    for x, y in layout.thumbs:
        text = sheet[y + th: y + layout.tile_size[1], x: x + tw]
        assert (text.max(axis=2) > 200).sum() > 200  # bright glyphs on the dark tile


def test_html_shows_every_take_of_every_segment(board_html, plan):
    sections = re.findall(r'<section class="seg" id="segment-(\d+)">(.*?)</section>', board_html, re.S)
    assert [int(i) for i, _ in sections] == [s.index for s in plan.segments]
    for (_, body), seg in zip(sections, plan.segments):
        assert body.count("<img ") == 2
        assert body.count('class="take chosen"') == 1
        assert f'data-take="{seg.take}"' in body
        assert f"seed {seg.seed}" in body
        assert re.search(r"\d+:\d\d\.\d\d–\d+:\d\d\.\d\d", body)
    assert board_html.count("<img ") == 2 * len(plan.segments) + 1  # and the alignment picture


def test_html_is_self_contained_with_jpeg_thumbnails(board_html):
    from PIL import Image

    srcs = re.findall(r'<figure[^>]*><img src="([^"]+)"', board_html)
    assert srcs and all(s.startswith("data:image/jpeg;base64,") for s in srcs)
    with Image.open(io.BytesIO(base64.b64decode(srcs[0].split(",", 1)[1]))) as im:
        assert im.format == "JPEG" and im.size[0] == 320
    assert "http://" not in board_html and "https://" not in board_html


def test_html_escapes_lyrics(work, tmp_path):
    folder = tmp_path / "work"
    shutil.copytree(work, folder)
    d = json.loads((folder / "plan.json").read_text())
    d["segments"][0]["lines"] = ["rock <&> roll", "<b>bold</b>"]
    (folder / "plan.json").write_text(json.dumps(d))
    page = storyboard(folder, tmp_path / "board.html").read_text(encoding="utf-8")
    assert "rock &lt;&amp;&gt; roll" in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<&>" not in page and "<b>" not in page
    storyboard(folder, tmp_path / "board.png")  # drawn as text, not a problem


def test_unknown_suffix_lists_the_formats(work, tmp_path):
    with pytest.raises(InputError, match=r"unknown storyboard format '\.jpg'; known: \.png, \.html"):
        storyboard(work, tmp_path / "board.jpg")
    assert not (tmp_path / "board.jpg").exists()


def test_folder_without_clips_says_to_generate_first(work, tmp_path):
    folder = tmp_path / "work"
    shutil.copytree(work, folder, ignore=shutil.ignore_patterns("clips"))
    with pytest.raises(InputError, match=r"no clips generated yet; run 'mvtimeline generate .*' first"):
        storyboard(folder, tmp_path / "board.png")


def test_not_a_work_folder_is_rejected(tmp_path):
    with pytest.raises(InputError, match="not an mvtimeline work folder"):
        storyboard(tmp_path, tmp_path / "board.png")


def test_png_draws_each_text_where_its_layout_puts_it(board_png, work, plan):
    from PIL import Image

    sheet = np.asarray(Image.open(board_png).convert("RGB")).astype(int)
    layout = storyboard_layout(work)
    assert {t.segment for t in layout.texts} == {0, *(s.index for s in plan.segments)}
    for t in layout.texts:
        left, top, right, bottom = t.box
        ink = sheet[top:bottom + 1, left:right + 1].reshape(-1, 3)
        assert (np.abs(ink - np.array(t.colour)).sum(axis=1) < 90).sum() >= 3, t


def test_png_tiles_show_exact_times_and_every_lyric_line(board_png, work, plan):
    layout = storyboard_layout(work)
    for seg in plan.segments:
        texts = [t for t in layout.texts if t.segment == seg.index]
        header = "".join(t.text for t in texts if t.kind == "header").replace(" ", "")
        start, end = (f"{int(x // 60)}:{x % 60:05.2f}" for x in (seg.start_s, seg.end_s))
        assert f"{start}–{end}" in header, header  # e.g. 0:04.63, not 00:04
        for j, line in enumerate(seg.lines):
            shown = " ".join(t.text for t in texts if t.kind == "lyric" and t.line == j)
            assert shown.split() == line.split()


def test_png_shows_all_lines_of_a_segment_and_marks_flagged_ones(work, tmp_path):
    """A segment given three lines (one long, one Chinese) and lyric lines flagged with a known and
    an unknown flag: every line is drawn, the flagged ones carry their flag names and colour."""
    from PIL import Image

    from mvtimeline.outputs import alignplot

    folder = tmp_path / "work"
    shutil.copytree(work, folder)
    d = json.loads((folder / "plan.json").read_text())
    extra = ["and every light along the boulevard is calling out my name again tonight",
             "你好世界 我们一起唱歌"]
    d["segments"][0]["lines"] = [*d["segments"][0]["lines"], *extra]
    (folder / "plan.json").write_text(json.dumps(d))
    a = json.loads((folder / "aligned.json").read_text())
    a["lines"][1]["flags"] = ["too short", "some future flag"]
    (folder / "aligned.json").write_text(json.dumps(a))
    plan = Plan.load(folder / "plan.json")
    flagged = next(s for s in plan.segments if a["lines"][1]["text"] in s.lines)

    out = storyboard(folder, tmp_path / "board.png")
    layout = storyboard_layout(folder)
    first = [t for t in layout.texts if t.segment == 1 and t.kind == "lyric"]
    for j, line in enumerate(plan.segments[0].lines):
        assert re.sub(r"\s", "", "".join(t.text for t in first if t.line == j)) == re.sub(r"\s", "", line)
    names = {t.text for t in layout.texts if t.segment == flagged.index and t.kind == "flag"}
    assert names == {"too short", "some future flag"}
    legend = {t.text for t in layout.texts if t.segment == 0 and t.kind == "legend"}
    assert {"too short", "some future flag"} <= legend
    outline = next(m for m in layout.markers if m.kind == "outline")
    assert outline.segment == flagged.index and outline.colour == alignplot.flag_colour("too short")
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    left, top, right, _ = outline.box
    edge = sheet[top:top + 3, left:right].reshape(-1, 3)
    assert (np.abs(edge - np.array(outline.colour)).sum(axis=1) < 20).mean() > 0.9
    strip = sheet[layout.grid.size[1]:]  # the alignment picture marks the line too
    assert (np.abs(strip.reshape(-1, 3) - np.array(outline.colour)).sum(axis=1) < 20).sum() > 50
    page = storyboard(folder, tmp_path / "board.html").read_text(encoding="utf-8")
    assert "⚑ too short" in page and "⚑ some future flag" in page and extra[1] in page
