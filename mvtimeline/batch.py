"""Batch: many songs, one project and render each, in parallel, skipping what is up to date.

A batch comes from a manifest (TOML) or a folder:

- manifest: an optional ``[defaults]`` table and one ``[[song]]`` table per song with ``song`` and
  optionally ``name``, ``lyrics``, ``images`` (list), ``video``, ``style``, ``preset``, ``fps``,
  ``size``, ``backend``, ``takes``, ``crop_bottom``, ``pingpong``; paths are relative to the
  manifest;
- folder: every audio file ``NAME.mp3`` (wav, flac, m4a, ogg...) with ``NAME.lrc``/``.json``/
  ``.srt``/``.vtt``/``.txt`` lyrics and an optional ``NAME.png``/``.jpg`` still beside it.

Each song gets its own work folder ``OUTDIR/NAME``; a song whose inputs and settings have not
changed since its last successful render is skipped; a failed song does not stop the others.

Public: BatchItem, Outcome, discover, run_batch, run_source, MANIFEST_KEYS.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import json
import logging
import multiprocessing
import os
import queue
import threading
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config, validate
from .errors import InputError, MvtimelineError
from .fileio import ensure_dir, file_sha256, write_json
from .progress import Progress, ProgressFn, ignore, relabel

__all__ = ["BatchItem", "Outcome", "discover", "run_batch", "run_source", "MANIFEST_KEYS"]

log = logging.getLogger(__name__)

_AUDIO = (".wav", ".mp3", ".flac", ".m4a", ".ogg", ".opus", ".aac", ".aiff", ".aif")
_LYRICS = (".lrc", ".json", ".srt", ".vtt", ".txt")
_IMAGES = (".png", ".jpg", ".jpeg", ".webp")
MANIFEST_KEYS = {"name", "song", "lyrics", "images", "video", "style", "preset", "fps", "size", "backend",
                 "takes", "crop_bottom", "pingpong", "aligner", "language", "pace", "clip_length"}
_STAMP = "batch-stamp.json"


@dataclass(frozen=True)
class BatchItem:
    """One song of a batch and its settings (None: the batch's default)."""

    name: str
    song: Path
    lyrics: Path | None = None
    images: tuple[Path, ...] = ()
    video: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What became of one song: ``status`` is ``"done"``, ``"skipped"`` (up to date) or ``"failed"``."""

    name: str
    status: str
    output: str | None = None
    error: str | None = None
    elapsed_s: float = 0.0


# ------------------------------------------------------------------------------------------ input
def discover(source: Path) -> list[BatchItem]:
    """The songs of a manifest file or a folder.

    Raises
    ------
    InputError
        Missing source, a malformed manifest (unknown key, missing song), or no songs found.
    """
    source = Path(source)
    if not source.exists():
        raise InputError(f"{source}: no such manifest or folder")
    items = _from_folder(source) if source.is_dir() else _from_manifest(source)
    if not items:
        raise InputError(f"{source}: no songs found (audio files: {', '.join(_AUDIO)})")
    names = [i.name for i in items]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise InputError(f"{source}: two songs are named {dup!r}; give them distinct names")
    return items


def _first(base: Path, suffixes: Sequence[str]) -> Path | None:
    for suf in suffixes:
        for cand in (base.with_suffix(suf), base.with_suffix(suf.upper())):
            if cand.is_file():
                return cand
    return None


def _from_folder(folder: Path) -> list[BatchItem]:
    items = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in _AUDIO:
            image = _first(p, _IMAGES)
            items.append(BatchItem(name=p.stem, song=p, lyrics=_first(p, _LYRICS),
                                   images=(image,) if image else ()))
    return items


def _from_manifest(path: Path) -> list[BatchItem]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not a valid batch manifest ({exc})") from None
    base = path.parent
    defaults = dict(data.get("defaults", {}))
    extra = sorted(set(data) - {"defaults", "song"})
    if extra:
        raise InputError(f"{path}: unknown table {extra[0]!r}; a manifest has [defaults] and [[song]] entries")
    items = []
    for n, entry in enumerate(data.get("song", []), start=1):
        merged = {**defaults, **entry}
        unknown = sorted(set(merged) - MANIFEST_KEYS)
        if unknown:
            raise InputError(f"{path}: song {n}: unknown key {unknown[0]!r}; known: {', '.join(sorted(MANIFEST_KEYS))}")
        if "song" not in merged:
            raise InputError(f"{path}: song {n} has no 'song' file")

        def rel(p: str | None) -> Path | None:
            return None if p is None else (base / p)

        song = rel(merged.pop("song"))
        items.append(BatchItem(
            name=str(merged.pop("name", song.stem)),
            song=song,
            lyrics=rel(merged.pop("lyrics", None)),
            images=tuple(base / p for p in merged.pop("images", [])),
            video=rel(merged.pop("video", None)),
            settings=merged,
        ))
    return items


# ------------------------------------------------------------------------------------------- runs
def _config_for(item: BatchItem, base: Config, preset: str | None) -> tuple[Config, str | None]:
    """The settings of one song: the batch's, with its manifest entry's values (checked by
    :meth:`Config.from_options`, as on the command line; ``crop_bottom`` is in percent there too)."""
    s = item.settings
    preset = s.get("preset", preset)
    cfg = Config.from_options(base=base, fps=s.get("fps"), size=s.get("size"), style=s.get("style"),
                              backend=s.get("backend"), takes=s.get("takes"), images=item.images or None,
                              video=item.video, pingpong=s.get("pingpong"), crop_bottom_pct=s.get("crop_bottom"),
                              preset=preset, aligner=s.get("aligner"), language=s.get("language"), pace=s.get("pace"),
                              clip_s=s.get("clip_length"))
    return cfg, preset


def _sha(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    return file_sha256(path)


def _stamp(item: BatchItem, cfg: Config, preset: str | None, burn: bool) -> dict[str, Any]:
    c = dataclasses.asdict(cfg)
    c["fps"] = str(cfg.fps)
    c["images"] = [_sha(p) for p in cfg.images]
    for k, v in list(c.items()):
        if isinstance(v, Path):
            c[k] = _sha(v)
    return {"version": __version__, "song": _sha(item.song), "lyrics": _sha(item.lyrics), "config": c,
            "preset": preset, "burn_subtitles": burn}


def _render_path(folder: Path, name: str, preset: str | None) -> Path:
    suffix = ".mp4"
    if preset:
        from .render import load_preset

        suffix = load_preset(preset).suffix
    return folder / f"{Path(name).stem}{suffix}"


def _work(item: BatchItem, out_dir: Path, base: Config, preset: str | None, burn: bool, force: bool,
          events: Any, cluster: Any = None) -> Outcome:
    """Run one song (in a worker process, or a thread driving a Ray cluster). Never raises: a
    failure is an Outcome."""
    from . import pipeline

    t0 = time.perf_counter()
    folder = out_dir / item.name

    progress = relabel(events.put, song=item.name) if events is not None else ignore

    try:
        cfg, preset = _config_for(item, base, preset)
        stamp = _stamp(item, cfg, preset, burn)
        stamp_path = folder / _STAMP
        target = _render_path(folder, item.song.stem, preset)
        if not force and stamp_path.is_file() and target.is_file():
            try:
                if json.loads(stamp_path.read_text()) == stamp:
                    return Outcome(item.name, "skipped", str(target), elapsed_s=time.perf_counter() - t0)
            except ValueError:
                pass
        result = pipeline.run(item.song, item.lyrics, folder, cfg, render=True, preset=preset,
                              burn_subtitles=burn, progress=progress, cluster=cluster)
        write_json(stamp_path, stamp)
        return Outcome(item.name, "done", str(result.render), elapsed_s=time.perf_counter() - t0)
    except MvtimelineError as exc:
        return Outcome(item.name, "failed", error=str(exc), elapsed_s=time.perf_counter() - t0)
    except Exception as exc:  # one song's bug must not end the batch
        log.exception("%s failed", item.name)
        return Outcome(item.name, "failed", error=f"internal error: {exc.__class__.__name__}: {exc}",
                       elapsed_s=time.perf_counter() - t0)


def run_source(source: Path, out_dir: Path, *, config: Config, preset: str | None = None, **options: Any
               ) -> list[Outcome]:
    """:func:`discover` the songs of a manifest or folder, check the preset, and :func:`run_batch` them.

    Raises
    ------
    InputError
        A bad source or preset (before any song starts).
    """
    items = discover(source)
    if preset:
        from .render import load_preset

        load_preset(preset)
    return run_batch(items, out_dir, config=config, preset=preset, **options)


def run_batch(
    items: Sequence[BatchItem],
    out_dir: Path,
    *,
    config: Config,
    preset: str | None = None,
    burn_subtitles: bool = False,
    jobs: int = 1,
    force: bool = False,
    progress: ProgressFn | None = None,
) -> list[Outcome]:
    """Make and render every song; returns one Outcome per item, in order.

    Parameters
    ----------
    items : sequence of BatchItem
        From :func:`discover`.
    out_dir : Path
        Each song's work folder is ``out_dir / item.name``.
    config : Config
        Settings for every song (a manifest entry overrides its own).
    jobs : int >= 1
        Songs made at once, in worker processes; bounded by the machine's cores. With
        ``config.executor == "ray"`` every song starts at once and the cluster's CPUs and GPUs
        bound the work (see :func:`_run_on_cluster`).
    force : bool
        Redo songs that are up to date.
    progress : ProgressFn, optional
        Every song's events with their ``song`` set (a finished song: ``Progress("song", 1, 1,
        item=STATUS, song=NAME)``), and the overall count of songs as ``Progress("song", done, total)``.

    Raises
    ------
    InputError
        ``jobs`` < 1 or an unwritable ``out_dir`` (before any song starts).
    """
    validate("jobs", jobs)
    out_dir = ensure_dir(Path(out_dir))
    jobs = min(jobs, os.cpu_count() or 1, len(items))
    report = progress or ignore
    outcomes: dict[str, Outcome] = {}
    report(Progress("song", 0, len(items)))
    if config.executor == "ray":
        return _run_on_cluster(items, out_dir, config, preset, burn_subtitles, force, report)
    if jobs <= 1:
        direct = _Direct(report)
        for item in items:
            outcome = _work(item, out_dir, config, preset, burn_subtitles, force, direct)
            outcomes[item.name] = outcome
            report(Progress("song", 1, 1, item=outcome.status, song=item.name))
            report(Progress("song", len(outcomes), len(items)))
        return [outcomes[i.name] for i in items]

    from .doctor import warm_up

    warm_up()  # the workers must not all compile (and cache) numba's code at once
    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        events = manager.Queue()
        stop = threading.Event()
        pump = threading.Thread(target=_pump, args=(events, report, stop), daemon=True)
        pump.start()
        try:
            with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = {pool.submit(_work, item, out_dir, config, preset, burn_subtitles, force, events): item
                           for item in items}
                for fut in cf.as_completed(futures):
                    item = futures[fut]
                    try:
                        outcome = fut.result()
                    except Exception as exc:  # a worker that died (killed, out of memory)
                        outcome = Outcome(item.name, "failed", error=f"worker died: {exc}")
                    outcomes[item.name] = outcome
                    report(Progress("song", 1, 1, item=outcome.status, song=item.name))
                    report(Progress("song", len(outcomes), len(items)))
        finally:
            stop.set()
            pump.join(timeout=2)
    return [outcomes[i.name] for i in items]


def _run_on_cluster(items: Sequence[BatchItem], out_dir: Path, config: Config, preset: str | None, burn: bool,
                    force: bool, report: ProgressFn) -> list[Outcome]:
    """Every song at once on a Ray cluster: each song's analysis and alignment, then its render, are
    CPU tasks; the clips of all the songs go to executors they share (one actor per GPU serves
    whichever song has a clip waiting, so a GPU does not idle while another song analyses). This
    process only drives: one thread per song plans, writes the cache and the project files."""
    from .generate.executors.cluster import Cluster
    from .doctor import warm_up

    warm_up()  # numba's on-disk cache made once, before this machine's Ray workers load it
    cluster = Cluster(config.ray_address)
    cluster.connect()
    lock = threading.Lock()

    def locked(event: Progress) -> None:
        with lock:
            report(event)

    events = _Direct(locked)
    done: queue.Queue = queue.Queue()
    outcomes: dict[str, Outcome] = {}

    def song(item: BatchItem) -> None:
        done.put((item, _work(item, out_dir, config, preset, burn, force, events, cluster=cluster)))

    try:
        for item in items:
            threading.Thread(target=song, args=(item,), name=f"song-{item.name}", daemon=True).start()
        while len(outcomes) < len(items):
            try:
                item, outcome = done.get(timeout=0.5)
            except queue.Empty:
                continue
            outcomes[item.name] = outcome
            locked(Progress("song", 1, 1, item=outcome.status, song=item.name))
            locked(Progress("song", len(outcomes), len(items)))
    except KeyboardInterrupt:
        cluster.cancel()
        raise
    finally:
        cluster.close()
    return [outcomes[i.name] for i in items]


class _Direct:
    """A queue stand-in for the in-process run: ``put`` reports at once."""

    def __init__(self, report: ProgressFn) -> None:
        self.report = report

    def put(self, event: Progress) -> None:
        self.report(event)


def _pump(events: Any, report: ProgressFn, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            report(events.get(timeout=0.2))
        except queue.Empty:
            continue
        except (EOFError, OSError):
            return
