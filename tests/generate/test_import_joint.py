"""A folder of returned clips without names, placed as a whole: each clip on its own segment, both
choruses of the same music included (their length and their sound beyond the repeated part tell
them apart), two takes of one segment both on it, and only what stays ambiguous refused."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mvtimeline.pipeline import import_clips
from mvtimeline.types import Plan
from support.clips import IMPORT_FPS, make_clip, returned_clip

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng") or not shutil.which("ffmpeg"),
                                reason="espeak-ng and ffmpeg are needed (make deps)")
FRAME_S = 1 / float(IMPORT_FPS)


def _requests(folder: Path) -> dict[int, dict]:
    """Each segment's take-1 request (song time of its first frame, frames, fps)."""
    recs = [json.loads(p.read_text()) for p in (folder / "clips").glob("*/take-1.json")]
    return {r["request"]["segment_index"]: r["request"] for r in recs}


def _span(req: dict) -> tuple[float, float]:
    """The song seconds a segment's clip covers, handles included."""
    return req["clip_start_s"], req["clip_start_s"] + float(Fraction(req["n_frames"]) / Fraction(req["fps"]))


def _returned_clip(song, folder: Path, req: dict, rng, *, head_cut_s: float = 0.0, end_s: float = 0.0
                   ) -> tuple[Path, float]:
    """:func:`support.clips.returned_clip` for the segment of ``req``."""
    return returned_clip(song.audio_path, folder, _span(req), rng, head_cut_s=head_cut_s, end_s=end_s)


def test_a_folder_of_unnamed_clips_puts_every_clip_on_its_own_segment_both_choruses_included(work, tmp_path):
    song, folder = work
    segs = list(Plan.load(folder / "plan.json").segments)
    reqs = _requests(folder)
    sung = [s.index for s in segs if s.lines]
    choruses = [s.index for s in segs if s.section == "Chorus"]
    assert len(choruses) == 8 and set(choruses) <= set(sung)  # the chorus is sung twice, to the same music
    rng = np.random.default_rng(7)
    trimmed = set(rng.choice([i for i in sung if i not in choruses], 3, replace=False).tolist())
    pack = tmp_path / "returned"
    pack.mkdir()
    truth = {}
    for i in sung:  # each a little longer or shorter than asked, a few verses with their head cut, and
        # segment 7's without its tail handle: alone, it would fit segment 17's request as well
        clip, start_s = _returned_clip(song, pack, reqs[i], rng, head_cut_s=float(rng.uniform(0.3, 0.6)) if i in trimmed
                                       else 0.0, end_s=-0.55 if i == 7 else float(rng.uniform(-0.12, 0.12)))
        truth[clip.name] = (i, start_s)
    assert sorted(truth) != sorted(truth, key=lambda n: truth[n][0])  # the names say nothing of the order
    rows = import_clips(folder, [pack])
    assert len(rows) == len(sung)
    for r in rows:
        seg, start_s = truth[r.clip.name]
        assert r.ok and r.segment == seg and r.take == 2, (r.clip.name, seg, r.segment, r.result)
        assert abs(r.offset_s - start_s) < FRAME_S, (seg, r.offset_s, start_s)
    placed = {r.segment: r for r in rows}
    for a, b in [(6, 16), (7, 17), (8, 18), (9, 19)]:  # each chorus clip says which repeat it was not
        assert f"segment {a}, not {b}" in " ".join(placed[a].flags), placed[a].flags
        assert f"segment {b}, not {a}" in " ".join(placed[b].flags), placed[b].flags
    takes = [json.loads(p.read_text()) for p in (folder / "clips").glob("*/take-2.json")]
    assert sorted(t["request"]["segment_index"] for t in takes) == sorted(sung)


def test_a_chorus_clip_that_fits_both_repeats_alike_is_refused_naming_them_unless_the_other_has_its_clip(
        work, tmp_path):
    song, folder = work
    reqs = _requests(folder)
    rng = np.random.default_rng(3)
    # the second chorus line, without the tail handle: as long as segment 7 and as long as segment 17's
    # request, and the chorus sounds alike in both places
    first = next(ln for ln in song.lines if ln["text"] == "Hearts like engines in overdrive")
    alike = make_clip(song.audio_path, tmp_path / "alike.mp4", start_s=first["start_s"] - 0.75, dur_s=4.0)
    pack = tmp_path / "a"
    pack.mkdir()
    shutil.copy(alike, pack / alike.name)
    others = {_returned_clip(song, pack, reqs[i], rng)[0].name: i for i in (2, 6, 16)}
    rows = {r.clip.name: r for r in import_clips(folder, [pack])}
    r = rows["alike.mp4"]
    assert not r.ok and r.result.startswith("refused: its sound fits at 23.50 s (segment 7) and 59.50 s (segment 17)")
    assert "a repeated part?" in r.result and r.result.endswith("give --segment N"), r.result
    assert all(rows[n].ok and rows[n].segment == i for n, i in others.items())
    new = [json.loads(p.read_text()) for p in (folder / "clips").glob("*/take-*.json")]
    assert sorted(t["request"]["segment_index"] for t in new if t["take"] > 1) == [2, 6, 16]  # nothing for 7 or 17
    # with segment 17's own clip in the folder, the clip that fitted both is segment 7's
    b = tmp_path / "b"
    b.mkdir()
    shutil.copy(alike, b / alike.name)
    own, start_s = _returned_clip(song, b, reqs[17], rng, end_s=0.05)
    rows = {r.clip.name: r for r in import_clips(folder, [b])}
    assert rows["alike.mp4"].ok and rows["alike.mp4"].segment == 7, rows["alike.mp4"].result
    assert abs(rows["alike.mp4"].offset_s - (first["start_s"] - 0.75)) < FRAME_S
    assert rows[own.name].ok and rows[own.name].segment == 17 and abs(rows[own.name].offset_s - start_s) < FRAME_S


@pytest.mark.parametrize("seg, other", [(3, 4), (8, 12)])  # a verse line heard once; a chorus line heard twice
def test_two_takes_of_one_segment_both_land_on_it(work, tmp_path, seg, other):
    song, folder = work
    reqs = _requests(folder)
    rng = np.random.default_rng(seg)
    pack = tmp_path / "takes"
    pack.mkdir()
    a, a_start = _returned_clip(song, pack, reqs[seg], rng, end_s=0.1)
    b, b_start = _returned_clip(song, pack, reqs[seg], rng, head_cut_s=0.1, end_s=-0.05)
    c, _ = _returned_clip(song, pack, reqs[other], rng)
    rows = {r.clip.name: r for r in import_clips(folder, [pack])}
    assert rows[a.name].segment == rows[b.name].segment == seg and rows[c.name].segment == other
    assert sorted([rows[a.name].take, rows[b.name].take]) == [2, 3] and rows[c.name].take == 2
    assert abs(rows[a.name].offset_s - a_start) < FRAME_S and abs(rows[b.name].offset_s - b_start) < FRAME_S
