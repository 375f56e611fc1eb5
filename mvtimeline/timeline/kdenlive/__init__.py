"""Kdenlive projects: write a timeline as a ``.kdenlive`` document, read one back.

- :mod:`.profile` — the MLT profile: frame size, exact rate, stock or custom name;
- :mod:`.layout` — the timeline in integer frames: bin, clips, mixes, guides, subtitles;
- :mod:`.elements` — the MLT XML elements both document versions are made of;
- :mod:`.xml` — document version 1.04 (Kdenlive 21.12 - 22.12, upgraded by later versions), the
  writer's entry points and the subtitle sidecars;
- :mod:`.xml11` — document version 1.1 (the sequence layout of Kdenlive 23.04 and later);
- :mod:`.read` — the one MLT parser (the render stage uses it too), what a project holds
  (:class:`~.read.ProjectSummary`), and swapping a segment's take in a project a person edited.

Public: write_to_string, write_to_file, subtitles_path, subtitles_paths, DOCUMENT_VERSION,
DOCUMENT_VERSIONS, KDENLIVE_VERSION, read_summary, ProjectSummary, swap_take, parse_mlt.
"""

from __future__ import annotations

from .read import ProjectSummary, parse_mlt, read_summary, swap_take
from .xml import (DOCUMENT_VERSION, DOCUMENT_VERSIONS, KDENLIVE_VERSION, subtitles_path, subtitles_paths,
                  write_to_file, write_to_string)

__all__ = ["write_to_string", "write_to_file", "subtitles_path", "subtitles_paths", "DOCUMENT_VERSION",
           "DOCUMENT_VERSIONS", "KDENLIVE_VERSION", "read_summary", "ProjectSummary", "swap_take", "parse_mlt"]
