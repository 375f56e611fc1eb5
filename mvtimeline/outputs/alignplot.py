"""A picture of the alignment: what the voice does, where each lyric line and word was put, where
the plan cuts, all on one time axis, to look at before spending GPU hours on the clips.

The song is drawn as rows of :data:`ROW_S` seconds, each row (top to bottom):

- the voice curve (the analysis' vocal activity, filled) with its threshold, vocal gaps shaded;
- the lyric lines as bars (colour by how they were timed, grey when under the confidence floor)
  with their text (cut where the next bar in the same lane starts), and a tick per word; a line the
  aligner flagged (``Line.flags``: "over instrumental", "unsure", "too short"...) is hatched and
  outlined in its flag's colour (:func:`flag_colour`), and each flag present gets a legend entry;
- the plan's cuts as vertical lines through the row, coloured by why they are there (between
  lines, word gap, forced), with beats as small ticks on the axis.

The header (title and legend) wraps onto as many rows as the width needs
(:func:`header_height`); the time axis labels only as many ticks as have room.

Text helpers shared with the storyboard: :func:`text_font` (a :class:`MixedFont`: the standard
font, and for characters it lacks, CJK included, an installed font that has them) drawn with
:func:`draw_text`; :func:`wrap_text`, :func:`ellipsize`, :func:`text_words`, :func:`row_height`.

Public: plot_alignment, draw_alignment, header_height, header_layout, HeaderLayout, PLOT_FORMATS,
CUT_COLOURS, cut_colour, flag_colour, FLAG_COLOURS, line_flags, MixedFont, text_font, draw_text,
row_height, text_words, wrap_text, ellipsize, ROW_S, ROW_H, WIDTH, MARGIN_L, MARGIN_R, HEADER_H.
"""

from __future__ import annotations

import io
import logging
import math
import re
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..errors import InputError, RunError
from ..fileio import atomic_write
from ..media import load_font
from ..timecode import format_time
from ..types import Analysis, Lyrics, Plan

__all__ = ["plot_alignment", "draw_alignment", "header_height", "header_layout", "HeaderLayout", "PLOT_FORMATS",
           "CUT_COLOURS", "cut_colour", "flag_colour", "FLAG_COLOURS", "line_flags", "MixedFont", "text_font",
           "draw_text", "row_height", "text_words", "wrap_text", "ellipsize", "ROW_S", "ROW_H", "WIDTH", "MARGIN_L",
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
HEADER_H = 58
FONT_SIZE = 13

_BG = (250, 250, 252)
_VOICE = (90, 140, 220)
_GAP = (255, 236, 200)
_THRESH = (40, 80, 160)
_LINE_FILL = {"file": (120, 190, 120), "aligned": (110, 170, 230), "interim": (235, 180, 90)}
_LOW = (190, 190, 190)
_WORD = (30, 30, 30)
#: The colour of a cut by its reason (``""``: a bound the user set; ``"phrase (4 bars)"`` is a phrase).
CUT_COLOURS = {"line gap": (20, 150, 60), "section": (40, 90, 210), "phrase": (150, 60, 190),
               "downbeat": (150, 60, 190), "word gap": (230, 140, 0), "model length": (90, 90, 90),
               "forced": (210, 30, 30), "": (120, 120, 120)}
_OLD_REASONS = {"between lines": "line gap"}  # plans made before the reasons had these names
#: The colour of a line flag (:data:`mvtimeline.types.LINE_FLAGS`) where it is known; any other flag
#: gets one of :data:`_OTHER_FLAG_COLOURS`, always the same for the same name (:func:`flag_colour`).
FLAG_COLOURS = {"over instrumental": (235, 70, 70), "unsure": (240, 150, 30), "too short": (0, 185, 175),
                "too long": (190, 90, 235)}
_OTHER_FLAG_COLOURS = ((235, 95, 170), (150, 200, 40), (70, 160, 240), (210, 130, 70), (160, 160, 230))
_TEXT = (30, 30, 35)


def cut_colour(reason: str) -> tuple[int, int, int]:
    """The colour a cut of ``reason`` is drawn in (:data:`CUT_COLOURS`)."""
    reason = _OLD_REASONS.get(reason, reason)
    return CUT_COLOURS.get(reason.split(" (")[0], CUT_COLOURS[""])


def flag_colour(flag: str) -> tuple[int, int, int]:
    """The colour a lyric line's flag is marked in, here and on the storyboard.

    Parameters
    ----------
    flag : str
        Any flag name (``Line.flags``); a name not in :data:`FLAG_COLOURS` gets a colour of its own
        picked from a fixed palette by a checksum of the name, so it is the same on every picture.

    Returns
    -------
    tuple of 3 int
        RGB, 0..255; readable on the light plot and on the dark storyboard tiles.

    Examples
    --------
    >>> flag_colour("over instrumental")
    (235, 70, 70)
    >>> flag_colour("made up") == flag_colour("made up")
    True
    """
    if flag in FLAG_COLOURS:
        return FLAG_COLOURS[flag]
    return _OTHER_FLAG_COLOURS[zlib.crc32(flag.encode("utf-8")) % len(_OTHER_FLAG_COLOURS)]


def line_flags(lyrics: Lyrics | None) -> tuple[str, ...]:
    """The distinct flags of ``lyrics``' lines, in the order they first appear (empty without lyrics)."""
    seen: dict[str, None] = {}
    for ln in lyrics.lines if lyrics else ():
        for flag in ln.flags:
            seen.setdefault(str(flag), None)
    return tuple(seen)


# ------------------------------------------------------------------------------------------- text
#: Fonts tried, in order, for text the standard font (:func:`mvtimeline.media.load_font`) has no glyphs
#: for (Chinese, Japanese, Korean lyrics...); then whatever fontconfig lists for the missing characters.
_FALLBACK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/droid/DroidSansFallback.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/Hiragino Sans GB.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/YuGothM.ttc",
    "C:/Windows/Fonts/malgun.ttf",
)
_NO_SUCH_CHAR = "\u0378"  # unassigned: every font draws its "missing glyph" box for it
_fonts: dict[tuple[str | None, int, bool], Any] = {}
_glyph_cache: dict[tuple[int, str], bool] = {}
_fc_cache: dict[str, tuple[str, ...]] = {}


def _font_at(path: str | None, size: int, bold: bool = False) -> Any:
    """The standard font (``path`` None) or the font file at ``path``, ``size`` px; None if unreadable."""
    key = (path, size, bold)
    if key not in _fonts:
        if path is None:
            _fonts[key] = load_font(size, bold=bold)
        else:
            from PIL import ImageFont

            try:
                _fonts[key] = ImageFont.truetype(path, size)
            except OSError:
                _fonts[key] = None
    return _fonts[key]


def _mask_signature(font: Any, ch: str) -> tuple[Any, bytes]:
    mask = font.getmask(ch)
    return mask.size, bytes(mask)


def _has_glyph(font: Any, ch: str) -> bool:
    """Whether ``font`` draws ``ch`` as itself rather than as its missing-glyph box."""
    key = (id(font), ch)
    if key not in _glyph_cache:
        try:
            _glyph_cache[key] = _mask_signature(font, ch) != _mask_signature(font, _NO_SUCH_CHAR)
        except (OSError, ValueError):  # a bitmap font that cannot encode the character
            _glyph_cache[key] = False
    return _glyph_cache[key]


def _fontconfig_files(ch: str) -> tuple[str, ...]:
    """Font files fontconfig says have ``ch`` (empty without ``fc-list``)."""
    if ch not in _fc_cache:
        import shutil
        import subprocess

        files: tuple[str, ...] = ()
        if shutil.which("fc-list"):
            try:
                proc = subprocess.run(["fc-list", f":charset={ord(ch):x}", "file"], capture_output=True,
                                      text=True, timeout=10, check=False)
                files = tuple(sorted({ln.strip().rstrip(":") for ln in proc.stdout.splitlines() if ln.strip()},
                                     key=lambda f: ("sans" not in f.lower(), f)))
            except (OSError, subprocess.SubprocessError):
                files = ()
        _fc_cache[ch] = files
    return _fc_cache[ch]


class MixedFont:
    """Text of one size drawn with the standard font (:func:`mvtimeline.media.load_font`, DejaVu
    Sans) and, for each character it has no glyph for (Chinese, Japanese, Korean...), the first
    installed font that has it: the known CJK fonts (Noto Sans CJK, WenQuanYi, Droid Sans
    Fallback...), then those fontconfig lists for the character. A character no font has is drawn
    with the standard font (a box); nothing fails.

    Measures like a PIL font (:meth:`getlength`, :meth:`getbbox`, with ``xy`` the top left of the
    text) and is drawn with :func:`draw_text`; :meth:`runs` says which PIL font draws which part.
    Get one with :func:`text_font`. ``scalable`` is False when the standard font is PIL's bitmap
    font (no DejaVu, old Pillow): then it is used alone.
    """

    def __init__(self, size: int, bold: bool = False) -> None:
        from PIL import ImageFont

        self.size = size
        self.bold = bold
        self.primary = _font_at(None, size, bold)
        self.scalable = isinstance(self.primary, ImageFont.FreeTypeFont)
        self._by_char: dict[str, Any] = {}

    def _font_of(self, ch: str) -> Any:
        if ch not in self._by_char:
            font = self.primary
            if self.scalable and ch.isprintable() and not ch.isspace() and not _has_glyph(self.primary, ch):
                for path in (*_FALLBACK_FONTS, *_fontconfig_files(ch)):
                    other = _font_at(path, self.size)
                    if other is not None and _has_glyph(other, ch):
                        font = other
                        break
                else:
                    log.debug("no installed font draws %r; drawn with the standard font", ch)
            self._by_char[ch] = font
        return self._by_char[ch]

    def runs(self, text: str) -> list[tuple[str, Any]]:
        """``text`` cut into (part, PIL font) runs, each drawn with one font (spaces join the run
        they are in)."""
        out: list[tuple[str, Any]] = []
        for ch in text:
            font = out[-1][1] if out and ch.isspace() else self._font_of(ch)
            if out and out[-1][1] is font:
                out[-1] = (out[-1][0] + ch, font)
            else:
                out.append((ch, font))
        return out

    def getmetrics(self, text: str = "") -> tuple[int, int]:
        """(ascent, descent) in pixels: the largest of the fonts that draw ``text`` (and the standard one)."""
        fonts = {id(f): f for _, f in self.runs(text)}
        fonts[id(self.primary)] = self.primary
        if not self.scalable:
            box = self.primary.getbbox("Hg")
            return box[3], 0
        metrics = [f.getmetrics() for f in fonts.values()]
        return max(a for a, _ in metrics), max(d for _, d in metrics)

    def getlength(self, text: str) -> float:
        """Advance width of ``text`` in pixels."""
        return float(sum(font.getlength(part) for part, font in self.runs(text)))

    def layout(self, xy: tuple[float, float], text: str) -> list[tuple[tuple[float, float], str, Any]]:
        """Where each run of ``text`` drawn with its top left at ``xy`` goes: (point, part, PIL font),
        the point being the left end of the run's baseline (PIL anchor ``"ls"``); for a font
        without anchors (a bitmap font), the top left."""
        if not self.scalable:
            return [(xy, text, self.primary)]
        baseline = xy[1] + self.getmetrics(text)[0]
        out, x = [], float(xy[0])
        for part, font in self.runs(text):
            out.append(((x, baseline), part, font))
            x += font.getlength(part)
        return out

    def getbbox(self, text: str) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the ink of ``text`` drawn with its top left at (0, 0)."""
        boxes = []
        for (x, y), part, font in self.layout((0, 0), text):
            if not self.scalable:
                boxes.append(font.getbbox(part))
                continue
            left, top, right, bottom = font.getbbox(part, anchor="ls")
            boxes.append((x + left, y + top, x + right, y + bottom))
        if not boxes:
            return (0, 0, 0, 0)
        return (int(math.floor(min(b[0] for b in boxes))), int(math.floor(min(b[1] for b in boxes))),
                int(math.ceil(max(b[2] for b in boxes))), int(math.ceil(max(b[3] for b in boxes))))

    def has_glyph(self, ch: str) -> bool:
        """Whether some installed font draws ``ch``."""
        return _has_glyph(self._font_of(ch), ch)


_mixed: dict[tuple[int, bool], MixedFont] = {}


def text_font(size: int, *, bold: bool = False) -> MixedFont:
    """The :class:`MixedFont` of ``size`` px (one per size and weight, kept).

    Parameters
    ----------
    size : int > 0
        Font size in pixels.
    bold : bool
        The standard font's bold face (fallback fonts are used as they are).

    Returns
    -------
    MixedFont
    """
    key = (int(size), bool(bold))
    if key not in _mixed:
        _mixed[key] = MixedFont(*key)
    return _mixed[key]


def draw_text(draw: Any, xy: tuple[float, float], text: str, font: Any, fill: Any) -> None:
    """Draw ``text`` with its top left at ``xy``: a :class:`MixedFont` run by run, a PIL font as PIL does.

    Parameters
    ----------
    draw : PIL.ImageDraw.ImageDraw
    xy : (float, float)
        Top left of the text, pixels (PIL's default anchor ``"la"``).
    text : str
    font : MixedFont or PIL font
    fill : colour
    """
    if not isinstance(font, MixedFont):
        draw.text(xy, text, font=font, fill=fill)
        return
    for point, part, pil_font in font.layout(xy, text):
        if font.scalable:
            draw.text(point, part, font=pil_font, fill=fill, anchor="ls")
        else:
            draw.text(point, part, font=pil_font, fill=fill)


def row_height(font: Any, text: str = "") -> int:
    """Pixels from one row of ``text`` to the next in ``font``: ascent + descent + 1 of the fonts it
    is drawn with, at least the size + 4."""
    if isinstance(font, MixedFont):
        ascent, descent = font.getmetrics(text)
    else:
        try:
            ascent, descent = font.getmetrics()
        except AttributeError:  # a bitmap font
            return font.getbbox("Hg")[3] + 4
    return max(int(getattr(font, "size", 0)) + 4, ascent + descent + 1)


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def text_words(text: str) -> list[tuple[str, str]]:
    """``text`` as (separator before, word) pairs, the places a row of text may break: words between
    spaces (the separator is the space as written, "" for the first word), and each wide (CJK)
    character a word of its own (such text has no spaces; a row may break after any character).

    Examples
    --------
    >>> text_words("la  la你好")
    [('', 'la'), ('  ', 'la'), ('', '你'), ('', '好')]
    """
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"(\s*)(\S+)", text):
        sep, word = m.group(1), m.group(2)
        if not out:
            sep = ""
        part = ""
        for ch in word:
            if _is_wide(ch):
                if part:
                    out.append((sep, part))
                    sep, part = "", ""
                out.append((sep, ch))
                sep = ""
            else:
                part += ch
        if part:
            out.append((sep, part))
    return out


def _break_word(word: str, font: Any, width_px: float) -> list[str]:
    """A word wider than a row cut into pieces that fit (each at least one character), a hyphen at
    the end of each cut piece between two letters."""
    pieces, rest = [], word
    while rest:
        n = 1
        while n < len(rest) and font.getlength(rest[:n + 1] + "-") <= width_px:
            n += 1
        if n < len(rest):
            piece = rest[:n] + ("-" if rest[n - 1].isalnum() and rest[n].isalnum() else "")
            pieces.append(piece)
            rest = rest[n:]
        else:
            pieces.append(rest)
            rest = ""
    return pieces


def wrap_text(text: str | Sequence[tuple[str, str]], font: Any, width_px: float, *,
              rest_width_px: float | None = None) -> list[str]:
    """``text`` broken into rows no wider than ``width_px`` when drawn in ``font``: at spaces, after
    any wide (CJK) character, and inside a word only when the word alone is wider than a row (with a
    hyphen between two letters). Nothing is left out.

    Parameters
    ----------
    text : str or sequence of (str, str)
        The text, or its words as (separator before, word) pairs where the caller chooses the
        places a row may break (e.g. after the dash of a time range).
    font : PIL font
    width_px : float > 0
        Width of the first row in pixels.
    rest_width_px : float > 0, optional
        Width of the following rows (default ``width_px``), e.g. for indented continuation rows.

    Returns
    -------
    list of str
        The rows (empty for blank text).

    Examples
    --------
    >>> f = text_font(15)
    >>> wrap_text("one two three", f, f.getlength("one two"))
    ['one two', 'three']
    """
    rest_w = width_px if rest_width_px is None else rest_width_px
    rows: list[str] = []
    current = ""
    for sep, word in (text_words(text) if isinstance(text, str) else text):
        limit = width_px if not rows else rest_w
        trial = f"{current}{sep}{word}" if current else word
        if font.getlength(trial) <= limit:
            current = trial
            continue
        if current:
            rows.append(current)
            current = ""
        if font.getlength(word) <= (width_px if not rows else rest_w):
            current = word
        else:
            pieces = _break_word(word, font, rest_w if rows else min(width_px, rest_w))
            rows.extend(pieces[:-1])
            current = pieces[-1]
    if current:
        rows.append(current)
    return rows


def ellipsize(row: str, font: Any, width_px: float, *, suffix: str = " …") -> str:
    """``row`` with ``suffix`` appended, whole words (or wide characters) dropped from its end until
    it fits ``width_px``: what is left out is marked, and no word is cut. "…" becomes "..." in a
    font without that character.

    Examples
    --------
    >>> f = text_font(15)
    >>> ellipsize("one two three", f, f.getlength("one two …"))
    'one two …'
    """
    if "…" in suffix and isinstance(font, MixedFont) and not font.has_glyph("…"):
        suffix = suffix.replace("…", "...")
    tokens = text_words(row)
    while tokens:
        text = "".join(sep + word for sep, word in tokens)
        if font.getlength(text + suffix) <= width_px:
            return text + suffix
        tokens.pop()
    return suffix.strip()


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


def _legend(lyrics: Lyrics | None) -> list[tuple[str, tuple[int, int, int], str]]:
    """The legend's entries: (name, colour, how the swatch is drawn: "fill", "flag" or "cut")."""
    entries = [("voice", _VOICE, "fill"), ("gap", _GAP, "fill"), ("line (file)", _LINE_FILL["file"], "fill"),
               ("line (aligned)", _LINE_FILL["aligned"], "fill"), ("line (interim)", _LINE_FILL["interim"], "fill"),
               ("low confidence", _LOW, "fill")]
    entries += [(f"flag: {flag}", flag_colour(flag), "flag") for flag in line_flags(lyrics)]
    entries += [(f"cut: {name}", CUT_COLOURS[key], "cut") for key, name in (
        ("line gap", "line gap"), ("section", "section"), ("phrase", "phrase / downbeat"), ("word gap", "word gap"),
        ("model length", "model length"), ("forced", "forced"))]
    return entries


@dataclass(frozen=True)
class HeaderLayout:
    """Where :func:`draw_alignment` puts its title and legend. Pixels.

    ``texts`` are (top left, text, font) of the title rows and the legend names (drawn with
    :func:`draw_text`); ``swatches`` the (left, top, right, bottom) box, colour and kind (``"fill"``,
    ``"flag"``, ``"cut"``) of each legend entry's square; ``height`` where the first row of song starts.
    """

    texts: tuple[tuple[tuple[int, int], str, Any], ...]
    swatches: tuple[tuple[tuple[int, int, int, int], tuple[int, int, int], str], ...]
    height: int


def header_layout(width: int = WIDTH, *, title: str = "", lyrics: Lyrics | None = None) -> HeaderLayout:
    """The title and legend of :func:`draw_alignment`'s picture, wrapped into rows inside ``width``.

    The title takes at most 2 rows (then ends in " …"); the legend as many rows as it needs, a
    name too long for a whole row is shortened with "…". The header is :data:`HEADER_H` tall when
    the legend fits in two rows (it does at :data:`WIDTH`), taller otherwise.

    Parameters
    ----------
    width : int > 0
        Picture width in pixels.
    title : str
        The title ("alignment" when empty).
    lyrics : Lyrics, optional
        The lyrics drawn: each flag their lines carry gets a legend entry.

    Returns
    -------
    HeaderLayout
    """
    x0 = MARGIN_L if width >= 600 else 6
    x1 = width - (MARGIN_R if width >= 600 else 6)
    room = max(1, x1 - x0)
    title = title or "alignment"
    bold = text_font(FONT_SIZE + 2, bold=True)
    rows = wrap_text(title, bold, room)
    if len(rows) > 2:
        rows = [rows[0], ellipsize(rows[1], bold, room)]
    texts: list[tuple[tuple[int, int], str, Any]] = []
    y = 6
    for row in rows:
        texts.append(((x0, y), row, bold))
        y += row_height(bold, row)
    y = max(25, y)
    swatches: list[tuple[tuple[int, int, int, int], tuple[int, int, int], str]] = []
    x = x0
    font = text_font(FONT_SIZE)
    for name, colour, kind in _legend(lyrics):
        if 16 + font.getlength(name) > room:
            name = ellipsize(name, font, room - 16, suffix="…")
        w = 16 + int(math.ceil(font.getlength(name))) + 14
        if x > x0 and x + w - 14 > x1:  # the legend goes on in another row
            x, y = x0, y + 16
        swatches.append(((x, y + 1, x + 12, y + 13), colour, kind))
        texts.append(((x + 16, y), name, font))
        x += w
    return HeaderLayout(texts=tuple(texts), swatches=tuple(swatches), height=max(HEADER_H, y + 17))


def header_height(width: int = WIDTH, *, title: str = "", lyrics: Lyrics | None = None) -> int:
    """Height in pixels of :func:`draw_alignment`'s header (title and legend) at ``width``: where its
    first row of song starts. :data:`HEADER_H` when the legend fits in two rows (it does at
    :data:`WIDTH`), more on a narrow picture.

    Parameters
    ----------
    width : int > 0
        Picture width in pixels.
    title : str
        The title, as given to :func:`draw_alignment`.
    lyrics : Lyrics, optional
        The lyrics drawn (their flags add legend entries).

    Examples
    --------
    >>> header_height(WIDTH) == HEADER_H
    True
    >>> header_height(232) > HEADER_H
    True
    """
    return header_layout(width, title=title, lyrics=lyrics).height


def _hatch(draw: Any, box: tuple[float, float, float, float], colours: list[tuple[int, int, int]],
           step: int = 6) -> None:
    """Diagonal stripes over ``box`` (left, top, right, bottom), cycling through ``colours``."""
    x0, y0, x1, y1 = box
    h = y1 - y0
    for n, k in enumerate(range(int(x0 - h), int(x1) + 1, step)):
        t0, t1 = max(0.0, x0 - k), min(h, x1 - k)  # the stripe (k + t, y1 - t), t in [0, h], inside the box
        if t1 > t0:
            draw.line((k + t0, y1 - t0, k + t1, y1 - t1), fill=colours[n % len(colours)], width=2)


def _swatch(draw: Any, box: tuple[int, int, int, int], colour: Any, kind: str) -> None:
    if kind == "flag":
        draw.rectangle(box, fill=_LINE_FILL["aligned"])
        _hatch(draw, box, [colour])
        draw.rectangle(box, outline=colour, width=2)
    else:
        draw.rectangle(box, fill=colour, outline=(80, 80, 80))


def _axis_step(font: Any, px_per_s: float) -> int:
    """Seconds between labelled ticks so that the labels do not run into each other."""
    label_w = font.getlength("00:00") + 8
    for step in (5, 10, 15, 30, 60):
        if step * px_per_s >= label_w:
            return step
    return 60


def draw_alignment(analysis: Analysis, lyrics: Lyrics | None = None, plan: Plan | None = None, *,
                   title: str = "", min_confidence: float = 0.35,
                   width: int = WIDTH) -> Any:
    """Draw the alignment picture and return it as a PIL image.

    Parameters
    ----------
    analysis : Analysis
        The song's analysis (voice curve, vocal regions, beats).
    lyrics : Lyrics, optional
        Timed lyrics (lines and words drawn); untimed lines are left out. A line with flags
        (``Line.flags``, any name) is hatched and outlined in its flags' colours (:func:`flag_colour`),
        and each flag present is named in the legend.
    plan : Plan, optional
        The plan whose cuts are drawn (each segment's start but the first, by its ``cut`` reason).
    title : str
        Drawn at the top with the legend (both wrap to the width).
    min_confidence : float
        Aligned lines under this confidence are drawn grey.
    width : int
        Picture width in pixels.

    Returns
    -------
    PIL.Image.Image
        ``width`` wide; rows of :data:`ROW_S` seconds, :data:`ROW_H` px each, under a header of
        :func:`header_height` px.
    """
    from PIL import Image, ImageDraw

    from ..audio import voice_threshold

    duration = float(analysis.duration_s)
    n_rows = max(1, math.ceil(duration / ROW_S))
    header = header_layout(width, title=title, lyrics=lyrics)
    header_h = header.height
    height = header_h + n_rows * ROW_H + 10
    img = Image.new("RGB", (width, height), _BG)
    draw = ImageDraw.Draw(img)
    font = load_font(FONT_SIZE)
    span_px = width - MARGIN_L - MARGIN_R

    for xy, text, f in header.texts:
        draw_text(draw, xy, text, f, _TEXT)
    for box, colour, kind in header.swatches:
        _swatch(draw, box, colour, kind)

    va = np.asarray(analysis.vocal_activity, dtype=float)
    thr = voice_threshold(va) if va.size else 0.5
    hop = analysis.hop_s
    gaps = _gaps(analysis)
    lines = [(i, ln) for i, ln in enumerate(lyrics.lines) if ln.is_timed] if lyrics else []
    cuts = [(s.start_s, s.cut) for s in plan.segments[1:]] if plan else []

    for r in range(n_rows):
        t0 = r * ROW_S
        t1 = t0 + ROW_S
        top = header_h + r * ROW_H
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

        # lines: alternate two lanes so neighbours' text does not overlap; a label stops where the
        # next bar of its lane starts
        for k, (i, ln) in enumerate(lines):
            a, b = float(ln.start_s), float(ln.end_s)
            if b <= t0 or a >= t1:
                continue
            y0 = lines_top + (i % 2) * 26
            if ln.source == "aligned" and ln.confidence < min_confidence or ln.source == "interim":
                colour = _LOW if ln.source == "aligned" else _LINE_FILL["interim"]
            else:
                colour = _LINE_FILL.get(ln.source, _LOW)
            x0, x1 = px(max(a, t0)), px(min(b, t1))
            bar = (x0, y0, max(x0 + 1, x1), y0 + 22)
            draw.rectangle(bar, fill=colour, outline=(90, 90, 90))
            if ln.flags:  # stripes half way to the fill, so the label stays readable
                _hatch(draw, bar, [tuple((c + f) // 2 for c, f in zip(flag_colour(str(g)), colour)) for g in ln.flags])
                draw.rectangle(bar, outline=flag_colour(str(ln.flags[0])), width=2)
            for w in ln.words:
                if w.start_s is not None and t0 <= w.start_s < t1:
                    wx = px(w.start_s)
                    draw.line((wx, y0, wx, y0 + 6), fill=_WORD, width=1)
            if a >= t0:
                stop = min(t1, duration)
                for j, ln2 in lines[k + 1:]:
                    if j % 2 == i % 2 and float(ln2.start_s) > a:
                        stop = min(stop, float(ln2.start_s))
                        break
                room = px(stop) - x0 - 6
                label_font = text_font(FONT_SIZE)
                label = ln.text if label_font.getlength(ln.text) <= room else ellipsize(ln.text, label_font, room,
                                                                                        suffix="…")
                if label != "…" or label_font.getlength(label) <= room:
                    draw_text(draw, (x0 + 3, y0 + 7), label, label_font, _TEXT)

        # beats and time axis: a tick every 5 s, labelled as often as the labels have room
        draw.line((MARGIN_L, axis_y, end_px, axis_y), fill=(100, 100, 100))
        for bt in analysis.beat_times_s:
            if t0 <= bt < t1:
                draw.line((px(bt), axis_y, px(bt), axis_y + 4), fill=(120, 120, 120))
        step = _axis_step(font, span_px / ROW_S)
        for s in range(int(t0), int(min(t1, duration)) + 1, 5):
            draw.line((px(s), axis_y, px(s), axis_y + 9), fill=(60, 60, 60))
            label = format_time(s)
            if s % step == 0 and px(s) + 2 + font.getlength(label) <= width - 2:
                draw.text((px(s) + 2, axis_y + 6), label, font=font, fill=(90, 90, 90))
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
