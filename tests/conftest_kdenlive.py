"""Inputs for the Kdenlive writer and melt renderer tests: tiny real media and a contract timeline.

Clips are solid-colour H.264 files made with ffmpeg (320x180, a few frames of head and tail
handles), the song is a sine tone; the OTIO timeline is built exactly as the contract in
``mvtimeline/timeline/__init__.py`` describes it.
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
}

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
needs_melt = pytest.mark.skipif(shutil.which("melt") is None, reason="melt not installed (apt-get install melt)")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def make_clip(path: Path, colour: str, n_frames: int, fps: Fraction) -> Path:
    """A solid-colour clip of exactly ``n_frames`` frames (all-intra, so any frame seeks exactly)."""
    rate = f"{fps.numerator}/{fps.denominator}"
    ffmpeg(
        "-f", "lavfi", "-i", f"color=c={colour}:s={WIDTH}x{HEIGHT}:r={rate}",
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
    clip_paths: tuple[Path, ...]
    song: Path


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
) -> Project:
    """Media plus an OTIO timeline per the contract: V1 clips + SMPTE dissolves, A1 song, markers."""
    from mvtimeline.frames import seconds_to_frame

    folder.mkdir(parents=True, exist_ok=True)
    media = folder / media_folder
    media.mkdir(parents=True, exist_ok=True)
    rate = float(fps)
    song = make_song(folder / "song.wav", seconds)
    n_frames = seconds_to_frame(seconds, fps)
    cuts = tuple(seconds_to_frame(c, fps) for c in cut_s)
    bounds = (0, *cuts, n_frames)

    def rt(frames: int) -> otio.opentime.RationalTime:
        return otio.opentime.RationalTime(frames, rate)

    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    paths = []
    for k, colour in enumerate(colours):
        seg = bounds[k + 1] - bounds[k]
        n_file = head + seg + tail
        path = make_clip(media / f"{k:02d}-{colour}.mp4", colour, n_file, fps)
        paths.append(path)
        ref = otio.schema.ExternalReference(
            target_url=str(path.resolve()), available_range=otio.opentime.TimeRange(rt(0), rt(n_file))
        )
        clip = otio.schema.Clip(
            name=f"{k + 1:02d} {colour}", media_reference=ref, source_range=otio.opentime.TimeRange(rt(head), rt(seg))
        )
        clip.metadata["mvtimeline"] = {
            "segment": k,
            "take": 1,
            "section": "Verse",
            "image_prompt": f"a {colour} field",
            "motion_prompt": "still",
            "seed": k,
            "backend": "test",
            "key": f"key{k}",
        }
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
        "width": WIDTH,
        "height": HEIGHT,
        "n_frames": n_frames,
        "duration_s": seconds,
        "audio_path": str(song.resolve()),
        "style": "test",
        "subtitles": subtitles,
    }
    return Project(timeline, fps, n_frames, cuts, colours, pre, post, tuple(paths), song)
