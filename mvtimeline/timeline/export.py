"""Writers for the timeline, chosen by format name or suffix from one table, like OTIO's adapters.

:data:`WRITERS` maps each format name to a :class:`Writer`: its file suffix and the function that
writes it. :func:`write` looks the name up there (or the suffix, :func:`format_for`), and
:data:`FORMATS` (name → suffix) is read off the same table, so a format added to the table is known
to the CLI, the pipeline and :func:`write` at once. Every writer reads only the OTIO timeline (shape
in :mod:`mvtimeline.timeline`).

``.otio`` files point their video clips at links named after the clips (:func:`media_folder`),
because Kdenlive's OTIO import names each bin clip after its file.

The lyrics (``.srt``, karaoke ``.ass``) come from the one writer of each format in
:mod:`mvtimeline.lyrics.write`, as ``mvtimeline align -o`` writes them.

Public: WRITERS, Writer, FORMATS, ADAPTERS, write, format_for, media_folder, timeline_lyrics.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ..errors import InputError
from ..fileio import atomic_path, atomic_write, ensure_dir

__all__ = ["WRITERS", "Writer", "FORMATS", "ADAPTERS", "write", "format_for", "media_folder", "timeline_lyrics"]


@dataclass(frozen=True)
class Writer:
    """One output format: its file ``suffix`` and the function that writes it.

    ``write(timeline, path, *, kdenlive_version)`` writes ``timeline`` to ``path`` (atomically) and
    returns ``path``; ``kdenlive_version`` matters to the ``kdenlive`` writer only.
    """

    suffix: str
    write: Callable[..., Path]


#: our format name → the OpenTimelineIO adapter that writes it
ADAPTERS = {"fcp7": "fcp_xml", "fcpx": "fcpx_xml", "edl": "cmx_3600"}


def format_for(path: Path) -> str:
    """The format name of a file name's suffix.

    Raises
    ------
    InputError
        The suffix is not one of ours; the message lists the known formats.
    """
    suffix = Path(path).suffix.lower()
    for name, suf in FORMATS.items():
        if suf == suffix:
            return name
    raise InputError(f"{path}: unknown format {suffix!r}; known: {', '.join(FORMATS)}")


def write(timeline, path: Path, *, format: str | None = None, kdenlive_version: str = "1.04") -> Path:
    """Write ``timeline`` to ``path`` in ``format`` (default: from the suffix), atomically.

    ``.otio`` gets media paths relative to its folder (the folder can be moved or zipped; Kdenlive
    25.04+ resolves them against the .otio file) and named links for its clips
    (:func:`media_folder`). FCP 7 XML and FCP X XML get ``file://`` URLs, as Premiere, Resolve and
    Final Cut expect. The EDL holds the video track (CMX 3600 has one track), a reel per segment
    and take. ``.srt`` and ``.ass`` hold the lyric lines (karaoke word timing in the ``.ass``).

    Parameters
    ----------
    timeline : opentimelineio.schema.Timeline
        The timeline (shape: :mod:`mvtimeline.timeline`).
    path : Path
        The file to write; its folder is created.
    format : str, optional
        One of :data:`FORMATS` (``kdenlive``, ``otio``, ``fcp7``, ``fcpx``, ``edl``, ``srt``,
        ``ass``); default: from the suffix of ``path``.
    kdenlive_version : {"1.04", "1.1"}
        Kdenlive document version (``kdenlive`` only).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    InputError
        An unknown format or suffix (the message lists the known ones), or a timeline the
        writer cannot hold.
    OutputError
        The file cannot be written.
    RunError
        An OpenTimelineIO adapter failed.
    """
    fmt = format or format_for(path)
    writer = WRITERS.get(fmt)
    if writer is None:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    return writer.write(timeline, Path(path), kdenlive_version=kdenlive_version)


# ---------------------------------------------------------------------------------------- writers
def _write_kdenlive(timeline, path: Path, *, kdenlive_version: str = "1.04") -> Path:
    from .kdenlive.xml import write_to_file

    if kdenlive_version != "1.04":
        return write_to_file(timeline, path, version=kdenlive_version)
    return write_to_file(timeline, path)


def _write_otio(timeline, path: Path, **_options) -> Path:
    import opentimelineio as otio

    local = _with_media_urls(_with_named_media(timeline, path), relative_to=path.parent)
    with atomic_path(path) as tmp:
        otio.adapters.write_to_file(local, str(tmp), adapter_name="otio_json")
    return path


def _write_srt(timeline, path: Path, **_options) -> Path:
    from ..lyrics.write import to_srt

    return atomic_write(path, to_srt(timeline_lyrics(timeline)))


def _write_ass(timeline, path: Path, **_options) -> Path:
    from ..lyrics.write import to_ass

    meta = timeline.metadata.get("mvtimeline", {})
    size = (int(meta.get("width", 1920)), int(meta.get("height", 1080)))
    return atomic_write(path, to_ass(timeline_lyrics(timeline), play_res=size))


def _with_media_urls(timeline, *, relative_to: Path | None):
    """A copy of ``timeline`` whose media paths are relative to ``relative_to`` (where possible), or
    ``file://`` URLs when ``relative_to`` is None."""
    import opentimelineio as otio

    copy = timeline.deepcopy()
    for clip in copy.find_clips():
        ref = clip.media_reference
        if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
            ref.target_url = _media_url(ref.target_url, relative_to)
        for take in clip.metadata.get("mvtimeline", {}).get("takes", []):
            take["path"] = _media_url(take["path"], relative_to)
    meta = copy.metadata.get("mvtimeline")
    if meta and meta.get("audio_path"):
        meta["audio_path"] = _media_url(meta["audio_path"], relative_to)
    return copy


def media_folder(otio_path: Path) -> Path:
    """The folder of named links an ``.otio`` uses for its clips: ``song.otio`` → ``song-media/``.

    Examples
    --------
    >>> media_folder(Path("out/song.otio")).as_posix()
    'out/song-media'
    """
    return Path(otio_path).with_name(f"{Path(otio_path).stem}-media")


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def _file_name(label: str, take: object, suffix: str) -> str:
    """A file name that says what the clip is (``03 Chorus – under the neon (take 1).mp4``), safe on
    Linux, macOS and Windows."""
    base = _UNSAFE.sub("_", str(label)).strip(" ._") or "clip"
    base = base[:120].rstrip(" ._")
    return f"{base} (take {take}){suffix}" if take not in (None, "") else f"{base}{suffix}"


def _with_named_media(timeline, otio_path: Path):
    """A copy of ``timeline`` whose video clips point at links named after them in
    :func:`media_folder` (hard links to the clips, or copies where a link cannot be made).

    Kdenlive's OTIO import names each bin clip after its file, so the names say what the clips
    are there too. Links the timeline no longer uses are removed; the folder is ours alone.
    """
    import opentimelineio as otio

    copy = timeline.deepcopy()
    folder = media_folder(otio_path)
    wanted: dict[str, Path] = {}
    for track in copy.video_tracks():
        for clip in track.find_clips():
            ref = clip.media_reference
            if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
                continue
            url = ref.target_url
            src = Path(_url_to_path(url) if url.startswith("file://") else url)
            if not (src.is_absolute() and src.is_file()):
                continue  # a relative path (an .otio read back) or a missing file: leave it as it is
            src = src.resolve()
            take = clip.metadata.get("mvtimeline", {}).get("take")
            name = _file_name(clip.name or src.stem, take, src.suffix)
            wanted[name] = src
            ref.target_url = str((folder / name).resolve())
    if not wanted and not folder.exists():
        return copy
    ensure_dir(folder)
    for name, src in wanted.items():
        dst = folder / name
        if dst.exists() and dst.stat().st_ino == src.stat().st_ino:
            continue
        with atomic_path(dst) as tmp:
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copy2(src, tmp)
    for old in folder.iterdir():
        if old.name not in wanted and old.is_file() and not old.name.startswith("."):
            old.unlink()
    return copy


def _url_to_path(url: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path)


def _media_url(target: str, relative_to: Path | None) -> str:
    import os
    from urllib.parse import unquote, urlparse

    p = Path(unquote(urlparse(target).path)) if target.startswith("file://") else Path(target)
    if relative_to is None:
        return p.resolve().as_uri() if p.is_absolute() else p.as_posix()
    if not p.is_absolute():
        return p.as_posix()
    try:
        return Path(os.path.relpath(p, Path(relative_to).resolve())).as_posix()
    except ValueError:  # another drive
        return p.as_posix()


def _markers_onto_clips(tl) -> None:
    """Move the timeline's markers onto the video clip under each (clip-local time)."""
    import opentimelineio as otio

    video = tl.video_tracks()[0]
    clips = [c for c in video if isinstance(c, otio.schema.Clip)]
    for m in list(tl.tracks.markers):
        t = m.marked_range.start_time
        for c in clips:
            r = c.range_in_parent()
            if r.start_time <= t < r.end_time_exclusive():
                local = c.source_range.start_time + (t - r.start_time)
                clip_marker = m.deepcopy()
                clip_marker.marked_range = otio.opentime.TimeRange(local, m.marked_range.duration)
                c.markers.append(clip_marker)
                break
    tl.tracks.markers[:] = []


def _write_adapter(timeline, path: Path, fmt: str, **_options) -> Path:
    """Write through the OpenTimelineIO adapter of ``fmt`` (:data:`ADAPTERS`), ``file://`` media URLs."""
    import opentimelineio as otio

    tl = _with_media_urls(timeline, relative_to=None)
    if fmt in ("edl", "fcpx"):
        # these adapters drop timeline markers but keep clip markers (EDL: "* LOC:" lines)
        _markers_onto_clips(tl)
    if fmt == "edl":
        edl = otio.schema.Timeline(name=tl.name, global_start_time=tl.global_start_time)
        edl.tracks.append(tl.video_tracks()[0].deepcopy())
        tl = edl
        for clip in tl.find_clips():
            # a reel name per segment and take, of the 8 characters CMX 3600 allows (the adapter
            # would take the file name, keeping spaces, which breaks the event lines)
            md = clip.metadata.get("mvtimeline", {})
            if md.get("segment") is not None:
                clip.metadata["cmx_3600"] = {"reel": f"S{int(md['segment']):03d}T{int(md.get('take') or 1)}"[:8]}
    try:
        text = otio.adapters.write_to_string(tl, adapter_name=ADAPTERS[fmt])
    except Exception as exc:  # the adapters raise plain exceptions of many kinds
        from ..errors import RunError

        raise RunError(f"{path}: the {ADAPTERS[fmt]} adapter could not write the timeline ({exc})") from None
    return atomic_write(path, text)


def timeline_lyrics(timeline):
    """The lyric lines of ``timeline`` (its ``metadata["mvtimeline"]["subtitles"]``) as timed
    :class:`~mvtimeline.types.Lyrics`, for the one ``.srt``/``.ass`` writer in
    :mod:`mvtimeline.lyrics.write`."""
    from ..types import Line, Lyrics, Word

    lines = []
    for cue in timeline.metadata.get("mvtimeline", {}).get("subtitles", []):
        words = tuple(Word(str(w["text"]), w.get("start_s"), w.get("end_s")) for w in cue.get("words") or ())
        lines.append(Line(text=str(cue["text"]), words=words, section=cue.get("section"),
                          start_s=float(cue["start_s"]), end_s=float(cue["end_s"]), source="file"))
    return Lyrics(path="", format="timeline", lines=tuple(lines))


#: format name → its :class:`Writer`, in the order the CLI lists them.
WRITERS: dict[str, Writer] = {
    "kdenlive": Writer(".kdenlive", _write_kdenlive),
    "otio": Writer(".otio", _write_otio),
    "fcp7": Writer(".xml", partial(_write_adapter, fmt="fcp7")),
    "fcpx": Writer(".fcpxml", partial(_write_adapter, fmt="fcpx")),
    "edl": Writer(".edl", partial(_write_adapter, fmt="edl")),
    "srt": Writer(".srt", _write_srt),
    "ass": Writer(".ass", _write_ass),
}
#: format name → file suffix (read off :data:`WRITERS`)
FORMATS: dict[str, str] = {name: writer.suffix for name, writer in WRITERS.items()}
