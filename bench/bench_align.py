"""Benchmark the aligners and the word-safe planner side by side: Whisper and DSP, and a baseline revision.

Usage: ``python bench/bench_align.py [--aligners whisper,dsp] [--baseline REV] [--no-synth] [--no-dev]
[--no-full] [--dev DIR]``

Songs:
(a) synthesized full songs (:func:`mvtimeline.audio.demo.synthesize`, truth known to the sample): a song
    sung word by word (word truth), a repeated chorus after a 20 s instrumental break, lines sung
    back to back, German, and Mandarin (hanzi lyrics sung from pinyin);
(b) the real dev excerpts (``$MVT_ALIGNMENT_DEV``, default ``../shared/data/alignment-dev``, skipped
    when absent), and (c) its full songs (``full/``).

Every song is run twice per aligner: with the truth's **line times as an LRC** (what a Suno user
has; the planner must cut between words) and as **plain text** (the aligner must find the lines).
Reported per song and aligner: line-start MAE / median / % within 0.3 s and 1 s and word-start MAE /
median (plain text), word-start MAE (LRC, where word truth exists), voice frame accuracy against the
true word spans, % of the plan's cuts (cinematic, max 8 s) inside a true sung word / line, the
longest segment, and time (the alignment alone, as × realtime; analysis + alignment too; the first
song of a run pays the JIT compilation and the model's loading, so it is shown as "cold" and the same
song rerun at the end as "warm"). The even spread of the lines over the song is the naive baseline.

Each aligner (``--aligners``, default ``whisper,dsp``) runs in its own subprocess with the working
tree's package. ``--baseline REV`` also checks REV out into a temporary git worktree and measures
that revision's package (its default aligner), so every column runs on the same machine, songs
and scorer.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from align_eval import (LINE_MARGIN_S, WORD_MARGIN_S, line_spans, plan_cuts, share_inside,  # noqa: E402
                        truth_lrc, truth_text, voice_frame_accuracy, word_spans)

DEV = Path(os.environ.get("MVT_ALIGNMENT_DEV", HERE.parents[1] / "shared/data/alignment-dev"))
GERMAN = """[Strophe]
Die Lichter der Stadt rufen meinen Namen
Jedes Fenster brennt wie eine Flamme
Ich gehe weiter wo der Fluss sich biegt
Ich zähle Sterne bis der Abend endet

[Refrain]
Unter dem Neon werden wir lebendig
Herzen wie Motoren unter Strom
Halt dich fest und lass nie los
Wir tanzen im Abendrot
"""
HANZI = ["我们一起去看海", "海风吹过我的脸", "星星在天上闪烁", "今夜我不想回家",
         "你的笑容像阳光", "照亮我心里的路", "不管明天在哪里", "我都会在你身边"]
PINYIN = ["wo3 men5 yi4 qi3 qu4 kan4 hai3", "hai3 feng1 chui1 guo4 wo3 de5 lian3",
          "xing1 xing1 zai4 tian1 shang4 shan3 shuo4", "jin1 ye4 wo3 bu4 xiang3 hui2 jia1",
          "ni3 de5 xiao4 rong2 xiang4 yang2 guang1", "zhao4 liang4 wo3 xin1 li3 de5 lu4",
          "bu4 guan3 ming2 tian1 zai4 na3 li3", "wo3 dou1 hui4 zai4 ni3 shen1 bian1"]


# --- songs (made once by the driver, measured by every revision) ---------------------------------

def _synth_truth(song) -> dict:
    return {"lines": [{"text": ln["text"], "start": ln["start_s"], "end": ln["end_s"],
                       "words": [{"text": w["text"], "start": w["start_s"], "end": w["end_s"]}
                                 for w in ln.get("words", ())]} for ln in song.lines]}


def make_synth(work: Path) -> list[dict]:
    from mvtimeline.audio.demo import synthesize

    zh = "[Verse]\n" + "\n".join(HANZI[:4]) + "\n\n[Chorus]\n" + "\n".join(HANZI[4:]) + "\n"
    specs = [
        ("synth words 120", {"stanzas": 3, "word_by_word": True}),
        ("synth chorus+break", {"stanzas": 4, "break_bars": {1: 10}}),
        ("synth back to back", {"stanzas": 2, "word_by_word": True, "back_to_back": True, "word_gap_s": 0.2}),
        ("synth de 90", {"tempo_bpm": 90, "voice": "de", "lyrics_text": GERMAN}),
        ("synth zh 100", {"tempo_bpm": 100, "voice": "cmn-latn-pinyin", "lyrics_text": zh,
                          "sung_as": dict(zip(HANZI, PINYIN))}),
    ]
    songs = []
    for name, kw in specs:
        song = synthesize(work / name.replace(" ", "_").replace("+", "_"), intro_bars=2, outro_bars=2, **kw)
        truth = _synth_truth(song)
        songs.append({"name": name, "audio": str(song.audio_path), "truth": truth,
                      "lyrics": str(song.lyrics_path), "has_words": bool(kw.get("word_by_word"))})
    return songs


def dev_songs(dev: Path, full: bool, excerpts: bool) -> list[dict]:
    paths = (sorted(dev.glob("*.json")) if excerpts else []) + (sorted((dev / "full").glob("*.json")) if full else [])
    songs = []
    for gt in paths:
        if gt.with_suffix(".mp3").exists():
            truth = json.loads(gt.read_text(encoding="utf-8"))
            songs.append({"name": gt.stem, "audio": str(gt.with_suffix(".mp3")), "truth": truth,
                          "lyrics": None, "has_words": True})
    return songs


# --- measuring (runs with whichever mvtimeline is importable) ------------------------------------

def _even(lyrics, duration_s: float):
    from mvtimeline.lyrics import place

    step = duration_s / len(lyrics.lines)
    lines = tuple(dataclasses.replace(ln, start_s=k * step, end_s=(k + 1) * step, source="interim", confidence=0.0,
                                      words=tuple(dataclasses.replace(w, start_s=None, end_s=None) for w in ln.words))
                  for k, ln in enumerate(lyrics.lines))
    return place(dataclasses.replace(lyrics, lines=lines), vocal_regions_s=(), duration_s=duration_s)


def _cuts(lyrics, analysis, truth: dict) -> dict:
    cuts = plan_cuts(lyrics, analysis)
    edges = [0.0, *cuts, analysis.duration_s]
    spans_w = word_spans(truth)
    return {"n": len(cuts), "in_words": share_inside(cuts, spans_w, WORD_MARGIN_S) if spans_w else None,
            "in_lines": share_inside(cuts, line_spans(truth), LINE_MARGIN_S),
            "longest_s": max(b - a for a, b in zip(edges, edges[1:]))}


def _line_errors(lyrics, truth: dict) -> dict:
    e = np.abs([ln.start_s - t["start"] for ln, t in zip(lyrics.lines, truth["lines"])])
    return {"mae": float(e.mean()), "med": float(np.median(e)), "p03": 100 * float((e < 0.3).mean()),
            "p1": 100 * float((e < 1.0).mean())}


def _word_errors(lyrics, truth: dict) -> np.ndarray:
    return np.abs([w.start_s - tw["start"] for ln, t in zip(lyrics.lines, truth["lines"])
                   for w, tw in zip(ln.words, t.get("words", ()))
                   if w.start_s is not None and len(ln.words) == len(t["words"])])


def _word_mae(lyrics, truth: dict) -> float | None:
    errs = _word_errors(lyrics, truth)
    return float(np.mean(errs)) if errs.size else None


def _word_med(lyrics, truth: dict) -> float | None:
    errs = _word_errors(lyrics, truth)
    return float(np.median(errs)) if errs.size else None


def measure(songs: list[dict], work: Path, aligner: str | None = None) -> list[dict]:
    from mvtimeline.audio import analyze
    from mvtimeline.lyrics import align, read

    opts = {"aligner": aligner} if aligner else {}  # None: the revision's default (a baseline may know no other)
    out = []
    for i, song in enumerate([*songs, songs[0]]):
        truth, audio, stem = song["truth"], Path(song["audio"]), song["name"].replace(" ", "_").replace("+", "_")
        t0 = time.perf_counter()
        analysis = analyze(audio)
        t_an = time.perf_counter() - t0
        txt = read(Path(song["lyrics"])) if song["lyrics"] else read(truth_text(truth, work / f"{stem}.txt"))
        t0 = time.perf_counter()
        plain = align(txt, audio, analysis, **opts)
        t_al = time.perf_counter() - t0
        speed = {"analysis_s": t_an, "align_s": t_al, "x_realtime": analysis.duration_s / (t_an + t_al),
                 "align_x_realtime": analysis.duration_s / t_al}
        if i == len(songs):
            out[0]["speed_warm"] = speed
            break
        lrc = align(read(truth_lrc(truth, work / f"{stem}.lrc")), audio, analysis, **opts)
        row = {"name": song["name"], "duration_s": analysis.duration_s, "speed": speed,
               "plain": {**_line_errors(plain, truth), "cuts": _cuts(plain, analysis, truth),
                         "conf": statistics.fmean(ln.confidence for ln in plain.lines),
                         "word_mae": _word_mae(plain, truth) if song["has_words"] else None,
                         "word_med": _word_med(plain, truth) if song["has_words"] else None},
               "lrc": {"cuts": _cuts(lrc, analysis, truth),
                       "word_mae": _word_mae(lrc, truth) if song["has_words"] else None,
                       "word_med": _word_med(lrc, truth) if song["has_words"] else None},
               "even": {**_line_errors(_even(txt, analysis.duration_s), truth),
                        "cuts": _cuts(_even(txt, analysis.duration_s), analysis, truth)},
               "voice": voice_frame_accuracy(analysis, truth) if song["has_words"] else None}
        out.append(row)
        print(f"  measured {song['name']} ({analysis.duration_s:.0f} s)", file=sys.stderr, flush=True)
    return out


# --- report ---------------------------------------------------------------------------------------

def _f(x, fmt="6.2f", none="   -  "):
    return none if x is None else format(x, fmt)


def report(results: dict[str, list[dict]]) -> None:
    revs = list(results)
    names = [r["name"] for r in results[revs[0]]]
    print("\nPLAIN TEXT (lines found by the aligner): line-start error (s), word-start error (s), cuts inside "
          "true words / lines, alignment speed")
    print(f"{'song':34} {'rev':9} {'MAE':>6} {'med':>6} {'<0.3':>6} {'<1':>6} {'wMAE':>6} {'wMed':>6} {'inW%':>6} "
          f"{'inL%':>6} {'conf':>5} {'xRT':>6}")
    for k, name in enumerate(names):
        for rev in revs:
            p = results[rev][k]["plain"]
            print(f"{name[:34]:34} {rev[:9]:9} {p['mae']:6.2f} {p['med']:6.2f} {p['p03']:6.1f} {p['p1']:6.1f} "
                  f"{_f(p.get('word_mae'))} {_f(p.get('word_med'))} "
                  f"{_f(p['cuts']['in_words'], '6.1f')} {p['cuts']['in_lines']:6.1f} {p['conf']:5.2f} "
                  f"{_f(results[rev][k]['speed'].get('align_x_realtime'), '6.1f')}")
        e = results[revs[0]][k]["even"]
        print(f"{'':34} {'even':9} {e['mae']:6.2f} {e['med']:6.2f} {e['p03']:6.1f} {e['p1']:6.1f} "
              f"{_f(e['cuts']['in_words'], '6.1f')} {e['cuts']['in_lines']:6.1f}")
    print("\nLRC (true line starts): cuts inside true words / lines, longest segment, word-start MAE; voice frames")
    print(f"{'song':34} {'rev':9} {'cuts':>4} {'inW%':>6} {'inL%':>6} {'long':>5} {'wMAE':>6} {'wMed':>6} {'vAcc':>5} "
          f"{'vRec':>5}")
    for k, name in enumerate(names):
        for rev in revs:
            r = results[rev][k]
            c, v = r["lrc"]["cuts"], r["voice"] or {}
            print(f"{name[:34]:34} {rev[:9]:9} {c['n']:4d} {_f(c['in_words'], '6.1f')} {c['in_lines']:6.1f} "
                  f"{c['longest_s']:5.1f} {_f(r['lrc']['word_mae'])} {_f(r['lrc'].get('word_med'))} "
                  f"{_f(v.get('accuracy'), '5.1f', '  -  ')} "
                  f"{_f(v.get('recall'), '5.1f', '  -  ')}")
    print("\nMEANS over songs")
    for rev in revs:
        rs = results[rev]

        def mean(get):
            vals = [get(r) for r in rs if get(r) is not None]
            return statistics.fmean(vals) if vals else None
        print(f"  {rev[:9]:9} plain MAE {mean(lambda r: r['plain']['mae']):5.2f} <0.3 s {mean(lambda r: r['plain']['p03']):5.1f}% "
              f"<1 s {mean(lambda r: r['plain']['p1']):5.1f}% word med {_f(mean(lambda r: r['plain'].get('word_med')), '5.3f')} "
              f"cuts inW {_f(mean(lambda r: r['plain']['cuts']['in_words']), '4.1f')}% "
              f"inL {mean(lambda r: r['plain']['cuts']['in_lines']):4.1f}% | LRC cuts inW "
              f"{_f(mean(lambda r: r['lrc']['cuts']['in_words']), '4.1f')}% inL {mean(lambda r: r['lrc']['cuts']['in_lines']):4.1f}% "
              f"longest {max(r['lrc']['cuts']['longest_s'] for r in rs):4.1f} s word MAE {_f(mean(lambda r: r['lrc']['word_mae']), '5.3f')} "
              f"| voice acc {_f(mean(lambda r: (r['voice'] or {}).get('accuracy')), '4.1f')}")
        cold, warm = rs[0]["speed"], rs[0].get("speed_warm", rs[0]["speed"])
        total = sum(r["duration_s"] for r in rs[1:]) / sum(r["speed"]["analysis_s"] + r["speed"]["align_s"] for r in rs[1:]) \
            if len(rs) > 1 else warm["x_realtime"]
        print(f"  {'':9} speed: first song cold {cold['x_realtime']:5.1f}x realtime, warm {warm['x_realtime']:5.1f}x; "
              f"the other songs {total:5.1f}x (analysis + plain-text alignment)")


def run_revision(rev: str, songs_json: Path, work: Path) -> list[dict]:  # noqa: D103
    """Measure with the package of git revision ``rev`` (a temporary worktree, a subprocess)."""
    repo = HERE.parent
    wt = work / f"wt-{rev.replace('/', '_')}"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(wt), rev], check=True,
                   capture_output=True)
    try:
        out = work / f"results-{rev.replace('/', '_')}.json"
        env = {**os.environ, "PYTHONPATH": str(wt)}
        subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", str(songs_json), "--json", str(out)],
                       check=True, env=env)
        return json.loads(out.read_text())
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(wt)], check=False,
                       capture_output=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aligners", default="whisper,dsp", help="aligners of the working tree to compare (comma-separated)")
    ap.add_argument("--baseline", metavar="REV", help="git revision to measure side by side (e.g. HEAD~2)")
    ap.add_argument("--aligner", help=argparse.SUPPRESS)  # internal: the aligner of a --measure run
    ap.add_argument("--no-synth", action="store_true")
    ap.add_argument("--no-dev", action="store_true", help="skip the dev excerpts")
    ap.add_argument("--no-full", action="store_true", help="skip the dev set's full songs")
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: songs JSON -> --json results
    ap.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-align-") as tmp:
        work = Path(tmp)
        if args.measure:
            args.json.write_text(json.dumps(measure(json.loads(args.measure.read_text()), work, args.aligner)))
            return 0
        songs = (make_synth(work) if not args.no_synth else []) + \
            (dev_songs(args.dev, full=not args.no_full, excerpts=not args.no_dev) if args.dev.exists() else [])
        if not songs:
            print("no songs to measure", file=sys.stderr)
            return 1
        songs_json = work / "songs.json"
        songs_json.write_text(json.dumps(songs))
        results = {name: run_revision_current(songs_json, work, name) for name in args.aligners.split(",") if name}
        if args.baseline:
            results[args.baseline] = run_revision(args.baseline, songs_json, work)
        report(results)
    return 0


def run_revision_current(songs_json: Path, work: Path, aligner: str) -> list[dict]:
    """Measure ``aligner`` of the working tree's package, in a subprocess like the baseline (same cold start)."""
    out = work / f"results-current-{aligner}.json"
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--measure", str(songs_json), "--json", str(out),
                    "--aligner", aligner], check=True, env=env)
    return json.loads(out.read_text())


if __name__ == "__main__":
    sys.exit(main())
