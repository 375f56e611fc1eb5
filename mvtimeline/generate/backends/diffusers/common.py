"""Shared pieces of the diffusers backend: settings, model lookup, family detection, loading, frame maths.

Nothing here imports torch or diffusers at module level: they are imported inside the functions that
need them, so ``import mvtimeline`` and the procedural backend work without the ``[diffusers]`` extra.

- :class:`DiffusersSettings` — device, dtype, offload, VAE tiling/slicing, steps, guidance... checked
  when built (``InputError`` with the field and value).
- :func:`resolve_model` — a local folder or a cached hub id → :class:`ModelRef` (folder, pipeline class,
  family, fingerprint). Never downloads.
- :func:`load_pipeline` — ``Class.from_pretrained(folder, dtype=...)`` + device/offload/VAE settings.
- :class:`VideoSpec` — what a family's model needs (its frame and size rules are applied with
  :mod:`mvtimeline.generate.grid`, never the pipeline's silent rounding).
- :func:`to_uint8` — pipeline output as uint8 frames (image fitting and decoding: :mod:`mvtimeline.media`).

Public: DiffusersSettings, ModelRef, resolve_model, detect_family, resolve_device, resolve_dtype,
load_pipeline, VideoSpec, to_uint8, require_torch,
VIDEO_CLASSES, T2I_CLASSES, INSTALL_HINT.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from mvtimeline.errors import InputError, RunError

__all__ = [
    "DiffusersSettings",
    "ModelRef",
    "resolve_model",
    "detect_family",
    "resolve_device",
    "resolve_dtype",
    "load_pipeline",
    "to_uint8",
    "require_torch",
    "VideoSpec",
    "VIDEO_CLASSES",
    "T2I_CLASSES",
    "INSTALL_HINT",
]

log = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'mvtimeline[diffusers]'"

#: image-to-video pipeline classes (model_index.json ``_class_name``) → family module suffix.
#: ``WanPipeline`` is accepted for Wan 2.2 TI2V-5B (loaded as ``WanImageToVideoPipeline``), and
#: ``LTXPipeline`` folders are loaded as ``LTXImageToVideoPipeline`` (same components).
VIDEO_CLASSES: dict[str, str] = {
    "WanImageToVideoPipeline": "wan",
    "WanPipeline": "wan",
    "LTXImageToVideoPipeline": "ltx",
    "LTXPipeline": "ltx",
    "StableVideoDiffusionPipeline": "svd",
}

#: text-to-image classes we name in messages; any class AutoPipelineForText2Image maps is accepted.
T2I_CLASSES: tuple[str, ...] = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusion3Pipeline",
    "FluxPipeline",
)

DEVICES = ("auto", "cuda", "mps", "cpu")
DTYPES = ("auto", "float32", "bfloat16", "float16")
OFFLOADS = ("none", "model", "sequential", "group")


def require_torch() -> None:
    """Raise ``InputError`` with the install line when torch or diffusers is missing."""
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise InputError(f"the diffusers backend needs torch and diffusers ({exc.name} is missing); "
                         f"{INSTALL_HINT}") from None


# ------------------------------------------------------------------------------------------ settings
@dataclass(frozen=True)
class DiffusersSettings:
    """Settings of the diffusers backend (all optional; the defaults run anywhere).

    Parameters
    ----------
    video_model : str
        Image-to-video model: a local diffusers folder or a hub id already in the HF cache.
    keyframe_model : str or None
        Text-to-image model for keyframes (folder or cached hub id); None: the keyframe is the
        request's image (the user's still or the previous clip's last frame).
    chain : bool
        Last frame of clip N → input image of clip N+1 (done by the caller, see ``pipeline``).
    character : str or None
        Reference image for every keyframe (img2img through the keyframe model).
    character_strength : float in (0, 1]
        img2img strength with a character image (1 = ignore the reference).
    device : {"auto", "cuda", "mps", "cpu"}
    dtype : {"auto", "float32", "bfloat16", "float16"}
        ``auto``: bfloat16 on cuda, float32 elsewhere.
    offload : {"none", "model", "sequential", "group"}
        CPU offload; ignored (with a warning) without an accelerator.
    vae_tiling, vae_slicing : bool
        Decode the VAE in tiles / one sample at a time (less memory).
    steps : int > 0 or None
        Denoising steps; None: the family's default.
    keyframe_steps : int > 0 or None
        Denoising steps of the keyframe model; None: its pipeline's default.
    guidance : float >= 0 or None
        Classifier-free guidance scale; None: the family's default.
    negative_prompt : str or None
        Replaces the request's negative prompt when given.
    max_area : int > 0 or None
        Largest generated frame in pixels (width x height); None: the family's native area. Frames
        are scaled to the project size when encoding.
    max_frames : int > 1 or None
        Frames per generation at most (rounded down to the family's rule); None: the model's native
        length. A longer clip is made of several generations chained by last frame.
    max_seconds : float > 0
        Longest segment the planner may give this backend, in seconds.
    """

    video_model: str = ""
    keyframe_model: str | None = None
    chain: bool = False
    character: str | None = None
    character_strength: float = 0.6
    device: str = "auto"
    dtype: str = "auto"
    offload: str = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    steps: int | None = None
    keyframe_steps: int | None = None
    guidance: float | None = None
    negative_prompt: str | None = None
    max_area: int | None = None
    max_frames: int | None = None
    max_seconds: float = 10.0

    def __post_init__(self) -> None:
        if not self.video_model:
            raise InputError("the diffusers backend needs a video model: pass --video-model PATH_OR_ID "
                             "(a local diffusers folder or a cached hub id)")
        for name, choices in (("device", DEVICES), ("dtype", DTYPES), ("offload", OFFLOADS)):
            v = getattr(self, name)
            if v not in choices:
                raise InputError(f"diffusers {name} {v!r} is unknown; known: {', '.join(choices)}")
        for name in ("steps", "keyframe_steps", "max_area"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise InputError(f"diffusers {name} {v!r} must be a positive integer")
        if self.max_frames is not None and (not isinstance(self.max_frames, int) or self.max_frames < 2):
            raise InputError(f"diffusers max_frames {self.max_frames!r} must be an integer >= 2")
        if self.guidance is not None and not (math.isfinite(self.guidance) and self.guidance >= 0):
            raise InputError(f"diffusers guidance {self.guidance!r} must be a finite number >= 0")
        if not 0 < self.character_strength <= 1:
            raise InputError(f"diffusers character_strength {self.character_strength!r} must be in (0, 1]")
        if not (math.isfinite(self.max_seconds) and self.max_seconds > 0):
            raise InputError(f"diffusers max_seconds {self.max_seconds!r} must be > 0")
        if self.character is not None and not Path(self.character).is_file():
            raise InputError(f"character image {self.character} does not exist")
        if self.character is not None and not self.keyframe_model:
            raise InputError("--character needs --keyframe-model: the reference image shapes the keyframes "
                             "that the keyframe model makes")

    @classmethod
    def fields(cls) -> tuple[str, ...]:
        """Names of the settings ``get_backend("diffusers", ...)`` accepts."""
        return tuple(f.name for f in dataclasses.fields(cls))


# ---------------------------------------------------------------------------------------- models
@dataclass(frozen=True)
class ModelRef:
    """A model found on disk: what the user passed, its folder, pipeline class and family.

    ``family`` is ``"wan"``, ``"ltx"``, ``"svd"`` (image-to-video) or ``"t2i"``; ``fingerprint`` is a
    short hash of model_index.json, the component configs and the weight file sizes (part of the
    cache key, so another model under the same name gives other clips).
    """

    given: str
    folder: Path
    class_name: str
    family: str
    fingerprint: str
    index: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.given}@{self.fingerprint}"


def _hub_snapshot(repo_id: str) -> Path:
    """Folder of a hub model in the local HF cache, or InputError; never downloads."""
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise InputError(f"model {repo_id!r} is not a folder, and huggingface_hub is not installed to look it "
                         f"up; {INSTALL_HINT}") from None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - every hub failure means the same to the user: it is not cached
        why = "HF_HUB_OFFLINE is set and it is" if offline else "it is"
        raise InputError(f"model {repo_id!r} is not a local folder and {why} not in the Hugging Face cache; "
                         f"download it first (hf download {repo_id}) or pass a local folder") from None


def _fingerprint(folder: Path, index: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(index, sort_keys=True).encode())
    for name in sorted(k for k, v in index.items() if not k.startswith("_") and isinstance(v, list)):
        sub = folder / name
        if not sub.is_dir():
            continue
        for f in sorted(sub.iterdir()):
            if f.suffix == ".json":
                h.update(f.name.encode() + f.read_bytes())
            elif f.is_file():
                h.update(f"{f.name}:{f.stat().st_size}".encode())
    return h.hexdigest()[:12]


def detect_family(class_name: str) -> str:
    """Family of a pipeline class name: ``wan``, ``ltx``, ``svd``, ``t2i``, or ``""`` if unsupported.

    Examples
    --------
    >>> detect_family("WanImageToVideoPipeline"), detect_family("FluxPipeline"), detect_family("Foo")
    ('wan', 't2i', '')
    """
    if class_name in VIDEO_CLASSES:
        return VIDEO_CLASSES[class_name]
    if class_name in T2I_CLASSES:
        return "t2i"
    try:
        from diffusers.pipelines.auto_pipeline import AUTO_TEXT2IMAGE_PIPELINES_MAPPING
    except ImportError:
        return ""
    names = {c.__name__ for c in AUTO_TEXT2IMAGE_PIPELINES_MAPPING.values()}
    return "t2i" if class_name in names else ""


def _supported() -> str:
    return ("image-to-video: " + ", ".join(sorted(set(VIDEO_CLASSES))) + "; text-to-image (keyframes): "
            + ", ".join(T2I_CLASSES) + " and the other AutoPipelineForText2Image classes")


def resolve_model(path_or_id: str, *, role: str = "video") -> ModelRef:
    """Find a model (local folder or cached hub id) and tell its family from model_index.json.

    Parameters
    ----------
    path_or_id : str
        A folder holding ``model_index.json``, or a hub id (``org/name``) in the local HF cache.
    role : {"video", "keyframe"}
        What it is for: ``video`` needs an image-to-video family, ``keyframe`` a text-to-image one.

    Returns
    -------
    ModelRef

    Raises
    ------
    InputError
        Not a folder and not cached; no model_index.json; a class we do not support (the message
        lists the supported ones); a family that does not fit the role.
    """
    p = Path(path_or_id).expanduser()
    if p.is_dir():
        folder = p.resolve()
    elif p.exists():
        raise InputError(f"model {path_or_id}: is a file; pass a diffusers folder (with model_index.json) "
                         "or a hub id")
    elif path_or_id.count("/") == 1 and not path_or_id.startswith((".", "/", "~")):
        folder = _hub_snapshot(path_or_id)
    else:
        raise InputError(f"model {path_or_id}: no such folder (and not a hub id like org/name)")
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise InputError(f"model {path_or_id}: {folder} has no model_index.json, so it is not a diffusers "
                         f"pipeline; supported: {_supported()}")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        class_name = str(index["_class_name"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"model {path_or_id}: unreadable model_index.json ({exc.__class__.__name__}: {exc})") from None
    family = detect_family(class_name)
    if not family:
        raise InputError(f"model {path_or_id}: pipeline {class_name} is not supported; supported: {_supported()}")
    if class_name == "WanPipeline" and not index.get("expand_timesteps"):
        raise InputError(f"model {path_or_id}: a Wan text-to-video model (WanPipeline) cannot start from an "
                         "image; use a Wan I2V/FLF2V model or Wan 2.2 TI2V-5B")
    if role == "video" and family == "t2i":
        raise InputError(f"model {path_or_id}: {class_name} makes images, not video; pass it as --keyframe-model "
                         f"and give --video-model an image-to-video model ({', '.join(sorted(set(VIDEO_CLASSES)))})")
    if role == "keyframe" and family != "t2i":
        raise InputError(f"model {path_or_id}: {class_name} is not a text-to-image pipeline; --keyframe-model "
                         f"takes one of {', '.join(T2I_CLASSES)} (or another AutoPipelineForText2Image class)")
    return ModelRef(given=str(path_or_id), folder=folder, class_name=class_name, family=family,
                    fingerprint=_fingerprint(folder, index), index=index)


# --------------------------------------------------------------------------------- device, loading
def resolve_device(name: str) -> str:
    """``auto`` → ``cuda`` if available, else ``mps``, else ``cpu``; a named device must exist.

    Raises
    ------
    InputError
        ``cuda`` or ``mps`` asked for but not available.
    """
    import torch

    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else ("mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is visible to torch (see 'mvtimeline doctor')")
    if name == "mps" and not has_mps:
        raise InputError("--device mps: Apple MPS is not available to torch")
    return name


def resolve_dtype(name: str, device: str) -> Any:
    """The torch dtype: ``auto`` → bfloat16 on cuda, float32 elsewhere."""
    import torch

    if name == "auto":
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, name)


def load_pipeline(cls: Any, ref: ModelRef, settings: DiffusersSettings, *, device: str, dtype: Any,
                  notes: list[str]) -> Any:
    """``cls.from_pretrained(ref.folder, dtype=dtype)``, then device, offload and VAE settings.

    ``notes`` receives a line for each setting that could not be applied (logged as a warning too).

    Raises
    ------
    RunError
        from_pretrained failed (the message names the folder and the cause).
    """
    try:
        with _quiet_loading():
            pipe = cls.from_pretrained(str(ref.folder), dtype=dtype)
    except Exception as exc:  # noqa: BLE001 - a broken folder can fail in many ways; say which
        raise RunError(f"model {ref.given}: cannot load {cls.__name__} from {ref.folder} "
                       f"({exc.__class__.__name__}: {exc})") from None
    pipe.set_progress_bar_config(disable=True)
    offload = settings.offload
    if offload != "none" and device == "cpu":
        _note(notes, f"offload {offload} ignored: there is no accelerator")
        offload = "none"
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif offload == "group":
        pipe.enable_group_offload(onload_device=device, offload_device="cpu", offload_type="block_level",
                                  num_blocks_per_group=1, use_stream=device == "cuda")
    else:
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    for flag, method in ((settings.vae_tiling, "enable_tiling"), (settings.vae_slicing, "enable_slicing")):
        if not flag:
            continue
        try:
            getattr(vae, method)()
        except (AttributeError, NotImplementedError):
            _note(notes, f"vae {method} is not supported by {type(vae).__name__}; ignored")
    log.info("loaded %s from %s (%s, %s, offload %s)", cls.__name__, ref.folder, device, dtype, offload)
    return pipe


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No tqdm bars from diffusers/transformers while loading (the library reports through logging)."""
    import diffusers.utils.logging as dlog

    try:
        import transformers.utils.logging as tlog
    except ImportError:  # pragma: no cover - transformers is part of the extra
        tlog = None
    was = dlog.is_progress_bar_enabled()
    twas = tlog.is_progress_bar_enabled() if tlog else False
    dlog.disable_progress_bar()
    if tlog:
        tlog.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            dlog.enable_progress_bar()
        if tlog and twas:
            tlog.enable_progress_bar()


def _note(notes: list[str], text: str) -> None:
    log.warning("%s", text)
    notes.append(text)


# ------------------------------------------------------------------------------------- model spec
@dataclass(frozen=True)
class VideoSpec:
    """What an image-to-video model needs, read from the loaded pipeline by its family module.

    ``step``: frame counts are ``step*k + 1`` (4 Wan, 8 LTX; 1 = any); ``fixed``: every generation has
    exactly ``max_frames`` frames (SVD); ``multiple``: width and height are multiples of it;
    ``native_fps``: the rate the model was trained at; ``native_area``: its usual frame size in pixels;
    ``supports_last``: it takes a last frame; ``requires_last``: it cannot run without one (Wan 2.1 FLF2V);
    ``steps``/``guidance``: defaults.
    """

    step: int
    fixed: bool
    max_frames: int
    multiple: int
    native_fps: Fraction
    native_area: int
    supports_last: bool
    steps: int
    guidance: float
    requires_last: bool = False


# ------------------------------------------------------------------------------------------ images
def to_uint8(frames: Any) -> Any:
    """Pipeline output (floats in 0..1, a list of PIL images, or a tensor) → uint8 array (F, H, W, 3)."""
    import numpy as np

    if isinstance(frames, list) and frames and hasattr(frames[0], "convert"):
        return np.stack([np.asarray(f.convert("RGB")) for f in frames])
    if hasattr(frames, "detach"):
        frames = frames.detach().float().cpu().numpy()
    arr = np.asarray(frames)
    if arr.dtype == np.uint8:
        return arr
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
