"""``mvtimeline doctor``: every check of what this machine can use, as data (the CLI only prints it).

The lyrics aligner's Whisper model; torch (version, CUDA/MPS, each GPU's VRAM), diffusers,
transformers, accelerate; ffmpeg, melt and Kdenlive on PATH; for each model given, that it resolves
to a supported pipeline and that its weights load (on the CPU, float32); each ComfyUI server given
(version, the workflows' nodes and model files); a Ray cluster's nodes. Nothing is downloaded.

:func:`warm_up` prepares the machine: it compiles the numba code once, in one process, before
anything starts several (``make deps`` runs ``python -m mvtimeline.doctor --warm-up``).

Public: Check, checks, diagnose, warm_up.
"""

from __future__ import annotations

import importlib
import logging
import shutil
import subprocess
import time
from collections.abc import Sequence

from .types import Check

__all__ = ["Check", "checks", "diagnose", "warm_up"]

log = logging.getLogger(__name__)


def _version(module: str) -> Check:
    try:
        m = importlib.import_module(module)
    except ImportError:
        from .generate.backends.diffusers.common import INSTALL_HINT

        return Check(module, "missing", f"not installed ({INSTALL_HINT})")
    return Check(module, "ok", str(getattr(m, "__version__", "?")))


def _tool(name: str) -> Check:
    """A program on PATH and its version (the first line of its version output, up to its copyright)."""
    path = shutil.which(name)
    if not path:
        return Check(name, "missing", f"not on PATH (apt install {name})")
    try:
        flag = "-version" if name == "ffmpeg" else "--version"
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=20)
        lines = [ln for ln in (out.stdout or out.stderr).strip().splitlines() if ln.strip()]
        return Check(name, "ok", f"{path}: {lines[0].split(' Copyright')[0].strip() if lines else '?'}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, "error", f"{path}: {exc}")


def _kdenlive() -> Check:
    """Kdenlive on PATH (only to open the project: mvtimeline writes it without), its package version
    (``kdenlive --version`` needs a display and a session bus)."""
    path = shutil.which("kdenlive")
    if not path:
        return Check("kdenlive", "missing", "not on PATH: only needed to open the project (apt install kdenlive)")
    version = ""
    if shutil.which("dpkg-query"):
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "kdenlive"], capture_output=True, text=True,
                             timeout=20)
        version = f" {out.stdout.strip()}" if out.returncode == 0 and out.stdout.strip() else ""
    return Check("kdenlive", "ok", f"{path}:{version or ' installed'}")


def _torch() -> list[Check]:
    try:
        import torch
    except ImportError:
        from .generate.backends.diffusers.common import INSTALL_HINT

        return [Check("torch", "missing", f"not installed ({INSTALL_HINT}); the procedural backend still works")]
    rows = [Check("torch", "ok", torch.__version__)]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            rows.append(Check(f"cuda:{i}", "ok", f"{p.name}, {p.total_memory / 2**30:.1f} GiB VRAM, "
                                               f"CUDA {torch.version.cuda}"))
    else:
        rows.append(Check("cuda", "missing", "no CUDA GPU visible; diffusers runs on the CPU (slow)"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        rows.append(Check("mps", "ok", "Apple MPS available"))
    return rows


def _model(given: str) -> Check:
    from .errors import MvtimelineError
    from .generate.backends.diffusers.common import DiffusersSettings, resolve_model

    try:
        ref = resolve_model(given, role="video")
    except MvtimelineError as exc:
        if "makes images, not video" not in str(exc):
            return Check("model", "error", str(exc))
        ref = resolve_model(given, role="keyframe")
    try:
        family = importlib.import_module(f"{__package__}.diffusers_{ref.family}")
        t0 = time.perf_counter()
        notes: list[str] = []
        settings = DiffusersSettings(video_model=given, device="cpu", dtype="float32")
        pipe = family.load(ref, settings, device="cpu", dtype=_float32(), notes=notes)
        took = time.perf_counter() - t0
        extra = ""
        if hasattr(family, "spec"):
            sp = family.spec(pipe)
            extra = (f"; frames {sp.step}k+1" if not sp.fixed else f"; {sp.max_frames} frames") + \
                f", sizes %{sp.multiple}, {sp.native_fps} fps"
        return Check("model", "ok", f"{given}: {ref.class_name} ({ref.family}) loads in {took:.1f} s{extra}")
    except MvtimelineError as exc:
        return Check("model", "error", str(exc))


def _float32():
    import torch

    return torch.float32


def diagnose(*, models: list[str] | None = None) -> list[Check]:
    """Every check, in report order.

    Parameters
    ----------
    models : list of str, optional
        Model folders or cached hub ids to resolve and load.

    Returns
    -------
    list of Check
    """
    rows = _torch()
    for module in ("diffusers", "transformers", "accelerate"):
        rows.append(_version(module))
    rows += [_tool("ffmpeg"), _tool("melt")]
    for given in models or []:
        if rows[0].status != "ok":
            rows.append(Check("model", "error", f"{given}: cannot load without torch"))
            continue
        rows.append(_model(given))
    return rows


def checks(*, models: Sequence[str] = (), comfyui_servers: Sequence[str] = (), workflows: Sequence[str] | None = None,
           ray_address: str | None = None, whisper_model: str | None = None) -> list[Check]:
    """Every check ``mvtimeline doctor`` prints, in its order.

    Parameters
    ----------
    models : sequence of str
        Diffusers model folders or cached hub ids to resolve and load.
    comfyui_servers : sequence of str
        ComfyUI server URLs to ask.
    workflows : sequence of str, optional
        The workflows to check on those servers (default: the bundled ones).
    ray_address : str, optional
        A Ray cluster to list.
    whisper_model : str, optional
        The Whisper model to look for (default: the one the aligner would use).

    Returns
    -------
    list of Check
        ``status`` ``"error"`` where something given does not work.
    """
    from .errors import MvtimelineError
    from .lyrics.align.whisper_model import describe

    status, text = describe(whisper_model)
    rows = [Check("aligner", status, text)] + diagnose(models=list(models))
    rows.append(_kdenlive())
    for url in comfyui_servers:
        from .generate.backends.comfyui.backend import diagnose as diagnose_comfyui

        rows += diagnose_comfyui(url, list(workflows) if workflows else None)
    if ray_address:
        from .generate.executors.ray import cluster_summary

        try:
            nodes = cluster_summary(ray_address)
        except MvtimelineError as exc:
            return rows + [Check("ray", "error", str(exc))]
        n = len(nodes)
        rows.append(Check("ray", "ok", f"{ray_address}: {n} node{'' if n == 1 else 's'}, "
                          f"{sum(x['cpus'] for x in nodes):g} CPUs, {sum(x['gpus'] for x in nodes):g} GPUs"))
        rows += [Check("  node", "ok" if x["alive"] else "error",
                       f"{x['node']}: {x['cpus']:g} CPUs, {x['gpus']:g} GPUs{'' if x['alive'] else ', dead'}")
                 for x in nodes]
    return rows


def warm_up() -> None:
    """Compile the numba code once, in this process: the analysis on 6 s of synthetic clicks, the
    aligner's DTW on a toy problem and its structure kernels.

    numba keeps compiled code in an on-disk cache beside the sources; two processes that compile the
    same function at the same moment can leave that cache corrupt, and every later process that loads
    it crashes. So whatever is about to start several processes (a parallel batch, ``make deps``, the
    test session) first calls this in a single process (``python -m mvtimeline.doctor --warm-up``).
    """
    import tempfile
    from pathlib import Path

    import numpy as np
    import soundfile as sf

    from .audio import analyze
    from .lyrics.align.dtw import banded_dtw
    from .lyrics.align.structure import compile_kernels

    sr = 22050
    t = np.arange(6 * sr) / sr
    y = 0.05 * np.sin(2 * np.pi * 220 * t)
    for beat in np.arange(0.25, 6.0, 0.5):
        i = int(beat * sr)
        y[i: i + 400] += np.hanning(800)[400:] * 0.8
    with tempfile.TemporaryDirectory(prefix="mvtimeline-warmup-") as tmp:
        path = Path(tmp) / "clicks.wav"
        sf.write(str(path), y.astype(np.float32), sr)
        analyze(path)
    rng = np.random.default_rng(0)
    j, n, d = 6, 40, 4
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    banded_dtw(unit(rng.random((j, d))), np.ones(j), np.full(j, -1.0), unit(rng.random((n, d))), rng.random(n),
               np.zeros(j, dtype=np.int64), np.full(j, n, dtype=np.int64))
    compile_kernels()
    log.info("numba code compiled and cached")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--warm-up"]:
        warm_up()
    else:
        sys.exit("usage: python -m mvtimeline.doctor --warm-up  (the checks: mvtimeline doctor)")
