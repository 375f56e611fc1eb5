"""Align lyrics to the song offline: by Whisper (a neural model) or by TTS + DTW (the DSP method).

:func:`align` is the one entry: ``aligner="auto"`` uses Whisper when a model is found
(:mod:`.whisper_model`: the data packages of the ``whisper`` extra, a model folder, a cached hub
name), else the DSP method with one line saying how to get the model; ``"whisper"`` and
``"dsp"`` ask for one (:func:`choose_aligner`, checked before the song is read). Either way every
line and word gets a start and end, a ``source`` and a ``confidence``, each line its flags
(:func:`flag_lines`, listed by :func:`flagged`), and ``Lyrics.aligner`` records the method, the
model and its hash; ``Lyrics.report`` holds the alignment report (:mod:`.report`).

* **Fully timed lyrics** (LRC, enhanced LRC, SRT/VTT, Suno aligned words, aligned.json): the times
  are kept (``source="file"``), but the **global offset check** (:mod:`.offset`) compares them
  with the song's voice, for files made for another release or with a different intro; a clear
  shift is applied, logged and recorded in ``Lyrics.offset_s``. The words inside lines without
  word times are then timed by Whisper (:meth:`.whisper.WhisperAligner.align_words`) or by the DSP
  method (:func:`.dsp.align_words`).
* **Untimed lines** with Whisper: windowed forced alignment (:mod:`.whisper`); the lines it
  cannot place are spread between their neighbours over the voice (:func:`.place.place`) and
  flagged unsure. With the DSP method: espeak-ng speech warped onto the voice by DTW, stanza by
  stanza (:mod:`.dsp`, with :mod:`.tts`, :mod:`.dtw`, :mod:`.structure`, :mod:`.features`).

The rooms: :mod:`.whisper` and :mod:`.whisper_model` (the Whisper aligner and its model),
:mod:`.dsp` (the DSP aligner), :mod:`.offset` (the global offset check), :mod:`.place` (interim
placement, shared by both), :mod:`.report` (the alignment report and the line flags).

Public: align, choose_aligner, flag_lines, flagged, ALIGNERS.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from pathlib import Path

from mvtimeline.config import ALIGNERS
from mvtimeline.errors import InputError, ToolMissing
from mvtimeline.progress import ProgressFn, ignore
from mvtimeline.types import Analysis, Lyrics
from .dsp import LOST_MIN_LINES, align_dsp
from .features import vocal_stem
from .offset import fit_offset
from .place import needs_word_times, place, tighten
from .report import assess, flag_lines

__all__ = ["align", "choose_aligner", "flag_lines", "flagged", "ALIGNERS"]

log = logging.getLogger(__name__)

#: Share of a song's lines Whisper could not place above which the alignment is called lost.
WHISPER_LOST_SHARE = 0.5


def choose_aligner(aligner: str = "auto", *, whisper_model: str | Path | None = None, allow_download: bool = False,
                   language: str | None = None, warn: bool = True):
    """Which aligner a run uses, and the Whisper model it loads: checked before the song is read.

    Parameters
    ----------
    aligner : {"auto", "whisper", "dsp"}
        ``auto``: Whisper when faster-whisper is installed and a model is found (``whisper_model``, or
        the data packages), else the DSP method with one warning saying how to get the model.
    whisper_model : str or Path, optional
        A model folder or name (:func:`mvtimeline.lyrics.align.whisper_model.find_model`); given, it must
        be found (also with ``auto``).
    allow_download : bool
        A model name not in the Hugging Face cache may be downloaded.
    language : str, optional
        The lyrics' language: with Whisper, it must be one Whisper knows.
    warn : bool
        Log the warning when ``auto`` falls back to the DSP method.

    Returns
    -------
    method : str
        ``"whisper"`` or ``"dsp"``.
    model : ModelChoice or None
        The Whisper model (None for dsp).

    Raises
    ------
    InputError
        An unknown aligner or language; a model given or installed that cannot be used (missing,
        damaged, not the pinned bytes: :class:`~mvtimeline.lyrics.align.whisper_model.WhisperModelError`).
    ToolMissing
        ``whisper`` asked for and faster-whisper not installed.
    """
    import importlib.util

    from . import whisper_model as wm

    if aligner not in ALIGNERS:
        raise InputError(f"--aligner {aligner!r}: known: {', '.join(ALIGNERS)}")
    if aligner == "dsp":
        if whisper_model:
            raise InputError("--whisper-model is for the Whisper aligner, not --aligner dsp")
        return "dsp", None
    installed = importlib.util.find_spec("faster_whisper") is not None
    if aligner == "whisper" or whisper_model:
        if not installed:
            raise ToolMissing("the Whisper aligner needs faster-whisper: pip install 'mvtimeline[whisper]' "
                              "(or --aligner dsp)")
        return "whisper", _known_language(wm.find_model(whisper_model, allow_download=allow_download), language)
    parts = [p is not None for p in (wm.package_data(m) for m in wm.DATA_PACKAGES)]
    if installed and any(parts):  # installed: it must be whole and the pinned bytes
        return "whisper", _known_language(wm.find_model(None), language)
    (log.warning if warn else log.debug)("no Whisper model: lyrics are aligned with the DSP method (seconds off on many songs); for the "
                "neural aligner: pip install 'mvtimeline[whisper]', or --whisper-model PATH|NAME")
    return "dsp", None


def _known_language(choice, language: str | None):
    """``choice``, once ``language`` (when given) is a code Whisper knows (its tokenizer's list)."""
    if language:
        from faster_whisper.tokenizer import _LANGUAGE_CODES  # the codes Whisper's models know

        if language.strip().lower() not in _LANGUAGE_CODES:
            raise InputError(f"--language {language!r} is not a language Whisper knows (use a code such as en, es, "
                             "fr, de, zh, ja, ko)")
    return choice


def align(
    lyrics: Lyrics,
    audio_path: Path,
    analysis: Analysis,
    *,
    aligner: str = "auto",
    whisper_model: str | Path | None = None,
    language: str | None = None,
    allow_download: bool = False,
    device: str = "auto",
    progress: ProgressFn = ignore,
) -> Lyrics:
    """Time every line and word of ``lyrics`` on the song, offline.

    Parameters
    ----------
    lyrics : Lyrics
        As read from a file: fully timed, partly timed (the timed lines are anchors) or untimed.
    audio_path : Path
        The song (any format :func:`mvtimeline.audio.load.load` decodes); only decoded when some
        line needs it. With a vocal stem in the analysis, the aligners listen to the stem.
    analysis : Analysis
        The song's analysis (duration, vocal activity, vocal regions).
    aligner : {"auto", "whisper", "dsp"}
        See :func:`choose_aligner`.
    whisper_model : str or Path, optional
        The Whisper model (folder or name); default Whisper base from the data packages.
    language : str, optional
        The lyrics' language as a Whisper code (``en``, ``es``, ``zh``...); default: detected.
    allow_download : bool
        A Whisper model name not cached may be downloaded.
    device : {"auto", "cpu", "cuda"}
        Where Whisper runs (``auto``: a CUDA GPU when there is one).
    progress : ProgressFn
        Receives ``Progress("align", i, n, item=step)`` as each step of the aligner starts:
        ``i`` the step's index in :data:`~.whisper.WHISPER_STEPS` or :data:`~.dsp.DSP_STEPS`,
        ``n`` their number, ``item`` the step's name (``"model"``, ``"decode"``, ``"warp"``...).

    Returns
    -------
    Lyrics
        Every line and word timed within ``[0, analysis.duration_s]``, lines in order without
        overlap. ``source`` is ``"file"`` (kept from the file), ``"aligned"`` (found here) or
        ``"interim"`` (not placed by the aligner: spread between its neighbours, flagged unsure);
        ``confidence`` 0..1. ``offset_s`` holds any global shift applied to the file's times;
        ``aligner`` says which aligner and model timed it.

    Raises
    ------
    InputError
        The analysis has no positive duration; a bad aligner, model or language.
    ToolMissing
        The aligner's tools are missing (faster-whisper; espeak-ng for the DSP method).
    """
    method, choice = choose_aligner(aligner, whisper_model=whisper_model, allow_download=allow_download,
                                    language=language)
    duration = float(analysis.duration_s)
    if not math.isfinite(duration) or duration <= 0:
        raise InputError(f"analysis duration {analysis.duration_s!r} s must be positive")
    if method == "dsp":
        out = align_dsp(lyrics, audio_path, analysis, progress=progress)
        return _reported(dataclasses.replace(out, aligner={"aligner": "dsp"}), analysis)
    if not lyrics.lines:
        return _reported(dataclasses.replace(lyrics, aligner={"aligner": "whisper", **choice.record()}), analysis)
    from . import whisper_model as wm
    from .whisper import WhisperAligner, report_step

    def step(name: str) -> None:
        report_step(progress, name)

    regions = analysis.vocal_regions_s
    made: list[WhisperAligner] = []

    def aligner_() -> WhisperAligner:  # loaded when first needed (word-timed files may not need it)
        if not made:
            step("model")
            model = wm.load_model(choice, device=device)
            made.append(WhisperAligner(model, vocal_stem(analysis) or Path(audio_path), analysis,
                                       texts=[ln.text for ln in lyrics.lines], language=language, progress=progress))
        return made[0]

    if lyrics.is_timed:
        step("offset")
        lyrics, _ = fit_offset(lyrics, audio_path, analysis,
                               confirm=lambda lyr, offset_s: aligner_().heard_shifted(lyr, offset_s))
        if not any(needs_word_times(ln) for ln in lyrics.lines):
            out = flag_lines(place(tighten(lyrics), vocal_regions_s=regions, duration_s=duration), analysis)
            return _reported(dataclasses.replace(out, aligner={"aligner": "file"}), analysis)
    wa = aligner_()
    timed = wa.align_words(wa.align_lines(lyrics))
    unplaced = [i for i, ln in enumerate(timed.lines) if not ln.is_timed]
    if unplaced:
        log.info("%d of %d line(s) not placed by Whisper; they are spread between their neighbours and "
                    "flagged unsure: lines %s", len(unplaced), len(timed.lines),
                    ", ".join(str(timed.lines[i].line_no or i + 1) for i in unplaced[:12])
                    + (" …" if len(unplaced) > 12 else ""))
        if len(unplaced) >= max(LOST_MIN_LINES, WHISPER_LOST_SHARE * len(timed.lines)):
            log.info("%s: the alignment looks lost (%d of %d lines not placed): look at it (mvtimeline align "
                        "... --plot align.png) or give timed lyrics (LRC, SRT)", lyrics.path or "lyrics",
                        len(unplaced), len(timed.lines))
    placed = place(tighten(timed), vocal_regions_s=regions, duration_s=duration)
    record = {"aligner": "whisper", **choice.record(), "language": wa.language, "language_source": wa.language_source,
              "windows": str(wa.windows)}
    out = dataclasses.replace(flag_lines(placed, analysis), aligner=record)
    step("check")
    return _reported(out, analysis, contrast=wa.heard_contrast(out))


def _reported(lyrics: Lyrics, analysis: Analysis, *, contrast: Sequence[tuple[float, float]] = ()) -> Lyrics:
    """``lyrics`` with their alignment report (:func:`mvtimeline.lyrics.align.report.assess`), logged when it
    is not ok."""
    rep = assess(lyrics, analysis, contrast=contrast)
    if not rep.ok:  # said once, as an error, by the run (or a warning with --force; the align command)
        log.info("%s: %s", lyrics.path or "lyrics", rep.message)
    else:
        log.info("alignment report: ok (%s)", ", ".join(f"{k} {v:g}" for k, v in rep.evidence.items()))
    return dataclasses.replace(lyrics, report=rep.to_dict())


def flagged(lyrics: Lyrics) -> dict[str, list[int]]:
    """The lines (1-based file line numbers, else positions) carrying each flag, flags in
    :data:`mvtimeline.types.LINE_FLAGS` order; flags no line carries are left out."""
    from mvtimeline.types import LINE_FLAGS

    out: dict[str, list[int]] = {}
    for flag in LINE_FLAGS:
        nos = [ln.line_no or i + 1 for i, ln in enumerate(lyrics.lines) if flag in ln.flags]
        if nos:
            out[flag] = nos
    return out
