"""Kdenlive document version 1.1: the sequence layout of Kdenlive 23.04 and later.

Used by :func:`mvtimeline.timeline.kdenlive.xml.write_to_file` with ``version="1.1"``; the layout (bin
with takes, clips, mixes, guides, subtitles) is the same as in version 1.04, only the XML around it
differs (``KDENLIVE-FORMAT.md`` section 2.2 in the team's shared notes):

- the timeline is a *sequence*: a tractor whose id is a braced uuid, with ``kdenlive:uuid``,
  ``kdenlive:producer_type=17``, its own ``kdenlive:id`` in the bin's "Sequences" folder, and the
  per-timeline state as ``kdenlive:sequenceproperties.*`` (guides, groups, zone, targets, tracks);
  its children are the black track, A1, V1, the internal transitions and the subtitle filter;
- ``main_bin`` comes after the sequence and adds the document ``uuid`` (the sequence's, as in
  Kdenlive's own files), ``opensequences``, ``activetimeline``, the "Sequences" folder and
  ``kdenlive:sequenceFolder``, and an entry for the sequence; guide categories stay document-wide;
- a last tractor with ``kdenlive:projectTractor=1`` plays the active sequence (what melt renders).

Kdenlive 22.12 refuses 1.1 documents ("unsupported version"); Kdenlive 24.12 and 26.08 open this
layout with no dialog. The lyrics are the ``NAME.kdenlive.ass`` sidecar those versions read,
listed as the sequence's ``subtitlesList`` with ``activeSubtitleIndex`` 0, as Kdenlive itself
saves them.

Public: build_document, sequence_uuid, DOCUMENT_VERSION, KDENLIVE_VERSION.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

from lxml import etree

from .elements import (bin_producers, black_producer, folder_properties, guide_categories_json, guides_json,
                       new_root, prop, timeline_services, to_xml, tracks, zoom_for)
from .layout import Folder, Layout
from .profile import profile_element

__all__ = ["build_document", "sequence_uuid", "DOCUMENT_VERSION", "KDENLIVE_VERSION"]

log = logging.getLogger(__name__)

#: ``kdenlive:docproperties.version`` of Kdenlive 23.04 - 25.x documents.
DOCUMENT_VERSION = "1.1"
#: The Kdenlive release written as ``kdenliveversion`` (informative only).
KDENLIVE_VERSION = "25.04.3"
#: ``kdenlive:producer_type`` of a sequence clip (ClipType::Timeline).
TIMELINE_CLIP_TYPE = 17

_NAMESPACE = uuid.UUID("6f1c1f53-3b5c-4d1e-9a57-6d7674696d65")


def sequence_uuid(document_id: int) -> str:
    """The braced uuid of the (only) sequence, derived from the document id so output is reproducible.

    Examples
    --------
    >>> sequence_uuid(1700000000000) == sequence_uuid(1700000000000)
    True
    >>> s = sequence_uuid(1700000000000); (s[0], s[-1], len(s))
    ('{', '}', 38)
    """
    return "{" + str(uuid.uuid5(_NAMESPACE, f"mvtimeline-sequence-{int(document_id)}")) + "}"


def build_document(layout: Layout, *, base_dir: Path | None, subtitles_file: Path | None, document_id: int) -> str:
    """The document version 1.1 XML of a laid-out timeline.

    Parameters
    ----------
    layout : Layout
        From :func:`mvtimeline.timeline.kdenlive.layout.layout_of`.
    base_dir : Path or None
        The project's folder: media inside it get relative paths.
    subtitles_file : Path or None
        The sidecar ``.ass`` (what Kdenlive 24.12+ reads): the subtitle filter points at it
        (absolute path, for melt) and the sequence's ``subtitlesList`` names it.
    document_id : int
        ``kdenlive:docproperties.documentid``; also seeds the sequence uuid.

    Returns
    -------
    str
        UTF-8 XML text.
    """
    prof = layout.profile
    last = layout.n_frames - 1
    seq_uuid = sequence_uuid(document_id)
    sequence_folder = Folder(layout.next_id, "Sequences")
    sequence_kid = layout.next_id + 1

    root = new_root()
    profile_element(root, prof)
    pid = bin_producers(root, layout, base_dir)
    black_producer(root, last, producer_id="black_track")
    track_ids = tracks(root, layout, pid)

    # The sequence: a tractor with a braced-uuid id, its properties, then the timeline services.
    seq = etree.SubElement(root, "tractor", id=seq_uuid, **{"in": "0", "out": str(last)})
    seq_props: list[tuple[str, Any]] = [
        ("kdenlive:uuid", seq_uuid),
        ("kdenlive:clipname", layout.name or "Sequence 1"),
        ("kdenlive:producer_type", TIMELINE_CLIP_TYPE),
        ("kdenlive:id", sequence_kid),
        ("kdenlive:folderid", sequence_folder.kid),
        ("kdenlive:duration", layout.n_frames),
        ("kdenlive:maxduration", layout.n_frames),
    ]
    sequence_properties: list[tuple[str, Any]] = [
        ("hasAudio", 1),
        ("hasVideo", 1),
        ("activeTrack", 1),
        ("tracksCount", 2),
        ("tracks", 2),
        ("documentuuid", seq_uuid),
        ("audioTarget", 0),
        ("videoTarget", 1),
        ("zonein", 0),
        ("zoneout", last),
        ("zoom", zoom_for(layout.n_frames)),
        ("verticalzoom", 1),
        ("position", 0),
        ("scrollPos", 0),
        ("disablepreview", 0),
        ("groups", "[]"),
        ("guides", guides_json(layout)),
    ]
    if subtitles_file is not None and layout.cues:
        # the subtitle track's file (relative: resolved against the project folder) and which one is shown
        ass_name = Path(subtitles_file).name
        sequence_properties.append(("subtitlesList", json.dumps([{"file": ass_name, "id": 0, "name": "Subtitles"}])))
        sequence_properties.append(("kdenlive:activeSubtitleIndex", 0))
    for key, value in seq_props:
        prop(seq, key, value)
    for key, value in sequence_properties:
        prop(seq, f"kdenlive:sequenceproperties.{key}", value)
    timeline_services(seq, layout, "black_track", track_ids, subtitles_file)

    # main_bin after the sequence: document properties, folders, the sequence and the bin clips.
    main_bin = etree.SubElement(root, "playlist", id="main_bin")
    folder_properties(main_bin, layout, extra=(sequence_folder,))
    prop(main_bin, "kdenlive:sequenceFolder", sequence_folder.kid)
    docprops: list[tuple[str, Any]] = [
        ("audioChannels", 2),
        ("compositing", 1),
        ("documentid", document_id),
        ("enableTimelineZone", 0),
        ("enableexternalproxy", 0),
        ("enableproxy", 0),
        ("generateimageproxy", 0),
        ("generateproxy", 0),
        ("guidesCategories", guide_categories_json()),
        ("kdenliveversion", KDENLIVE_VERSION),
        ("profile", prof.name),
        ("seekOffset", 30000),
        ("uuid", seq_uuid),
        ("version", DOCUMENT_VERSION),
        ("opensequences", seq_uuid),
        ("activetimeline", seq_uuid),
    ]
    for key, value in docprops:
        prop(main_bin, f"kdenlive:docproperties.{key}", value)
    prop(main_bin, "kdenlive:documentnotes", "")
    prop(main_bin, "xml_retain", 1)
    etree.SubElement(main_bin, "entry", producer=seq_uuid, **{"in": "0", "out": str(last)})
    for b in layout.bins:
        etree.SubElement(main_bin, "entry", producer=pid[b.kid], **{"in": "0", "out": str(b.n_frames - 1)})

    # The project tractor, last: what MLT (melt) plays is the active sequence.
    project = etree.SubElement(root, "tractor", id="tractor2", **{"in": "0", "out": str(last)})
    prop(project, "kdenlive:projectTractor", 1)
    etree.SubElement(project, "track", producer=seq_uuid, **{"in": "0", "out": str(last)})
    log.debug("Kdenlive 1.1 document: sequence %s, %d bin clips, %d folders", seq_uuid, len(layout.bins),
              len(layout.folders))
    return to_xml(root)
