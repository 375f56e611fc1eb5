"""ffprobe for the tests: what a media file holds, read by the tool people use to check a render.

Public: ffprobe, has_audio.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["ffprobe", "has_audio"]


def ffprobe(path: Path, *, count_frames: bool = True) -> dict[str, Any]:
    """The container and the first stream of each kind in ``path``.

    Parameters
    ----------
    path : Path
        A media file.
    count_frames : bool
        Decode the whole file so each stream's ``nb_read_frames`` is the frames really there.

    Returns
    -------
    dict
        ``"format"`` (ffprobe's format section) and one entry per stream kind present (``"video"``,
        ``"audio"``, ``"subtitle"``...): ffprobe's fields for the first stream of that kind, as text.
    """
    cmd = ["ffprobe", "-v", "error", *(["-count_frames"] if count_frames else []), "-show_streams",
           "-show_format", "-of", "json", str(path)]
    data = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    out: dict[str, Any] = {"format": data.get("format", {})}
    for stream in data.get("streams", []):
        out.setdefault(stream["codec_type"], stream)
    return out


def has_audio(path: Path) -> bool:
    """Whether ``path`` holds an audio stream."""
    return "audio" in ffprobe(path, count_frames=False)
