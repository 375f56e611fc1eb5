"""``mvtimeline doctor``: every check of what this machine can use, as data (the CLI only prints it).

The lyrics aligner's Whisper model; torch (version, CUDA/MPS, each GPU's VRAM), diffusers,
transformers, accelerate; ffmpeg, melt and Kdenlive on PATH; for each model given, that it resolves
to a supported pipeline and that its weights load (on the CPU, float32); each ComfyUI server given
(version, the workflows' nodes and model files); a Ray cluster's nodes. Nothing is downloaded.

Public: Check, checks, diagnose.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import time
from collections.abc import Sequence

from .types import Check

__all__ = ["Check", "checks", "diagnose"]


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
