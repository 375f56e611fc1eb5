"""Every seconds ↔ frames ↔ text conversion: the only place where frames are made, and where
times are read from and written as text.

- frames: :func:`seconds_to_frame`, :func:`frame_to_seconds`, :func:`frames_at_least`,
  :func:`segment_frames`. Every frame index is computed from an absolute time on the song by
  rounding, never by summing durations, so a five-minute song does not drift at 29.97 fps;
- rates: :func:`parse_fps`, :func:`fps_choices`, :func:`fps_label`, :data:`KNOWN_FPS`, and
  :func:`profile_rate` / :func:`exact_rate` for MLT profiles; :func:`mlt_time_to_frames` reads an
  MLT time property;
- text: :func:`parse_lrc_time`, :func:`fmt_lrc_time` (``mm:ss.xx``), :func:`parse_cue_time`,
  :func:`fmt_cue_time` (SRT/WebVTT ``hh:mm:ss.mmm``), :func:`is_time_like`, and
  :func:`format_time` (``mm:ss`` on pictures).

Public: seconds_to_frame, frame_to_seconds, frames_at_least, segment_frames, SegmentFrames,
mlt_time_to_frames, parse_fps, fps_choices, fps_label, profile_rate, exact_rate, KNOWN_FPS,
parse_lrc_time, parse_cue_time, fmt_lrc_time, fmt_cue_time, is_time_like, format_time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    from .types import Plan

__all__ = [
    "seconds_to_frame",
    "frame_to_seconds",
    "frames_at_least",
    "segment_frames",
    "SegmentFrames",
    "mlt_time_to_frames",
    "parse_fps",
    "fps_choices",
    "fps_label",
    "profile_rate",
    "exact_rate",
    "KNOWN_FPS",
    "parse_lrc_time",
    "parse_cue_time",
    "fmt_lrc_time",
    "fmt_cue_time",
    "is_time_like",
    "format_time",
]

#: The frame rates a project may have, by the name users give them: the one table that ``--fps``,
#: its help and README's list come from (:func:`parse_fps` refuses any other).
KNOWN_FPS: dict[str, Fraction] = {
    "12": Fraction(12),  # previews and quick drafts
    "15": Fraction(15),
    "16": Fraction(16),  # Wan's native rate
    "23.976": Fraction(24000, 1001),
    "24": Fraction(24),
    "25": Fraction(25),
    "29.97": Fraction(30000, 1001),
    "30": Fraction(30),
    "50": Fraction(50),
    "59.94": Fraction(60000, 1001),
    "60": Fraction(60),
}


def seconds_to_frame(t_s: float, fps: Fraction) -> int:
    """Nearest frame index to an absolute time on the song.

    Parameters
    ----------
    t_s : float >= 0
        Seconds from the start of the audio; negative or non-finite raises ``InputError``.
    fps : Fraction > 0
        Project frame rate, e.g. ``Fraction(30000, 1001)``.

    Returns
    -------
    int
        ``round(t_s * fps)``, halves rounded up, computed exactly on the rational rate.

    Examples
    --------
    >>> seconds_to_frame(1.0, Fraction(30000, 1001))
    30
    >>> seconds_to_frame(300.0, Fraction(30000, 1001))
    8991
    """
    if not math.isfinite(t_s) or t_s < 0:
        raise InputError(f"time {t_s!r} s is not a time on the song (must be finite and >= 0)")
    exact = Fraction(t_s) * fps
    return int(math.floor(exact + Fraction(1, 2)))


def frame_to_seconds(frame: int, fps: Fraction) -> float:
    """Start time of a frame in seconds.

    Examples
    --------
    >>> frame_to_seconds(30, Fraction(30))
    1.0
    """
    return float(Fraction(frame) / fps)


def parse_fps(text: str | float | Fraction, *, any_rate: bool = False) -> Fraction:
    """A frame rate from what a user types: ``30``, ``29.97``, ``30000/1001``.

    Only the rates of :data:`KNOWN_FPS` are accepted, by their name or any value equal to one
    (``30000/1001``, ``30.0``); an NTSC rate written to other decimals (``23.98``, ``29.970``) is
    its exact fraction.

    Parameters
    ----------
    text : str, float or Fraction
        What the user gave. A ``Fraction`` is a rate already held by a project or timeline and is
        taken as it is (in (0, 240]).
    any_rate : bool
        Take any rate in (0, 240], not only the listed ones: a rate read from a file.

    Raises
    ------
    InputError
        For anything that is not one of the accepted rates (the message lists them), or not a
        positive rate up to 240.

    Examples
    --------
    >>> parse_fps("29.97")
    Fraction(30000, 1001)
    >>> parse_fps("25")
    Fraction(25, 1)
    """
    if isinstance(text, Fraction):
        value = text
        any_rate = True
    else:
        s = str(text).strip()
        if s in KNOWN_FPS:
            return KNOWN_FPS[s]
        try:
            value = Fraction(s)
        except (ValueError, ZeroDivisionError):
            raise InputError(f"fps {s!r} is not a frame rate; use one of {fps_choices()}") from None
        for exact in KNOWN_FPS.values():  # 23.98, 29.970 ... → the NTSC fraction
            if exact.denominator == 1001 and abs(float(value) - float(exact)) < 0.006:
                return exact
    if not any_rate and value not in KNOWN_FPS.values():
        raise InputError(f"fps {str(text)!r} is not an accepted frame rate; use one of {fps_choices()}")
    if value <= 0 or value > 240:
        raise InputError(f"fps {str(text)!r} is out of range (0, 240]")
    return value


def fps_choices() -> str:
    """The accepted rates as a user reads them: ``23.976, 24, 25, 29.97, 30, 50, 59.94, 60``.

    Examples
    --------
    >>> fps_choices()
    '12, 15, 16, 23.976, 24, 25, 29.97, 30, 50, 59.94, 60'
    """
    return ", ".join(KNOWN_FPS)


#: The NTSC rates written as their two-decimal labels over 100 (``29.97`` = 2997/100), as a
#: Kdenlive profile file may hold them.
_NTSC = (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001))
_NTSC_LABELS = {Fraction(round(float(r) * 100), 100): r for r in _NTSC}


def profile_rate(fps: Fraction) -> tuple[int, int]:
    """``(frame_rate_num, frame_rate_den)`` for an MLT profile that is not one of MLT's own.

    An NTSC rate is written as its two-decimal label over 100 (``2997/100``): Kdenlive 23.x -
    26.08 accept a fractional rate of a custom profile only when it equals 23.98, 29.97 or 59.94
    as a double (``ProfileInfo::hasValidFps``), and show an error box for ``30000/1001``. The
    difference is 1e-6 of the rate for 29.97 and 59.94 (0.3 ms over five minutes) and 1.7e-4 for
    23.976 (one frame over about five minutes). :func:`exact_rate` reads it back exactly. Other
    rates are written as they are.

    Examples
    --------
    >>> profile_rate(Fraction(30000, 1001)), profile_rate(Fraction(25))
    ((2997, 100), (25, 1))
    """
    fps = Fraction(fps)
    if fps in _NTSC:
        label = Fraction(round(float(fps) * 100), 100)
        return label.numerator * (100 // label.denominator), 100
    return fps.numerator, fps.denominator


def exact_rate(num: int, den: int) -> Fraction:
    """The rate an MLT profile's ``frame_rate_num``/``frame_rate_den`` stand for: an NTSC label
    over 100 (:func:`profile_rate`) is the NTSC rate.

    Examples
    --------
    >>> exact_rate(2997, 100), exact_rate(30000, 1001), exact_rate(25, 1)
    (Fraction(30000, 1001), Fraction(30000, 1001), Fraction(25, 1))
    """
    rate = Fraction(int(num), int(den))
    return _NTSC_LABELS.get(rate, rate)


def fps_label(fps: Fraction) -> str:
    """Short human name of a rate: ``29.97``, ``25``.

    Examples
    --------
    >>> fps_label(Fraction(24000, 1001))
    '23.976'
    """
    for name, exact in KNOWN_FPS.items():
        if exact == fps:
            return name
    return f"{float(fps):.3f}".rstrip("0").rstrip(".")


def frames_at_least(t_s: float, fps: Fraction) -> int:
    """Smallest whole number of frames that lasts at least ``t_s`` seconds.

    Examples
    --------
    >>> frames_at_least(0.5, Fraction(25))
    13
    """
    return int(math.ceil(Fraction(t_s) * fps - Fraction(1, 10**6))) if t_s > 0 else 0


def mlt_time_to_frames(value: str | None, fps: Fraction) -> int:
    """An MLT time property → frames, as ``mlt_property_atoi`` parses it (MLT 7.12).

    Examples
    --------
    >>> mlt_time_to_frames("00:00:04.960", Fraction(25))
    124
    >>> mlt_time_to_frames("99", Fraction(25))
    99
    """
    if value is None or value == "":
        return 0
    s = value.strip()
    f = float(fps)
    if ":" not in s:
        return int(float(s))
    if "." in s or "," in s:
        parts = s.replace(",", ".").split(":")
        secs = float(parts[-1])
        mins = int(parts[-2]) if len(parts) >= 2 else 0
        hours = int(parts[-3]) if len(parts) >= 3 else 0
        return math.floor(f * hours * 3600) + math.floor(f * mins * 60) + round(f * secs)
    parts = s.replace(";", ":").split(":")
    frames = int(parts[-1])
    secs = int(parts[-2]) if len(parts) >= 2 else 0
    mins = int(parts[-3]) if len(parts) >= 3 else 0
    hours = int(parts[-4]) if len(parts) >= 4 else 0
    return math.floor(f * hours * 3600) + math.floor(f * mins * 60) + math.ceil(f * secs) + frames


@dataclass(frozen=True)
class SegmentFrames:
    """A segment on the frame grid: ``[start_frame, end_frame)``, with its clip's handle frames."""

    start_frame: int
    end_frame: int
    head_frames: int
    tail_frames: int

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def clip_frames(self) -> int:
        """Frames the generated clip must have: the segment plus both handles."""
        return self.n_frames + self.head_frames + self.tail_frames


def segment_frames(plan: Plan, fps: Fraction, *, head_s: float = 0.0, tail_s: float = 0.0) -> list[SegmentFrames]:
    """Each segment's frames, from absolute times (no accumulated durations, so nothing drifts).

    Parameters
    ----------
    plan : Plan
        The segments, covering the song in order.
    fps : Fraction > 0
        Project rate.
    head_s, tail_s : float >= 0
        Seconds of extra frames the clip of every segment carries before its first frame and
        after its last (handles for dissolves), each rounded up to whole frames.

    Returns
    -------
    list of SegmentFrames
        The first segment starts at frame 0 and the last ends at the song's last frame; every
        boundary is ``seconds_to_frame`` of its time.

    Raises
    ------
    InputError
        A segment shorter than one frame at this rate.
    """
    head, tail = frames_at_least(head_s, fps), frames_at_least(tail_s, fps)
    out = []
    for seg in plan.segments:
        a, b = seconds_to_frame(seg.start_s, fps), seconds_to_frame(seg.end_s, fps)
        if b <= a:
            raise InputError(f"plan segment {seg.index} ({seg.start_s:.3f}–{seg.end_s:.3f} s) is shorter than "
                             f"one frame at {float(fps):.3f} fps")
        out.append(SegmentFrames(a, b, head, tail))
    return out


# -------------------------------------------------------------------------------------------- text
_TIME_LIKE = re.compile(r"\s*[-+]?\d[\d\s:.,]*")
_LRC_TIME = re.compile(r"(\d{1,3}):(\d{1,2})(?:[.:,](\d{1,3}))?")
_CUE_TIME = re.compile(r"(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2})(?:[.,](\d{1,3}))?")


def is_time_like(content: str) -> bool:
    """True if a tag's content is meant as a time (digits, colons, dots), valid or not."""
    return ":" in content and _TIME_LIKE.fullmatch(content) is not None


def _frac(digits: str | None) -> float:
    return float("0." + digits) if digits else 0.0


def parse_lrc_time(content: str) -> float | None:
    """``"01:02.50"`` → 62.5 s; ``mm:ss``, ``mm:ss.x``..``mm:ss.xxx`` (``:`` or ``,`` also as the
    decimal mark); None if invalid (seconds >= 60, missing parts).

    Examples
    --------
    >>> parse_lrc_time("01:02.50"), parse_lrc_time("1:02"), parse_lrc_time("03:61.00")
    (62.5, 62.0, None)
    """
    m = _LRC_TIME.fullmatch(content.strip())
    if not m:
        return None
    minutes, seconds = int(m.group(1)), int(m.group(2))
    if seconds >= 60:
        return None
    return round(minutes * 60 + seconds + _frac(m.group(3)), 6)


def parse_cue_time(content: str) -> float | None:
    """SRT/WebVTT time ``[hh:]mm:ss[.,]mmm`` → seconds; None if invalid.

    Examples
    --------
    >>> parse_cue_time("00:01:02,500"), parse_cue_time("01:02.500"), parse_cue_time("00:61:00,000")
    (62.5, 62.5, None)
    """
    m = _CUE_TIME.fullmatch(content.strip())
    if not m:
        return None
    hours = int(m.group(1) or 0)
    minutes, seconds = int(m.group(2)), int(m.group(3))
    if minutes >= 60 or seconds >= 60:
        return None
    return round(hours * 3600 + minutes * 60 + seconds + _frac(m.group(4)), 6)


def fmt_lrc_time(t_s: float) -> str:
    """Seconds → ``mm:ss.xx`` (centiseconds, minutes may exceed 59).

    Examples
    --------
    >>> fmt_lrc_time(62.504), fmt_lrc_time(3600.0)
    ('01:02.50', '60:00.00')
    """
    cs = round(max(0.0, t_s) * 100)
    minutes, cs = divmod(cs, 6000)
    return f"{minutes:02d}:{cs // 100:02d}.{cs % 100:02d}"


def fmt_cue_time(t_s: float, *, sep: str = ".") -> str:
    """Seconds → ``hh:mm:ss.mmm`` (``sep=","`` for SRT).

    Examples
    --------
    >>> fmt_cue_time(62.5), fmt_cue_time(3723.0006, sep=",")
    ('00:01:02.500', '01:02:03,001')
    """
    ms = round(max(0.0, t_s) * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    return f"{hours:02d}:{minutes:02d}:{ms // 1000:02d}{sep}{ms % 1000:03d}"


def format_time(t_s: float) -> str:
    """Seconds as ``mm:ss`` (rounded down to the second): the time written on pictures
    (storyboard, shot pack, alignment plot).

    Examples
    --------
    >>> format_time(0.0), format_time(83.9), format_time(6000.2)
    ('00:00', '01:23', '100:00')
    """
    whole = int(math.floor(max(0.0, t_s) + 1e-6))
    return f"{whole // 60:02d}:{whole % 60:02d}"
