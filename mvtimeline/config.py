"""The settings of one run (fps, size, backend, style...), from defaults, mvtimeline.toml and flags.

:meth:`Config.from_options` turns what a user gives (command-line options, a batch manifest's
values, ``mvtimeline.toml``) into a checked ``Config``: every value check lives here, so the CLI
and the batch runner agree. :meth:`Config.to_dict` / :meth:`Config.from_dict` are the settings part
of a work folder's ``project.json`` (paths relative to the folder).

Every option's own check is an entry of :data:`VALIDATORS` (name → parse, constraint, message);
:func:`validate` applies one. The checks of options together or against the world sit beside it
(:func:`check_separate`, :func:`check_files`, :func:`check_segments`, the ``--executor ray``
options of :data:`RAY_ONLY`), so a check is written once whoever calls it (the CLI, the batch
runner, the pipeline, the work folder).

Public: Config, Validator, VALIDATORS, RAY_ONLY, validate, check_separate, separate_settings, check_files,
check_segments, parse_size, load_toml, KDENLIVE_FORMATS, DIFFUSERS_OPTIONS, CUT_RULES, ALIGNERS, PACE_NAMES,
EXECUTORS.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .fileio import relative_path
from .timecode import parse_fps

if TYPE_CHECKING:
    from .types import Plan

__all__ = ["Config", "Validator", "VALIDATORS", "RAY_ONLY", "validate", "check_separate", "separate_settings",
           "check_files", "check_segments", "parse_size", "load_toml", "KDENLIVE_FORMATS", "DIFFUSERS_OPTIONS",
           "CUT_RULES", "ALIGNERS", "PACE_NAMES", "EXECUTORS"]

#: Kdenlive document versions the project can be written as.
KDENLIVE_FORMATS = ("1.04", "1.1")
#: The diffusers backend's options a run takes (stored in project.json under ``diffusers``).
DIFFUSERS_OPTIONS = ("video_model", "keyframe_model", "chain", "character", "device", "dtype", "offload", "steps",
                     "guidance", "negative_prompt")
#: Where the planner may cut (the same as mvtimeline.plan.CUT_RULES).
CUT_RULES = ("words", "lines", "beats")
#: How fast the cuts come (mvtimeline.plan.PACES has what each means).
PACE_NAMES = ("calm", "steady", "energetic")
#: How lyrics are timed (mvtimeline.lyrics.ALIGNERS is this).
ALIGNERS = ("auto", "whisper", "dsp")
#: Keys of ``Config.comfyui`` a user sets (``--comfyui``, ``--workflow``, ``--retries``).
COMFYUI_OPTIONS = ("servers", "workflow", "retries", "keyframe_workflow")
#: Longest dissolve, in seconds.
MAX_DISSOLVE_S = 5.0
#: Where clips are made.
EXECUTORS = ("local", "ray")


# ------------------------------------------------------------------------------------- validators
def _number(value: Any, option: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"--{option} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise InputError(f"--{option} {value!r} is not a number")
    return x


def _whole(value: Any, option: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise InputError(f"--{option} {value!r} is not a whole number") from None


@dataclass(frozen=True)
class Validator:
    """The check of one option: what the user gave → the value stored, or an :class:`InputError`
    whose message names the option and echoes the value.

    ``parse`` turns the given value into the stored one (it raises on malformed text; it gets the
    option's name); ``ok`` is the constraint on the parsed value; ``message`` is said when it fails,
    formatted with ``option`` and ``value`` (what the user gave).
    """

    option: str
    parse: Callable[[Any, str], Any]
    ok: Callable[[Any], bool]
    message: str

    def __call__(self, value: Any) -> Any:
        parsed = self.parse(value, self.option)
        if not self.ok(parsed):
            raise InputError(self.message.format(option=self.option, value=value))
        return parsed


def _choice(option: str, known: Sequence[str]) -> Validator:
    return Validator(option, lambda v, _: str(v), lambda v: v in known,
                     "--{option} {value!r}: known: " + ", ".join(known))


def _as_given(value: Any, option: str) -> Any:
    return value


def _language(value: Any, option: str) -> str:
    return str(value).strip().lower()


def _shared_cache(value: Any, option: str) -> Path:
    folder = Path(value).expanduser().absolute()
    if not folder.is_dir():
        raise InputError(f"--{option} {value}: no such folder")
    return folder


#: Every option's own check, by the name :meth:`Config.from_options` (or the batch runner) takes it
#: under: the one place an option's value is checked. :func:`validate` applies one.
VALIDATORS: dict[str, Validator] = {
    "dissolve_s": Validator("dissolve", _number, lambda d: 0 <= d <= MAX_DISSOLVE_S,
                            "--{option} {value} s is out of range 0.." + f"{MAX_DISSOLVE_S:g}"),
    "max_segment_s": Validator("max-segment", _number, lambda m: m > 0, "--{option} {value} s must be more than 0"),
    "takes": Validator("takes", _whole, lambda n: n >= 1, "--{option} {value} must be at least 1"),
    "kdenlive_format": _choice("kdenlive-format", KDENLIVE_FORMATS),
    "cut_rule": _choice("cut-rule", CUT_RULES),
    "executor": _choice("executor", EXECUTORS),
    "shared_cache": Validator("shared-cache", _shared_cache, lambda f: os.access(f, os.W_OK | os.X_OK),
                              "--{option} {value}: not writable"),
    "keyframe_gpus": Validator("keyframe-gpus", _as_given,
                               lambda n: not isinstance(n, bool) and isinstance(n, int) and n >= 0,
                               "--{option} {value!r} must be a whole number >= 0"),
    "aligner": _choice("aligner", ALIGNERS),
    "language": Validator("language", _language, lambda code: re.fullmatch(r"[a-z]{2,3}", code) is not None,
                          "--{option} {value!r}: give a language code such as en, es, fr, de, zh, ja, ko"),
    "pace": _choice("pace", PACE_NAMES),
    "clip_s": Validator("clip-length", _number, lambda c: c >= 0.5, "--{option} {value} s must be at least 0.5"),
    "crop_bottom_pct": Validator("crop-bottom", _number, lambda pct: 0 <= pct < 50,
                                 "--{option} {value} must be a percentage from 0 up to (not including) 50"),
    "retries": Validator("retries", _whole, lambda n: n >= 0, "--{option} {value} must be 0 or more"),
    "jobs": Validator("jobs", _whole, lambda n: n >= 1, "--{option} {value} must be at least 1"),
    "gpu_price_per_hour": Validator("gpu-price", _number, lambda p: p >= 0,
                                    "--{option} {value} must be 0 or more (what a GPU hour costs, e.g. 0.59)"),
}

#: Options that only go with ``executor="ray"``: name → the option as the user writes it.
RAY_ONLY = {"ray_address": "--ray-address", "shared_cache": "--shared-cache", "keyframe_gpus": "--keyframe-gpus"}


def validate(name: str, value: Any) -> Any:
    """Check one option's value with its entry of :data:`VALIDATORS`.

    Parameters
    ----------
    name : str
        A key of :data:`VALIDATORS` (``"takes"``, ``"dissolve_s"``, ``"jobs"``...).
    value : any
        What the user gave (typed, or text from a manifest or a TOML file).

    Returns
    -------
    any
        The value as stored (a number parsed, a folder made absolute).

    Raises
    ------
    InputError
        The value is malformed or out of range; the message names the option and the value.

    Examples
    --------
    >>> validate("takes", "3")
    3
    >>> validate("takes", 0)
    Traceback (most recent call last):
    ...
    mvtimeline.errors.InputError: --takes 0 must be at least 1
    """
    return VALIDATORS[name](value)


def check_separate(separate: Mapping[str, Any] | None, vocals: Path | str | None) -> None:
    """Refuse ``--separate`` (a stem made with Demucs) together with ``--vocals`` (the user's own stem).

    Parameters
    ----------
    separate : mapping or None
        The Demucs settings (empty or None: no separation).
    vocals : Path or None
        The user's vocal stem.

    Raises
    ------
    InputError
        Both are given.
    """
    if separate and vocals is not None:
        raise InputError("--separate makes the vocal stem; it does not go with --vocals (your own stem)")


def separate_settings(separate: bool, model: str | None = None, repo: Path | str | None = None,
                      allow_download: bool = False, whisper_model: str | None = None) -> dict[str, Any]:
    """The Demucs settings (``Config.separate``) the ``--separate`` options give.

    Parameters
    ----------
    separate : bool
        ``--separate``: make the vocal stem (a ``model`` or ``repo`` implies it).
    model : str, optional
        ``--separate-model`` (default ``htdemucs``).
    repo : Path, optional
        ``--separate-repo``: a folder of Demucs model files.
    allow_download : bool
        ``--allow-download``: a model not cached may be downloaded (also for a Whisper model name).
    whisper_model : str, optional
        ``--whisper-model``: with it, ``allow_download`` is the Whisper model's.

    Returns
    -------
    dict
        ``model``, ``allow_download`` (and ``repo``); empty when no stem is to be made.

    Raises
    ------
    InputError
        ``--allow-download`` with neither ``--separate`` nor ``--whisper-model``.
    """
    if not (separate or model or repo):
        if allow_download and not whisper_model:
            raise InputError("--allow-download is for --separate and --whisper-model NAME")
        return {}
    out: dict[str, Any] = {"model": model or "htdemucs", "allow_download": bool(allow_download)}
    if repo:
        out["repo"] = str(repo)
    return out


def check_files(config: Config, *, cast: bool = True) -> None:
    """Refuse settings that name a file that is not there: an ``--image``, a ``--cast`` picture, the
    ``--video``.

    Parameters
    ----------
    config : Config
        The settings.
    cast : bool
        Check the singers' pictures too.

    Raises
    ------
    InputError
        The first missing file, named with the option that gave it.
    """
    for img in config.images:
        if not Path(img).is_file():
            raise InputError(f"{img}: no such image file")
    for name, spec in (config.cast.items() if cast else ()):
        img = spec.get("image")
        if img and not Path(img).is_file():
            raise InputError(f"--cast {name}: {img}: no such image file")
    if config.video is not None and not Path(config.video).is_file():
        raise InputError(f"{config.video}: no such video file")


def check_segments(segments: Iterable[int], plan: Plan) -> None:
    """Refuse a segment number the plan does not have.

    Parameters
    ----------
    segments : iterable of int
        Segment numbers (1-based, as ``plan.json`` and ``--segment`` give them).
    plan : Plan
        The work folder's plan.

    Raises
    ------
    InputError
        The first number not in the plan (the message gives the plan's range).
    """
    known = {s.index for s in plan.segments}
    bad = [n for n in segments if n not in known]
    if bad:
        raise InputError(f"plan has no segment {bad[0]}; segments are 1..{len(plan.segments)}")


@dataclass(frozen=True)
class Config:
    """Settings for a run. Sizes in pixels, times in seconds, ``fps`` exact.

    ``crop_bottom`` is the fraction (0 <= x < 0.5) of the height cut off the bottom of the user's
    image or video (users give it in percent: ``crop_bottom_pct`` in :meth:`from_options`).
    ``max_segment_s`` None means the backend's own limit; ``clip_s`` (the longest clip the video model
    makes in one go) None means the backend's; ``pace`` None means the style's.
    """

    fps: Fraction = Fraction(30)
    width: int = 1920
    height: int = 1080
    backend: str = "procedural"
    style: str = "cinematic"
    dissolve_s: float = 0.5
    max_segment_s: float | None = None
    takes: int = 1
    images: tuple[Path, ...] = field(default_factory=tuple)
    beat_guides: bool = False
    kdenlive_format: str = "1.04"
    video: Path | None = None  # the loop job: a clip looped over the whole song
    pingpong: bool = False
    crop_bottom: float = 0.0
    diffusers: dict[str, Any] = field(default_factory=dict, hash=False)  # settings of the diffusers backend
    cut_rule: str = "words"  # where cuts may go: "words" (never inside a word unless forced), "lines", "beats"
    vocals: Path | None = None  # the song's vocal stem: the voice for alignment, gaps and lip-sync audio
    separate: dict[str, Any] = field(default_factory=dict, hash=False)  # make the stem with Demucs: model, repo
    comfyui: dict[str, Any] = field(default_factory=dict, hash=False)  # settings of the comfyui backend
    cast: dict[str, dict[str, Any]] = field(default_factory=dict, hash=False)  # singer → image, role, appearance
    setting: str = ""  # where the video takes place, in every prompt
    executor: str = "local"  # where clips are made: "local" or "ray"
    ray_address: str | None = None  # the Ray cluster (None: RAY_ADDRESS, else a local Ray for the run)
    shared_cache: Path | None = None  # ray: a folder every machine sees; workers write clips there
    keyframe_gpus: int = 0  # ray + diffusers: GPUs for the keyframe model alone (0: both models on every GPU)
    aligner: str = "auto"  # how lyrics are timed: "auto" (Whisper when a model is found, else dsp), "whisper", "dsp"
    whisper_model: str | None = None  # a faster-whisper model folder or name (None: Whisper base, data packages)
    language: str | None = None  # the lyrics' language, a Whisper code (None: detected)
    whisper_download: bool = False  # a Whisper model name not cached may be downloaded
    pace: str | None = None  # how fast the cuts come: "calm", "steady", "energetic" (None: the style's)
    clip_s: float | None = None  # the longest clip the model makes in one go (None: the backend's)
    gpu_price_per_hour: float | None = None  # what an hour of the GPU costs, for the price lines (None: no cost)

    def backend_settings(self) -> dict[str, Any]:
        """Keyword settings for ``get_backend(self.backend, ...)``: the ``diffusers`` or ``comfyui``
        dict for that backend."""
        if self.backend == "comfyui":
            return dict(self.comfyui)
        return dict(self.diffusers) if self.backend == "diffusers" else {}

    @property
    def head_s(self) -> float:
        """Extra seconds generated before a segment's first frame: none, since dissolves start at
        the cut (the incoming clip shows its own first frame at the cut)."""
        return 0.0

    @property
    def tail_s(self) -> float:
        """Extra seconds generated after a segment's last frame: the dissolve into the next segment
        plus two frames, so the outgoing clip can run on under the whole dissolve."""
        return self.dissolve_s + 2 / float(self.fps)

    def replace(self, **changes: Any) -> Config:
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------------------ from the user
    @classmethod
    def from_options(
        cls,
        *,
        base: Config | None = None,
        fps: Any = None,
        size: Any = None,
        backend: str | None = None,
        style: str | None = None,
        dissolve_s: Any = None,
        max_segment_s: Any = None,
        takes: Any = None,
        images: Sequence[Path | str] | None = None,
        beat_guides: bool | None = None,
        kdenlive_format: str | None = None,
        video: Path | str | None = None,
        pingpong: bool | None = None,
        crop_bottom_pct: Any = None,
        diffusers: Mapping[str, Any] | None = None,
        preset: str | None = None,
        cut_rule: str | None = None,
        vocals: Path | str | None = None,
        separate: Mapping[str, Any] | None = None,
        comfyui: Mapping[str, Any] | None = None,
        cast: Mapping[str, Any] | None = None,
        setting: str | None = None,
        executor: str | None = None,
        ray_address: str | None = None,
        shared_cache: Path | str | None = None,
        keyframe_gpus: Any = None,
        aligner: str | None = None,
        whisper_model: str | Path | None = None,
        language: str | None = None,
        whisper_download: bool | None = None,
        pace: str | None = None,
        clip_s: Any = None,
        gpu_price_per_hour: Any = None,
    ) -> Config:
        """Settings from what a user gave; None leaves the value of ``base`` (default: the defaults).

        Values may be typed (click's) or text (a manifest's, a TOML file's).

        Parameters
        ----------
        base : Config, optional
            The settings to start from.
        fps : Fraction, float or str
            ``30``, ``29.97``, ``30000/1001``...
        size : (int, int) or str
            ``(1920, 1080)`` or ``"1920x1080"``.
        backend, style : str
            Names (checked when the backend is built and the style loaded).
        dissolve_s : float in [0, 5]
            Dissolve length in seconds.
        max_segment_s : float > 0
            Longest segment in seconds.
        takes : int >= 1
        images : sequence of paths
        beat_guides, pingpong : bool
        kdenlive_format : {"1.04", "1.1"}
        video : path
            The loop job's video; it selects the ``loop`` backend unless another is given (which
            is an error: only ``loop`` loops a video).
        crop_bottom_pct : float in [0, 50)
            Percent of the height cut off the bottom of the image or video.
        diffusers : mapping
            Options of the diffusers backend (:data:`DIFFUSERS_OPTIONS`); they need that backend,
            which needs ``video_model``.
        preset : str, optional
            A render preset (name or file): when no ``size`` is given, a preset made for one frame
            size (``shorts``: 1080x1920) sets it.
        cut_rule : {"words", "lines", "beats"}
            Where the planner may cut (:data:`mvtimeline.plan.CUT_RULES`).
        vocals : path
            The song's vocal stem (checked against the song by the run).
        separate : mapping
            Make the vocal stem with Demucs (not with ``vocals``): ``model`` (default ``htdemucs``),
            ``repo`` (a folder of model files), ``allow_download`` (bool).
        comfyui : mapping, optional
            Settings of the comfyui backend: ``servers`` (URLs), ``workflow`` (a bundled name or a
            ``.json`` path), ``retries``, ``keyframe_workflow``.
        cast : mapping, optional
            Singer name → ``{"image", "role", "appearance"}`` (a table of ``mvtimeline.toml``'s
            ``[cast]``, or ``--cast NAME=IMAGE``: an image path alone); merged into ``base``'s cast.
        setting : str, optional
            Where the video takes place; goes into every prompt.
        executor : {"local", "ray"}, optional
            Where clips are made.
        ray_address : str, optional
            The Ray cluster for ``executor="ray"`` (``auto``, ``ray://HOST:10001``).
        shared_cache : Path, optional
            ``executor="ray"``: a folder every machine of the cluster sees at this path (NFS...);
            workers write their clips there instead of sending them back. It must exist and be
            writable here.
        keyframe_gpus : int >= 0, optional
            ``executor="ray"`` with the diffusers backend and a keyframe model: GPUs whose actors
            hold the keyframe model alone; the others hold the video model alone.
        aligner : {"auto", "whisper", "dsp"}, optional
            How the lyrics are timed (:func:`mvtimeline.lyrics.choose_aligner`).
        whisper_model : str or Path, optional
            A faster-whisper model folder or a model name (``small``, ``large-v3``...); not with dsp.
        language : str, optional
            The lyrics' language as a Whisper code (``en``, ``es``, ``zh``...).
        whisper_download : bool, optional
            A Whisper model name not in the Hugging Face cache may be downloaded.
        pace : {"calm", "steady", "energetic"}, optional
            How fast the planner cuts (:data:`PACE_NAMES`); default: the style's.
        clip_s : float > 0, optional
            The longest clip the video model makes in one go (seconds); default: the backend's.
        gpu_price_per_hour : float >= 0, optional
            What an hour of the machine that makes the clips costs (``--gpu-price``), for the
            expected and spent cost lines (:mod:`mvtimeline.generate.price`); default: no cost.

        Returns
        -------
        Config

        Raises
        ------
        InputError
            A value out of range or malformed, or options that do not go together; the message
            names the option and the value.
        """
        cfg = base or cls()
        changes: dict[str, Any] = {}
        if fps is not None:
            changes["fps"] = fps if isinstance(fps, Fraction) else parse_fps(str(fps))
        if size is not None:
            changes["width"], changes["height"] = size if isinstance(size, tuple) else parse_size(str(size))
        elif preset:
            from .render import load_preset

            rp = load_preset(preset)
            if rp.width and rp.height:
                changes["width"], changes["height"] = rp.width, rp.height
        if backend is not None:
            changes["backend"] = str(backend)
        if style is not None:
            changes["style"] = str(style)
        own = {"dissolve_s": dissolve_s, "max_segment_s": max_segment_s, "takes": takes,
               "kdenlive_format": kdenlive_format, "cut_rule": cut_rule, "executor": executor, "aligner": aligner,
               "language": language if language is not None and str(language).strip() else None, "pace": pace,
               "clip_s": clip_s, "crop_bottom_pct": crop_bottom_pct, "gpu_price_per_hour": gpu_price_per_hour}
        for name, value in own.items():  # each option's own check (VALIDATORS); then the ones together
            if value is not None:
                changes[name] = validate(name, value)
        if "crop_bottom_pct" in changes:  # given in percent, kept as a fraction
            changes["crop_bottom"] = changes.pop("crop_bottom_pct") / 100
        if images:
            changes["images"] = tuple(Path(p) for p in images)
        if beat_guides is not None:
            changes["beat_guides"] = bool(beat_guides)
        if video is not None:
            if backend is not None and backend != "loop":
                raise InputError(f"--video needs the loop backend, not --backend {backend}")
            changes.update(video=Path(video), backend="loop")
        if pingpong is not None:
            changes["pingpong"] = bool(pingpong)
        if vocals is not None:
            changes["vocals"] = Path(vocals).resolve()
        if separate:
            check_separate(separate, vocals if vocals is not None else cfg.vocals)
            unknown = sorted(set(separate) - {"model", "repo", "allow_download"})
            if unknown:
                raise InputError(f"unknown separate option {unknown[0]!r}; known: model, repo, allow_download")
            sep: dict[str, Any] = {"model": str(separate.get("model") or "htdemucs"),
                                   "allow_download": bool(separate.get("allow_download", False))}
            if separate.get("repo"):
                sep["repo"] = str(Path(separate["repo"]).resolve())
            changes["separate"] = sep
        if cast:
            merged_cast = {k: dict(v) for k, v in cfg.cast.items()}
            for name, spec in cast.items():
                spec = {"image": spec} if isinstance(spec, (str, Path)) else dict(spec or {})
                unknown = sorted(set(spec) - {"image", "role", "appearance"})
                if unknown:
                    raise InputError(f"cast {name!r}: unknown key {unknown[0]!r}; known: image, role, appearance")
                entry = {**merged_cast.get(str(name), {}), **{k: v for k, v in spec.items() if v not in (None, "")}}
                if entry.get("image"):
                    entry["image"] = str(Path(entry["image"]).resolve())
                for key in ("role", "appearance"):
                    if key in entry and not isinstance(entry[key], str):
                        raise InputError(f"cast {name!r}: {key} must be text")
                merged_cast[str(name)] = entry
            changes["cast"] = merged_cast
        if setting is not None:
            changes["setting"] = str(setting).strip()
        on_ray = (executor or cfg.executor) == "ray"
        for name, value in (("ray_address", ray_address), ("shared_cache", shared_cache),
                            ("keyframe_gpus", keyframe_gpus)):
            if value is None:
                continue
            if name == "keyframe_gpus":
                value = validate(name, value)
            if not on_ray and not (name == "keyframe_gpus" and value == 0):  # 0 GPUs apart: the default anywhere
                raise InputError(f"{RAY_ONLY[name]} is for --executor ray")
            changes[name] = str(value) if name == "ray_address" else validate(name, value) if name == "shared_cache" \
                else value
        if whisper_model is not None and str(whisper_model).strip():
            text = str(whisper_model).strip()
            path = Path(text).expanduser()
            changes["whisper_model"] = str(path.resolve()) if path.exists() else text
        if (changes.get("aligner", cfg.aligner) == "dsp" and (changes.get("whisper_model") or
                                                              (aligner is None and cfg.whisper_model))):
            raise InputError("--whisper-model is for the Whisper aligner, not --aligner dsp")
        if whisper_download is not None:
            changes["whisper_download"] = bool(whisper_download)
        cfg = dataclasses.replace(cfg, **changes)
        given = {k: v for k, v in (diffusers or {}).items() if v is not None}
        unknown = sorted(set(given) - set(DIFFUSERS_OPTIONS))
        if unknown:
            raise InputError(f"unknown diffusers option {unknown[0]!r}; known: {', '.join(DIFFUSERS_OPTIONS)}")
        if given and cfg.backend != "diffusers":
            raise InputError(f"--{sorted(given)[0].replace('_', '-')} is a diffusers option; add --backend diffusers")
        if cfg.backend == "diffusers":
            for key in ("character", "video_model", "keyframe_model"):
                if given.get(key) and (key == "character" or Path(given[key]).exists()):
                    given[key] = str(Path(given[key]).resolve())  # a folder; a hub id stays as it is
            merged = {**cfg.diffusers, **given}
            if not merged.get("video_model"):
                raise InputError("--backend diffusers needs --video-model PATH_OR_ID (a diffusers folder or a "
                                 "cached hub id)")
            cfg = dataclasses.replace(cfg, diffusers=merged)
        given = {k: v for k, v in (comfyui or {}).items() if v not in (None, (), [])}
        unknown = sorted(set(given) - set(COMFYUI_OPTIONS))
        if unknown:
            raise InputError(f"unknown comfyui option {unknown[0]!r}; known: {', '.join(COMFYUI_OPTIONS)}")
        if given and cfg.backend != "comfyui":
            raise InputError(f"--{'comfyui' if 'servers' in given else sorted(given)[0]} is a ComfyUI option; "
                             "add --backend comfyui")
        if cfg.backend == "comfyui":
            if "servers" in given:
                given["servers"] = [str(u) for u in given["servers"]]
            for key in ("workflow", "keyframe_workflow"):
                wf = given.get(key)
                if wf and str(wf).endswith(".json") and Path(wf).exists():
                    given[key] = str(Path(wf).resolve())
            if "retries" in given:
                given["retries"] = validate("retries", given["retries"])
            merged = {**cfg.comfyui, **given}
            if not merged.get("servers"):
                raise InputError("--backend comfyui needs --comfyui URL (a ComfyUI server, e.g. http://127.0.0.1:8188)")
            cfg = dataclasses.replace(cfg, comfyui=merged)
        return cfg

    # ----------------------------------------------------------------------------- project.json
    def to_dict(self, folder: Path) -> dict[str, Any]:
        """The settings as stored in a work folder's ``project.json`` (paths relative to ``folder``)."""
        return {
            "fps": f"{self.fps.numerator}/{self.fps.denominator}", "width": self.width, "height": self.height,
            "backend": self.backend, "style": self.style, "dissolve_s": self.dissolve_s,
            "max_segment_s": self.max_segment_s, "takes": self.takes,
            "images": [relative_path(p, folder) for p in self.images], "beat_guides": self.beat_guides,
            "kdenlive_format": self.kdenlive_format, "video": relative_path(self.video, folder) if self.video else None,
            "pingpong": self.pingpong, "crop_bottom": self.crop_bottom, "diffusers": dict(self.diffusers),
            "cut_rule": self.cut_rule, "vocals": relative_path(self.vocals, folder) if self.vocals else None,
            "separate": dict(self.separate), "comfyui": dict(self.comfyui),
            "cast": {name: {**spec, **({"image": relative_path(Path(spec["image"]), folder)} if spec.get("image") else {})}
                     for name, spec in self.cast.items()},
            "setting": self.setting, "executor": self.executor, "ray_address": self.ray_address,
            "shared_cache": str(self.shared_cache) if self.shared_cache else None,
            "keyframe_gpus": self.keyframe_gpus, "aligner": self.aligner,
            "whisper_model": (relative_path(Path(self.whisper_model), folder)
                              if self.whisper_model and Path(self.whisper_model).is_absolute() else self.whisper_model),
            "language": self.language, "whisper_download": self.whisper_download,
            "pace": self.pace, "clip_s": self.clip_s, "gpu_price_per_hour": self.gpu_price_per_hour,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], folder: Path) -> Config:
        """The settings stored by :meth:`to_dict` (paths resolved against ``folder``).

        Raises
        ------
        KeyError, TypeError, ValueError
            A missing or malformed value (the caller names the file).
        """
        return cls(fps=Fraction(d["fps"]), width=int(d["width"]), height=int(d["height"]),
                   backend=d["backend"], style=d["style"], dissolve_s=float(d["dissolve_s"]),
                   max_segment_s=d.get("max_segment_s"), takes=int(d.get("takes", 1)),
                   beat_guides=bool(d.get("beat_guides", False)),
                   kdenlive_format=str(d.get("kdenlive_format", "1.04")),
                   video=folder / d["video"] if d.get("video") else None,
                   pingpong=bool(d.get("pingpong", False)), crop_bottom=float(d.get("crop_bottom", 0.0)),
                   diffusers=dict(d.get("diffusers") or {}), cut_rule=str(d.get("cut_rule", "words")),
                   images=tuple(folder / p for p in d.get("images", [])),
                   vocals=folder / d["vocals"] if d.get("vocals") else None, separate=dict(d.get("separate") or {}),
                   comfyui=dict(d.get("comfyui") or {}),
                   cast={name: {**spec, **({"image": str(folder / spec["image"])} if spec.get("image") else {})}
                         for name, spec in (d.get("cast") or {}).items()},
                   setting=str(d.get("setting", "")), executor=str(d.get("executor", "local")),
                   ray_address=d.get("ray_address"),
                   shared_cache=Path(d["shared_cache"]) if d.get("shared_cache") else None,
                   keyframe_gpus=int(d.get("keyframe_gpus", 0)), aligner=str(d.get("aligner", "auto")),
                   whisper_model=_model_of(d.get("whisper_model"), folder), language=d.get("language") or None,
                   whisper_download=bool(d.get("whisper_download", False)),
                   pace=d.get("pace") or None, clip_s=float(d["clip_s"]) if d.get("clip_s") else None,
                   gpu_price_per_hour=(float(d["gpu_price_per_hour"]) if d.get("gpu_price_per_hour") is not None
                                       else None))


def _model_of(value: Any, folder: Path) -> str | None:
    """A stored Whisper model: a folder relative to the work folder (when it is one there), else a name."""
    if not value:
        return None
    path = folder / str(value)
    return str(path.resolve()) if path.exists() else str(value)


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` → ``(1920, 1080)``; both even and at least 16.

    Raises
    ------
    InputError
        Not ``WIDTHxHEIGHT``, or a side odd, below 16 or above 8192.

    Examples
    --------
    >>> parse_size("1080x1920")
    (1080, 1920)
    """
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", str(text))
    if not m:
        raise InputError(f"size {text!r} is not WIDTHxHEIGHT, e.g. 1920x1080")
    w, h = int(m.group(1)), int(m.group(2))
    if w < 16 or h < 16 or w > 8192 or h > 8192 or w % 2 or h % 2:
        raise InputError(f"size {text!r}: width and height must be even numbers from 16 to 8192")
    return w, h


_TOML_KEYS = {"fps", "size", "backend", "style", "dissolve", "max_segment", "takes", "beat_guides", "kdenlive_format",
              "cut_rule", "cast", "setting", "executor", "ray_address", "shared_cache",
              "keyframe_gpus", "aligner", "whisper_model", "language", "pace", "clip_length", "gpu_price"}


def load_toml(path: Path) -> dict[str, Any]:
    """Read ``mvtimeline.toml`` into click default_map values (a missing file gives ``{}``).

    Raises
    ------
    InputError
        Not valid TOML, an unknown key (named, with the known ones), or a malformed fps or size.
    """
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - _TOML_KEYS)
    if unknown:
        raise InputError(f"{path}: unknown key {unknown[0]!r}; known: {', '.join(sorted(_TOML_KEYS))}")
    if "fps" in data:
        parse_fps(str(data["fps"]))
    if "size" in data:
        parse_size(str(data["size"]))
    if "pace" in data and data["pace"] not in PACE_NAMES:
        raise InputError(f"{path}: pace {data['pace']!r}: known: {', '.join(PACE_NAMES)}")
    if "aligner" in data and data["aligner"] not in ALIGNERS:
        raise InputError(f"{path}: aligner {data['aligner']!r}: known: {', '.join(ALIGNERS)}")
    if data.get("whisper_model"):  # a folder is relative to the settings file
        model = Path(str(data["whisper_model"])).expanduser()
        beside = Path(path).parent / model
        if not model.is_absolute() and beside.exists():
            data["whisper_model"] = str(beside.resolve())
    cast = data.get("cast", {})
    if not isinstance(cast, dict) or not all(isinstance(v, (dict, str)) for v in cast.values()):
        raise InputError(f"{path}: [cast] holds one table per singer: [cast.Anna] with image, role, appearance")
    for name, spec in cast.items():
        if isinstance(spec, dict):
            bad = sorted(set(spec) - {"image", "role", "appearance"})
            if bad:
                raise InputError(f"{path}: [cast.{name}] unknown key {bad[0]!r}; known: image, role, appearance")
            if spec.get("image"):  # relative to the settings file
                spec["image"] = str((Path(path).parent / spec["image"]).resolve())
        else:
            cast[name] = str((Path(path).parent / spec).resolve())
    return data
