"""Render a Kdenlive / MLT project to a video file with ``melt``.

:func:`render` checks the project first (an MLT document whose media exist), then runs ``melt``
on a temporary copy of it that melt can render headless and frame-exact:

- ``root`` set to the project's folder, so relative media paths resolve wherever melt runs;
- the subtitle filter's ``av.filename`` made absolute (melt does not rebase it, and a subtitle
  file it cannot open turns the whole picture black), pointing at the project's sidecar
  ``<project>.srt`` when there is one;
- ``out=<last frame>`` on the command line, so melt stops at the end of the content instead of
  playing Kdenlive's infinite black track.

The output is H.264 (libx264, yuv420p) + AAC (or a preset's codecs, in a container that holds them)
at the project's exact frame rate, written to a temp name beside the target and renamed only when
melt succeeded; an interrupted or failed render leaves no file.

The project is read with the one MLT parser, :mod:`mvtimeline.timeline.kdenlive.read`
(:func:`~mvtimeline.timeline.kdenlive.read.parse_mlt` and its lookups): the render stage comes after
the timeline stage and may use it, never the reverse.

Public: render, portable, RenderResult, project_frames, check_fonts.
"""

from __future__ import annotations

import logging
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from lxml import etree

from ..errors import InputError, RenderFailed, ToolMissing
from ..fileio import atomic_path
from ..progress import Progress, ProgressFn
from ..timecode import mlt_time_to_frames
from ..timeline.kdenlive.read import (SUBTITLE_SERVICES, base_dir, elements_by_id, media_resource, parse_mlt,
                                      profile_fps, properties, resource_path, set_property)
from .presets import MUXERS, RenderPreset, check_output, codec_family, load_preset

__all__ = ["render", "portable", "RenderResult", "project_frames", "check_fonts", "X264_PRESETS",
           "CONTAINERS"]

log = logging.getLogger(__name__)

#: libx264 speed presets, fastest first.
X264_PRESETS = (
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo",
)  # fmt: skip
#: Output suffixes that hold H.264 + AAC (every suffix melt writes; a preset's codecs may need fewer).
CONTAINERS = tuple(MUXERS)

_PROGRESS = re.compile(r"Current Frame:\s*(\d+)")
# melt reports the frame it took from the project, not the frame written: its read-ahead queue
# (the consumer's ``buffer``, 25 frames) and the encoder (x264's lookahead, one frame per thread)
# hold these many more (see _Meter)
_MELT_BUFFER = 25
_X264_LOOKAHEAD = {"ultrafast": 0, "superfast": 0, "veryfast": 10, "faster": 20, "fast": 30, "medium": 40,
                   "slow": 50, "slower": 60, "veryslow": 60, "placebo": 60}
#: Video codecs for delivery: their .mp4/.mov gets its index up front (``movflags=+faststart``, a
#: rewrite of the whole file once it is done, which an intermediate for editing does not need).
_DELIVERY = ("H.264", "H.265", "MPEG-4")
_ERRORISH = re.compile(r"error|fail|unable|cannot|can't|invalid|no such|not found|denied", re.IGNORECASE)
_INFINITE = 10**8  # a producer longer than this (Kdenlive's black track is 2147483647) has no end


@dataclass(frozen=True)
class RenderResult:
    """A finished render.

    ``n_frames`` frames at ``fps`` (the project's exact rate); ``elapsed_s`` is the wall-clock time
    the render took.
    """

    path: Path
    n_frames: int
    fps: Fraction
    elapsed_s: float

    @property
    def duration_s(self) -> float:
        """Length of the video in seconds (``n_frames / fps``)."""
        return float(self.n_frames / self.fps)


# ------------------------------------------------------------------------------------ project XML
def _fps(root: etree._Element, project: Path) -> Fraction:
    fps = profile_fps(root)
    if fps is None:
        raise InputError(f"{project}: no <profile> with frame_rate_num/frame_rate_den; cannot render frame-exact")
    return fps


def _content_frames(root: etree._Element, fps: Fraction) -> int:
    """Frames up to the end of the last clip of the root service (infinite producers ignored)."""
    by_id = elements_by_id(root)
    services = [el for el in root if el.tag in ("tractor", "playlist", "producer", "chain", "multitrack")]
    if not services:
        return 0
    memo: dict[str, int | None] = {}

    def length(el: etree._Element, depth: int = 0) -> int | None:
        key = el.get("id") or str(id(el))
        if key in memo:
            return memo[key]
        if depth > 64:
            return None
        memo[key] = None  # guards against cycles
        result: int | None
        if el.tag == "playlist":
            total = 0
            for item in el:
                if item.tag == "blank":
                    total += mlt_time_to_frames(item.get("length"), fps)
                elif item.tag == "entry":
                    if item.get("in") is not None and item.get("out") is not None:
                        fin = mlt_time_to_frames(item.get("in"), fps)
                        total += mlt_time_to_frames(item.get("out"), fps) - fin + 1
                    else:
                        ref = by_id.get(item.get("producer"))
                        sub = length(ref, depth + 1) if ref is not None else None
                        total += sub or 0
            result = total
        elif el.tag in ("tractor", "multitrack"):
            ends = []
            for track in el.iter("track"):
                ref = by_id.get(track.get("producer"))
                if ref is not None and ref is not el:
                    sub = length(ref, depth + 1)
                    if sub is not None:
                        ends.append(sub)
            result = max(ends, default=0)
        else:  # producer / chain
            pp = properties(el)
            total = mlt_time_to_frames(pp["length"], fps) if pp.get("length") else None
            if el.get("id") == "black_track" or pp.get("kdenlive:playlistid") == "black_track":
                result = None
            elif total is not None and total >= _INFINITE:
                result = None
            elif el.get("out") is not None:
                result = mlt_time_to_frames(el.get("out"), fps) - mlt_time_to_frames(el.get("in"), fps) + 1
            else:
                result = total
        memo[key] = result
        return result

    return length(services[-1]) or 0


def project_frames(project: Path) -> tuple[int, Fraction]:
    """Length of a project's content in frames, and its exact frame rate.

    The length runs to the end of the last clip on any track (Kdenlive's black track, which
    never ends, does not count).

    Parameters
    ----------
    project : Path
        A ``.kdenlive`` or ``.mlt`` file.

    Returns
    -------
    (int, Fraction)
        ``(n_frames, fps)``.

    Raises
    ------
    InputError
        The file is missing, not MLT XML, or has no profile.
    """
    project = Path(project)
    root = parse_mlt(project).getroot()
    fps = _fps(root, project)
    return _content_frames(root, fps), fps


def _check_media(root: etree._Element, project: Path, base: Path) -> None:
    for el in root:
        resource = media_resource(el)  # None for image sequences, colours...
        if resource is None:
            continue
        pp = properties(el)
        path = resource_path(resource, base)
        clip = pp.get("kdenlive:clipname") or el.get("id")
        if not path.exists():
            raise InputError(f"{project}: media file {resource!r} (clip {clip}) is missing; looked for {path}")
        if pp.get("mlt_service", "").startswith("avformat"):
            # melt renders an undecodable file as silent black without failing: say so first.
            import av

            try:
                with av.open(str(path)) as container:
                    if not container.streams:
                        raise av.error.InvalidDataError(0, "no streams")
            except (av.error.FFmpegError, OSError) as exc:
                raise InputError(
                    f"{project}: media file {resource!r} (clip {clip}) cannot be decoded ({exc})"
                ) from None


def _drop_subtitles(root: etree._Element) -> None:
    for flt in list(root.iter("filter")):
        if properties(flt).get("mlt_service") in SUBTITLE_SERVICES:
            flt.getparent().remove(flt)


def _fix_subtitles(root: etree._Element, project: Path, base: Path) -> None:
    """Point every subtitle filter at an existing file by absolute path, or drop it.

    ``NAME.ass`` beside ``NAME.kdenlive`` (mvtimeline's karaoke lyrics) wins over the sidecar srt.
    """
    ass = project.resolve().with_suffix(".ass")
    sidecar = ass if ass.is_file() else project.resolve().with_name(project.name + ".srt")
    for flt in list(root.iter("filter")):
        pp = properties(flt)
        if pp.get("mlt_service") not in SUBTITLE_SERVICES:
            continue
        given = pp.get("av.filename", "")
        candidates = [sidecar]
        if given:
            candidates.append(resource_path(given, base))
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            log.warning("%s: subtitle file %r not found; rendering without subtitles", project, given or str(sidecar))
            flt.getparent().remove(flt)
            continue
        set_property(flt, "av.filename", str(found))


def portable(project: Path) -> tuple[bytes, dict[str, Path]]:
    """The project as another machine can render it: its XML with every media file (and subtitle
    file) renamed ``media/NNN.ext`` relative to the project, and those names → the files here;
    the subtitle sidecars beside the project (``NAME.ass``, ``NAME.kdenlive.srt``...) come under
    their own names. Write them all into one folder, the XML as ``project.name``, and
    :func:`render` it there.

    Raises
    ------
    InputError
        As :func:`render`: not an MLT document, a missing media file.
    """
    project = Path(project)
    tree = parse_mlt(project)
    root = tree.getroot()
    base = base_dir(root, project)
    _check_media(root, project, base)
    files: dict[str, Path] = {}
    names: dict[Path, str] = {}

    def rename(path: Path) -> str:
        path = path.resolve()
        if path not in names:
            names[path] = f"media/{len(names):03d}{path.suffix.lower()}"
            files[names[path]] = path
        return names[path]

    for el in root:
        resource = media_resource(el)
        if resource is not None:
            set_property(el, "resource", rename(resource_path(resource, base)))
    for flt in root.iter("filter"):
        if properties(flt).get("mlt_service") not in SUBTITLE_SERVICES:
            continue
        for prop in flt.findall("property"):
            if prop.get("name") == "av.filename" and prop.text:
                found = resource_path(prop.text, base)
                if found.is_file():
                    prop.text = rename(found)
    if "root" in root.attrib:
        del root.attrib["root"]
    here = project.resolve()
    for side in (here.with_suffix(".ass"), here.with_name(here.name + ".srt"), here.with_name(here.name + ".ass")):
        if side.is_file():
            files[side.name] = side
    return etree.tostring(tree, xml_declaration=True, encoding="utf-8"), files


def check_fonts() -> None:
    """Check that burned-in subtitles can be drawn: libass finds its fonts through fontconfig.

    Raises
    ------
    InputError
        fontconfig lists no font (the message says what to install).
    """
    fc_list = shutil.which("fc-list")
    listed = subprocess.run([fc_list, ":", "family"], capture_output=True, text=True).stdout if fc_list else ""
    if not listed.strip():
        raise InputError("burning subtitles in needs a font, and fontconfig lists none: "
                         "apt-get install fontconfig fonts-dejavu-core")


# ---------------------------------------------------------------------------------------- render
def render(
    project: Path,
    out: Path | None = None,
    *,
    progress: ProgressFn | None = None,
    width: int | None = None,
    height: int | None = None,
    crf: int = 20,
    x264_preset: str = "veryfast",
    audio_bitrate: str = "192k",
    preset: RenderPreset | str | None = None,
    subtitles: bool = False,
    melt: str = "melt",
) -> RenderResult:
    """Render a Kdenlive/MLT project to an H.264 + AAC file with melt, frame-exact.

    Parameters
    ----------
    project : Path
        A ``.kdenlive`` (or ``.mlt``) file (a work folder's: see
        :func:`mvtimeline.pipeline.find_project`). Its media must exist; relative paths are taken from the project's
        folder.
    out : Path, optional
        The video to write; suffix one of ``.mp4 .m4v .mov .mkv`` whose container holds the
        preset's codecs (ProRes and PCM: ``.mov .mkv``). Written to a temp name beside it
        (``.NAME.XXXX.part.EXT``) and renamed when melt succeeded; an existing file is replaced.
        Default: the project file with the preset's suffix (``.mp4`` without a preset).
    progress : ProgressFn, optional
        Called with ``Progress("render", fraction, 1.0)``, the fraction done 0..1: the frames melt
        has encoded, with 1.0 only once melt has finished the file.
    width, height : int, optional
        Output size in pixels (both even); default: the project's profile size.
    crf : int in [0, 51]
        x264 constant rate factor (lower is better quality, bigger file).
    x264_preset : str
        x264 speed preset, one of :data:`X264_PRESETS`.
    audio_bitrate : str
        AAC bitrate, e.g. ``"192k"``.
    preset : RenderPreset or str, optional
        A render preset (or its name, see :func:`~mvtimeline.render.presets.list_presets`); it sets
        codec, quality and size, overriding ``crf``, ``x264_preset`` and ``audio_bitrate``.
    subtitles : bool
        Burn the lyrics into the picture: from ``NAME.ass`` beside the project (karaoke styling)
        when there is one, else from the project's subtitle track. Off by default.
    melt : str
        The melt program (name on PATH or path).

    Returns
    -------
    RenderResult
        The output path, its frame count and rate, and the wall-clock seconds it took.

    Raises
    ------
    InputError
        The project is missing, not an MLT document, has no profile or no content, a media file
        is missing, the output's suffix cannot hold the preset's codecs, or an option is out of
        range. All are checked before melt starts.
    ToolMissing
        melt is not installed.
    RenderFailed
        melt exited with an error or wrote no file; the message quotes melt's last error line.
    KeyboardInterrupt
        Passed on after melt is stopped and the temp file removed (nothing is left under ``out``;
        a render always starts from the beginning).
    """
    if isinstance(preset, str):
        preset = load_preset(preset)
    if out is not None:
        check_output(Path(out), preset)  # first: a wrong suffix is a one-line fix
    project = Path(project)
    out = Path(out) if out is not None else project.with_suffix(preset.suffix if preset else ".mp4")
    if preset is not None:
        x264_preset = preset.x264_preset
        crf = preset.crf if preset.crf is not None else crf
        audio_bitrate = preset.audio_bitrate or audio_bitrate
    if (width is None) != (height is None):
        raise InputError("give both width and height, or neither")
    if width is not None and (width <= 0 or height <= 0 or width % 2 or height % 2):
        raise InputError(f"output size {width}x{height} must be positive and even (H.264 yuv420p)")
    if not 0 <= crf <= 51:
        raise InputError(f"crf {crf} is out of range [0, 51]")
    if x264_preset not in X264_PRESETS:
        raise InputError(f"x264 preset {x264_preset!r} is unknown; known: {', '.join(X264_PRESETS)}")
    tree = parse_mlt(project)
    root = tree.getroot()
    fps = _fps(root, project)
    if preset is not None and width is None:
        prof = root.find("profile")
        size = preset.size_for(int(prof.get("width")), int(prof.get("height")))
        if size is not None:
            width, height = size
    n_frames = _content_frames(root, fps)
    if n_frames <= 0:
        raise InputError(f"{project}: the project has no clips on its tracks; nothing to render")
    base = base_dir(root, project)
    _check_media(root, project, base)
    melt_path = shutil.which(melt)
    if melt_path is None:
        raise ToolMissing(f"{melt} not found: install it with 'apt-get install melt'")

    # The copy melt renders: absolute root and subtitle paths, no render consumer of its own, the
    # exact rate (an NTSC label over 100 in a custom profile means the NTSC rate)
    root.set("root", str(base))
    prof = root.find("profile")
    prof.set("frame_rate_num", str(fps.numerator))
    prof.set("frame_rate_den", str(fps.denominator))
    if subtitles:
        _fix_subtitles(root, project, base)
    else:
        _drop_subtitles(root)
    for consumer in root.findall("consumer"):
        root.remove(consumer)

    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mvtimeline-melt-") as tmp_dir, atomic_path(out) as tmp_out:
        copy = Path(tmp_dir) / "project.mlt"
        tree.write(str(copy), xml_declaration=True, encoding="utf-8")
        vcodec = preset.vcodec if preset else "libx264"
        cmd = [
            melt_path, "-progress", str(copy), "in=0", f"out={n_frames - 1}",
            "-consumer", f"avformat:{tmp_out}", f"f={MUXERS[out.suffix.lower()]}",
            f"vcodec={vcodec}", f"pix_fmt={preset.pix_fmt if preset else 'yuv420p'}",
            f"acodec={preset.acodec if preset else 'aac'}", "ar=48000", "channels=2",
            "progressive=1", "real_time=-1", "terminate_on_pause=1",
        ]  # fmt: skip
        if vcodec == "libx264":
            cmd += [f"crf={crf}", f"preset={x264_preset}"]
        if not (preset and preset.acodec.startswith("pcm")):
            cmd.append(f"ab={audio_bitrate}")
        if preset is not None:
            cmd += [f"{k}={v}" for k, v in preset.extra.items()]
        if out.suffix.lower() in (".mp4", ".m4v", ".mov") and codec_family(vcodec) in _DELIVERY:
            cmd.append("movflags=+faststart")
        if width is not None:
            # melt 7.12 drops the video stream (or falls back to 25 fps) when the consumer's size
            # changes unless its frame rate is given with it
            cmd += [f"width={width}", f"height={height}", f"frame_rate_num={fps.numerator}",
                    f"frame_rate_den={fps.denominator}"]
        log.info("rendering %s (%d frames at %s fps) to %s", project, n_frames, fps, out)
        log.debug("melt command: %s", " ".join(cmd))
        lag = _MELT_BUFFER + min(os.cpu_count() or 1, 16) + (
            _X264_LOOKAHEAD.get(x264_preset, 40) + 3 if vcodec.startswith("libx264") else 0)
        try:
            last_error = _run(cmd, _Meter(n_frames, lag, lambda f: progress(Progress("render", f, 1.0)))
                              if progress else None)
        except RenderFailed as exc:
            if "could not write header" in str(exc).lower():
                raise RenderFailed(f"{exc} (a {out.suffix} file may not hold {vcodec} video with "
                                   f"{preset.acodec if preset else 'aac'} audio; try .mkv)") from None
            raise
        if not tmp_out.exists() or tmp_out.stat().st_size == 0:
            raise RenderFailed(f"melt wrote no video for {project.name}: {last_error or 'no error message'}")
    if progress is not None:
        progress(Progress("render", 1.0, 1.0))
    elapsed_s = time.monotonic() - t0
    log.info("rendered %s in %.1f s", out, elapsed_s)
    return RenderResult(path=out, n_frames=n_frames, fps=fps, elapsed_s=elapsed_s)


class _Meter:
    """melt's frame reports → the fraction of the render done, reaching 1 only when melt is done.

    melt reports the frame it took from the project; about ``lag`` more frames (its read-ahead
    queue, the encoder's delay) are still to be encoded when it reports the last one, and then the
    file is finished. So the render counts as ``n_frames + lag`` steps: one per frame melt reports,
    then the last ``lag`` by the clock, at the rate frames came (:meth:`tick`); the fraction stays
    at most 0.99 until melt has exited (:func:`render` reports 1.0 after that).
    """

    CAP = 0.99

    def __init__(self, n_frames: int, lag: int, progress: Callable[[float], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.n_frames, self.lag, self.progress, self.clock = n_frames, lag, progress, clock
        self.seen: deque[tuple[float, int]] = deque()  # (time, frames taken) over the last 5 s
        self.shown = 0.0

    def frame(self, index: int) -> None:
        """melt took frame ``index`` (0-based)."""
        now = self.clock()
        self.seen.append((now, index + 1))
        while len(self.seen) > 2 and now - self.seen[0][0] > 5.0:
            self.seen.popleft()
        self._show(min(index + 1, self.n_frames))

    def tick(self) -> None:
        """Time passed with no report: after the last frame, count the frames still being encoded."""
        if not self.seen or self.seen[-1][1] < self.n_frames - max(2, self.n_frames // 100):
            return
        (t0, f0), (t1, f1) = self.seen[0], self.seen[-1]
        rate = (f1 - f0) / (t1 - t0) if t1 - t0 > 0.5 and f1 > f0 else None
        if rate is not None:
            self._show(f1 + min(self.lag, rate * (self.clock() - t1)))

    def _show(self, steps: float) -> None:
        fraction = min(self.CAP, steps / (self.n_frames + self.lag))
        if fraction - self.shown >= 0.005 or (fraction == self.CAP > self.shown):
            self.shown = fraction
            self.progress(fraction)


def _run(cmd: list[str], meter: _Meter | None) -> str:
    """Run melt, feed ``meter``, return its last error-looking line; raise if it failed."""
    tail: deque[str] = deque(maxlen=40)
    # melt in a process group of its own: Ctrl-C reaches only us, and we stop it (it would else
    # finish the file itself); once we are gone, its next progress line ends it (a broken pipe)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            process_group=0)
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        buf = b""
        while True:
            if not select.select([fd], [], [], 0.25)[0]:
                if meter is not None:
                    meter.tick()
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            for raw in lines:
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                m = _PROGRESS.search(line)
                if m:
                    if meter is not None:
                        meter.frame(int(m.group(1)))
                    continue
                tail.append(line)
                log.debug("melt: %s", line)
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    errors = [line for line in tail if _ERRORISH.search(line)]
    last_error = errors[-1] if errors else (tail[-1] if tail else "")
    if rc != 0:
        if re.search(r"error writing .*: -28\b", last_error):  # AVERROR(ENOSPC)
            raise RenderFailed(f"no space left on device while rendering (melt: {last_error}); "
                               "free some space and run the render again")
        raise RenderFailed(f"melt exited with code {rc}: {last_error or 'no error message'}")
    return last_error
