"""The stages of a project, one after another, on a work folder (:class:`~mvtimeline.workfolder.WorkFolder`).

With the CLI, the only module that calls several stages. Each ``*_step`` takes the work folder
and the artifacts before it, and saves its own; :func:`run` does them all for a song. The
folder-level functions (:func:`analyze_song`, :func:`align_lyrics`, :func:`replan`,
:func:`generate`, :func:`export`, :func:`pick`) are what the single-stage commands call.

Public: run, check_inputs, load_project, new_project, separate_step, analyze_step, align_step, plan_step,
generate_step, export_step, render_step, render_project, timing_step, timing_in_folder, chosen_clips, all_takes, pick, import_clips, analyze_song,
timeline_clips, edit_segment, move_cut, cut_choices, restore_take, make_take, place_take, NewTake,
align_lyrics, replan, generate, export, RunResult, Generated, Exported, Inputs, EXPORT_FORMATS, STEM_FILE, project_backend.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config, check_files, check_segments, validate
from .errors import ClipsMissing, InputError
from .fileio import atomic_write, backup_path, ensure_dir, file_sha256
from .progress import Progress, ProgressFn, ignore
from .types import Analysis, ClipRequest, ClipResult, Lyrics, Plan
from .plan.cast import cast_of
from .workfolder import ALIGNED_FILE, PROJECT_FILE, VOCALS_STEM, WorkFolder, check_out_folder, writer_lock

if TYPE_CHECKING:
    from .generate.backends.base import Backend

__all__ = [
    "run",
    "run_demo",
    "check_inputs",
    "load_project",
    "new_project",
    "separate_step",
    "analyze_step",
    "align_step",
    "plan_step",
    "generate_step",
    "export_step",
    "render_step",
    "render_project",
    "timing_step",
    "timing_in_folder",
    "chosen_clips",
    "all_takes",
    "pick",
    "import_clips",
    "analyze_song",
    "align_lyrics",
    "replan",
    "generate",
    "export",
    "RunResult",
    "Generated",
    "Exported",
    "Inputs",
    "EXPORT_FORMATS",
    "STEM_FILE",
    "project_backend",
    "timeline_clips",
    "edit_segment",
    "move_cut",
    "cut_choices",
    "restore_take",
    "make_take",
    "place_take",
    "NewTake",
]

log = logging.getLogger(__name__)

#: What ``run`` and ``export`` write by default.
EXPORT_FORMATS = ("kdenlive", "otio", "srt", "ass")
#: Where a work folder keeps the vocal stem Demucs made for it (``separate``).
STEM_FILE = VOCALS_STEM


@dataclass(frozen=True)
class Exported:
    """Files an export wrote, and the user-edited files it moved aside (or copied) first."""

    written: list[Path]
    backups: list[Path]


@dataclass(frozen=True)
class Generated:
    """What generate_step did: the chosen take of each segment, and how many clips were encoded."""

    chosen: dict[int, tuple[ClipRequest, ClipResult]]
    made: int
    cached: int
    missing: ClipsMissing | None = None  # clips the backend gave up on; ``chosen`` has placeholders for them


@dataclass
class RunResult:
    """What :func:`run` made: the work folder, the plan, the files written."""

    project: WorkFolder
    plan: Plan
    outputs: list[Path] = field(default_factory=list)
    clips_made: int = 0
    clips_cached: int = 0
    render: Path | None = None
    backups: list[Path] = field(default_factory=list)
    pending: Any = None  # a dry run: what making its clips would take (mvtimeline.generate.price.Estimate)


@dataclass(frozen=True)
class Inputs:
    """Everything a run needs, checked before any heavy work: the lyrics as read, and the backend."""

    lyrics: Lyrics | None
    backend: Backend


def _holding(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run a command that writes a work folder (its first argument) holding the folder's lock
    (:func:`mvtimeline.workfolder.writer_lock`): a second writer stops with the reason."""
    import functools

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(f)
        def held(project: WorkFolder | Path, *args: Any, **kwargs: Any) -> Any:
            folder = project.folder if isinstance(project, WorkFolder) else Path(project)
            with writer_lock(folder, command):
                return f(project, *args, **kwargs)
        return held
    return wrap


def open_folder(folder: WorkFolder | Path) -> WorkFolder:
    """The work folder at ``folder`` (a :class:`WorkFolder` is returned as it is).

    Raises
    ------
    InputError
        Not a work folder.
    """
    return _folder(folder)


def find_project(path: Path) -> Path:
    """The project to render: ``path`` itself when it is a file, else the ``.kdenlive`` of the work
    folder ``path``.

    In a work folder (one with ``project.json``) that is ``NAME.kdenlive``, NAME being the name
    ``project.json`` gives; in another folder, its only ``.kdenlive`` file.

    Parameters
    ----------
    path : Path
        A ``.kdenlive``/``.mlt`` file, or a folder.

    Returns
    -------
    Path
        The project file (not checked further: :func:`mvtimeline.render.render` does).

    Raises
    ------
    InputError
        ``path`` does not exist; a work folder whose project is not written yet; a folder with no
        ``.kdenlive`` file, or several.
    """
    path = Path(path)
    if not path.is_dir():
        if not path.exists():
            raise InputError(f"{path}: no such file or folder; give a work folder or a .kdenlive project")
        return path
    if (path / PROJECT_FILE).is_file():
        found = WorkFolder.open(path).path(".kdenlive")
        if not found.is_file():
            raise InputError(f"{path}: the work folder has no {found.name} yet; write it with "
                             f"'mvtimeline export {path}'")
        return found
    found_all = sorted(p for p in path.glob("*.kdenlive") if p.is_file())
    if not found_all:
        raise InputError(f"{path}: no .kdenlive project in this folder (and no {PROJECT_FILE}); "
                         "give a work folder made by 'mvtimeline run' or a .kdenlive file")
    if len(found_all) > 1:
        names = ", ".join(p.name for p in found_all[:5]) + (", ..." if len(found_all) > 5 else "")
        raise InputError(f"{path}: {len(found_all)} .kdenlive projects ({names}) and no {PROJECT_FILE}; "
                         f"give one, e.g. {found_all[0]}")
    return found_all[0]


def render_project(path: Path, out: Path | None = None, *, preset: str | None = None, subtitles: bool = False,
                   progress: ProgressFn = ignore) -> Any:
    """Render the project :func:`find_project` finds at ``path`` (a work folder or a project file)
    with melt (:func:`mvtimeline.render.render`).

    Parameters
    ----------
    path : Path
        A work folder, a folder with one ``.kdenlive`` file, or a ``.kdenlive``/``.mlt`` file.
    out : Path, optional
        The video; default: the project with the preset's suffix (``.mp4``).
    preset : str, optional
        Render preset name or file.
    subtitles : bool
        Burn the lyrics in.
    progress : ProgressFn
        Receives ``Progress("render", fraction, 1.0)``.

    Returns
    -------
    RenderResult
        The video written, its frames, and how long it took.

    Raises
    ------
    InputError
        No project at ``path``, an unknown preset, a project melt cannot render.
    RenderFailed
        melt failed.
    """
    from .render import render

    return render(find_project(path), out, preset=preset, subtitles=subtitles, progress=progress)


def stale_render(project: WorkFolder) -> Path | None:
    """The work folder's render (``NAME.mp4``) when it is older than its ``NAME.kdenlive``, else None."""
    video, kden = project.path(".mp4"), project.path(".kdenlive")
    if video.is_file() and kden.is_file() and video.stat().st_mtime < kden.stat().st_mtime:
        return video
    return None


def _check_formats(formats: Sequence[str]) -> None:
    """Refuse a project format :mod:`mvtimeline.timeline.export` does not write (the known ones listed)."""
    from .timeline.export import FORMATS

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}; known: {', '.join(FORMATS)}")


def _folder(project: WorkFolder | Path) -> WorkFolder:
    return project if isinstance(project, WorkFolder) else WorkFolder.open(Path(project))


def _backend(config: Config, *, stems_dir: Path | None = None) -> Backend:
    from .generate import get_backend

    settings = config.backend_settings()
    if config.backend == "comfyui" and stems_dir is not None:
        settings["stems_dir"] = stems_dir
    return get_backend(config.backend, **settings)


def _executor(config: Config) -> Any:
    """The executor the settings ask for (:data:`mvtimeline.generate.EXECUTORS`); close it when done."""
    from .generate import open_executor

    return open_executor(config.executor, (config.backend, config.backend_settings()), address=config.ray_address,
                         shared_dir=config.shared_cache, keyframe_gpus=config.keyframe_gpus)


def project_backend(project: WorkFolder) -> Backend:
    """The backend a work folder's settings name, built (its name, version and model id make the
    clip cache's keys; nothing is loaded or contacted).

    Parameters
    ----------
    project : WorkFolder

    Returns
    -------
    Backend

    Raises
    ------
    InputError
        The settings name a backend that cannot be built (an unreadable workflow, a missing model).
    """
    return _backend(project.config, stems_dir=project.stems_dir)


#: The work folder at a path (:meth:`WorkFolder.open`).
load_project = WorkFolder.open
#: A new work folder for a song (:meth:`WorkFolder.create`).
new_project = WorkFolder.create


# ------------------------------------------------------------------------------------- input checks
def check_inputs(song: Path, lyrics: Path | None, config: Config, *, lyrics_format: str | None = None,
                 preset: str | None = None, burn_subtitles: bool = False) -> Inputs:
    """Check every input of a run before any heavy work (the analysis takes a while; these checks
    take well under a second).

    Parameters
    ----------
    song : Path
        The song: it must exist and be audio (its header is probed, not decoded).
    lyrics : Path or None
        Read in full (any error names the file and line).
    config : Config
        Its backend is built (an unknown name, bad settings or a model folder that is not one
        fail here), its style loaded, its images decoded and its video's first frame decoded.
    lyrics_format : str, optional
        Forced lyrics format.
    preset : str, optional
        Render preset name or file.
    burn_subtitles : bool
        Burning lyrics in needs a font (fontconfig).

    Returns
    -------
    Inputs
        The lyrics as read (None without lyrics) and the backend, so the run reads and builds
        them once.

    Raises
    ------
    InputError
        The first bad input, in one line.
    RunError
        ``executor="ray"`` and nothing answers at the Ray address; or no ``--comfyui`` server
        answers (one that does not, among others that do, is one warning and left out).
    """
    from . import audio
    from . import lyrics as lyr
    from .media import check_image, probe_first_frame
    from .plan import load_style

    backend = _backend(config)
    if config.executor == "ray":  # the cluster answers, before the song is analysed
        from .generate.executors.ray import check_address

        check_address(config.ray_address)
    load_style(config.style)
    if preset:
        from .render import load_preset

        load_preset(preset)
    if burn_subtitles:
        from .render import check_fonts

        check_fonts()
    check_files(config)
    for img in config.images:
        check_image(img, where="--image", decode=True)
    for name, spec in config.cast.items():
        if spec.get("image"):
            check_image(spec["image"], where=f"--cast {name}", decode=True)
    if config.video is not None:
        probe_first_frame(Path(config.video))
    audio.check(Path(song))
    if config.vocals is not None:
        audio.check_stem(config.vocals, Path(song))
    if config.separate:
        from .audio.separate import load_demucs

        load_demucs(config.separate.get("model", "htdemucs"), repo=config.separate.get("repo"),
                    allow_download=bool(config.separate.get("allow_download")))
    read = lyr.read(Path(lyrics), format=lyrics_format) if lyrics is not None else None
    if read is not None and read.lines:  # the Whisper model found and checked (joined once from its packages)
        lyr.choose_aligner(config.aligner, whisper_model=config.whisper_model,
                           allow_download=config.whisper_download, language=config.language, warn=False)
    if backend.needs_image and not config.images and not any(
            spec.get("image") for spec in config.cast.values()):
        raise InputError(f"the {config.backend} workflow starts from an image: pass --image, --cast with the singers' "
                         "pictures, or --keyframe-workflow (e.g. sdxl-keyframe)")
    if config.executor != "ray":  # Ray's workers reach the servers, maybe not we
        backend.check_servers()  # ComfyUI: each server answers, before the song is analysed
    return Inputs(lyrics=read, backend=backend)


# -------------------------------------------------------------------------------------------- steps
def _analysis_digest(song: Path, vocals: Path | None) -> str:
    """What ``analysis.json`` is made from: the song's SHA-256 (+ the vocal stem's)."""
    return file_sha256(song) + (f"+{file_sha256(vocals)}" if vocals is not None else "")


def analyze_step(project: WorkFolder, *, progress: ProgressFn = ignore) -> Analysis:
    """Analyse the song, reusing ``analysis.json`` when the song has not changed.

    Parameters
    ----------
    project : WorkFolder
        The work folder.
    progress : ProgressFn
        Receives ``Progress("analyze", i, n, item=step)`` (:data:`mvtimeline.audio.analyze.STEPS`).

    Returns
    -------
    Analysis
        Exactly as later steps load it from ``analysis.json`` (so cache keys agree).

    Raises
    ------
    InputError, AudioFormatError
        The song cannot be decoded.
    """
    from . import audio

    vocals = project.config.vocals
    digest = _analysis_digest(project.song, vocals)
    cached = project.cached_analysis(digest)
    if cached is not None:
        return cached
    analysis = audio.analyze(project.song, vocals=vocals, progress=progress)
    return project.save_analysis(analysis, digest)


def separate_step(project: WorkFolder, *, progress: ProgressFn = ignore) -> WorkFolder:
    """Make the song's vocal stem with Demucs when the settings ask for it (``separate``) and no
    stem is given: ``stems/vocals.wav`` in the work folder, kept for re-runs; the folder's settings
    then name it as ``vocals``.

    Parameters
    ----------
    project : WorkFolder
    progress : ProgressFn

    Returns
    -------
    WorkFolder
        The folder, with ``config.vocals`` set when a stem was made (saved).

    Raises
    ------
    ToolMissing, InputError, RunError
        As :func:`mvtimeline.audio.separate.separate_vocals`.
    """
    cfg = project.config
    if not cfg.separate or cfg.vocals is not None:
        return project
    from .audio.separate import separate_vocals

    stem = project.folder / STEM_FILE
    if not stem.exists():
        progress(Progress("separate", 0, 1))
        separate_vocals(project.song, stem, model=cfg.separate.get("model", "htdemucs"),
                        repo=cfg.separate.get("repo"), allow_download=bool(cfg.separate.get("allow_download")))
        progress(Progress("separate", 1, 1))
    project = project.with_config(cfg.replace(vocals=stem))
    project.save()
    return project


def _align_options(config: Config) -> dict[str, Any]:
    """The keyword options of :func:`mvtimeline.lyrics.align` a run's settings give.

    Parameters
    ----------
    config : Config

    Returns
    -------
    dict
        ``aligner``, ``whisper_model``, ``language``, ``allow_download``.
    """
    return {"aligner": config.aligner, "whisper_model": config.whisper_model, "language": config.language,
            "allow_download": config.whisper_download}


def align_step(project: WorkFolder, analysis: Analysis, *, lyrics: Lyrics | None = None,
               progress: ProgressFn = ignore) -> Lyrics:
    """Give every lyric line and word a time; saved as ``aligned.json``.

    Parameters
    ----------
    project : WorkFolder
        The work folder (its lyrics file is read unless ``lyrics`` is given).
    analysis : Analysis
        The song's analysis.
    lyrics : Lyrics, optional
        The lyrics as already read (:func:`check_inputs`).
    progress : ProgressFn

    Returns
    -------
    Lyrics
        Every line timed (no lines when the project has no lyrics).

    Raises
    ------
    LyricsFormatError
        The lyrics file cannot be read.
    ToolMissing
        Untimed lyrics and no espeak-ng.
    """
    from . import lyrics as lyr

    progress(Progress("align", 0, 1))
    if project.lyrics is None:
        aligned = Lyrics(path="", format="none", lines=())
    else:
        read = lyrics if lyrics is not None else lyr.read(project.lyrics, format=project.lyrics_format)
        aligned = lyr.align(read, project.song, analysis, **_align_options(project.config), progress=progress)
    project.save_aligned(aligned)
    progress(Progress("align", 1, 1))
    return aligned


def _segment_limits(project: WorkFolder, backend: Backend) -> tuple[float, float]:
    """The longest segment and the longest clip in one go, in seconds: the backend's, or the settings'."""
    max_s, clip_s = backend.max_seconds, backend.clip_seconds
    if project.config.max_segment_s:
        max_s = min(max_s, float(project.config.max_segment_s))
    if project.config.clip_s:
        clip_s = float(project.config.clip_s)
    return max_s, clip_s


def plan_step(project: WorkFolder, analysis: Analysis, aligned: Lyrics, *, replan: bool = False,
              backend: Backend | None = None, progress: ProgressFn = ignore) -> Plan:
    """Make ``plan.json``, keeping the user's edits of the one there.

    Parameters
    ----------
    project : WorkFolder
    analysis : Analysis
    aligned : Lyrics
        Timed lyrics.
    replan : bool
        Choose new cut points (segments whose bounds survive keep their edits).
    backend : Backend, optional
        Its ``max_seconds`` bounds the segments and its ``clip_seconds`` (the longest clip its model
        makes in one go) sets how long sung ones run; default: built from the project's settings.
    progress : ProgressFn

    Returns
    -------
    Plan

    Raises
    ------
    InputError
        Unknown style, or limits that cannot cover the song.
    """
    previous = project.existing_plan()
    progress(Progress("plan", 0, 1))
    p = _build_plan(project, analysis, aligned, previous=previous, replan=replan,
                    backend=backend or _backend(project.config))
    project.save_plan(p)
    progress(Progress("plan", 1, 1))
    return p


def _build_plan(project: WorkFolder, analysis: Analysis, aligned: Lyrics, *, previous: Plan | None, replan: bool,
                backend: Backend) -> Plan:
    """The plan the project's settings make, keeping ``previous``'s edits (checked, not saved)."""
    from . import plan as planner

    max_s, clip_s = _segment_limits(project, backend)
    p = planner.build(aligned, analysis, style=project.config.style, max_s=max_s, clip_s=min(clip_s, max_s),
                      dissolve_s=project.config.dissolve_s, title=project.name, previous=previous, replan=replan,
                      cut_rule=project.config.cut_rule, cast=cast_of(project.config.cast),
                      setting=project.config.setting, pace=project.config.pace)
    return planner.validate(p, max_s=max_s)


def _edited(project: WorkFolder, plan: Plan, segment: int, edits: dict[str, Any], backend: Backend) -> Plan:
    """``plan`` with a segment's edits (:func:`mvtimeline.plan.edit.edit_segment`); a new singer renders
    the segment's prompts again from the style (prompts the user edited stay)."""
    from .plan.edit import edit_segment as edit

    new = edit(plan, segment, **edits)
    if "singer" in edits and new != plan:  # the singer's looks begin the prompts
        new = _build_plan(project, project.load_analysis(), project.load_aligned(), previous=new, replan=False,
                          backend=backend)
    return new


def generate_step(project: WorkFolder, plan: Plan, analysis: Analysis, *, takes: Sequence[int] | None = None,
                  segments: Sequence[int] | None = None, backend: Backend | None = None,
                  progress: ProgressFn = ignore, executor: Any = None) -> Generated:
    """Make (or reuse from the cache) the clips of ``takes`` (default: each segment's chosen take).

    Parameters
    ----------
    project : WorkFolder
    plan : Plan
    analysis : Analysis
    takes : sequence of int >= 1, optional
        Takes to make of every segment.
    segments : sequence of int, optional
        Only these segments (a chaining backend also makes the clips before them).
    backend : Backend, optional
        Default: built from the project's settings.
    progress : ProgressFn
        Receives ``Progress("generate", clips_done, clips_total)`` and every clip's own events
        (``Progress("clip", done, total, item="segment 03 take 1", ...)``).
    executor : Executor, optional
        Where to make the clips (:mod:`mvtimeline.generate.executors`; a batch's shared one, left
        open); default: what the settings ask for (made and closed here).

    Returns
    -------
    Generated

    Raises
    ------
    InputError
        An unknown segment, a bad request (before anything is made).
    RunError
        The backend failed; the clips made before stay in the cache.
    """
    from . import generate

    gave_up: ClipsMissing | None = None
    backend = backend or _backend(project.config, stems_dir=project.stems_dir)
    if backend.wants_audio and backend.stems_dir is None:
        backend.stems_dir = project.stems_dir  # built before the folder existed
    reqs = project.clip_requests(plan, analysis, backend, takes=takes)
    chaining = backend.chain
    if segments:
        check_segments(segments, plan)
        # a chained clip needs the clips before it: make (or reuse) those too
        keep = set(segments) if not chaining else {s.index for s in plan.segments if s.index <= max(segments)}
        reqs = [r for r in reqs if r.segment_index in keep]
    total = len(reqs)
    progress(Progress("generate", 0, total))
    finished = 0

    def cb(event: Progress) -> None:  # a clip's events passed on; each finished one counted for the run
        nonlocal finished
        progress(event)
        if event.stage == "clip" and event.done >= event.total:
            finished += 1
            progress(Progress("generate", min(finished, total), total))

    if chaining:
        pairs = generate.chain(reqs, backend, project.clips_dir, make=True, progress=cb)
        reqs, results = [r for r, _ in pairs], [res for _, res in pairs]
    else:
        own = executor is None
        executor = _executor(project.config) if own else executor
        try:
            results = executor.run(reqs, backend=backend, cache_dir=project.clips_dir, progress=cb)
        except ClipsMissing as exc:  # the others are made: stand-ins for the missing ones, then say so
            gave_up = exc
            results = _with_placeholders(project, reqs, exc)
        finally:
            if own:
                executor.close()
    progress(Progress("generate", total, total))
    made = sum(1 for r in results if not r.cached)
    chosen = {s.index: s.take for s in plan.segments}
    out = {r.segment_index: (r, res) for r, res in zip(reqs, results) if r.take == chosen[r.segment_index]}
    missing = [s.index for s in plan.segments if s.index not in out and (not segments or s.index in segments)]
    if missing:  # the chosen take was not among those asked for: it must be in the cache already
        out.update({k: v for k, v in project.chosen_clips(plan, analysis, backend).items() if k in missing})
    return Generated(chosen=out, made=made, cached=len(results) - made, missing=gave_up)


def _with_placeholders(project: WorkFolder, reqs: Sequence[ClipRequest], exc: ClipsMissing) -> list[ClipResult]:
    """The results of ``reqs`` with a placeholder for each clip that failed: the procedural
    backend's clip of the same request (the still animated, or abstract light), in its own cache
    entry, so the project shows every segment and a re-run replaces them."""
    from .generate import get_backend, run

    failed = {(r.segment_index, r.take) for r, _ in exc.failed}
    made = iter(exc.made)
    placeholder = get_backend("procedural")
    out = []
    for req in reqs:
        if (req.segment_index, req.take) in failed:
            [res] = run([dataclasses.replace(req, audio=None, audio_sha256=None)], backend=placeholder,
                        cache_dir=project.clips_dir)
            out.append(dataclasses.replace(res, meta={**res.meta, "placeholder": True}))
        else:
            out.append(next(made))
    return out


def chosen_clips(project: WorkFolder, plan: Plan, analysis: Analysis, *, backend: Backend | None = None
                 ) -> dict[int, tuple[ClipRequest, ClipResult]]:
    """The cached clip of each segment's chosen take (see :meth:`WorkFolder.chosen_clips`).

    Parameters
    ----------
    project : WorkFolder
    plan : Plan
        Whose chosen takes to look up.
    analysis : Analysis
    backend : Backend, optional
        Default: built from the project's settings.

    Returns
    -------
    dict
        Segment index → (ClipRequest, ClipResult).

    Raises
    ------
    InputError
        A chosen take has not been generated (the message says how to make it).
    """
    return project.chosen_clips(plan, analysis, backend or _backend(project.config))


def all_takes(project: WorkFolder, clips: dict[int, tuple[ClipRequest, ClipResult]]) -> dict[int, list[ClipResult]]:
    """Every take in the cache of each segment (see :meth:`WorkFolder.all_takes`).

    Parameters
    ----------
    project : WorkFolder
    clips : dict
        Segment index → (ClipRequest, ClipResult) of the chosen take.

    Returns
    -------
    dict
        Segment index → its ClipResults, take 1 first.
    """
    return project.all_takes(clips)


def export_step(project: WorkFolder, plan: Plan, aligned: Lyrics, clips: dict[int, tuple[ClipRequest, ClipResult]],
                *, formats: Sequence[str] = EXPORT_FORMATS, analysis: Analysis | None = None,
                progress: ProgressFn = ignore) -> Exported:
    """Build the timeline and write it in each format.

    A file the user changed since mvtimeline wrote it is first moved to ``NAME.bak-<time>``.

    Parameters
    ----------
    project : WorkFolder
    plan : Plan
    aligned : Lyrics
    clips : mapping segment → (ClipRequest, ClipResult)
        The chosen take of each segment.
    formats : sequence of str
        Names from :data:`mvtimeline.timeline.export.FORMATS`.
    analysis : Analysis, optional
        Its downbeats become guides when the project asks for beat guides.
    progress : ProgressFn

    Returns
    -------
    Exported

    Raises
    ------
    InputError
        An unknown format (the known ones are listed).
    OutputError
        A file cannot be written.
    """
    from .timeline import export
    from .timeline.build import build
    from .timeline.kdenlive.xml import subtitles_paths

    _check_formats(formats)
    cfg = project.config
    downbeats = analysis.downbeat_times_s if (analysis is not None and cfg.beat_guides) else ()
    tl = build(plan, clips, aligned=aligned, fps=cfg.fps, width=cfg.width, height=cfg.height,
               audio_path=project.song, backend=cfg.backend, name=project.name,
               takes=project.all_takes(clips), downbeats_s=downbeats)
    written: list[Path] = []
    backups: list[Path] = []
    for i, fmt in enumerate(formats):
        progress(Progress("export", i, len(formats)))
        target = project.path(export.FORMATS[fmt])
        guarded = [target] + (list(subtitles_paths(target)) if fmt == "kdenlive" else [])
        for p in guarded:
            backup = project.protect(p)
            if backup is not None:
                backups.append(backup)
        export.write(tl, target, format=fmt, kdenlive_version=cfg.kdenlive_format)
        for p in guarded:
            if p.exists():
                project.remember(p)
        written.append(target)
    progress(Progress("export", len(formats), len(formats)))
    return Exported(written=written, backups=backups)


def render_step(project: WorkFolder, *, out: Path | None = None, preset: str | None = None,
                subtitles: bool = False, progress: ProgressFn = ignore, cluster: Any = None) -> Path:
    """Render the project's ``.kdenlive`` with melt to ``NAME.mp4`` (or ``out``), in a render preset.

    Parameters
    ----------
    project : WorkFolder
    out : Path, optional
        The video; default ``NAME`` with the preset's suffix (``.mp4``).
    preset : str, optional
        Render preset name or file.
    subtitles : bool
        Burn the lyrics in.
    progress : ProgressFn
    cluster : Cluster, optional
        Render as a CPU task on this Ray cluster (the project and its media sent by value, the
        video's bytes back).

    Returns
    -------
    Path
        The video written.

    Raises
    ------
    InputError
        An unknown preset, a project melt cannot render.
    RenderFailed
        melt failed.
    """
    from .render import load_preset, render

    rp = load_preset(preset) if preset else None
    target = out or project.path(rp.suffix if rp else ".mp4")
    if cluster is not None:
        from .generate.executors.cluster import render_on_worker
        from .render import portable

        progress(Progress("render", 0.0, 1.0))
        xml, files = portable(project.path(".kdenlive"))
        data = cluster.call(render_on_worker, project.path(".kdenlive").name, xml,
                            {name: path.read_bytes() for name, path in files.items()}, preset, subtitles,
                            target.suffix)
        atomic_write(target, data)
        progress(Progress("render", 1.0, 1.0))
        return target
    render(project.path(".kdenlive"), target, preset=rp, subtitles=subtitles, progress=progress)
    return target


def timing_in_folder(folder: Path, files: dict[str, Path | None], lyrics_format: str | None,
                     separate: dict[str, Any], analysis: Analysis | None, align: dict[str, Any] | None = None
                     ) -> tuple[Analysis, Lyrics, bytes | None]:
    """The song's separation (when asked), analysis (unless given) and alignment in a scratch
    ``folder``: what :func:`timing_step` runs on a Ray worker
    (``Cluster.call_with_files``: :func:`mvtimeline.generate.executors.cluster.run_with_files`
    writes the files sent by value there first).

    Parameters
    ----------
    folder : Path
        A temp folder for the work folder.
    files : dict
        ``song``, ``lyrics``, ``vocals`` → their files here (lyrics and vocals may be None).
    lyrics_format : str, optional
        Forced lyrics format.
    separate : dict
        Demucs settings when a stem is to be made here (``{}``: none).
    analysis : Analysis, optional
        The song's analysis when it is already made (then only the alignment runs).
    align : dict, optional
        The run's aligner settings (``aligner``, ``whisper_model``, ``language``, ``whisper_download``);
        the Whisper model is loaded once per worker process and kept for the next song.

    Returns
    -------
    (Analysis, Lyrics, bytes or None)
        The analysis, the timed lyrics and the stem's bytes when one was made here; their paths are
        this worker's, for the driver to put its own in.

    Raises
    ------
    MvtimelineError
        As :func:`analyze_step`, :func:`align_step`, :func:`separate_step`.
    """
    song_path, lyrics_path, vocals_path = files["song"], files.get("lyrics"), files.get("vocals")
    cfg = Config(vocals=vocals_path, separate=dict(separate), **(align or {}))
    project = WorkFolder.create(song_path, lyrics_path, folder / "work", cfg, lyrics_format=lyrics_format)
    project = separate_step(project)
    if analysis is not None:
        analysis = dataclasses.replace(analysis, audio_path=str(project.song),
                                       vocals_path=str(project.config.vocals or ""))
    else:
        analysis = analyze_step(project)
    aligned = align_step(project, analysis)
    stem = project.folder / STEM_FILE
    return analysis, aligned, stem.read_bytes() if (separate and vocals_path is None and stem.is_file()) else None


def timing_step(project: WorkFolder, cluster: Any, *, lyrics: Lyrics | None = None, progress: ProgressFn = ignore
                ) -> tuple[WorkFolder, Analysis, Lyrics]:
    """:func:`separate_step`, :func:`analyze_step` and :func:`align_step` as one CPU task on a Ray
    cluster (the song, lyrics and stem sent by value); saved here as those steps save them.

    Parameters
    ----------
    project : WorkFolder
    cluster : Cluster
        :class:`mvtimeline.generate.executors.cluster.Cluster`.
    lyrics : Lyrics, optional
        The lyrics as read (:func:`check_inputs`): the timed lyrics name its file.
    progress : ProgressFn

    Returns
    -------
    (WorkFolder, Analysis, Lyrics)
        The folder (its settings naming a stem made there), the analysis, the timed lyrics.
    """
    cfg = project.config
    stem = project.folder / STEM_FILE
    if cfg.separate and cfg.vocals is None and stem.exists():  # made by an earlier run
        project = separate_step(project)
        cfg = project.config
    vocals = cfg.vocals
    digest = _analysis_digest(project.song, vocals)
    cached = project.cached_analysis(digest)

    def named(path: Path | None) -> tuple[str, bytes] | None:
        return None if path is None else (Path(path).name, Path(path).read_bytes())

    progress(Progress("analyze", 0, 1))
    analysis, aligned, made = cluster.call_with_files(
        timing_in_folder,
        {"song": named(project.song), "lyrics": named(project.lyrics), "vocals": named(vocals)}, project.lyrics_format,
        dict(cfg.separate) if (cfg.separate and vocals is None) else {}, cached,
        {"aligner": cfg.aligner, "whisper_model": cfg.whisper_model, "language": cfg.language,
         "whisper_download": cfg.whisper_download})
    if made is not None:
        stem.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(stem, made)
        project = project.with_config(cfg.replace(vocals=stem))
        vocals = stem
        digest = _analysis_digest(project.song, stem)
    if cached is None or made is not None:
        analysis = project.save_analysis(dataclasses.replace(
            analysis, audio_path=str(project.song), vocals_path=str(vocals) if vocals is not None else ""), digest)
    else:
        analysis = cached
    project.save()
    progress(Progress("analyze", 1, 1))
    if lyrics is not None or project.lyrics is not None:
        aligned = dataclasses.replace(aligned, path=lyrics.path if lyrics is not None else str(project.lyrics))
    project.save_aligned(aligned)
    progress(Progress("align", 1, 1))
    return project, analysis, aligned


# --------------------------------------------------------------------------------------------- run
def run(song: Path, lyrics: Path | None, out_dir: Path, config: Config, *, lyrics_format: str | None = None,
        render: bool = False, preset: str | None = None, burn_subtitles: bool = False,
        formats: Sequence[str] = EXPORT_FORMATS, progress: ProgressFn = ignore, cluster: Any = None,
        force: bool = False, dry_run: bool = False) -> RunResult:
    """Song + lyrics → analysis, aligned lyrics, plan, clips, project files (and a render).

    Parameters
    ----------
    song : Path
        The song (any audio file ffmpeg decodes).
    lyrics : Path or None
        The lyrics file (any format :func:`mvtimeline.lyrics.read` reads).
    out_dir : Path
        The work folder (created).
    config : Config
        The settings.
    lyrics_format : str, optional
        Forced lyrics format.
    render : bool
        Also render ``NAME.mp4`` with melt.
    preset : str, optional
        Render preset (implies nothing by itself; see ``render``).
    burn_subtitles : bool
        Burn the lyrics into the render.
    formats : sequence of str
        Project formats to write.
    progress : ProgressFn
    cluster : Cluster, optional
        A batch's Ray cluster (:class:`mvtimeline.generate.executors.cluster.Cluster`): analysis, alignment
        and the render run there as CPU tasks, the clips on its shared executor.
    force : bool
        Go on although the alignment report says the lyrics do not fit the song, and write into a
        non-empty folder that is not a work folder (:func:`~mvtimeline.workfolder.check_out_folder`).
    dry_run : bool
        Stop after the plan (analysis, timing and plan are kept in the work folder for the real run):
        ``RunResult.pending`` says what making the clips would take and cost; nothing is generated.

    Returns
    -------
    RunResult

    Raises
    ------
    InputError
        Bad input, found before any heavy work starts (and before the work folder is made); a
        folder of the user's own files as ``out_dir``; lyrics the alignment report finds do not
        fit the song (:func:`check_alignment`; after ``aligned.json`` is written, before any clip).
    RunError
        Another command is writing the work folder.
    ClipsMissing
        The backend gave some clips up (a remote server failed after its retries): the project was
        written with placeholders for them; running again makes only those.
    RunError
        A stage failed (ffmpeg, melt, a backend).
    """
    inputs = check_inputs(song, lyrics, config, lyrics_format=lyrics_format, preset=preset,
                          burn_subtitles=burn_subtitles)
    check_out_folder(out_dir, song, force=force,
                     inputs=[p for p in (lyrics, *config.images, config.video) if p is not None])
    with writer_lock(ensure_dir(Path(out_dir)), "run --dry-run" if dry_run else "run"):
        return _run(song, lyrics, out_dir, config, inputs, lyrics_format=lyrics_format, render=render, preset=preset,
                    burn_subtitles=burn_subtitles, formats=formats, progress=progress, cluster=cluster, force=force,
                    dry_run=dry_run)


def check_alignment(project: WorkFolder, aligned: Lyrics, *, force: bool = False, lyrics: Path | None = None) -> None:
    """Stop a run whose lyrics the alignment report finds do not fit the song
    (:func:`mvtimeline.lyrics.align.report.assess`), before anything is generated.

    Parameters
    ----------
    project : WorkFolder
        The work folder (``aligned.json`` is already written there, to look at).
    aligned : Lyrics
        The aligned lyrics with their report.
    force : bool
        Only log the report's message, and go on.
    lyrics : Path, optional
        The user's lyrics file, named in the message (default: the work folder's copy).

    Raises
    ------
    InputError
        The report's verdict is not ok (its message, and how to go on).
    """
    from .lyrics.align.report import AlignmentReport

    rep = AlignmentReport.from_dict(aligned.report)
    if rep.ok:
        return
    if force:
        log.warning("%s (going on: --force)", rep.message)
        return
    name = lyrics or (project.lyrics.name if project.lyrics else "lyrics")
    raise InputError(f"{name}: {rep.message} Nothing generated; "
                     f"the times are in {project.folder / ALIGNED_FILE}; --force goes on anyway")


def _run(song: Path, lyrics: Path | None, out_dir: Path, config: Config, inputs: Any, *, lyrics_format: str | None,
         render: bool, preset: str | None, burn_subtitles: bool, formats: Sequence[str], progress: Progress,
         cluster: Any, force: bool, dry_run: bool = False) -> RunResult:
    """:func:`run` with its inputs checked and the work folder held."""
    project = WorkFolder.create(song, lyrics, out_dir, config, lyrics_format=lyrics_format)
    if cluster is None:
        project = separate_step(project, progress=progress)
        analysis = analyze_step(project, progress=progress)
        project.save()
        aligned = align_step(project, analysis, lyrics=inputs.lyrics, progress=progress)
    else:
        project, analysis, aligned = timing_step(project, cluster, lyrics=inputs.lyrics, progress=progress)
    check_alignment(project, aligned, force=force, lyrics=lyrics)
    plan = plan_step(project, analysis, aligned, backend=inputs.backend, progress=progress)
    takes = list(range(1, max(1, config.takes) + 1))
    if dry_run:
        from .generate.price import pending

        return RunResult(project=project, plan=plan, pending=pending(project, plan, analysis, inputs.backend,
                                                                     takes=takes))
    executor = None
    if cluster is not None and config.executor == "ray":
        executor = cluster.executor((config.backend, config.backend_settings()), shared_dir=config.shared_cache,
                                    keyframe_gpus=config.keyframe_gpus)
    gen = generate_step(project, plan, analysis, takes=takes, backend=inputs.backend, progress=progress,
                        executor=executor)
    exported = export_step(project, plan, aligned, gen.chosen, formats=formats, analysis=analysis,
                           progress=progress)
    result = RunResult(project=project, plan=plan, outputs=exported.written, clips_made=gen.made,
                       clips_cached=gen.cached, backups=exported.backups)
    if gen.missing is not None:
        raise ClipsMissing(f"{gen.missing}; the project shows placeholders (procedural clips) for them",
                           made=gen.missing.made, failed=gen.missing.failed)
    if render:
        result.render = render_step(project, preset=preset, subtitles=burn_subtitles, progress=progress,
                                    cluster=cluster)
    return result


# ---------------------------------------------------------------------------- single-stage commands
def analyze_song(song: Path, *, out: Path | None = None, vocals: Path | None = None) -> Analysis:
    """Analyse a song, and save the analysis to ``out`` when given.

    Parameters
    ----------
    song : Path
        Any audio file ffmpeg decodes.
    out : Path, optional
        Where to save ``analysis.json``.
    vocals : Path, optional
        The song's vocal stem (same duration and rate): the voice curve comes from it.

    Returns
    -------
    Analysis

    Raises
    ------
    InputError, AudioFormatError
        The song is missing or not audio.
    """
    from . import audio

    audio.check(Path(song))
    if vocals is not None:
        audio.check_stem(Path(vocals), Path(song))
    analysis = audio.analyze(Path(song), vocals=vocals)
    if out is not None:
        analysis.save(Path(out))
    return analysis


def align_lyrics(song: Path, lyrics: Path, out: Path, *, lyrics_format: str | None = None,
                 vocals: Path | None = None, separate: dict | None = None, plot: Path | None = None,
                 max_segment_s: float | None = None, cut_rule: str = "words", config: Config | None = None) -> Lyrics:
    """Time ``lyrics`` on ``song`` and write them to ``out`` in the format its suffix names.

    Parameters
    ----------
    song : Path
        The song.
    lyrics : Path
        The lyrics file.
    out : Path
        ``.lrc``, ``.elrc``, ``.srt``, ``.vtt``, ``.ass``, ``.json`` or ``.txt``.
    lyrics_format : str, optional
        Forced lyrics format.
    vocals : Path, optional
        The song's vocal stem (same duration and rate): the aligner listens to it.
    separate : dict, optional
        Make the stem with Demucs (``model``, ``repo``, ``allow_download``: see
        :func:`mvtimeline.audio.separate.separate_vocals`); written beside ``out`` as
        ``OUT.vocals.wav`` and reused when there.
    plot : Path, optional
        Also draw the alignment (voice, gaps, lines, words and the cuts a plan would make) as PNG.
    max_segment_s : float, optional
        The longest segment of the plan drawn in ``plot`` (default: the procedural backend's).
    cut_rule : str
        The cut rule of that plan.
    config : Config, optional
        The aligner settings (``aligner``, ``whisper_model``, ``language``, ``whisper_download``).

    Returns
    -------
    Lyrics
        Every line timed, as written.

    Raises
    ------
    InputError
        A bad song, stem, lyrics file or output format (checked before the song is analysed).
    """
    from . import audio
    from . import lyrics as lyr
    from .lyrics.formats import write_format_for

    out = Path(out)
    write_format_for(out, None)
    if plot is not None and Path(plot).suffix.lower() != ".png":
        raise InputError(f"{plot}: the alignment plot is written as PNG; name it *.png")
    cfg = config or Config()
    read = lyr.read(Path(lyrics), format=lyrics_format)
    audio.check(Path(song))
    if read.lines:
        lyr.choose_aligner(cfg.aligner, whisper_model=cfg.whisper_model, allow_download=cfg.whisper_download,
                           language=cfg.language, warn=False)
    if vocals is not None:
        audio.check_stem(Path(vocals), Path(song))
    elif separate:
        from .audio.separate import separate_vocals

        vocals = out.with_name(out.stem + ".vocals.wav")
        if not vocals.exists():
            separate_vocals(Path(song), vocals, model=separate.get("model", "htdemucs"), repo=separate.get("repo"),
                            allow_download=bool(separate.get("allow_download")))
        audio.check_stem(vocals, Path(song))
    analysis = audio.analyze(Path(song), vocals=vocals)
    aligned = lyr.align(read, Path(song), analysis, **_align_options(cfg))
    lyr.write(aligned, out)
    if plot is not None:
        from . import plan as planner
        from .outputs.alignplot import plot_alignment
        from .generate import get_backend

        be = get_backend("procedural")
        max_s = float(max_segment_s or be.max_seconds)
        p = planner.build(aligned, analysis, style="cinematic", max_s=max_s, clip_s=min(be.clip_seconds, max_s),
                          title=Path(song).stem, cut_rule=cut_rule)
        plot_alignment(Path(plot), analysis, aligned, p, title=f"{Path(song).name} — {Path(lyrics).name}")
    return aligned


@_holding("plan")
def replan(folder: WorkFolder | Path, *, style: str | None = None, replan: bool = False,
           cut_rule: str | None = None, pace: str | None = None, clip_s: float | None = None) -> Plan:
    """Make ``plan.json`` of a work folder again (another ``style`` is saved in the project).

    Parameters
    ----------
    folder : WorkFolder or Path
        The work folder.
    style : str, optional
        Another style (name or file) for the prompts.
    replan : bool
        Choose new cut points too.
    cut_rule : {"words", "lines", "beats"}, optional
        Another cut rule (saved in the project; new cut points are chosen).
    pace : {"calm", "steady", "energetic"}, optional
        Another pace (saved in the project; new cut points are chosen).
    clip_s : float, optional
        Another clip length of the model, in seconds (saved in the project; new cut points are chosen).

    Returns
    -------
    Plan

    Raises
    ------
    InputError
        Not a work folder, an unknown style, artifacts missing.
    """
    project = _folder(folder)
    changed = bool(cut_rule or pace or clip_s)
    if style or changed:
        from .plan import load_style

        if style:
            load_style(style)
        project = project.with_config(Config.from_options(base=project.config, style=style, cut_rule=cut_rule,
                                                          pace=pace, clip_s=clip_s))
        project.save()
    return plan_step(project, project.load_analysis(), project.load_aligned(), replan=replan or changed)


@_holding("generate")
def generate(folder: WorkFolder | Path, *, segments: Sequence[int] | None = None, takes: int | None = None,
             progress: ProgressFn = ignore, executor: str | None = None, ray_address: str | None = None,
             shared_cache: Path | None = None, keyframe_gpus: int | None = None) -> tuple[Generated, Exported | None]:
    """Make (or reuse) the clips of a work folder's plan: takes 1..``takes`` of each segment (or of
    ``segments``); the project files, when there are some, are written again with the new takes.

    Parameters
    ----------
    folder : WorkFolder or Path
        The work folder.
    segments : sequence of int, optional
        Only these segments.
    takes : int >= 1, optional
        Make takes 1..``takes``; default: each segment's chosen take.
    progress : ProgressFn
    executor, ray_address : str, optional
        Where to make the clips this time (``"local"``, ``"ray"``; default: the folder's setting).
    shared_cache : Path, optional
        Ray: a folder every machine sees, where workers write the clips.
    keyframe_gpus : int, optional
        Ray + diffusers: GPUs for the keyframe model alone.

    Returns
    -------
    (Generated, Exported or None)
        The clips, and the project files written again (None when there were none).

    Raises
    ------
    InputError
        Not a work folder, ``takes`` < 1, an unknown segment.
    RunError
        The backend failed.
    """
    if takes is not None:
        validate("takes", takes)
    project = _folder(folder)
    if executor is not None or ray_address is not None or shared_cache is not None or keyframe_gpus is not None:
        project = dataclasses.replace(project, config=Config.from_options(
            base=project.config, executor=executor, ray_address=ray_address, shared_cache=shared_cache,
            keyframe_gpus=keyframe_gpus))
    backend = _backend(project.config)
    analysis = project.load_analysis()
    plan = project.load_plan()
    gen = generate_step(project, plan, analysis, segments=segments or None, backend=backend,
                        takes=list(range(1, takes + 1)) if takes else None, progress=progress)
    exported = None
    if gen.missing is not None:
        raise gen.missing
    if project.path(".kdenlive").exists():  # new takes go into the project bin
        exported = export_step(project, plan, project.load_aligned(), timeline_clips(project, plan, analysis, backend),
                               formats=("kdenlive", "otio"), analysis=analysis)
    return gen, exported


@_holding("export")
def export(folder: WorkFolder | Path, *, formats: Sequence[str] = EXPORT_FORMATS) -> Exported:
    """Write the project of a work folder in ``formats`` again.

    Parameters
    ----------
    folder : WorkFolder or Path
        The work folder.
    formats : sequence of str
        Names from :data:`mvtimeline.timeline.export.FORMATS`.

    Returns
    -------
    Exported

    Raises
    ------
    InputError
        Not a work folder, an unknown format (checked first), a chosen take missing.
    """
    _check_formats(formats)
    project = _folder(folder)
    analysis = project.load_analysis()
    plan = project.load_plan()
    clips = chosen_clips(project, plan, analysis)
    return export_step(project, plan, project.load_aligned(), clips, formats=formats, analysis=analysis)


def import_clips(folder: Path, clips: list[Path], *, segment: int | None = None, offset_s: float | None = None,
                 pick: bool = False, whole: bool = False, min_confidence: float | None = None) -> list[Any]:
    """Import ``clips`` (files, or folders searched for videos) into the work folder ``folder``:
    each synced, trimmed and conformed into a new take of its segment
    (:func:`mvtimeline.generate.importer.import_takes`), then put in the project's bin (its
    ``.kdenlive`` and ``.otio`` written again), or with ``pick`` on its timeline.

    Parameters
    ----------
    folder : Path
        A work folder (``mvtimeline run`` made its plan and analysis).
    clips : list of Path
        Video files, or folders (a shot pack: each ``NN-…`` folder's videos).
    segment : int, optional
        The segment every clip is of (needed for a silent clip).
    offset_s : float, optional
        ``song_time = clip_time + offset_s``: skip the sync (a clip it cannot sync).
    pick : bool
        Also put each imported take on the timeline.
    whole : bool
        Each clip covers the whole song: synced once, cut into a take per segment.
    min_confidence : float, optional
        Refuse a sync whose margin over the runner-up is smaller (default
        :data:`mvtimeline.generate.importer.MIN_CONFIDENCE`).

    Returns
    -------
    list of Imported
        One row per clip (per segment with ``whole``), refused ones with ``result`` saying why.

    Raises
    ------
    InputError
        Not a work folder, and as :func:`mvtimeline.generate.importer.import_takes`.
    """
    from .generate.importer import MIN_CONFIDENCE, import_takes

    project = load_project(Path(folder))
    rows = import_takes(project, clips, backend=project_backend(project), segment=segment, offset_s=offset_s,
                        whole=whole, min_confidence=MIN_CONFIDENCE if min_confidence is None else min_confidence)
    made = [r for r in rows if r.ok]
    if made:
        if pick:
            _pick_all(project, made)
        elif project.path(".kdenlive").exists():  # the new takes into the bin
            _refresh_bin(project)
    return rows


@_holding("export")
def _refresh_bin(project: WorkFolder) -> Exported:
    """The ``.kdenlive`` and ``.otio`` written again with every take in the bin (a segment waiting for a
    re-roll shows a placeholder, :func:`timeline_clips`)."""
    plan = project.load_plan()
    analysis = project.load_analysis()
    return export_step(project, plan, project.load_aligned(), timeline_clips(project, plan, analysis),
                       formats=("kdenlive", "otio"), analysis=analysis)


def _pick_all(project: WorkFolder, rows: list[Any]) -> None:
    """Each imported take (``Imported`` rows) put on the timeline (:func:`pick`), its row saying so."""
    for r in rows:
        pick(project, r.segment, r.take)
        r.result += ", picked"


@_holding("pick")
def pick(project: WorkFolder | Path, segment: int, take: int, *, changes: dict[str, Any] | None = None,
         made_as: Any = None) -> Exported:
    """Make ``take`` the chosen take of ``segment`` in plan.json and put it on the timeline.

    A ``NAME.kdenlive`` mvtimeline wrote (unchanged since) is written again. One the user edited
    (in Kdenlive, say) is first copied to ``NAME.kdenlive.bak-<time>`` and then changed in place:
    only the segment's clip shows the new take, every other edit stays. The ``.otio`` is written
    again (an edited one moved aside first).

    Parameters
    ----------
    project : WorkFolder or Path
        The work folder.
    segment : int
        The segment's number.
    take : int >= 1
        The take to put on the timeline (it must have been generated).
    changes : dict, optional
        The segment's prompts, seed or keyframe the take was made with
        (:func:`mvtimeline.plan.edit.edit_segment`), saved with it.
    made_as : Segment, optional
        The segment as the take was made (a re-roll, :class:`NewTake`): it replaces plan.json's,
        whose bounds it must have.

    Returns
    -------
    Exported
        The files written and the copies of the user's files.

    Raises
    ------
    InputError
        No such segment, that take has not been generated, or the edited project no longer has
        the segment's clip (nothing is changed then).
    """
    from .plan import with_takes
    from .plan.edit import edit_segment as edit
    from .timeline.kdenlive.read import read_summary, resource_path, swap_take

    project = _folder(project)
    plan = project.load_plan()
    check_segments([segment], plan)
    if take < 1:
        raise InputError(f"take {take} must be 1 or more")
    analysis = project.load_analysis()
    aligned = project.load_aligned()
    backend = _backend(project.config)
    if made_as is not None:
        now = next(s for s in plan.segments if s.index == segment)
        if (now.start_s, now.end_s) != (made_as.start_s, made_as.end_s):
            raise InputError(f"segment {segment} was moved while its take {take} was being made; the take is in "
                             "the cache but no longer fits it")
        plan = dataclasses.replace(plan, segments=tuple(made_as if s.index == segment else s for s in plan.segments))
    new_plan = with_takes(edit(plan, segment, **changes) if changes else plan, {segment: take})
    clips = project.chosen_clips(new_plan, analysis, backend, missing_ok=True)
    if segment not in clips:  # before anything is written
        raise InputError(f"segment {segment} has no take {take}; make it with 'mvtimeline generate "
                         f"{project.folder} --segment {segment} --takes {take}'")
    clips = timeline_clips(project, new_plan, analysis, backend)
    kdenlive = project.path(".kdenlive")
    if not (kdenlive.exists() and project.is_user_edit(kdenlive)):
        project.save_plan(new_plan)
        return export_step(project, new_plan, aligned, clips, formats=("kdenlive", "otio"), analysis=analysis)

    # the segment's clip on the edited timeline: the bin clip named "NN take T" mvtimeline wrote there
    # (plan.json may have changed since: a prompt edited, a take waiting), else the chosen take's
    shown = {resource_path(c.resource, kdenlive.parent).resolve() for c in read_summary(kdenlive).clips
             if c.name.startswith(f"{segment:02d} take ")}
    old = project.chosen_clips(plan, analysis, backend, missing_ok=True).get(segment)
    if len(shown) == 1:
        old_clip = shown.pop()
    elif old is not None:
        old_clip = old[1].path
    else:
        raise InputError(f"segment {segment}: its clip on the edited {kdenlive.name} is not found; pick it there, or "
                         "move the edited file away to have mvtimeline write the project again")
    new_clip = clips[segment][1].path
    backup = backup_path(kdenlive)
    shutil.copy2(kdenlive, backup)
    try:
        swapped = swap_take(kdenlive, old_file=old_clip, new_file=new_clip, new_name=f"{segment:02d} take {take}")
    except InputError:
        backup.unlink(missing_ok=True)
        raise
    log.warning("%s was edited since mvtimeline wrote it: changed in place (%d clip(s) of segment %d now show "
                "take %d; a copy of it as it was is %s)", kdenlive.name, swapped, segment, take, backup.name)
    project.remember(kdenlive)
    project.save_plan(new_plan)
    exported = export_step(project, new_plan, aligned, clips, formats=("otio",), analysis=analysis)
    return Exported(written=[kdenlive, *exported.written], backups=[backup, *exported.backups])


def timeline_clips(project: WorkFolder, plan: Plan, analysis: Analysis, backend: Backend | None = None
                   ) -> dict[int, tuple[ClipRequest, ClipResult]]:
    """The chosen take of each segment, as :func:`chosen_clips`, but a segment whose chosen take is
    not made (its prompt, seed or bounds changed since: it waits for a re-roll) gets a placeholder
    (the procedural backend's clip of its request, flagged ``placeholder``) instead of stopping
    the export of every other segment.

    Parameters
    ----------
    project : WorkFolder
    plan : Plan
    analysis : Analysis
    backend : Backend, optional
        Default: built from the project's settings.

    Returns
    -------
    dict
        Segment index → (ClipRequest, ClipResult).
    """
    be = backend or _backend(project.config)
    clips = project.chosen_clips(plan, analysis, be, missing_ok=True)
    missing = [s.index for s in plan.segments if s.index not in clips]
    if not missing:
        return clips
    reqs = [r for r in project.clip_requests(plan, analysis, be) if r.segment_index in missing]
    log.warning("segment(s) %s have no clip of their chosen take yet: placeholders until they are made",
                ", ".join(str(i) for i in missing))
    made = _with_placeholders(project, reqs, ClipsMissing("", failed=[(r, "") for r in reqs]))
    clips.update({r.segment_index: (r, res) for r, res in zip(reqs, made)})
    return dict(sorted(clips.items()))


@_holding("review")
def edit_segment(folder: WorkFolder | Path, segment: int, **fields: Any) -> Plan:
    """Set a segment's prompts, singer, seed or keyframe image in plan.json (:func:`mvtimeline.plan.edit.edit_segment`).

    A new singer re-renders the segment's prompts from the style (a prompt the user edited stays);
    later re-plans keep every edit. The segment's clips of its old prompts stay in the cache; its
    chosen take must be made again (:func:`make_take`) before it shows the change.

    Parameters
    ----------
    folder : WorkFolder or Path
    segment : int
    **fields
        ``image_prompt``, ``motion_prompt``, ``negative_prompt``, ``singer``, ``seed``, ``image``.

    Returns
    -------
    Plan
        The plan as saved.

    Raises
    ------
    InputError
        Not a work folder, no such segment, a bad value, a keyframe image outside the folder or not an image.
    """
    project = _folder(folder)
    plan = project.load_plan()
    if fields.get("image"):
        _check_keyframe(project, str(fields["image"]))
    new = _edited(project, plan, segment, fields, _backend(project.config))
    if new != plan:
        project.save_plan(new)
    return new


def _check_keyframe(project: WorkFolder, image: str) -> None:
    from .fileio import inside_folder
    from .media import check_image

    path = inside_folder(project.folder, image)
    check_image(path, where="keyframe", decode=True)


@_holding("review")
def move_cut(folder: WorkFolder | Path, segment: int, time_s: float) -> tuple[Plan, float, list[int]]:
    """Move the cut at the start of ``segment`` to the gap between lines or words nearest ``time_s``
    (:func:`mvtimeline.plan.edit.move_cut`) and save plan.json. The two segments it joins keep
    their seeds and edits; their clips no longer fit and are made again by a re-roll.

    Parameters
    ----------
    folder : WorkFolder or Path
    segment : int
        The segment whose start moves (2 .. the last).
    time_s : float
        Where the person dropped it, in seconds of the song.

    Returns
    -------
    (Plan, float, list of int)
        The plan as saved, the cut's time, the segments it invalidates.

    Raises
    ------
    InputError
        Not a work folder, no such segment, the first one, or no gap to move it to.
    """
    from .plan.edit import move_cut as move

    project = _folder(folder)
    plan = project.load_plan()
    analysis = project.load_analysis()
    aligned = project.load_aligned()
    be = _backend(project.config)
    new, cut, invalid = move(plan, analysis, aligned.lines, segment, float(time_s), **_cut_bounds(project, plan, be))
    if invalid:
        project.save_plan(new)
        new = plan_step(project, analysis, aligned, backend=be)  # the lyrics and prompts of the new bounds
    return new, cut.time_s, invalid


def _cut_bounds(project: WorkFolder, plan: Plan, backend: Backend) -> dict[str, float | None]:
    """How short and how long a segment a moved cut may leave (seconds): twice the dissolve (at least
    0.5 s), and the backend's or the settings' longest segment."""
    max_s, _ = _segment_limits(project, backend)
    return {"min_s": max(2 * plan.dissolve_s, 0.5), "max_s": max_s if max_s != float("inf") else None}


def cut_choices(folder: WorkFolder | Path, segment: int) -> list[Any]:
    """Where the cut at the start of ``segment`` may move (:func:`mvtimeline.plan.edit.cut_choices`,
    with the bounds :func:`move_cut` keeps).

    Parameters
    ----------
    folder : WorkFolder or Path
    segment : int

    Returns
    -------
    list of Cut

    Raises
    ------
    InputError
        Not a work folder, no such segment, the first one.
    """
    from .plan.edit import cut_choices as choices

    project = _folder(folder)
    plan = project.load_plan()
    return choices(plan, project.load_analysis(), project.load_aligned().lines, segment,
                   **_cut_bounds(project, plan, _backend(project.config)))


@_holding("pick")
def restore_take(folder: WorkFolder | Path, segment: int, key: str, take: int) -> Exported:
    """Put back on the timeline a take of ``segment`` made before its prompts or seed were edited: the
    segment's prompts, seed and keyframe become those the take was made with (from its clip record),
    and the take is picked (:func:`pick`).

    Parameters
    ----------
    folder : WorkFolder or Path
    segment : int
    key : str
        The take's cache key (its folder in ``clips/``).
    take : int

    Returns
    -------
    Exported

    Raises
    ------
    InputError
        No such take of that segment, or the segment's bounds or the settings changed since it was made
        (its clip no longer fits: nothing is changed then).
    """
    from . import generate
    from .plan import with_takes
    from .plan.edit import edit_segment as edit
    from .types import TAKE_SEED_STEP

    project = _folder(folder)
    plan = project.load_plan()
    check_segments([segment], plan)
    record = generate.find_clip(project.clips_dir, key, take) if key.isalnum() else None
    req = (record or {}).get("request") or {}
    if record is None or req.get("segment_index") != segment:
        raise InputError(f"segment {segment} has no take {take} in clips/{key}")
    fields: dict[str, Any] = {name: req[name] for name in ("image_prompt", "motion_prompt", "negative_prompt")}
    fields["seed"] = int(req["seed"]) - (int(req["take"]) - 1) * TAKE_SEED_STEP
    image = req.get("image")
    own = next(s for s in plan.segments if s.index == segment).image
    if image and Path(image).is_file() and Path(image).resolve().is_relative_to(project.folder.resolve()):
        fields["image"] = Path(image).resolve().relative_to(project.folder.resolve()).as_posix()
    elif own:
        fields["image"] = ""
    restored = with_takes(edit(plan, segment, **fields), {segment: take})
    be = _backend(project.config)
    now = [r for r in project.clip_requests(restored, project.load_analysis(), be) if r.segment_index == segment]
    if not now or now[0].key(be.name, be.version, be.model_id) != key:
        raise InputError(f"segment {segment} take {take} of clips/{key} was made for other bounds or settings; it "
                         "no longer fits the segment")
    return pick(project, segment, take, changes=fields)


@dataclass(frozen=True)
class NewTake:
    """A take :func:`make_take` made: its segment and number, whether it must become the chosen
    take (the segment's prompts or bounds changed, so the old chosen take no longer applies), the
    clip, and the segment's fields it was made with where they differ from plan.json's."""

    segment: int
    take: int
    choose: bool
    clip: ClipResult
    changes: dict[str, Any] = field(default_factory=dict)  # the segment's fields as the take was made
    made_as: Any = None  # the Segment as the take was made (prompts rendered for a new singer included)


@_holding("review re-roll")
def make_take(folder: WorkFolder | Path, segment: int, *, edits: dict[str, Any] | None = None,
              progress: ProgressFn = ignore, backend: Backend | None = None) -> NewTake:
    """Make another take of ``segment`` with the work folder's backend and executor: its chosen take
    when that is not made (after an edit or a moved cut), else the next take number (a new seed).
    ``edits`` (:func:`edit_segment`'s fields) apply to this take and are saved with it
    (:func:`place_take`). Nothing but the clip cache is written here.

    Parameters
    ----------
    folder : WorkFolder or Path
    segment : int
    edits : dict, optional
        Prompts, singer, seed or keyframe image for this take.
    progress : ProgressFn
        The clip's events.
    backend : Backend, optional
        Default: built from the settings (pass one to be able to ``cancel()`` it).

    Returns
    -------
    NewTake

    Raises
    ------
    InputError
        No such segment, a bad edit.
    RunError
        The backend failed (``Cancelled`` when the progress callback stopped it).
    """
    from . import generate
    from .plan import with_takes
    from .plan.edit import EDITABLE

    project = _folder(folder)
    plan = project.load_plan()
    check_segments([segment], plan)
    if edits and edits.get("image"):
        _check_keyframe(project, str(edits["image"]))
    be = backend or _backend(project.config, stems_dir=project.stems_dir)
    work = _edited(project, plan, segment, edits, be) if edits else plan
    analysis = project.load_analysis()
    seg = next(s for s in work.segments if s.index == segment)
    before = next(s for s in plan.segments if s.index == segment)
    changes = {k: getattr(seg, k) for k in EDITABLE if getattr(seg, k) != getattr(before, k)}
    req = next(r for r in project.clip_requests(work, analysis, be) if r.segment_index == segment)
    key = req.key(be.name, be.version, be.model_id)
    made = list(generate.takes_of(project.clips_dir, key))
    choose = seg.take not in made
    take = seg.take if choose else max(made) + 1
    gen = generate_step(project, with_takes(work, {segment: take}), analysis, segments=[segment], backend=be,
                        progress=progress)
    if gen.missing is not None:
        raise gen.missing
    return NewTake(segment=segment, take=take, choose=choose or bool(changes), clip=gen.chosen[segment][1],
                   changes=changes, made_as=seg)


@_holding("review")
def place_take(folder: WorkFolder | Path, new: NewTake) -> Exported | None:
    """Put a take :func:`make_take` made into the project: made with changes (saved to plan.json with it)
    or replacing a chosen take that no longer applies, on the timeline (:func:`pick`); else in the bin
    (the ``.kdenlive`` and ``.otio`` written again, as ``generate`` does).

    Parameters
    ----------
    folder : WorkFolder or Path
    new : NewTake

    Returns
    -------
    Exported or None
        The project files written (None: the folder has no project files yet).
    """
    project = _folder(folder)
    if new.choose:  # the plan as it is now: picks made while the take was being made stay
        return pick(project, new.segment, new.take, made_as=new.made_as if new.changes else None)
    if not project.path(".kdenlive").exists():
        return None
    return _refresh_bin(project)


def run_demo(out_dir: Path, config: Config, *, render: bool = True, progress: ProgressFn | None = None
             ) -> tuple[Any, RunResult]:
    """Synthesize the demo song into ``out_dir/source`` and run the whole job on it into
    ``out_dir/project``.

    Parameters
    ----------
    out_dir : Path
        Where the song (``source/``) and the work folder (``project/``) go.
    config : Config
        The run's settings.
    render : bool
        Render the project with melt at the end.
    progress : ProgressFn, optional
        Receives the run's progress events.

    Returns
    -------
    (DemoSong, RunResult)

    Raises
    ------
    ToolMissing
        espeak-ng is not installed.
    """
    from .audio.demo import synthesize

    song = synthesize(Path(out_dir) / "source")
    kwargs = {"progress": progress} if progress is not None else {}
    result = run(song.audio_path, song.lyrics_path, Path(out_dir) / "project", config, render=render, **kwargs)
    return song, result
