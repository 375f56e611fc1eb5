"""MLT video profiles: the frame size and exact rate of a project, and its ``<profile>`` element.

:func:`profile_for` names the stock MLT profile of a size and rate (``atsc_1080p_2997``,
``vertical_hd_30``) or makes a custom one that Kdenlive keeps without asking (``custom_1080x1920_2997``,
"Vertical 1080x1920 29.97 fps"); :func:`profile_element` writes it as the ``<profile>`` of an MLT
document. Facts and sources: ``KDENLIVE-FORMAT.md`` in the team's shared notes.

Public: MltProfile, profile_for, profile_element, STOCK_PROFILES.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from lxml import etree

from mvtimeline.errors import InputError
from mvtimeline.timecode import fps_label, profile_rate

__all__ = ["MltProfile", "profile_for", "profile_element", "STOCK_PROFILES"]

# Stock MLT progressive square-pixel profiles (/usr/share/mlt-7/profiles): name, width, height, fps.
_RATES = (
    ("2398", Fraction(24000, 1001), "23.98"),
    ("24", Fraction(24), "24"),
    ("25", Fraction(25), "25"),
    ("2997", Fraction(30000, 1001), "29.97"),
    ("30", Fraction(30), "30"),
    ("50", Fraction(50), "50"),
    ("5994", Fraction(60000, 1001), "59.94"),
    ("60", Fraction(60), "60"),
)
#: The stock profiles: ``(name, width, height, fps, description)``.
STOCK_PROFILES: list[tuple[str, int, int, Fraction, str]] = []
for _prefix, _w, _h, _desc in (
    ("atsc_720p", 1280, 720, "HD 720p"),
    ("atsc_1080p", 1920, 1080, "HD 1080p"),
    ("qhd_1440p", 2560, 1440, "2.5K QHD 1440p"),
    ("uhd_2160p", 3840, 2160, "4K UHD 2160p"),
):
    for _suffix, _fps, _label in _RATES:
        STOCK_PROFILES.append((f"{_prefix}_{_suffix}", _w, _h, _fps, f"{_desc} {_label} fps"))
for _n in (30, 60):
    STOCK_PROFILES.append((f"vertical_hd_{_n}", 1080, 1920, Fraction(_n), f"Vertical HD {_n} fps"))
    STOCK_PROFILES.append((f"square_1080p_{_n}", 1080, 1080, Fraction(_n), f"Square 1080p {_n} fps"))


@dataclass(frozen=True)
class MltProfile:
    """An MLT video profile: frame size in pixels, exact rate, and its name if MLT ships it.

    ``name`` is the stock MLT profile name (``atsc_1080p_2997``, ``vertical_hd_30``) or, for a
    size/rate MLT does not ship, ``custom_<w>x<h>_<fps>`` with a description such as
    ``"Vertical 1080x1920 29.97 fps"`` (Kdenlive 22.12 then matches the ``<profile>`` element, keeps
    it as a custom profile without asking, and shows the description in its title bar; checked for
    16:9, 9:16, 1:1 and 4K at 23.976, 24, 25, 29.97, 30, 50, 59.94 and 60 fps).
    """

    name: str
    description: str
    width: int
    height: int
    fps: Fraction
    stock: bool

    @property
    def display_aspect(self) -> tuple[int, int]:
        g = math.gcd(self.width, self.height)
        return self.width // g, self.height // g

    @property
    def frame_rate(self) -> tuple[int, int]:
        """``(frame_rate_num, frame_rate_den)`` as written: exact for MLT's own profiles, an NTSC
        rate of a custom one as its label over 100 (see :func:`mvtimeline.timecode.profile_rate`)."""
        return (self.fps.numerator, self.fps.denominator) if self.stock else profile_rate(self.fps)

    @property
    def colorspace(self) -> int:
        return 709 if min(self.width, self.height) >= 720 else 601


def profile_for(width: int, height: int, fps: Fraction) -> MltProfile:
    """The MLT profile for a frame size and rate.

    Parameters
    ----------
    width, height : int > 0
        Frame size in pixels (square pixels, progressive).
    fps : Fraction > 0
        Exact frame rate, e.g. ``Fraction(30000, 1001)``.

    Returns
    -------
    MltProfile
        The stock profile when one matches, else a custom one.

    Examples
    --------
    >>> profile_for(1920, 1080, Fraction(30000, 1001)).name
    'atsc_1080p_2997'
    >>> profile_for(320, 180, Fraction(25)).name
    'custom_320x180_25'
    >>> p = profile_for(1080, 1920, Fraction(30000, 1001)); (p.name, p.description, p.display_aspect)
    ('custom_1080x1920_2997', 'Vertical 1080x1920 29.97 fps', (9, 16))
    """
    if width <= 0 or height <= 0:
        raise InputError(f"frame size {width}x{height} is not a size; width and height must be > 0")
    fps = Fraction(fps)
    for name, w, h, rate, desc in STOCK_PROFILES:
        if (w, h, rate) == (width, height, fps):
            return MltProfile(name, desc, width, height, fps, True)
    label = fps_label(fps)
    slug = label.replace(".", "")
    shape = "Vertical " if height > width else "Square " if height == width else ""
    return MltProfile(
        f"custom_{width}x{height}_{slug}", f"{shape}{width}x{height} {label} fps", width, height, fps, False
    )


def profile_element(root: etree._Element, prof: MltProfile) -> None:
    """Append the ``<profile>`` element of ``prof`` to an MLT document's ``root``."""
    dar = prof.display_aspect
    etree.SubElement(
        root,
        "profile",
        description=prof.description,
        width=str(prof.width),
        height=str(prof.height),
        progressive="1",
        sample_aspect_num="1",
        sample_aspect_den="1",
        display_aspect_num=str(dar[0]),
        display_aspect_den=str(dar[1]),
        frame_rate_num=str(prof.frame_rate[0]),
        frame_rate_den=str(prof.frame_rate[1]),
        colorspace=str(prof.colorspace),
    )
