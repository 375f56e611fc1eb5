"""Seconds ↔ frames at a project rate: the only place where frames are made.

Every frame index is computed from an absolute time on the song by rounding, never by summing
durations, so a five-minute song does not drift at 29.97 fps.

Public: seconds_to_frame, frame_to_seconds, parse_fps, fps_label.
"""

from __future__ import annotations

import math
from fractions import Fraction

from .errors import InputError

__all__ = ["seconds_to_frame", "frame_to_seconds", "frames_at_least", "mlt_time_to_frames", "parse_fps", "fps_label", "KNOWN_FPS"]

#: Frame rates users pick, by the name they use for them.
KNOWN_FPS: dict[str, Fraction] = {
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


def parse_fps(text: str | float | Fraction) -> Fraction:
    """A frame rate from what a user types: ``30``, ``29.97``, ``30000/1001``.

    The NTSC names (23.976, 29.97, 59.94) map to their exact fractions.

    Raises
    ------
    InputError
        For anything that is not a positive rate.

    Examples
    --------
    >>> parse_fps("29.97")
    Fraction(30000, 1001)
    >>> parse_fps("25")
    Fraction(25, 1)
    """
    if isinstance(text, Fraction):
        value = text
    else:
        s = str(text).strip()
        if s in KNOWN_FPS:
            return KNOWN_FPS[s]
        try:
            value = Fraction(s)
        except (ValueError, ZeroDivisionError):
            raise InputError(
                f"fps {s!r} is not a frame rate; use e.g. 25, 29.97 or 30000/1001"
            ) from None
        for exact in KNOWN_FPS.values():  # 23.98, 29.970 ... → the NTSC fraction
            if exact.denominator == 1001 and abs(float(value) - float(exact)) < 0.006:
                return exact
    if value <= 0 or value > 240:
        raise InputError(f"fps {text!r} is out of range (0, 240]")
    return value


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
