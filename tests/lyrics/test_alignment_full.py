"""Word-safe cuts, structure-first alignment, vocal stems, Chinese and the alignment picture, on
synthesized songs whose every line and word time is known."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.cli import CliResult, run_cli, run_cli_process

from mvtimeline import plan
from mvtimeline.audio import analyze, check_stem
from mvtimeline.errors import InputError
from mvtimeline.lyrics import align, flagged, read

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed (make deps)")

EDGE_S = 0.02  # a cut this close to a word's edge is outside it


def _lrc(song, path: Path, *, moved: dict[int, float] | None = None) -> Path:
    rows = []
    for k, ln in enumerate(song.lines):
        t = (moved or {}).get(k, ln["start_s"])
        m, s = divmod(t, 60)
        rows.append(f"[{int(m):02d}:{s:05.2f}]{ln['text']}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _words(song) -> list[tuple[float, float]]:
    return [(w["start_s"], w["end_s"]) for ln in song.lines for w in ln["words"]]


def _inside(t: float, spans) -> bool:
    return any(a + EDGE_S < t < b - EDGE_S for a, b in spans)


def _cli(*args) -> CliResult:
    return run_cli(*args)


# ------------------------------------------------------------------------------------------ songs
@pytest.fixture(scope="module")
def b2b(tmp_path_factory):
    """Lines sung back to back, word by word with a breath (0.2 s) between words; with its stem."""
    from mvtimeline.audio.demo import synthesize

    song = synthesize(tmp_path_factory.mktemp("b2b"), stanzas=2, intro_bars=2, outro_bars=2, word_by_word=True,
                      back_to_back=True, word_gap_s=0.2)
    return song, analyze(song.audio_path, vocals=song.vocals_path)


@pytest.fixture(scope="module")
def wordsong(word_song, word_analysis):
    """Lines with rests between them, sung word by word (the truth has every word's time)."""
    return word_song, word_analysis


# ---------------------------------------------------------------------------------------- cutting
def test_lines_sung_back_to_back_longer_than_a_segment_are_cut_in_word_gaps(b2b, tmp_path):
    song, analysis = b2b
    aligned = align(read(_lrc(song, tmp_path / "b2b.lrc")), song.audio_path, analysis)
    longest_line = max(ln["end_s"] - ln["start_s"] for ln in song.lines)
    p = plan.build(aligned, analysis, style="cinematic", max_s=2.5, title="b2b", cut_rule="words")
    assert longest_line > 2.5
    cuts = p.segments[1:]
    assert [c.start_s for c in cuts if _inside(c.start_s, _words(song))] == []
    reasons = {c.cut for c in cuts}
    assert "word gap" in reasons and "forced" not in reasons
    assert all(s.duration_s <= 2.5 + 1e-6 for s in p.segments)


def test_cut_rule_lines_names_the_line_run_it_cannot_cut(b2b, tmp_path):
    song, analysis = b2b
    aligned = align(read(_lrc(song, tmp_path / "b2b.lrc")), song.audio_path, analysis)
    with pytest.raises(InputError, match=r"lines? \d+.*sung back to back.*longest segment \(2\.5 s\)"):
        plan.build(aligned, analysis, style="cinematic", max_s=2.5, title="b2b", cut_rule="lines")
    # with room for a line, "lines" cuts only between lines
    p = plan.build(aligned, analysis, style="cinematic", max_s=8.0, title="b2b", cut_rule="lines")
    reasons = {s.cut for s in p.segments[1:]}
    assert "line gap" in reasons and not reasons & {"word gap", "forced"}
    starts = [ln["start_s"] for ln in song.lines]
    ends = [ln["end_s"] for ln in song.lines]
    assert not any(a + EDGE_S < s.start_s < b - EDGE_S for s in p.segments[1:] for a, b in zip(starts, ends))


def test_truth_timed_lrc_gives_words_within_a_tenth_and_no_cut_inside_a_word(wordsong, tmp_path):
    song, analysis = wordsong
    aligned = align(read(_lrc(song, tmp_path / "w.lrc")), song.audio_path, analysis)
    err = [w.start_s - tw["start_s"] for ln, t in zip(aligned.lines, song.lines) for w, tw in zip(ln.words, t["words"])]
    assert len(err) == sum(len(t["words"]) for t in song.lines)
    assert np.mean(np.abs(err)) <= 0.1
    assert np.percentile(np.abs(err), 90) <= 0.2
    for max_s in (5.0, 6.0, 9.0):  # room between lines (at 4 s the words of 0.08 s gaps must be split)
        p = plan.build(aligned, analysis, style="cinematic", max_s=max_s, title="w")
        assert [s.start_s for s in p.segments[1:] if _inside(s.start_s, _words(song))] == []


def test_cut_rule_beats_cuts_on_beats_inside_lines(wordsong, tmp_path):
    song, analysis = wordsong
    aligned = align(read(_lrc(song, tmp_path / "w.lrc")), song.audio_path, analysis)
    p = plan.build(aligned, analysis, style="cinematic", max_s=2.5, title="w", cut_rule="beats")
    beats = np.asarray(analysis.beat_times_s)
    assert p.cut_rule == "beats"
    on_beat = [s for s in p.segments[1:] if np.min(np.abs(beats - s.start_s)) < 0.03]
    assert len(on_beat) >= 0.8 * (len(p.segments) - 1)


# -------------------------------------------------------------------------------------- structure
def test_a_repeated_chorus_and_a_20_s_break_land_in_place(break_song, break_analysis):
    song, analysis = break_song, break_analysis
    aligned = align(read(song.lyrics_path), song.audio_path, analysis)
    truth = song.lines
    chorus = [k for k, ln in enumerate(truth) if ln["section"] == "Chorus"]
    assert len(chorus) == 8
    for k in chorus:
        assert abs(aligned.lines[k].start_s - truth[k]["start_s"]) <= 1.0, truth[k]["text"]
    first_chorus_end = truth[chorus[3]]["end_s"]
    verse2_start = truth[chorus[3] + 1]["start_s"]
    assert verse2_start - first_chorus_end > 20
    for ln in aligned.lines:  # nothing sits over the break
        assert ln.end_s <= first_chorus_end + 1.0 or ln.start_s >= verse2_start - 1.0, ln.text


def test_mandarin_written_in_hanzi_aligns_on_a_song_sung_from_pinyin(tmp_path):
    from mvtimeline.audio.demo import synthesize
    from mvtimeline.lyrics.align.tts import guess_voice

    hanzi = ["我们一起去看海", "海风吹过我的脸", "星星在天上闪烁", "今夜我不想回家",
             "你的笑容像阳光", "照亮我心里的路", "不管明天在哪里", "我都会在你身边"]
    # sung from pinyin written out by hand (not from the aligner's own conversion)
    pinyin = ["wo3 men5 yi4 qi3 qu4 kan4 hai3", "hai3 feng1 chui1 guo4 wo3 de5 lian3",
              "xing1 xing1 zai4 tian1 shang4 shan3 shuo4", "jin1 ye4 wo3 bu4 xiang3 hui2 jia1",
              "ni3 de5 xiao4 rong2 xiang4 yang2 guang1", "zhao4 liang4 wo3 xin1 li3 de5 lu4",
              "bu4 guan3 ming2 tian1 zai4 na3 li3", "wo3 dou1 hui4 zai4 ni3 shen1 bian1"]
    text = "[Verse]\n" + "\n".join(hanzi[:4]) + "\n\n[Chorus]\n" + "\n".join(hanzi[4:]) + "\n"
    song = synthesize(tmp_path, lyrics_text=text, voice="cmn-latn-pinyin", sung_as=dict(zip(hanzi, pinyin)),
                      intro_bars=2, outro_bars=2)
    assert guess_voice(hanzi) == "cmn"
    aligned = align(read(song.lyrics_path), song.audio_path, analyze(song.audio_path))
    err = [ln.start_s - t["start_s"] for ln, t in zip(aligned.lines, song.lines)]
    assert max(abs(e) for e in err) <= 0.3, np.round(err, 2)


def test_lines_placed_over_an_instrumental_are_flagged(wordsong, tmp_path):
    song, analysis = wordsong
    # the last line said to start in the outro, where only the band plays
    last = len(song.lines) - 1
    lrc = _lrc(song, tmp_path / "moved.lrc", moved={last: song.duration_s - 2.0})
    aligned = align(read(lrc), song.audio_path, analysis)
    assert "over instrumental" in aligned.lines[last].flags
    assert not any("over instrumental" in ln.flags for ln in aligned.lines[:last])
    out = tmp_path / "aligned.json"
    proc = _cli("align", song.audio_path, lrc, "-o", out)
    assert proc.returncode == 0, proc.stderr
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert "over instrumental" in saved["lines"][last]["flags"]
    assert "1 line over instrumental" in proc.stdout
    assert flagged(read(out)) == {"over instrumental": [last + 1]}


# ------------------------------------------------------------------------------------ vocal stems
def test_a_stem_of_another_length_or_rate_is_refused_before_any_work(b2b, tmp_path):
    import soundfile as sf

    song, _ = b2b
    y, sr = sf.read(str(song.vocals_path))
    short = tmp_path / "short.wav"
    sf.write(str(short), y[: len(y) - sr], sr)
    with pytest.raises(InputError, match="lasts .* the song"):
        check_stem(short, song.audio_path)
    other_rate = tmp_path / "rate.wav"
    sf.write(str(other_rate), y[::2], sr // 2)
    with pytest.raises(InputError, match="Hz"):
        check_stem(other_rate, song.audio_path)
    assert check_stem(song.vocals_path, song.audio_path) == song.vocals_path
    proc = _cli("run", song.audio_path, "--lyrics", song.lyrics_path, "--vocals", short, "-o", tmp_path / "w")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "w").exists()


def test_a_stem_replaces_the_voice_foreground(b2b):
    song, with_stem = b2b
    mix_only = analyze(song.audio_path)
    assert with_stem.vocals_path == str(Path(song.vocals_path).resolve()) and mix_only.vocals_path == ""

    def accuracy(a) -> float:
        from mvtimeline.audio import voice_threshold

        va = np.asarray(a.vocal_activity)
        t = np.arange(va.size) * a.hop_s
        sung = np.zeros(va.size, bool)
        for s, e in _words(song):
            sung[(t >= s) & (t < e)] = True
        sel = (t >= song.lines[0]["start_s"]) & (t < song.lines[-1]["end_s"])
        return float(((va >= voice_threshold(va)) == sung)[sel].mean())

    assert accuracy(with_stem) > accuracy(mix_only) + 0.05


def _tiny_demucs(folder: Path) -> Path:
    torch = pytest.importorskip("torch")
    pytest.importorskip("demucs")
    from demucs.hdemucs import HDemucs
    from demucs.states import get_state

    torch.manual_seed(0)
    model = HDemucs(sources=["drums", "bass", "other", "vocals"], channels=4)  # Demucs' own test size
    args, kwargs = model._init_args_kwargs
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"klass": HDemucs, "args": args, "kwargs": kwargs, "state": get_state(model, None)}, folder / "tiny.th")
    return folder


def test_separate_makes_a_stem_with_a_demucs_model_from_a_folder(short_song, tmp_path):
    import soundfile as sf

    repo = _tiny_demucs(tmp_path / "models")
    out = tmp_path / "aligned.json"
    proc = _cli("align", short_song.audio_path, short_song.lyrics_path, "-o", out, "--separate", "--separate-model",
                "tiny", "--separate-repo", repo)
    assert proc.returncode == 0, proc.stderr
    stem = tmp_path / "aligned.vocals.wav"
    song_info, stem_info = sf.info(str(short_song.audio_path)), sf.info(str(stem))
    assert stem_info.samplerate == song_info.samplerate and stem_info.frames == song_info.frames
    assert len(read(out).lines) == len(short_song.lines)
    # a work folder keeps the stem it made and names it in project.json
    proc = _cli("-q", "run", short_song.audio_path, "--lyrics", short_song.lyrics_path, "-o", tmp_path / "w",
                "--separate", "--separate-model", "tiny", "--separate-repo", repo, "--size", "64x48", "--fps", "12",
                "--force")  # the tiny model's weights are random: its "vocals" are noise nobody sings in
    assert proc.returncode == 0, proc.stderr
    project = json.loads((tmp_path / "w" / "project.json").read_text(encoding="utf-8"))
    assert project["vocals"] == "stems/vocals.wav" and (tmp_path / "w" / "stems" / "vocals.wav").is_file()
    analysis = json.loads((tmp_path / "w" / "analysis.json").read_text(encoding="utf-8"))
    assert analysis["vocals_path"].endswith("stems/vocals.wav")


def test_separate_downloads_nothing_unless_allowed(demo_song, tmp_path, monkeypatch):
    pytest.importorskip("demucs")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    proc = run_cli_process("align", demo_song.audio_path, demo_song.lyrics_path, "-o", tmp_path / "a.json",
                           "--separate")  # a new process: huggingface_hub reads HF_HUB_OFFLINE when imported
    assert proc.returncode == 2, proc.stderr
    assert "--allow-download" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a.json").exists()


# ---------------------------------------------------------------------------------------- picture
def test_the_alignment_plot_draws_each_cut_where_it_is(wordsong, tmp_path):
    from PIL import Image

    from mvtimeline.outputs import alignplot

    song, analysis = wordsong
    out = tmp_path / "align.png"
    proc = _cli("align", song.audio_path, _lrc(song, tmp_path / "w.lrc"), "-o", tmp_path / "w.json", "--plot", out,
                "--max-segment", "6")
    assert proc.returncode == 0, proc.stderr
    img = Image.open(out).convert("RGB")
    aligned = read(tmp_path / "w.json")
    p = plan.build(aligned, analysis, style="cinematic", max_s=6.0, clip_s=5.0, title="w")  # the procedural's clip
    assert img.size[0] == alignplot.WIDTH
    arr = np.asarray(img)
    span = alignplot.WIDTH - alignplot.MARGIN_L - alignplot.MARGIN_R
    for seg in p.segments[1:]:
        row = int(seg.start_s // alignplot.ROW_S)
        x = int(round(alignplot.MARGIN_L + (seg.start_s - row * alignplot.ROW_S) / alignplot.ROW_S * span))
        y = alignplot.HEADER_H + row * alignplot.ROW_H + alignplot.ROW_H - 30  # between lines and axis
        colour = np.array(alignplot.cut_colour(seg.cut))
        near = arr[y, max(0, x - 2): x + 3].astype(int)
        assert (np.abs(near - colour).sum(axis=1) < 30).any(), (seg.start_s, seg.cut)
    bad = tmp_path / "align.jpg"
    proc = _cli("align", song.audio_path, _lrc(song, tmp_path / "w.lrc"), "-o", tmp_path / "w2.json", "--plot", bad)
    assert proc.returncode == 2 and "png" in proc.stderr.lower()
