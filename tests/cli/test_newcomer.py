"""A newcomer's first hour (issue 21), from the user's side: lyrics of another song stop the run,
takes differ, the user's folders are theirs, one writer at a time, the run says what to do next."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from support.cli import CliResult, run_cli, run_cli_process

from mvtimeline.workfolder import writer_lock

OTHER_LYRICS = """[Verse]
Rivers run beneath the frozen ground tonight
Silver trains are calling from the station light
Every window holds a story never told
Paper boats are sailing on the streets of gold

[Chorus]
Hold the lantern high and let the morning come
Sing it to the hills until the night is done
"""
SMALL = ["--size", "64x48", "--fps", "12"]


def mvt(*args) -> CliResult:
    """The command, as a user runs it (80 columns)."""
    return run_cli(*args, env={"COLUMNS": "80"})


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def made(demo_song, tmp_path_factory):
    """One run with two takes, as a newcomer starts."""
    out = tmp_path_factory.mktemp("made") / "work"
    proc = mvt("-q", "run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", out, "--takes", "2", *SMALL)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_lyrics_of_another_song_stop_the_run_before_anything_is_generated(demo_song, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text(OTHER_LYRICS, encoding="utf-8")
    out = tmp_path / "work"
    proc = mvt("-q", "run", demo_song.audio_path, "--lyrics", other, "-o", out, *SMALL)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("mvtimeline: error:"), proc.stderr
    assert "do not match" in lines[0] and "--force" in lines[0], lines[0]
    assert not list(out.glob("*.kdenlive")) and not (out / "plan.json").exists()
    assert not list((out / "clips").rglob("*.mp4")) if (out / "clips").exists() else True
    report = json.loads((out / "aligned.json").read_text())["report"]
    assert report["verdict"] == "mismatch" and report["evidence"]["heard_lines"] >= 4


def test_the_lyrics_of_the_song_pass_the_report(made):
    out, _ = made
    report = json.loads((out / "aligned.json").read_text())["report"]
    assert report["verdict"] == "ok", report
    assert report["evidence"]["heard_score"] > -5


def test_lyrics_far_too_long_for_the_song_stop_it(demo_song, tmp_path):
    long = tmp_path / "long.txt"
    long.write_text("\n".join(f"line number {i} of a song that goes on and on forever more" for i in range(60)))
    proc = mvt("-q", "run", demo_song.audio_path, "--lyrics", long, "-o", tmp_path / "w", *SMALL)
    assert proc.returncode == 2, proc.stderr
    assert "far too long" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_two_takes_differ_and_record_their_own_seed(made):
    out, _ = made
    takes: dict[tuple[int, int], tuple[str, int]] = {}
    for meta in (out / "clips").rglob("take-*.json"):
        d = json.loads(meta.read_text())
        req = d["request"]
        takes[(req["segment_index"], req["take"])] = (md5(meta.with_suffix(".mp4")), req["seed"])
    segments = {s for s, _ in takes}
    assert segments and all((s, 1) in takes and (s, 2) in takes for s in segments)
    for s in segments:
        assert takes[(s, 1)][1] != takes[(s, 2)][1], f"segment {s}: both takes have seed {takes[(s, 1)][1]}"
        assert takes[(s, 1)][0] != takes[(s, 2)][0], f"segment {s}: the two takes are the same video"
    plan = json.loads((out / "plan.json").read_text())
    first = {seg["index"]: seg["seed"] for seg in plan["segments"]}
    assert all(takes[(s, 1)][1] == first[s] for s in segments)  # take 1 is the plan's seed


def test_the_run_ends_saying_what_to_do_next(made):
    out, proc = made
    tail = proc.stdout.strip().splitlines()[-5:]
    assert tail[0].startswith("next")
    text = "\n".join(tail)
    assert str(out / "demo.kdenlive") in text and "mvtimeline storyboard" in text and "mvtimeline pick" in text
    assert f"mvtimeline review {out}" in text
    assert "2 takes" in text


def test_a_folder_of_the_users_own_files_is_refused(demo_song, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "demo.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nmy own subtitles\n")
    (mine / "notes.txt").write_text("my notes")
    proc = mvt("-q", "run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", mine, *SMALL)
    assert proc.returncode == 2 and "not an mvtimeline work folder" in proc.stderr and "--force" in proc.stderr
    assert sorted(p.name for p in mine.iterdir()) == ["demo.srt", "notes.txt"]
    # --force writes into it, but never over (or renames) a file of the user's with one of its names
    proc = mvt("-q", "run", demo_song.audio_path, "--lyrics", demo_song.lyrics_path, "-o", mine, "--force", *SMALL)
    assert proc.returncode == 2 and "demo.srt" in proc.stderr, proc.stderr
    assert (mine / "demo.srt").read_text().endswith("my own subtitles\n")
    assert sorted(p.name for p in mine.iterdir() if not p.name.startswith(".")) == ["demo.srt", "notes.txt"]


def test_a_second_writer_on_the_same_folder_stops_with_the_reason(made):
    out, _ = made
    with writer_lock(out, "run"):  # held by this process: the command must be another one
        proc = run_cli_process("pick", out, 1, 2, env={"COLUMNS": "80"})
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip()
    assert "in use by mvtimeline run (pid" in line and len(line.splitlines()) == 1
    plan = json.loads((out / "plan.json").read_text())
    assert plan["segments"][0]["take"] == 1  # nothing changed


def test_pick_says_the_render_is_out_of_date(made):
    out, _ = made
    video = out / "demo.mp4"
    video.write_bytes(b"an earlier render")  # stands for NAME.mp4 from an earlier --render
    import os
    import time

    old = time.time() - 60
    os.utime(video, (old, old))
    proc = mvt("pick", out, 1, 2)
    assert proc.returncode == 0, proc.stderr
    assert "demo.mp4 is now out of date" in proc.stdout and f"mvtimeline render {out}" in proc.stdout
    proc = mvt("pick", out, 1, 1)
    assert "out of date" in proc.stdout
    video.unlink()
    proc = mvt("pick", out, 1, 2)
    assert "out of date" not in proc.stdout


def test_the_report_judges_length_and_hearing(demo_analysis):
    """The verdicts from the evidence alone: syllables per second, voice heard, Whisper's contrast."""
    import dataclasses

    from mvtimeline.lyrics.align.report import assess
    from mvtimeline.types import Line, Lyrics

    def lyrics(n: int, text: str = "we sing along the river in the night") -> Lyrics:
        return Lyrics(path="x.txt", format="plain", lines=tuple(Line(text=f"{text} {i}", line_no=i + 1)
                                                                 for i in range(n)))

    dur = demo_analysis.duration_s
    assert assess(lyrics(8), demo_analysis).verdict == "ok"
    assert assess(lyrics(int(dur)), demo_analysis).verdict == "too long"  # ~10 syllables a second
    quiet = dataclasses.replace(demo_analysis, vocal_regions_s=((1.0, 1.5),))
    assert assess(lyrics(8), quiet).verdict == "no voice"
    assert assess(lyrics(8), quiet, contrast=[(-1.5, -5.0)] * 6).verdict == "ok"  # Whisper hears it: sung
    long_voice = dataclasses.replace(demo_analysis, duration_s=200.0, vocal_regions_s=((0.0, 180.0),))
    assert assess(lyrics(1, "la"), long_voice).verdict == "too short"
    poor_alike = [(-6.8, -6.6)] * 6  # heard poorly, no better than a decoy: another song's lyrics
    poor_better = [(-5.8, -7.9)] * 6  # heard poorly throughout, but far better than a decoy: its own
    assert assess(lyrics(8), demo_analysis, contrast=poor_alike).verdict == "mismatch"
    assert assess(lyrics(8), demo_analysis, contrast=poor_better).verdict == "ok"
    assert assess(lyrics(8), demo_analysis, contrast=poor_alike[:3]).verdict == "ok"  # too few lines to judge


def test_import_with_pick_holds_the_folder_once_and_says_the_render_is_stale(made, tmp_path):
    """import holds the work folder and calls pick and export inside: the same hold, not a refusal."""
    import os
    import shutil
    import time

    out, _ = made
    clip = tmp_path / "from-elsewhere.mp4"
    shutil.copy(next((out / "clips").rglob("take-1.mp4")), clip)
    video = out / "demo.mp4"
    video.write_bytes(b"an earlier render")
    old = time.time() - 60
    os.utime(video, (old, old))
    try:
        proc = mvt("import", out, clip, "--segment", 2, "--pick")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "in use" not in proc.stderr
        assert "demo.mp4 is now out of date" in proc.stdout
        assert not (out / ".mvtimeline.lock").read_text().strip()  # let go at the end
    finally:
        video.unlink()
