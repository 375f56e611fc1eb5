"""A vocal stem made with Demucs (the optional ``separate`` extra), for users without one of their own.

Weights come only from where the user already has them: a named model in the Hugging Face cache
(``htdemucs``, ``htdemucs_ft``, ``mdx_extra``...; what ``python -m demucs`` downloaded once), or a
folder of Demucs ``.th`` files (``repo``). Nothing is downloaded unless the user allows it
(``allow_download``). The stem is written at the song's own sample rate and length, so it passes
:func:`~mvtimeline.audio.check_stem` and lines up sample for sample.

Public: separate_vocals, load_demucs, DEFAULT_DEMUCS_MODEL.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, RunError, ToolMissing
from ..fileio import atomic_write
from ..progress import Progress, ProgressFn
from .load import load, probe

__all__ = ["separate_vocals", "load_demucs", "DEFAULT_DEMUCS_MODEL"]

log = logging.getLogger(__name__)

#: The model used when none is named: Demucs' own default.
DEFAULT_DEMUCS_MODEL = "htdemucs"


def _demucs() -> Any:
    try:
        import demucs.apply  # noqa: F401
        import demucs.pretrained  # noqa: F401
    except ImportError:
        raise ToolMissing("--separate needs Demucs: pip install 'mvtimeline[separate]' "
                          "(or give your own stem with --vocals STEM.wav)") from None
    return demucs


def load_demucs(model: str = DEFAULT_DEMUCS_MODEL, *, repo: Path | None = None, allow_download: bool = False) -> Any:
    """The Demucs model ``model`` from ``repo`` or the Hugging Face cache, in eval mode.

    Parameters
    ----------
    model : str
        A Demucs model name (``htdemucs``, ``htdemucs_ft``, ``mdx_extra``...) or, with ``repo``, the
        signature of a ``.th`` file in it.
    repo : Path, optional
        A folder of Demucs model files (``SIG.th`` or ``SIG-CHECKSUM.th``, bags as ``NAME.yaml``).
    allow_download : bool
        Fetch a named model that is not cached yet (from the Hugging Face hub, else Demucs' own
        server).

    Returns
    -------
    demucs model (``sources``, ``samplerate``, ``audio_channels``)

    Raises
    ------
    ToolMissing
        Demucs is not installed.
    InputError
        ``repo`` is not a folder or lacks the model; a named model is not cached and downloads
        are not allowed (the message says how to allow them).
    """
    dm = _demucs()
    if repo is not None:
        repo = Path(repo)
        if not repo.is_dir():
            raise InputError(f"{repo}: no such Demucs model folder")
        try:
            found = dm.pretrained.get_model(model, repo=repo)
        except (dm.pretrained.ModelLoadingError, OSError, KeyError, RuntimeError) as exc:
            raise InputError(f"{repo}: no usable Demucs model {model!r} there ({exc})") from None
        return found.eval()
    from demucs.apply import BagOfModels
    from demucs.hf import DEFAULT_NAMESPACE, hf_repo_name, load_safetensors_model
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    namespace, name = model.split("/", 1) if "/" in model else (DEFAULT_NAMESPACE, model)
    repo_id = f"{namespace}/{hf_repo_name(name)}"
    try:
        import yaml

        with open(hf_hub_download(repo_id, f"{name}.yaml", local_files_only=not allow_download)) as fh:
            bag = yaml.safe_load(fh)
        models = [load_safetensors_model(hf_hub_download(repo_id, f"{sig}.safetensors",
                                                         local_files_only=not allow_download))
                  for sig in bag["models"]]
        return BagOfModels(models, bag.get("weights"), bag.get("segment")).eval()
    except LocalEntryNotFoundError:
        if not allow_download:
            raise InputError(f"Demucs model {model!r} is not in your Hugging Face cache; fetch it once with "
                             "--allow-download (or run 'python -m demucs' once), or give a model folder with "
                             "--separate-repo DIR") from None
    except Exception as exc:  # noqa: BLE001 - the hub raises many kinds; fall back to Demucs' own loader
        log.debug("Demucs model %s not loadable from the hub (%r)", model, exc)
        if not allow_download:
            raise InputError(f"Demucs model {model!r} could not be loaded from your cache ({exc})") from None
    try:
        return dm.pretrained.get_model(model).eval()
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"Demucs model {model!r} could not be loaded ({exc})") from None


def separate_vocals(song: Path, out: Path, *, model: str = DEFAULT_DEMUCS_MODEL, repo: Path | None = None,
                    allow_download: bool = False, device: str = "cpu", progress: ProgressFn | None = None) -> Path:
    """Write the vocal stem of ``song`` to ``out`` (WAV, 16-bit, mono, the song's rate and length).

    Parameters
    ----------
    song : Path
        The song.
    out : Path
        Where the stem goes (written atomically).
    model, repo, allow_download
        Which Demucs model (:func:`load_demucs`).
    device : str
        ``"cpu"`` or a torch device such as ``"cuda"``.
    progress : ProgressFn, optional
        Called with ``Progress("separate", 0, 1)`` when the separation starts.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ToolMissing, InputError
        As :func:`load_demucs`; the song cannot be decoded.
    RunError
        The model has no ``vocals`` source or the separation failed.
    """
    import soundfile as sf
    import torch
    from demucs.apply import apply_model

    net = load_demucs(model, repo=repo, allow_download=allow_download)
    if "vocals" not in list(net.sources):
        raise RunError(f"Demucs model {model!r} has no vocals source (it has {', '.join(net.sources)})")
    song_s, song_rate = probe(Path(song))
    mono, _ = load(Path(song), sr=int(net.samplerate))
    wav = torch.from_numpy(np.repeat(mono[None, :], int(net.audio_channels), axis=0))
    ref = wav.mean(0)
    mean, std = ref.mean(), ref.std() + 1e-8
    if progress:
        progress(Progress("separate", 0, 1))
    log.info("separating the vocals of %s with Demucs %s on %s", song, model, device)
    try:
        with torch.no_grad():
            sources = apply_model(net, ((wav - mean) / std)[None], device=device, split=True, overlap=0.25,
                                  progress=False)[0]
    except RuntimeError as exc:
        raise RunError(f"Demucs failed on {song}: {exc}") from None
    vocals = (sources[list(net.sources).index("vocals")] * std + mean).mean(0).cpu().numpy()
    if int(net.samplerate) != song_rate:
        import librosa

        vocals = librosa.resample(vocals, orig_sr=int(net.samplerate), target_sr=song_rate, res_type="soxr_hq")
    n = int(round(song_s * song_rate))
    vocals = np.pad(vocals, (0, max(0, n - vocals.size)))[:n]
    buf = io.BytesIO()
    sf.write(buf, np.clip(vocals, -1.0, 1.0).astype(np.float32), song_rate, format="WAV", subtype="PCM_16")
    return atomic_write(Path(out), buf.getvalue())
