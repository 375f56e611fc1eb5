"""Read a ``.kdenlive`` project back, and change the take of a segment in a project a person edited.

Works on our files (document versions 1.04 and 1.1) and on files Kdenlive itself saved (21.12 to
26.08): clock-string times are parsed the way MLT parses them (:func:`mvtimeline.timecode.mlt_time_to_frames`),
relative resources against the document's ``root``, timeline entries may point at ``<chain>``
elements, a 1.1 document's timeline is the sequence its project tractor plays, and the lyrics are
the subtitle sidecar that version reads (``NAME.kdenlive.ass``, else ``NAME.kdenlive.srt``).

- :func:`read_summary` — what a project holds (bin, folders, clips, mixes, guides, subtitles...).
- :func:`swap_take` — put another file of a segment on the timeline of a saved project in place,
  leaving every other edit as it is (``mvtimeline pick`` on a project edited in Kdenlive).

Public: read_summary, swap_take.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from lxml import etree

from mvtimeline.errors import InputError
from mvtimeline.fileio import atomic_write
from mvtimeline.timecode import exact_rate, mlt_time_to_frames

__all__ = ["read_summary", "swap_take"]


def _props(el: etree._Element) -> dict[str, str]:
    return {p.get("name"): (p.text or "") for p in el.findall("property")}


def read_summary(path: Path) -> dict[str, Any]:
    """What a ``.kdenlive`` file holds, read back with lxml (for tests and ``doctor``-style checks).

    Works on our files (versions 1.04 and 1.1) and on files Kdenlive 21.12 - 26.08 saved
    (clock-string times are parsed the way MLT parses them). For a 1.1 document the timeline is the
    sequence the project tractor plays.

    Parameters
    ----------
    path : Path
        A Kdenlive project.

    Returns
    -------
    dict
        ``version``, ``document_id``, ``profile`` (``name``, ``description``, ``width``,
        ``height``, ``fps`` Fraction, ``display_aspect`` (num, den)), ``n_frames`` (end of the last
        track item, black track excluded), ``bin`` (list of ``kdenlive_id``, ``producer``,
        ``resource``, ``name``, ``folderid``, ``length``, ``file_hash``), ``folders`` (folder id →
        name), ``expanded_folders`` (ids), ``tracks`` (list of ``id``, ``name``, ``audio``,
        ``playlists``), ``clips`` (list of ``track``, ``playlist`` 0/1, ``producer``,
        ``kdenlive_id``, ``resource``, ``name``, ``start_frame``, ``end_frame`` exclusive,
        ``in_frame``, ``out_frame`` inclusive, sorted by track then start), ``mixes`` (list of
        ``track``, ``in_frame``, ``out_frame``, ``mixcut``, ``reverse``, ``service``), ``guides``
        (list of ``pos``, ``comment``, ``type``), ``guide_categories``, ``main_tracks`` (producer
        ids), ``main_transitions`` (``service``, ``a_track``, ``b_track``), ``subtitle_filter``
        (its properties, or None), ``sequences`` (list of ``id``, ``uuid``, ``kdenlive_id``,
        ``name``, ``folderid``, ``properties``: the ``kdenlive:sequenceproperties.*`` without the
        prefix), ``uuid``, ``active_timeline``, ``project_tractor`` (bool: the last tractor is a
        1.1 project tractor), ``docproperties`` (all ``kdenlive:docproperties.*``),
        ``subtitles_file`` (the sidecar Kdenlive reads: ``NAME.kdenlive.ass`` if it exists, else
        ``NAME.kdenlive.srt``, else None) and ``subtitles`` (its cues: ``start_ms``, ``end_ms``,
        ``text``).

    Raises
    ------
    InputError
        The file is missing or is not an MLT document.
    """
    path = Path(path)
    root = _parse(path).getroot()
    prof_el = root.find("profile")
    if prof_el is None:
        raise InputError(f"{path}: no <profile> element")
    fps = exact_rate(int(prof_el.get("frame_rate_num")), int(prof_el.get("frame_rate_den")))
    main_bin = root.find("playlist[@id='main_bin']")
    bin_props = _props(main_bin) if main_bin is not None else {}
    doc = {k.split(".", 1)[1]: v for k, v in bin_props.items() if k.startswith("kdenlive:docproperties.")}
    folders = {}
    for key, value in bin_props.items():
        m = re.fullmatch(r"kdenlive:folder\.(-?\d+)\.(\d+)", key)
        if m:
            folders[int(m.group(2))] = value
    expanded = [int(x) for x in bin_props.get("kdenlive:expandedFolders", "").split(";") if x.strip().isdigit()]

    by_id = {el.get("id"): el for el in root if el.get("id")}
    producers = {el.get("id"): el for el in root if el.tag in ("producer", "chain")}
    bin_list, sequences = [], []
    if main_bin is not None:
        for e in main_bin.findall("entry"):
            p = by_id.get(e.get("producer"))
            if p is None:
                continue
            pp = _props(p)
            if p.tag == "tractor":
                sequences.append(
                    {
                        "id": p.get("id"),
                        "uuid": pp.get("kdenlive:uuid"),
                        "kdenlive_id": int(pp.get("kdenlive:id", "-1")),
                        "name": pp.get("kdenlive:clipname", ""),
                        "folderid": pp.get("kdenlive:folderid"),
                        "producer_type": pp.get("kdenlive:producer_type"),
                        "properties": {
                            k.split(".", 1)[1]: v for k, v in pp.items() if k.startswith("kdenlive:sequenceproperties.")
                        },
                    }
                )
                continue
            bin_list.append(
                {
                    "producer": p.get("id"),
                    "kdenlive_id": int(pp.get("kdenlive:id", "-1")),
                    "resource": pp.get("resource", ""),
                    "name": pp.get("kdenlive:clipname", ""),
                    "folderid": pp.get("kdenlive:folderid"),
                    "length": mlt_time_to_frames(pp.get("length"), fps),
                    "file_hash": pp.get("kdenlive:file_hash"),
                }
            )
    playlists = {el.get("id"): el for el in root if el.tag == "playlist"}
    tractors = [el for el in root if el.tag == "tractor"]
    main = tractors[-1] if tractors else None
    project_tractor = main is not None and _props(main).get("kdenlive:projectTractor") == "1"
    if project_tractor:
        first = main.find("track")
        main = by_id.get(first.get("producer")) if first is not None else None

    track_tractors = []
    if main is not None:
        for t in main.findall("track"):
            el = by_id.get(t.get("producer"))
            if el is not None and el.tag == "tractor":
                track_tractors.append(el)

    tracks, clips, mixes = [], [], []
    n_frames = 0
    for tr in track_tractors:
        tp = _props(tr)
        subs = [t.get("producer") for t in tr.findall("track")]
        audio = tp.get("kdenlive:audio_track") == "1"
        name = tp.get("kdenlive:track_name", tr.get("id"))
        tracks.append({"id": tr.get("id"), "name": name, "audio": audio, "playlists": subs})
        for idx, pl_id in enumerate(subs):
            pl = playlists.get(pl_id)
            if pl is None:
                continue
            at = 0
            for item in pl:
                if item.tag == "blank":
                    at += mlt_time_to_frames(item.get("length"), fps)
                elif item.tag == "entry":
                    fin = mlt_time_to_frames(item.get("in"), fps)
                    fout = mlt_time_to_frames(item.get("out"), fps)
                    p = producers.get(item.get("producer"))
                    pp = _props(p) if p is not None else {}
                    ep = _props(item)
                    length = fout - fin + 1
                    clips.append(
                        {
                            "track": name,
                            "playlist": idx,
                            "producer": item.get("producer"),
                            "kdenlive_id": int(ep.get("kdenlive:id", pp.get("kdenlive:id", "-1"))),
                            "resource": pp.get("resource", ""),
                            "name": pp.get("kdenlive:clipname", ""),
                            "start_frame": at,
                            "end_frame": at + length,
                            "in_frame": fin,
                            "out_frame": fout,
                        }
                    )
                    at += length
            n_frames = max(n_frames, at)
        for t in tr.findall("transition"):
            mp = _props(t)
            mixes.append(
                {
                    "track": name,
                    "in_frame": mlt_time_to_frames(t.get("in"), fps),
                    "out_frame": mlt_time_to_frames(t.get("out"), fps),
                    "mixcut": int(mp.get("kdenlive:mixcut", "0")),
                    "reverse": mp.get("reverse", "0") == "1",
                    "service": mp.get("mlt_service", ""),
                }
            )
    clips.sort(key=lambda c: (c["track"], c["start_frame"]))
    mixes.sort(key=lambda m: (m["track"], m["in_frame"]))

    main_tracks, main_transitions, subtitle_filter = [], [], None
    guides_json = doc.get("guides")
    if main is not None:
        main_tracks = [t.get("producer") for t in main.findall("track")]
        for t in main.findall("transition"):
            tp = _props(t)
            main_transitions.append(
                {
                    "service": tp.get("mlt_service"),
                    "a_track": int(tp.get("a_track", "0")),
                    "b_track": int(tp.get("b_track", "0")),
                }
            )
        for f in main.findall("filter"):
            fp = _props(f)
            if fp.get("mlt_service") == "avfilter.subtitles":
                subtitle_filter = fp
        guides_json = _props(main).get("kdenlive:sequenceproperties.guides", guides_json)
    return {
        "version": doc.get("version"),
        "document_id": doc.get("documentid"),
        "profile": {
            "name": doc.get("profile"),
            "description": prof_el.get("description"),
            "width": int(prof_el.get("width")),
            "height": int(prof_el.get("height")),
            "fps": fps,
            "display_aspect": (int(prof_el.get("display_aspect_num")), int(prof_el.get("display_aspect_den"))),
        },
        "n_frames": n_frames,
        "bin": bin_list,
        "folders": folders,
        "expanded_folders": expanded,
        "tracks": tracks,
        "clips": clips,
        "mixes": mixes,
        "guides": json.loads(guides_json) if guides_json and guides_json.strip() else [],
        "guide_categories": json.loads(doc["guidesCategories"]) if doc.get("guidesCategories") else [],
        "main_tracks": main_tracks,
        "main_transitions": main_transitions,
        "subtitle_filter": subtitle_filter,
        "sequences": sequences,
        "uuid": doc.get("uuid"),
        "active_timeline": doc.get("activetimeline"),
        "project_tractor": project_tractor,
        "docproperties": doc,
        **_subtitles(path),
    }


def _subtitles(path: Path) -> dict[str, Any]:
    import pysubs2

    for sidecar in (path.with_name(path.name + ".ass"), path.with_name(path.name + ".srt")):
        if sidecar.is_file():
            try:
                subs = pysubs2.load(str(sidecar), encoding="utf-8")
            except (pysubs2.Pysubs2Error, UnicodeDecodeError, ValueError) as exc:
                raise InputError(f"{sidecar}: not a readable subtitle file ({exc})") from None
            cues = [{"start_ms": ev.start, "end_ms": ev.end, "text": ev.plaintext} for ev in subs if not ev.is_comment]
            return {"subtitles_file": sidecar, "subtitles": cues}
    return {"subtitles_file": None, "subtitles": []}


def _parse(path: Path) -> etree._ElementTree:
    try:
        tree = etree.parse(str(path), etree.XMLParser(huge_tree=True))
    except OSError:
        raise InputError(f"{path}: no such file") from None
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{path}: not valid XML ({exc})") from None
    if tree.getroot().tag != "mlt":
        raise InputError(f"{path}: not a Kdenlive/MLT project (root element <{tree.getroot().tag}>)")
    return tree


def _set_prop(el: etree._Element, name: str, value: str) -> None:
    for p in el.findall("property"):
        if p.get("name") == name:
            p.text = value
            return
    etree.SubElement(el, "property", name=name).text = value


def swap_take(path: Path, *, old_file: Path, new_file: Path, new_name: str) -> int:
    """Put ``new_file`` where ``old_file`` is on the timeline of a saved project, in place.

    Every timeline clip of ``old_file`` (any track, any sequence) keeps its position, in and out
    points, effects and mixes and shows ``new_file`` instead; nothing else in the project changes.
    ``new_file`` joins the bin beside ``old_file`` (same folder) when it is not there yet. The
    project is rewritten atomically; the caller keeps a backup.

    Parameters
    ----------
    path : Path
        The ``.kdenlive`` project (ours, or as Kdenlive saved it).
    old_file, new_file : Path
        The take on the timeline now, and the one to show; the files must have the same frames.
    new_name : str
        The bin name for ``new_file`` if it has to be added (e.g. ``"03 take 2"``).

    Returns
    -------
    int
        How many timeline clips now show ``new_file``.

    Raises
    ------
    InputError
        The project is not readable, ``old_file`` is not in its bin, or no timeline clip uses it
        (the message says so; the file is left untouched).
    """
    path = Path(path)
    tree = _parse(path)
    root = tree.getroot()
    base = Path(root.get("root") or path.parent)
    if not base.is_absolute():
        base = path.parent / base

    def file_of(el: etree._Element) -> Path | None:
        res = _props(el).get("resource", "")
        if not res:
            return None
        p = Path(res) if os.path.isabs(res) else base / res
        return p.resolve()

    old_file, new_file = Path(old_file).resolve(), Path(new_file).resolve()
    main_bin = root.find("playlist[@id='main_bin']")
    if main_bin is None:
        raise InputError(f"{path}: no main_bin playlist; not a Kdenlive project")
    by_id = {el.get("id"): el for el in root if el.get("id")}
    bin_els = [by_id[e.get("producer")] for e in main_bin.findall("entry") if e.get("producer") in by_id]
    clips = [el for el in bin_els if el.tag in ("producer", "chain")]
    old = [el for el in clips if file_of(el) == old_file]
    if not old:
        raise InputError(f"{path}: {old_file.name} is not in the project bin (removed in Kdenlive?); "
                         "nothing changed")
    old_kids = {_props(el).get("kdenlive:id") for el in old}
    new = next((el for el in clips if file_of(el) == new_file), None)
    if new is None:
        new = _clone_bin_clip(root, main_bin, old[0], new_file, new_name, base)
    new_kid = _props(new).get("kdenlive:id", "")

    swapped = 0
    for playlist in root.iter("playlist"):
        if playlist.get("id") == "main_bin":
            continue
        for entry in playlist.findall("entry"):
            producer = by_id.get(entry.get("producer"))
            kid = _props(entry).get("kdenlive:id") or (_props(producer).get("kdenlive:id") if producer is not None
                                                       else None)
            if kid in old_kids or (producer is not None and file_of(producer) == old_file):
                entry.set("producer", new.get("id"))
                _set_prop(entry, "kdenlive:id", new_kid)
                swapped += 1
    if not swapped:
        raise InputError(f"{path}: {old_file.name} is in the bin but on no timeline track (removed in "
                         "Kdenlive?); nothing changed")
    atomic_write(path, etree.tostring(tree, xml_declaration=True, encoding="utf-8"))
    return swapped


def _clone_bin_clip(root: etree._Element, main_bin: etree._Element, like: etree._Element, file: Path,
                    name: str, base: Path) -> etree._Element:
    """A bin clip for ``file``, made from bin clip ``like`` (same folder and settings), with its
    ``main_bin`` entry."""
    import copy

    ids = {el.get("id") for el in root.iter() if el.get("id")}
    prefix = re.sub(r"\d+$", "", like.get("id") or "producer") or "producer"
    n = 0
    while f"{prefix}{n}" in ids:
        n += 1
    kids = [int(v) for el in root.iter() for p in el.findall("property")
            if p.get("name") == "kdenlive:id" and (v := (p.text or "").strip()).isdigit()]
    folders = [int(m.group(1)) for p in main_bin.findall("property")
               if (m := re.fullmatch(r"kdenlive:folder\.-?\d+\.(\d+)", p.get("name") or ""))]
    clone = copy.deepcopy(like)
    clone.set("id", f"{prefix}{n}")
    for p in clone.findall("property"):
        if p.get("name") in ("kdenlive:control_uuid", "kdenlive:file_hash", "kdenlive:file_size", "kdenlive:uuid"):
            clone.remove(p)
    old_res = _props(like).get("resource", "")
    try:
        res = file.relative_to(base.resolve()).as_posix() if not os.path.isabs(old_res) else str(file)
    except ValueError:
        res = str(file)
    _set_prop(clone, "resource", res)
    _set_prop(clone, "kdenlive:clipname", name)
    _set_prop(clone, "kdenlive:id", str(max([*kids, *folders, 1]) + 1))
    like.addnext(clone)
    entry = next(e for e in main_bin.findall("entry") if e.get("producer") == like.get("id"))
    new_entry = copy.deepcopy(entry)
    new_entry.set("producer", clone.get("id"))
    entry.addnext(new_entry)
    return clone
