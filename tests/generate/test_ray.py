"""The Ray executor on a real local Ray cluster started by the tests (two logical GPUs declared on
this CPU machine so actor scheduling is real), and a two-node cluster on loopback.

The cluster is a Ray of this module's own (``address="local"``): it never joins a Ray another test
started (test_ray_cluster.py's head may be up at the same time on another test process). The
lyrics are timed by the DSP aligner except in the batch that runs every step off the driver (no
test here checks the timing; a Whisper model loaded in each process would be most of the time), and
the tiny video pipeline is built once for the module (the tests only read it)."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.clipcompare import same_pictures  # noqa: E402

from mvtimeline import generate, pipeline  # noqa: E402
from mvtimeline.config import Config  # noqa: E402
from mvtimeline.errors import ClipsMissing  # noqa: E402
from mvtimeline.generate.executors.ray import RayExecutor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import tiny_pipelines  # noqa: E402

pytestmark = [pytest.mark.xdist_group("ray"),
              pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed (make deps)")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def cluster():
    ray.init(address="local", num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def project(short_song, tmp_path_factory):
    from PIL import Image

    d = tmp_path_factory.mktemp("ray")
    song = short_song
    rng = np.random.default_rng(3)
    Image.fromarray((rng.random((90, 160, 3)) * 255).astype(np.uint8)).save(d / "k.png")
    cfg = Config(fps=Fraction(12), width=64, height=48, images=(d / "k.png",), max_segment_s=4.0, aligner="dsp")
    p = pipeline.new_project(song.audio_path, song.lyrics_path, d / "work", cfg)
    a = pipeline.analyze_step(p)
    plan = pipeline.plan_step(p, a, pipeline.align_step(p, a))
    return p, a, plan, song


@pytest.fixture(scope="module")
def wan(tmp_path_factory):
    """The tiny Wan image-to-video pipeline's folder (read only)."""
    return tiny_pipelines.BUILDERS["wan"](tmp_path_factory.mktemp("tiny") / "wan")


def _requests(project, backend):
    p, a, plan, _ = project
    return p.clip_requests(plan, a, backend)


def test_procedural_clips_on_ray_equal_the_local_ones_byte_for_byte(cluster, project, tmp_path):
    backend = generate.get_backend("procedural")
    reqs = _requests(project, backend)
    local = generate.run(reqs, backend=backend, cache_dir=tmp_path / "local")
    ex = RayExecutor(("procedural", {}))
    remote = ex.run(reqs, backend=backend, cache_dir=tmp_path / "ray")
    assert len(local) == len(remote) >= 4
    for a, b in zip(local, remote):
        assert a.key == b.key and same_pictures(a.path, b.path)
        assert b.meta["worker"] and not b.cached
    again = ex.run(reqs, backend=backend, cache_dir=tmp_path / "ray")
    assert all(r.cached for r in again)  # same keys, same cache: nothing made twice


def test_two_gpu_actors_load_their_model_once_and_share_the_clips(cluster, project, wan, tmp_path):
    settings = {"video_model": str(wan), "steps": 1, "guidance": 1.0, "max_frames": 5}
    backend = generate.get_backend("diffusers", **settings)
    reqs = _requests(project, backend)[:4]
    ex = RayExecutor(("diffusers", settings))
    try:
        remote = ex.run(reqs, backend=backend, cache_dir=tmp_path / "ray")
        stats = ex.worker_stats()
    finally:
        ex.close()
    assert len(stats) == 2 and {s["loads"] for s in stats} == {1} and all(s["served"] >= 1 for s in stats)
    assert sum(s["served"] for s in stats) == len(reqs)
    local = generate.run(reqs, backend=backend, cache_dir=tmp_path / "local")
    for a, b in zip(local, remote):
        assert same_pictures(a.path, b.path), a.path  # same seeds, same bytes


def test_keyframe_and_video_models_can_live_on_their_own_gpu_actors(cluster, project, wan, tmp_path):
    """--keyframe-gpus 1 on two GPUs: one actor holds the keyframe model alone and makes every
    keyframe, the other the video model alone and makes every clip from them; the clips are the
    local executor's (which runs both models in one process)."""
    p, a, plan, _ = project
    sd = tiny_pipelines.BUILDERS["sd"](tmp_path / "sd")
    character = tmp_path / "character.png"  # a setting naming a file: it travels by value too
    shutil.copy(p.config.images[0], character)
    settings = {"video_model": str(wan), "keyframe_model": str(sd), "steps": 1, "guidance": 1.0, "max_frames": 5,
                "keyframe_steps": 2, "character": str(character)}
    backend = generate.get_backend("diffusers", **settings)
    reqs = generate.clip_requests(plan, a, Config(fps=Fraction(12), width=64, height=48))[:3]  # no image: keyframes
    ex = RayExecutor(("diffusers", settings), keyframe_gpus=1)
    try:
        remote = ex.run(reqs, backend=backend, cache_dir=tmp_path / "ray")
        stats = ex.worker_stats()
    finally:
        ex.close()
    kf = [s for s in stats if s["keyframe_loaded"]]
    video = [s for s in stats if s["loads"]]
    assert len(stats) == 2 and len(kf) == len(video) == 1 and kf[0]["pid"] != video[0]["pid"]
    assert kf[0]["loads"] == 0 and not video[0]["keyframe_loaded"]  # neither holds the other's model
    assert kf[0]["served"] == video[0]["served"] == len(reqs)
    character.unlink()  # the actors have it; the local run below reads a copy
    shutil.copy(p.config.images[0], character)
    local = generate.run(reqs, backend=backend, cache_dir=tmp_path / "local")
    for x, y in zip(local, remote):
        assert x.key == y.key and y.meta["start_image"] == "keyframe" and same_pictures(x.path, y.path)


def test_a_killed_actor_is_restarted_and_its_clip_still_made(cluster, project, wan, tmp_path):
    settings = {"video_model": str(wan), "steps": 1, "guidance": 1.0, "max_frames": 5}
    backend = generate.get_backend("diffusers", **settings)
    reqs = _requests(project, backend)  # all of them: clips are left for the killed actor's successor
    assert len(reqs) >= 4
    ex = RayExecutor(("diffusers", settings), retries=2)
    ex.start_actors()
    pids = [s["pid"] for s in ex.worker_stats()]
    killed = threading.Event()

    def kill_at_its_first_clip(event):
        """The moment the first actor hands its first clip back (it is given the next one right after,
        on this thread): no clock decides when it dies."""
        if not killed.is_set() and event.worker.endswith(f":{pids[0]}"):
            os.kill(pids[0], signal.SIGKILL)
            killed.set()

    try:
        results = ex.run(reqs, backend=backend, cache_dir=tmp_path / "c", progress=kill_at_its_first_clip)
        after = ex.worker_stats()
    finally:
        ex.close()
    assert killed.is_set() and len(results) == len(reqs)
    assert pids[0] not in {s["pid"] for s in after}  # restarted in a new process, which loaded its model
    assert all(s["loads"] == 1 for s in after)


def test_a_clip_that_always_fails_is_given_up_and_the_rest_are_made(cluster, project, tmp_path, monkeypatch):
    from mvtimeline.generate.executors import ray as ray_executor

    backend = generate.get_backend("procedural")
    reqs = _requests(project, backend)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    import dataclasses

    bad = dataclasses.replace(reqs[1], image=str(broken), image_sha256=None)
    ex = RayExecutor(("procedural", {}), retries=1)
    # the driver's checks would refuse the broken picture before anything is sent: skip them, so
    # the clip fails where it is made (as a worker's broken disk or a model crash would)
    monkeypatch.setattr(ray_executor, "prepare", lambda requests, backend: list(requests))
    with pytest.raises(ClipsMissing) as err:
        ex.run([reqs[0], bad, *reqs[2:]], backend=backend, cache_dir=tmp_path / "c")
    assert [r.segment_index for r, _ in err.value.failed] == [bad.segment_index]
    assert len(err.value.made) == len(reqs) - 1
    assert "segment(s) 02" in str(err.value) or f"{bad.segment_index:02d}" in str(err.value)




def test_with_a_shared_cache_workers_write_the_clips_and_the_driver_moves_them_in(cluster, project, tmp_path):
    backend = generate.get_backend("procedural")
    reqs = _requests(project, backend)[:3]
    shared = tmp_path / "shared"
    shared.mkdir()
    remote = RayExecutor(("procedural", {}), shared_dir=shared).run(reqs, backend=backend, cache_dir=tmp_path / "ray")
    local = generate.run(reqs, backend=backend, cache_dir=tmp_path / "local")
    assert (shared / "incoming").is_dir() and not list((shared / "incoming").iterdir())  # written there, moved in
    for a, b in zip(local, remote):
        assert a.key == b.key and b.path.is_file() and same_pictures(a.path, b.path)


def test_shared_cache_is_checked_before_anything_runs(project, tmp_path, capsys):
    from mvtimeline.cli import main

    _, _, _, song = project
    base = ["run", str(song.audio_path), "--lyrics", str(song.lyrics_path), "-o", str(tmp_path / "w")]
    assert main(base + ["--shared-cache", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == "mvtimeline: error: --shared-cache is for --executor ray"
    assert main(base + ["--executor", "ray", "--shared-cache", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such folder" in err[0] and not (tmp_path / "w").exists()
    assert main(base + ["--keyframe-gpus", "1"]) == 2
    assert capsys.readouterr().err.strip() == "mvtimeline: error: --keyframe-gpus is for --executor ray"


# ----------------------------------------------------------------------------------------- ComfyUI
def _comfy_config(image, servers):
    return Config(fps=Fraction(24), width=160, height=96, images=(image,), backend="comfyui", executor="ray",
                  comfyui={"servers": servers, "workflow": "still-audio"}, aligner="dsp")


def _records(folder):
    import json

    return [json.loads(p.read_text()) for p in sorted((folder / "clips").glob("*/take-1.json"))]


def test_comfyui_servers_are_driven_by_one_ray_actor_each(cluster, project, tmp_path):
    from support.comfy_standin import StandIn, png_bytes

    from mvtimeline.types import Plan

    _, _, _, song = project
    img = tmp_path / "singer.png"
    img.write_bytes(png_bytes(size=(320, 180)))
    with StandIn(tmp_path / "a") as a, StandIn(tmp_path / "b") as b:
        a.delay_s = b.delay_s = 0.3
        res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", _comfy_config(img, [a.url, b.url]))
        records = _records(res.project.folder)
        n = len(Plan.load(res.project.folder / "plan.json").segments)
        assert len(records) == n and len(a.prompts_run) + len(b.prompts_run) == n
        assert len(a.prompts_run) >= 1 and len(b.prompts_run) >= 1
        by_server = {}
        for r in records:
            by_server.setdefault(r["meta"]["server"], set()).add(r["meta"]["worker"])
            assert r["meta"]["frames"] == r["request"]["n_frames"]  # frame exact, as made here
        assert set(by_server) == {a.url, b.url} and all(len(w) == 1 for w in by_server.values())
        assert by_server[a.url] != by_server[b.url]  # one actor per server


def test_a_dead_comfyui_server_s_clips_are_made_by_the_other_actor(cluster, project, tmp_path):
    from support.comfy_standin import StandIn, png_bytes

    _, _, _, song = project
    img = tmp_path / "singer.png"
    img.write_bytes(png_bytes(size=(320, 180)))
    with StandIn(tmp_path / "a") as a, StandIn(tmp_path / "b") as b:
        a.die_on_prompt = True
        res = pipeline.run(song.audio_path, song.lyrics_path, tmp_path / "work", _comfy_config(img, [a.url, b.url]))
        records = _records(res.project.folder)
        assert records and {r["meta"]["server"] for r in records} == {b.url}


def test_ctrl_c_interrupts_our_comfyui_prompts_and_kills_our_actors_not_the_cluster(cluster, project, tmp_path):
    import _thread

    from support.comfy_standin import StandIn, png_bytes

    p, a, plan, _ = project
    img = tmp_path / "singer.png"
    img.write_bytes(png_bytes(size=(320, 180)))
    with StandIn(tmp_path / "a") as srv:
        srv.delay_s = 30.0
        backend = generate.get_backend("comfyui", servers=[srv.url], workflow="still")
        reqs = generate.clip_requests(plan, a, Config(fps=Fraction(24), width=160, height=96, images=(img,)))[:2]
        ex = RayExecutor(("comfyui", {"servers": [srv.url], "workflow": "still"}))

        def ctrl_c_when_running():
            deadline = time.monotonic() + 60
            while not srv.prompts_run and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            _thread.interrupt_main()

        threading.Thread(target=ctrl_c_when_running, daemon=True).start()
        with pytest.raises(KeyboardInterrupt):
            ex.run(reqs, backend=backend, cache_dir=tmp_path / "c")
        deadline = time.monotonic() + 10
        while not srv.interrupted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.interrupted == srv.prompts_run[:1] and len(srv.prompts_run) == 1  # ours, and no more
    assert ex.actors == [] and ray.is_initialized() and ray.cluster_resources().get("GPU") == 2  # cluster up
    assert not list((tmp_path / "c").glob("*/take-1.json"))


# ------------------------------------------------------------------------------------------- batch
def _song_folder(tmp_path, n, *, stills=False):
    from PIL import Image

    from mvtimeline.audio.demo import synthesize

    songs = tmp_path / "songs"
    songs.mkdir()
    for k in range(n):
        s = synthesize(tmp_path / f"s{k}", stanzas=1, intro_bars=1, outro_bars=1, tempo_bpm=100 + 10 * k, seed=k)
        shutil.copy(s.audio_path, songs / f"song{k}.wav")
        shutil.copy(s.lyrics_path, songs / f"song{k}.txt")
        if stills:  # NAME.png beside the song: its still
            rng = np.random.default_rng(k)
            Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8)).save(songs / f"song{k}.png")
    return songs


def test_a_batch_on_the_cluster_analyses_makes_clips_and_renders_off_the_driver(cluster, tmp_path, monkeypatch):
    """Every heavy step of the batch (analysis, alignment, clips, renders) fails if run in this
    process: the batch still finishes, so they ran as Ray tasks in Ray's workers."""
    import av

    from mvtimeline import audio, batch, doctor, lyrics, render
    from mvtimeline.generate.backends.procedural import ProceduralBackend
    from mvtimeline.render import project_frames

    songs = _song_folder(tmp_path, 2)

    def boom(*a, **k):
        raise AssertionError("heavy work in the driver")

    for mod, name in ((audio, "analyze"), (lyrics, "align"), (render, "render"), (ProceduralBackend, "generate")):
        monkeypatch.setattr(mod, name, boom)
    monkeypatch.setattr(doctor, "warm_up", lambda: None)
    cfg = Config(fps=Fraction(12), width=64, height=48, executor="ray")
    outcomes = batch.run_source(songs, tmp_path / "out", config=cfg, preset="preview")
    assert [o.status for o in outcomes] == ["done", "done"], [o.error for o in outcomes]
    for o in outcomes:
        folder = tmp_path / "out" / o.name
        n, fps = project_frames(folder / f"{o.name}.kdenlive")
        with av.open(o.output) as c:
            frames = sum(1 for _ in c.decode(video=0))
        assert frames == n and fps == 12
        assert json_of(folder / "analysis.json")["audio_path"] == str(folder / f"{o.name}.wav")


def json_of(path):
    import json

    return json.loads(Path(path).read_text())


def test_a_batch_s_songs_share_the_gpu_actors(cluster, wan, tmp_path):
    from mvtimeline import batch

    settings = {"video_model": str(wan), "steps": 1, "guidance": 1.0, "max_frames": 5}
    songs = _song_folder(tmp_path, 2, stills=True)
    cfg = Config(fps=Fraction(12), width=64, height=48, executor="ray", backend="diffusers", diffusers=settings,
                 max_segment_s=6.0, aligner="dsp")
    outcomes = batch.run_source(songs, tmp_path / "out", config=cfg, preset="preview")
    assert [o.status for o in outcomes] == ["done", "done"], [o.error for o in outcomes]
    workers = [{r["meta"]["worker"] for r in _records(tmp_path / "out" / o.name)} for o in outcomes]
    assert all(workers) and len(workers[0] | workers[1]) == 2  # two actors (one per GPU) made every song's clips
