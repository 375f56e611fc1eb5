"""Ray runs from the command line: a Ray started for the run, and a two-node cluster on loopback
(``ray start --head`` plus a worker with its own temp dir) to show nothing relies on the driver's
paths. Each test stops only the Ray it started (never ``ray stop``, which ends every Ray on the
machine: test_ray.py's in-process cluster may be running at the same time on another test process).

The lyrics of the runs that compare Ray with a local run are timed by the DSP aligner (what is
compared is where the clips are made, not how the lyrics are timed; a Whisper model loaded in each
process would be most of the time); the two-node test keeps the default aligner."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.clipcompare import same_pictures  # noqa: E402

pytestmark = [pytest.mark.xdist_group("ray"),
              pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng is not installed (make deps)")]


@pytest.fixture(scope="module")
def project(short_song, tmp_path_factory):
    from PIL import Image

    d = tmp_path_factory.mktemp("raycli")
    song = short_song
    rng = np.random.default_rng(3)
    Image.fromarray((rng.random((90, 160, 3)) * 255).astype(np.uint8)).save(d / "k.png")
    return song, d / "k.png"


def test_cli_run_with_ray_matches_local_and_doctor_shows_the_cluster(project, tmp_path):
    """A run with --executor ray (a Ray started for the run) gives the same clips as a local run."""
    song, img = project
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    base = [sys.executable, "-m", "mvtimeline", "-q", "run", str(song.audio_path), "--lyrics", str(song.lyrics_path),
            "--image", str(img), "--fps", "12", "--size", "64x48", "--max-segment", "6", "--aligner", "dsp"]
    subprocess.run(base + ["-o", str(tmp_path / "local")], check=True, env=env, capture_output=True)
    proc = subprocess.run(base + ["-o", str(tmp_path / "ray"), "--executor", "ray"], env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = sorted((tmp_path / "local" / "clips").glob("*/take-1.mp4"))
    b = sorted((tmp_path / "ray" / "clips").glob("*/take-1.mp4"))
    assert [p.parent.name for p in a] == [p.parent.name for p in b] and len(a) >= 2
    assert all(same_pictures(x, y) for x, y in zip(a, b))


def test_batch_with_ray_matches_the_local_batch(project, tmp_path):
    from mvtimeline.audio.demo import synthesize

    songs = tmp_path / "songs"
    songs.mkdir()
    for k in range(2):
        s = synthesize(tmp_path / f"s{k}", stanzas=1, intro_bars=1, outro_bars=1, tempo_bpm=100 + 10 * k, seed=k)
        shutil.copy(s.audio_path, songs / f"song{k}.wav")
        shutil.copy(s.lyrics_path, songs / f"song{k}.txt")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    base = [sys.executable, "-m", "mvtimeline", "-q", "batch", str(songs), "--fps", "12", "--size", "64x48", "--json",
            "--preset", "preview", "--aligner", "dsp"]
    local = subprocess.run(base + ["-o", str(tmp_path / "local")], env=env, capture_output=True, text=True)
    remote = subprocess.run(base + ["-o", str(tmp_path / "ray"), "--executor", "ray"], env=env, capture_output=True,
                            text=True)
    assert local.returncode == 0 and remote.returncode == 0, remote.stdout[-2000:] + remote.stderr[-2000:]
    a = {o["name"]: o["status"] for o in json.loads(local.stdout)}
    b = {o["name"]: o["status"] for o in json.loads(remote.stdout)}
    assert a == b == {f"song{k}": "done" for k in range(2)}
    for k in range(2):
        x = sorted((tmp_path / "local" / f"song{k}" / "clips").glob("*/take-1.mp4"))
        y = sorted((tmp_path / "ray" / f"song{k}" / "clips").glob("*/take-1.mp4"))
        assert x and [p.parent.name for p in x] == [p.parent.name for p in y]
        for p, q in zip(x, y):
            assert same_pictures(p, q), (p, q)


def _free_port() -> int:
    from support.net import free_port

    return free_port()


def _hidden(folder: Path) -> list[str]:
    """A command prefix that runs a program in its own mount namespace with ``folder`` covered by an
    empty tmpfs (the worker node cannot see the driver's files), or [] where that is not allowed."""
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs tmpfs '{folder}' && test ! -e '{folder}'/*"], capture_output=True)
    if probe.returncode != 0:
        return []
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", f"mount -t tmpfs tmpfs '{folder}' && exec \"$@\"",
            "sh"]


def _processes() -> dict[int, tuple[int, str]]:
    """Every process of this machine: its parent's pid and its command line."""
    table = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        table[int(d.name)] = (ppid, cmd)
    return table


def _ray_of(folder: Path) -> set[int]:
    """The processes of the Ray nodes started with a temp dir in ``folder`` (their command lines
    name it), and their children (the Ray workers)."""
    table = _processes()
    ours = {pid for pid, (_, cmd) in table.items() if str(folder) in cmd}
    while True:
        children = {pid for pid, (ppid, _) in table.items() if ppid in ours} - ours
        if not children:
            return ours - {os.getpid()}
        ours |= children


def _stop_ray_of(folder: Path) -> None:
    """Stop the Ray nodes started with a temp dir in ``folder``, and only them (``ray stop`` would
    stop every Ray on this machine): SIGTERM, then SIGKILL what is left after 10 s."""
    import signal
    import time

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _ray_of(folder):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while _ray_of(folder) and time.monotonic() < deadline:
            time.sleep(0.1)


def test_a_two_node_cluster_makes_clips_without_the_driver_s_paths(project, tmp_path, tmp_path_factory):
    """``ray start --head`` (no CPUs) plus a worker node with its own temp dir on loopback, which
    (where the machine allows a mount namespace) cannot even see the driver's folders: every clip,
    and a batch's analyses and renders, run there; the inputs travel by value, the clips come back
    as bytes or through a --shared-cache folder both nodes see.

    The cluster uses token authentication with a token of its own (``RAY_AUTH_MODE=token``,
    ``RAY_AUTH_TOKEN_PATH``) given to every process: a head started while ``~/.ray/auth_token``
    exists turns token authentication on by itself, but ``ray start --address`` (Ray 2.60) does not,
    so a worker node left to the defaults is refused (``InvalidAuthToken``)."""
    song, img = project
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    import tempfile

    short = Path(tempfile.mkdtemp(prefix="mvr", dir="/tmp"))  # Ray's socket paths must stay short
    token = short / "auth_token"  # outside the hidden folder: every node reads it
    token.write_text(secrets.token_hex(32))
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token))
    env.pop("RAY_AUTH_TOKEN", None)
    env.pop("RAY_ADDRESS", None)
    # the head has no CPUs (as clusters often do): every task and actor runs on the worker node
    head = [str(ray_bin), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "0",
            "--num-gpus", "0", "--include-dashboard", "false", "--temp-dir", str(short / "h")]
    hide = _hidden(tmp_path_factory.getbasetemp())
    worker = hide + [str(ray_bin), "start", "--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1",
                     "--num-cpus", "2", "--temp-dir", str(short / "w")]
    address = f"127.0.0.1:{port}"
    try:
        started = subprocess.run(head, env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        started = subprocess.run(worker, env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        doc = subprocess.run([sys.executable, "-m", "mvtimeline", "doctor", "--ray-address", address],
                             env=env, capture_output=True, text=True, timeout=120)
        assert "2 nodes" in doc.stdout, doc.stdout + doc.stderr
        proc = subprocess.run([sys.executable, "-m", "mvtimeline", "-q", "run", str(song.audio_path), "--lyrics",
                               str(song.lyrics_path), "--image", str(img), "--fps", "12", "--size", "64x48",
                               "--max-segment", "4", "-o", str(tmp_path / "w"), "--executor", "ray",
                               "--ray-address", address], env=env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        metas = [json.loads(p.read_text())["meta"] for p in (tmp_path / "w" / "clips").glob("*/take-1.json")]
        assert metas and all(m["worker"] for m in metas)  # every clip says where it was made
        assert len({m["node"] for m in metas}) == 1  # all on the worker node, which cannot see the driver's files

        songs = tmp_path / "songs"
        songs.mkdir()
        for k in range(2):
            shutil.copy(song.audio_path, songs / f"song{k}.wav")
            shutil.copy(song.lyrics_path, songs / f"song{k}.txt")
            shutil.copy(img, songs / f"song{k}.png")
        shared = short / "shared"  # outside the hidden folder: both nodes see it
        shared.mkdir()
        proc = subprocess.run([sys.executable, "-m", "mvtimeline", "-q", "batch", str(songs), "-o", str(tmp_path / "b"),
                               "--fps", "12", "--size", "64x48", "--preset", "preview", "--json", "--executor", "ray",
                               "--ray-address", address, "--shared-cache", str(shared)],
                              env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert [o["status"] for o in json.loads(proc.stdout)] == ["done", "done"]
        for k in range(2):
            clips = sorted((tmp_path / "b" / f"song{k}" / "clips").glob("*/take-1.mp4"))
            assert clips and (tmp_path / "b" / f"song{k}" / f"song{k}.mp4").stat().st_size > 0
        assert (shared / "incoming").is_dir() and not list((shared / "incoming").iterdir())
    finally:
        _stop_ray_of(short)
        shutil.rmtree(short, ignore_errors=True)
