"""The ComfyUI backend against a stand-in server that speaks ComfyUI's protocol and really runs the
weights-free nodes (tests/comfy_standin.py), and, opt-in, against a real ComfyUI (MVT_COMFYUI_DIR)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from support.comfy_standin import StandIn, png_bytes, renumbered
from support.net import free_port
from support.probe import has_audio
from mvtimeline import pipeline
from mvtimeline.config import Config
from mvtimeline.errors import InputError
from mvtimeline.generate.backends.comfyui.workflow import load_workflow
from mvtimeline.generate.grid import FrameGrid
from mvtimeline.media import probe_video
from mvtimeline.types import Plan

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng") or not shutil.which("ffmpeg"),
                                reason="espeak-ng and ffmpeg are needed (make deps)")

BUNDLED = Path(__file__).resolve().parents[2] / "mvtimeline" / "templates" / "comfyui"


@pytest.fixture(scope="module")
def song(short_song):
    return short_song


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("comfy-img") / "singer.png"
    p.write_bytes(png_bytes(size=(320, 180)))
    return p


@pytest.fixture()
def server(tmp_path):
    with StandIn(tmp_path / "server-a") as s:
        yield s


def _config(image: Path, servers: list[str], workflow: str = "still-audio", fps: int = 24, **extra) -> Config:
    return Config(fps=Fraction(fps), width=160, height=96, images=(image,), backend="comfyui",
                  comfyui={"servers": servers, "workflow": workflow, **extra})


def _clip_records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((folder / "clips").glob("*/take-1.json"))]


# ------------------------------------------------------------------------------------------ workflows
def test_frame_grids():
    assert FrameGrid.parse("4k+1").at_least(74) == 77
    assert FrameGrid.parse("5+17k").at_least(124) == 124 and FrameGrid.parse("5+17k").at_least(125) == 141
    assert FrameGrid.parse("8k+1").at_least(1) == 1 and FrameGrid.parse("k").at_least(13) == 13
    with pytest.raises(InputError, match="write it like 4k\\+1"):
        FrameGrid.parse("four")


def test_bundled_workflows_bind_by_title_not_id(tmp_path):
    wf = load_workflow("still-audio")
    assert wf.needs_audio and wf.needs_image and wf.binding.grid == FrameGrid(4, 1)
    graph = renumbered(json.loads((BUNDLED / "still-audio.json").read_text()))
    (tmp_path / "mine.json").write_text(json.dumps(graph))
    shutil.copy(BUNDLED / "still-audio.toml", tmp_path / "mine.toml")
    moved = load_workflow(tmp_path / "mine.json")
    for role, targets in wf.binding.targets.items():
        assert [(graph[n]["class_type"], i) for n, i in moved.binding.targets[role]] == \
               [(wf.graph[n]["class_type"], i) for n, i in targets]
    assert all(int(n) >= 100 for n, _ in moved.binding.targets["audio"])


def test_title_conventions_bind_without_a_toml(tmp_path):
    graph = json.loads((BUNDLED / "still.json").read_text())
    graph["1"]["_meta"]["title"] = "mvt:image"
    graph["3"]["_meta"]["title"] = "mvt:frames"
    graph["2"]["_meta"]["title"] = "mvt:width mvt:height"
    (tmp_path / "titled.json").write_text(json.dumps(graph))
    wf = load_workflow(tmp_path / "titled.json")
    assert wf.binding.targets == {"image": (("1", "image"),), "frames": (("3", "amount"),),
                                  "width": (("2", "width"),), "height": (("2", "height"),)}
    assert wf.binding.outputs == ("5",)


@pytest.mark.parametrize("change, message", [
    (lambda g, t: t.replace('audio = "Segment audio.audio"', 'audio = "Voice.audio"'),
     "no node titled or of class 'Voice'"),
    (lambda g, t: t.replace('width = "Scale.width"', 'width = "ImageScale.size"'), "has no input 'size'"),
])
def test_a_binding_to_a_missing_node_is_refused_naming_it(tmp_path, change, message):
    graph = json.loads((BUNDLED / "still-audio.json").read_text())
    (tmp_path / "w.json").write_text(json.dumps(graph))
    (tmp_path / "w.toml").write_text(change(graph, (BUNDLED / "still-audio.toml").read_text()))
    with pytest.raises(InputError, match=message):
        load_workflow(tmp_path / "w.json")


def test_an_ambiguous_binding_and_the_ui_format_are_refused(tmp_path):
    graph = json.loads((BUNDLED / "still.json").read_text())
    graph["9"] = json.loads(json.dumps(graph["2"]))
    graph["9"]["_meta"]["title"] = "Scale 2"
    (tmp_path / "w.json").write_text(json.dumps(graph))
    (tmp_path / "w.toml").write_text((BUNDLED / "still.toml").read_text().replace('"Scale.width"', '"ImageScale.width"'))
    with pytest.raises(InputError, match=r"2 nodes match 'ImageScale' \(ids 2, 9\)"):
        load_workflow(tmp_path / "w.json")
    (tmp_path / "ui.json").write_text(json.dumps({"nodes": [], "links": [], "version": 0.4}))
    with pytest.raises(InputError, match="Export \\(API\\)"):
        load_workflow(tmp_path / "ui.json")


# --------------------------------------------------------------------------------------- end to end
def _stem_lengths_match(folder: Path, records: list[dict], fps_native: Fraction) -> None:
    for r in records:
        wav = Path(r["meta"]["audio"])
        assert wav.parent == folder / "stems"
        n, rate = sf.info(str(wav)).frames, sf.info(str(wav)).samplerate
        assert n == round(Fraction(r["meta"]["native_frames"]) / fps_native * rate), r["request"]["segment_index"]


def test_still_audio_run_is_frame_exact_and_the_song_is_the_only_audio(song, image, server, tmp_path):
    res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", _config(image, [server.url]))
    folder = res.project.folder
    plan = Plan.load(folder / "plan.json")
    records = _clip_records(folder)
    assert len(records) == len(plan.segments) == len(server.prompts_run)
    for r in records:
        req = r["request"]
        native = r["meta"]["native_frames"]
        assert (native - 1) % 4 == 0  # the 4k+1 grid
        assert Fraction(native, 16) >= Fraction(req["n_frames"]) / Fraction(req["fps"])  # never short
        clip = folder / "clips" / r["key"] / "take-1.mp4"
        info = probe_video(clip)
        assert info["frames"] == req["n_frames"] and (info["width"], info["height"]) == (160, 96)
        assert not has_audio(clip)  # the server's clip carried the stem: dropped
    _stem_lengths_match(folder, records, Fraction(16))
    # every segment of the plan sits on the timeline at its frame, the song alone on the audio track
    import opentimelineio as otio

    tl = otio.adapters.read_from_file(str(folder / "demo.otio"))
    video = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video][0]
    audio = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Audio]
    assert len(audio) == 1 and len(list(audio[0].find_clips())) == 1
    starts = [c.range_in_parent().start_time.to_frames() for c in video.find_clips()]
    assert starts == [round(s.start_s * 24) for s in plan.segments]


def test_instrumental_segments_get_silence_and_a_not_singing_prompt(song, image, server, tmp_path):
    res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", _config(image, [server.url]))
    plan = Plan.load(res.project.folder / "plan.json")
    by_seg = {r["request"]["segment_index"]: r for r in _clip_records(res.project.folder)}
    sung = [s for s in plan.segments if s.lines]
    quiet = [s for s in plan.segments if not s.lines]
    assert sung and quiet
    for s in quiet:
        y, _ = sf.read(by_seg[s.index]["meta"]["audio"])
        assert np.abs(y).max() == 0
    for s in sung:
        y, _ = sf.read(by_seg[s.index]["meta"]["audio"])
        assert np.sqrt(np.mean(y ** 2)) > 0.01
    # the graphs as the server got them: the uploaded names, and no prompt role in this workflow
    assert all(g[next(k for k in g if g[k]["class_type"] == "LoadAudio")]["inputs"]["audio"] in server.uploads
               for g in server.graphs)


def test_grid_5_plus_17k_at_24_fps_keeps_audio_as_long_as_video(song, image, server, tmp_path):
    graph = json.loads((BUNDLED / "still-audio.json").read_text())
    graph["4"]["inputs"]["fps"] = 24
    (tmp_path / "h3.json").write_text(json.dumps(graph))
    (tmp_path / "h3.toml").write_text((BUNDLED / "still-audio.toml").read_text()
                                      .replace("fps = 16", "fps = 24").replace('frames = "4k+1"', 'frames = "5+17k"')
                                      .replace("max_frames = 129", "max_frames = 362"))
    res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work",
                       _config(image, [server.url], workflow=str(tmp_path / "h3.json"), fps=25))
    records = _clip_records(res.project.folder)
    assert records and all((r["meta"]["native_frames"] - 5) % 17 == 0 for r in records)
    _stem_lengths_match(res.project.folder, records, Fraction(24))
    for r in records:
        clip = res.project.folder / "clips" / r["key"] / "take-1.mp4"
        assert probe_video(clip)["frames"] == r["request"]["n_frames"]


def test_a_keyframe_workflow_makes_the_image_when_there_is_none(song, server, tmp_path):
    (tmp_path / "kf.json").write_text(json.dumps({
        "1": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x3366cc},
              "_meta": {"title": "mvt:width mvt:height"}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "kf"}, "_meta": {"title": "Save"}}}))
    (tmp_path / "kf.toml").write_text('[model]\nkind = "image"\nmax_frames = 1\nmultiple = 8\n')
    cfg = Config(fps=Fraction(24), width=160, height=96, backend="comfyui",
                 comfyui={"servers": [server.url], "workflow": "still", "keyframe_workflow": str(tmp_path / "kf.json")})
    res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", cfg)
    records = _clip_records(res.project.folder)
    assert records and len(server.prompts_run) == 2 * len(records)
    assert [g[next(iter(g))]["class_type"] for g in server.graphs[::2]] == ["EmptyImage"] * len(records)
    assert all(g["1"]["inputs"]["width"] == 160 and g["1"]["inputs"]["height"] == 96 for g in server.graphs[::2])
    from mvtimeline.media import frame_at

    for r in records:
        assert r["meta"]["keyframe_workflow"] == "kf"
        mid = frame_at(res.project.folder / "clips" / r["key"] / "take-1.mp4", 0.5, fps=Fraction(24))
        assert abs(mid[..., 2].mean() - 0xcc) < 12 and abs(mid[..., 0].mean() - 0x33) < 12  # the keyframe's colour


def test_two_servers_share_the_work(song, image, tmp_path):
    with StandIn(tmp_path / "a") as a, StandIn(tmp_path / "b") as b:
        a.delay_s = b.delay_s = 0.3
        res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", _config(image, [a.url, b.url]))
        n = len(Plan.load(res.project.folder / "plan.json").segments)
        assert len(a.prompts_run) + len(b.prompts_run) == n
        assert len(a.prompts_run) >= 2 and len(b.prompts_run) >= 2
        servers = {r["meta"]["server"] for r in _clip_records(res.project.folder)}
        assert servers == {a.url, b.url}


@pytest.mark.parametrize("fault", ["die_on_prompt", "drop_socket"])
def test_a_failing_server_s_clips_finish_on_the_other(song, image, tmp_path, fault):
    with StandIn(tmp_path / "a") as a, StandIn(tmp_path / "b") as b:
        setattr(a, fault, True)
        res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work",
                           _config(image, [a.url, b.url], retries=1))
        records = _clip_records(res.project.folder)
        assert len(records) == len(Plan.load(res.project.folder / "plan.json").segments)
        assert {r["meta"]["server"] for r in records} == {b.url}


def test_a_failed_clip_is_dead_lettered_and_a_rerun_makes_only_it(song, image, server, tmp_path, capsys):
    from mvtimeline.cli import main

    server.fail_prompts = {2}  # the second prompt: segment 02's clip
    args = ["-q", "run", str(song.audio_path), "--lyrics", str(song.lyrics_path), "-o", str(tmp_path / "work"),
            "--backend", "comfyui", "--comfyui", server.url, "--workflow", "still-audio", "--image", str(image),
            "--fps", "24", "--size", "160x96"]
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "could not be made: segment(s) 02;" in err[0] and "node 1 (LoadImage) failed: LoadImage failed on purpose" in err[0]
    assert "run the same command again" in err[0]
    n = len(Plan.load(tmp_path / "work" / "plan.json").segments)
    assert len(_clip_records(tmp_path / "work")) == n  # every other clip, and a placeholder for 02
    placeholders = [r for r in _clip_records(tmp_path / "work") if r["backend"]["name"] == "procedural"]
    assert [r["request"]["segment_index"] for r in placeholders] == [2]
    assert "placeholders" in err[0]
    from mvtimeline.timeline.kdenlive.read import read_summary

    summary = read_summary(tmp_path / "work" / "demo.kdenlive")
    video = [c for c in summary.clips if not c.resource.endswith(".wav")]
    assert len(video) == n  # no hole: the placeholder stands in for segment 02
    assert any(r["key"] in c.resource for c in video for r in placeholders)
    server.fail_prompts = set()
    before = len(server.prompts_run)
    assert main(args) == 0
    assert len(server.prompts_run) - before == 1  # only the missing clip
    assert len([r for r in _clip_records(tmp_path / "work") if r["backend"]["name"] == "comfyui"]) == n


def test_an_interrupted_run_resumes_with_only_the_missing_clips(song, image, server, tmp_path):
    def stop_at_third(event) -> None:
        if event.stage == "clip" and event.item.startswith("segment 03") and event.done >= event.total:
            raise KeyboardInterrupt

    cfg = _config(image, [server.url])
    with pytest.raises(KeyboardInterrupt):
        pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", cfg, progress=stop_at_third)
    made = len(_clip_records(tmp_path / "work"))
    assert made == 2  # the clip being made when Ctrl-C came is not kept half-made
    assert not list((tmp_path / "work" / "clips").glob("*/*.tmp*"))
    before = len(server.prompts_run)
    res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", cfg)
    n = len(res.plan.segments)
    assert len(server.prompts_run) - before == n - made
    assert len(_clip_records(tmp_path / "work")) == n


# ------------------------------------------------------------------------- servers down, user's side
def _run_args(song, image, out: Path, *urls: str, quiet: bool = True) -> list[str]:
    """``mvtimeline [-q] run`` as the user types it."""
    servers = [a for u in urls for a in ("--comfyui", u)]
    return ["-q"] * quiet + ["run", str(song.audio_path), "--lyrics", str(song.lyrics_path), "-o", str(out), "--backend",
            "comfyui", *servers, "--workflow", "still-audio", "--image", str(image), "--fps", "24", "--size", "160x96"]


def _lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


@pytest.fixture()
def wide_terminal(monkeypatch):
    """A 200-column terminal: log lines wrap at the terminal's width (80 when it is not one)."""
    import mvtimeline.cli

    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setattr(mvtimeline.cli, "_STDERR", None)  # the stderr console, made again at that width


def test_a_dead_server_is_one_line_before_the_song_is_analysed(song, image, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run([sys.executable, "-m", "mvtimeline.cli", *_run_args(song, image, tmp_path / "w", url)],
                          capture_output=True, text=True, timeout=600)  # its own process: its real stderr
    err = _lines(proc.stderr)
    assert proc.returncode == 1 and len(err) == 1, proc.stderr
    assert err[0] == f"mvtimeline: error: ComfyUI {url}: connection refused; start it or give another --comfyui"
    assert not (tmp_path / "w" / "analysis.json").exists()  # refused before the song was analysed


def test_a_dead_server_among_live_ones_is_one_warning_and_left_out(song, image, server, tmp_path, capsys,
                                                                   wide_terminal):
    from mvtimeline.cli import main

    dead = f"http://127.0.0.1:{free_port()}"
    assert main(_run_args(song, image, tmp_path / "w", dead, server.url, quiet=False)) == 0  # -q: no warnings
    err = _lines(capsys.readouterr().err)
    logged = [ln for ln in err if ln.startswith(("WARNING", "ERROR"))]  # the rest: the progress bars' last state
    assert logged == [f"WARNING mvtimeline.generate.backends.comfyui.backend: ComfyUI {dead}: connection refused; going on with "
                      f"{server.url}"], err
    records = _clip_records(tmp_path / "w")
    assert len(records) == len(Plan.load(tmp_path / "w" / "plan.json").segments)
    assert {r["meta"]["server"] for r in records} == {server.url}


def test_a_server_that_dies_mid_run_stops_the_run_in_one_line_and_a_rerun_makes_the_rest(song, image, server,
                                                                                            tmp_path, capsys,
                                                                                            wide_terminal):
    from mvtimeline.cli import main

    server.die_after = 2  # two clips made; the third prompt kills it
    args = _run_args(song, image, tmp_path / "w", server.url)
    assert main(args) == 1
    err = _lines(capsys.readouterr().err)
    n = len(Plan.load(tmp_path / "w" / "plan.json").segments)
    assert n >= 4 and len(err) == 1, err
    assert err[0] == (f"mvtimeline: error: ComfyUI {server.url}: connection refused — {n - 2} of {n} clips not made; "
                      "run again when it is back; the project shows placeholders (procedural clips) for them")
    assert len(server.prompts_run) == 3  # no clip after the one in flight was even started
    records = _clip_records(tmp_path / "w")
    made = [r for r in records if r["backend"]["name"] == "comfyui"]
    assert len(made) == 2 and len(records) == n  # the rest: placeholders
    from mvtimeline.timeline.kdenlive.read import read_summary

    video = [c for c in read_summary(tmp_path / "w" / "demo.kdenlive").clips if not c.resource.endswith(".wav")]
    assert len(video) == n  # the project is written, every segment on it
    server.restart()  # back, on the same port
    before = len(server.prompts_run)
    assert main(args) == 0
    assert not _lines(capsys.readouterr().err)
    assert len(server.prompts_run) - before == n - 2  # only the missing clips
    assert len([r for r in _clip_records(tmp_path / "w") if r["backend"]["name"] == "comfyui"]) == n


def test_bad_workflow_is_refused_before_the_analysis(song, image, tmp_path, capsys):
    from mvtimeline.cli import main

    (tmp_path / "w.json").write_text(json.dumps({"nodes": [], "links": []}))
    rc = main(["run", str(song.audio_path), "--lyrics", str(song.lyrics_path), "-o", str(tmp_path / "w"),
               "--backend", "comfyui", "--comfyui", "http://127.0.0.1:9", "--workflow", str(tmp_path / "w.json")])
    assert rc == 2
    assert "Export (API)" in capsys.readouterr().err
    assert not (tmp_path / "w" / "analysis.json").exists()  # refused before the song was analysed
    rc = main(["run", str(song.audio_path), "--lyrics", str(song.lyrics_path), "-o", str(tmp_path / "w2"),
               "--workflow", "still"])
    assert rc == 2 and "add --backend comfyui" in capsys.readouterr().err


def test_doctor_reports_the_server_and_what_each_workflow_lacks(server, tmp_path, capsys):
    from mvtimeline.cli import main

    assert main(["doctor", "--comfyui", server.url, "--workflow", "still", "--workflow", "still-audio"]) == 0
    out = capsys.readouterr().out
    assert "ComfyUI 0.3.64-standin" in out and "workflow still " in out and "workflow still-audio" in out
    graph = json.loads((BUNDLED / "still.json").read_text())
    graph["2"]["class_type"] = "WanImageToVideo"
    (tmp_path / "wan.json").write_text(json.dumps(graph))
    assert main(["doctor", "--comfyui", server.url, "--workflow", str(tmp_path / "wan.json")]) == 1
    assert "node classes missing on the server: WanImageToVideo" in capsys.readouterr().out


def test_cancel_interrupts_only_our_running_prompt(song, image, server, tmp_path):
    import threading

    from mvtimeline import generate
    from mvtimeline.audio import analyze
    from mvtimeline.generate.backends.comfyui.backend import ComfyUIBackend
    from mvtimeline.lyrics import align, read
    from mvtimeline import plan as planner

    analysis = analyze(song.audio_path)
    p = planner.build(align(read(song.lyrics_path), song.audio_path, analysis), analysis, style="cinematic",
                      max_s=6.0, title="t")
    reqs = generate.clip_requests(p, analysis, Config(fps=Fraction(24), width=160, height=96, images=(image,)))[:1]
    backend = ComfyUIBackend(servers=[server.url], workflow="still")
    server.delay_s = 3.0
    t = threading.Thread(target=generate.run, args=(reqs,), kwargs={"backend": backend, "cache_dir": tmp_path / "c"})
    t.start()
    deadline = time.monotonic() + 20
    while not backend.running and time.monotonic() < deadline:
        time.sleep(0.05)
    backend.cancel()
    t.join(30)
    assert server.interrupted == server.prompts_run[:1] and len(server.prompts_run) == 1


# ------------------------------------------------------------------------------------- real ComfyUI
@pytest.mark.skipif(not os.environ.get("MVT_COMFYUI_DIR"), reason="set MVT_COMFYUI_DIR to a ComfyUI checkout")
def test_real_comfyui_runs_the_weights_free_workflow(song, image, tmp_path):
    """Starts ``main.py --cpu`` of the checkout in MVT_COMFYUI_DIR (its own .venv if it has one)."""
    root = Path(os.environ["MVT_COMFYUI_DIR"])
    python = root / ".venv" / "bin" / "python"
    port = free_port()
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    proc = subprocess.Popen([str(python if python.exists() else sys.executable), "main.py", "--cpu", "--listen",
                             "127.0.0.1", "--port", str(port), "--disable-auto-launch",
                             "--output-directory", str(tmp_path / "out"), "--input-directory", str(tmp_path / "in")],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import urllib.request

        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/system_stats", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("ComfyUI did not start")
                time.sleep(1)
        info = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/object_info/LoadAudio").read())
        workflow = "still-audio" if info else "still"
        res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work",
                           _config(image, [f"http://127.0.0.1:{port}"], workflow=workflow))
        records = _clip_records(res.project.folder)
        assert len(records) == len(Plan.load(res.project.folder / "plan.json").segments)
        for r in records:
            clip = res.project.folder / "clips" / r["key"] / "take-1.mp4"
            assert probe_video(clip)["frames"] == r["request"]["n_frames"] and not has_audio(clip)
        if workflow == "still-audio":
            _stem_lengths_match(res.project.folder, records, Fraction(16))
        print(f"real ComfyUI: workflow {workflow}, {len(records)} clips, frames exact, stems on the grid")
    finally:
        proc.terminate()
        proc.wait(30)
