"""The cast: who sings, what they look like, and who sings each segment.

Lyric tags name singers (``[Verse 1: Anna]``, ``[Anna]``, ``[Anna & Ben]``; the readers put them on
each line as ``Line.singers``). The user gives each singer a reference image and words for the
prompt (``--cast Anna=anna.png``, or a ``[cast.Anna]`` table with ``image``, ``role``,
``appearance``) and a plan-wide ``setting``. The planner names the singer of every segment (the one
singing most of it; an instrumental segment keeps the singer before it); that singer's image is the
segment's keyframe and their appearance and the setting go into its prompt, word for word the same
in every segment so they cannot drift.

Public: Singer, parse_cast_option, singer_of_segment, describe, cast_of, image_of, SINGER_KEYS.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..types import Line

__all__ = ["Singer", "parse_cast_option", "singer_of_segment", "describe", "cast_of", "image_of", "SINGER_KEYS"]

#: Keys of a singer's table (``[cast.NAME]``).
SINGER_KEYS = ("image", "role", "appearance")


@dataclass(frozen=True)
class Singer:
    """A singer of the cast: a reference image (or None), a role (``lead vocal``) and appearance words."""

    name: str
    image: Path | None = None
    role: str = ""
    appearance: str = ""


def parse_cast_option(text: str) -> tuple[str, str]:
    """``"Anna=anna.png"`` → ``("Anna", "anna.png")``; a bare image path names the singer ``Singer``.

    Raises
    ------
    InputError
        An empty name or image.

    Examples
    --------
    >>> parse_cast_option("Anna=anna.png"), parse_cast_option("me.png")
    (('Anna', 'anna.png'), ('Singer', 'me.png'))
    """
    name, sep, image = str(text).partition("=")
    if not sep:
        name, image = "Singer", name
    name, image = name.strip(), image.strip()
    if not name or not image:
        raise InputError(f"--cast {text!r}: write NAME=IMAGE, e.g. --cast Anna=anna.png")
    return name, image


def _names(line: Line) -> tuple[str, ...]:
    return tuple(line.singers)


def singer_of_segment(lines: Sequence[Line], start_s: float, end_s: float, *, previous: str = "",
                      cast: Mapping[str, Singer] | None = None) -> str:
    """Who sings ``[start_s, end_s)``: the names (joined by " & ") singing most of its sung time.

    Lines without singer tags count for the only singer of the cast when there is exactly one. A
    segment where nobody sings keeps ``previous`` (the singer before it), else the only singer.

    Examples
    --------
    >>> a = Line("la", singers=("Anna",), start_s=0.0, end_s=3.0)
    >>> b = Line("la", singers=("Anna", "Ben"), start_s=3.0, end_s=4.0)
    >>> singer_of_segment([a, b], 0.0, 4.0), singer_of_segment([a, b], 3.0, 5.0)
    ('Anna', 'Anna & Ben')
    """
    only = next(iter(cast)) if cast and len(cast) == 1 else ""
    weight: dict[str, float] = {}
    for ln in lines:
        if not ln.is_timed:
            continue
        overlap = min(end_s, float(ln.end_s)) - max(start_s, float(ln.start_s))
        if overlap <= 0.05:
            continue
        key = " & ".join(_names(ln)) or only
        if key:
            weight[key] = weight.get(key, 0.0) + overlap
    if weight:
        return max(weight.items(), key=lambda kv: (kv[1], -len(kv[0])))[0]
    return previous or only


def describe(singer: str, cast: Mapping[str, Singer] | None, setting: str = "") -> tuple[str, str]:
    """The words a segment's prompt starts and ends with: who (the role and appearance of each
    singer in ``singer``; a singer the cast does not describe is left out: a name means nothing to
    an image model) and where (the setting).

    Examples
    --------
    >>> cast = {"Anna": Singer("Anna", role="lead singer", appearance="short silver hair, red jacket")}
    >>> describe("Anna", cast, "a neon rooftop at night")
    ('lead singer, short silver hair, red jacket', 'a neon rooftop at night')
    >>> describe("Anna & Ben", cast)
    ('lead singer, short silver hair, red jacket', '')
    """
    who = []
    for name in [n.strip() for n in re.split(r"\s*&\s*", singer) if n.strip()]:
        s = (cast or {}).get(name)
        words = ", ".join(w for w in ((s.role, s.appearance) if s else ()) if w)
        if words:
            who.append(words)
    return "; ".join(who), setting.strip()


def cast_of(table: Mapping[str, Mapping[str, object]]) -> dict[str, Singer]:
    """The cast from the settings' table (``Config.cast``: name → image, role, appearance)."""
    return {str(name): Singer(str(name), Path(str(spec["image"])) if spec.get("image") else None,
                              str(spec.get("role") or ""), str(spec.get("appearance") or ""))
            for name, spec in table.items()}


def image_of(singer: str, cast: Mapping[str, Singer]) -> Path | None:
    """The picture of a segment's singer: the first of its names the cast has a picture of."""
    for name in re.split(r"\s*&\s*", singer):
        s = cast.get(name.strip())
        if s is not None and s.image is not None:
            return s.image
    return None
