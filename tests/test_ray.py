"""The Ray executor on a real local Ray cluster started by the tests (two logical GPUs declared on
this CPU machine so actor scheduling is real), and a two-node cluster on loopback."""

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

sys.path.insert(0, str(Path(__file__).parent))
from clipcompare import same_pictures  # noqa: E402

from mvtimeline import generate, pipeline  # noqa: E402
from mvtimeline.config import Config  # noqa: E402
from mvtimeline.errors import ClipsMissing  # noqa: E402
from mvtimeline.generate.executor import RayExecutor  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
import tiny_pipelines  # noqa: E402

pytestmark = [pytest.mark.xdist_group("ray"),
              pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed (make deps)")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from PIL import Image

    from mvtimeline.demo import synthesize

    d = tmp_path_factory.mktemp("ray")
    song = synthesize(d / "song", stanzas=1, intro_bars=1, outro_bars=1)
    rng = np.random.default_rng(3)
    Image.fromarray((rng.random((90, 160, 3)) * 255).astype(np.uint8)).save(d / "k.png")
    cfg = Config(fps=Fraction(12), width=64, height=48, images=(d / "k.png",), max_segment_s=4.0)
    p = pipeline.new_project(song.audio_path, song.lyrics_path, d / "work", cfg)
    a = pipeline.analyze_step(p)
    plan = pipeline.plan_step(p, a, pipeline.align_step(p, a))
    return p, a, plan, song


def _requests(project, backend):
    p, a, plan, _ = project
    return p.clip_requests(plan, a, backend)


def test_procedural_clips_on_ray_equal_the_local_ones_byte_for_byte(cluster, project, tmp_path):
    backend = generate.get_backend("procedural")
    reqs = _requests(project, backend)
    local = generate.run(reqs, backend=backend, cache_dir=tmp_path / "local")
    ex = RayExecutor(("procedural", {}))
    remote = generate.run(reqs, backend=backend, cache_dir=tmp_path / "ray", executor=ex)
    assert len(local) == len(remote) >= 4
    for a, b in zip(local, remote):
        assert a.key == b.key and same_pictures(a.path, b.path)
        assert b.meta["worker"] and not b.cached
    again = generate.run(reqs, backend=backend, cache_dir=tmp_path / "ray", executor=ex)
    assert all(r.cached for r in again)  # same keys, same cache: nothing made twice


def test_two_gpu_actors_load_their_model_once_and_share_the_clips(cluster, project, tmp_path):
    folder = tiny_pipelines.BUILDERS["wan"](tmp_path / "wan")
    settings = {"video_model": str(folder), "steps": 1, "guidance": 1.0, "max_frames": 5}
    backend = generate.get_backend("diffusers", **settings)
    reqs = _requests(project, backend)[:4]
    ex = RayExecutor(("diffusers", settings))
    try:
        remote = generate.run(reqs, backend=backend, cache_dir=tmp_path / "ray", executor=ex)
        stats = ex.worker_stats()
    finally:
        ex.close()
    assert len(stats) == 2 and {s["loads"] for s in stats} == {1} and all(s["served"] >= 1 for s in stats)
    assert sum(s["served"] for s in stats) == len(reqs)
    local = generate.run(reqs, backend=backend, cache_dir=tmp_path / "local")
    for a, b in zip(local, remote):
        assert same_pictures(a.path, b.path), a.path  # same seeds, same bytes


def test_a_killed_actor_is_restarted_and_its_clip_still_made(cluster, project, tmp_path):
    folder = tiny_pipelines.BUILDERS["wan"](tmp_path / "wan")
    settings = {"video_model": str(folder), "steps": 1, "guidance": 1.0, "max_frames": 5}
    backend = generate.get_backend("diffusers", **settings)
    reqs = _requests(project, backend)  # all of them: the run lasts well past the kill
    ex = RayExecutor(("diffusers", settings), retries=2)
    ex.start_actors()
    pids = [s["pid"] for s in ex.worker_stats()]
    killed = threading.Event()

    def kill_soon():
        time.sleep(1.0)  # the first clips are being made
        os.kill(pids[0], signal.SIGKILL)
        killed.set()

    threading.Thread(target=kill_soon, daemon=True).start()
    try:
        results = generate.run(reqs, backend=backend, cache_dir=tmp_path / "c", executor=ex)
        after = ex.worker_stats()
    finally:
        ex.close()
    assert killed.is_set() and len(results) == len(reqs)
    assert pids[0] not in {s["pid"] for s in after}  # restarted in a new process, which loaded its model
    assert all(s["loads"] == 1 for s in after)


def test_a_clip_that_always_fails_is_given_up_and_the_rest_are_made(cluster, project, tmp_path, monkeypatch):
    from mvtimeline.generate import cache

    backend = generate.get_backend("procedural")
    reqs = _requests(project, backend)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    import dataclasses

    bad = dataclasses.replace(reqs[1], image=str(broken), image_sha256=None)
    ex = RayExecutor(("procedural", {}), retries=1)
    # the driver's checks would refuse the broken picture before anything is sent: skip them, so
    # the clip fails where it is made (as a worker's broken disk or a model crash would)
    monkeypatch.setattr(cache, "prepare", lambda requests, backend: list(requests))
    with pytest.raises(ClipsMissing) as err:
        generate.run([reqs[0], bad, *reqs[2:]], backend=backend, cache_dir=tmp_path / "c", executor=ex)
    assert [r.segment_index for r, _ in err.value.failed] == [bad.segment_index]
    assert len(err.value.made) == len(reqs) - 1
    assert "segment(s) 02" in str(err.value) or f"{bad.segment_index:02d}" in str(err.value)


