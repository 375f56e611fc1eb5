"""Kdenlive writer: one OTIO timeline → a ``.kdenlive`` project (MLT XML, document version 1.04).

The file is what Kdenlive 22.12 (Debian 12) saves and opens natively; newer Kdenlive upgrades it.
Every position is an integer frame at the exact project rate. The layout (see
``/work/shared/KDENLIVE-FORMAT.md``):

- a ``<profile>`` from the timeline's width, height and exact fps (an MLT profile name when one
  matches, e.g. ``atsc_1080p_2997``);
- one bin producer per media file (the song, each clip file), listed in the ``main_bin`` playlist
  that also carries the document properties (version 1.04, document id, guides, categories);
- an audio track (A1: the song from frame 0) and a video track (V1): the clips alternate between
  the track's two playlists and really overlap for each dissolve, which is a same-track ``luma``
  mix carrying ``kdenlive:mixcut``;
- the main tractor last: black track, audio, video, the internal ``mix`` / ``frei0r.cairoblend``
  transitions, and the ``avfilter.subtitles`` filter that shows the sidecar ``<project>.srt``.

Public: write_to_string, write_to_file, read_summary, subtitles_path, profile_for.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
import urllib.parse
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import opentimelineio as otio
from lxml import etree

from ..errors import InputError
from ..fileio import atomic_write
from ..frames import fps_label, parse_fps, seconds_to_frame

__all__ = [
    "write_to_string",
    "write_to_file",
    "read_summary",
    "subtitles_path",
    "profile_for",
    "MltProfile",
    "DOCUMENT_VERSION",
]

log = logging.getLogger(__name__)

#: ``kdenlive:docproperties.version`` of Kdenlive 21.12 - 22.12 documents.
DOCUMENT_VERSION = "1.04"
#: The Kdenlive release whose files we imitate.
KDENLIVE_VERSION = "22.12.3"
#: MLT version written on the root element (Debian 12 ships 7.12).
MLT_VERSION = "7.12.0"
#: Marks Kdenlive's internal (rebuilt on load) transitions and filters.
INTERNAL_ADDED = "237"

#: Guide categories (``kdenlive:docproperties.guidesCategories``): Kdenlive's nine default
#: colours, the first two renamed for the guides we write.
GUIDE_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (0, "Section", "#f39c1f"),
    (1, "Lyric line", "#3daee9"),
    (2, "Category 3", "#1abc9c"),
    (3, "Category 4", "#1cdc9a"),
    (4, "Category 5", "#c9ce3b"),
    (5, "Category 6", "#fdbc4b"),
    (6, "Category 7", "#9b59b6"),
    (7, "Category 8", "#f47750"),
    (8, "Category 9", "#da4453"),
)
_GUIDE_TYPE = {"section": 0, "line": 1}

# Stock MLT progressive square-pixel profiles (/usr/share/mlt-7/profiles): name, width, height, fps.
_RATES = (
    ("2398", Fraction(24000, 1001), "23.98"),
    ("24", Fraction(24), "24"),
    ("25", Fraction(25), "25"),
    ("2997", Fraction(30000, 1001), "29.97"),
    ("30", Fraction(30), "30"),
    ("50", Fraction(50), "50"),
    ("5994", Fraction(60000, 1001), "59.94"),
    ("60", Fraction(60), "60"),
)
_STOCK: list[tuple[str, int, int, Fraction, str]] = []
for _prefix, _w, _h, _desc in (
    ("atsc_720p", 1280, 720, "HD 720p"),
    ("atsc_1080p", 1920, 1080, "HD 1080p"),
    ("qhd_1440p", 2560, 1440, "2.5K QHD 1440p"),
    ("uhd_2160p", 3840, 2160, "4K UHD 2160p"),
):
    for _suffix, _fps, _label in _RATES:
        _STOCK.append((f"{_prefix}_{_suffix}", _w, _h, _fps, f"{_desc} {_label} fps"))
for _n in (30, 60):
    _STOCK.append((f"vertical_hd_{_n}", 1080, 1920, Fraction(_n), f"Vertical HD {_n} fps"))
    _STOCK.append((f"square_1080p_{_n}", 1080, 1080, Fraction(_n), f"Square 1080p {_n} fps"))

#: Kdenlive's timeline zoom steps (frames per ~60 px, TimelineWidget::comboScale).
_ZOOM_SCALE = (1, 2, 5, 10, 25, 50, 125, 250, 500, 750, 1500, 3000, 6000, 12000)

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ------------------------------------------------------------------------------------------ profile
@dataclass(frozen=True)
class MltProfile:
    """An MLT video profile: frame size in pixels, exact rate, and its name if MLT ships it.

    ``name`` is the stock MLT profile name (``atsc_1080p_2997``) or, for a size/rate MLT does not
    ship, ``custom_<w>x<h>_<fps>`` (Kdenlive then matches the ``<profile>`` element and keeps it as a
    custom profile).
    """

    name: str
    description: str
    width: int
    height: int
    fps: Fraction
    stock: bool

    @property
    def display_aspect(self) -> tuple[int, int]:
        g = math.gcd(self.width, self.height)
        return self.width // g, self.height // g

    @property
    def colorspace(self) -> int:
        return 709 if min(self.width, self.height) >= 720 else 601


def profile_for(width: int, height: int, fps: Fraction) -> MltProfile:
    """The MLT profile for a frame size and rate.

    Parameters
    ----------
    width, height : int > 0
        Frame size in pixels (square pixels, progressive).
    fps : Fraction > 0
        Exact frame rate, e.g. ``Fraction(30000, 1001)``.

    Returns
    -------
    MltProfile
        The stock profile when one matches, else a custom one.

    Examples
    --------
    >>> profile_for(1920, 1080, Fraction(30000, 1001)).name
    'atsc_1080p_2997'
    >>> profile_for(320, 180, Fraction(25)).name
    'custom_320x180_25'
    """
    if width <= 0 or height <= 0:
        raise InputError(f"frame size {width}x{height} is not a size; width and height must be > 0")
    fps = Fraction(fps)
    for name, w, h, rate, desc in _STOCK:
        if (w, h, rate) == (width, height, fps):
            return MltProfile(name, desc, width, height, fps, True)
    label = fps_label(fps)
    slug = label.replace(".", "")
    return MltProfile(
        f"custom_{width}x{height}_{slug}", f"{width}x{height} {label} fps", width, height, fps, False
    )


# ----------------------------------------------------------------------------------------- layout
@dataclass
class _BinClip:
    kid: int
    path: Path
    name: str
    n_frames: int
    is_song: bool = False
    description: str = ""


@dataclass
class _Placed:
    bin: _BinClip
    playlist: int
    start_frame: int  # first timeline frame (includes the head handle used by a mix)
    end_frame: int  # exclusive
    in_frame: int  # first source frame
    name: str


@dataclass
class _Mix:
    in_frame: int  # first frame of the overlap = incoming clip's start
    out_frame: int  # outgoing clip's exclusive end
    mixcut: int  # frames after the planned cut
    reverse: bool


@dataclass
class _Layout:
    profile: MltProfile
    n_frames: int
    song: _Placed
    bins: list[_BinClip]
    clips: list[_Placed]
    mixes: list[_Mix]
    guides: list[dict[str, Any]]
    cues: list[tuple[int, int, str]] = field(default_factory=list)  # start, end (exclusive), text


def _frames(rt: otio.opentime.RationalTime, rate: float) -> int:
    if rt.rate == rate:
        return int(round(rt.value))
    return int(round(rt.value_rescaled_to(rate)))


def _url_path(url: str) -> Path:
    if url.startswith("file:"):
        return Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    return Path(url)


def _text(value: Any) -> str:
    """A string XML 1.0 can hold: control characters and lone surrogates removed."""
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
    return parse_fps(f"{rate:.6f}")


def _layout(timeline: otio.schema.Timeline) -> _Layout:
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

    bins: dict[str, _BinClip] = {}

    def bin_for(clip: otio.schema.Clip, *, is_song: bool, name: str) -> _BinClip:
        ref = clip.media_reference
        if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
            raise InputError(f"clip {clip.name!r} has no file reference (ExternalReference with target_url)")
        path = _url_path(ref.target_url)
        key = os.path.abspath(path)
        if key not in bins:
            if ref.available_range is not None:
                avail = ref.available_range
                length = _frames(avail.start_time, rate) + _frames(avail.duration, rate)
            else:
                length = _frames(clip.source_range.end_time_exclusive(), rate)
            md = _mvt(clip)
            desc = str(md.get("image_prompt") or "")
            bins[key] = _BinClip(len(bins) + 2, Path(key), name, max(length, 1), is_song, desc)
        return bins[key]

    # The song (A1), from frame 0, as long as the timeline.
    song_name = song_clip.name or Path(song_clip.media_reference.target_url).name
    song_bin = bin_for(song_clip, is_song=True, name=song_name)
    song_in = _frames(song_clip.source_range.start_time, rate)
    song_bin.n_frames = max(song_bin.n_frames, song_in + n_frames)
    song = _Placed(song_bin, 0, 0, n_frames, song_in, song_name)

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

    clips: list[_Placed] = []
    mixes: list[_Mix] = []
    playlist = 0
    for i, (kind, item, start, end) in enumerate(items):
        if kind != "clip":
            continue
        mixed = i in trans_before and pre[i] + post[i - 1] > 0
        if mixed:
            playlist = 1 - playlist
        src_in = _frames(item.source_range.start_time, rate)
        name = item.name or Path(item.media_reference.target_url).stem
        bin_clip = bin_for(item, is_song=False, name=name)
        clips.append(_Placed(bin_clip, playlist, start - pre[i], end + post[i], src_in - pre[i], name))
        if mixed:
            mixes.append(
                _Mix(in_frame=start - pre[i], out_frame=start + post[i - 1], mixcut=post[i - 1], reverse=playlist == 0)
            )

    return _Layout(
        profile=profile,
        n_frames=n_frames,
        song=song,
        bins=list(bins.values()),
        clips=clips,
        mixes=mixes,
        guides=_guides(timeline, rate, n_frames),
        cues=_cues(meta.get("subtitles") or [], fps, n_frames),
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
    """Markers → Kdenlive guides, one per frame (labels on the same frame are merged)."""
    by_frame: dict[int, list[tuple[int, str]]] = {}
    for marker in timeline.tracks.markers:
        frame = _frames(marker.marked_range.start_time, rate)
        frame = min(max(frame, 0), n_frames - 1)
        kind = _mvt(marker).get("kind", "line")
        text = (marker.comment or marker.name or "").strip()
        by_frame.setdefault(frame, []).append((_GUIDE_TYPE.get(kind, 1), text))
    guides = []
    for frame in sorted(by_frame):
        labels = sorted(by_frame[frame], key=lambda t: t[0])  # sections first
        texts = [t for _, t in labels if t]
        guides.append({"pos": frame, "comment": _text(" / ".join(texts)), "type": labels[0][0]})
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
        cues.append([start, end, _text(text)])
    return [(s, e, t) for s, e, t in cues]


# ------------------------------------------------------------------------------------------- XML
def _prop(parent: etree._Element, name: str, value: Any) -> etree._Element:
    el = etree.SubElement(parent, "property", name=name)
    el.text = _text(value)
    return el


def _media(path: Path, base_dir: Path | None) -> str:
    """Path relative to the project folder when the file is inside it, else absolute."""
    if base_dir is None:
        return str(path)
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(base_dir)).as_posix()
    except ValueError:
        return str(path)


def _ms(frame: int, fps: Fraction) -> int:
    """Milliseconds at or just after the start of ``frame`` (so ms → frame gives ``frame`` back)."""
    return math.ceil(Fraction(frame * 1000) / fps)


def _srt(layout: _Layout) -> str:
    import pysubs2

    subs = pysubs2.SSAFile()
    fps = layout.profile.fps
    for start, end, text in layout.cues:
        subs.append(pysubs2.SSAEvent(start=_ms(start, fps), end=_ms(end, fps), text=text))
    return subs.to_string("srt", keep_ssa_tags=True)


def _zoom_for(n_frames: int) -> int:
    """The timeline zoom step at which the whole song takes at most ~900 px (so it opens in view)."""
    for step, frames_per_60px in enumerate(_ZOOM_SCALE):
        if n_frames <= frames_per_60px * 15:
            return step
    return len(_ZOOM_SCALE) - 1


def _build(layout: _Layout, *, base_dir: Path | None, subtitles_file: Path | None, document_id: int) -> str:
    prof = layout.profile
    n = layout.n_frames
    last = n - 1
    root = etree.Element("mlt", LC_NUMERIC="C", producer="main_bin", version=MLT_VERSION)
    dar = prof.display_aspect
    etree.SubElement(
        root,
        "profile",
        description=prof.description,
        width=str(prof.width),
        height=str(prof.height),
        progressive="1",
        sample_aspect_num="1",
        sample_aspect_den="1",
        display_aspect_num=str(dar[0]),
        display_aspect_den=str(dar[1]),
        frame_rate_num=str(prof.fps.numerator),
        frame_rate_den=str(prof.fps.denominator),
        colorspace=str(prof.colorspace),
    )

    # Bin producers.
    pid: dict[int, str] = {}
    for b in layout.bins:
        pid[b.kid] = f"producer{b.kid - 2}"
        p = etree.SubElement(root, "producer", id=pid[b.kid], **{"in": "0", "out": str(b.n_frames - 1)})
        _prop(p, "length", b.n_frames)
        _prop(p, "eof", "pause")
        _prop(p, "resource", _media(b.path, base_dir))
        _prop(p, "mlt_service", "avformat-novalidate")
        _prop(p, "seekable", 1)
        if b.is_song:
            _prop(p, "video_index", -1)
        _prop(p, "kdenlive:clipname", b.name)
        if b.description:
            _prop(p, "kdenlive:description", b.description)
        _prop(p, "kdenlive:folderid", -1)
        _prop(p, "kdenlive:id", b.kid)

    # main_bin: document properties and one entry per bin clip.
    main_bin = etree.SubElement(root, "playlist", id="main_bin")
    categories = [{"color": c, "comment": name, "index": i} for i, name, c in GUIDE_CATEGORIES]
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
        ("groups", "[]"),
        ("guides", json.dumps(layout.guides, ensure_ascii=False, indent=1)),
        ("guidesCategories", json.dumps(categories, indent=1)),
        ("kdenliveversion", KDENLIVE_VERSION),
        ("position", 0),
        ("profile", prof.name),
        ("scrollPos", 0),
        ("version", DOCUMENT_VERSION),
        ("verticalzoom", 1),
        ("videoTarget", 1),
        ("zonein", 0),
        ("zoneout", last),
        ("zoom", _zoom_for(n)),
    ]
    for key, value in docprops:
        _prop(main_bin, f"kdenlive:docproperties.{key}", value)
    _prop(main_bin, "kdenlive:documentnotes", "")
    _prop(main_bin, "xml_retain", 1)
    for b in layout.bins:
        etree.SubElement(main_bin, "entry", producer=pid[b.kid], **{"in": "0", "out": str(b.n_frames - 1)})

    # Black track (Kdenlive replaces it with its own; for melt it is the background).
    black = etree.SubElement(root, "producer", id="black_track", **{"in": "0", "out": str(last)})
    _prop(black, "length", 2147483647)
    _prop(black, "eof", "continue")
    _prop(black, "resource", "black")
    _prop(black, "aspect_ratio", 1)
    _prop(black, "mlt_service", "color")
    _prop(black, "mlt_image_format", "rgba")
    _prop(black, "set.test_audio", 0)

    def entry(parent: etree._Element, placed: _Placed) -> None:
        e = etree.SubElement(
            parent,
            "entry",
            producer=pid[placed.bin.kid],
            **{"in": str(placed.in_frame), "out": str(placed.in_frame + placed.end_frame - placed.start_frame - 1)},
        )
        _prop(e, "kdenlive:id", placed.bin.kid)

    def playlist(pl_id: str, placed: list[_Placed], audio: bool) -> etree._Element:
        pl = etree.SubElement(root, "playlist", id=pl_id)
        if audio:
            _prop(pl, "kdenlive:audio_track", 1)
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
            _prop(tr, "kdenlive:audio_track", 1)
        _prop(tr, "kdenlive:track_name", name)
        _prop(tr, "kdenlive:trackheight", 69)
        _prop(tr, "kdenlive:timeline_active", 1)
        _prop(tr, "kdenlive:collapsed", 0)
        _prop(tr, "kdenlive:thumbs_format", "")
        _prop(tr, "kdenlive:audio_rec", "")
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
        _prop(t, "a_track", 0)
        _prop(t, "b_track", 1)
        _prop(t, "factory", "loader")
        _prop(t, "resource", "")
        _prop(t, "mlt_service", "luma")
        _prop(t, "kdenlive_id", "luma")
        _prop(t, "kdenlive:mixcut", mix.mixcut)
        _prop(t, "reverse", int(mix.reverse))
        _prop(t, "softness", 0)
        _prop(t, "alpha_over", 1)
        _prop(t, "invert", 0)

    # Main tractor, last: black, A1, V1; internal compositing; subtitles.
    main = etree.SubElement(root, "tractor", id="tractor2", **{"in": "0", "out": str(last)})
    for tr_id in ("black_track", "tractor0", "tractor1"):
        etree.SubElement(main, "track", producer=tr_id)
    t = etree.SubElement(main, "transition", id="transition0")
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
        _prop(t, key, value)
    t = etree.SubElement(main, "transition", id="transition1")
    for key, value in (
        ("a_track", 0),
        ("b_track", 2),
        ("version", "0.1"),
        ("mlt_service", "frei0r.cairoblend"),
        ("always_active", 1),
        ("internal_added", INTERNAL_ADDED),
    ):
        _prop(t, key, value)
    if subtitles_file is not None and layout.cues:
        f = etree.SubElement(main, "filter", id="filter0")
        _prop(f, "mlt_service", "avfilter.subtitles")
        _prop(f, "internal_added", INTERNAL_ADDED)
        _prop(f, "av.filename", os.path.abspath(subtitles_file))
        _prop(f, "disable", 0)

    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="utf-8").decode("utf-8")


# ---------------------------------------------------------------------------------------- public
def subtitles_path(project: Path) -> Path:
    """The sidecar subtitle file Kdenlive reads for a project: ``song.kdenlive`` → ``song.kdenlive.srt``.

    Examples
    --------
    >>> subtitles_path(Path("out/song.kdenlive")).as_posix()
    'out/song.kdenlive.srt'
    """
    project = Path(project)
    return project.with_name(project.name + ".srt")


def write_to_string(
    timeline: otio.schema.Timeline, *, project_path: Path | None = None, document_id: int | None = None
) -> str:
    """The Kdenlive 22.12 (document 1.04) project for a timeline, as XML text.

    Parameters
    ----------
    timeline : opentimelineio.schema.Timeline
        The timeline described in :mod:`mvtimeline.timeline` (V1 clips + dissolves, A1 song,
        markers, ``metadata["mvtimeline"]``).
    project_path : Path, optional
        Where the project will be saved. Media inside its folder get relative paths and the
        subtitle filter points at ``subtitles_path(project_path)`` (absolute). Without it, media
        paths are absolute and no subtitle filter is written.
    document_id : int, optional
        ``kdenlive:docproperties.documentid`` (a millisecond timestamp); default: now. Pass one
        for byte-identical output.

    Returns
    -------
    str
        UTF-8 XML text, positions in integer frames.

    Raises
    ------
    InputError
        The timeline lacks what the contract requires (fps, size, V1, A1 with the song).

    Notes
    -----
    A dissolve longer than the handles of its clips (or than the clips themselves) is shortened
    with a logged warning, never written invalid.
    """
    layout = _layout(timeline)
    base_dir = Path(project_path).parent if project_path is not None else None
    subs = subtitles_path(Path(project_path)) if project_path is not None else None
    doc_id = int(time.time() * 1000) if document_id is None else int(document_id)
    return _build(layout, base_dir=base_dir, subtitles_file=subs, document_id=doc_id)


def write_to_file(timeline: otio.schema.Timeline, path: Path, *, document_id: int | None = None) -> Path:
    """Write a timeline as a Kdenlive project, plus its subtitle sidecar ``<path>.srt``.

    Parameters
    ----------
    timeline : opentimelineio.schema.Timeline
        See :func:`write_to_string`.
    path : Path
        The ``.kdenlive`` file to write (atomically; its folder is created).
    document_id : int, optional
        See :func:`write_to_string`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        The timeline lacks what the contract requires.
    OutputError
        The file or its folder cannot be written.
    """
    path = Path(path)
    layout = _layout(timeline)
    subs = subtitles_path(path)
    if layout.cues:
        atomic_write(subs, _srt(layout))
    doc_id = int(time.time() * 1000) if document_id is None else int(document_id)
    xml = _build(layout, base_dir=path.parent, subtitles_file=subs, document_id=doc_id)
    return atomic_write(path, xml)


# ---------------------------------------------------------------------------------------- reader
def _mlt_time_to_frames(value: str | None, fps: Fraction) -> int:
    """An MLT time property → frames, as ``mlt_property_atoi`` parses it (MLT 7.12).

    Plain integers are frames; ``HH:MM:SS.mmm`` is a clock time; ``HH:MM:SS:FF`` is SMPTE.

    Examples
    --------
    >>> _mlt_time_to_frames("00:00:04.960", Fraction(25))
    124
    >>> _mlt_time_to_frames("00:00:05:00", Fraction(25))
    125
    >>> _mlt_time_to_frames("42", Fraction(25))
    42
    """
    if value is None or value == "":
        return 0
    s = value.strip()
    f = float(fps)
    if ":" not in s:
        return int(float(s))
    if "." in s or "," in s:
        parts = s.replace(",", ".").split(":")
        secs = float(parts[-1])
        mins = int(parts[-2]) if len(parts) >= 2 else 0
        hours = int(parts[-3]) if len(parts) >= 3 else 0
        return math.floor(f * hours * 3600) + math.floor(f * mins * 60) + round(f * secs)
    parts = s.replace(";", ":").split(":")
    frames = int(parts[-1])
    secs = int(parts[-2]) if len(parts) >= 2 else 0
    mins = int(parts[-3]) if len(parts) >= 3 else 0
    hours = int(parts[-4]) if len(parts) >= 4 else 0
    return math.floor(f * hours * 3600) + math.floor(f * mins * 60) + math.ceil(f * secs) + frames


def _props(el: etree._Element) -> dict[str, str]:
    return {p.get("name"): (p.text or "") for p in el.findall("property")}


def read_summary(path: Path) -> dict[str, Any]:
    """What a ``.kdenlive`` file holds, read back with lxml (for tests and ``doctor``-style checks).

    Works on our files and on files Kdenlive 21.12-22.12 saved (clock-string times are parsed the
    way MLT parses them).

    Parameters
    ----------
    path : Path
        A Kdenlive 1.04 project.

    Returns
    -------
    dict
        ``version``, ``document_id``, ``profile`` (``name``, ``width``, ``height``, ``fps``
        Fraction), ``n_frames`` (end of the last track item, black track excluded), ``bin`` (list
        of ``kdenlive_id``, ``producer``, ``resource``, ``name``, ``length``), ``tracks`` (list of
        ``id``, ``name``, ``audio``), ``clips`` (list of ``track``, ``playlist`` 0/1, ``producer``,
        ``kdenlive_id``, ``resource``, ``name``, ``start_frame``, ``end_frame`` exclusive,
        ``in_frame``, ``out_frame`` inclusive, sorted by track then start), ``mixes`` (list of
        ``track``, ``in_frame``, ``out_frame``, ``mixcut``, ``reverse``, ``service``),
        ``guides`` (list of ``pos``, ``comment``, ``type``), ``guide_categories``,
        ``main_tracks`` (producer ids), ``main_transitions`` (``service``, ``a_track``,
        ``b_track``), ``subtitle_filter`` (its properties, or None).

    Raises
    ------
    InputError
        The file is missing or is not an MLT document.
    """
    path = Path(path)
    try:
        root = etree.parse(str(path), etree.XMLParser(huge_tree=True)).getroot()
    except OSError:
        raise InputError(f"{path}: no such file") from None
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{path}: not valid XML ({exc})") from None
    if root.tag != "mlt":
        raise InputError(f"{path}: not a Kdenlive/MLT project (root element <{root.tag}>)")
    prof_el = root.find("profile")
    if prof_el is None:
        raise InputError(f"{path}: no <profile> element")
    fps = Fraction(int(prof_el.get("frame_rate_num")), int(prof_el.get("frame_rate_den")))
    main_bin = root.find("playlist[@id='main_bin']")
    doc = {}
    if main_bin is not None:
        doc = {k.split(".", 1)[1]: v for k, v in _props(main_bin).items() if k.startswith("kdenlive:docproperties.")}

    producers = {el.get("id"): el for el in root if el.tag in ("producer", "chain")}
    bin_list = []
    if main_bin is not None:
        for e in main_bin.findall("entry"):
            p = producers.get(e.get("producer"))
            if p is None:
                continue
            pp = _props(p)
            bin_list.append(
                {
                    "producer": p.get("id"),
                    "kdenlive_id": int(pp.get("kdenlive:id", "-1")),
                    "resource": pp.get("resource", ""),
                    "name": pp.get("kdenlive:clipname", ""),
                    "folderid": pp.get("kdenlive:folderid"),
                    "length": _mlt_time_to_frames(pp.get("length"), fps),
                    "file_hash": pp.get("kdenlive:file_hash"),
                }
            )
    playlists = {el.get("id"): el for el in root if el.tag == "playlist"}
    tractors = [el for el in root if el.tag == "tractor"]
    main = tractors[-1] if tractors else None

    tracks, clips, mixes = [], [], []
    n_frames = 0
    for tr in tractors[:-1]:
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
                    at += _mlt_time_to_frames(item.get("length"), fps)
                elif item.tag == "entry":
                    fin = _mlt_time_to_frames(item.get("in"), fps)
                    fout = _mlt_time_to_frames(item.get("out"), fps)
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
                    "in_frame": _mlt_time_to_frames(t.get("in"), fps),
                    "out_frame": _mlt_time_to_frames(t.get("out"), fps),
                    "mixcut": int(mp.get("kdenlive:mixcut", "0")),
                    "reverse": mp.get("reverse", "0") == "1",
                    "service": mp.get("mlt_service", ""),
                }
            )
    clips.sort(key=lambda c: (c["track"], c["start_frame"]))
    mixes.sort(key=lambda m: (m["track"], m["in_frame"]))

    main_tracks, main_transitions, subtitle_filter = [], [], None
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
    return {
        "version": doc.get("version"),
        "document_id": doc.get("documentid"),
        "profile": {
            "name": doc.get("profile"),
            "description": prof_el.get("description"),
            "width": int(prof_el.get("width")),
            "height": int(prof_el.get("height")),
            "fps": fps,
        },
        "n_frames": n_frames,
        "bin": bin_list,
        "tracks": tracks,
        "clips": clips,
        "mixes": mixes,
        "guides": json.loads(doc["guides"]) if doc.get("guides") else [],
        "guide_categories": json.loads(doc["guidesCategories"]) if doc.get("guidesCategories") else [],
        "main_tracks": main_tracks,
        "main_transitions": main_transitions,
        "subtitle_filter": subtitle_filter,
    }
