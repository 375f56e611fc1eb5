"""The layout of a timeline in integer frames, the part both Kdenlive writers share.

:func:`layout_of` turns one OTIO timeline (shape: :mod:`mvtimeline.timeline`) into a
:class:`Layout` in integer frames: the bin (the song, one folder per segment with every take),
the clips of V1 alternating between the track's two playlists with an overlap per dissolve, the
mixes, the guides (in the categories of :data:`GUIDE_CATEGORIES`) and the subtitle cues. The
document writers (:mod:`.xml` for version 1.04, :mod:`.xml11` for 1.1) put the same layout into
their own XML with the builders of :mod:`.elements`; the frame size and rate come from
:mod:`.profile`. Facts and sources for every element: ``KDENLIVE-FORMAT.md`` in the team's shared
notes.

Public: Layout, BinClip, Folder, Placed, Mix, layout_of, guide_category, GUIDE_CATEGORIES,
MARKER_COLOURS, xml_safe.
"""

from __future__ import annotations

import logging
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio

from mvtimeline.errors import InputError
from mvtimeline.timecode import parse_fps, seconds_to_frame
from mvtimeline.types import section_kind

from .profile import MltProfile, profile_for

__all__ = [
    "Layout",
    "BinClip",
    "Folder",
    "Placed",
    "Mix",
    "layout_of",
    "guide_category",
    "GUIDE_CATEGORIES",
    "MARKER_COLOURS",
    "xml_safe",
]

log = logging.getLogger(__name__)

#: Guide categories (``kdenlive:docproperties.guidesCategories``), in index order:
#: ``(key, name, colour)``: one per section kind, a fallback for other sections (instrumental,
#: solo...), lyric lines, downbeats. The index of an entry is its Kdenlive category number, and
#: each colour is the one Kdenlive's default category of that number has, so a project imported
#: from our ``.otio`` (where only the number travels, ``metadata["kdenlive"]["type"]``) shows the
#: same colours as our ``.kdenlive``.
GUIDE_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    ("bridge", "Bridge", "#9b59b6"),
    ("verse", "Verse", "#3daee9"),
    ("intro", "Intro", "#1abc9c"),
    ("outro", "Outro", "#1cdc9a"),
    ("beat", "Downbeat", "#c9ce3b"),
    ("line", "Lyric line", "#fdbc4b"),
    ("section", "Other section", "#f39c1f"),
    ("pre-chorus", "Pre-chorus", "#f47750"),
    ("chorus", "Chorus", "#da4453"),
)
_CATEGORY_INDEX = {key: i for i, (key, _, _) in enumerate(GUIDE_CATEGORIES)}
#: The OpenTimelineIO marker colour nearest to each guide category's colour, by index.
MARKER_COLOURS: tuple[str, ...] = ("PURPLE", "BLUE", "CYAN", "GREEN", "YELLOW", "ORANGE", "ORANGE", "ORANGE", "RED")
#: Merge order of markers on one frame: the first kind present gives the guide its category.
_KIND_RANK = {"section": 0, "line": 1, "beat": 2}

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def guide_category(kind: str, section: str | None = None) -> int:
    """The guide category index (into :data:`GUIDE_CATEGORIES`) of a marker.

    Parameters
    ----------
    kind : str
        The marker's ``metadata["mvtimeline"]["kind"]``: ``"section"``, ``"line"`` or ``"beat"``;
        anything else counts as a lyric line.
    section : str, optional
        For a section marker: its ``section_kind`` or section name (``"Chorus 2"``, ``"Pre Chorus"``
        are understood); kinds without their own category (instrumental, solo...) share
        "Other section".

    Returns
    -------
    int
        The Kdenlive guide type.

    Examples
    --------
    >>> GUIDE_CATEGORIES[guide_category("section", "Pre Chorus")][1]
    'Pre-chorus'
    >>> GUIDE_CATEGORIES[guide_category("section", "instrumental")][1]
    'Other section'
    >>> GUIDE_CATEGORIES[guide_category("beat")][1]
    'Downbeat'
    """
    if kind == "section":
        key = section_kind(section) if section and section.strip() else "section"
        return _CATEGORY_INDEX.get(key, _CATEGORY_INDEX["section"])
    return _CATEGORY_INDEX["beat" if kind == "beat" else "line"]


# ----------------------------------------------------------------------------------------- layout
@dataclass
class BinClip:
    kid: int
    path: Path
    name: str
    n_frames: int
    is_song: bool = False
    description: str = ""
    folder: int = -1  # kdenlive:folderid; -1 is the bin root


@dataclass(frozen=True)
class Folder:
    kid: int  # folder ids share the bin clip id space
    name: str


@dataclass
class Placed:
    bin: BinClip
    playlist: int
    start_frame: int  # first timeline frame (includes the head handle used by a mix)
    end_frame: int  # exclusive
    in_frame: int  # first source frame
    name: str


@dataclass
class Mix:
    in_frame: int  # first frame of the overlap = incoming clip's start
    out_frame: int  # outgoing clip's exclusive end
    mixcut: int  # frames after the planned cut
    reverse: bool


@dataclass
class Layout:
    name: str
    profile: MltProfile
    n_frames: int
    song: Placed
    bins: list[BinClip]
    folders: list[Folder]
    clips: list[Placed]
    mixes: list[Mix]
    guides: list[dict[str, Any]]
    cues: list[tuple[int, int, str]] = field(default_factory=list)  # start, end (exclusive), text
    next_id: int = 2  # first kdenlive:id not used by a bin clip or folder


def _frames(rt: otio.opentime.RationalTime, rate: float) -> int:
    if rt.rate == rate:
        return int(round(rt.value))
    return int(round(rt.value_rescaled_to(rate)))


def _url_path(url: str) -> Path:
    if url.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    return Path(url)


def xml_safe(value: Any) -> str:
    """A string XML 1.0 can hold: control characters and lone surrogates removed.

    Examples
    --------
    >>> xml_safe("a\x07b")
    'ab'
    """
    return _XML_BAD.sub("", str(value))


def _mvt(obj: Any) -> dict[str, Any]:
    md = obj.metadata.get("mvtimeline", {}) if obj is not None else {}
    return dict(md) if md else {}


def _exact_fps(timeline: otio.schema.Timeline, meta: dict[str, Any]) -> Fraction:
    if meta.get("fps"):
        return parse_fps(Fraction(str(meta["fps"])))
    rate = None
    if timeline.global_start_time is not None:
        rate = timeline.global_start_time.rate
    else:
        for clip in timeline.find_clips():
            rate = clip.source_range.duration.rate
            break
    if rate is None:
        raise InputError("timeline has no frame rate: set metadata['mvtimeline']['fps'] (e.g. '30000/1001')")
    return parse_fps(f"{rate:.6f}", any_rate=True)


def layout_of(timeline: otio.schema.Timeline) -> Layout:
    if not isinstance(timeline, otio.schema.Timeline):
        raise InputError(f"expected an opentimelineio Timeline, got {type(timeline).__name__}")
    meta = _mvt(timeline)
    fps = _exact_fps(timeline, meta)
    rate = float(fps)
    try:
        width, height = int(meta["width"]), int(meta["height"])
    except (KeyError, TypeError, ValueError):
        raise InputError("timeline metadata['mvtimeline'] needs integer 'width' and 'height'") from None
    profile = profile_for(width, height, fps)

    video = next((t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video), None)
    audio = next((t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Audio), None)
    if video is None:
        raise InputError("timeline has no video track (expected 'V1' with the clips)")
    if audio is None:
        raise InputError("timeline has no audio track (expected 'A1' with the song)")
    song_clip = next(iter(audio.find_clips()), None)
    if song_clip is None or not isinstance(song_clip.media_reference, otio.schema.ExternalReference):
        raise InputError(f"audio track {audio.name!r} has no song clip with a file reference")

    if meta.get("n_frames") is not None:
        n_frames = int(meta["n_frames"])
    else:
        n_frames = _frames(song_clip.source_range.duration, rate)
    if n_frames <= 0:
        raise InputError(f"timeline lasts {n_frames} frames; nothing to write")

    bins: dict[str, BinClip] = {}  # absolute path → bin clip (one bin clip per file)
    folders: list[Folder] = []
    next_id = 2  # Kdenlive's first bin clip id

    def new_id() -> int:
        nonlocal next_id
        next_id += 1
        return next_id - 1

    def file_of(clip: otio.schema.Clip) -> tuple[str, int]:
        """A clip's file (absolute) and its length in frames."""
        ref = clip.media_reference
        if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
            raise InputError(f"clip {clip.name!r} has no file reference (ExternalReference with target_url)")
        if ref.available_range is not None:
            avail = ref.available_range
            length = _frames(avail.start_time, rate) + _frames(avail.duration, rate)
        else:
            length = _frames(clip.source_range.end_time_exclusive(), rate)
        return os.path.abspath(_url_path(ref.target_url)), max(length, 1)

    def add_bin(
        path: str, name: str, length: int, *, is_song: bool = False, desc: str = "", folder: int = -1
    ) -> BinClip:
        if path in bins:  # a file used twice keeps its first bin clip
            bins[path].n_frames = max(bins[path].n_frames, length)
            return bins[path]
        bins[path] = BinClip(new_id(), Path(path), name, max(length, 1), is_song, desc, folder)
        return bins[path]

    def bin_clips_of(clip: otio.schema.Clip) -> None:
        """The bin clips of a V1 clip: every take in a folder named by its label, or just its file."""
        chosen, chosen_len = file_of(clip)
        md = _mvt(clip)
        desc = str(md.get("image_prompt") or "")
        takes = md.get("takes")  # OTIO gives an AnyVector of AnyDictionary: check the ABCs
        if not takes or isinstance(takes, (str, bytes)) or not isinstance(takes, Sequence):
            add_bin(chosen, clip.name or Path(chosen).stem, chosen_len, desc=desc)
            return
        label = str(md.get("label") or clip.name or f"segment {md.get('segment', len(folders) + 1)}")
        segment = md.get("segment")
        # Kdenlive labels a timeline clip with its bin name: keep the segment number in it
        prefix = f"{int(segment):02d} " if isinstance(segment, int) or str(segment or "").isdigit() else ""
        folder = Folder(new_id(), label)
        folders.append(folder)
        entries = []
        for k, take in enumerate(takes):
            if not isinstance(take, Mapping) or not take.get("path"):
                log.warning("clip %r: take %r has no path; left out of the bin", clip.name, take)
                continue
            entries.append((int(take.get("take") or k + 1), os.path.abspath(_url_path(str(take["path"]))), take))
        for number, path, take in sorted(entries, key=lambda e: e[0]):
            length = int(take.get("n_frames") or 0)
            if path == chosen:
                length = max(length, chosen_len)
            elif length <= 0:
                log.debug("take %d of %r has no n_frames; assuming %d like the chosen take", number, label, chosen_len)
                length = chosen_len
            add_bin(path, f"{prefix}take {number}", length, desc=desc, folder=folder.kid)
        if chosen not in bins:
            number = md.get("take")
            log.warning("clip %r: its file %s is not among its takes; added to the bin as well", clip.name, chosen)
            add_bin(chosen, f"{prefix}take {number}" if number else Path(chosen).stem, chosen_len, desc=desc,
                    folder=folder.kid)

    # The song (A1), from frame 0, as long as the timeline.
    song_name = song_clip.name or Path(song_clip.media_reference.target_url).name
    song_path, song_len = file_of(song_clip)
    song_bin = add_bin(song_path, song_name, song_len, is_song=True)
    song_in = _frames(song_clip.source_range.start_time, rate)
    song_bin.n_frames = max(song_bin.n_frames, song_in + n_frames)
    song = Placed(song_bin, 0, 0, n_frames, song_in, song_name)

    # V1: clips back to back, each transition overlapping its neighbours.
    items: list[tuple[str, Any, int, int]] = []  # kind, item, start, end (timeline, exclusive)
    pos = 0
    pending: otio.schema.Transition | None = None
    trans_before: dict[int, otio.schema.Transition] = {}
    for child in video:
        if isinstance(child, otio.schema.Transition):
            pending = child
            continue
        dur = _frames(child.duration(), rate)
        if dur <= 0:
            log.warning("%s %r lasts %d frames; left out", type(child).__name__, child.name, dur)
            continue
        if isinstance(child, otio.schema.Clip):
            bin_clips_of(child)
            if pending is not None:
                if items and items[-1][0] == "clip":
                    trans_before[len(items)] = pending
                else:
                    log.warning("dissolve %r has no clip before it; dropped", pending.name)
            items.append(("clip", child, pos, pos + dur))
        else:  # a Gap or anything else that takes time: leave a blank
            if pending is not None:
                log.warning("dissolve %r next to a gap; dropped", pending.name)
            items.append(("gap", child, pos, pos + dur))
        pending = None
        pos += dur
    if pending is not None:
        log.warning("dissolve %r at the end of the track has no clip after it; dropped", pending.name)
    if pos != n_frames:
        log.warning("video track lasts %d frames but the song lasts %d; writing the track as it is", pos, n_frames)

    # Requested pre/post per cut, clamped to the handles and to the clips' own lengths.
    pre = [0] * len(items)  # frames the clip starts before its cut (its incoming mix)
    post = [0] * len(items)  # frames the clip runs past its end (its outgoing mix)
    for i, trans in sorted(trans_before.items()):
        a_clip, b_clip = items[i - 1][1], items[i][1]
        want_pre = max(0, _frames(trans.in_offset, rate))
        want_post = max(0, _frames(trans.out_offset, rate))
        a_dur = items[i - 1][3] - items[i - 1][2]
        b_dur = items[i][3] - items[i][2]
        a_tail = _tail_handle(a_clip, rate)
        b_head = _head_handle(b_clip, rate)
        # pre: B's head handle; A keeps >= 1 own frame outside its two mixes (the mix before A
        # runs over A's first post[i-2] frames).
        prev_post = post[i - 2] if i >= 2 else 0
        new_pre = min(want_pre, b_head, max(0, a_dur - 1 - prev_post))
        # post: A's tail handle; B keeps >= 1 own frame (the next cut's pre is clamped against it).
        new_post = min(want_post, a_tail, max(0, b_dur - 1))
        if (new_pre, new_post) != (want_pre, want_post):
            log.warning(
                "dissolve between %r and %r: %d+%d frames do not fit the handles "
                "(head %d, tail %d) or clip lengths (%d, %d); using %d+%d",
                a_clip.name, b_clip.name, want_pre, want_post, b_head, a_tail, a_dur, b_dur, new_pre, new_post,
            )
        pre[i], post[i - 1] = new_pre, new_post

    clips: list[Placed] = []
    mixes: list[Mix] = []
    playlist = 0
    for i, (kind, item, start, end) in enumerate(items):
        if kind != "clip":
            continue
        mixed = i in trans_before and pre[i] + post[i - 1] > 0
        if mixed:
            playlist = 1 - playlist
        src_in = _frames(item.source_range.start_time, rate)
        name = item.name or Path(item.media_reference.target_url).stem
        bin_clip = bins[file_of(item)[0]]
        clips.append(Placed(bin_clip, playlist, start - pre[i], end + post[i], src_in - pre[i], name))
        if mixed:
            mixes.append(
                Mix(in_frame=start - pre[i], out_frame=start + post[i - 1], mixcut=post[i - 1], reverse=playlist == 0)
            )

    return Layout(
        name=timeline.name or Path(song_path).stem,
        profile=profile,
        n_frames=n_frames,
        song=song,
        bins=list(bins.values()),
        folders=folders,
        clips=clips,
        mixes=mixes,
        guides=_guides(timeline, rate, n_frames),
        cues=_cues(meta.get("subtitles") or [], fps, n_frames),
        next_id=next_id,
    )


def _head_handle(clip: otio.schema.Clip, rate: float) -> int:
    ref = clip.media_reference
    if getattr(ref, "available_range", None) is None:
        return 0
    return max(0, _frames(clip.source_range.start_time, rate) - _frames(ref.available_range.start_time, rate))


def _tail_handle(clip: otio.schema.Clip, rate: float) -> int:
    ref = clip.media_reference
    if getattr(ref, "available_range", None) is None:
        return 0
    avail_end = _frames(ref.available_range.end_time_exclusive(), rate)
    return max(0, avail_end - _frames(clip.source_range.end_time_exclusive(), rate))


def _guides(timeline: otio.schema.Timeline, rate: float, n_frames: int) -> list[dict[str, Any]]:
    """Markers → Kdenlive guides, one per frame, each in its category (:func:`guide_category`).

    Markers on one frame are merged: the section's category wins over a lyric line's, a line's
    over a downbeat's, and the text shows the section and the line (a downbeat's text only when it
    is alone).
    """
    by_frame: dict[int, list[tuple[int, int, str]]] = {}  # frame → (rank, category, text)
    for marker in timeline.tracks.markers:
        frame = _frames(marker.marked_range.start_time, rate)
        frame = min(max(frame, 0), n_frames - 1)
        md = _mvt(marker)
        kind = md.get("kind", "line")
        kind = kind if kind in _KIND_RANK else "line"
        text = xml_safe((marker.comment or marker.name or "").strip())
        if kind == "section":
            line = xml_safe(str(md.get("line") or "").strip())
            if line and line not in text:
                text = f"{text} / {line}" if text else line
            section = md.get("section_kind") or md.get("section") or text.split(":")[0]
            category = guide_category("section", str(section))
        else:
            category = guide_category(kind)
        by_frame.setdefault(frame, []).append((_KIND_RANK[kind], category, text))
    guides = []
    for frame in sorted(by_frame):
        labels = sorted(by_frame[frame], key=lambda t: t[0])  # sections first, downbeats last
        texts: list[str] = []
        for rank, _, text in labels:
            if text and (rank < _KIND_RANK["beat"] or not texts) and not any(text in t for t in texts):
                texts.append(text)
        guides.append({"pos": frame, "comment": " / ".join(texts), "type": labels[0][1]})
    return guides


def _cues(subtitles: list[dict[str, Any]], fps: Fraction, n_frames: int) -> list[tuple[int, int, str]]:
    """Lyric lines → (start, end) frame cues with distinct, increasing start frames."""
    cues: list[list[Any]] = []
    for sub in subtitles:
        text = "\n".join(line.strip() for line in str(sub.get("text", "")).splitlines() if line.strip())
        if not text:
            continue
        start = seconds_to_frame(max(0.0, float(sub["start_s"])), fps)
        end = seconds_to_frame(max(0.0, float(sub["end_s"])), fps)
        if cues and start <= cues[-1][0]:
            start = cues[-1][0] + 1
        if start >= n_frames:
            log.warning("lyric %r starts after the song's end; left out of the subtitles", text)
            continue
        end = min(max(end, start + 1), n_frames)
        if cues and cues[-1][1] > start:
            cues[-1][1] = start  # no overlaps: the previous line ends where this one starts
        cues.append([start, end, xml_safe(text)])
    return [(s, e, t) for s, e, t in cues]
