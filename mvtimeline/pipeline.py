"""The only module (with cli.py) that calls several stages: a work folder from song to project.

A work folder holds ``project.json`` (the run's settings), ``analysis.json``, ``aligned.json``,
``plan.json``, ``clips/`` (the cache), and the outputs ``NAME.kdenlive`` (+ ``NAME.kdenlive.srt``),
``NAME.otio``, ``NAME.srt`` and, when rendered, ``NAME.mp4``.

Public: Project, run, analyze_step, align_step, plan_step, generate_step, export_step, render_step,
clip_requests, load_project.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from .config import Config
from .errors import InputError, RunError
from .fileio import atomic_path, atomic_write, backup_path, ensure_dir, read_json, write_json
from .frames import seconds_to_frame
from .types import Analysis, ClipRequest, ClipResult, Lyrics, Plan

__all__ = [
    "Project",
    "RunResult",
    "Generated",
    "Exported",
    "run",
    "load_project",
    "analyze_step",
    "align_step",
    "plan_step",
    "generate_step",
    "export_step",
    "render_step",
    "clip_requests",
    "chosen_clips",
    "all_takes",
    "pick",
    "EXPORT_FORMATS",
]

log = logging.getLogger(__name__)

#: progress(stage, done, total): stage is "analyze", "align", "plan", "generate: <clip>", "export", "render"
Progress = Callable[[str, float, float], None]

EXPORT_FORMATS = ("kdenlive", "otio", "srt", "ass")
_STATE = ".mvtimeline-state.json"


@dataclass(frozen=True)
class Exported:
    """Files an export wrote, and the user-edited files it moved aside first."""

    written: list[Path]
    backups: list[Path]


@dataclass(frozen=True)
class Project:
    """The settings of a work folder, saved as ``project.json``. Paths are stored relative to it."""

    folder: Path
    name: str
    song: Path
    lyrics: Path | None
    lyrics_format: str | None
    config: Config

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        return {
            "kind": "project", "schema": 1, "name": self.name,
            "song": _rel(self.song, self.folder),
            "lyrics": _rel(self.lyrics, self.folder) if self.lyrics else None,
            "lyrics_format": self.lyrics_format,
            "fps": f"{c.fps.numerator}/{c.fps.denominator}", "width": c.width, "height": c.height,
            "backend": c.backend, "style": c.style, "dissolve_s": c.dissolve_s, "max_segment_s": c.max_segment_s,
            "takes": c.takes, "images": [_rel(p, self.folder) for p in c.images],
            "beat_guides": c.beat_guides, "kdenlive_format": c.kdenlive_format,
            "video": _rel(c.video, self.folder) if c.video else None, "pingpong": c.pingpong,
            "crop_bottom": c.crop_bottom,
            "diffusers": dict(c.diffusers),
        }

    def save(self) -> Path:
        return write_json(self.folder / "project.json", self.to_dict())

    def path(self, suffix: str) -> Path:
        return self.folder / f"{self.name}{suffix}"


def _rel(p: Path, base: Path) -> str:
    p, base = Path(p).resolve(), Path(base).resolve()
    try:
        return str(p.relative_to(base))
    except ValueError:
        return str(p)


def load_project(folder: Path) -> Project:
    """Read ``project.json`` of a work folder made by ``mvtimeline run``.

    Raises
    ------
    InputError
        The folder has no (valid) project.json.
    """
    folder = Path(folder)
    if not (folder / "project.json").exists():
        raise InputError(f"{folder}: not an mvtimeline work folder (no project.json); make one with 'mvtimeline run'")
    d = read_json(folder / "project.json", kind="project")
    try:
        cfg = Config(fps=Fraction(d["fps"]), width=int(d["width"]), height=int(d["height"]),
                     backend=d["backend"], style=d["style"], dissolve_s=float(d["dissolve_s"]),
                     max_segment_s=d.get("max_segment_s"), takes=int(d.get("takes", 1)),
                     beat_guides=bool(d.get("beat_guides", False)),
                     kdenlive_format=str(d.get("kdenlive_format", "1.04")),
                     video=folder / d["video"] if d.get("video") else None,
                     pingpong=bool(d.get("pingpong", False)), crop_bottom=float(d.get("crop_bottom", 0.0)),
                     diffusers=dict(d.get("diffusers") or {}),
                     images=tuple(folder / p for p in d.get("images", [])))
        return Project(folder=folder, name=d["name"], song=folder / d["song"],
                       lyrics=folder / d["lyrics"] if d.get("lyrics") else None,
                       lyrics_format=d.get("lyrics_format"), config=cfg)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{folder / 'project.json'}: malformed ({exc})") from None


def _noop(stage: str, done: float, total: float) -> None:
    pass


# -------------------------------------------------------------------------------------------- steps
def analyze_step(project: Project, *, progress: Progress = _noop) -> Analysis:
    """Analyse the song (reusing analysis.json when the song has not changed)."""
    from . import audio

    out = project.folder / "analysis.json"
    digest = _sha256(project.song)
    if out.exists():
        try:
            a = Analysis.load(out)
            if json.loads(out.read_text()).get("audio_sha256") == digest:
                return a
        except InputError:
            pass
    steps = ["decode", "beats", "loudness", "voice", "sections"]
    a = audio.analyze(project.song, progress=lambda s: progress("analyze", steps.index(s), len(steps)))
    d = a.to_dict()
    d["audio_sha256"] = digest
    write_json(out, d)
    progress("analyze", len(steps), len(steps))
    return Analysis.from_dict(d)  # exactly what later steps load from analysis.json (same cache keys)


def align_step(project: Project, analysis: Analysis, *, progress: Progress = _noop) -> Lyrics:
    """Read the lyrics and give every line a time; saved as aligned.json."""
    from . import lyrics as lyr

    progress("align", 0, 1)
    if project.lyrics is None:
        aligned = Lyrics(path="", format="none", lines=())
    else:
        read = lyr.read(project.lyrics, format=project.lyrics_format)
        aligned = lyr.align(read, project.song, analysis)
    aligned.save(project.folder / "aligned.json")
    progress("align", 1, 1)
    return aligned


def _max_segment_s(project: Project) -> float:
    from .generate import get_backend

    backend = get_backend(project.config.backend, **project.config.backend_settings())
    limit = backend.max_seconds
    if project.config.max_segment_s:
        limit = min(limit, float(project.config.max_segment_s))
    return limit


def plan_step(project: Project, analysis: Analysis, aligned: Lyrics, *, replan: bool = False,
              progress: Progress = _noop) -> Plan:
    """Build plan.json, keeping the user's edits of an existing one."""
    from . import plan as planner

    path = project.folder / "plan.json"
    previous = Plan.load(path) if path.exists() else None
    progress("plan", 0, 1)
    max_s = _max_segment_s(project)
    p = planner.build(aligned, analysis, style=project.config.style, max_s=max_s,
                      dissolve_s=project.config.dissolve_s, title=project.name, previous=previous, replan=replan)
    planner.validate(p, max_s=max_s)
    p.save(path)
    progress("plan", 1, 1)
    return p


def clip_requests(plan: Plan, analysis: Analysis, config: Config, *, takes: Sequence[int] | None = None
                  ) -> list[ClipRequest]:
    """One request per segment (and per take in ``takes``; default: the segment's chosen take)."""
    from .generate import image_sha256
    from .frames import segment_frames

    fps = config.fps
    frames = segment_frames(plan, fps, head_s=config.head_s, tail_s=config.tail_s)
    sections: list[str] = []
    images = list(config.images)
    hashes = {p: image_sha256(p) for p in images}
    out = []
    for seg, f in zip(plan.segments, frames):
        if seg.section not in sections:
            sections.append(seg.section)
        first = f.start_frame - f.head_frames
        clip_start_s = float(Fraction(first) / fps)
        n = f.clip_frames
        loud = tuple(round(analysis.curve_at("loudness", max(0.0, clip_start_s + float(Fraction(i) / fps))), 3)
                     for i in range(n))
        end_s = clip_start_s + float(Fraction(n) / fps)
        downs = tuple(round(d - clip_start_s, 4) for d in analysis.downbeat_times_s if clip_start_s <= d < end_s)
        image = images[(seg.index - 1) % len(images)] if images else None
        for take in (takes or [seg.take]):
            out.append(ClipRequest(
                segment_index=seg.index, take=take, section=seg.section, section_index=sections.index(seg.section),
                image_prompt=seg.image_prompt, motion_prompt=seg.motion_prompt,
                negative_prompt=seg.negative_prompt, seed=seg.seed, width=config.width, height=config.height,
                fps=fps, n_frames=n, head_frames=f.head_frames, tail_frames=f.tail_frames,
                clip_start_s=round(clip_start_s, 6), tempo_bpm=analysis.tempo_bpm, downbeats_s=downs,
                loudness=loud, image=str(image) if image else None,
                image_sha256=hashes[image] if image else None,
            ))
    if config.video is not None or config.crop_bottom or config.pingpong:
        from .generate.loop import with_source

        out = with_source(out, video=config.video, pingpong=config.pingpong, crop_bottom=config.crop_bottom)
    return out


@dataclass(frozen=True)
class Generated:
    """What generate_step did: the chosen take of each segment, and how many clips were encoded."""

    chosen: dict[int, tuple[ClipRequest, ClipResult]]
    made: int
    cached: int


def generate_step(project: Project, plan: Plan, analysis: Analysis, *, takes: Sequence[int] | None = None,
                  segments: Sequence[int] | None = None, progress: Progress = _noop) -> Generated:
    """Make (or reuse from the cache) the clips of ``takes`` (default: each segment's chosen take)."""
    from . import generate

    backend = generate.get_backend(project.config.backend, **project.config.backend_settings())
    reqs = clip_requests(plan, analysis, project.config, takes=takes)
    chain = bool(getattr(backend, "chain", False))
    if segments:
        known = {s.index for s in plan.segments}
        bad = [s for s in segments if s not in known]
        if bad:
            raise InputError(f"plan has no segment {bad[0]}; segments are 1..{len(plan.segments)}")
        # a chained clip needs the clips before it: make (or reuse) those too
        keep = set(segments) if not chain else {s.index for s in plan.segments if s.index <= max(segments)}
        reqs = [r for r in reqs if r.segment_index in keep]
    total = len(reqs)

    def cb(label: str, done: int, n: int) -> None:
        progress(f"generate: {label}", done, n)

    if chain:
        pairs = _chained(reqs, backend, project.folder / "clips", make=True, progress=cb)
        reqs, results = [r for r, _ in pairs], [res for _, res in pairs]
    else:
        results = generate.run(reqs, backend=backend, cache_dir=project.folder / "clips", progress=cb)
    progress("generate", total, total)
    made = sum(1 for r in results if not r.cached)
    chosen = {s.index: s.take for s in plan.segments}
    out = {r.segment_index: (r, res) for r, res in zip(reqs, results) if r.take == chosen[r.segment_index]}
    missing = [s.index for s in plan.segments if s.index not in out and (not segments or s.index in segments)]
    if missing:  # the chosen take was not among those asked for: it must be in the cache already
        out.update({k: v for k, v in chosen_clips(project, plan, analysis).items() if k in missing})
    return Generated(chosen=out, made=made, cached=len(results) - made)


def chosen_clips(project: Project, plan: Plan, analysis: Analysis) -> dict[int, tuple[ClipRequest, ClipResult]]:
    """The cached clip of each segment's chosen take, without generating anything.

    Raises
    ------
    InputError
        A chosen take has not been generated (the message says how to make it).
    """
    from . import generate

    backend = generate.get_backend(project.config.backend, **project.config.backend_settings())
    out = {}
    reqs = clip_requests(plan, analysis, project.config)
    if getattr(backend, "chain", False):
        reqs = [r for r, _ in _chained(reqs, backend, project.folder / "clips", make=False)]
    for req in reqs:
        key = req.key(backend.name, backend.version, backend.model_id)
        record = generate.find_clip(project.folder / "clips", key, req.take)
        if record is None:
            raise InputError(f"segment {req.segment_index} has no take {req.take}; make it with "
                             f"'mvtimeline generate {project.folder} --segment {req.segment_index} --takes {req.take}'")
        mp4, _ = generate.clip_paths(project.folder / "clips", key, req.take)
        out[req.segment_index] = (req, ClipResult(path=mp4, key=key, take=req.take, n_frames=req.n_frames,
                                                  fps=req.fps, cached=True, seconds=0.0, meta=record))
    return out


def _chained(reqs: Sequence[ClipRequest], backend: Any, cache_dir: Path, *, make: bool,
             progress: Callable[[str, int, int], None] | None = None) -> list[tuple[ClipRequest, ClipResult | None]]:
    """Requests in segment order per take, each with the previous clip's last frame as its image.

    With ``make`` the clips are generated (or reused) one by one; else they are only looked up in
    the cache (a missing one ends the chain: the requests after it keep their own image, and
    ``chosen_clips`` reports the first missing clip). The last frame is kept as
    ``clips/<key>/take-N.last.png``, so the next clip's key follows the previous clip's content.
    """
    from . import generate
    from .media import last_frame_png

    order = sorted(range(len(reqs)), key=lambda i: (reqs[i].take, reqs[i].segment_index))
    out: dict[int, tuple[ClipRequest, ClipResult | None]] = {}
    previous: dict[int, Path | None] = {}
    for i in order:
        req = reqs[i]
        png = previous.get(req.take)
        if png is not None:
            req = dataclasses.replace(req, image=str(png), image_sha256=generate.image_sha256(png))
        elif req.image is not None and req.image_sha256 is None:
            req = dataclasses.replace(req, image_sha256=generate.image_sha256(req.image))
        if make:
            [res] = generate.run([req], backend=backend, cache_dir=cache_dir, progress=progress)
            mp4: Path | None = res.path
        else:
            res = None
            key = req.key(backend.name, backend.version, backend.model_id)
            mp4 = generate.clip_paths(cache_dir, key, req.take)[0]
            if generate.find_clip(cache_dir, key, req.take) is None:
                mp4 = None
        if mp4 is not None:
            png = mp4.with_name(f"take-{req.take}.last.png")
            if not png.is_file():
                last_frame_png(mp4, png)
        previous[req.take] = png if mp4 is not None else None
        out[i] = (req, res)
    return [out[i] for i in range(len(reqs))]


def all_takes(project: Project, clips: dict[int, tuple[ClipRequest, ClipResult]]) -> dict[int, list[ClipResult]]:
    """Every generated take in the cache of each segment (same key as its chosen take)."""
    from . import generate

    out: dict[int, list[ClipResult]] = {}
    for index, (req, res) in clips.items():
        folder = project.folder / "clips" / res.key
        found = []
        for meta in sorted(folder.glob("take-*.json")):
            try:
                take = int(meta.stem.split("-", 1)[1])
            except ValueError:
                continue
            record = generate.find_clip(project.folder / "clips", res.key, take)
            if record is None:
                continue
            mp4, _ = generate.clip_paths(project.folder / "clips", res.key, take)
            found.append(ClipResult(path=mp4, key=res.key, take=take, n_frames=req.n_frames, fps=req.fps,
                                    cached=True, seconds=0.0, meta=record))
        out[index] = sorted(found, key=lambda r: r.take) or [res]
    return out


def export_step(project: Project, plan: Plan, aligned: Lyrics, clips: dict[int, tuple[ClipRequest, ClipResult]],
                *, formats: Sequence[str] = EXPORT_FORMATS, analysis: Analysis | None = None,
                progress: Progress = _noop) -> Exported:
    """Build the timeline and write it in each format.

    A file the user changed since mvtimeline wrote it is first moved to ``NAME.bak-<time>``.
    """
    from .timeline import export
    from .timeline.kdenlive import subtitles_paths

    unknown = [f for f in formats if f not in export.FORMATS]
    if unknown:
        raise InputError(f"unknown format {unknown[0]!r}; known: {', '.join(export.FORMATS)}")
    from .timeline.build import build

    cfg = project.config
    downbeats = analysis.downbeat_times_s if (analysis is not None and cfg.beat_guides) else ()
    tl = build(plan, clips, aligned=aligned, fps=cfg.fps, width=cfg.width, height=cfg.height,
               audio_path=project.song, backend=cfg.backend, name=project.name,
               takes=all_takes(project, clips), downbeats_s=downbeats)
    written: list[Path] = []
    backups: list[Path] = []
    for i, fmt in enumerate(formats):
        progress("export", i, len(formats))
        target = project.path(export.FORMATS[fmt])
        guarded = [target] + (list(subtitles_paths(target)) if fmt == "kdenlive" else [])
        for p in guarded:
            backup = _protect_user_edit(project.folder, p)
            if backup is not None:
                backups.append(backup)
        export.write(tl, target, format=fmt, kdenlive_version=cfg.kdenlive_format)
        for p in guarded:
            if p.exists():
                _remember(project.folder, p)
        written.append(target)
    progress("export", len(formats), len(formats))
    return Exported(written=written, backups=backups)


def pick(project: Project, segment: int, take: int) -> Exported:
    """Make ``take`` the chosen take of ``segment`` in plan.json and put it on the timeline.

    A ``NAME.kdenlive`` mvtimeline wrote (unchanged since) is written again. One the user edited
    (in Kdenlive, say) is first copied to ``NAME.kdenlive.bak-<time>`` and then changed in place:
    only the segment's clip shows the new take, every other edit stays. The ``.otio`` is written
    again (an edited one moved aside first).

    Raises
    ------
    InputError
        No such segment, that take has not been generated, or the edited project no longer has
        the segment's clip (nothing is changed then).
    """
    from .plan import with_takes
    from .timeline.kdenlive_read import swap_take

    plan = Plan.load(project.folder / "plan.json")
    if segment not in {s.index for s in plan.segments}:
        raise InputError(f"plan has no segment {segment}; segments are 1..{len(plan.segments)}")
    if take < 1:
        raise InputError(f"take {take} must be 1 or more")
    analysis = Analysis.load(project.folder / "analysis.json")
    aligned = Lyrics.load(project.folder / "aligned.json")
    new_plan = with_takes(plan, {segment: take})
    clips = chosen_clips(project, new_plan, analysis)  # raises before anything is written
    kdenlive = project.path(".kdenlive")
    if not (kdenlive.exists() and _is_user_edit(project.folder, kdenlive)):
        new_plan.save(project.folder / "plan.json")
        return export_step(project, new_plan, aligned, clips, formats=("kdenlive", "otio"), analysis=analysis)

    old_clip = chosen_clips(project, plan, analysis)[segment][1].path
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
    _remember(project.folder, kdenlive)
    new_plan.save(project.folder / "plan.json")
    exported = export_step(project, new_plan, aligned, clips, formats=("otio",), analysis=analysis)
    return Exported(written=[kdenlive, *exported.written], backups=[backup, *exported.backups])


def render_step(project: Project, *, out: Path | None = None, preset: str | None = None,
                subtitles: bool = False, progress: Progress = _noop) -> Path:
    """Render the project's .kdenlive with melt to NAME.mp4 (or ``out``), in a render preset."""
    from .render import load_preset, render

    rp = load_preset(preset) if preset else None
    target = out or project.path(rp.suffix if rp else ".mp4")
    render(project.path(".kdenlive"), target, preset=rp, subtitles=subtitles,
           progress=lambda f: progress("render", f, 1.0))
    return target


# ------------------------------------------------------------------------------ user edits are kept
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _state(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / _STATE).read_text())
    except (OSError, ValueError):
        return {}


def _remember(folder: Path, path: Path) -> None:
    state = _state(folder)
    state[path.name] = _sha256(path)
    atomic_write(folder / _STATE, json.dumps(state, indent=1))


def _is_user_edit(folder: Path, path: Path) -> bool:
    """``path`` differs from what mvtimeline last wrote there."""
    return _state(folder).get(path.name) != _sha256(path)


def _protect_user_edit(folder: Path, path: Path) -> Path | None:
    """If ``path`` differs from what mvtimeline last wrote there, move it to a backup name first."""
    if not path.exists() or not _is_user_edit(folder, path):
        return None
    backup = backup_path(path)
    path.replace(backup)
    log.warning("%s was changed since mvtimeline wrote it; kept it as %s", path.name, backup.name)
    return backup


# --------------------------------------------------------------------------------------------- run
@dataclass
class RunResult:
    """What ``run`` made: the work folder's outputs and timings."""

    project: Project
    plan: Plan
    outputs: list[Path] = field(default_factory=list)
    clips_made: int = 0
    clips_cached: int = 0
    render: Path | None = None
    backups: list[Path] = field(default_factory=list)


def new_project(song: Path, lyrics: Path | None, out_dir: Path, config: Config, *,
                lyrics_format: str | None = None) -> Project:
    """Check the inputs and set up the work folder (copying the song in, so the folder is portable)."""
    song = Path(song)
    if not song.exists():
        raise InputError(f"{song}: no such song file")
    if song.is_dir():
        raise InputError(f"{song}: is a folder, not a song file")
    if lyrics is not None:
        lyrics = Path(lyrics)
        if not lyrics.exists():
            raise InputError(f"{lyrics}: no such lyrics file")
    for img in config.images:
        if not Path(img).is_file():
            raise InputError(f"{img}: no such image file")
    if config.video is not None and not Path(config.video).is_file():
        raise InputError(f"{config.video}: no such video file")
    out_dir = ensure_dir(Path(out_dir))
    name = song.stem
    local_song = out_dir / f"{name}{song.suffix.lower()}"
    if not local_song.exists() or not local_song.samefile(song):
        if not local_song.exists() or _sha256(local_song) != _sha256(song):
            with atomic_path(local_song) as tmp:
                try:
                    shutil.copyfile(song, tmp)
                except OSError as exc:
                    raise RunError(f"{out_dir}: cannot copy the song into the work folder "
                                   f"({exc.strerror or exc})") from None
    local_lyrics = None
    if lyrics is not None:
        local_lyrics = out_dir / f"{name}.lyrics{lyrics.suffix.lower()}"
        if not local_lyrics.exists() or not local_lyrics.samefile(lyrics):
            atomic_write(local_lyrics, lyrics.read_bytes())
    cfg = dataclasses.replace(config, images=tuple(Path(p).resolve() for p in config.images),
                              video=Path(config.video).resolve() if config.video else None)
    project = Project(folder=out_dir, name=name, song=local_song, lyrics=local_lyrics,
                      lyrics_format=lyrics_format, config=cfg)
    return project


def run(song: Path, lyrics: Path | None, out_dir: Path, config: Config, *, lyrics_format: str | None = None,
        render: bool = False, preset: str | None = None, burn_subtitles: bool = False,
        formats: Sequence[str] = EXPORT_FORMATS, progress: Progress = _noop) -> RunResult:
    """Song + lyrics → analysis, aligned lyrics, plan, clips, project files (and a render).

    Raises
    ------
    InputError
        Bad input, found before any heavy work starts.
    RunError
        A stage failed (ffmpeg, melt).
    """
    from . import lyrics as lyr
    from .generate import get_backend

    get_backend(config.backend, **config.backend_settings())  # an unknown backend fails before anything else
    from .plan import load_style

    load_style(config.style)
    if preset:
        from .render import load_preset

        load_preset(preset)
    from . import audio

    audio.check(Path(song))
    if lyrics is not None:
        lyr.read(Path(lyrics), format=lyrics_format)  # bad input fails before the work folder is made
    project = new_project(song, lyrics, out_dir, config, lyrics_format=lyrics_format)
    analysis = analyze_step(project, progress=progress)
    project.save()
    aligned = align_step(project, analysis, progress=progress)
    plan = plan_step(project, analysis, aligned, progress=progress)
    takes = list(range(1, max(1, config.takes) + 1))
    gen = generate_step(project, plan, analysis, takes=takes, progress=progress)
    exported = export_step(project, plan, aligned, gen.chosen, formats=formats, analysis=analysis,
                           progress=progress)
    result = RunResult(project=project, plan=plan, outputs=exported.written, clips_made=gen.made,
                       clips_cached=gen.cached, backups=exported.backups)
    if render:
        result.render = render_step(project, preset=preset, subtitles=burn_subtitles, progress=progress)
    return result


def frame_count(duration_s: float, fps: Fraction) -> int:
    """Frames of a song of ``duration_s`` seconds at ``fps``."""
    return seconds_to_frame(duration_s, fps)
