"""Writers for the timeline, chosen by format name or suffix.

Every writer reads only the OTIO timeline (shape in :mod:`mvtimeline.timeline`).

Public: FORMATS, write, format_for, subtitles_to_ssa.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import InputError
from ..fileio import atomic_path, atomic_write

__all__ = ["FORMATS", "write", "format_for", "subtitles_to_ssa"]

log = logging.getLogger(__name__)

#: format name → file suffix
FORMATS: dict[str, str] = {
    "kdenlive": ".kdenlive",
    "otio": ".otio",
    "srt": ".srt",
    "ass": ".ass",
}


def format_for(path: Path) -> str:
    """The format name of a file name's suffix.

    Raises
    ------
    InputError
        The suffix is not one of ours; the message lists the known formats.
    """
    suffix = Path(path).suffix.lower()
    for name, suf in FORMATS.items():
        if suf == suffix:
            return name
    raise InputError(f"{path}: unknown format {suffix!r}; known: {', '.join(FORMATS)}")


def write(timeline, path: Path, *, format: str | None = None) -> Path:
    """Write ``timeline`` to ``path`` in ``format`` (default: from the suffix), atomically."""
    fmt = format or format_for(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    path = Path(path)
    if fmt == "kdenlive":
        from .kdenlive import write_to_file

        return write_to_file(timeline, path)
    if fmt == "otio":
        import opentimelineio as otio

        with atomic_path(path) as tmp:
            otio.adapters.write_to_file(timeline, str(tmp), adapter_name="otio_json")
        return path
    if fmt in ("srt", "ass"):
        subs = subtitles_to_ssa(timeline, karaoke=fmt == "ass")
        return atomic_write(path, subs.to_string(fmt))
    raise AssertionError(fmt)


def subtitles_to_ssa(timeline, *, karaoke: bool = False):
    """The lyric lines of ``timeline`` as a ``pysubs2.SSAFile`` (``\\k`` word timing when ``karaoke``)."""
    import pysubs2

    meta = timeline.metadata.get("mvtimeline", {})
    subs = pysubs2.SSAFile()
    w = int(meta.get("width", 1920))
    h = int(meta.get("height", 1080))
    subs.info["PlayResX"] = str(w)
    subs.info["PlayResY"] = str(h)
    style = subs.styles["Default"]
    style.fontsize = max(24, round(h * 0.055))
    style.outline = max(2, round(h / 400))
    style.shadow = 1
    style.marginv = round(h * 0.06)
    style.bold = True
    last_start = -1
    for cue in meta.get("subtitles", []):
        start = int(round(float(cue["start_s"]) * 1000))
        end = int(round(float(cue["end_s"]) * 1000))
        if start <= last_start:  # editors drop a second cue with the same start
            start = last_start + 1
        end = max(end, start + 1)
        text = " ".join(str(cue["text"]).split())
        if karaoke and cue.get("words") and all(wd.get("start_s") is not None for wd in cue["words"]):
            parts = []
            cursor = start
            for wd in cue["words"]:
                ws = int(round(float(wd["start_s"]) * 1000))
                we = int(round(float(wd["end_s"] if wd.get("end_s") is not None else wd["start_s"]) * 1000))
                if ws > cursor:
                    parts.append(f"{{\\k{(ws - cursor) // 10}}}")
                parts.append(f"{{\\k{max(1, (we - max(ws, cursor)) // 10)}}}{_escape(wd['text'])} ")
                cursor = max(cursor, we)
            text = "".join(parts).rstrip()
        elif karaoke:
            text = _escape(text)
        subs.append(pysubs2.SSAEvent(start=start, end=end, text=text))
        last_start = start
    return subs


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "(").replace("}", ")")
