"""Project settings: every frame size and rate gets a profile Kdenlive takes without a question, and
melt renders each at its size, to the frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from support.probe import ffprobe
from support.timelines import build_timeline, needs_ffmpeg, needs_melt
from lxml import etree

from mvtimeline.timecode import KNOWN_FPS, exact_rate, fps_label, profile_rate
from mvtimeline.render import render
from mvtimeline.timeline.kdenlive.xml import write_to_file, write_to_string
from mvtimeline.timeline.kdenlive.read import read_summary
from mvtimeline.timeline.kdenlive.profile import profile_for

MLT_PROFILES = Path("/usr/share/mlt-7/profiles")
SIZES = {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080), "4K": (3840, 2160)}
CASES = [(shape, rate) for shape in SIZES for rate in KNOWN_FPS]


def mlt_profile(name: str) -> dict[str, str] | None:
    path = MLT_PROFILES / name
    if not path.exists():
        return None
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.mark.parametrize(("shape", "rate"), CASES, ids=[f"{s}-{r}" for s, r in CASES])
def test_kdenlive_profile_is_the_stock_mlt_one_or_a_reduced_custom_one(tmp_path, shape, rate):
    (w, h), fps = SIZES[shape], KNOWN_FPS[rate]
    project = build_timeline(tmp_path, fps=fps, size=(w, h), make_media=False)
    root = etree.fromstring(write_to_string(project.timeline, document_id=1).encode("utf-8"))
    el = root.find("profile")
    written = {k: el.get(k) for k in el.keys()}
    doc = {p.get("name"): p.text for p in root.find("playlist[@id='main_bin']").findall("property")}
    name = doc["kdenlive:docproperties.profile"]
    assert name == profile_for(w, h, fps).name
    stock = mlt_profile(name)
    if stock is not None:  # exactly MLT's file, so Kdenlive finds it by name
        assert written == stock
    else:
        assert name == f"custom_{w}x{h}_{rate.replace('.', '')}"
        dar = {"16:9": ("16", "9"), "9:16": ("9", "16"), "1:1": ("1", "1"), "4K": ("16", "9")}[shape]
        assert (written["display_aspect_num"], written["display_aspect_den"]) == dar
        assert (written["width"], written["height"]) == (str(w), str(h))
        # Kdenlive 24.12 - 26.08 take an NTSC rate of a custom profile only as its label over 100
        written_rate = (int(written["frame_rate_num"]), int(written["frame_rate_den"]))
        assert written_rate == profile_rate(fps) and exact_rate(*written_rate) == fps
        assert (written["progressive"], written["sample_aspect_num"], written["sample_aspect_den"]) == ("1", "1", "1")
        assert written["colorspace"] == "709"
        assert written["description"] == f"{ {'9:16': 'Vertical ', '1:1': 'Square '}.get(shape, '')}{w}x{h} {rate} fps"


def test_kdenlive_stock_profiles_cover_landscape_hd_and_4k_at_every_rate():
    for rate, fps in KNOWN_FPS.items():
        if fps < 23:  # 12, 15, 16 (drafts, Wan's rate): custom profiles, no stock one
            continue
        for w, h in ((1920, 1080), (3840, 2160)):
            assert profile_for(w, h, fps).stock, (w, h, rate)
    assert [profile_for(1080, 1920, KNOWN_FPS[r]).name for r in ("30", "60", "25")] == [
        "vertical_hd_30", "vertical_hd_60", "custom_1080x1920_25",
    ]  # fmt: skip
    assert profile_for(1080, 1080, Fraction(60)).name == "square_1080p_60"


RENDERS = [("16:9", "23.976"), ("9:16", "29.97"), ("1:1", "59.94"), ("4K", "25")]


@needs_ffmpeg
@needs_melt
@pytest.mark.parametrize(("shape", "rate"), RENDERS, ids=[f"{s}-{r}" for s, r in RENDERS])
def test_kdenlive_render_of_each_profile_has_its_size_and_every_frame(tmp_path, shape, rate):
    (w, h), fps = SIZES[shape], KNOWN_FPS[rate]
    subs = [{"start_s": 0.1, "end_s": 1.0, "text": "one line", "words": []}]
    project = build_timeline(tmp_path, fps=fps, size=(w, h), seconds=1.2, cut_s=(0.4, 0.8), takes=2, subtitles=subs)
    path = write_to_file(project.timeline, tmp_path / "song.kdenlive")
    assert read_summary(path).n_frames == project.n_frames
    result = render(path, tmp_path / "song.mp4", x264_preset="ultrafast")
    video = ffprobe(result.path)["video"]
    assert (video["width"], video["height"]) == (w, h)
    assert int(video["nb_read_frames"]) == project.n_frames == result.n_frames
    assert Fraction(video["r_frame_rate"]) == fps
    assert fps_label(result.fps) == rate
