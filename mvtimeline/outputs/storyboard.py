"""A storyboard of a work folder: one picture per segment, to review a video before editing it.

- :func:`storyboard` — write ``out.png`` (a grid of tiles: a frame from the middle of each
  segment's chosen take, its time range to the hundredth of a second, section, every lyric line
  and image prompt; lines the aligner flagged are marked in their flag's colour) or ``out.html``
  (a self-contained page, one row per segment with every take side by side, the chosen one
  marked, and the times, section, lyric lines with their flags, prompts and seed). Both end with
  the alignment picture (:func:`mvtimeline.outputs.alignplot.draw_alignment`: voice curve, gaps, lines,
  word ticks and the plan's cuts on one time axis).
- :func:`sheet_layout`, :func:`storyboard_layout` — where every tile, run of text and marker of a
  PNG storyboard goes (:class:`SheetLayout`); text stays inside its tile and never overlaps.
- :func:`grid_layout` — where the tiles of a PNG storyboard go.
- :func:`middle_frame` — the RGB frame from the middle of a segment in a clip.
- :func:`format_clock` — seconds as ``m:ss.cc``.

Public: storyboard, sheet_layout, storyboard_layout, SheetLayout, TextBox, Marker, grid_layout, GridLayout,
middle_frame, middle_index, format_clock, STORYBOARD_FORMATS.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, RunError
from ..fileio import atomic_write
from ..types import Analysis, ClipRequest, ClipResult, Lyrics, Plan, Segment
from .alignplot import (MixedFont, draw_alignment, draw_text, ellipsize, flag_colour, row_height, text_font,
                        text_words, wrap_text)

__all__ = [
    "storyboard",
    "sheet_layout",
    "storyboard_layout",
    "SheetLayout",
    "TextBox",
    "Marker",
    "grid_layout",
    "GridLayout",
    "middle_frame",
    "middle_index",
    "format_clock",
    "STORYBOARD_FORMATS",
]

log = logging.getLogger(__name__)

#: Output suffixes :func:`storyboard` writes.
STORYBOARD_FORMATS = (".png", ".html")

TILE_WIDTH = 360  # px, one PNG tile (and its thumbnail)
GAP = 16  # px between tiles and around the grid
PAD = 8  # px inside a tile, around the text
FONT_SIZE = 15
LEGEND_SIZE = 13
TEXT_LINES = 7  # text rows under each thumbnail at least (header, lyrics, prompt)
MAX_TEXT_ROWS = 16  # text rows under each thumbnail at most (of FONT_SIZE + 4 px; more in a wide tile)
PROMPT_ROWS = 3  # the image prompt gets at most these rows
LYRIC_SIZES = (FONT_SIZE, 13, 11)  # lyrics shrink through these sizes to fit a tile
MARK_W = 12  # px left of the lyric rows, for a flagged line's marker
INDENT = 10  # px more for a lyric line's continuation rows
_BG = (24, 24, 28)
_TILE = (40, 40, 46)
_TITLE = (235, 235, 235)
_WHITE = (255, 255, 255)
_LYRIC = (250, 220, 120)
_PROMPT = (175, 185, 200)
_GREY = (150, 150, 150)
HTML_THUMB_WIDTH = 320  # px, thumbnails in the HTML page
JPEG_QUALITY = 82
HTML_ALIGN_WIDTH = 1400  # px, the alignment picture at the end of the HTML page


def format_clock(t_s: float) -> str:
    """Seconds as ``m:ss.cc`` (minutes, seconds, hundredths), precise enough to tell where a short
    segment starts and ends.

    Parameters
    ----------
    t_s : float
        Seconds from the start of the song (negative counts as 0).

    Returns
    -------
    str

    Examples
    --------
    >>> format_clock(1.28), format_clock(83.9), format_clock(59.999), format_clock(3725.5)
    ('0:01.28', '1:23.90', '1:00.00', '62:05.50')
    """
    cs = int(round(max(0.0, float(t_s)) * 100))
    minutes, rest = divmod(cs, 6000)
    return f"{minutes}:{rest // 100:02d}.{rest % 100:02d}"


def _time_range(seg: Segment) -> str:
    return f"{format_clock(seg.start_s)}–{format_clock(seg.end_s)}"


# ------------------------------------------------------------------------------------------ frames
def middle_index(n_frames: int, head_frames: int, tail_frames: int) -> int:
    """The frame in the middle of a clip's segment (its handles left out).

    Examples
    --------
    >>> middle_index(100, 10, 10)
    50
    """
    body = max(1, n_frames - head_frames - tail_frames)
    return min(n_frames - 1, head_frames + body // 2)


def middle_frame(req: ClipRequest, clip: Path, *, width: int | None = None) -> np.ndarray:
    """The RGB frame from the middle of the segment (handles excluded) in a clip of ``req``.

    Parameters
    ----------
    req : ClipRequest
        The request the clip was made for (its ``n_frames``, handles and ``fps``).
    clip : Path
        The clip's MP4.
    width : int > 0, optional
        Scale the frame to this width (height in proportion); default: as stored.

    Returns
    -------
    ndarray, uint8, shape (h, w, 3)

    Raises
    ------
    InputError
        The clip is missing or cannot be decoded.
    """
    from ..media import frame_at

    try:
        return frame_at(clip, float(Fraction(middle_index(req.n_frames, req.head_frames, req.tail_frames)) / req.fps), fps=req.fps, width=width)
    except InputError as exc:
        raise InputError(f"{exc}; make it again with 'mvtimeline generate'") from None


# ------------------------------------------------------------------------------------------- PNG
@dataclass(frozen=True)
class GridLayout:
    """Where the tiles of a PNG storyboard go. All sizes in pixels.

    ``thumbs[i]`` is the (left, top) corner of tile ``i``'s thumbnail (``thumb_size``); the text
    sits under it, inside the tile (``tile_size``).
    """

    columns: int
    rows: int
    tile_size: tuple[int, int]
    thumb_size: tuple[int, int]
    size: tuple[int, int]
    header_height: int
    thumbs: tuple[tuple[int, int], ...]


def grid_layout(
    n_tiles: int, *, aspect: float, tile_width: int = TILE_WIDTH, columns: int | None = None,
    line_height: int = FONT_SIZE + 4, text_height: int | None = None, header_height: int | None = None,
) -> GridLayout:
    """The grid of a PNG storyboard.

    Parameters
    ----------
    n_tiles : int >= 1
        Segments to show.
    aspect : float > 0
        Video width / height.
    tile_width : int > 0, default 360
        Width of a tile (and its thumbnail) in pixels.
    columns : int >= 1, optional
        Tiles per row; default: about square overall, at most 4 (``ceil(sqrt(n))``).
    line_height : int > 0
        Pixels per text row.
    text_height : int > 0, optional
        Pixels of text under each thumbnail; default ``TEXT_LINES`` rows of ``line_height``
        (:func:`sheet_layout` gives what its longest tile needs).
    header_height : int > 0, optional
        Pixels above the grid (title, legend); default one row of ``line_height`` and its padding.

    Returns
    -------
    GridLayout

    Raises
    ------
    InputError
        ``n_tiles`` is under 1.

    Examples
    --------
    >>> g = grid_layout(5, aspect=16 / 9, tile_width=160)
    >>> g.columns, g.rows, g.thumb_size, g.thumbs[3]
    (3, 2, (160, 90), (16, 306))
    """
    if n_tiles < 1:
        raise InputError("a storyboard needs at least one segment")
    cols = columns or min(4, max(1, math.ceil(math.sqrt(n_tiles))))
    cols = max(1, min(cols, n_tiles))
    rows = math.ceil(n_tiles / cols)
    thumb_h = max(2, round(tile_width / aspect))
    tile_h = thumb_h + 2 * PAD + (TEXT_LINES * line_height if text_height is None else text_height)
    header = line_height + 2 * PAD if header_height is None else header_height
    width = cols * tile_width + (cols + 1) * GAP
    height = header + rows * tile_h + (rows + 1) * GAP
    thumbs = tuple(
        (GAP + (i % cols) * (tile_width + GAP), header + GAP + (i // cols) * (tile_h + GAP)) for i in range(n_tiles)
    )
    return GridLayout(columns=cols, rows=rows, tile_size=(tile_width, tile_h), thumb_size=(tile_width, thumb_h),
                      size=(width, height), header_height=header, thumbs=thumbs)


@dataclass(frozen=True)
class TextBox:
    """One run of text on a PNG storyboard, where :func:`sheet_layout` puts it. Pixels on the sheet.

    ``xy`` is where it is drawn (``ImageDraw.text(xy, text, font=font)``, anchor top left) and
    ``box`` the (left, top, right, bottom) of its ink, as ``ImageDraw.textbbox`` gives it.
    ``kind`` is what it says: ``"title"``, ``"legend"`` (the sheet's header), ``"header"`` (number,
    times, section, take), ``"lyric"``, ``"flag"`` (a flag of the lyric line above it),
    ``"instrumental"``, ``"more"`` (how many lyric lines did not fit), ``"prompt"``. ``segment`` is
    the segment's index (0 for the sheet's header); ``line`` the index in ``Segment.lines`` of the
    lyric line a ``"lyric"`` or ``"flag"`` row belongs to (-1 otherwise).
    """

    text: str
    xy: tuple[int, int]
    box: tuple[int, int, int, int]
    kind: str
    segment: int
    line: int
    colour: tuple[int, int, int]
    font: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class Marker:
    """A coloured mark on a PNG storyboard: ``"flag"``, a square before a flagged lyric line;
    ``"legend"``, a square before a flag's name in the sheet's legend; ``"outline"``, the frame
    around a tile with flagged lines (drawn in the gap around the tile). ``box`` is (left, top,
    right, bottom) in pixels, inclusive."""

    box: tuple[int, int, int, int]
    colour: tuple[int, int, int]
    kind: str
    segment: int
    line: int = -1


@dataclass(frozen=True)
class SheetLayout:
    """Everything :func:`sheet_layout` placed on a PNG storyboard: the grid, every run of text and
    every marker; ``flags`` are the line flags the sheet shows, in its legend's order."""

    grid: GridLayout
    texts: tuple[TextBox, ...]
    markers: tuple[Marker, ...]
    flags: tuple[str, ...]


@dataclass
class _Row:
    """A row of text before it is placed: items are (text, colour, font, dx from the left edge)."""

    kind: str
    items: list[tuple[str, tuple[int, int, int], Any, int]]
    height: int
    line: int = -1
    squares: list[tuple[int, tuple[int, int, int]]] = field(default_factory=list)  # (dx, colour) of markers


def _segment_flags(seg: Segment, lyrics: Lyrics | None) -> tuple[tuple[str, ...], ...]:
    """The flags of each of ``seg.lines``: those of the timed lyric line with the same text that
    overlaps the segment (each lyric line used once, in time order); () when there is none."""
    if lyrics is None:
        return tuple(() for _ in seg.lines)
    pool = [ln for ln in lyrics.lines if ln.is_timed and ln.start_s < seg.end_s and ln.end_s > seg.start_s]
    out = []
    for text in seg.lines:
        match = next((ln for ln in pool if ln.text.strip() == text.strip()), None)
        if match is not None:
            pool.remove(match)
        out.append(tuple(str(f) for f in match.flags) if match is not None else ())
    return tuple(out)


def _header_rows(seg: Segment, text_w: int) -> list[_Row]:
    """Number, start–end, section and take (when not the first), wrapped; at most 3 rows."""
    tokens = [("", f"{seg.index:02d}"), ("  ", f"{format_clock(seg.start_s)}–"), ("", format_clock(seg.end_s))]
    extra = seg.section + (f"  (take {seg.take})" if seg.take != 1 else "")
    for k, (sep, word) in enumerate(text_words(extra)):
        tokens.append(("  " if k == 0 else sep, word))
    font = text_font(FONT_SIZE, bold=True)
    rows = wrap_text(tokens, font, text_w)
    if len(rows) > 3:
        rows = [*rows[:2], ellipsize(rows[2], font, text_w)]
    return [_Row("header", [(r, _WHITE, font, 0)], row_height(font, r)) for r in rows]


def _lyric_rows(seg: Segment, flags: tuple[tuple[str, ...], ...], text_w: int, size: int) -> list[_Row]:
    """Every lyric line of ``seg``, wrapped (continuation rows indented), each flagged line followed
    by a row naming its flags in their colours; "(instrumental)" without lines."""
    if not seg.lines:
        font = text_font(size)
        return [_Row("instrumental", [("(instrumental)", _GREY, font, MARK_W)], row_height(font, "(instrumental)"))]
    rows: list[_Row] = []
    lyric_w = max(1, text_w - MARK_W)
    for j, (line, line_flags) in enumerate(zip(seg.lines, flags)):
        font = text_font(size)
        wrapped = wrap_text(line, font, lyric_w, rest_width_px=max(1, lyric_w - INDENT)) or [""]
        for k, row in enumerate(wrapped):
            squares = [(0, flag_colour(line_flags[0]))] if line_flags and k == 0 else []
            rows.append(_Row("lyric", [(row, _LYRIC, font, MARK_W + (INDENT if k else 0))], row_height(font, row), j,
                             squares))
        if line_flags:
            fsize = max(10, size - 3)
            x, items, flag_rows = MARK_W + INDENT, [], []
            for flag in line_flags:
                ffont = text_font(fsize)
                name = flag if ffont.getlength(flag) <= text_w - MARK_W - INDENT else ellipsize(
                    flag, ffont, text_w - MARK_W - INDENT, suffix="…")
                w = math.ceil(ffont.getlength(name))
                if items and x + w > text_w:
                    flag_rows.append(items)
                    x, items = MARK_W + INDENT, []
                items.append((name, flag_colour(flag), ffont, x))
                x += w + 10
            flag_rows.append(items)
            for items in flag_rows:
                rows.append(_Row("flag", items, max(row_height(f, t) for t, _, f, _ in items), j))
    return rows


def _prompt_rows(seg: Segment, text_w: int, max_rows: int) -> list[_Row]:
    """The image prompt, wrapped, at most ``max_rows`` rows (the last one ends in " …" when cut)."""
    if not seg.image_prompt.strip() or max_rows < 1:
        return []
    font = text_font(FONT_SIZE)
    rows = wrap_text(seg.image_prompt, font, text_w)
    if len(rows) > max_rows:
        rows = [*rows[:max_rows - 1], ellipsize(rows[max_rows - 1], font, text_w)]
    return [_Row("prompt", [(r, _PROMPT, font, 0)], row_height(font, r)) for r in rows]


def _truncate_lyrics(rows: list[_Row], room_px: int, text_w: int, size: int) -> list[_Row]:
    """As many of the lyric rows as fit ``room_px`` with a last row saying how many lines are left
    out; a line cut after one of its rows ends in " …"."""
    more_font = text_font(size)
    more_h = row_height(more_font, "… +0 more lines")
    kept, used = 0, 0
    while kept < len(rows) and used + rows[kept].height + more_h <= room_px:
        used += rows[kept].height
        kept += 1
    out = rows[:kept]
    shown = {r.line for r in out if r.kind == "lyric"}
    if out and kept < len(rows) and out[-1].kind == "lyric" and rows[kept].kind == "lyric" \
            and rows[kept].line == out[-1].line:
        text, colour, font, dx = out[-1].items[0]
        out[-1] = _Row("lyric", [(ellipsize(text, font, text_w - dx), colour, font, dx)], out[-1].height,
                       out[-1].line, out[-1].squares)
    left = len({r.line for r in rows if r.kind == "lyric"} - shown)
    if left:
        note = f"… +{left} more line{'s' if left > 1 else ''}"
        out.append(_Row("more", [(note, _GREY, more_font, MARK_W)], more_h))
    return out


def _tile_rows(seg: Segment, flags: tuple[tuple[str, ...], ...], text_w: int, room_px: int | None) -> list[_Row]:
    """The rows of a tile's text, fitted into ``room_px`` (None: as much as they need, the prompt at
    most :data:`PROMPT_ROWS` rows). To fit, the prompt gets fewer rows, then the lyrics a smaller
    font; only then are lyric rows left out (:func:`_truncate_lyrics`)."""
    header = _header_rows(seg, text_w)
    head_h = sum(r.height for r in header)
    attempts = [(FONT_SIZE, PROMPT_ROWS)] + [(FONT_SIZE, n) for n in range(PROMPT_ROWS - 1, 0, -1)]
    attempts += [(size, 1) for size in LYRIC_SIZES[1:]]
    for size, n_prompt in attempts:
        lyric = _lyric_rows(seg, flags, text_w, size)
        prompt = _prompt_rows(seg, text_w, n_prompt)
        if room_px is None or head_h + sum(r.height for r in lyric + prompt) <= room_px:
            return header + lyric + prompt
    prompt = _prompt_rows(seg, text_w, 1)
    room = room_px - head_h - sum(r.height for r in prompt)
    return header + _truncate_lyrics(lyric, room, text_w, LYRIC_SIZES[-1]) + prompt


def _box(font: Any, xy: tuple[int, int], text: str) -> tuple[int, int, int, int]:
    left, top, right, bottom = font.getbbox(text)
    return (int(xy[0] + left), int(xy[1] + top), int(xy[0] + right), int(xy[1] + bottom))


def _middle(font: Any, text: str, y: int) -> int:
    """The height of the middle of a capital letter in a row of ``text`` whose top is at ``y``."""
    if isinstance(font, MixedFont) and font.scalable:
        baseline = y + font.getmetrics(text)[0]
        _, top, _, bottom = font.primary.getbbox("H", anchor="ls")
        return int(round(baseline + (top + bottom) / 2))
    return y + getattr(font, "size", FONT_SIZE) // 2


def _place(rows: list[_Row], x: int, y: int, segment: int) -> tuple[list[TextBox], list[Marker]]:
    """Rows stacked from (x, y) down: their text boxes and markers (squares of 9 px, centred on the
    row's ink)."""
    texts: list[TextBox] = []
    markers: list[Marker] = []
    for row in rows:
        for dx, colour in row.squares:
            mid = _middle(row.items[0][2], row.items[0][0], y)
            markers.append(Marker((x + dx, mid - 4, x + dx + 8, mid + 4), colour,
                                  "legend" if row.kind == "legend" else "flag", segment, row.line))
        for text, colour, font, dx in row.items:
            if text:
                xy = (x + dx, y)
                texts.append(TextBox(text, xy, _box(font, xy, text), row.kind, segment, row.line, colour, font))
        y += row.height
    return texts, markers


def _sheet_header(title: str, flags: tuple[str, ...], width: int) -> tuple[list[_Row], int]:
    """The title (at most 3 rows) and, when lines are flagged, a legend of the flags' colours;
    and its height in pixels with padding."""
    room = max(1, width - 2 * GAP)
    bold = text_font(FONT_SIZE, bold=True)
    wrapped = wrap_text(title, bold, room)
    if len(wrapped) > 3:
        wrapped = [*wrapped[:2], ellipsize(wrapped[2], bold, room)]
    rows = [_Row("title", [(r, _TITLE, bold, 0)], row_height(bold, r)) for r in wrapped]
    if flags:
        label = "flagged lyric lines:"
        font = text_font(LEGEND_SIZE)
        if font.getlength(label) > room:
            label = ellipsize(label, font, room, suffix="…")
        row = _Row("legend", [(label, _GREY, font, 0)], row_height(font, label))
        x = math.ceil(font.getlength(label)) + 10
        for flag in flags:
            ffont = text_font(LEGEND_SIZE)
            name = flag if MARK_W + ffont.getlength(flag) <= room else ellipsize(flag, ffont, room - MARK_W,
                                                                                   suffix="…")
            w = MARK_W + math.ceil(ffont.getlength(name))
            if x > 0 and x + w > room:  # the legend goes on in another row
                rows.append(row)
                row, x = _Row("legend", [], 0), 0
            row.squares.append((x, flag_colour(flag)))
            row.items.append((name, flag_colour(flag), ffont, x + MARK_W))
            row.height = max(row.height, row_height(ffont, name))
            x += w + 14
        rows.append(row)
    return rows, 2 * PAD + sum(r.height for r in rows)


def sheet_layout(plan: Plan, *, aspect: float, title: str, lyrics: Lyrics | None = None,
                 tile_width: int = TILE_WIDTH, columns: int | None = None) -> SheetLayout:
    """Where everything goes on a PNG storyboard: the grid, and each run of text and marker.

    Each tile shows its segment's number, ``m:ss.cc`` start–end, section and take, then every lyric
    line (wrapped; a flagged line gets a square in its flag's colour and a row naming its flags),
    then the image prompt. Tiles are as tall as the longest one needs, up to
    :data:`MAX_TEXT_ROWS` rows (or 1.5 thumbnail heights, if more): past that a tile's prompt is
    shortened, its lyrics drawn smaller, and only then are lyric rows left out, with a row saying
    how many lines. Text never leaves its
    tile (or the sheet's header), and no two runs of text overlap.

    Parameters
    ----------
    plan : Plan
        The segments, one tile each.
    aspect : float > 0
        Video width / height.
    title : str
        The sheet's title (wrapped, at most 3 rows).
    lyrics : Lyrics, optional
        Aligned lyrics: the flags of their lines (:func:`mvtimeline.outputs.alignplot.flag_colour`).
    tile_width : int > 0, default 360
        Width of a tile in pixels.
    columns : int >= 1, optional
        Tiles per row (default about square, at most 4).

    Returns
    -------
    SheetLayout

    Raises
    ------
    InputError
        The plan has no segments.
    """
    segs = list(plan.segments)
    if not segs:
        raise InputError("a storyboard needs at least one segment")
    flags_by_seg = [_segment_flags(seg, lyrics) for seg in segs]
    flags = tuple(dict.fromkeys(f for per_line in flags_by_seg for fl in per_line for f in fl))
    probe = grid_layout(len(segs), aspect=aspect, tile_width=tile_width, columns=columns)
    head_rows, head_h = _sheet_header(title, flags, probe.size[0])
    text_w = tile_width - 2 * PAD
    line_h = FONT_SIZE + 4
    natural = max(sum(r.height for r in _tile_rows(seg, fl, text_w, None)) for seg, fl in zip(segs, flags_by_seg))
    cap = max(MAX_TEXT_ROWS * line_h, round(1.5 * probe.thumb_size[1]))  # a wide tile has room for more
    room = min(cap, max(TEXT_LINES * line_h, natural))
    grid = grid_layout(len(segs), aspect=aspect, tile_width=tile_width, columns=columns, text_height=room,
                       header_height=head_h)
    texts, markers = _place(head_rows, GAP, PAD, 0)
    tw, th = grid.thumb_size
    for seg, fl, (x, y) in zip(segs, flags_by_seg, grid.thumbs):
        t, m = _place(_tile_rows(seg, fl, text_w, room), x + PAD, y + th + PAD, seg.index)
        texts += t
        markers += m
        if any(fl):
            colour = flag_colour(next(f[0] for f in fl if f))
            markers.append(Marker((x - 4, y - 4, x + tw + 3, y + grid.tile_size[1] + 3), colour, "outline", seg.index))
    return SheetLayout(grid=grid, texts=tuple(texts), markers=tuple(markers), flags=flags)


def _title(project: Any, plan: Plan) -> str:
    cfg = project.config
    return (f"{project.name} — {len(plan.segments)} segments, {format_clock(plan.duration_s)}, "
            f"{cfg.backend}, {plan.style}")


def storyboard_layout(folder: Path, *, tile_width: int = TILE_WIDTH, columns: int | None = None) -> SheetLayout:
    """The layout (:func:`sheet_layout`) :func:`storyboard` draws a work folder's PNG with.

    Parameters
    ----------
    folder : Path
        A work folder made by ``mvtimeline run`` (its plan, aligned lyrics and project settings are
        read; the clips are not needed).
    tile_width : int > 0, default 360
        Width of a tile in pixels, as given to :func:`storyboard`.
    columns : int >= 1, optional
        Tiles per row, as given to :func:`storyboard`.

    Returns
    -------
    SheetLayout

    Raises
    ------
    InputError
        ``folder`` is not a work folder.
    """
    from ..workfolder import WorkFolder

    project = WorkFolder.open(Path(folder))
    plan = project.load_plan()
    lyrics = project.load_aligned() if project.lyrics else None
    return sheet_layout(plan, aspect=project.config.width / project.config.height, title=_title(project, plan),
                        lyrics=lyrics, tile_width=tile_width, columns=columns)


def _alignment(project: Any, plan: Plan, analysis: Analysis, lyrics: Lyrics | None, width: int) -> Any:
    return draw_alignment(analysis, lyrics, plan, width=width, title=f"{project.name} — alignment and cuts")


def _png(sheet: SheetLayout, plan: Plan, clips: dict[int, tuple[ClipRequest, ClipResult]], strip: Any) -> bytes:
    from PIL import Image, ImageDraw

    grid = sheet.grid
    img = Image.new("RGB", grid.size, _BG)
    draw = ImageDraw.Draw(img)
    tw, th = grid.thumb_size
    for marker in sheet.markers:
        if marker.kind == "outline":
            draw.rectangle(marker.box, outline=marker.colour, width=3)
    for seg, (x, y) in zip(plan.segments, grid.thumbs):
        req, res = clips[seg.index]
        draw.rectangle((x, y, x + tw - 1, y + grid.tile_size[1] - 1), fill=_TILE)
        thumb = Image.fromarray(middle_frame(req, res.path)).resize((tw, th), Image.Resampling.BILINEAR)
        img.paste(thumb, (x, y))
    for marker in sheet.markers:
        if marker.kind != "outline":
            draw.rectangle(marker.box, fill=marker.colour)
    for t in sheet.texts:
        draw_text(draw, t.xy, t.text, t.font, t.colour)
    if strip is not None:  # the alignment under the grid, as wide as the grid
        full = Image.new("RGB", (grid.size[0], grid.size[1] + strip.size[1]), _BG)
        full.paste(img, (0, 0))
        full.paste(strip, (0, grid.size[1]))
        img = full
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ HTML
_CSS = """
body{background:#18181c;color:#e6e6e6;font:14px/1.4 system-ui,sans-serif;margin:16px}
h1{font-size:18px;margin:0 0 12px}
.seg{display:flex;gap:16px;padding:12px 0;border-top:1px solid #333}
.info{flex:0 0 340px}
.info .head{font-weight:bold;font-size:15px}
.lyrics{color:#fadc78;margin:6px 0;white-space:pre-line}
.flag{font-size:12px}
.prompt{color:#b0b9c8;margin:4px 0}
.label{color:#888}
.takes{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;border:3px solid transparent;border-radius:4px}
figure.chosen{border-color:#4caf50}
figcaption{font-size:12px;color:#aaa;padding:2px 4px}
figure.chosen figcaption{color:#8fdc92;font-weight:bold}
img{display:block}
"""


def _png_data_uri(img: Any) -> str:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _jpeg_data_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=JPEG_QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _html(project: Any, plan: Plan, clips: dict[int, tuple[ClipRequest, ClipResult]],
          takes: dict[int, list[ClipResult]], strip: Any, lyrics: Lyrics | None) -> str:
    e = html.escape
    cfg = project.config
    rows = []
    for seg in plan.segments:
        req, chosen = clips[seg.index]
        figures = []
        for res in takes.get(seg.index) or [chosen]:
            is_chosen = res.take == chosen.take
            uri = _jpeg_data_uri(middle_frame(req, res.path, width=HTML_THUMB_WIDTH))
            caption = f"take {res.take}" + (" ✓ chosen" if is_chosen else "")
            figures.append(
                f'<figure class="{"take chosen" if is_chosen else "take"}" data-take="{res.take}">'
                f'<img src="{uri}" width="{HTML_THUMB_WIDTH}" alt="segment {seg.index} take {res.take}">'
                f"<figcaption>{e(caption)}</figcaption></figure>"
            )
        flags = _segment_flags(seg, lyrics)
        lyric_html = "\n".join(
            e(line) + "".join(f' <span class="flag" style="color:#{"%02x%02x%02x" % flag_colour(f)}">⚑ {e(f)}</span>'
                              for f in fl)
            for line, fl in zip(seg.lines, flags)) if seg.lines else "(instrumental)"
        prompts = [("image", seg.image_prompt), ("motion", seg.motion_prompt), ("negative", seg.negative_prompt)]
        prompt_html = "".join(
            f'<div class="prompt"><span class="label">{name}:</span> {e(text)}</div>' for name, text in prompts if text
        )
        rows.append(
            f'<section class="seg" id="segment-{seg.index}"><div class="info">'
            f'<div class="head">{seg.index:02d} · {e(_time_range(seg))} · {e(seg.section)}</div>'
            f'<div class="lyrics">{lyric_html}</div>{prompt_html}'
            f'<div class="label">seed {seg.seed} · chosen take {chosen.take}</div></div>'
            f'<div class="takes">{"".join(figures)}</div></section>'
        )
    title = f"{project.name} — storyboard"
    summary = (f"{len(plan.segments)} segments · {format_clock(plan.duration_s)} · {cfg.width}x{cfg.height} · "
               f"backend {cfg.backend} · style {plan.style}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{e(title)}</h1><p class=\"label\">{e(summary)}</p>\n" + "\n".join(rows)
        + (f'\n<section class="alignment"><img src="{_png_data_uri(strip)}" width="{strip.size[0]}" '
           f'alt="alignment and cuts"></section>' if strip is not None else "")
        + "\n</body></html>\n"
    )


# --------------------------------------------------------------------------------------------- API
def storyboard(folder: Path, out: Path, *, tile_width: int = TILE_WIDTH, columns: int | None = None) -> Path:
    """Write the storyboard of a work folder as a PNG grid or an HTML page.

    Parameters
    ----------
    folder : Path
        A work folder made by ``mvtimeline run`` whose clips have been generated.
    out : Path
        ``.png``: one tile per segment (a frame from the middle of the segment in its chosen take,
        ``m:ss.cc–m:ss.cc``, section, every lyric line, flagged lines marked, image prompt), in a
        grid (:func:`sheet_layout`). ``.html``: a self-contained page (JPEG thumbnails embedded
        as base64), one row per segment with every generated take side by side (the chosen one
        marked), the times, section, lyric lines and their flags, prompts and seed. Written
        atomically.
    tile_width : int > 0, default 360
        PNG only: width of a tile in pixels.
    columns : int >= 1, optional
        PNG only: tiles per row (default about square, at most 4).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        ``out`` has another suffix (the message lists .png and .html); ``folder`` is not a work
        folder; no clips have been generated yet (run ``mvtimeline generate`` first); a chosen
        take is missing; a clip cannot be read.
    OutputError
        ``out`` cannot be written.
    """
    from .. import pipeline
    from ..workfolder import WorkFolder

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in STORYBOARD_FORMATS:
        raise InputError(
            f"{out}: unknown storyboard format {out.suffix or '(no suffix)'!r}; known: {', '.join(STORYBOARD_FORMATS)}"
        )
    if not isinstance(tile_width, int) or tile_width < 32:
        raise InputError(f"tile_width {tile_width!r} must be an integer of at least 32 px")
    if columns is not None and (not isinstance(columns, int) or columns < 1):
        raise InputError(f"columns {columns!r} must be a positive integer")
    project = WorkFolder.open(Path(folder))
    if not project.clips_dir.is_dir() or not any(project.clips_dir.glob("*/take-*.mp4")):
        raise InputError(f"{folder}: no clips generated yet; run 'mvtimeline generate {folder}' first")
    plan = project.load_plan()
    analysis = project.load_analysis()
    clips = pipeline.chosen_clips(project, plan, analysis)
    lyrics = project.load_aligned() if project.lyrics else None
    log.info("storyboard of %s: %d segments → %s", folder, len(plan.segments), out)
    try:
        if suffix == ".png":
            sheet = sheet_layout(plan, aspect=project.config.width / project.config.height,
                                 title=_title(project, plan), lyrics=lyrics, tile_width=tile_width, columns=columns)
            data: bytes | str = _png(sheet, plan, clips,
                                     _alignment(project, plan, analysis, lyrics, sheet.grid.size[0]))
        else:
            data = _html(project, plan, clips, project.all_takes(clips),
                         _alignment(project, plan, analysis, lyrics, HTML_ALIGN_WIDTH), lyrics)
    except (OSError, ValueError) as exc:
        raise RunError(f"{out}: cannot draw the storyboard ({exc})") from None
    return atomic_write(out, data)
