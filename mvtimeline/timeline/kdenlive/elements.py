"""The MLT XML elements both Kdenlive document versions are made of.

A :class:`~.layout.Layout` becomes XML here: the root ``<mlt>``, one ``<producer>`` per bin clip,
bin folders, the guides and their categories as Kdenlive's JSON, the black track, the A1 and V1
track tractors (two playlists each, one ``luma`` mix per dissolve) and the services of a timeline
(internal compositing, the subtitle filter). :mod:`.xml` (document 1.04) and :mod:`.xml11`
(document 1.1) arrange them each in their own document. Facts and sources for every element:
``KDENLIVE-FORMAT.md`` in the team's shared notes.

Public: prop, media_path, zoom_for, new_root, bin_producers, guide_categories_json, guides_json,
folder_properties, black_producer, tracks, timeline_services, to_xml, MLT_VERSION, INTERNAL_ADDED.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lxml import etree

from .layout import GUIDE_CATEGORIES, Folder, Layout, Placed, xml_safe

__all__ = [
    "prop",
    "media_path",
    "zoom_for",
    "new_root",
    "bin_producers",
    "guide_categories_json",
    "guides_json",
    "folder_properties",
    "black_producer",
    "tracks",
    "timeline_services",
    "to_xml",
    "MLT_VERSION",
    "INTERNAL_ADDED",
]

#: MLT version written on the root element (Debian 12 ships 7.12).
MLT_VERSION = "7.12.0"
#: Marks Kdenlive's internal (rebuilt on load) transitions and filters.
INTERNAL_ADDED = "237"

#: Kdenlive's timeline zoom steps (frames per ~60 px, TimelineWidget::comboScale).
_ZOOM_SCALE = (1, 2, 5, 10, 25, 50, 125, 250, 500, 750, 1500, 3000, 6000, 12000)


def prop(parent: etree._Element, name: str, value: Any) -> etree._Element:
    """Append ``<property name=NAME>VALUE</property>`` to ``parent`` (the value as XML-safe text)."""
    el = etree.SubElement(parent, "property", name=name)
    el.text = xml_safe(value)
    return el


def media_path(path: Path, base_dir: Path | None) -> str:
    """Path relative to the project folder when the file is inside it, else absolute."""
    if base_dir is None:
        return str(path)
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(base_dir)).as_posix()
    except ValueError:
        return str(path)


def zoom_for(n_frames: int) -> int:
    """The timeline zoom step at which the whole song takes at most ~900 px (so it opens in view)."""
    for step, frames_per_60px in enumerate(_ZOOM_SCALE):
        if n_frames <= frames_per_60px * 15:
            return step
    return len(_ZOOM_SCALE) - 1


def new_root() -> etree._Element:
    """The ``<mlt>`` root element of a document."""
    return etree.Element("mlt", LC_NUMERIC="C", producer="main_bin", version=MLT_VERSION)


def bin_producers(root: etree._Element, layout: Layout, base_dir: Path | None) -> dict[int, str]:
    """One ``<producer>`` per bin clip; returns kdenlive id → producer id."""
    pid: dict[int, str] = {}
    for k, b in enumerate(layout.bins):
        pid[b.kid] = f"producer{k}"
        p = etree.SubElement(root, "producer", id=pid[b.kid], **{"in": "0", "out": str(b.n_frames - 1)})
        prop(p, "length", b.n_frames)
        prop(p, "eof", "pause")
        prop(p, "resource", media_path(b.path, base_dir))
        prop(p, "mlt_service", "avformat-novalidate")
        prop(p, "seekable", 1)
        if b.is_song:
            prop(p, "video_index", -1)
        prop(p, "kdenlive:clipname", b.name)
        if b.description:
            prop(p, "kdenlive:description", b.description)
        prop(p, "kdenlive:folderid", b.folder)
        prop(p, "kdenlive:id", b.kid)
    return pid


def guide_categories_json() -> str:
    """``kdenlive:docproperties.guidesCategories``: :data:`~.layout.GUIDE_CATEGORIES` as Kdenlive's JSON."""
    return json.dumps(
        [{"color": colour, "comment": name, "index": i} for i, (_, name, colour) in enumerate(GUIDE_CATEGORIES)],
        indent=1,
    )


def guides_json(layout: Layout) -> str:
    """The layout's guides as Kdenlive's JSON (``pos``, ``comment``, ``type``)."""
    return json.dumps(layout.guides, ensure_ascii=False, indent=1)


def folder_properties(main_bin: etree._Element, layout: Layout, extra: tuple[Folder, ...] = ()) -> None:
    """Bin folders (``kdenlive:folder.<parent>.<id>``), all expanded so every take is in view."""
    folders = [*layout.folders, *extra]
    for folder in folders:
        prop(main_bin, f"kdenlive:folder.-1.{folder.kid}", folder.name)
    prop(main_bin, "kdenlive:expandedFolders", ";".join(str(f.kid) for f in layout.folders))


def black_producer(root: etree._Element, last: int, *, producer_id: str = "black_track") -> None:
    """Kdenlive replaces it with its own; for melt it is the background."""
    black = etree.SubElement(root, "producer", id=producer_id, **{"in": "0", "out": str(last)})
    prop(black, "length", 2147483647)
    prop(black, "eof", "continue")
    prop(black, "resource", "black")
    prop(black, "aspect_ratio", 1)
    prop(black, "mlt_service", "color")
    prop(black, "kdenlive:playlistid", "black_track")  # without it Kdenlive 24.12 reports an unreferenced clip
    prop(black, "mlt_image_format", "rgba")
    prop(black, "set.test_audio", 0)


def tracks(root: etree._Element, layout: Layout, pid: dict[int, str]) -> tuple[str, str]:
    """A1 and V1, each a tractor of two playlists; returns their tractor ids."""
    last = layout.n_frames - 1

    def entry(parent: etree._Element, placed: Placed) -> None:
        e = etree.SubElement(
            parent,
            "entry",
            producer=pid[placed.bin.kid],
            **{"in": str(placed.in_frame), "out": str(placed.in_frame + placed.end_frame - placed.start_frame - 1)},
        )
        prop(e, "kdenlive:id", placed.bin.kid)

    def playlist(pl_id: str, placed: list[Placed], audio: bool) -> etree._Element:
        pl = etree.SubElement(root, "playlist", id=pl_id)
        if audio:
            prop(pl, "kdenlive:audio_track", 1)
        at = 0
        for c in sorted(placed, key=lambda c: c.start_frame):
            if c.start_frame > at:
                etree.SubElement(pl, "blank", length=str(c.start_frame - at))
            entry(pl, c)
            at = c.end_frame
        return pl

    def track_tractor(tr_id: str, pl_ids: tuple[str, str], name: str, audio: bool) -> etree._Element:
        tr = etree.SubElement(root, "tractor", id=tr_id, **{"in": "0", "out": str(last)})
        if audio:
            prop(tr, "kdenlive:audio_track", 1)
        prop(tr, "kdenlive:track_name", name)
        prop(tr, "kdenlive:trackheight", 69)
        prop(tr, "kdenlive:timeline_active", 1)
        prop(tr, "kdenlive:collapsed", 0)
        prop(tr, "kdenlive:thumbs_format", "")
        prop(tr, "kdenlive:audio_rec", "")
        for pl_id in pl_ids:
            etree.SubElement(tr, "track", hide="video" if audio else "audio", producer=pl_id)
        return tr

    # A1: the song.
    playlist("playlist0", [layout.song], True)
    playlist("playlist1", [], True)
    track_tractor("tractor0", ("playlist0", "playlist1"), "A1", True)

    # V1: clips alternating between the two playlists, one luma mix per dissolve.
    playlist("playlist2", [c for c in layout.clips if c.playlist == 0], False)
    playlist("playlist3", [c for c in layout.clips if c.playlist == 1], False)
    v1 = track_tractor("tractor1", ("playlist2", "playlist3"), "V1", False)
    for k, mix in enumerate(layout.mixes):
        t = etree.SubElement(v1, "transition", id=f"mix{k}", **{"in": str(mix.in_frame), "out": str(mix.out_frame)})
        prop(t, "a_track", 0)
        prop(t, "b_track", 1)
        prop(t, "factory", "loader")
        prop(t, "resource", "")
        prop(t, "mlt_service", "luma")
        prop(t, "kdenlive_id", "luma")
        prop(t, "kdenlive:mixcut", mix.mixcut)
        prop(t, "reverse", int(mix.reverse))
        prop(t, "softness", 0)
        prop(t, "alpha_over", 1)
        prop(t, "invert", 0)
    return "tractor0", "tractor1"


def timeline_services(
    tractor: etree._Element, layout: Layout, black_id: str, tracks: tuple[str, str], subtitles_file: Path | None
) -> None:
    """A timeline tractor's tracks (black, A1, V1), internal compositing, and the subtitle filter."""
    for tr_id in (black_id, *tracks):
        etree.SubElement(tractor, "track", producer=tr_id)
    t = etree.SubElement(tractor, "transition", id="transition0")
    for key, value in (
        ("a_track", 0),
        ("b_track", 1),
        ("mlt_service", "mix"),
        ("kdenlive_id", "mix"),
        ("internal_added", INTERNAL_ADDED),
        ("always_active", 1),
        ("accepts_blanks", 1),
        ("sum", 1),
    ):
        prop(t, key, value)
    t = etree.SubElement(tractor, "transition", id="transition1")
    for key, value in (
        ("a_track", 0),
        ("b_track", 2),
        ("version", "0.1"),
        ("mlt_service", "frei0r.cairoblend"),
        ("always_active", 1),
        ("internal_added", INTERNAL_ADDED),
    ):
        prop(t, key, value)
    if subtitles_file is not None and layout.cues:
        f = etree.SubElement(tractor, "filter", id="filter0")
        prop(f, "mlt_service", "avfilter.subtitles")
        prop(f, "internal_added", INTERNAL_ADDED)
        prop(f, "av.filename", os.path.abspath(subtitles_file))
        prop(f, "disable", 0)


def to_xml(root: etree._Element) -> str:
    """The document as UTF-8 XML text, with its declaration, indented."""
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="utf-8").decode("utf-8")
