"""Clips made anywhere, brought back in sync: shot packs out, clips in (real media made with ffmpeg
from the song's own slices: offsets, black heads, frozen tails, other rates, re-encoded audio)."""

from __future__ import annotations

import json
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mvtimeline.pipeline import import_clips
from mvtimeline.errors import InputError
from mvtimeline.media import probe_video
from mvtimeline.types import Plan
from support.clips import make_clip

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng") or not shutil.which("ffmpeg"),
                                reason="espeak-ng and ffmpeg are needed (make deps)")
FPS = Fraction(24)


def _segments(folder: Path) -> list:
    return list(Plan.load(folder / "plan.json").segments)


def _takes(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "clips").glob("*/take-*.json"))]


def _clip_start(folder: Path, seg) -> float:
    return next(r["request"]["clip_start_s"] for r in _takes(folder) if r["request"]["segment_index"] == seg.index)


CASES = [  # delta (s), fps, black head, frozen tail, rate, gain, low-pass
    (-1.3, 24, 0.5, 0.0, 44100, 0.0, None),
    (0.9, 30, 0.0, 0.8, 48000, -6.0, None),
    (1.4, 30, 0.7, 0.6, 44100, 0.0, 3000),
    (-0.4, 24, 0.0, 0.0, 48000, -6.0, 4000),
]


@pytest.mark.parametrize("delta, fps, head, tail, rate, gain, lowpass", CASES)
def test_clips_sync_to_the_frame_and_lose_their_blank_ends(work, tmp_path, delta, fps, head, tail, rate, gain, lowpass):
    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][2]
    truth = _clip_start(folder, seg) + delta  # the song time of the clip's first frame
    clip = make_clip(song.audio_path, tmp_path / "c.mp4", start_s=truth, dur_s=seg.duration_s + 2.5, fps=fps,
                     black_head_s=head, frozen_tail_s=tail, rate=rate, gain_db=gain, lowpass_hz=lowpass)
    [row] = import_clips(folder, [clip], segment=seg.index)
    assert row.ok and row.segment == seg.index and row.take == 2
    assert abs(row.offset_s - truth) < 1 / float(FPS), (row.offset_s, truth)
    assert abs(row.head_trim_s - head) <= 1.5 / fps
    assert abs(row.tail_trim_s - tail) <= 1.5 / fps
    rec = next(r for r in _takes(folder) if r["take"] == 2)
    assert rec["backend"]["name"] == "import" and rec["meta"]["source"] == str(clip.resolve())
    mp4 = folder / "clips" / rec["key"] / "take-2.mp4"
    assert probe_video(mp4)["frames"] == rec["request"]["n_frames"]


def test_the_segment_is_found_by_sound_and_noise_lowers_the_confidence(work, tmp_path):
    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][1]  # in the first verse: heard once
    start = _clip_start(folder, seg) + 0.3
    clean = make_clip(song.audio_path, tmp_path / "clean.mp4", start_s=start, dur_s=seg.duration_s + 1)
    noisy = make_clip(song.audio_path, tmp_path / "noisy.mp4", start_s=start, dur_s=seg.duration_s + 1, noise_db=0.0)
    a, b = import_clips(folder, [clean, noisy])
    assert a.segment == b.segment == seg.index
    assert abs(a.offset_s - start) < 1 / float(FPS) and abs(b.offset_s - start) < 1 / float(FPS)
    assert b.confidence < a.confidence


def test_a_chorus_clip_stays_on_its_own_chorus(work, tmp_path):
    song, folder = work
    choruses = [s for s in _segments(folder) if s.section == "Chorus" and s.lines]
    first, later = choruses[0], next(s for s in choruses if s.start_s > choruses[0].end_s + 10)
    start = _clip_start(folder, later)
    clip = make_clip(song.audio_path, tmp_path / "c.mp4", start_s=start, dur_s=later.duration_s + 1)
    [row] = import_clips(folder, [clip], segment=later.index)
    assert row.ok and abs(row.offset_s - start) < 1 / float(FPS)  # not pulled to the first chorus
    # by sound alone too: the whole song is searched and the later chorus wins over the first
    [row] = import_clips(folder, [clip])
    assert row.ok and row.segment == later.index != first.index and abs(row.offset_s - start) < 1 / float(FPS)


def test_a_clip_that_fits_two_places_alike_is_refused(work, tmp_path):
    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][1]
    start = _clip_start(folder, seg)
    # a song that repeats itself exactly: the clip's sound fits the first and second half alike
    y, sr = sf.read(str(song.audio_path), dtype="float32")
    twice = tmp_path / "twice.wav"
    half = y[: y.shape[0] // 2]
    sf.write(str(twice), np.concatenate([half, half]), sr)
    clip = make_clip(twice, tmp_path / "c.mp4", start_s=start, dur_s=seg.duration_s + 1)
    from mvtimeline.audio import load
    from mvtimeline.audio.sync import SR, find_offset, song_envelopes

    found = find_offset(load(clip, sr=SR)[0], song_envelopes(load(twice, sr=SR)[0]), center_s=len(half) / sr / 2,
                        window_s=len(half) / sr)
    assert found.confidence < 0.04  # the two halves fit alike
    assert abs(abs(found.offset_s - found.runner_up_offset_s) - len(half) / sr) < 0.05


def test_a_silent_clip_needs_its_segment(work, tmp_path):
    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][0]
    clip = make_clip(song.audio_path, tmp_path / "silent.mp4", start_s=0, dur_s=seg.duration_s + 1, audio=False,
                     black_head_s=0.4)
    with pytest.raises(InputError, match="no sound to find its segment by; give --segment N"):
        import_clips(folder, [clip])
    [row] = import_clips(folder, [clip], segment=seg.index)
    assert row.ok and "no sound" in row.flags[0]
    assert abs(row.offset_s - (_clip_start(folder, seg) - row.head_trim_s)) < 1e-3


def test_a_short_clip_is_imported_flagged_with_the_gap_filled_by_the_previous_take(work, tmp_path):
    from mvtimeline.media import frame_at

    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][3]
    start = _clip_start(folder, seg)
    # the clip starts 1 s into the segment and lasts half of it
    clip = make_clip(song.audio_path, tmp_path / "short.mp4", start_s=start + 1.0, dur_s=seg.duration_s / 2)
    [row] = import_clips(folder, [clip], segment=seg.index)
    assert row.ok and row.result == "short" and "from the previous take" in row.flags[0]
    assert "the first 1.0 s from the previous take" in row.flags[0] and "the last" in row.flags[0]
    assert row.coverage == pytest.approx(0.5, abs=0.05)
    rec = next(r for r in _takes(folder) if r["take"] == 2)
    old = next(r for r in _takes(folder)  # (a take's key may differ from the others': its own seed)
               if r["take"] == 1 and r["request"]["segment_index"] == rec["request"]["segment_index"])
    new_mp4 = folder / "clips" / rec["key"] / "take-2.mp4"
    old_mp4 = folder / "clips" / old["key"] / "take-1.mp4"
    a, b = frame_at(new_mp4, 0.2, fps=FPS), frame_at(old_mp4, 0.2, fps=FPS)
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 6  # before the clip begins: the previous take
    assert a.mean() > 10  # never black


def test_a_truncated_file_is_refused_and_nothing_is_written(work, tmp_path):
    song, folder = work
    seg = _segments(folder)[2]
    good = make_clip(song.audio_path, tmp_path / "good.mp4", start_s=_clip_start(folder, seg), dur_s=seg.duration_s + 1)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(good.read_bytes()[: 3000])
    before = sorted(p.name for p in (folder / "clips").rglob("*"))
    with pytest.raises(InputError, match="bad.mp4"):
        import_clips(folder, [good, bad], segment=seg.index)
    assert sorted(p.name for p in (folder / "clips").rglob("*")) == before


def test_a_shot_pack_round_trip_puts_every_take_on_its_segment(work, tmp_path):
    from mvtimeline.cli import main
    from mvtimeline.timeline.kdenlive.read import read_summary

    song, folder = work
    pack = tmp_path / "pack"
    assert main(["-q", "shots", str(folder), "-o", str(folder), "--format", "wan2gp"]) == 2  # not into the folder
    assert main(["-q", "shots", str(folder), "-o", str(folder / "pack")]) == 2
    assert not (folder / "pack").exists()
    assert main(["-q", "shots", str(folder), "-o", str(pack), "--format", "wan2gp"]) == 0
    segs = _segments(folder)
    dirs = sorted(p for p in pack.iterdir() if p.is_dir())
    assert len(dirs) == len(segs)
    for d, seg in zip(dirs, segs):
        shot = json.loads((d / "shot.json").read_text())
        assert d.name.startswith(f"{seg.index:02d}-") and shot["segment"] == seg.index
        assert sf.info(str(d / "audio.wav")).duration == pytest.approx(shot["clip_seconds"], abs=1e-3)
        assert (d / "audio.mp3").stat().st_size > 0 and (d / "keyframe.png").is_file()
        assert (shot["suggested_frames"]["wan_16fps_4k+1"]["frames"] - 1) % 4 == 0
        assert json.loads((d / "wan2gp.json").read_text())["audio_guide"].endswith("audio.wav")
        # a "generated" clip: the keyframe still with the shot's own audio, named as the pack names it
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-framerate", "25", "-i", str(d / "keyframe.png"),
                        "-i", str(d / "audio.wav"), "-vf", "noise=alls=20:allf=t", "-c:v", "libx264",
                        "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(d / "clip.mp4")], check=True)
    assert "shot-1" in (pack / "index.html").read_text() and (pack / "shots.csv").read_text().count("\n") == len(segs) + 1
    rows = import_clips(folder, [pack], pick=True)
    assert [r.segment for r in rows] == [s.index for s in segs]
    # a sung segment's clip always finds its place; a short one of a bar or two between stanzas, over
    # a backing that repeats every bar, may fit a beat earlier as well: refused, never misplaced
    for r, seg in zip(rows, segs):
        assert r.ok or (not seg.lines and r.result.startswith("refused: unsure sync")), (seg.index, r.result)
        if r.ok:
            assert abs(r.offset_s - _clip_start(folder, seg)) < 1 / float(FPS), (seg.index, r.offset_s)
    made = {r.segment for r in rows if r.ok}
    assert made >= {s.index for s in segs if s.lines}
    plan = Plan.load(folder / "plan.json")
    assert all(s.take == (2 if s.index in made else 1) for s in plan.segments)
    summary = read_summary(folder / "demo.kdenlive")
    video = [c for c in summary.clips if "take-2" in (c.resource or "")]
    assert len(video) == len(made)


def test_one_long_video_is_cut_into_a_take_per_segment(work, tmp_path):
    song, folder = work
    dur = sf.info(str(song.audio_path)).duration
    clip = make_clip(song.audio_path, tmp_path / "whole.mp4", start_s=-0.6, dur_s=dur + 0.6, black_head_s=0.6,
                     size="64x48")
    rows = import_clips(folder, [clip], whole=True)
    segs = _segments(folder)
    assert [r.segment for r in rows] == [s.index for s in segs] and all(r.ok for r in rows)
    assert all(abs(r.offset_s + 0.6) < 1 / float(FPS) for r in rows)


@pytest.mark.kdenlive
def test_kdenlive_opens_a_project_with_imported_takes_with_no_dialog(work, tmp_path):
    from support.kdenlive_open import missing_tools, open_in_kdenlive

    if missing_tools():
        pytest.skip(f"needs apt-get install -y {' '.join(missing_tools())}")
    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][0]
    clip = make_clip(song.audio_path, tmp_path / "c.mp4", start_s=_clip_start(folder, seg), dur_s=seg.duration_s + 1)
    [row] = import_clips(folder, [clip], segment=seg.index, pick=True)
    assert row.ok
    result = open_in_kdenlive(folder / "demo.kdenlive", tmp_path / "open")
    assert result.clean, f"Kdenlive 22.12 showed {result.dialogs or 'no main window'}"


def test_a_short_clip_says_how_much_it_covers_and_that_its_tail_is_frozen(work, tmp_path, monkeypatch, capsys):
    """A 60 % clip on a segment with no earlier take to fill from: the rest is its last frame held,
    and the summary says so (not "covers 97 %"), in a table that fits 80 columns."""
    from mvtimeline.cli import main

    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][2]
    rec = next(r for r in _takes(folder) if r["request"]["segment_index"] == seg.index)
    (folder / "clips" / rec["key"] / "take-1.mp4").unlink()  # nothing to fill from
    (folder / "demo.kdenlive").unlink()  # (no project to refresh, which needs every take)
    head_s = rec["request"]["head_frames"] / float(FPS)
    dur = round(0.6 * seg.duration_s, 2)
    clip = make_clip(song.audio_path, tmp_path / "short.mp4", start_s=_clip_start(folder, seg) + head_s, dur_s=dur)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["import", str(folder), str(clip), "--segment", str(seg.index)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines) and "…" not in out, out
    import re

    m = re.search(r"short: covers (\d+) % \(the last (\d+\.\d) s frozen\)", out)
    assert m, out
    assert int(m.group(1)) == pytest.approx(100 * dur / seg.duration_s, abs=3)
    assert float(m.group(2)) == pytest.approx(seg.duration_s - dur, abs=0.1)
    assert any(line.startswith("short.mp4") and line.rstrip().endswith(f"short {m.group(1)}%") for line in lines), out


@pytest.fixture(scope="module")
def other_song(tmp_path_factory):
    """Another song: another tempo (97 BPM), other words, other voice pitches."""
    from mvtimeline.audio.demo import synthesize

    lyrics = ("[Verse]\nRolling down the river in the morning light\nEvery little window shining gold and white\n"
              "Someone calls my name across the water wide\nI keep on walking with the stars inside\n\n"
              "[Chorus]\nHey hey we are running now\nHey hey we are running now\n")
    return synthesize(tmp_path_factory.mktemp("other"), name="other", tempo_bpm=97, lyrics_text=lyrics, seed=3,
                      intro_bars=1, outro_bars=1)


def test_a_clip_of_another_song_is_refused_before_anything_is_written(work, other_song, tmp_path, capsys):
    from mvtimeline.cli import main
    from mvtimeline.generate.importer import MIN_MATCH

    song, folder = work
    seg = [s for s in _segments(folder) if s.lines][1]
    good = make_clip(song.audio_path, tmp_path / "good.mp4", start_s=_clip_start(folder, seg), dur_s=seg.duration_s + 1)
    other = make_clip(other_song.audio_path, tmp_path / "other.mp4", start_s=8.0, dur_s=4.5)
    before = sorted(p.name for p in (folder / "clips").rglob("*"))
    # by its sound (the whole song searched), and where its name or --segment puts it
    for kw in ({}, {"segment": seg.index}):
        with pytest.raises(InputError, match=r"^other\.mp4 does not match this song \(confidence 0\.\d\d"):
            import_clips(folder, [good, other], **kw)
    assert sorted(p.name for p in (folder / "clips").rglob("*")) == before
    assert main(["import", str(folder), str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("mvtimeline: error: other.mp4 does not match this song"), err
    # --offset still imports it, as the user says
    [row] = import_clips(folder, [other], segment=seg.index, offset_s=_clip_start(folder, seg))
    assert row.ok and row.match is None
    # the clip of this song fits far above the bar, the other song far below it
    [row] = import_clips(folder, [good])
    assert row.ok and row.match >= 2 * MIN_MATCH


def test_a_part_sung_twice_is_still_a_repeat_not_another_song(work, tmp_path):
    from mvtimeline.generate.importer import MIN_MATCH

    song, folder = work
    first, again = [ln for ln in song.lines if ln["text"] == "Hearts like engines in overdrive"]
    clip = make_clip(song.audio_path, tmp_path / "chorus.mp4", start_s=first["start_s"] - 0.75, dur_s=4.0)
    [row] = import_clips(folder, [clip])
    assert not row.ok and "a repeated part?" in row.result and "give --segment N" in row.result, row.result
    assert row.match >= MIN_MATCH and row.confidence < 0.04
    assert str(round(again["start_s"] - first["start_s"] + first["start_s"] - 0.75, 1)) in row.result


def test_the_import_table_fits_80_columns_and_never_cuts_a_path():
    from mvtimeline.cli import _import_table
    from mvtimeline.generate.importer import Imported

    pack = Path("/home/someone/Videos/a-rather-long-folder-of-shot-packs/my-song-pack-2026-03-01")
    rows = [
        Imported(clip=pack / "03-chorus-under-the-neon-we-come-alive-hearts-like-engines" / "clip.mp4", segment=3,
                 take=2, offset_s=12.3456, head_trim_s=0.5, tail_trim_s=0.8, confidence=0.41, match=0.93,
                 result="imported, picked"),
        Imported(clip=pack / "04-chorus" / "clip.mp4", segment=4, take=5, offset_s=-1.25, confidence=0.38,
                 result="short, picked", coverage=0.7,
                 flags=["short: covers 70 % (the last 2.4 s frozen)"]),
        Imported(clip=Path("/tmp/ComfyUI_00042_wan22_s2v_lipsync_final_v3_.mp4"), offset_s=23.501, confidence=0.01,
                 match=0.93, result="refused: its sound fits at 23.50 s and 59.50 s of the song alike (a repeated "
                 "part?); give --segment N"),
        Imported(clip=Path("/tmp/silent.mp4"), segment=11, take=2, offset_s=40.1, result="imported",
                 flags=["no sound: its first good frame is put at the segment's start"]),
    ]
    for verbose in (False, True):
        lines = [line for line, _ in _import_table(rows, verbose=verbose, width=80)]
        text = "\n".join(lines)
        paths = {str(r.clip) for r in rows}  # a path longer than the screen: whole, on a line of its own
        assert all(len(line) <= 80 or line.strip() in paths for line in lines) and "…" not in text, text
        assert lines[0].split() == ["clip", "seg", "take", "offset", "s", "head", "s", "tail", "s", "conf", "result"]
        assert len(lines) <= 4 * len(rows) + 1 + (4 * len(rows) if verbose else 0), text
        # two clips both named clip.mp4 are told apart by their folders, a long name gets its own line
        assert "03-chorus-under-the-neon-we-come-alive-hearts-like-engines/clip.mp4" in lines
        assert any(line.startswith("04-chorus/clip.mp4 ") and line.endswith("short 70%, picked") for line in lines)
        assert "(the last 2.4 s frozen)" in text and "give --segment N" in text
        assert ("ComfyUI_00042_wan22_s2v_lipsync_final_v3_.mp4" in lines) and "refused" in text
    assert str(rows[0].clip) in [line.strip() for line in lines]  # -v: the source, whole, on a line of its own
