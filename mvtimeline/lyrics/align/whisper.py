"""Lyrics aligned by Whisper: windowed forced alignment of the known text, kept on the song by its voice.

Whisper hears 30 s at a time. A song is aligned window by window (:class:`WhisperAligner`):

1. the song (or its vocal stem) is decoded at 16 kHz and turned into Whisper's log-mel once; each
   30 s window is encoded once and kept (a window tried again costs nothing);
2. CTranslate2's ``align`` (cross-attention DTW, what faster-whisper's word timestamps use) times
   the tokens of the next lines in a window, after a "♪" token for the music it opens on, and gives
   each token's probability;
3. a line is taken when all its words start before the window's last ``MARGIN_S`` and its place
   is plausible. Implausible is: *squeezed* (half or more of its words squeezed to nothing: text
   that does not fit a window piles up as zero-length words), *stretched* (far longer than its
   syllables, or a word inside it holding for seconds: spread over a break) or *unvoiced* (most
   words where the analysis hears no vocal phrase). Lines up to the last plausible one before a
   stretched or unvoiced one are taken; squeezed lines among them are left unplaced;
4. each next window starts at the start of the last line placed (minus ``CONTEXT_PAD_S``; that line
   is given again, sound and text, as context), or after a long pause in the voice at the next
   vocal phrase; the first one where the voice starts, or where Whisper hears the first line best
   among one every ``START_STEP_S`` seconds over the opening. A window whose first line is
   implausible (it opens on an instrumental stretch) is tried again at the next vocal phrase and
   ``RETRY_STEP_S`` later. The voice curve only proposes: between two windows Whisper's own
   log-probability of the line decides (:meth:`WhisperAligner._later_better`), so a voice detector
   that misses a verse or hears a solo as singing does not move the lines;
5. after the windows, words are fitted to the voice (:meth:`WhisperAligner._refine`): words squeezed
   to nothing share a neighbour's time; a boundary between two words goes onto the voice's dip near
   it (Whisper puts it early, where the first word's sound ends); a word that holds a pause (the
   first word of a line takes the silence before it) starts after it, and a line's first word lasts
   at most ``FIRST_WORD_MAX_S``; a line's last word lasts while the voice holds it (a held note).
   Lines that are only vocalisation ("ooh", "la la", "hey hey") are kept where Whisper put them only
   when plausible, else left to :func:`~mvtimeline.lyrics.align.place.place` between their neighbours, like every
   unplaced line.

Timed lines (LRC, SRT, VTT, Suno without words) keep their times; :meth:`WhisperAligner.align_words`
times the words inside them: windows open at a line's start, the alignment may not run past the
last line's end, and each line's words are kept inside its own span.

The language is ``language`` when given; else the lyrics' script decides (Han → zh, kana → ja,
Hangul → ko, Cyrillic...), then for Latin script the common words of the text (en, de, es, fr, it, pt)
when they are clear, else Whisper's language detection on the windows with the most voice. Chinese,
Japanese and Korean are aligned on their characters (each Han or kana character is a word).

Internal to :mod:`mvtimeline.lyrics` (used by :func:`mvtimeline.lyrics.align.align`).

Public: WhisperAligner, detect_script_language, is_vocalisation, report_step, WHISPER_STEPS, MARGIN_S,
FIRST_WORD_MAX_S.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mvtimeline.audio import voice_threshold
from mvtimeline.errors import InputError
from mvtimeline.progress import Progress, ProgressFn, ignore
from mvtimeline.types import Analysis, Line, Lyrics, Word
from ..timing import fill_word_times, untimed_runs
from ..words import count_syllables, is_cjk, split_words

__all__ = ["WhisperAligner", "detect_script_language", "is_vocalisation", "report_step", "WHISPER_STEPS", "MARGIN_S",
           "FIRST_WORD_MAX_S"]

log = logging.getLogger(__name__)

#: The steps of a Whisper alignment in the order they run (steps a song does not need are skipped):
#: ``offset`` (fully timed lyrics), ``model`` (loading it), ``decode`` (the song), ``language`` (when
#: Whisper must hear it), ``align`` (untimed lines), ``words`` (words of timed lines), ``check``.
WHISPER_STEPS = ("offset", "model", "decode", "language", "align", "words", "check")


def report_step(progress: ProgressFn | None, step: str) -> None:
    """Tell ``progress`` that ``step`` of :data:`WHISPER_STEPS` starts:
    ``Progress("align", i, len(WHISPER_STEPS), item=step)``, ``i`` the step's index."""
    (progress or ignore)(Progress("align", WHISPER_STEPS.index(step), len(WHISPER_STEPS), item=step))

SR = 16000
#: Whisper's mel frames per second and encoder frames (tokens' time grid) per second.
MEL_PER_S = 100
TOKENS_PER_S = 50
#: Mel frames of one window (30 s).
WINDOW_FRAMES = 3000
WINDOW_S = WINDOW_FRAMES / MEL_PER_S
#: Words starting in a window's last MARGIN_S seconds wait for the next window (unless it is the last).
MARGIN_S = 3.0
#: A window opening on the voice starts this long before it.
LEAD_S = 1.0
#: The next window starts this long before the last line placed (which it aligns again, as context).
CONTEXT_PAD_S = 0.5
#: A gap in the voice longer than this (seconds) after the last line placed: the next window starts
#: at the voice after it, without context.
BREAK_S = 6.0
#: A word shorter than this (seconds) was squeezed to nothing: its text did not fit where it was put.
ZERO_S = 0.03
#: A line is implausible when at least this share of its words is squeezed to nothing...
MAX_ZERO_SHARE = 0.5
#: ... or when fewer than this share of its words has voice under it (a word has voice when at least
#: ``WORD_VOICED_MIN`` of its last ``WORD_VOICE_SPAN_S`` seconds is voiced).
MIN_VOICED_SHARE = 0.4
WORD_VOICED_MIN = 0.3
WORD_VOICE_SPAN_S = 1.5
#: Over a song's opening (the first START_SCAN_S seconds, or up to where the voice starts) windows are
#: tried every START_STEP_S seconds; a window that opens on a break is tried again at the next vocal
#: phrase and RETRY_STEP_S and twice that later.
START_STEP_S = 15.0
START_SCAN_S = 45.0
RETRY_STEP_S = 10.0
#: Lines the alignment report scores against a decoy (:meth:`WhisperAligner.heard_contrast`).
CONTRAST_LINES = 12
#: Two windows are compared on the mean token log-probability of their first line
#: (:meth:`WhisperAligner._later_better`); the later one must be better by JUMP_MARGIN_LOGP.
JUMP_MARGIN_LOGP = 0.3
#: A line squeezed or stretched in a window counts this much lower (nats per token) in the comparison.
IMPLAUSIBLE_LOGP = 1.0
#: A global offset of timed lyrics is checked on this many places; the shifted times must be heard
#: better by this much (mean token log-probability).
OFFSET_PROBES = 3
OFFSET_MIN_LOGP = 0.2
#: A line of more words than this is aligned in pieces of about this many (a paragraph pasted as one
#: line would not fit Whisper's decoder).
UNIT_WORDS = 24
#: Encoded windows kept for another look (a base window is 3 MB, a large-v3 one 8 MB).
KEEP_WINDOWS = 24
#: Text tokens given to one window at most (Whisper's decoder takes 448 positions).
MAX_TOKENS = 200
#: Text given to one window: lines until this many syllables at ``S_PER_SYLLABLE_MIN`` would fill
#: 1.5 windows (so the words that do not fit pile up at the end, where they are not taken).
S_PER_SYLLABLE_MIN = 0.12
#: A line's first word starts at most this long before its end (Whisper stretches it back over the
#: pause before the line).
FIRST_WORD_MAX_S = 0.3
#: A word's start moves onto the voice when at least this long (seconds) of its start is unvoiced;
#: its end moves back to a pause at least END_TRIM_MIN_S long in it (a held note's voice wavers).
TRIM_MIN_S = 0.25
END_TRIM_MIN_S = 0.25
#: A line placed longer than STRETCH_BASE_S + STRETCH_S_PER_SYLLABLE per syllable, or with a word before
#: its last longer than STRETCH_S (seconds), was spread over a break (sung lines of the dev songs: at
#: most 1.3 s per syllable, words before the last at most 2.8 s, vocalisations aside).
STRETCH_BASE_S = 2.0
STRETCH_S_PER_SYLLABLE = 2.0
STRETCH_S = 4.0
#: What makes a line's placement mean a break lies in it or before it.
BREAKS = ("unvoiced", "stretched")
#: Placements Whisper itself finds plausible (the voice curve may still doubt them).
HEARD_OK = ("ok", "unvoiced")
#: A dip of the voice curve (seconds, at least DIP_MIN_S long) from DIP_BEFORE_S before a word
#: boundary to DIP_AFTER_S after it is the pause between the two words; the one nearest the boundary
#: plus DIP_BIAS_S (Whisper's boundaries come early) is taken.
DIP_MIN_S = 0.04
DIP_BEFORE_S = 0.2
DIP_AFTER_S = 0.4
DIP_BIAS_S = 0.1
#: Without a dip, a boundary moves this much later (Whisper's word starts come early: about -0.05 s on
#: the dev songs' words, -0.15 s on espeak-ng's).
WORD_DELAY_S = 0.06
#: A line's last word lasts while the voice holds (pauses under HOLD_BRIDGE_S bridged), up to
#: HOLD_GAP_S before the next line.
HOLD_BRIDGE_S = 0.3
HOLD_GAP_S = 0.1
#: Shortest word kept after trimming (seconds).
MIN_WORD_S = 0.08
#: Lyrics with at least this share of common English words are English (else Whisper listens).
ENGLISH_SHARE = 0.12
#: Confidence of a line taken although implausible (it is flagged unsure).
FORCED_CONFIDENCE = 0.3

#: Syllables sung without words: a line made only of these is a vocalisation (words of a language,
#: such as "a", "he", "yo", "la" alone, are not enough: a line needs two of these or one repeated).
_VOCABLE = re.compile(
    r"^(?:(?:la|na|da|ba|pa|ta|ra|du|doo|di|dee|oh|ooh|oo|ah|aah|aw|uh|uhh|mm+|hm+|hey|heya|yeah|ya|"
    r"whoa|woah|woo|wo|ho|ha|eh|ay|ey|lai|li|lu|lo|le|shoo|sha|bop|dum|dam|tra)[-']?)+$", re.IGNORECASE)
#: Common English words (the text says English when enough of its words are these).
_ENGLISH = frozenset("the and you i to a of in my me it is that your we on for be with all this love don't i'm "
                     "are was so do what no not can just know oh baby when like now up get go".split())


def is_vocalisation(text: str) -> bool:
    """True when a line is only sung syllables ("ooh ooh", "la la la", "hey hey heya", "na-na").

    Examples
    --------
    >>> is_vocalisation("Ooh, ooh-ooh"), is_vocalisation("la la lalala"), is_vocalisation("hey you")
    (True, True, False)
    >>> is_vocalisation("la"), is_vocalisation("Oh oh")
    (False, True)
    """
    words = [re.sub(r"[^\w'-]", "", w) for w in text.split()]
    words = [w.replace("-", "") for w in words if w]
    if not words or not all(_VOCABLE.match(w) for w in words):
        return False
    return len(words) > 1 or bool(re.fullmatch(r"(\w+?)\1+", words[0].lower()))


_SCRIPTS = (  # (regex, language): the first script with a share of the letters decides
    (re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]"), "ja"),
    (re.compile(r"[\uac00-\ud7a3\u1100-\u11ff]"), "ko"),
    (re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"), "zh"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
    (re.compile(r"[\u0370-\u03ff]"), "el"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
)
_TEXT_LANGS = {"en-us": "en", "de": "de", "es": "es", "fr": "fr", "it": "it", "pt": "pt"}


def detect_script_language(texts: Sequence[str]) -> str | None:
    """The language the lyrics' script tells (``ja`` for any kana, ``zh`` for Han without kana,
    ``ko``, ``ru``...), or None for Latin script.

    Parameters
    ----------
    texts : sequence of str
        The lyric lines.

    Returns
    -------
    str or None
        A Whisper language code.

    Examples
    --------
    >>> detect_script_language(["我们一起去看海"]), detect_script_language(["君の名は"]), detect_script_language(["hello"])
    ('zh', 'ja', None)
    """
    joined = " ".join(texts)
    letters = len(re.findall(r"[^\W\d_]", joined))
    if not letters:
        return None
    for rx, lang in _SCRIPTS:
        n = len(rx.findall(joined))
        if n and (lang == "ja" or n >= 0.2 * letters):
            return lang
    return None


# ------------------------------------------------------------------------------------- the song
@dataclass
class _Placed:
    """One line as a window placed it: word spans (s) and what was thought of it."""

    spans: list[tuple[float, float]]
    status: str  # "ok", "forced" (taken although implausible), "unplaced"
    zero_share: float
    voiced_share: float | None
    score: float = -20.0  # mean token log-probability of its words (Whisper's hearing of the text)


@dataclass
class _Judged:
    """One line as a window aligned it, judged (:meth:`WhisperAligner._judge`), with its mean token
    log-probability."""

    line: int
    spans: list[tuple[float, float]]
    how: str
    zero: float
    voiced: float | None
    score: float


class WhisperAligner:
    """Whisper loaded, the song's log-mel made and its windows' encodings kept, for one song.

    Parameters
    ----------
    model : faster_whisper.WhisperModel
        As :func:`mvtimeline.lyrics.align.whisper_model.load_model` gives it.
    audio_path : Path
        The song, or its vocal stem (the aligner listens to what it is given).
    analysis : Analysis
        The song's analysis: its duration, voice curve and vocal phrases.
    texts : sequence of str
        The lyric lines (for the language).
    language : str, optional
        A Whisper language code (``en``, ``es``, ``zh``...); None: detected.
    progress : ProgressFn
        Receives ``Progress("align", i, len(WHISPER_STEPS), item=step)`` as the aligner's steps
        (``decode``, ``language``, ``align``, ``words``) start (:func:`report_step`).

    Raises
    ------
    InputError
        An unknown language code, or an English-only model with other lyrics.
    """

    def __init__(self, model: Any, audio_path: Path, analysis: Analysis, *, texts: Sequence[str],
                 language: str | None = None, progress: ProgressFn = ignore) -> None:
        from mvtimeline.audio import load

        self.model = model
        self.analysis = analysis
        self._progress = progress
        report_step(progress, "decode")
        samples, _ = load(Path(audio_path), sr=SR)
        self.duration_s = min(len(samples) / SR, float(analysis.duration_s))
        self.mel = model.feature_extractor(samples)  # (80, frames), normalised on the whole song
        self._encoded: dict[int, Any] = {}
        va = np.asarray(analysis.vocal_activity, dtype=float)
        self._va = va if va.size else None
        self._va_hop = float(analysis.hop_s)
        self._thr = voice_threshold(va) if va.size else 1.0
        self.windows = 0
        #: Each line's (index) mean token log-probability where it was placed: how well Whisper hears
        #: the text there (the alignment report's evidence that the lyrics belong to the song).
        self.heard_logp: dict[int, float] = {}
        self._regions = sorted((float(a), float(b)) for a, b in analysis.vocal_regions_s)
        self.language, self.language_source = self._language(texts, language)
        from faster_whisper.tokenizer import Tokenizer

        self.tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                                   language=self.language if model.model.is_multilingual else None)
        self._note = self.tokenizer.encode(" ♪")

    # -------------------------------------------------------------------------------- language
    def _language(self, texts: Sequence[str], language: str | None) -> tuple[str, str]:
        multilingual = bool(self.model.model.is_multilingual)
        if language:
            code = language.strip().lower()
            if code not in self.model.supported_languages:
                raise InputError(f"--language {language!r} is not a language Whisper knows (use a code such as "
                                 "en, es, fr, de, zh, ja, ko)")
            if not multilingual and code != "en":
                raise InputError(f"--language {code}: this Whisper model knows English only (a '.en' model)")
            return code, "option"
        if not multilingual:
            return "en", "model"
        from .tts import guess_voice

        script = detect_script_language(texts)
        voice = guess_voice(texts)
        if script == "zh" and voice == "yue" and "yue" in self.model.supported_languages:
            return "yue", "script"  # Cantonese characters, and a model that knows Cantonese (large-v3)
        if script:
            return script, "script"
        words = [w.lower() for t in texts for w in re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", t)]
        if voice in _TEXT_LANGS and voice != "en-us":
            return _TEXT_LANGS[voice], "text"
        if words and sum(w in _ENGLISH for w in words) / len(words) >= ENGLISH_SHARE:
            return "en", "text"
        report_step(self._progress, "language")
        heard = self._detect_language()
        return (heard, "audio") if heard else ("en", "default")

    def _detect_language(self) -> str | None:
        """Whisper's language detection on the (up to three) windows with the most voice."""
        starts = self._voiced_windows(3)
        if not starts:
            return None
        totals: dict[str, float] = {}
        for f0 in starts:
            enc, _ = self._encode(f0)
            for token, prob in self.model.model.detect_language(enc)[0]:
                code = token[2:-2]
                totals[code] = totals.get(code, 0.0) + prob
        return max(totals, key=totals.__getitem__) if totals else None

    def _voiced_windows(self, n: int) -> list[int]:
        if self._va is None:
            return [0]
        hop = self._va_hop
        per = max(1, int(round(WINDOW_S / hop)))
        voiced = (self._va >= self._thr).astype(float)
        k = np.arange(0, max(1, voiced.size - per // 2), per)
        scores = [(float(voiced[i: i + per].mean()), i) for i in k]
        best = sorted(scores, reverse=True)[:n]
        return sorted(int(round(i * hop * MEL_PER_S)) for s, i in best if s > 0)

    # ---------------------------------------------------------------------------------- windows
    def _encode(self, f0: int) -> tuple[Any, int]:
        """The encoder output of the window starting at mel frame ``f0`` and its frames of audio."""
        nf = int(min(WINDOW_FRAMES, self.mel.shape[1] - f0))
        if f0 not in self._encoded:
            window = np.zeros((self.mel.shape[0], WINDOW_FRAMES), dtype=np.float32)
            window[:, :nf] = self.mel[:, f0: f0 + nf]
            if len(self._encoded) >= KEEP_WINDOWS:  # the oldest goes (windows move on through the song)
                self._encoded.pop(next(iter(self._encoded)))
            self._encoded[f0] = self.model.encode(window)
            self.windows += 1
        return self._encoded[f0], nf

    def _align(self, t_s: float, words: Sequence[Sequence[int]], *, until_s: float | None = None
               ) -> tuple[list[tuple[float, float]], list[float], float]:
        """Word spans (s on the song) of ``words`` (token lists) in the window opening at ``t_s``, each
        word's mean token log-probability, and where the audio it aligned on ends (no later than
        ``until_s``)."""
        f0 = max(0, int(round(t_s * MEL_PER_S)))
        enc, nf = self._encode(f0)
        if until_s is not None:
            nf = max(2, min(nf, int(math.ceil(until_s * MEL_PER_S)) - f0))
        tokens = self._note + [x for w in words for x in w]
        result = self.model.model.align(enc, self.tokenizer.sot_sequence, [tokens], nf, median_filter_width=7)[0]
        text_idx = np.array([p[0] for p in result.alignments])
        time_idx = np.array([p[1] for p in result.alignments])
        jumps = np.pad(np.diff(text_idx), (1, 0), constant_values=1).astype(bool)
        jump_s = time_idx[jumps] / TOKENS_PER_S
        t0 = f0 / MEL_PER_S
        end_s = t0 + nf / MEL_PER_S
        logp = np.log(np.maximum(np.asarray(result.text_token_probs, dtype=float), 1e-9))
        spans, scores = [], []
        b = len(self._note)
        for w in words:
            e = b + len(w)
            start = t0 + float(jump_s[b]) if b < len(jump_s) else end_s
            stop = t0 + float(jump_s[e]) if e < len(jump_s) else end_s
            spans.append((min(start, end_s), min(max(stop, start), end_s)))
            scores.append(float(logp[b:e].mean()) if e > b and e <= logp.size else -20.0)
            b = e
        return spans, scores, end_s

    # ------------------------------------------------------------------------------------ voice
    def _voiced(self, a_s: float, b_s: float) -> float:
        """Share of [a_s, b_s) inside the vocal phrases of the analysis (1.0 without phrases)."""
        if not self._regions:
            return 1.0
        if b_s <= a_s:
            return 0.0
        covered = sum(max(0.0, min(b, b_s) - max(a, a_s)) for a, b in self._regions)
        return covered / (b_s - a_s)

    def _next_voice(self, t_s: float) -> float:
        """``t_s`` inside a vocal phrase, else the start of the next one (``t_s`` when none)."""
        for a, b in self._regions:
            if b > t_s:
                return max(a, t_s)
        return t_s

    def _next_phrase(self, t_s: float) -> float:
        """The start of the first vocal phrase starting at or after ``t_s`` (``t_s`` when none)."""
        for a, _ in self._regions:
            if a >= t_s:
                return a
        return t_s

    def _judge(self, spans: Sequence[tuple[float, float]], syllables: int, vocal_only: bool
               ) -> tuple[str, float, float | None]:
        """What a line's placement looks like, and the shares of its words squeezed and with voice.

        ``"ok"``; ``"squeezed"`` (half or more of its words squeezed to nothing: the text did not fit
        there); ``"stretched"`` (longer than ``STRETCH_S_PER_SYLLABLE`` per syllable plus
        ``STRETCH_BASE_S``, or a word between its first and last holding on for more than
        ``STRETCH_S``: Whisper spread it over a break; the first word counts at most
        ``FIRST_WORD_MAX_S``, the pause before the line is often in it); ``"unvoiced"`` (most words
        where no vocal phrase is). Vocalisations are never stretched (they hold notes).
        """
        zero = sum(1 for a, b in spans if b - a < ZERO_S) / len(spans)
        if zero >= MAX_ZERO_SHARE:
            return "squeezed", zero, None
        # the first word may hold the pause before the line (the refinement cuts it): not counted
        sung_s = spans[-1][1] - spans[0][1] + min(FIRST_WORD_MAX_S, spans[0][1] - spans[0][0])
        if not vocal_only and (sung_s > STRETCH_BASE_S + STRETCH_S_PER_SYLLABLE * syllables
                               or any(b - a > STRETCH_S for a, b in spans[1:-1])):
            return "stretched", zero, None
        if not self._regions:
            return "ok", zero, None
        voiced = [b - a >= ZERO_S and self._voiced(max(a, b - WORD_VOICE_SPAN_S), b) >= WORD_VOICED_MIN
                  for a, b in spans]
        share = sum(voiced) / len(voiced)
        return ("unvoiced" if share < MIN_VOICED_SHARE else "ok"), zero, share

    # ---------------------------------------------------------------------------------- a run
    def _tokens(self, word: str) -> list[int]:
        if is_cjk(word[0]) or (len(word) > 1 and is_cjk(word[-1])):
            return self.tokenizer.encode(word)
        return self.tokenizer.encode(" " + word)

    def _window(self, t_s: float, context: Sequence[Sequence[int]], toks: Sequence[Sequence[Sequence[int]]],
                syl: Sequence[int], vocal: Sequence[bool], first: int, hi_s: float, floor_s: float
                ) -> list[_Judged]:
        """Align the lines from ``first`` on (after ``context``, a line already placed) in the window
        opening at ``t_s``; the lines whose words all start before the window's margin, judged. No
        word starts before ``floor_s`` (where the line before ends): earlier ones are squeezed there."""
        cand, n_tok, n_syl = [], sum(len(x) for x in context), 0
        for k in range(first, len(toks)):
            k_tok = sum(len(x) for x in toks[k])
            if cand and n_tok + k_tok > MAX_TOKENS:
                break
            cand.append(k)
            n_tok += k_tok
            n_syl += syl[k]
            if n_syl * S_PER_SYLLABLE_MIN > 1.5 * WINDOW_S:
                break
        spans, scores, end_s = self._align(t_s, [*context, *(w for k in cand for w in toks[k])], until_s=hi_s)
        spans = [(max(a, floor_s), max(b, floor_s)) for a, b in spans[len(context):]]
        scores = scores[len(context):]
        limit = end_s if end_s >= min(hi_s, self.duration_s) - 0.5 else end_s - MARGIN_S
        judged = []
        b = 0
        for k in cand:
            s, sc = spans[b: b + len(toks[k])], scores[b: b + len(toks[k])]
            b += len(toks[k])
            if any(a >= limit for a, _ in s):
                break
            how, zero, voiced = self._judge(s, syl[k], vocal[k])
            judged.append(_Judged(k, list(s), how, zero, voiced, float(np.mean(sc))))
        log.debug("window %.1f s: %s", t_s, "; ".join(f"line {j.line} {j.how} {j.score:.2f} {j.spans[0][0]:.2f}-"
                                                      f"{j.spans[-1][1]:.2f}" for j in judged[:6]))
        return judged

    @staticmethod
    def _later_better(early: list[_Judged], late: list[_Judged]) -> bool:
        """Whether the later of two windows opening on the same line places it better.

        Each window is a guess at where the line is sung. Whisper's mean token log-probability of the
        line there decides, less ``IMPLAUSIBLE_LOGP`` where the line is squeezed or stretched; the
        later window also pays that for the line after it: when the line is sung after a break, the
        lines after it are too, so the later window must place them well, while in the earlier
        window the next line may rightly be squeezed by a break that follows. The later window must be
        better by ``JUMP_MARGIN_LOGP``: a jump heard wrong moves every line after it, staying put moves
        one. The voice curve's own doubts do not count here.
        """
        if not late:
            return False
        if not early:
            return True

        def heard(j: _Judged) -> float:
            return j.score - (0.0 if j.how in HEARD_OK else IMPLAUSIBLE_LOGP)

        going_on = 0.0 if len(late) < 2 or late[1].how in HEARD_OK else IMPLAUSIBLE_LOGP
        return heard(late[0]) - going_on > heard(early[0]) + JUMP_MARGIN_LOGP

    def _pick(self, a: tuple[float, list[_Judged]], b: tuple[float, list[_Judged]]) -> tuple[float, list[_Judged]]:
        """The better of two (window start, judged lines) guesses (:meth:`_later_better`)."""
        early, late = (a, b) if a[0] <= b[0] else (b, a)
        return late if self._later_better(early[1], late[1]) else early

    def _align_run(self, words: Sequence[Sequence[str]], lo_s: float, hi_s: float) -> list[_Placed | None]:
        """Place a run of untimed lines (their words) inside [lo_s, hi_s], window by window.

        Where the voice curve moves a window on (over an intro, a break, to the next phrase), the
        window it would have opened without the curve is aligned too, and Whisper's own log-probability
        of the first line decides between the two (:meth:`_later_better`: a voice curve that misses
        the singing does not make the lines jump).
        """
        toks = [[self._tokens(w) for w in ws] for ws in words]
        syl = [sum(count_syllables(w) for w in ws) for ws in words]
        vocal = [is_vocalisation(" ".join(ws)) for ws in words]
        n = len(words)
        placed: list[_Placed | None] = [None] * n
        retried: set[int] = set()

        def ctx_of(line: int | None, t_s: float) -> list[list[int]]:
            p = placed[line] if line is not None else None
            return toks[line] if p is not None and p.spans[0][0] >= t_s else []

        def floor() -> float:
            return max((p.spans[-1][1] for p in placed if p is not None), default=lo_s)

        def plausible(judged: list[_Judged]) -> tuple[int, list[int]]:
            """Where the first line over a break is, and the plausible lines before it."""
            stop = next((i for i, j in enumerate(judged) if j.how in BREAKS), len(judged))
            return stop, [i for i, j in enumerate(judged[:stop]) if j.how == "ok"]

        li, context = 0, None
        # the first window: the one at the voice's start, or one every START_STEP_S seconds over the
        # opening when Whisper hears the first line clearly better there
        first_voice = self._next_voice(lo_s)
        t = max(lo_s, first_voice - LEAD_S) if first_voice < hi_s else lo_s
        judged = self._window(t, [], toks, syl, vocal, 0, hi_s, lo_s)
        for t_try in np.arange(lo_s, min(hi_s - WINDOW_S / 2, max(t, lo_s + START_SCAN_S)), START_STEP_S):
            if abs(float(t_try) - t) < START_STEP_S / 2:
                continue
            t, judged = self._pick((t, judged), (float(t_try), self._window(float(t_try), [], toks, syl, vocal, 0,
                                                                             hi_s, lo_s)))
        alt: tuple[float, int | None] | None = None  # the window the voice curve did not take
        while li < n and t < hi_s - 0.3:
            if judged is None:
                judged = self._window(t, ctx_of(context, t), toks, syl, vocal, li, hi_s, floor())
            if alt is not None:
                other = self._window(alt[0], ctx_of(alt[1], alt[0]), toks, syl, vocal, li, hi_s, floor())
                if self._pick((t, judged), (alt[0], other))[0] == alt[0]:
                    log.debug("window %.1f s heard better than %.1f s (where the voice curve pointed)", alt[0], t)
                    t, context, judged = alt[0], alt[1], other
                alt = None
            if not judged:  # not one line fits before the margin: move on
                t += WINDOW_S / 3
                context, judged = None, None
                continue
            first = judged[0]
            _, good = plausible(judged)
            if (first.how in BREAKS or not good) and first.line not in retried:
                # the window opens on a break (the lines spread over it, or squeezed): the window where
                # Whisper hears them best among the next vocal phrase's and a few later ones
                retried.add(first.line)
                phrase = self._next_phrase(max(first.spans[0][0], t + 1.0)) - LEAD_S
                tries = sorted({round(x, 2) for x in (phrase, t + RETRY_STEP_S, t + 2 * RETRY_STEP_S)
                                if t + 1.0 <= x < hi_s - 0.3})
                best = (t, judged)
                for t_try in tries:
                    other = self._window(t_try, [], toks, syl, vocal, li, hi_s, floor())
                    if other and other[0].line == first.line:
                        best = self._pick(best, (t_try, other))
                if best[0] != t:
                    t, context, judged = best[0], None, best[1]
                    first = judged[0]
                    _, good = plausible(judged)
            if good:
                taken = good[-1] + 1
                for j in judged[:taken]:
                    placed[j.line] = _Placed(j.spans, "ok" if j.how == "ok" else "unplaced", j.zero, j.voiced,
                                                     j.score)
            else:  # the first line is implausible wherever it is tried: taken, unsure
                placed[first.line] = _Placed(first.spans, "forced", first.zero, first.voiced, first.score)
                taken = 1
            last = judged[taken - 1].line
            li, context = last + 1, last
            line_start, line_end = placed[last].spans[0][0], placed[last].spans[-1][1]
            nxt = max(t + 1.0, line_start - CONTEXT_PAD_S)
            if li < n:
                resume = self._next_voice(line_end)
                if resume - line_end > BREAK_S and resume - LEAD_S > nxt:
                    alt = (nxt, context)
                    nxt, context = resume - LEAD_S, None
            t, judged = nxt, None
        return placed

    # ------------------------------------------------------------------------------ refinement
    def _pauses(self, a_s: float, b_s: float, min_s: float) -> list[tuple[float, float]]:
        """Where the voice curve is under its threshold for at least ``min_s`` seconds inside
        [a_s, b_s) (none without a voice curve)."""
        if self._va is None or b_s - a_s < min_s:
            return []
        hop = self._va_hop
        i, j = max(0, int(a_s / hop)), int(math.ceil(b_s / hop))
        low = self._va[i:j] < self._thr
        out, k = [], 0
        while k < low.size:
            if not low[k]:
                k += 1
                continue
            e = k
            while e < low.size and low[e]:
                e += 1
            if (e - k) * hop >= min_s:
                out.append((max(a_s, (i + k) * hop), min(b_s, (i + e) * hop)))
            k = e
        return out

    def _refine(self, spans: list[tuple[float, float]], syllables: Sequence[int]) -> list[tuple[float, float]]:
        """Word spans made to start and end where the voice does, inside what Whisper gave.

        Words Whisper squeezed to nothing share the longer neighbour's span by syllables. Whisper
        puts the boundary between two words about where the first one's sound ends (a pause goes to
        the next word): when the voice dips near a boundary (from ``DIP_BEFORE_S`` before to
        ``DIP_AFTER_S`` after it), the first word ends where the dip starts and the next starts where
        it ends. A word starts after the last longer pause in the voice inside it and ends at the
        first one; a line's first word lasts at most ``FIRST_WORD_MAX_S``.
        """
        out = list(spans)
        n = len(out)
        k = 0
        while k < n:  # squeezed words: a share of the longer neighbour
            if out[k][1] - out[k][0] >= ZERO_S:
                k += 1
                continue
            e = k
            while e < n and out[e][1] - out[e][0] < ZERO_S:
                e += 1
            prev_len = out[k - 1][1] - out[k - 1][0] if k > 0 else -1.0
            next_len = out[e][1] - out[e][0] if e < n else -1.0
            lo, hi = (k - 1, e) if prev_len >= next_len else (k, e + 1)
            if prev_len > 0 or next_len > 0:
                a, b = out[lo][0], out[hi - 1][1]
                weights = [max(1, syllables[q]) for q in range(lo, hi)]
                total, acc = float(sum(weights)), 0.0
                for q, w in zip(range(lo, hi), weights):
                    out[q] = (a + (b - a) * acc / total, a + (b - a) * (acc + w) / total)
                    acc += w
            k = e + 1
        first_end = out[0][1] if out else 0.0
        for k in range(n - 1):  # boundaries onto the voice's dips, else a little later (they come early)
            b = out[k + 1][0]
            dips = self._pauses(b - DIP_BEFORE_S, b + DIP_AFTER_S, DIP_MIN_S)
            d0, d1 = (min(dips, key=lambda d: abs(0.5 * (d[0] + d[1]) - (b + DIP_BIAS_S))) if dips
                      else (b + WORD_DELAY_S, b + WORD_DELAY_S))
            if d0 - out[k][0] >= MIN_WORD_S and out[k + 1][1] - d1 >= MIN_WORD_S:
                out[k] = (out[k][0], d0)
                out[k + 1] = (d1, out[k + 1][1])
        for k, (a, b) in enumerate(out):  # longer pauses inside a word
            starts = [e for _, e in self._pauses(a, b, TRIM_MIN_S) if e <= b - MIN_WORD_S]
            if starts:
                a = max(starts)
            ends = [g0 for g0, g1 in self._pauses(a, b, TRIM_MIN_S) if g0 >= a + MIN_WORD_S and g1 - g0 >= END_TRIM_MIN_S]
            if ends:
                b = min(ends)
            out[k] = (a, b)
        if n >= 2 and any(g1 - g0 >= TRIM_MIN_S for g0, g1 in self._pauses(out[0][1], out[1][0] + 0.01, TRIM_MIN_S)):
            # a pause after the first word: it was left behind on the line before (sung lines hardly
            # pause after their first word), so it shares the second word's time
            a, b = out[1]
            cut = a + (b - a) * max(1, syllables[0]) / (max(1, syllables[0]) + max(1, syllables[1]))
            out[0], out[1] = (a, cut), (cut, b)
        elif out:  # (measured from Whisper's end of the first word: line starts are not late)
            a, b = out[0]
            out[0] = (max(a, min(b, first_end) - FIRST_WORD_MAX_S), b)
        # in order, not overlapping
        for k in range(len(out) - 2, -1, -1):
            a, b = out[k]
            a = min(a, out[k + 1][0] - 0.01)
            out[k] = (a, max(a + 0.01, min(b, out[k + 1][0])))
        return out

    @staticmethod
    def _in_order(lines: list[Line]) -> list[Line]:
        """Timed lines that do not overlap: a line the refinement started before the line above it
        ends starts (with its first words) where that one ends."""
        out = list(lines)
        prev_end = 0.0
        for i, ln in enumerate(out):
            if not ln.is_timed:
                continue
            if ln.source == "aligned" and float(ln.start_s) < prev_end:
                words, floor = [], prev_end
                for w in ln.words:
                    a = max(float(w.start_s), floor)
                    b = max(float(w.end_s), a + 0.01)
                    words.append(Word(w.text, round(a, 3), round(b, 3)))
                    floor = b
                out[i] = ln = dataclasses.replace(ln, words=tuple(words), start_s=words[0].start_s,
                                                  end_s=words[-1].end_s)
            prev_end = float(ln.end_s)
        return out

    def _held_until(self, t_s: float, limit_s: float) -> float:
        """Where the voice sounding at ``t_s`` stops (pauses shorter than ``HOLD_BRIDGE_S`` bridged),
        at most ``limit_s``; ``t_s`` when the voice is not heard there."""
        if self._va is None or limit_s <= t_s:
            return t_s
        hop = self._va_hop
        i, j = int(t_s / hop), min(self._va.size, int(limit_s / hop))
        end, quiet = t_s, 0
        while i < j:
            if self._va[i] >= self._thr:
                end, quiet = (i + 1) * hop, 0
            else:
                quiet += 1
                if quiet * hop >= HOLD_BRIDGE_S:
                    break
            i += 1
        return min(max(end, t_s), limit_s)

    def _hold_line_ends(self, lines: list[Line]) -> list[Line]:
        """A line's last word lasts while the voice holds it (a held note Whisper ends early), up to
        ``HOLD_GAP_S`` before the next line."""
        out = list(lines)
        for i, ln in enumerate(out):
            if ln.source != "aligned" or not ln.words:
                continue
            if i + 1 < len(out) and not out[i + 1].is_timed:
                continue  # the next line is still to be placed: its time is not this one's to take
            nxt = float(out[i + 1].start_s) if i + 1 < len(out) else self.duration_s
            last = ln.words[-1]
            end = self._held_until(float(last.end_s), nxt - HOLD_GAP_S)
            if end > float(last.end_s):
                words = ln.words[:-1] + (Word(last.text, last.start_s, round(end, 3)),)
                out[i] = dataclasses.replace(ln, words=words, end_s=round(end, 3))
        return out

    # -------------------------------------------------------------------------------------- API
    def align_lines(self, lyrics: Lyrics) -> Lyrics:
        """Time the untimed lines of ``lyrics`` (timed lines are anchors, kept).

        Parameters
        ----------
        lyrics : Lyrics

        Returns
        -------
        Lyrics
            Lines Whisper placed get times, every word a start and end, ``source="aligned"`` and a
            confidence; lines it could not place stay untimed (for :func:`~mvtimeline.lyrics.align.place.place`),
            with ``confidence`` 0.
        """
        report_step(self._progress, "align")
        lines = list(lyrics.lines)
        n = len(lines)
        for i, j in untimed_runs(lines):
            lo = float(lines[i - 1].end_s) if i > 0 else 0.0
            hi = float(lines[j].start_s) if j < n else self.duration_s
            words = [[w.text for w in ln.words] or split_words(ln.text) for ln in lines[i:j]]
            # what is aligned: the lines, a very long one (a paragraph pasted as one line) in pieces
            units = [(q, ws[a: a + size]) for q, ws in enumerate(words) if ws
                     for size in [math.ceil(len(ws) / math.ceil(len(ws) / UNIT_WORDS))]
                     for a in range(0, len(ws), size)]
            placed = self._align_run([u for _, u in units], lo, hi) if units and hi - lo > 0.5 else []
            for q, ws in enumerate(words):
                mine = [p for (line, _), p in zip(units, placed) if line == q]
                ln = lines[i + q]
                if not mine or not any(p is not None and p.status != "unplaced" and not (
                        p.status == "forced" and is_vocalisation(ln.text)) for p in mine):
                    lines[i + q] = dataclasses.replace(ln, confidence=0.0)
                    continue
                heard = [p.score for p in mine if p is not None and p.status != "unplaced"]
                if heard:
                    self.heard_logp[i + q] = float(np.mean(heard))
                spans: list[tuple[float, float] | None] = []
                confs = []
                for p, (_, piece) in zip(mine, [u for u in units if u[0] == q]):
                    if p is None or p.status == "unplaced":
                        spans += [None] * len(piece)
                        confs.append(0.0)
                    elif p.status == "forced":
                        spans += p.spans
                        confs.append(FORCED_CONFIDENCE)
                    else:
                        spans += p.spans
                        confs.append(0.4 + 0.4 * (1.0 if p.voiced_share is None else p.voiced_share)
                                     + 0.2 * (1.0 - p.zero_share))
                if any(sp is None for sp in spans):  # a piece not placed: its words between the others
                    known = [sp for sp in spans if sp is not None]
                    filled = fill_word_times([Word(w, *(sp or (None, None))) for w, sp in zip(ws, spans)],
                                             known[0][0], known[-1][1])
                    spans = [(float(w.start_s), float(w.end_s)) for w in filled]
                spans = self._refine(spans, [count_syllables(w) for w in ws])
                new_words = tuple(Word(w, round(a, 3), round(b, 3)) for w, (a, b) in zip(ws, spans))
                lines[i + q] = dataclasses.replace(ln, words=new_words, start_s=new_words[0].start_s,
                                                   end_s=new_words[-1].end_s, source="aligned",
                                                   confidence=round(float(np.mean(confs)), 3))
        lines = self._hold_line_ends(self._in_order(lines))
        log.info("Whisper aligned %d line(s) in %d window(s), language %s (%s)", n, self.windows, self.language,
                 self.language_source)
        return dataclasses.replace(lyrics, lines=tuple(lines))

    def heard_shifted(self, lyrics: Lyrics, offset_s: float) -> bool:
        """Whether Whisper hears the timed lines better moved by ``offset_s`` than where they are.

        A few lines spread over the song (``OFFSET_PROBES``) are aligned, each with the two lines
        after it, in windows opening just before them, at their times and shifted; the shift wins
        when their mean token log-probability is higher by more than ``OFFSET_MIN_LOGP``.

        Parameters
        ----------
        lyrics : Lyrics
            Fully timed lyrics.
        offset_s : float
            The shift in question (seconds added to every time).

        Returns
        -------
        bool
        """
        lines = [ln for ln in lyrics.lines if ln.is_timed and (ln.words or ln.text.strip())]
        if not lines:
            return False
        picks = sorted({int(round(q * (len(lines) - 1))) for q in np.linspace(0.15, 0.85, OFFSET_PROBES)})
        here, there = [], []
        for k in picks:
            group = lines[k: k + 3]
            toks = [self._tokens(w)
                    for ln in group for w in ([w.text for w in ln.words] or split_words(ln.text))]
            for shift, into in ((0.0, here), (offset_s, there)):
                t = float(group[0].start_s) + shift - LEAD_S / 2
                if not 0.0 <= t <= self.duration_s - 1.0:  # the shift puts lines outside the song
                    return False
                _, scores, _ = self._align(t, toks, until_s=min(self.duration_s,
                                                                 float(group[-1].end_s) + shift + 1.0))
                into.append(float(np.mean(scores)))
        return float(np.mean(there)) > float(np.mean(here)) + OFFSET_MIN_LOGP

    def heard_contrast(self, lyrics: Lyrics, *, max_lines: int = CONTRAST_LINES) -> list[tuple[float, float]]:
        """How much better Whisper hears each timed line's own text where it was placed than another
        line of the same lyrics (a decoy as fluent, in the same language and style).

        Lyrics that belong to the song are heard clearly better than a decoy at their place; the lyrics
        of another song (or text over an instrumental) are heard no better than any other line, and
        poorly. Lines are sampled evenly (``max_lines`` at most); a decoy is the line nearest in word
        count sharing under half its words (a repeated chorus line is never its own decoy).

        Parameters
        ----------
        lyrics : Lyrics
            Timed lyrics (what the aligner made).
        max_lines : int
            Lines scored at most.

        Returns
        -------
        list of (float, float)
            Per scored line, the mean token log-probability of its own words and of the decoy's.
        """
        lines = [ln for ln in lyrics.lines if ln.is_timed and split_words(ln.text) and not is_vocalisation(ln.text)]
        n = len(lines)
        out: list[tuple[float, float]] = []
        if n < 2:
            return out
        words = [split_words(ln.text) for ln in lines]
        for i in sorted({int(x) for x in np.linspace(0, n - 1, min(n, max_lines)).round()}):
            ws = words[i]
            others = [j for j in range(n) if len(set(words[j]) & set(ws)) < 0.5 * len(ws)]
            if not others:
                continue
            j = min(others, key=lambda j: (abs(len(words[j]) - len(ws)), -abs(j - i)))
            t = max(0.0, float(lines[i].start_s) - LEAD_S / 2)
            until = min(float(lines[i].end_s) + LEAD_S / 2, t + WINDOW_S - 1.0)
            own = float(np.mean(self._align(t, [self._tokens(w) for w in ws], until_s=until)[1]))
            decoy = float(np.mean(self._align(t, [self._tokens(w) for w in words[j]], until_s=until)[1]))
            out.append((own, decoy))
        return out

    def align_words(self, lyrics: Lyrics) -> Lyrics:
        """Time the words inside every timed line that has no word times; line times are kept.

        Parameters
        ----------
        lyrics : Lyrics

        Returns
        -------
        Lyrics
            The same lines; their words timed inside each line's span.
        """
        report_step(self._progress, "words")
        lines = list(lyrics.lines)
        todo = [i for i, ln in enumerate(lines) if ln.is_timed and not (
            ln.words and all(w.start_s is not None and w.end_s is not None for w in ln.words))]
        q = 0
        while q < len(todo):
            first = todo[q]
            lead = float(lines[first - 1].end_s) if first > 0 and lines[first - 1].is_timed else 0.0
            t = max(0.0, lead, float(lines[first].start_s) - LEAD_S / 2)
            group = [first]
            while (q + len(group) < len(todo) and todo[q + len(group)] == group[-1] + 1
                   and float(lines[todo[q + len(group)]].end_s) <= t + WINDOW_S - 1.0):
                group.append(todo[q + len(group)])
            q += len(group)
            words = [[w.text for w in lines[i].words] or split_words(lines[i].text) for i in group]
            toks = [self._tokens(w) for ws in words for w in ws]
            if not toks:
                continue
            until = min(float(lines[group[-1]].end_s), t + WINDOW_S)
            spans, scores, _ = self._align(t, toks, until_s=until)
            b = 0
            for i, ws in zip(group, words):
                ln = lines[i]
                s = spans[b: b + len(ws)]
                if ws:
                    self.heard_logp[i] = float(np.mean(scores[b: b + len(ws)]))
                b += len(ws)
                if not ws:
                    continue
                lo, hi = float(ln.start_s), float(ln.end_s)
                inside = sum(1 for a, e in s if lo - 0.5 <= a < hi) / len(s)
                if inside < 0.5:  # the window went astray here: the words are spread by syllables later
                    continue
                s = [(min(max(a, lo), hi), min(max(e, lo), hi)) for a, e in s]
                s[0] = (lo, s[0][1])  # the file's line time is the first word's start
                s = self._refine(s, [count_syllables(w) for w in ws])
                s[0] = (lo, max(s[0][1], lo + 0.01))
                lines[i] = dataclasses.replace(ln, words=tuple(Word(w, round(a, 3), round(e, 3))
                                                               for w, (a, e) in zip(ws, s)))
        return dataclasses.replace(lyrics, lines=tuple(lines))

