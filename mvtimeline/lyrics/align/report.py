"""The alignment report: do these lyrics belong to this song, and which lines are implausible?

An aligner always puts every line somewhere, so a wrong lyrics file is timed as confidently as the
right one. The report judges the whole from evidence the alignment has anyway:

- **sung time against the lyrics' length**: syllables per second of the song (singing rarely passes
  :data:`MAX_SYLLABLES_PER_S` over a whole song, a fast rap verse included) and per second where a
  voice is heard (lyrics of a few lines against minutes of singing are a fragment);
- **voice activity**: a song where hardly any voice is heard (:data:`NO_VOICE_S`) has nothing to time;
- **Whisper's hearing** (:meth:`~mvtimeline.lyrics.align.whisper.WhisperAligner.heard_contrast`): at
  each placed line, the mean token log-probability of its own text and of a decoy line of the same
  lyrics. The lyrics of the song are heard much better than the decoy and fairly well; another song's
  lyrics are heard no better than their decoys, and poorly. ``heard_score`` = mean(own) + mean(own -
  decoy), ``heard_margin`` = mean(own - decoy); a score under :data:`MISMATCH_SCORE` with a margin
  under :data:`MISMATCH_MARGIN`, over :data:`MIN_CONTRAST_LINES` lines or more, is a mismatch (the
  margin keeps a song Whisper hears poorly throughout, in a language it knows less, from being
  called another song's). Measured (2026-12-06, Whisper base; the dev set's nine excerpts with their
  lines, the full Embers, two synthesized songs): own lyrics score -1.3 to -3.8 with margins 1.1 to
  3.7 (one 3-line excerpt -6.7: too few lines to judge); another song's -6.0 to -10.5 with margins
  -3.0 to 0.8; a synthesized instrumental -7.3, margin -0.7.

Each line is judged too (:func:`flag_lines`, with :func:`line_flags`): heard over an instrumental
stretch, placed with a low confidence (under :data:`MIN_CONFIDENCE`), too short or too long for its
words.

Public: :class:`AlignmentReport`, :func:`assess`, :func:`flag_lines`, :func:`line_flags`, the thresholds.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mvtimeline.audio import voice_threshold
from mvtimeline.types import Analysis, Line, Lyrics
from ..words import line_syllables, split_words
from .whisper import is_vocalisation

__all__ = ["AlignmentReport", "assess", "flag_lines", "line_flags", "VERDICTS", "MAX_SYLLABLES_PER_S",
           "MIN_SYLLABLES_PER_VOICED_S", "NO_VOICE_S", "MISMATCH_SCORE", "MISMATCH_MARGIN", "MIN_CONTRAST_LINES",
           "MIN_CONFIDENCE", "OVER_INSTRUMENTAL_MAX"]

log = logging.getLogger(__name__)

#: What the report may conclude; every verdict but ``"ok"`` stops a run before anything is generated.
VERDICTS = ("ok", "too long", "no voice", "too short", "mismatch")
#: Syllables per second of the whole song above which the lyrics cannot all be sung in it.
MAX_SYLLABLES_PER_S = 8.0
#: Syllables per second of heard voice under which the lyrics are a fragment of what is sung
#: (judged only when at least :data:`SHORT_VOICED_S` of voice is heard).
MIN_SYLLABLES_PER_VOICED_S = 0.1
SHORT_VOICED_S = 30.0
#: Less voice than this (seconds, or 3 % of the song when that is more) is a song without singing.
NO_VOICE_S = 3.0
NO_VOICE_SHARE = 0.03
#: ``heard_score`` under this, with ``heard_margin`` under :data:`MISMATCH_MARGIN`, is lyrics
#: Whisper does not hear in the song.
MISMATCH_SCORE = -5.0
MISMATCH_MARGIN = 1.0
#: Lines scored against a decoy needed before the hearing is judged.
MIN_CONTRAST_LINES = 4
#: A line faster than this (syllables per second) is squeezed: flagged ``"too short"``.
LINE_MAX_SYLLABLES_PER_S = 12.0
#: A line longer than ``LINE_LONG_BASE_S + LINE_LONG_S_PER_SYLLABLE`` per syllable is flagged ``"too long"``
#: (vocalisations hold notes: never).
LINE_LONG_BASE_S = 2.0
LINE_LONG_S_PER_SYLLABLE = 1.2
#: Aligned lines below this confidence are flagged ``"unsure"`` (the DSP aligner gives them their
#: interim placement instead).
MIN_CONFIDENCE = 0.35
#: A line with voice under less than this share of its time is flagged ``"over instrumental"``.
OVER_INSTRUMENTAL_MAX = 0.25


@dataclass(frozen=True)
class AlignmentReport:
    """The verdict on lyrics against a song, why, and the figures it rests on.

    ``verdict`` is one of :data:`VERDICTS`; ``message`` one line for the user (empty when ok);
    ``evidence`` the measured figures (``duration_s``, ``voiced_s``, ``syllables``,
    ``syllables_per_s``, and with Whisper ``heard_own``, ``heard_decoy``, ``heard_score``,
    ``heard_margin``, ``heard_lines``).
    """

    verdict: str = "ok"
    message: str = ""
    evidence: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "message": self.message, "evidence": dict(self.evidence)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AlignmentReport:
        d = d or {}
        return cls(str(d.get("verdict", "ok")), str(d.get("message", "")),
                   {str(k): float(v) for k, v in (d.get("evidence") or {}).items()})


def _syllables(line: Line) -> int:
    words = [w.text for w in line.words] or split_words(line.text)
    return line_syllables(words) if words else 0


def assess(lyrics: Lyrics, analysis: Analysis, *, contrast: Sequence[tuple[float, float]] = ()) -> AlignmentReport:
    """Judge timed ``lyrics`` against the song.

    Parameters
    ----------
    lyrics : Lyrics
        The lyrics as aligned.
    analysis : Analysis
        The song's duration and vocal regions.
    contrast : sequence of (float, float)
        Whisper's hearing of sampled lines: own and decoy mean token log-probability
        (:meth:`~mvtimeline.lyrics.align.whisper.WhisperAligner.heard_contrast`); empty without Whisper.

    Returns
    -------
    AlignmentReport
        The first of: too long, no voice, too short, mismatch; else ok.
    """
    sung = [ln for ln in lyrics.lines if split_words(ln.text)]
    duration = float(analysis.duration_s)
    voiced = float(sum(max(0.0, b - a) for a, b in analysis.vocal_regions_s))
    syl = sum(_syllables(ln) for ln in sung)
    ev: dict[str, float] = {"duration_s": round(duration, 2), "voiced_s": round(voiced, 2), "syllables": float(syl),
                            "syllables_per_s": round(syl / duration, 2) if duration > 0 else 0.0}
    if contrast:
        own = sum(o for o, _ in contrast) / len(contrast)
        decoy = sum(d for _, d in contrast) / len(contrast)
        ev.update(heard_own=round(own, 3), heard_decoy=round(decoy, 3), heard_score=round(2 * own - decoy, 3),
                  heard_margin=round(own - decoy, 3), heard_lines=float(len(contrast)))
    if not sung or duration <= 0:
        return AlignmentReport("ok", "", ev)
    n = len(sung)
    if syl / duration > MAX_SYLLABLES_PER_S:
        return AlignmentReport("too long", f"the lyrics ({n} lines, {syl} syllables) are far too long for this "
                               f"{duration:.0f} s song ({syl / duration:.0f} syllables a second; singing rarely passes "
                               f"{MAX_SYLLABLES_PER_S:.0f}): are they this song's?", ev)
    heard_well = "heard_score" in ev and ev["heard_lines"] >= MIN_CONTRAST_LINES and ev["heard_score"] >= MISMATCH_SCORE
    if voiced < max(NO_VOICE_S, NO_VOICE_SHARE * duration) and not heard_well:
        return AlignmentReport("no voice", f"hardly any singing is heard in this song ({voiced:.1f} s of voice in "
                               f"{duration:.0f} s), yet the lyrics have {n} lines: is it an instrumental? "
                               "(run without --lyrics to cut it on its beats)", ev)
    if voiced >= SHORT_VOICED_S and syl < MIN_SYLLABLES_PER_VOICED_S * voiced:
        return AlignmentReport("too short", f"the lyrics ({n} lines, {syl} syllables) are far too short for "
                               f"{voiced:.0f} s of singing: give the whole song's lyrics", ev)
    if ("heard_score" in ev and ev["heard_lines"] >= MIN_CONTRAST_LINES and ev["heard_score"] < MISMATCH_SCORE
            and ev["heard_margin"] < MISMATCH_MARGIN):
        return AlignmentReport("mismatch", f"the lyrics do not match what is sung (Whisper hears their lines no better "
                               f"than others: score {ev['heard_score']:.1f}, a match is above "
                               f"{MISMATCH_SCORE:.0f}): are they this song's?", ev)
    return AlignmentReport("ok", "", ev)


def line_flags(line: Line, *, vocalisation: bool = False) -> list[str]:
    """``"too short"`` / ``"too long"`` when a timed line's time is implausible for its words.

    Parameters
    ----------
    line : Line
    vocalisation : bool
        The line is only sung syllables ("ooh", "la la"): held notes, never too long.

    Returns
    -------
    list of str
        The flags (none, or one).
    """
    if not line.is_timed:
        return []
    syl = _syllables(line)
    dur = float(line.end_s) - float(line.start_s)
    if syl == 0 or not math.isfinite(dur):
        return []
    if syl >= 3 and dur < syl / LINE_MAX_SYLLABLES_PER_S:
        return ["too short"]
    if not vocalisation and dur > LINE_LONG_BASE_S + LINE_LONG_S_PER_SYLLABLE * syl:
        return ["too long"]
    return []


def flag_lines(lyrics: Lyrics, analysis: Analysis) -> Lyrics:
    """Mark what is doubtful about each timed line (:data:`mvtimeline.types.LINE_FLAGS`):
    ``"over instrumental"`` when the voice is heard under less than ``OVER_INSTRUMENTAL_MAX`` of
    the line's time, ``"unsure"`` when the aligner's confidence is under :data:`MIN_CONFIDENCE`,
    ``"too short"`` / ``"too long"`` when the aligner gave it a time implausible for its words
    (:func:`line_flags`).

    Parameters
    ----------
    lyrics : Lyrics
    analysis : Analysis
        The song's voice curve.

    Returns
    -------
    Lyrics
        The same lines with ``flags`` set.
    """
    va = np.asarray(analysis.vocal_activity, dtype=float)
    thr = voice_threshold(va) if va.size else 1.0
    hop = analysis.hop_s
    out = []
    for ln in lyrics.lines:
        flags = []
        if ln.is_timed and va.size and ln.end_s - ln.start_s > 0:
            a, b = int(ln.start_s / hop), max(int(ln.start_s / hop) + 1, int(math.ceil(ln.end_s / hop)))
            if float((va[a:b] >= thr).mean() if b <= va.size else 0.0) < OVER_INSTRUMENTAL_MAX:
                flags.append("over instrumental")
        if ln.source in ("aligned", "interim") and ln.confidence < MIN_CONFIDENCE:
            flags.append("unsure")
        if ln.source in ("aligned", "interim"):
            flags += line_flags(ln, vocalisation=is_vocalisation(ln.text))
        out.append(dataclasses.replace(ln, flags=tuple(flags)))
    n_over = sum("over instrumental" in ln.flags for ln in out)
    if n_over:
        log.info("%d line(s) sit where hardly any voice is heard (over an instrumental stretch?): lines %s",
                    n_over, ", ".join(str(ln.line_no or i + 1) for i, ln in enumerate(out)
                                      if "over instrumental" in ln.flags))
    return dataclasses.replace(lyrics, lines=tuple(out))
