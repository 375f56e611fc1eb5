"""The artifacts passed between stages, as frozen dataclasses with paired ``save``/``load``.

``Analysis`` (analysis.json) ← audio.analyze; ``Lyrics`` (aligned.json) ← lyrics.read/align;
``Plan`` (plan.json) ← plan.build; ``ClipRequest``/``ClipResult`` ← generate. Times are seconds on
the audio; frames exist only where :mod:`mvtimeline.timecode` makes them.

Public: Section, Analysis, Word, Line, Lyrics, Segment, Plan, ClipRequest, GeneratedClip, ClipResult,
section_kind.
"""

from __future__ import annotations

import dataclasses
import re
import hashlib
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

from .fileio import read_json, write_json

__all__ = [
    "Section",
    "Analysis",
    "Word",
    "Line",
    "Lyrics",
    "Segment",
    "Plan",
    "ClipRequest",
    "GeneratedClip",
    "ClipResult",
    "section_kind",
    "LINE_FLAGS",
    "take_seed",
    "TAKE_SEED_STEP",
    "Check",
]

SCHEMA = 1


_KIND_ALIASES = {"hook": "chorus", "refrain": "chorus", "prechorus": "pre-chorus", "pre chorus": "pre-chorus",
                 "break": "bridge", "interlude": "instrumental", "solo": "instrumental", "end": "outro",
                 "ending": "outro", "post-chorus": "chorus"}


def section_kind(section: str) -> str:
    """Normalise a section name: ``"Verse 2"`` → ``"verse"``, ``"Pre-Chorus"`` → ``"pre-chorus"``.

    Examples
    --------
    >>> section_kind("Verse 2"), section_kind("Hook"), section_kind("Pre Chorus")
    ('verse', 'chorus', 'pre-chorus')
    """
    s = re.sub(r"[\s_]*\d+$", "", section.strip().lower()).strip()
    return _KIND_ALIASES.get(s, s or "verse")


def _r(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


# ------------------------------------------------------------------------------------------ artifacts
class _Artifact:
    """Paired save/load of an artifact (``to_dict``/``from_dict`` JSON with ``kind`` and ``schema``)."""

    KIND: ClassVar[str] = ""

    def save(self, path: Path) -> Path:
        """Write the artifact as versioned JSON (``"kind"`` and ``"schema"``), atomically.

        Parameters
        ----------
        path : Path
            The JSON file.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        OutputError
            It cannot be written.
        """
        return write_json(path, self.to_dict())  # type: ignore[attr-defined]

    @classmethod
    def load(cls, path: Path) -> Any:
        """Read the artifact written by :meth:`save`.

        Parameters
        ----------
        path : Path
            The JSON file.

        Returns
        -------
        Analysis, Lyrics or Plan
            The artifact, of the class it is called on.

        Raises
        ------
        InputError
            Missing, not JSON, not this kind of artifact, or malformed.
        SchemaVersionError
            Written with a schema this version does not read (the message says which it reads).
        """
        return _load(cls, path, cls.KIND)


# --------------------------------------------------------------------------------------------- audio
@dataclass(frozen=True)
class Section:
    """A structural part of the song found in the audio (``label`` is a cluster letter: A, B, ...)."""

    start_s: float
    end_s: float
    label: str


@dataclass(frozen=True)
class Analysis(_Artifact):
    """What librosa found in the song. Curves are sampled every ``hop_s`` seconds, values 0..1.

    ``vocals_path`` is the vocal stem the voice curve (and the aligner's features) came from, or
    ``""`` when they come from the song itself."""

    KIND: ClassVar[str] = "analysis"

    audio_path: str
    duration_s: float
    sample_rate: int
    tempo_bpm: float
    beat_times_s: tuple[float, ...]
    downbeat_times_s: tuple[float, ...]
    beats_per_bar: int
    hop_s: float
    onset_strength: tuple[float, ...]
    loudness: tuple[float, ...]
    vocal_activity: tuple[float, ...]
    vocal_regions_s: tuple[tuple[float, float], ...]
    sections: tuple[Section, ...]
    vocals_path: str = ""  # the vocal stem the voice curve came from ("": the song's own foreground)

    def curve_at(self, name: str, t_s: float) -> float:
        """Value of curve ``name`` (onset_strength, loudness, vocal_activity) at time ``t_s``."""
        values = getattr(self, name)
        if not values:
            return 0.0
        i = min(len(values) - 1, max(0, int(round(t_s / self.hop_s))))
        return float(values[i])

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for key in ("onset_strength", "loudness", "vocal_activity"):
            d[key] = [_r(v, 3) for v in d[key]]
        d["beat_times_s"] = [_r(v) for v in self.beat_times_s]
        d["downbeat_times_s"] = [_r(v) for v in self.downbeat_times_s]
        return {"kind": "analysis", "schema": SCHEMA, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Analysis:
        return cls(
            audio_path=d["audio_path"],
            duration_s=float(d["duration_s"]),
            sample_rate=int(d["sample_rate"]),
            tempo_bpm=float(d["tempo_bpm"]),
            beat_times_s=tuple(map(float, d["beat_times_s"])),
            downbeat_times_s=tuple(map(float, d["downbeat_times_s"])),
            beats_per_bar=int(d["beats_per_bar"]),
            hop_s=float(d["hop_s"]),
            onset_strength=tuple(map(float, d["onset_strength"])),
            loudness=tuple(map(float, d["loudness"])),
            vocal_activity=tuple(map(float, d["vocal_activity"])),
            vocal_regions_s=tuple((float(a), float(b)) for a, b in d["vocal_regions_s"]),
            sections=tuple(Section(**s) for s in d["sections"]),
            vocals_path=str(d.get("vocals_path", "")),
        )


# -------------------------------------------------------------------------------------------- lyrics
@dataclass(frozen=True)
class Word:
    """One sung word (for CJK text, one character). Times in seconds, None when unknown."""

    text: str
    start_s: float | None = None
    end_s: float | None = None


@dataclass(frozen=True)
class Line:
    """One lyric line.

    ``section`` is the tag it sits under (``"Verse 1"``, ``"Chorus"``) or None; ``stanza`` counts
    blank-line separated blocks from 0. ``source`` says where the times come from: ``"file"`` (the
    lyrics file had them), ``"interim"`` (spread over vocal activity), ``"aligned"`` (the aligner).
    ``confidence`` is 0..1. ``flags`` name what the aligner doubts about the line's times
    (:data:`LINE_FLAGS`). ``singers`` are the names the lyric tags give (``[Verse 1: Anna]``,
    ``[Anna & Ben]``), empty when none.
    """

    text: str
    words: tuple[Word, ...] = ()
    section: str | None = None
    stanza: int = 0
    start_s: float | None = None
    end_s: float | None = None
    source: str = "none"
    confidence: float = 0.0
    line_no: int = 0  # 1-based line number in the lyrics file, for messages
    flags: tuple[str, ...] = ()
    singers: tuple[str, ...] = ()

    @property
    def is_timed(self) -> bool:
        return self.start_s is not None and self.end_s is not None


#: What a line's ``flags`` may say: ``"over instrumental"``: hardly any voice is heard under the
#: line (the lyrics file's times or the aligner put it over a break); ``"unsure"``: the aligner's
#: confidence is under its floor and the line keeps a syllable-spread (interim) time.
#: ``"too short"`` / ``"too long"``: the aligner gave the line a time implausible for its words
#: (squeezed, or spread over seconds of music).
LINE_FLAGS = ("over instrumental", "unsure", "too short", "too long")


@dataclass(frozen=True)
class Lyrics(_Artifact):
    """Lyrics as read from a file, or aligned to the song (then every line is timed)."""

    KIND: ClassVar[str] = "aligned"

    path: str
    format: str
    lines: tuple[Line, ...]
    offset_s: float = 0.0
    #: How the times were made: ``{"aligner": "whisper"|"dsp"|"file", "model", "model_sha256", "language"...}``.
    aligner: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    #: The alignment report (:class:`mvtimeline.lyrics.align.report.AlignmentReport` as a dict): do the
    #: lyrics belong to the song, and the figures that say so. Empty before alignment.
    report: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_timed(self) -> bool:
        return bool(self.lines) and all(line.is_timed for line in self.lines)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "aligned", "schema": SCHEMA, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Lyrics:
        lines = []
        for ld in d["lines"]:
            ld = dict(ld)
            ld["words"] = tuple(Word(**w) for w in ld.get("words", ()))
            ld["flags"] = tuple(ld.get("flags", ()))
            ld["singers"] = tuple(ld.get("singers", ()))
            lines.append(Line(**ld))
        return cls(path=d["path"], format=d["format"], lines=tuple(lines), offset_s=float(d.get("offset_s", 0.0)),
                   aligner={str(k): str(v) for k, v in (d.get("aligner") or {}).items()},
                   report=dict(d.get("report") or {}))


# ---------------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class Segment:
    """One clip's worth of the song: [start_s, end_s) with its prompts and seed.

    ``auto`` holds the prompts the style template produced; a prompt that differs from it was
    edited by the user and is kept on re-plans. ``cut`` says why the segment starts where it does
    (:data:`mvtimeline.plan.CUT_REASONS`: ``"line gap"``, ``"word gap"``, ``"section"``,
    ``"phrase (4 bars)"``, ``"downbeat"``, ``"model length"``, ``"forced"``: inside a sung word; ``""``
    for the first segment and for bounds the user set). ``singer`` names who sings it (``"Anna"``,
    ``"Anna & Ben"``, ``""``: nobody named); ``auto["singer"]`` is the planner's choice, a different
    value was set by the user and is kept. ``chunks`` is how many clips the model makes for it, chained
    one after the other (a segment longer than the model's clip length: a held note, a long phrase).
    ``image`` is a keyframe image the user gave this segment (a path inside the work folder; ``""``:
    the project's images or the singer's picture, as the settings say).
    """

    index: int
    start_s: float
    end_s: float
    section: str
    lines: tuple[str, ...] = ()
    image_prompt: str = ""
    motion_prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    take: int = 1
    auto: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    cut: str = ""
    singer: str = ""
    chunks: int = 1
    image: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def label(self) -> str:
        """``"03 Chorus – under the neon"``: number, section and first lyric words."""
        words = " ".join(" ".join(self.lines).split()[:4])
        return f"{self.index:02d} {self.section}" + (f" – {words}" if words else "")


@dataclass(frozen=True)
class Plan(_Artifact):
    """Segments covering [0, duration_s] exactly, in order, with the style they were made with, the
    cut rule (:data:`mvtimeline.plan.CUT_RULES`) their cuts follow, the pace
    (:data:`mvtimeline.plan.PACES`) and the model's clip length they were cut for (``clip_s``, 0:
    no limit)."""

    KIND: ClassVar[str] = "plan"

    audio_path: str
    duration_s: float
    style: str
    dissolve_s: float
    segments: tuple[Segment, ...]
    cut_rule: str = "words"
    pace: str = ""
    clip_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for sd in d["segments"]:
            if not sd["image"]:  # set only by hand: plans without one stay as they were
                del sd["image"]
        return {"kind": "plan", "schema": SCHEMA, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        segs = []
        for sd in d["segments"]:
            sd = dict(sd)
            sd["lines"] = tuple(sd.get("lines", ()))
            sd["chunks"] = int(sd.get("chunks", 1))
            segs.append(Segment(**sd))
        return cls(
            audio_path=d["audio_path"],
            duration_s=float(d["duration_s"]),
            style=d["style"],
            dissolve_s=float(d["dissolve_s"]),
            segments=tuple(segs),
            cut_rule=str(d.get("cut_rule", "words")),
            pace=str(d.get("pace", "")),
            clip_s=float(d.get("clip_s", 0.0) or 0.0),
        )


# ------------------------------------------------------------------------------------------ generate
@dataclass(frozen=True)
class Check:
    """One line of ``mvtimeline doctor``: ``status`` is ``ok``, ``missing`` (optional, absent) or ``error``."""

    name: str
    status: str
    detail: str


#: Seed step between the takes of a segment (:func:`take_seed`).
TAKE_SEED_STEP = 1_000_003


def take_seed(seed: int, take: int) -> int:
    """The seed take ``take`` of a segment is made with: take 1 the segment's own ``seed`` (a plan's
    seed reproduces its first take), every further take its own (``seed + (take - 1) *``
    :data:`TAKE_SEED_STEP`; a backend reduces it to its generator's range).

    Examples
    --------
    >>> take_seed(42, 1), take_seed(42, 2)
    (42, 1000045)
    """
    return int(seed) + (int(take) - 1) * TAKE_SEED_STEP


@dataclass(frozen=True)
class ClipRequest:
    """Everything that determines one generated clip; its hash is the cache key.

    The clip has ``n_frames`` frames at ``fps``; frame ``head_frames`` is the segment's first frame
    (the frames before and after the segment are handles for dissolves). ``clip_start_s`` is the song
    time of frame 0. ``loudness`` has one value per frame (0..1); ``downbeats_s`` are relative to
    frame 0. ``image`` is the user's still (or None) and ``image_sha256`` its content hash.
    ``crop_bottom`` (0 <= x < 0.5) is the fraction of the source's height cut off its bottom before
    it is fitted (a caption or watermark strip). ``video`` is the user's video (or None) for the
    ``loop`` backend, ``video_sha256`` its content hash, and ``pingpong`` plays it forward then
    backward instead of wrapping around. ``audio`` is the song (or its vocal stem when
    ``audio_is_vocals``) for backends driven by the segment's audio, ``audio_sha256`` its content
    hash, ``singing`` whether the segment has sung lines.
    """

    segment_index: int
    take: int
    section: str
    section_index: int
    image_prompt: str
    motion_prompt: str
    negative_prompt: str
    seed: int
    width: int
    height: int
    fps: Fraction
    n_frames: int
    head_frames: int
    tail_frames: int
    clip_start_s: float
    tempo_bpm: float
    downbeats_s: tuple[float, ...] = ()
    loudness: tuple[float, ...] = ()
    image: str | None = None
    image_sha256: str | None = None
    crop_bottom: float = 0.0
    video: str | None = None
    video_sha256: str | None = None
    pingpong: bool = False
    audio: str | None = None
    audio_sha256: str | None = None
    audio_is_vocals: bool = False
    singing: bool = True

    def key(self, backend: str, backend_version: str, model_id: str = "") -> str:
        """Content hash of everything that determines the clip (paths excluded, hashes included)."""
        d = dataclasses.asdict(self)
        d.pop("image")
        d.pop("video")
        d.pop("audio")
        d.pop("take")  # the take is the file name inside the key's folder
        d["seed"] = self.seed - (self.take - 1) * TAKE_SEED_STEP  # the segment's: every take in one folder
        # fields added later count only when set, so the keys of existing caches stay valid
        for name, default in (("crop_bottom", 0.0), ("video_sha256", None), ("pingpong", False),
                              ("audio_sha256", None), ("audio_is_vocals", False), ("singing", True)):
            if d[name] == default:
                d.pop(name)
        if "crop_bottom" in d:
            d["crop_bottom"] = round(float(d["crop_bottom"]), 4)
        d["fps"] = f"{self.fps.numerator}/{self.fps.denominator}"
        d["loudness"] = [round(v, 3) for v in self.loudness]
        d["downbeats_s"] = [round(v, 4) for v in self.downbeats_s]
        d.update(backend=backend, backend_version=backend_version, model_id=model_id)
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:20]


@dataclass(frozen=True)
class GeneratedClip:
    """What a backend made for one request (``Backend.generate``): the frames written, the values it
    had to adjust, and what it reports about the clip.

    ``adjusted`` are one-line notes on values the backend changed (``"frames: 50 → 49 (4k+1)"``),
    each also logged as a warning; ``details`` is JSON-serialisable: the mode, the encoder's
    description (size, fps, codec, crf...), the source or model used.
    """

    n_frames: int
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    adjusted: tuple[str, ...] = ()

    def to_meta(self) -> dict[str, Any]:
        """The clip record's ``meta``: ``details`` plus ``frames`` and ``adjusted``."""
        return {**self.details, "frames": self.n_frames, "adjusted": list(self.adjusted)}


@dataclass(frozen=True)
class ClipResult:
    """A generated (or cached) clip file and what made it."""

    path: Path
    key: str
    take: int
    n_frames: int
    fps: Fraction
    cached: bool
    elapsed_s: float
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _load(cls: Any, path: Path, kind: str) -> Any:
    from .errors import InputError

    d = read_json(path, kind=kind)
    try:
        return cls.from_dict(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: malformed {kind} file ({exc.__class__.__name__}: {exc})") from None
