"""A storyboard of a work folder: one picture per segment, to review a video before editing it.

- :func:`storyboard` — write ``out.png`` (a grid of tiles: a frame from the middle of each
  segment's chosen take, its time range, section, first lyric line and image prompt) or
  ``out.html`` (a self-contained page, one row per segment with every take side by side, the
  chosen one marked, and the times, section, lyric lines, prompts and seed). Both end with the
  alignment picture (:func:`mvtimeline.alignplot.draw_alignment`: voice curve, gaps, lines, word
  ticks and the plan's cuts on one time axis).
- :func:`grid_layout` — where the tiles of a PNG storyboard go.
- :func:`middle_frame` — the RGB frame from the middle of a segment in a clip.

Public: storyboard, grid_layout, GridLayout, middle_frame, STORYBOARD_FORMATS.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .alignplot import draw_alignment
from .errors import InputError, RunError
from .fileio import atomic_write
from .media import format_time, load_font
from .types import Analysis, ClipRequest, ClipResult, Lyrics, Plan, Segment

__all__ = [
    "storyboard",
    "grid_layout",
    "GridLayout",
    "middle_frame",
    "STORYBOARD_FORMATS",
]

log = logging.getLogger(__name__)

#: Output suffixes :func:`storyboard` writes.
STORYBOARD_FORMATS = (".png", ".html")

TILE_WIDTH = 360  # px, one PNG tile (and its thumbnail)
GAP = 16  # px between tiles and around the grid
PAD = 8  # px inside a tile, around the text
FONT_SIZE = 15
TEXT_LINES = 7  # text rows under each thumbnail: 1 header, 2 lyric, 4 prompt
HTML_THUMB_WIDTH = 320  # px, thumbnails in the HTML page
JPEG_QUALITY = 82
HTML_ALIGN_WIDTH = 1400  # px, the alignment picture at the end of the HTML page


def _time_range(seg: Segment) -> str:
    return f"{format_time(seg.start_s)}–{format_time(seg.end_s)}"


# ------------------------------------------------------------------------------------------ frames
def _middle_index(req: ClipRequest) -> int:
    body = max(1, req.n_frames - req.head_frames - req.tail_frames)
    return min(req.n_frames - 1, req.head_frames + body // 2)


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
    from .media import frame_at

    try:
        return frame_at(clip, float(Fraction(_middle_index(req)) / req.fps), fps=req.fps, width=width)
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
    line_height: int = FONT_SIZE + 4,
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

    Returns
    -------
    GridLayout

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
    tile_h = thumb_h + 2 * PAD + TEXT_LINES * line_height
    header = line_height + 2 * PAD
    width = cols * tile_width + (cols + 1) * GAP
    height = header + rows * tile_h + (rows + 1) * GAP
    thumbs = tuple(
        (GAP + (i % cols) * (tile_width + GAP), header + GAP + (i // cols) * (tile_h + GAP)) for i in range(n_tiles)
    )
    return GridLayout(columns=cols, rows=rows, tile_size=(tile_width, tile_h), thumb_size=(tile_width, thumb_h),
                      size=(width, height), header_height=header, thumbs=thumbs)


def _wrap(text: str, font: Any, width_px: float, max_lines: int) -> list[str]:
    """Greedy word wrap by rendered width; the last line gets an ellipsis when text is left over."""
    words = text.split()
    lines: list[str] = []
    current = ""
    i = 0
    while i < len(words) and len(lines) < max_lines:
        trial = f"{current} {words[i]}".strip()
        if font.getlength(trial) <= width_px or not current:
            current = trial
            i += 1
            if font.getlength(current) > width_px:  # one word wider than the line: cut it
                while len(current) > 1 and font.getlength(current + "…") > width_px:
                    current = current[:-1]
                current += "…"
        else:
            lines.append(current)
            current = ""
    if current and len(lines) < max_lines:
        lines.append(current)
    if i < len(words) and lines:
        last = lines[-1]
        while last and font.getlength(last + " …") > width_px:
            last = last[:-1].rstrip()
        lines[-1] = (last + " …").strip()
    return lines


def _alignment(project: Any, plan: Plan, analysis: Analysis, lyrics: Lyrics | None, width: int) -> Any:
    return draw_alignment(analysis, lyrics, plan, width=width, title=f"{project.name} — alignment and cuts")


def _png(project: Any, plan: Plan, clips: dict[int, tuple[ClipRequest, ClipResult]], strip: Any, *,
         tile_width: int, columns: int | None) -> bytes:
    from PIL import Image, ImageDraw

    cfg = project.config
    segs = list(plan.segments)
    layout = grid_layout(len(segs), aspect=cfg.width / cfg.height, tile_width=tile_width, columns=columns)
    font = load_font(FONT_SIZE)
    bold = load_font(FONT_SIZE, bold=True)
    line_h = FONT_SIZE + 4
    sheet = Image.new("RGB", layout.size, (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    title = f"{project.name} — {len(segs)} segments, {format_time(plan.duration_s)}, {cfg.backend}, {plan.style}"
    draw.text((GAP, PAD), _wrap(title, bold, layout.size[0] - 2 * GAP, 1)[0], font=bold, fill=(235, 235, 235))
    tw, th = layout.thumb_size
    text_w = tw - 2 * PAD
    for seg, (x, y) in zip(segs, layout.thumbs):
        req, res = clips[seg.index]
        draw.rectangle((x, y, x + tw - 1, y + layout.tile_size[1] - 1), fill=(40, 40, 46))
        thumb = Image.fromarray(middle_frame(req, res.path)).resize((tw, th), Image.Resampling.BILINEAR)
        sheet.paste(thumb, (x, y))
        ty = y + th + PAD
        header = f"{seg.index:02d}  {_time_range(seg)}  {seg.section}"
        if res.take != 1:
            header += f"  (take {res.take})"
        draw.text((x + PAD, ty), _wrap(header, bold, text_w, 1)[0], font=bold, fill=(255, 255, 255))
        ty += line_h
        lyric = seg.lines[0] if seg.lines else "(instrumental)"
        for row in _wrap(lyric, font, text_w, 2):
            draw.text((x + PAD, ty), row, font=font, fill=(250, 220, 120) if seg.lines else (150, 150, 150))
            ty += line_h
        ty = y + th + PAD + 3 * line_h
        for row in _wrap(seg.image_prompt, font, text_w, TEXT_LINES - 3):
            draw.text((x + PAD, ty), row, font=font, fill=(175, 185, 200))
            ty += line_h
    if strip is not None:  # the alignment under the grid, as wide as the grid
        full = Image.new("RGB", (layout.size[0], layout.size[1] + strip.size[1]), (24, 24, 28))
        full.paste(sheet, (0, 0))
        full.paste(strip, (0, layout.size[1]))
        sheet = full
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------ HTML
_CSS = """
body{background:#18181c;color:#e6e6e6;font:14px/1.4 system-ui,sans-serif;margin:16px}
h1{font-size:18px;margin:0 0 12px}
.seg{display:flex;gap:16px;padding:12px 0;border-top:1px solid #333}
.info{flex:0 0 340px}
.info .head{font-weight:bold;font-size:15px}
.lyrics{color:#fadc78;margin:6px 0;white-space:pre-line}
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
          takes: dict[int, list[ClipResult]], strip: Any) -> str:
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
        lyrics = "\n".join(seg.lines) if seg.lines else "(instrumental)"
        prompts = [("image", seg.image_prompt), ("motion", seg.motion_prompt), ("negative", seg.negative_prompt)]
        prompt_html = "".join(
            f'<div class="prompt"><span class="label">{name}:</span> {e(text)}</div>' for name, text in prompts if text
        )
        rows.append(
            f'<section class="seg" id="segment-{seg.index}"><div class="info">'
            f'<div class="head">{seg.index:02d} · {e(_time_range(seg))} · {e(seg.section)}</div>'
            f'<div class="lyrics">{e(lyrics)}</div>{prompt_html}'
            f'<div class="label">seed {seg.seed} · chosen take {chosen.take}</div></div>'
            f'<div class="takes">{"".join(figures)}</div></section>'
        )
    title = f"{project.name} — storyboard"
    summary = (f"{len(plan.segments)} segments · {format_time(plan.duration_s)} · {cfg.width}x{cfg.height} · "
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
        ``mm:ss–mm:ss``, section, first lyric line, image prompt), in a grid (:func:`grid_layout`).
        ``.html``: a self-contained page (JPEG thumbnails embedded as base64), one row per segment
        with every generated take side by side (the chosen one marked), the times, section, lyric
        lines, prompts and seed. Written atomically.
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
    from . import pipeline
    from .workfolder import WorkFolder

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
            width = grid_layout(len(plan.segments), aspect=project.config.width / project.config.height,
                                tile_width=tile_width, columns=columns).size[0]
            data: bytes | str = _png(project, plan, clips, _alignment(project, plan, analysis, lyrics, width),
                                     tile_width=tile_width, columns=columns)
        else:
            data = _html(project, plan, clips, project.all_takes(clips),
                         _alignment(project, plan, analysis, lyrics, HTML_ALIGN_WIDTH))
    except (OSError, ValueError) as exc:
        raise RunError(f"{out}: cannot draw the storyboard ({exc})") from None
    return atomic_write(out, data)
