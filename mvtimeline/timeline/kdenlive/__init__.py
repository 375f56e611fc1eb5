"""Kdenlive projects: write a timeline as a ``.kdenlive`` document, read one back.

- :mod:`.layout` — the timeline in integer frames: bin, clips, mixes, guides, subtitles;
- :mod:`.xml` — document version 1.04 (Kdenlive 21.12 - 22.12, upgraded by later versions);
- :mod:`.xml11` — document version 1.1 (the sequence layout of Kdenlive 23.04 and later);
- :mod:`.read` — what a project holds, and swapping a segment's take in a project a person edited.
"""

from __future__ import annotations

from .read import read_summary, swap_take
from .xml import (DOCUMENT_VERSION, DOCUMENT_VERSIONS, KDENLIVE_VERSION, subtitles_path, subtitles_paths,
                  write_to_file, write_to_string)

__all__ = ["write_to_string", "write_to_file", "subtitles_path", "subtitles_paths", "DOCUMENT_VERSION",
           "DOCUMENT_VERSIONS", "KDENLIVE_VERSION", "read_summary", "swap_take"]
