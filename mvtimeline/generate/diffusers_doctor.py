"""``mvtimeline doctor``: what the diffusers backend (and rendering) can use on this machine.

Checks torch (version, CUDA/MPS, each GPU's VRAM), diffusers/transformers/accelerate versions, ffmpeg and
melt on PATH, and, for each model given, that it resolves to a supported pipeline and that its weights
load (on the CPU, float32). Nothing is downloaded.

Public: Check, diagnose.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import time
from dataclasses import dataclass

__all__ = ["Check", "diagnose"]



@dataclass(frozen=True)
class Check:
    """One line of the report: ``status`` is ``ok``, ``missing`` (optional, absent) or ``error``."""

    name: str
    status: str
    detail: str


def _version(module: str) -> Check:
    try:
        m = importlib.import_module(module)
    except ImportError:
        from .diffusers_common import INSTALL_HINT

        return Check(module, "missing", f"not installed ({INSTALL_HINT})")
    return Check(module, "ok", str(getattr(m, "__version__", "?")))


def _tool(name: str) -> Check:
    path = shutil.which(name)
    if not path:
        return Check(name, "missing", "not on PATH (apt install " + ("ffmpeg" if name == "ffmpeg" else "melt") + ")")
    try:
        flag = "-version" if name == "ffmpeg" else "--version"
        out = subprocess.run([path, flag], capture_output=True, text=True, timeout=20)
        first = (out.stdout or out.stderr).strip().splitlines()
        return Check(name, "ok", f"{path}: {first[0][:60] if first else '?'}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, "error", f"{path}: {exc}")


def _torch() -> list[Check]:
    try:
        import torch
    except ImportError:
        from .diffusers_common import INSTALL_HINT

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
    from ..errors import MvtimelineError
    from .diffusers_common import DiffusersSettings, resolve_model

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
