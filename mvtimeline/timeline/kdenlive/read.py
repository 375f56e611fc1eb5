"""Read an MLT document back: the one MLT parser, what a Kdenlive project holds, and swapping a take.

The parser (:func:`parse_mlt` and the lookups beside it) is the only one in the package: this
module reads projects back with it, and the render stage (:mod:`mvtimeline.render.melt`) checks,
measures and rewrites projects with it. It works on our files (document versions 1.04 and 1.1)
and on files Kdenlive itself saved (21.12 to 26.08): clock-string times are parsed the way MLT
parses them (:func:`mvtimeline.timecode.mlt_time_to_frames`), relative resources against the
document's ``root`` (:func:`base_dir`), timeline entries may point at ``<chain>`` elements, a 1.1
document's timeline is the sequence its project tractor plays, and the lyrics are the subtitle
sidecar that version reads (``NAME.kdenlive.ass``, else ``NAME.kdenlive.srt``).

- :func:`parse_mlt`, :func:`properties`, :func:`set_property`, :func:`elements_by_id`,
  :func:`profile_fps`, :func:`base_dir`, :func:`resource_path`, :func:`media_resource` — the parser;
- :func:`read_summary` — what a project holds (bin, folders, clips, mixes, guides, subtitles...), as a
  :class:`ProjectSummary`;
- :func:`swap_take` — put another file of a segment on the timeline of a saved project in place,
  leaving every other edit as it is (``mvtimeline pick`` on a project edited in Kdenlive).

Public: parse_mlt, properties, set_property, elements_by_id, profile_fps, base_dir, resource_path,
media_resource, FILE_SERVICES, SUBTITLE_SERVICES, read_summary, ProjectSummary, ProfileInfo, BinItem,
SequenceItem, TrackItem, ClipItem, MixItem, GuideItem, GuideCategory, TransitionItem, CueItem, swap_take.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from lxml import etree

from mvtimeline.errors import InputError
from mvtimeline.fileio import atomic_write
from mvtimeline.timecode import exact_rate, mlt_time_to_frames

__all__ = [
    "parse_mlt",
    "properties",
    "set_property",
    "elements_by_id",
    "profile_fps",
    "base_dir",
    "resource_path",
    "media_resource",
    "FILE_SERVICES",
    "SUBTITLE_SERVICES",
    "read_summary",
    "ProjectSummary",
    "ProfileInfo",
    "BinItem",
    "SequenceItem",
    "TrackItem",
    "ClipItem",
    "MixItem",
    "GuideItem",
    "GuideCategory",
    "TransitionItem",
    "CueItem",
    "swap_take",
]

#: ``mlt_service`` values of producers that read a media file.
FILE_SERVICES = ("avformat", "avformat-novalidate", "qimage", "pixbuf")
#: ``mlt_service`` values of filters that draw subtitles from a file (``av.filename``).
SUBTITLE_SERVICES = ("avfilter.subtitles", "avfilter.ass")


# ------------------------------------------------------------------------------------------- parser
def parse_mlt(path: Path) -> etree._ElementTree:
    """Parse an MLT document (a ``.kdenlive`` or ``.mlt`` file).

    Parameters
    ----------
    path : Path
        The file.

    Returns
    -------
    lxml.etree._ElementTree
        The document; its root is ``<mlt>``.

    Raises
    ------
    InputError
        The file is missing, not a file, unreadable, not XML, or its root element is not ``<mlt>``
        (the message names the file and says which).
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file; give a .kdenlive or .mlt project")
    try:
        tree = etree.parse(str(path), etree.XMLParser(huge_tree=True, remove_blank_text=False))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{path}: not a Kdenlive/MLT project (XML error: {exc})") from None
    root = tree.getroot()
    if root.tag != "mlt":
        raise InputError(f"{path}: not a Kdenlive/MLT project (root element is <{root.tag}>, not <mlt>)")
    return tree


def properties(el: etree._Element) -> dict[str, str]:
    """The ``<property name=...>`` children of an element: name → text (``""`` when empty)."""
    return {p.get("name"): (p.text or "") for p in el.findall("property")}


def set_property(el: etree._Element, name: str, value: str) -> None:
    """Set the text of the property ``name`` of ``el``, adding the property when it has none."""
    for p in el.findall("property"):
        if p.get("name") == name:
            p.text = value
            return
    etree.SubElement(el, "property", name=name).text = value


def elements_by_id(root: etree._Element) -> dict[str, etree._Element]:
    """The top-level elements of a document (producers, chains, playlists, tractors) by ``id``."""
    return {el.get("id"): el for el in root if el.get("id")}


def profile_fps(root: etree._Element) -> Fraction | None:
    """The exact frame rate of a document's ``<profile>``, or None when it has none (or no readable
    ``frame_rate_num``/``frame_rate_den``). An NTSC label over 100 in a custom profile
    (``2997/100``) means the NTSC rate (:func:`mvtimeline.timecode.exact_rate`)."""
    prof = root.find("profile")
    try:
        return exact_rate(int(prof.get("frame_rate_num")), int(prof.get("frame_rate_den")))
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None


def base_dir(root: etree._Element, path: Path) -> Path:
    """The folder a document's relative resources are read from: its ``root`` attribute when that is
    a folder (a relative one is taken from the document's folder), else the document's folder."""
    folder = Path(path).resolve().parent
    given = root.get("root")
    if given:
        candidate = Path(given) if os.path.isabs(given) else folder / given
        if candidate.is_dir():
            return candidate
    return folder


def resource_path(resource: str, base: Path) -> Path:
    """A resource as a path: as it is when absolute, else under ``base`` (see :func:`base_dir`)."""
    return Path(resource) if os.path.isabs(resource) else Path(base) / resource


def media_resource(el: etree._Element) -> str | None:
    """The media file a ``<producer>``/``<chain>`` reads (its ``resource``, as written), or None for
    anything else: a colour, a sequence, an image sequence (``%05d``), inline XML."""
    if el.tag not in ("producer", "chain"):
        return None
    pp = properties(el)
    if pp.get("mlt_service") not in FILE_SERVICES:
        return None
    resource = pp.get("resource", "")
    if not resource or resource.startswith("<") or "%" in resource:
        return None
    return resource


# ---------------------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class ProfileInfo:
    """The ``<profile>`` of a project: ``name`` (``kdenlive:docproperties.profile``), ``description``,
    frame size in pixels, exact ``fps``, ``display_aspect`` ``(num, den)``."""

    name: str | None
    description: str | None
    width: int
    height: int
    fps: Fraction
    display_aspect: tuple[int, int]


@dataclass(frozen=True)
class BinItem:
    """A bin clip: its producer id, ``kdenlive:id``, ``resource`` (as written), bin ``name``,
    ``folderid`` (as written; ``"-1"`` is the bin root), ``length`` in frames, ``file_hash``."""

    producer: str
    kdenlive_id: int
    resource: str
    name: str
    folderid: str | None
    length: int
    file_hash: str | None


@dataclass(frozen=True)
class SequenceItem:
    """A sequence (document 1.1) in the bin; ``properties``: its ``kdenlive:sequenceproperties.*``
    without the prefix."""

    id: str
    uuid: str | None
    kdenlive_id: int
    name: str
    folderid: str | None
    producer_type: str | None
    properties: dict[str, str]


@dataclass(frozen=True)
class TrackItem:
    """A timeline track: its tractor ``id``, ``name``, whether it is ``audio``, its playlist ids."""

    id: str
    name: str
    audio: bool
    playlists: list[str]


@dataclass(frozen=True)
class ClipItem:
    """A clip on a track: ``playlist`` 0/1 of the track, timeline frames ``[start_frame, end_frame)``,
    source frames ``in_frame`` to ``out_frame`` (inclusive)."""

    track: str
    playlist: int
    producer: str
    kdenlive_id: int
    resource: str
    name: str
    start_frame: int
    end_frame: int
    in_frame: int
    out_frame: int


@dataclass(frozen=True)
class MixItem:
    """A transition inside a track (Kdenlive's same-track mix), frames ``in_frame`` to ``out_frame``."""

    track: str
    in_frame: int
    out_frame: int
    mixcut: int
    reverse: bool
    service: str


@dataclass(frozen=True)
class GuideItem:
    """A guide: frame ``pos``, ``comment``, category ``type``."""

    pos: int
    comment: str
    type: int


@dataclass(frozen=True)
class GuideCategory:
    """A guide category (``guidesCategories``): ``index``, ``comment`` (its name), ``color``."""

    index: int
    comment: str
    color: str


@dataclass(frozen=True)
class TransitionItem:
    """A transition of the timeline tractor (internal compositing): service and tracks."""

    service: str | None
    a_track: int
    b_track: int


@dataclass(frozen=True)
class CueItem:
    """A subtitle cue of the sidecar, in milliseconds, and its plain text."""

    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class ProjectSummary:
    """What a ``.kdenlive`` file holds (see :func:`read_summary`).

    ``version`` and ``document_id`` as written; ``n_frames``: the end of the last track item (black
    track excluded); ``folders``: bin folder id → name; ``expanded_folders``: ids; ``clips`` sorted
    by track then start, ``mixes`` by track then start; ``main_tracks``: the producer ids of the
    timeline tractor's tracks, ``main_transitions`` its transitions; ``subtitle_filter``: the
    properties of its ``avfilter.subtitles`` filter, or None; ``uuid`` and ``active_timeline``
    (document 1.1); ``project_tractor``: the last tractor is a 1.1 project tractor; ``docproperties``:
    every ``kdenlive:docproperties.*`` without the prefix; ``subtitles_file``: the sidecar Kdenlive
    reads (``NAME.kdenlive.ass`` if it exists, else ``NAME.kdenlive.srt``, else None) and
    ``subtitles`` its cues.
    """

    version: str | None
    document_id: str | None
    profile: ProfileInfo
    n_frames: int
    bin: list[BinItem]
    folders: dict[int, str]
    expanded_folders: list[int]
    tracks: list[TrackItem]
    clips: list[ClipItem]
    mixes: list[MixItem]
    guides: list[GuideItem]
    guide_categories: list[GuideCategory]
    main_tracks: list[str]
    main_transitions: list[TransitionItem]
    subtitle_filter: dict[str, str] | None
    sequences: list[SequenceItem]
    uuid: str | None
    active_timeline: str | None
    project_tractor: bool
    docproperties: dict[str, str]
    subtitles_file: Path | None = None
    subtitles: list[CueItem] = field(default_factory=list)


def read_summary(path: Path) -> ProjectSummary:
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
    ProjectSummary
        The document version and id, profile, length in frames, bin (clips, folders, sequences),
        tracks, clips, mixes, guides and their categories, the timeline tractor's tracks,
        transitions and subtitle filter, document properties, and the subtitle sidecar with its
        cues (fields: :class:`ProjectSummary`).

    Raises
    ------
    InputError
        The file is missing or is not an MLT document.
    """
    path = Path(path)
    root = parse_mlt(path).getroot()
    prof_el = root.find("profile")
    if prof_el is None:
        raise InputError(f"{path}: no <profile> element")
    fps = profile_fps(root)
    if fps is None:
        raise InputError(f"{path}: <profile> has no frame_rate_num/frame_rate_den")
    main_bin = root.find("playlist[@id='main_bin']")
    bin_props = properties(main_bin) if main_bin is not None else {}
    doc = {k.split(".", 1)[1]: v for k, v in bin_props.items() if k.startswith("kdenlive:docproperties.")}
    folders = {}
    for key, value in bin_props.items():
        m = re.fullmatch(r"kdenlive:folder\.(-?\d+)\.(\d+)", key)
        if m:
            folders[int(m.group(2))] = value
    expanded = [int(x) for x in bin_props.get("kdenlive:expandedFolders", "").split(";") if x.strip().isdigit()]

    by_id = elements_by_id(root)
    producers = {el.get("id"): el for el in root if el.tag in ("producer", "chain")}
    bin_list: list[BinItem] = []
    sequences: list[SequenceItem] = []
    if main_bin is not None:
        for e in main_bin.findall("entry"):
            p = by_id.get(e.get("producer"))
            if p is None:
                continue
            pp = properties(p)
            if p.tag == "tractor":
                sequences.append(
                    SequenceItem(
                        id=p.get("id"),
                        uuid=pp.get("kdenlive:uuid"),
                        kdenlive_id=int(pp.get("kdenlive:id", "-1")),
                        name=pp.get("kdenlive:clipname", ""),
                        folderid=pp.get("kdenlive:folderid"),
                        producer_type=pp.get("kdenlive:producer_type"),
                        properties={
                            k.split(".", 1)[1]: v for k, v in pp.items() if k.startswith("kdenlive:sequenceproperties.")
                        },
                    )
                )
                continue
            bin_list.append(
                BinItem(
                    producer=p.get("id"),
                    kdenlive_id=int(pp.get("kdenlive:id", "-1")),
                    resource=pp.get("resource", ""),
                    name=pp.get("kdenlive:clipname", ""),
                    folderid=pp.get("kdenlive:folderid"),
                    length=mlt_time_to_frames(pp.get("length"), fps),
                    file_hash=pp.get("kdenlive:file_hash"),
                )
            )
    playlists = {el.get("id"): el for el in root if el.tag == "playlist"}
    tractors = [el for el in root if el.tag == "tractor"]
    main = tractors[-1] if tractors else None
    project_tractor = main is not None and properties(main).get("kdenlive:projectTractor") == "1"
    if project_tractor:
        first = main.find("track")
        main = by_id.get(first.get("producer")) if first is not None else None

    track_tractors = []
    if main is not None:
        for t in main.findall("track"):
            el = by_id.get(t.get("producer"))
            if el is not None and el.tag == "tractor":
                track_tractors.append(el)

    tracks: list[TrackItem] = []
    clips: list[ClipItem] = []
    mixes: list[MixItem] = []
    n_frames = 0
    for tr in track_tractors:
        tp = properties(tr)
        subs = [t.get("producer") for t in tr.findall("track")]
        audio = tp.get("kdenlive:audio_track") == "1"
        name = tp.get("kdenlive:track_name", tr.get("id"))
        tracks.append(TrackItem(id=tr.get("id"), name=name, audio=audio, playlists=subs))
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
                    pp = properties(p) if p is not None else {}
                    ep = properties(item)
                    length = fout - fin + 1
                    clips.append(
                        ClipItem(
                            track=name,
                            playlist=idx,
                            producer=item.get("producer"),
                            kdenlive_id=int(ep.get("kdenlive:id", pp.get("kdenlive:id", "-1"))),
                            resource=pp.get("resource", ""),
                            name=pp.get("kdenlive:clipname", ""),
                            start_frame=at,
                            end_frame=at + length,
                            in_frame=fin,
                            out_frame=fout,
                        )
                    )
                    at += length
            n_frames = max(n_frames, at)
        for t in tr.findall("transition"):
            mp = properties(t)
            mixes.append(
                MixItem(
                    track=name,
                    in_frame=mlt_time_to_frames(t.get("in"), fps),
                    out_frame=mlt_time_to_frames(t.get("out"), fps),
                    mixcut=int(mp.get("kdenlive:mixcut", "0")),
                    reverse=mp.get("reverse", "0") == "1",
                    service=mp.get("mlt_service", ""),
                )
            )
    clips.sort(key=lambda c: (c.track, c.start_frame))
    mixes.sort(key=lambda m: (m.track, m.in_frame))

    main_tracks: list[str] = []
    main_transitions: list[TransitionItem] = []
    subtitle_filter = None
    guides_json = doc.get("guides")
    if main is not None:
        main_tracks = [t.get("producer") for t in main.findall("track")]
        for t in main.findall("transition"):
            tp = properties(t)
            main_transitions.append(
                TransitionItem(
                    service=tp.get("mlt_service"),
                    a_track=int(tp.get("a_track", "0")),
                    b_track=int(tp.get("b_track", "0")),
                )
            )
        for f in main.findall("filter"):
            fp = properties(f)
            if fp.get("mlt_service") == "avfilter.subtitles":
                subtitle_filter = fp
        guides_json = properties(main).get("kdenlive:sequenceproperties.guides", guides_json)
    guides = json.loads(guides_json) if guides_json and guides_json.strip() else []
    categories = json.loads(doc["guidesCategories"]) if doc.get("guidesCategories") else []
    subtitles_file, cues = _subtitles(path)
    return ProjectSummary(
        version=doc.get("version"),
        document_id=doc.get("documentid"),
        profile=ProfileInfo(
            name=doc.get("profile"),
            description=prof_el.get("description"),
            width=int(prof_el.get("width")),
            height=int(prof_el.get("height")),
            fps=fps,
            display_aspect=(int(prof_el.get("display_aspect_num")), int(prof_el.get("display_aspect_den"))),
        ),
        n_frames=n_frames,
        bin=bin_list,
        folders=folders,
        expanded_folders=expanded,
        tracks=tracks,
        clips=clips,
        mixes=mixes,
        guides=[GuideItem(pos=g["pos"], comment=g.get("comment", ""), type=g.get("type", 0)) for g in guides],
        guide_categories=[GuideCategory(index=c["index"], comment=c["comment"], color=c["color"]) for c in categories],
        main_tracks=main_tracks,
        main_transitions=main_transitions,
        subtitle_filter=subtitle_filter,
        sequences=sequences,
        uuid=doc.get("uuid"),
        active_timeline=doc.get("activetimeline"),
        project_tractor=project_tractor,
        docproperties=doc,
        subtitles_file=subtitles_file,
        subtitles=cues,
    )


def _subtitles(path: Path) -> tuple[Path | None, list[CueItem]]:
    """The subtitle sidecar Kdenlive reads for ``path`` and its cues (None and [] when there is none)."""
    import pysubs2

    for sidecar in (path.with_name(path.name + ".ass"), path.with_name(path.name + ".srt")):
        if sidecar.is_file():
            try:
                subs = pysubs2.load(str(sidecar), encoding="utf-8")
            except (pysubs2.Pysubs2Error, UnicodeDecodeError, ValueError) as exc:
                raise InputError(f"{sidecar}: not a readable subtitle file ({exc})") from None
            cues = [CueItem(start_ms=ev.start, end_ms=ev.end, text=ev.plaintext) for ev in subs if not ev.is_comment]
            return sidecar, cues
    return None, []


# --------------------------------------------------------------------------------------- swap take
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
    tree = parse_mlt(path)
    root = tree.getroot()
    base = base_dir(root, path)

    def file_of(el: etree._Element) -> Path | None:
        res = properties(el).get("resource", "")
        if not res:
            return None
        return resource_path(res, base).resolve()

    old_file, new_file = Path(old_file).resolve(), Path(new_file).resolve()
    main_bin = root.find("playlist[@id='main_bin']")
    if main_bin is None:
        raise InputError(f"{path}: no main_bin playlist; not a Kdenlive project")
    by_id = elements_by_id(root)
    bin_els = [by_id[e.get("producer")] for e in main_bin.findall("entry") if e.get("producer") in by_id]
    clips = [el for el in bin_els if el.tag in ("producer", "chain")]
    old = [el for el in clips if file_of(el) == old_file]
    if not old:
        raise InputError(f"{path}: {old_file.name} is not in the project bin (removed in Kdenlive?); "
                         "nothing changed")
    old_kids = {properties(el).get("kdenlive:id") for el in old}
    new = next((el for el in clips if file_of(el) == new_file), None)
    if new is None:
        new = _clone_bin_clip(root, main_bin, old[0], new_file, new_name, base)
    new_kid = properties(new).get("kdenlive:id", "")

    swapped = 0
    for playlist in root.iter("playlist"):
        if playlist.get("id") == "main_bin":
            continue
        for entry in playlist.findall("entry"):
            producer = by_id.get(entry.get("producer"))
            kid = properties(entry).get("kdenlive:id") or (
                properties(producer).get("kdenlive:id") if producer is not None else None)
            if kid in old_kids or (producer is not None and file_of(producer) == old_file):
                entry.set("producer", new.get("id"))
                set_property(entry, "kdenlive:id", new_kid)
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
    old_res = properties(like).get("resource", "")
    try:
        res = file.relative_to(base.resolve()).as_posix() if not os.path.isabs(old_res) else str(file)
    except ValueError:
        res = str(file)
    set_property(clone, "resource", res)
    set_property(clone, "kdenlive:clipname", name)
    set_property(clone, "kdenlive:id", str(max([*kids, *folders, 1]) + 1))
    like.addnext(clone)
    entry = next(e for e in main_bin.findall("entry") if e.get("producer") == like.get("id"))
    new_entry = copy.deepcopy(entry)
    new_entry.set("producer", clone.get("id"))
    entry.addnext(new_entry)
    return clone
