"""Inputs for the Kdenlive writer and melt renderer tests: tiny real media and a contract timeline.

Clips are solid-colour H.264 files made with ffmpeg (320x180 by default, or a tiny frame of the
project's shape, a few frames of head and tail handles), the song is a sine tone; the OTIO timeline
is built exactly as the contract in ``mvtimeline/timeline/__init__.py`` describes it, optionally
with several takes per segment (the chosen one in the segment's colour, the others grey/white).
The Kdenlive projects written from it are read back with
:func:`mvtimeline.timeline.kdenlive.read.read_summary` (a ``ProjectSummary``: attributes, not keys).

Public: build_timeline, Project, make_clip, make_song, media_size, ffmpeg, needs_ffmpeg, needs_melt,
COLOURS, OTHER_TAKES, WIDTH, HEIGHT.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest

WIDTH, HEIGHT = 320, 180

#: Clip colours as ffmpeg names and RGB.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "blue": (0, 0, 255),
    "lime": (0, 255, 0),
    "yellow": (255, 255, 0),
    "gray": (128, 128, 128),
    "white": (255, 255, 255),
}
#: Colours of the takes that are not chosen (take 1, take 2... skipping the chosen one).
OTHER_TAKES = ("gray", "white", "yellow")

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
needs_melt = pytest.mark.skipif(shutil.which("melt") is None, reason="melt not installed (apt-get install melt)")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def media_size(width: int, height: int) -> tuple[int, int]:
    """A tiny frame of the project's shape for test media: 320x180 for 16:9, 90x160 for 9:16..."""
    if (width, height) == (WIDTH, HEIGHT) or width * HEIGHT == height * WIDTH:
        return WIDTH, HEIGHT
    scale = 160 / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def make_clip(path: Path, colour: str, n_frames: int, fps: Fraction, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Path:
    """A solid-colour clip of exactly ``n_frames`` frames (all-intra, so any frame seeks exactly)."""
    rate = f"{fps.numerator}/{fps.denominator}"
    ffmpeg(
        "-f", "lavfi", "-i", f"color=c={colour}:s={size[0]}x{size[1]}:r={rate}",
        "-frames:v", str(n_frames), "-c:v", "libx264", "-preset", "ultrafast", "-g", "1",
        "-pix_fmt", "yuv420p", "-color_range", "tv", str(path),
    )  # fmt: skip
    return path


def make_song(path: Path, seconds: float) -> Path:
    """A 440 Hz sine, 48 kHz stereo WAV of ``seconds`` seconds."""
    ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-ac", "2", "-c:a", "pcm_s16le", str(path),
    )  # fmt: skip
    return path


@dataclass(frozen=True)
class Project:
    """A built test timeline and what it should look like in frames."""

    timeline: otio.schema.Timeline
    fps: Fraction
    n_frames: int
    cuts: tuple[int, ...]  # planned cut frames between clips
    colours: tuple[str, ...]
    pre: int
    post: int
    clip_paths: tuple[Path, ...]  # the chosen take of each segment
    song: Path
    size: tuple[int, int] = (WIDTH, HEIGHT)  # the project's frame size
    take_paths: tuple[tuple[Path, ...], ...] = ()  # every take of each segment, take 1 first
    chosen_take: int = 1
    labels: tuple[str, ...] = ()


def build_timeline(
    folder: Path,
    *,
    fps: Fraction = Fraction(25),
    seconds: float = 4.0,
    cut_s: tuple[float, ...] = (1.6, 2.8),
    colours: tuple[str, ...] = ("red", "blue", "lime"),
    pre: int = 3,
    post: int = 3,
    head: int = 4,
    tail: int = 4,
    subtitles: list[dict] | None = None,
    markers: list[tuple[float, str, str]] | None = None,
    media_folder: str = "clips",
    size: tuple[int, int] = (WIDTH, HEIGHT),
    takes: int | None = None,
    chosen_take: int | None = None,
    beats_s: tuple[float, ...] = (),
    make_media: bool = True,
) -> Project:
    """Media plus an OTIO timeline per the contract: V1 clips + SMPTE dissolves, A1 song, markers.

    ``size`` is the project's frame size (media stay tiny, same shape). With ``takes=N`` every
    segment gets N take files and ``metadata["mvtimeline"]["takes"]``; the timeline uses take
    ``chosen_take`` (default: the last), which has the segment's colour. ``beats_s`` adds downbeat
    markers. ``make_media=False`` writes the timeline only (for structural checks).
    """
    from mvtimeline.timecode import seconds_to_frame

    folder.mkdir(parents=True, exist_ok=True)
    media = folder / media_folder
    media.mkdir(parents=True, exist_ok=True)
    rate = float(fps)
    song = folder / "song.wav"
    if make_media:
        make_song(song, seconds)
    n_frames = seconds_to_frame(seconds, fps)
    cuts = tuple(seconds_to_frame(c, fps) for c in cut_s)
    bounds = (0, *cuts, n_frames)
    tiny = media_size(*size)
    chosen = (chosen_take or takes) if takes else 1

    def rt(frames: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(frames, rate)

    def clip_file(path: Path, colour: str, n: int) -> Path:
        if make_media:
            make_clip(path, colour, n, fps, tiny)
        return path

    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    paths, take_paths, labels = [], [], []
    for k, colour in enumerate(colours):
        seg = bounds[k + 1] - bounds[k]
        n_file = head + seg + tail
        label = f"{k + 1:02d} Verse – a {colour} field"
        labels.append(label)
        seg_takes = []
        if takes:
            others = iter(OTHER_TAKES)
            for t in range(1, takes + 1):
                take_colour = colour if t == chosen else next(others)
                seg_takes.append(clip_file(media / f"{k:02d}-{colour}-take{t}.mp4", take_colour, n_file))
            path = seg_takes[chosen - 1]
        else:
            path = clip_file(media / f"{k:02d}-{colour}.mp4", colour, n_file)
        paths.append(path)
        take_paths.append(tuple(seg_takes))
        ref = otio.schema.ExternalReference(
            target_url=str(path.resolve()), available_range=otio.opentime.TimeRange(rt(0), rt(n_file))
        )
        clip = otio.schema.Clip(
            name=f"{k + 1:02d} {colour}", media_reference=ref, source_range=otio.opentime.TimeRange(rt(head), rt(seg))
        )
        clip.metadata["mvtimeline"] = {
            "segment": k + 1,
            "take": chosen,
            "label": label,
            "section": "Verse",
            "section_kind": "verse",
            "image_prompt": f"a {colour} field",
            "motion_prompt": "still",
            "seed": k,
            "backend": "test",
            "key": f"key{k}",
        }
        if takes:
            clip.metadata["mvtimeline"]["takes"] = [
                {"take": t, "path": str(p.resolve()), "n_frames": n_file, "key": f"key{k}-{t}"}
                for t, p in enumerate(seg_takes, start=1)
            ]
        if k > 0:
            video.append(
                otio.schema.Transition(
                    name=f"dissolve {k}",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(pre),
                    out_offset=rt(post),
                )
            )
        video.append(clip)

    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    song_ref = otio.schema.ExternalReference(
        target_url=str(song.resolve()), available_range=otio.opentime.TimeRange(rt(0), rt(n_frames))
    )
    song_range = otio.opentime.TimeRange(rt(0), rt(n_frames))
    audio.append(otio.schema.Clip(name="song", media_reference=song_ref, source_range=song_range))

    timeline = otio.schema.Timeline(name="test song", global_start_time=rt(0))
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    if markers is None:
        markers = [(0.0, "section", "Intro"), (0.4, "line", "first line"), (cut_s[0], "section", "Chorus"),
                   (cut_s[0], "line", "chorus line")]  # fmt: skip
    markers = [*markers, *((t_s, "beat", f"bar {i + 1}") for i, t_s in enumerate(beats_s))]
    for t_s, kind, text in markers:
        m = otio.schema.Marker(name=text, marked_range=otio.opentime.TimeRange(rt(seconds_to_frame(t_s, fps)), rt(0)))
        m.comment = text
        m.metadata["mvtimeline"] = {"kind": kind}
        timeline.tracks.markers.append(m)
    if subtitles is None:
        subtitles = [
            {"start_s": 0.4, "end_s": 1.5, "text": "first line", "words": []},
            {"start_s": 1.6, "end_s": 2.7, "text": "chorus line", "words": []},
            {"start_s": 2.9, "end_s": 3.9, "text": "last line", "words": []},
        ]
    timeline.metadata["mvtimeline"] = {
        "schema": 1,
        "fps": f"{fps.numerator}/{fps.denominator}",
        "width": size[0],
        "height": size[1],
        "n_frames": n_frames,
        "duration_s": seconds,
        "audio_path": str(song.resolve()),
        "style": "test",
        "subtitles": subtitles,
    }
    return Project(
        timeline, fps, n_frames, cuts, colours, pre, post, tuple(paths), song, tuple(size), tuple(take_paths), chosen,
        tuple(labels),
    )
