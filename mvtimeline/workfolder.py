"""A project's work folder: its paths, every artifact in it, the clip cache, and the user's edits.

One :class:`WorkFolder` owns a folder made by ``mvtimeline run``::

    project.json        the settings (Config) and where the song and lyrics are
    analysis.json       Analysis (with the song's SHA-256, so a changed song is analysed again)
    aligned.json        Lyrics, every line timed
    plan.json           Plan (the user may edit it)
    clips/              the content-addressed clip cache: clips/<key>/take-N.mp4 + take-N.json
    NAME.kdenlive ...   the outputs (:meth:`WorkFolder.path`), NAME being the song's name
    .mvtimeline-state.json   what mvtimeline last wrote to each output (to tell the user's edits)
    keyframes/          keyframe images the user gave single segments (the review page)
    .review/            the review page's own files: thumbnails, the waveform, uploads on their way in

Nothing outside this module names those files.

Public: WorkFolder, check_out_folder, writer_lock, lock_holder, held_here, LOCK_FILE, PROJECT_FILE, ANALYSIS_FILE, ALIGNED_FILE, PLAN_FILE, CLIPS_DIR, STEMS_DIR, VOCALS_STEM, KEYFRAMES_DIR, REVIEW_DIR.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config, check_files
from .errors import InputError, RunError
from .fileio import (atomic_path, atomic_write, backup_path, ensure_dir, file_sha256, read_json, relative_path,
                     write_json)
from .types import Analysis, ClipRequest, ClipResult, Lyrics, Plan

if TYPE_CHECKING:
    from .generate.backends.base import Backend

__all__ = ["WorkFolder", "check_out_folder", "writer_lock", "lock_holder", "held_here", "LOCK_FILE", "PROJECT_FILE", "ANALYSIS_FILE", "ALIGNED_FILE", "PLAN_FILE", "CLIPS_DIR", "STEMS_DIR", "VOCALS_STEM", "KEYFRAMES_DIR", "REVIEW_DIR"]

log = logging.getLogger(__name__)

PROJECT_FILE = "project.json"
ANALYSIS_FILE = "analysis.json"
ALIGNED_FILE = "aligned.json"
STEMS_DIR = "stems"
VOCALS_STEM = "stems/vocals.wav"  # the stem --separate makes
PLAN_FILE = "plan.json"
CLIPS_DIR = "clips"
#: Keyframe images given to single segments (``Segment.image`` names a file in it).
KEYFRAMES_DIR = "keyframes"
#: The review page's own files (thumbnails, the waveform, uploads); safe to delete.
REVIEW_DIR = ".review"
_STATE_FILE = ".mvtimeline-state.json"
#: Held (``flock``) by the command writing the folder; its text says which command, since when.
LOCK_FILE = ".mvtimeline.lock"
_HELD: set[str] = set()  # the folders this process holds (writer_lock is re-entrant)
#: What a run may write as ``NAME<suffix>``: the project formats, Kdenlive's subtitle files, the render.
_OUTPUT_SUFFIXES = (".kdenlive", ".kdenlive.srt", ".kdenlive.ass", ".otio", ".xml", ".fcpxml", ".edl", ".srt", ".ass",
                    ".mp4", ".mov", ".mkv", ".webm")


def check_out_folder(out_dir: Path, song: Path, *, force: bool = False, inputs: Sequence[Path] = ()) -> None:
    """Refuse to make a work folder inside a folder of the user's own files.

    A folder that does not exist, is empty, or is a work folder (has ``project.json``) is fine. Any
    other folder is refused unless ``force``; even then, files there with the names mvtimeline
    would write (``NAME.kdenlive``, ``NAME.srt``, ``plan.json``...) are refused by name: they are
    the user's, and mvtimeline never renames or overwrites a file it did not write.

    Parameters
    ----------
    out_dir : Path
        The ``-o`` folder.
    song : Path
        The song (its name is the outputs' name; the song itself may lie in ``out_dir``).
    inputs : sequence of Path
        The run's other inputs (lyrics, images, a video): they may lie in ``out_dir`` too.
    force : bool
        Write into a non-empty folder that is not a work folder.

    Raises
    ------
    OutputError
        ``out_dir`` is a file, or a folder of other files (see above).
    """
    from .errors import OutputError

    out_dir = Path(out_dir)
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise OutputError(f"{out_dir}: is a file, not a folder; give -o a folder for the project")
    if (out_dir / PROJECT_FILE).is_file():
        return
    given = [Path(p) for p in (song, *inputs) if p is not None and Path(p).is_file()]
    song = Path(song)
    entries = [p for p in out_dir.iterdir() if p.name != LOCK_FILE
               and not (p.is_file() and any(p.samefile(g) for g in given))]
    if not entries:
        return
    if not force:
        raise OutputError(f"{out_dir}: not empty and not an mvtimeline work folder (no {PROJECT_FILE}); give a new "
                          "or empty folder with -o, or --force to write into it")
    name = song.stem
    ours = {PROJECT_FILE, ANALYSIS_FILE, ALIGNED_FILE, PLAN_FILE, CLIPS_DIR, STEMS_DIR, _STATE_FILE, f"{name}-media",
            KEYFRAMES_DIR, REVIEW_DIR}
    ours |= {f"{name}{suffix}" for suffix in _OUTPUT_SUFFIXES}
    clash = sorted(p.name for p in entries if p.name in ours or p.name.startswith(f"{name}.lyrics."))
    if clash:
        shown = ", ".join(clash[:4]) + (" …" if len(clash) > 4 else "")
        raise OutputError(f"{out_dir}: holds files with the names mvtimeline writes ({shown}), not written by it; "
                          "move them or give another folder with -o")


@contextmanager
def writer_lock(folder: Path, command: str) -> Iterator[None]:
    """Hold the work folder for one writing command: a second one stops with the reason.

    The lock is ``flock`` on :data:`LOCK_FILE`, so it ends with the process (a killed run leaves no
    stale lock); the file says which command holds it and since when. A command holding it may call
    another that takes it (``import --pick`` calls ``pick``): the same hold. A folder that does not exist
    yet is not locked (the command makes it, or says it is missing).

    Parameters
    ----------
    folder : Path
        The work folder.
    command : str
        What is writing (``"run"``, ``"pick"``...), for the message the other one gets.

    Raises
    ------
    RunError
        Another command holds the folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        yield
        return
    key = str(folder.resolve())
    if key in _HELD:  # this process holds it already (import calls pick): the same hold
        yield
        return
    fh = open(folder / LOCK_FILE, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another mvtimeline command"
            raise RunError(f"{folder}: in use by {holder}; wait until it ends, then run this again") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"mvtimeline {command} (pid {os.getpid()}, since {time.strftime('%H:%M:%S')})")
        fh.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fh.seek(0)
            fh.truncate()
            fh.flush()
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


def held_here(folder: Path) -> bool:
    """This process holds ``folder`` (:func:`writer_lock`), on any thread.

    Parameters
    ----------
    folder : Path

    Returns
    -------
    bool
    """
    return str(Path(folder).resolve()) in _HELD


def lock_holder(folder: Path) -> str | None:
    """Which command holds ``folder`` (its lock file's text), or None when none does.

    Parameters
    ----------
    folder : Path

    Returns
    -------
    str or None
    """
    path = Path(folder) / LOCK_FILE
    if not path.is_file():
        return None
    with open(path, "a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            return fh.read().strip() or "another mvtimeline command"
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


@dataclass(frozen=True)
class WorkFolder:
    """A work folder and its settings (``project.json``); paths inside it are stored relative to it.

    Attributes
    ----------
    folder : Path
        The folder.
    name : str
        The project's name (the song's file name without suffix): outputs are ``NAME.kdenlive``...
    song : Path
        The song, copied into the folder.
    lyrics : Path or None
        The lyrics file, copied into the folder, or None.
    lyrics_format : str or None
        The lyrics format the user forced (None: from the suffix).
    config : Config
        The run's settings.
    """

    folder: Path
    name: str
    song: Path
    lyrics: Path | None
    lyrics_format: str | None
    config: Config

    # ------------------------------------------------------------------------------------ paths
    def path(self, suffix: str) -> Path:
        """An output of the project: ``path(".kdenlive")`` → ``FOLDER/NAME.kdenlive``.

        Parameters
        ----------
        suffix : str
            What follows the project's name, e.g. ``".kdenlive"``, ``".kdenlive.ass"``.

        Returns
        -------
        Path
        """
        return self.folder / f"{self.name}{suffix}"

    @property
    def stems_dir(self) -> Path:
        """``stems/``: the vocal stem and the audio slices of audio-driven clips."""
        return self.folder / STEMS_DIR

    @property
    def vocals(self) -> Path | None:
        """The song's vocal stem: the user's (``--vocals``), else the one ``--separate`` made, else None."""
        if self.config.vocals is not None:
            return Path(self.config.vocals)
        made = self.folder / VOCALS_STEM
        return made if made.is_file() else None

    def clip_requests(self, plan: Plan, analysis: Analysis, backend: Backend, *,
                      takes: Sequence[int] | None = None) -> list[ClipRequest]:
        """The clip requests of ``plan`` for ``backend``; a backend driven by the segment's audio
        (``wants_audio``) gets the vocal stem when there is one, else the song.

        Parameters
        ----------
        plan : Plan
        analysis : Analysis
        backend : Backend
        takes : sequence of int, optional
            Takes of every segment (default: each segment's chosen take).

        Returns
        -------
        list of ClipRequest
        """
        from . import generate

        reqs = generate.clip_requests(plan, analysis, self.config, takes=takes)
        own = {s.index: self.folder / s.image for s in plan.segments if s.image}
        if own:  # a keyframe the user gave one segment (the review page)
            for path in own.values():
                if not path.is_file():
                    raise InputError(f"{path}: the keyframe image plan.json names is missing")
            hashes = {i: generate.image_sha256(p) for i, p in own.items()}
            reqs = [dataclasses.replace(r, image=str(own[r.segment_index]), image_sha256=hashes[r.segment_index])
                    if r.segment_index in own else r for r in reqs]
        if backend.wants_audio:
            voice = self.vocals
            reqs = generate.with_audio(reqs, plan, voice or self.song, vocals=voice is not None)
        return reqs

    @property
    def clips_dir(self) -> Path:
        """The clip cache."""
        return self.folder / CLIPS_DIR

    @property
    def plan_file(self) -> Path:
        return self.folder / PLAN_FILE

    # ----------------------------------------------------------------------- create, open, save
    @classmethod
    def create(cls, song: Path, lyrics: Path | None, out_dir: Path, config: Config, *,
               lyrics_format: str | None = None) -> WorkFolder:
        """Set up a work folder for ``song``: the folder, and the song and lyrics copied into it
        (so the folder is portable). Nothing is written when a file is missing.

        Parameters
        ----------
        song : Path
            The song (any audio file).
        lyrics : Path or None
            The lyrics file.
        out_dir : Path
            The work folder (created).
        config : Config
            The settings; image and video paths are made absolute.
        lyrics_format : str, optional
            The lyrics format, when not given by the suffix.

        Returns
        -------
        WorkFolder
            Not saved yet (:meth:`save` writes ``project.json``).

        Raises
        ------
        InputError
            A missing song, lyrics, image or video file.
        OutputError
            The folder cannot be made.
        RunError
            The song cannot be copied in.
        """
        song = Path(song)
        if not song.exists():
            raise InputError(f"{song}: no such song file")
        if song.is_dir():
            raise InputError(f"{song}: is a folder, not a song file")
        if lyrics is not None and not Path(lyrics).exists():
            raise InputError(f"{lyrics}: no such lyrics file")
        check_files(config, cast=False)
        out_dir = ensure_dir(Path(out_dir))
        name = song.stem
        local_song = out_dir / f"{name}{song.suffix.lower()}"
        if not local_song.exists() or not local_song.samefile(song):
            if not local_song.exists() or file_sha256(local_song) != file_sha256(song):
                with atomic_path(local_song) as tmp:
                    try:
                        shutil.copyfile(song, tmp)
                    except OSError as exc:
                        raise RunError(f"{out_dir}: cannot copy the song into the work folder "
                                       f"({exc.strerror or exc})") from None
        local_lyrics = None
        if lyrics is not None:
            lyrics = Path(lyrics)
            local_lyrics = out_dir / f"{name}.lyrics{lyrics.suffix.lower()}"
            if not local_lyrics.exists() or not local_lyrics.samefile(lyrics):
                atomic_write(local_lyrics, lyrics.read_bytes())
        cfg = dataclasses.replace(config, images=tuple(Path(p).resolve() for p in config.images),
                                  video=Path(config.video).resolve() if config.video else None)
        return cls(folder=out_dir, name=name, song=local_song, lyrics=local_lyrics, lyrics_format=lyrics_format,
                   config=cfg)

    @classmethod
    def open(cls, folder: Path) -> WorkFolder:
        """The work folder at ``folder``, from its ``project.json``.

        Parameters
        ----------
        folder : Path
            A folder made by ``mvtimeline run``.

        Returns
        -------
        WorkFolder

        Raises
        ------
        InputError
            The folder has no (valid) ``project.json``.
        """
        folder = Path(folder)
        path = folder / PROJECT_FILE
        if not path.exists():
            raise InputError(f"{folder}: not an mvtimeline work folder (no {PROJECT_FILE}); make one with "
                             "'mvtimeline run'")
        d = read_json(path, kind="project")
        try:
            return cls(folder=folder, name=d["name"], song=folder / d["song"],
                       lyrics=folder / d["lyrics"] if d.get("lyrics") else None,
                       lyrics_format=d.get("lyrics_format"), config=Config.from_dict(d, folder))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: malformed ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        """What ``project.json`` holds.

        Returns
        -------
        dict
            ``kind``, ``schema``, ``name``, ``song``, ``lyrics``, ``lyrics_format`` and the
            settings (:meth:`Config.to_dict`), paths relative to the folder.
        """
        return {
            "kind": "project", "schema": 1, "name": self.name,
            "song": relative_path(self.song, self.folder),
            "lyrics": relative_path(self.lyrics, self.folder) if self.lyrics else None,
            "lyrics_format": self.lyrics_format,
            **self.config.to_dict(self.folder),
        }

    def save(self) -> Path:
        """Write ``project.json`` (atomically).

        Returns
        -------
        Path
            ``project.json``.

        Raises
        ------
        OutputError
            It cannot be written.
        """
        return write_json(self.folder / PROJECT_FILE, self.to_dict())

    def with_config(self, config: Config) -> WorkFolder:
        """The same folder with other settings (not saved).

        Parameters
        ----------
        config : Config

        Returns
        -------
        WorkFolder
        """
        return dataclasses.replace(self, config=config)

    # --------------------------------------------------------------------------------- artifacts
    def _need(self, name: str, made_by: str) -> Path:
        path = self.folder / name
        if not path.exists():
            raise InputError(f"{self.folder}: no {name} yet; make it with '{made_by}'")
        return path

    def cached_analysis(self, audio_sha256: str) -> Analysis | None:
        """``analysis.json`` if it was made for the song with this SHA-256, else None.

        Parameters
        ----------
        audio_sha256 : str
            The song's SHA-256 (hex).

        Returns
        -------
        Analysis or None
        """
        path = self.folder / ANALYSIS_FILE
        if not path.exists():
            return None
        try:
            analysis = Analysis.load(path)
            if json.loads(path.read_text(encoding="utf-8")).get("audio_sha256") == audio_sha256:
                return analysis
        except (InputError, ValueError):
            pass
        return None

    def save_analysis(self, analysis: Analysis, audio_sha256: str) -> Analysis:
        """Write ``analysis.json`` with the song's hash.

        Parameters
        ----------
        analysis : Analysis
        audio_sha256 : str
            The song's SHA-256 (hex), to tell a changed song.

        Returns
        -------
        Analysis
            Exactly as a later :meth:`load_analysis` gives it (rounded as saved, so cache keys
            agree).

        Raises
        ------
        OutputError
            It cannot be written.
        """
        d = analysis.to_dict()
        d["audio_sha256"] = audio_sha256
        write_json(self.folder / ANALYSIS_FILE, d)
        return Analysis.from_dict(d)

    def load_analysis(self) -> Analysis:
        """``analysis.json``.

        Returns
        -------
        Analysis

        Raises
        ------
        InputError
            It is missing or malformed.
        """
        return Analysis.load(self._need(ANALYSIS_FILE, f"mvtimeline run {self.song.name}"))

    def save_aligned(self, aligned: Lyrics) -> Path:
        """Write ``aligned.json``.

        Parameters
        ----------
        aligned : Lyrics

        Returns
        -------
        Path

        Raises
        ------
        OutputError
            It cannot be written.
        """
        return aligned.save(self.folder / ALIGNED_FILE)

    def load_aligned(self) -> Lyrics:
        """``aligned.json``.

        Returns
        -------
        Lyrics

        Raises
        ------
        InputError
            It is missing or malformed.
        """
        return Lyrics.load(self._need(ALIGNED_FILE, f"mvtimeline run {self.song.name}"))

    def save_plan(self, plan: Plan) -> Path:
        """Write ``plan.json``.

        Parameters
        ----------
        plan : Plan

        Returns
        -------
        Path

        Raises
        ------
        OutputError
            It cannot be written.
        """
        return plan.save(self.folder / PLAN_FILE)

    def load_plan(self) -> Plan:
        """``plan.json``.

        Returns
        -------
        Plan

        Raises
        ------
        InputError
            It is missing or malformed.
        """
        return Plan.load(self._need(PLAN_FILE, f"mvtimeline plan {self.folder}"))

    def existing_plan(self) -> Plan | None:
        """``plan.json`` if there is one (the user's edits to keep), else None.

        Returns
        -------
        Plan or None

        Raises
        ------
        InputError
            It is there but malformed.
        """
        path = self.folder / PLAN_FILE
        return Plan.load(path) if path.exists() else None

    # ------------------------------------------------------------------------------------- clips
    def chosen_clips(self, plan: Plan, analysis: Analysis, backend: Backend, *, missing_ok: bool = False
                     ) -> dict[int, tuple[ClipRequest, ClipResult]]:
        """The cached clip of each segment's chosen take, generating nothing.

        Parameters
        ----------
        plan : Plan
        analysis : Analysis
        backend : Backend
            Its name, version and model id make the cache keys.
        missing_ok : bool
            Leave out a segment whose chosen take is not made (yet) instead of raising.

        Returns
        -------
        dict
            Segment index → (ClipRequest, ClipResult).

        Raises
        ------
        InputError
            A chosen take has not been generated (the message says how to make it).
        """
        from . import generate

        out = {}
        reqs = self.clip_requests(plan, analysis, backend)
        if backend.chain:
            reqs = [r for r, _ in generate.chain(reqs, backend, self.clips_dir, make=False)]
        for req in reqs:
            key = req.key(backend.name, backend.version, backend.model_id)
            record = generate.find_clip(self.clips_dir, key, req.take)
            if record is None and missing_ok:
                continue
            if record is None:
                raise InputError(f"segment {req.segment_index} has no take {req.take}; make it with "
                                 f"'mvtimeline generate {self.folder} --segment {req.segment_index} "
                                 f"--takes {req.take}'")
            mp4, _ = generate.clip_paths(self.clips_dir, key, req.take)
            out[req.segment_index] = (req, ClipResult(path=mp4, key=key, take=req.take, n_frames=req.n_frames,
                                                      fps=req.fps, cached=True, elapsed_s=0.0, meta=record))
        return out

    def all_takes(self, clips: Mapping[int, tuple[ClipRequest, ClipResult]]) -> dict[int, list[ClipResult]]:
        """Every take in the cache of each segment (the takes share the key of its chosen take).

        Parameters
        ----------
        clips : mapping
            Segment index → (ClipRequest, ClipResult) of the chosen take.

        Returns
        -------
        dict
            Segment index → its ClipResults, take 1 first (the chosen one alone when the cache
            has no other).
        """
        from . import generate

        out: dict[int, list[ClipResult]] = {}
        for index, (req, res) in clips.items():
            found = []
            for take, record in generate.takes_of(self.clips_dir, res.key).items():
                mp4, _ = generate.clip_paths(self.clips_dir, res.key, take)
                found.append(ClipResult(path=mp4, key=res.key, take=take, n_frames=req.n_frames, fps=req.fps,
                                        cached=True, elapsed_s=0.0, meta=record))
            out[index] = found or [res]
        return out

    # ------------------------------------------------------------------------------ user's edits
    def _state(self) -> dict[str, str]:
        try:
            return json.loads((self.folder / _STATE_FILE).read_text())
        except (OSError, ValueError):
            return {}

    def is_user_edit(self, path: Path) -> bool:
        """``path`` (an output in the folder) differs from what mvtimeline last wrote there.

        Parameters
        ----------
        path : Path
            An existing output.

        Returns
        -------
        bool
        """
        return self._state().get(Path(path).name) != file_sha256(path)

    def remember(self, path: Path) -> None:
        """Note what mvtimeline just wrote to ``path``, to tell the user's later edits.

        Parameters
        ----------
        path : Path
            An output just written.
        """
        state = self._state()
        state[Path(path).name] = file_sha256(path)
        atomic_write(self.folder / _STATE_FILE, json.dumps(state, indent=1))

    def protect(self, path: Path) -> Path | None:
        """If the user edited ``path``, move it to ``NAME.bak-<time>``.

        Parameters
        ----------
        path : Path
            An output about to be written.

        Returns
        -------
        Path or None
            The backup, or None when there was nothing to keep.
        """
        path = Path(path)
        if not path.exists() or not self.is_user_edit(path):
            return None
        backup = backup_path(path)
        path.replace(backup)
        log.warning("%s was changed since mvtimeline wrote it; kept it as %s", path.name, backup.name)
        return backup
