"""The cast: singers named by lyric tags, their pictures as keyframes, their looks in every prompt."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mvtimeline import pipeline
from mvtimeline.config import Config, load_toml
from mvtimeline.errors import InputError
from mvtimeline.lyrics import read
from mvtimeline.lyrics.read.plain import parse_plain
from mvtimeline.types import Plan

LYRICS = """[Verse 1: Anna]
City lights are calling out my name
Every window burning like a flame

[Chorus: Ben]
Under the neon we come alive
Hearts like engines in overdrive
"""
ANNA = "short silver hair, red leather jacket"
BEN = "tall man with a grey beard, blue coat"
SETTING = "a rain-soaked rooftop at night"


def test_tags_name_singers_in_text_and_lrc(tmp_path):
    lyr = parse_plain("[Verse 1: Anna]\nla la\n\n[Anna & Ben]\nda da\n[Male Vocal]\nna na\n\n[Bridge]\nho ho\n"
                      "[Mary Jane]\nhey\n")
    assert [ln.singers for ln in lyr.lines] == [("Anna",), ("Anna", "Ben"), ("Anna", "Ben"), (), ("Mary Jane",)]
    assert [ln.section for ln in lyr.lines] == ["Verse 1", "Verse 1", "Verse 1", "Bridge", "Bridge"]
    (tmp_path / "s.lrc").write_text("[00:01.00][Verse: Anna]la la\n[00:03.00]da da\n[00:05.00][Ben]na na\n"
                                    "[00:07.00][Chorus]ho ho\n")
    assert [ln.singers for ln in read(tmp_path / "s.lrc").lines] == [("Anna",), ("Anna",), ("Ben",), ()]


def _png(path: Path, rgb: tuple[int, int, int]) -> Path:
    from PIL import Image

    Image.new("RGB", (320, 180), rgb).save(path)
    return path


@pytest.fixture(scope="module")
def duet(tmp_path_factory):
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed (make deps)")
    from mvtimeline.audio.demo import synthesize

    d = tmp_path_factory.mktemp("cast")
    song = synthesize(d / "song", lyrics_text=LYRICS, intro_bars=1, outro_bars=2)
    cast = {"Anna": {"image": str(_png(d / "anna.png", (220, 30, 30))), "role": "lead singer", "appearance": ANNA},
            "Ben": {"image": str(_png(d / "ben.png", (30, 30, 220))), "appearance": BEN}}
    cfg = Config(fps=Fraction(12), width=160, height=96, max_segment_s=5.0).replace(cast=cast, setting=SETTING)
    res = pipeline.run(song.audio_path, song.lyrics_path, d / "work", cfg)
    return song, res.project.folder


def _middle_rgb(folder: Path, seg_index: int) -> np.ndarray:
    project = pipeline.load_project(folder)
    req, res = pipeline.chosen_clips(project, project.load_plan(), project.load_analysis())[seg_index]
    from mvtimeline.outputs.storyboard import middle_frame

    return middle_frame(req, res.path).reshape(-1, 3).mean(axis=0)


def test_each_segment_is_sung_by_the_tagged_singer_with_their_picture_and_looks(duet):
    song, folder = duet
    plan = Plan.load(folder / "plan.json")
    verse = [s for s in plan.segments if s.section.startswith("Verse") and s.lines]
    chorus = [s for s in plan.segments if s.section == "Chorus" and s.lines]
    assert verse and chorus
    assert {s.singer for s in verse} == {"Anna"} and {s.singer for s in chorus} == {"Ben"}
    for s in plan.segments:
        assert s.singer in ("Anna", "Ben")  # instrumental segments keep the singer before them (or Anna)
        looks = ANNA if s.singer == "Anna" else BEN
        assert s.image_prompt.startswith(("lead singer, " if s.singer == "Anna" else "") + looks)
        assert s.image_prompt.endswith(SETTING)
    for s in verse[:1] + chorus[:1]:
        r, _, b = _middle_rgb(folder, s.index)
        assert (r > b + 60) if s.singer == "Anna" else (b > r + 60), (s.index, s.singer, r, b)


def test_a_singer_set_in_plan_json_is_kept_and_drives_prompt_and_picture(duet, tmp_path):
    _, folder = duet
    work = tmp_path / "work"
    shutil.copytree(folder, work)
    d = json.loads((work / "plan.json").read_text())
    seg = next(s for s in d["segments"] if s["singer"] == "Anna" and s["lines"])
    seg["singer"] = "Ben"
    (work / "plan.json").write_text(json.dumps(d))
    p = pipeline.replan(work)
    edited = next(s for s in p.segments if s.index == seg["index"])
    assert edited.singer == "Ben" and edited.auto["singer"] == "Anna"
    assert edited.image_prompt.startswith(BEN) and ANNA not in edited.image_prompt
    pipeline.generate(work, segments=[edited.index])
    r, _, b = _middle_rgb(work, edited.index)
    assert b > r + 60
    again = pipeline.replan(work)  # a second re-plan keeps it too
    assert next(s for s in again.segments if s.index == seg["index"]).singer == "Ben"


def test_one_cast_singer_without_tags_sings_every_segment(short_song, tmp_path):
    from mvtimeline.cli import main

    song = short_song
    img = _png(tmp_path / "me.png", (30, 200, 30))
    assert main(["-q", "run", str(song.audio_path), "--lyrics", str(song.lyrics_path), "-o", str(tmp_path / "w"),
                 "--cast", f"Mia={img}", "--setting", "a desert at dawn", "--fps", "12", "--size", "160x96"]) == 0
    plan = Plan.load(tmp_path / "w" / "plan.json")
    assert {s.singer for s in plan.segments} == {"Mia"}
    assert all(s.image_prompt.endswith("a desert at dawn") for s in plan.segments)
    project = pipeline.load_project(tmp_path / "w")  # the cast is in project.json, its picture relative
    assert Path(project.config.cast["Mia"]["image"]).samefile(img)
    assert "me.png" in (tmp_path / "w" / "project.json").read_text()


def test_cast_tables_in_the_settings_file(tmp_path):
    (tmp_path / "anna.png").write_bytes(b"")
    (tmp_path / "mvtimeline.toml").write_text('setting = "a beach"\n[cast.Anna]\nimage = "anna.png"\n'
                                              'appearance = "red dress"\n')
    values = load_toml(tmp_path / "mvtimeline.toml")
    assert values["cast"]["Anna"]["image"] == str((tmp_path / "anna.png").resolve())
    cfg = Config.from_options(cast=values["cast"], setting=values["setting"])
    assert cfg.cast["Anna"]["appearance"] == "red dress" and cfg.setting == "a beach"
    (tmp_path / "bad.toml").write_text('[cast.Anna]\nhat = "red"\n')
    with pytest.raises(InputError, match=r"\[cast.Anna\] unknown key 'hat'; known: image, role, appearance"):
        load_toml(tmp_path / "bad.toml")
    with pytest.raises(InputError, match="write NAME=IMAGE"):
        from mvtimeline.plan.cast import parse_cast_option

        parse_cast_option("Anna=")
