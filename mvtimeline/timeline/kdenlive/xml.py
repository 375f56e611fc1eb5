"""Kdenlive writer: one OTIO timeline → a ``.kdenlive`` project (MLT XML) and its subtitle sidecars.

Two document versions (``kdenlive:docproperties.version``), both opened with no dialog by
Kdenlive 22.12 (Debian 12), 24.12 (Debian 13) and 26.08 (Debian testing) where the version
reads them:

- **1.04** (default): what Kdenlive 21.12 - 22.12 save; 23.04 and later upgrade it on open
  without a question. Written here.
- **1.1**: the sequence layout of Kdenlive 23.04 and later (:mod:`.xml11`); 22.12 refuses
  it by design.

Every position is an integer frame at the exact project rate. The shared layout (bin folders
with every take, V1 clips overlapping for same-track ``luma`` mixes, A1 the song, guides in
categories, subtitle cues) comes from :mod:`.layout`, the XML pieces both versions share from
:mod:`.elements`, the ``<profile>`` from :mod:`.profile`. The lyrics go next to the project in
the two files Kdenlive reads (:func:`subtitles_paths`): ``NAME.kdenlive.srt`` (Kdenlive 22.12 -
24.08) and ``NAME.kdenlive.ass`` (24.12 and later read only this one); the ``avfilter.subtitles``
filter on the timeline turns the subtitle track on and lets melt draw them.

Public: write_to_string, write_to_file, subtitles_path, subtitles_paths, DOCUMENT_VERSION,
DOCUMENT_VERSIONS, KDENLIVE_VERSION.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from lxml import etree

from mvtimeline.errors import InputError
from mvtimeline.fileio import atomic_write
from .elements import (bin_producers, black_producer, folder_properties, guide_categories_json, guides_json,
                       new_root, prop, timeline_services, to_xml, tracks, zoom_for)
from .layout import Layout, layout_of
from .profile import profile_element

__all__ = [
    "write_to_string",
    "write_to_file",
    "subtitles_path",
    "subtitles_paths",
    "DOCUMENT_VERSION",
    "DOCUMENT_VERSIONS",
    "KDENLIVE_VERSION",
]


#: ``kdenlive:docproperties.version`` of Kdenlive 21.12 - 22.12 documents (the default).
DOCUMENT_VERSION = "1.04"
#: The document versions :func:`write_to_file` writes: 1.04 (Kdenlive 22.12) and 1.1 (23.04+).
DOCUMENT_VERSIONS = ("1.04", "1.1")
#: The Kdenlive release whose files we imitate.
KDENLIVE_VERSION = "22.12.3"


def _build(layout: Layout, *, base_dir: Path | None, subtitles_file: Path | None, document_id: int) -> str:
    """The document version 1.04 (Kdenlive 22.12) XML."""
    prof = layout.profile
    last = layout.n_frames - 1
    root = new_root()
    profile_element(root, prof)
    pid = bin_producers(root, layout, base_dir)

    # main_bin: document properties, bin folders, one entry per bin clip.
    main_bin = etree.SubElement(root, "playlist", id="main_bin")
    docprops: list[tuple[str, Any]] = [
        ("activeTrack", 1),
        ("audioChannels", 2),
        ("audioTarget", 0),
        ("compositing", 1),
        ("disablepreview", 0),
        ("documentid", document_id),
        ("enableTimelineZone", 0),
        ("enableproxy", 0),
        ("generateimageproxy", 0),
        ("generateproxy", 0),
        ("groups", "[]"),  # without it Kdenlive 23.04+ drops the guides when it upgrades the file
        ("guides", guides_json(layout)),
        ("guidesCategories", guide_categories_json()),
        ("kdenliveversion", KDENLIVE_VERSION),
        ("position", 0),
        ("profile", prof.name),
        ("scrollPos", 0),
        ("version", DOCUMENT_VERSION),
        ("verticalzoom", 1),
        ("videoTarget", 1),
        ("zonein", 0),
        ("zoneout", last),
        ("zoom", zoom_for(layout.n_frames)),
    ]
    folder_properties(main_bin, layout)
    for key, value in docprops:
        prop(main_bin, f"kdenlive:docproperties.{key}", value)
    prop(main_bin, "kdenlive:documentnotes", "")
    prop(main_bin, "xml_retain", 1)
    for b in layout.bins:
        etree.SubElement(main_bin, "entry", producer=pid[b.kid], **{"in": "0", "out": str(b.n_frames - 1)})

    black_producer(root, last)
    track_ids = tracks(root, layout, pid)
    # Main tractor, last: black, A1, V1; internal compositing; subtitles.
    main = etree.SubElement(root, "tractor", id="tractor2", **{"in": "0", "out": str(last)})
    timeline_services(main, layout, "black_track", track_ids, subtitles_file)
    return to_xml(root)


def _check_version(version: str) -> str:
    if version not in DOCUMENT_VERSIONS:
        raise InputError(f"unknown Kdenlive document version {version!r}; known: {', '.join(DOCUMENT_VERSIONS)}")
    return version


def _render(layout: Layout, *, version: str, project_path: Path | None, document_id: int) -> str:
    """The XML of ``version``. The subtitle filter names the sidecar of that version: the ``.srt``
    for 1.04 (what 22.12 reads), the ``.ass`` for 1.1 (Kdenlive 24.12 asks to overwrite the
    subtitle file when a 1.1 filter names another file than its ``subtitlesList``)."""
    base_dir = Path(project_path).parent if project_path is not None else None
    srt, ass = subtitles_paths(Path(project_path)) if project_path is not None else (None, None)
    if version == "1.1":
        from .xml11 import build_document

        return build_document(layout, base_dir=base_dir, subtitles_file=ass, document_id=document_id)
    return _build(layout, base_dir=base_dir, subtitles_file=srt, document_id=document_id)


def _cue_lyrics(layout: Layout):
    """The subtitle cues as timed lyrics, each time at or just after the start of its frame (to the
    centisecond), so Kdenlive's ms/cs → frame conversion lands every cue on its own frame."""
    from mvtimeline.types import Line, Lyrics

    fps = layout.profile.fps

    def at(frame: int) -> float:
        return math.ceil(Fraction(frame * 100) / fps) / 100

    lines = tuple(Line(text=text, start_s=at(start), end_s=at(end)) for start, end, text in layout.cues)
    return Lyrics(path="", format="cues", lines=lines)


# ---------------------------------------------------------------------------------------- public
def subtitles_paths(project: Path) -> tuple[Path, Path]:
    """The subtitle sidecars Kdenlive reads for a project: ``(NAME.kdenlive.srt, NAME.kdenlive.ass)``.

    Kdenlive 22.12 - 24.08 read the ``.srt``; 24.12 and later read only the ``.ass`` (ASS text).

    Examples
    --------
    >>> [p.as_posix() for p in subtitles_paths(Path("out/song.kdenlive"))]
    ['out/song.kdenlive.srt', 'out/song.kdenlive.ass']
    """
    project = Path(project)
    return project.with_name(project.name + ".srt"), project.with_name(project.name + ".ass")


def subtitles_path(project: Path) -> Path:
    """The ``.srt`` sidecar of a project (the one melt draws): ``song.kdenlive`` → ``song.kdenlive.srt``.

    Examples
    --------
    >>> subtitles_path(Path("out/song.kdenlive")).as_posix()
    'out/song.kdenlive.srt'
    """
    return subtitles_paths(project)[0]


def write_to_string(
    timeline: otio.schema.Timeline,
    *,
    project_path: Path | None = None,
    document_id: int | None = None,
    version: str = DOCUMENT_VERSION,
) -> str:
    """The Kdenlive project for a timeline, as XML text.

    Parameters
    ----------
    timeline : opentimelineio.schema.Timeline
        The timeline described in :mod:`mvtimeline.timeline` (V1 clips + dissolves, A1 song,
        markers, ``metadata["mvtimeline"]``; clips' ``takes`` go to the bin).
    project_path : Path, optional
        Where the project will be saved. Media inside its folder get relative paths and the
        subtitle filter points at a sidecar of :func:`subtitles_paths` (absolute: the ``.srt``
        in 1.04, the ``.ass`` in 1.1). Without it, media paths are absolute and no subtitle
        filter is written.
    document_id : int, optional
        ``kdenlive:docproperties.documentid`` (a millisecond timestamp); default: now. Pass one
        for byte-identical output (version 1.1 derives its sequence uuid from it too).
    version : {"1.04", "1.1"}
        Document version: ``"1.04"`` opens natively in Kdenlive 22.12 (and is upgraded by newer
        releases); ``"1.1"`` is the sequence layout of Kdenlive 23.04+, which 22.12 refuses.

    Returns
    -------
    str
        UTF-8 XML text, positions in integer frames.

    Raises
    ------
    InputError
        An unknown ``version`` (the message lists the known ones), or the timeline lacks what the
        contract requires (fps, size, V1, A1 with the song).

    Notes
    -----
    A dissolve longer than the handles of its clips (or than the clips themselves) is shortened
    with a logged warning, never written invalid.
    """
    _check_version(version)
    layout = layout_of(timeline)
    doc_id = int(time.time() * 1000) if document_id is None else int(document_id)
    return _render(layout, version=version, project_path=project_path, document_id=doc_id)


def write_to_file(
    timeline: otio.schema.Timeline,
    path: Path,
    *,
    document_id: int | None = None,
    version: str = DOCUMENT_VERSION,
) -> Path:
    """Write a timeline as a Kdenlive project, plus its subtitle sidecars (:func:`subtitles_paths`).

    Parameters
    ----------
    timeline : opentimelineio.schema.Timeline
        See :func:`write_to_string`.
    path : Path
        The ``.kdenlive`` file to write (atomically; its folder is created).
    document_id : int, optional
        See :func:`write_to_string`.
    version : {"1.04", "1.1"}
        See :func:`write_to_string`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        An unknown ``version``, or the timeline lacks what the contract requires.
    OutputError
        The file or its folder cannot be written.

    Examples
    --------
    >>> write_to_file(otio.schema.Timeline(), Path("x.kdenlive"), version="2.0")
    Traceback (most recent call last):
    ...
    mvtimeline.errors.InputError: unknown Kdenlive document version '2.0'; known: 1.04, 1.1
    """
    from mvtimeline.lyrics.write import to_ass, to_srt

    _check_version(version)
    path = Path(path)
    layout = layout_of(timeline)
    srt, ass = subtitles_paths(path)
    if layout.cues:
        cues = _cue_lyrics(layout)
        atomic_write(srt, to_srt(cues))
        atomic_write(ass, to_ass(cues, karaoke=False, play_res=(layout.profile.width, layout.profile.height)))
    doc_id = int(time.time() * 1000) if document_id is None else int(document_id)
    xml = _render(layout, version=version, project_path=path, document_id=doc_id)
    return atomic_write(path, xml)
