"""A picture of the alignment: what the voice does, where each lyric line and word was put, where
the plan cuts, all on one time axis, to look at before spending GPU hours on the clips.

The song is drawn as rows of :data:`ROW_S` seconds, each row (top to bottom):

- the voice curve (the analysis' vocal activity, filled) with its threshold, vocal gaps shaded;
- the lyric lines as bars (colour by how they were timed, hatched grey when under the confidence
  floor, red when flagged over an instrumental stretch) with their text, and a tick per word;
- the plan's cuts as vertical lines through the row, coloured by why they are there (between
  lines, word gap, forced), with beats as small ticks on the axis.

Public: plot_alignment, draw_alignment, PLOT_FORMATS, CUT_COLOURS, cut_colour, ROW_S, ROW_H, WIDTH, MARGIN_L,
MARGIN_R, HEADER_H.
"""

from __future__ import annotations

import io
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError, RunError
from .fileio import atomic_write
from .media import format_time, load_font
from .types import Analysis, Lyrics, Plan

__all__ = ["plot_alignment", "draw_alignment", "PLOT_FORMATS", "CUT_COLOURS", "cut_colour", "ROW_S", "ROW_H", "WIDTH", "MARGIN_L",
           "MARGIN_R", "HEADER_H"]

log = logging.getLogger(__name__)

#: Output suffixes :func:`plot_alignment` writes.
PLOT_FORMATS = (".png",)
#: Seconds of song per row; pixels per row of picture and width of the picture.
ROW_S = 30.0
ROW_H = 150
WIDTH = 1800
MARGIN_L = 70
MARGIN_R = 20
HEADER_H = 56
FONT_SIZE = 13

_BG = (250, 250, 252)
_VOICE = (90, 140, 220)
_GAP = (255, 236, 200)
_THRESH = (40, 80, 160)
_LINE_FILL = {"file": (120, 190, 120), "aligned": (110, 170, 230), "interim": (235, 180, 90)}
_LOW = (190, 190, 190)
_FLAGGED = (230, 110, 110)
_WORD = (30, 30, 30)
#: The colour of a cut by its reason (``""``: a bound the user set; ``"phrase (4 bars)"`` is a phrase).
CUT_COLOURS = {"line gap": (20, 150, 60), "section": (40, 90, 210), "phrase": (150, 60, 190),
               "downbeat": (150, 60, 190), "word gap": (230, 140, 0), "model length": (90, 90, 90),
               "forced": (210, 30, 30), "": (120, 120, 120)}
_OLD_REASONS = {"between lines": "line gap"}  # plans made before the reasons had these names


def cut_colour(reason: str) -> tuple[int, int, int]:
    """The colour a cut of ``reason`` is drawn in (:data:`CUT_COLOURS`)."""
    reason = _OLD_REASONS.get(reason, reason)
    return CUT_COLOURS.get(reason.split(" (")[0], CUT_COLOURS[""])
_TEXT = (30, 30, 35)


def _gaps(analysis: Analysis) -> list[tuple[float, float]]:
    """The stretches between the analysis' vocal regions (where nobody sings)."""
    out, prev = [], 0.0
    for a, b in analysis.vocal_regions_s:
        if a > prev:
            out.append((prev, a))
        prev = max(prev, b)
    if analysis.duration_s > prev:
        out.append((prev, analysis.duration_s))
    return out


def draw_alignment(analysis: Analysis, lyrics: Lyrics | None = None, plan: Plan | None = None, *,
                   title: str = "", min_confidence: float = 0.35,
                   width: int = WIDTH) -> Any:
    """Draw the alignment picture and return it as a PIL image.

    Parameters
    ----------
    analysis : Analysis
        The song's analysis (voice curve, vocal regions, beats).
    lyrics : Lyrics, optional
        Timed lyrics (lines and words drawn); untimed lines are left out; lines flagged
        ``"over instrumental"`` are drawn red.
    plan : Plan, optional
        The plan whose cuts are drawn (each segment's start but the first, by its ``cut`` reason).
    title : str
        Drawn at the top with the legend.
    min_confidence : float
        Aligned lines under this confidence are drawn grey.
    width : int
        Picture width in pixels.

    Returns
    -------
    PIL.Image.Image
    """
    from PIL import Image, ImageDraw

    from .audio import voice_threshold

    duration = float(analysis.duration_s)
    n_rows = max(1, math.ceil(duration / ROW_S))
    height = HEADER_H + n_rows * ROW_H + 10
    img = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(img)
    font = load_font(FONT_SIZE)
    bold = load_font(FONT_SIZE + 2, bold=True)
    span_px = width - MARGIN_L - MARGIN_R

    draw.text((MARGIN_L, 6), title or "alignment", font=bold, fill=_TEXT)
    legend = [("voice", _VOICE), ("gap", _GAP), ("line (file)", _LINE_FILL["file"]),
              ("line (aligned)", _LINE_FILL["aligned"]), ("line (interim)", _LINE_FILL["interim"]),
              ("low confidence", _LOW), ("over instrumental", _FLAGGED)]
    legend += [(f"cut: {name}", CUT_COLOURS[key]) for key, name in (
        ("line gap", "line gap"), ("section", "section"), ("phrase", "phrase / downbeat"), ("word gap", "word gap"),
        ("model length", "model length"), ("forced", "forced"))]
    x, y = MARGIN_L, 25
    for name, colour in legend:
        w = 16 + int(font.getlength(name)) + 14
        if x + w > width - MARGIN_R:  # the legend goes on in a second row
            x, y = MARGIN_L, 41
        draw.rectangle((x, y + 1, x + 12, y + 13), fill=colour, outline=(80, 80, 80))
        draw.text((x + 16, y), name, font=font, fill=_TEXT)
        x += w

    va = np.asarray(analysis.vocal_activity, dtype=float)
    thr = voice_threshold(va) if va.size else 0.5
    hop = analysis.hop_s
    gaps = _gaps(analysis)
    lines = [(i, ln) for i, ln in enumerate(lyrics.lines) if ln.is_timed] if lyrics else []
    cuts = [(s.start_s, s.cut) for s in plan.segments[1:]] if plan else []

    for r in range(n_rows):
        t0 = r * ROW_S
        t1 = t0 + ROW_S
        top = HEADER_H + r * ROW_H
        voice_top, voice_bot = top + 6, top + 62
        lines_top = voice_bot + 8
        axis_y = top + ROW_H - 22

        def px(t: float, t0: float = t0) -> float:
            return MARGIN_L + (t - t0) / ROW_S * span_px

        draw.text((6, top + 4), format_time(t0), font=font, fill=_TEXT)
        end_px = px(min(t1, duration))
        for a, b in gaps:
            if b > t0 and a < t1:
                draw.rectangle((px(max(a, t0)), voice_top, px(min(b, t1)), voice_bot), fill=_GAP)
        if va.size:
            i0, i1 = int(t0 / hop), min(va.size, int(math.ceil(min(t1, duration) / hop)) + 1)
            if i1 - i0 >= 2:
                pts = [(px(k * hop), voice_bot - float(np.clip(va[k], 0, 1)) * (voice_bot - voice_top))
                       for k in range(i0, i1)]
                draw.polygon([(pts[0][0], voice_bot), *pts, (pts[-1][0], voice_bot)], fill=_VOICE)
            ty = voice_bot - thr * (voice_bot - voice_top)
            draw.line((MARGIN_L, ty, end_px, ty), fill=_THRESH, width=1)
        draw.rectangle((MARGIN_L, voice_top, end_px, voice_bot), outline=(160, 160, 170))

        # lines: alternate two lanes so neighbours' text does not overlap
        for lane, (i, ln) in enumerate(lines):
            a, b = float(ln.start_s), float(ln.end_s)
            if b <= t0 or a >= t1:
                continue
            y0 = lines_top + (i % 2) * 26
            if "over instrumental" in ln.flags:
                colour = _FLAGGED
            elif ln.source == "aligned" and ln.confidence < min_confidence or ln.source == "interim":
                colour = _LOW if ln.source == "aligned" else _LINE_FILL["interim"]
            else:
                colour = _LINE_FILL.get(ln.source, _LOW)
            x0, x1 = px(max(a, t0)), px(min(b, t1))
            draw.rectangle((x0, y0, max(x0 + 1, x1), y0 + 22), fill=colour, outline=(90, 90, 90))
            for w in ln.words:
                if w.start_s is not None and t0 <= w.start_s < t1:
                    wx = px(w.start_s)
                    draw.line((wx, y0, wx, y0 + 6), fill=_WORD, width=1)
            if a >= t0:
                label = ln.text
                room = max(0.0, px(min(t1, duration)) - x0 - 4)
                while label and font.getlength(label) > room:
                    label = label[:-1]
                draw.text((x0 + 3, y0 + 7), label, font=font, fill=_TEXT)

        # beats and time axis
        draw.line((MARGIN_L, axis_y, end_px, axis_y), fill=(100, 100, 100))
        for bt in analysis.beat_times_s:
            if t0 <= bt < t1:
                draw.line((px(bt), axis_y, px(bt), axis_y + 4), fill=(120, 120, 120))
        for s in range(int(t0), int(min(t1, duration)) + 1, 5):
            draw.line((px(s), axis_y, px(s), axis_y + 9), fill=(60, 60, 60))
            draw.text((px(s) + 2, axis_y + 6), format_time(s), font=font, fill=(90, 90, 90))
        for t, why in cuts:
            if t0 <= t < t1:
                cx = px(t)
                draw.line((cx, voice_top - 2, cx, axis_y), fill=cut_colour(why), width=2)
    return img


def plot_alignment(out: Path, analysis: Analysis, lyrics: Lyrics | None = None, plan: Plan | None = None,
                   **kwargs: Any) -> Path:
    """Write :func:`draw_alignment`'s picture to ``out`` (PNG, atomically).

    Raises
    ------
    InputError
        ``out`` does not end in .png.
    RunError
        The picture cannot be drawn.
    OutputError
        ``out`` cannot be written.
    """
    out = Path(out)
    if out.suffix.lower() not in PLOT_FORMATS:
        raise InputError(f"{out}: the alignment plot is written as PNG; name it *.png")
    try:
        img = draw_alignment(analysis, lyrics, plan, **kwargs)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
    except (OSError, ValueError) as exc:
        raise RunError(f"{out}: cannot draw the alignment ({exc})") from None
    log.info("alignment plot → %s", out)
    return atomic_write(out, buf.getvalue())
