"""The DSP aligner: lyrics timed on the song by TTS + DTW, without a neural model.

:func:`align_dsp` is what :func:`mvtimeline.lyrics.align` runs for ``aligner="dsp"`` (or ``auto``
without a Whisper model).

* **Fully timed lyrics**: the times are kept after the global offset check
  (:func:`~mvtimeline.lyrics.align.offset.fit_offset`), and the words inside lines without word
  times are timed by :func:`align_words`: each word spoken by espeak-ng is warped onto the few
  seconds of its line.
* **Untimed lines**: each run of them between the timed lines around it (the anchors; the song's
  start and end when there are none):

  1. the song's voice-enhanced features (:mod:`.features`: HPSS + running-median foreground,
     MFCC c1–c12 with CMVN) and the vocal-activity curve of the analysis;
  2. every line spoken by espeak-ng in a voice matching the lyrics' language (:mod:`.tts`);
  3. one banded DTW (:mod:`.dtw`) of all spoken lines, with pauses between them, against
     the song span: speech rows want matching MFCCs *and* voice, pause rows want no voice, so the
     programme assigns lines to vocal phrases (monotone, gaps between lines on vocal gaps) and
     warps inside them at once. The band (``BAND_MIN_S``..``BAND_MAX_S`` around) follows the
     syllable-weighted interim placement of :func:`~mvtimeline.lyrics.align.place.place`; when
     every line is untimed, the song's repeated stanzas are found first (:mod:`.structure`) and
     each stanza is aligned inside its stretch of song;
  4. line starts and word starts snap to the nearest strong onset of the voice
     (:func:`~mvtimeline.lyrics.align.features.snap`); words inside a line get their times from
     the warp of their syllables;
  5. a confidence per line from how well its MFCCs matched (against the same speech compared to
     the whole span), how much of it has voice and how much better it fits where it is than a
     little to either side. Lines below :data:`~mvtimeline.lyrics.align.report.MIN_CONFIDENCE`
     fall back to the interim placement between their confident neighbours (``source="interim"``,
     their low confidence kept), with one message giving the count.

Public: align_dsp, align_words, DSP_STEPS, LOST_MIN_LINES.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mvtimeline.audio import voice_threshold
from mvtimeline.errors import InputError
from mvtimeline.progress import Progress, ProgressFn, ignore
from mvtimeline.types import Analysis, Line, Lyrics, Word
from ..timing import untimed_runs
from ..words import count_syllables, line_syllables, split_words
from .features import LINE_SNAP_AFTER_S, snap, song_features, vocal_stem
from .offset import fit_offset
from .place import needs_word_times, place, tighten
from .report import MIN_CONFIDENCE, flag_lines
from .structure import stanza_spans

__all__ = ["align_dsp", "align_words", "DSP_STEPS", "LOST_MIN_LINES"]

log = logging.getLogger(__name__)

#: The steps of :func:`align_dsp`, in the order they are reported (``Progress.done`` is a step's
#: index): ``offset`` and ``words`` for timed lyrics, ``voice``, ``speak`` and ``warp`` for untimed.
DSP_STEPS = ("offset", "words", "voice", "speak", "warp")

#: Half-width (seconds) of the DTW band around the interim placement: at least ``BAND_MIN_S``, at
#: most ``BAND_MAX_S``, else ``BAND_SHARE`` of the span.
BAND_MIN_S = 4.0
BAND_MAX_S = 15.0
BAND_SHARE = 0.15
#: Aligned lines whose mean confidence is under LOST_CONFIDENCE (over LOST_MIN_LINES lines or more)
#: make the song's alignment "lost" (a warning).
LOST_CONFIDENCE = 0.55
LOST_MIN_LINES = 4
#: A stanza is aligned in its matched stretch of song widened by this much (seconds) each way.
STANZA_PAD_S = 0.5
#: Stanzas placed closer than this (seconds: no real pause between them) are aligned as one run.
STANZA_JOIN_GAP_S = 0.2
#: Pause rows in the template before each line and after the last.
PAUSE_ROWS = 2


# ------------------------------------------------------------------------------------- alignment
def _voice_curve(analysis: Analysis, n_frames: int, hop_s: float) -> np.ndarray:
    """The analysis' vocal activity on the aligner's grid, as a soft 0..1 voice presence."""
    va = np.asarray(analysis.vocal_activity, dtype=float)
    if va.size == 0:
        return np.full(n_frames, 0.5)
    t = np.arange(n_frames) * hop_s
    src = np.arange(va.size) * analysis.hop_s
    v = np.interp(t, src, va)
    thr = voice_threshold(va)
    return 1.0 / (1.0 + np.exp(-(v - thr) / 0.05))


def _word_weights(line: Line) -> list[int]:
    words = [w.text for w in line.words] or split_words(line.text)
    return [count_syllables(w) for w in words]


#: A line's match is compared with the same warp moved this far (seconds) each way...
SHARP_RANGE_S = 3.0
#: ... but not closer than this: a line matches almost as well a syllable off.
SHARP_MIN_S = 0.6
#: A sharpness this high (cost 15 % under the best shifted warp) counts in full towards confidence.
SHARP_FULL = 0.15


def _sharpness(rows: np.ndarray, song: np.ndarray, cols: np.ndarray, hop: float) -> float:
    """How much better a line's warp matches where it is than moved elsewhere nearby: 1 - its cost
    over the cheapest cost with the whole warp shifted by ``SHARP_MIN_S``..``SHARP_RANGE_S``
    either way (0 when somewhere else fits as well; a lost line fits anywhere about alike)."""
    lo, hi = int(SHARP_MIN_S / hop), int(SHARP_RANGE_S / hop)
    T = song.shape[0]
    here = float(np.mean(0.5 * (1.0 - np.einsum("ij,ij->i", rows, song[cols]))))
    others = []
    for d in [*range(-hi, -lo + 1), *range(lo, hi + 1)]:
        c = cols + d
        ok = (c >= 0) & (c < T)
        if ok.mean() < 0.8:
            continue
        others.append(float(np.mean(0.5 * (1.0 - np.einsum("ij,ij->i", rows[ok], song[c[ok]])))))
    if not others:
        return 0.5
    return float(np.clip(1.0 - here / max(min(others), 1e-6), 0.0, 1.0))


def _align_run(
    lines: list[Line],
    interim: list[Line],
    lo_s: float,
    hi_s: float,
    feats,
    templates,
    voice: np.ndarray,
    lags_s: Sequence[float] = (),
) -> list[tuple[float, float, list[float], float]]:
    """Align one run of untimed lines inside [lo_s, hi_s]: (start, end, word starts, confidence).

    ``lags_s``: the same lines are sung again that many seconds later, alike (a repeated chorus):
    the song's features of every repeat are averaged, so all of them vote on one warp.
    """
    from .dtw import banded_dtw

    hop = feats.hop_s
    t0 = max(0, int(math.floor(lo_s / hop)))
    t1 = min(feats.n_frames, int(math.ceil(hi_s / hop)))
    T = t1 - t0
    n = len(lines)
    if T < 2 * n + 2:
        return []
    shifts = [0] + [int(round(lag / hop)) for lag in lags_s if t1 + int(round(lag / hop)) <= feats.n_frames]
    song = feats.mfcc[t0:t1]
    v = voice[t0:t1]
    if len(shifts) > 1:
        song = sum(feats.mfcc[t0 + d: t1 + d] for d in shifts) / len(shifts)
        song = song / (np.linalg.norm(song, axis=1, keepdims=True) + 1e-9)
        v = sum(voice[t0 + d: t1 + d] for d in shifts) / len(shifts)

    # template rows and their expected song time (the interim placement)
    rows_feat, rows_level, rows_pause, rows_time, rows_gap = [], [], [], [], []
    spans: list[tuple[int, int]] = []
    d = song.shape[1]
    prev_end = lo_s
    for i, (tpl, im) in enumerate(zip(templates, interim)):
        for k in range(PAUSE_ROWS):
            rows_feat.append(np.zeros((1, d)))
            rows_level.append([0.0])
            rows_pause.append([1.0])
            rows_time.append([prev_end + (im.start_s - prev_end) * (k + 0.5) / PAUSE_ROWS])
            rows_gap.append((prev_end, im.start_s))
        a = sum(len(r) for r in rows_level)
        m = tpl.n_frames
        rows_feat.append(tpl.mfcc)
        rows_level.append(0.3 + 0.7 * tpl.level)
        rows_pause.append(np.full(m, -1.0))
        rows_time.append(im.start_s + (im.end_s - im.start_s) * (np.arange(m) + 0.5) / max(1, m))
        rows_gap.extend([None] * m)
        spans.append((a, a + m))
        prev_end = im.end_s
    for k in range(PAUSE_ROWS):
        rows_feat.append(np.zeros((1, d)))
        rows_level.append([0.0])
        rows_pause.append([1.0])
        rows_time.append([prev_end + (hi_s - prev_end) * (k + 0.5) / PAUSE_ROWS])
        rows_gap.append((prev_end, hi_s))
    tm = np.concatenate(rows_feat, axis=0)
    level = np.concatenate([np.asarray(r, float) for r in rows_level])
    pause_w = np.concatenate([np.asarray(r, float) for r in rows_pause])
    expected = (np.concatenate([np.asarray(r, float) for r in rows_time]) - t0 * hop) / hop
    J = tm.shape[0]
    band = min(BAND_MAX_S, max(BAND_MIN_S, BAND_SHARE * (hi_s - lo_s))) / hop
    # a pause row may last the whole gap it stands for (a long break is one pause)
    first = np.array([g[0] if g else np.nan for g in rows_gap])
    last = np.array([g[1] if g else np.nan for g in rows_gap])
    first = np.where(np.isnan(first), expected, (first - t0 * hop) / hop)
    last = np.where(np.isnan(last), expected, (last - t0 * hop) / hop)
    lo = np.clip(np.floor(np.minimum(expected, first) - band), 0, T - 1).astype(np.int64)
    hi = np.clip(np.ceil(np.maximum(expected, last) + band) + 1, 1, T).astype(np.int64)
    lo = np.maximum.accumulate(lo)
    hi = np.maximum.accumulate(hi)
    lo[0], hi[-1] = 0, T
    lo = np.minimum(lo, hi - 1)
    pj, pt, total = banded_dtw(tm, level, pause_w, song, v, lo, hi)
    if pj.size == 0:
        log.info("alignment found no path for %d line(s) in %.1f..%.1f s", n, lo_s, hi_s)
        return []

    # first song frame reached by each row
    first_t = np.full(J, -1, dtype=np.int64)
    last_t = np.full(J, -1, dtype=np.int64)
    for j, t in zip(pj, pt):
        if first_t[j] < 0:
            first_t[j] = t
        last_t[j] = t
    voiced = v > 0.5
    out = []
    for i, (a, b) in enumerate(spans):
        sel = (pj >= a) & (pj < b)
        ts = pt[sel]
        start_f, end_f = int(ts.min()), int(ts.max()) + 1
        dots = np.einsum("ij,ij->i", tm[pj[sel]], song[ts])
        d_line = float(np.mean(0.5 * (1.0 - dots)))
        # the same speech against every voiced frame of the span: what a wrong match costs
        pool = song[voiced] if voiced.sum() >= 10 else song
        if pool.shape[0] > 400:
            pool = pool[:: pool.shape[0] // 400 + 1]
        d_null = float(np.mean(0.5 * (1.0 - tm[a:b] @ pool.T)))
        q = d_line / max(d_null, 1e-6)
        conf_mfcc = float(np.clip((1.0 - q) / 0.35, 0.0, 1.0))
        conf_voice = float(voiced[start_f:end_f].mean()) if end_f > start_f else 0.0
        conf_sharp = _sharpness(tm[pj[sel]], song, ts, hop)
        # a line that fits its place no better than a little to either side is not sure of it
        conf = float(np.clip(0.1 + 0.35 * conf_mfcc + 0.25 * conf_voice + 0.3 * min(1.0, conf_sharp / SHARP_FULL),
                             0.0, 1.0))
        if end_f - start_f < 2:
            conf = min(conf, 0.1)
        # word starts: the spoken line's frames shared by syllables, mapped through the warp
        weights = _word_weights(lines[i])
        total_w = float(sum(weights))
        word_starts = []
        acc = 0.0
        for w in weights:
            r = a + int(round((b - a) * acc / total_w))
            r = min(max(r, a), b - 1)
            word_starts.append((t0 + first_t[r]) * hop if first_t[r] >= 0 else (t0 + start_f) * hop)
            acc += w
        out.append(((t0 + start_f) * hop, (t0 + end_f) * hop, word_starts, round(conf, 3)))
    return out


# ------------------------------------------------------------------------------ words of timed lines
#: Pause rows between two words want no voice this much (a word gap is allowed, not required).
WORD_GAP_PAUSE = 0.3
#: Cost of holding a word's template row for one more song frame (keeps the warp from lingering on
#: the first words when sung and spoken words look alike).
WORD_HOLD_COST = 0.02
#: A timed line's words are looked for until at most this long after its start (seconds): a base and
#: so much per syllable (a held note included).
WORD_SPAN_BASE_S = 2.0
WORD_SPAN_PER_SYLLABLE_S = 0.8
#: A timed line's words are looked for from this long before its start (seconds).
WORD_LEAD_S = 0.25
#: A pause this long (seconds) inside a timed line ends its singing; the words are looked for until
#: WORD_TAIL_S after that.
WORD_PAUSE_S = 0.5
WORD_TAIL_S = 0.15


def _words_of_line(line: Line, templates, feats, voice: np.ndarray, lo_s: float, hi_s: float
                   ) -> list[tuple[float, float]] | None:
    """Where each word of a timed line is sung inside ``[lo_s, hi_s]``: a DTW of the words spoken one
    by one (so each word's rows are known) against the song, pauses allowed between words."""
    from .dtw import banded_dtw

    hop = feats.hop_s
    t0 = max(0, int(math.floor(lo_s / hop)))
    t1 = min(feats.n_frames, int(math.ceil(hi_s / hop)))
    T = t1 - t0
    n_rows = sum(t.n_frames for t in templates) + len(templates) + 1
    if T < 2 or T < len(templates):
        return None
    d = feats.mfcc.shape[1]
    feat, level, pause, spans = [], [], [], []
    row = 0
    for k, tpl in enumerate(templates):
        feat.append(np.zeros((1, d)))
        level.append([0.0])
        pause.append([1.0 if k == 0 else WORD_GAP_PAUSE])
        row += 1
        feat.append(tpl.mfcc)
        level.append(0.3 + 0.7 * tpl.level)
        pause.append(np.full(tpl.n_frames, -1.0))
        spans.append((row, row + tpl.n_frames))
        row += tpl.n_frames
    feat.append(np.zeros((1, d)))
    level.append([0.0])
    pause.append([1.0])
    tm = np.concatenate(feat, axis=0)
    J = tm.shape[0]
    assert J == n_rows
    lo = np.zeros(J, dtype=np.int64)
    hi = np.full(J, T, dtype=np.int64)
    pj, pt, _ = banded_dtw(tm, np.concatenate([np.asarray(x, float) for x in level]),
                           np.concatenate([np.asarray(x, float) for x in pause]), feats.mfcc[t0:t1], voice[t0:t1],
                           lo, hi, horizontal_penalty=WORD_HOLD_COST)
    if pj.size == 0:
        return None
    out = []
    for a, b in spans:
        ts = pt[(pj >= a) & (pj < b)]
        if ts.size == 0:
            return None
        out.append(((t0 + int(ts.min())) * hop, (t0 + int(ts.max()) + 1) * hop))
    return out


def _voice_run_end(analysis: Analysis, start_s: float, limit_s: float, threshold: float) -> float:
    """Where the singing that starts at ``start_s`` stops: the end of the voiced run from there,
    pauses shorter than ``WORD_PAUSE_S`` bridged, at most ``limit_s`` (``limit_s`` when the voice
    curve never rises)."""
    va = analysis.vocal_activity
    hop = analysis.hop_s
    i, end = int(start_s / hop), None
    quiet = 0
    while i < len(va) and i * hop < limit_s:
        if va[i] >= threshold:
            end, quiet = (i + 1) * hop, 0
        elif end is not None:
            quiet += 1
            if quiet * hop >= WORD_PAUSE_S:
                break
        i += 1
    return min(limit_s, end) if end is not None else limit_s


def _voice_holds(analysis: Analysis, end_s: float, limit_s: float, threshold: float) -> float:
    """``end_s`` moved on while the voice keeps singing (a held note), at most to ``limit_s``."""
    va = analysis.vocal_activity
    hop = analysis.hop_s
    i = int(end_s / hop)
    while i < len(va) and (i + 1) * hop <= limit_s and va[i] >= threshold:
        i += 1
    return max(end_s, min(limit_s, i * hop))


def align_words(lyrics: Lyrics, audio_path: Path, analysis: Analysis, *, feats=None) -> Lyrics:
    """Give the words of every timed line without word times their times, inside the line.

    The local problem: the line's start (and end) are known, so each word's spoken template only
    has to be warped onto a few seconds of song (:func:`_words_of_line`); word starts then snap to
    the voice's onsets. Lines whose words are all timed already (enhanced LRC, Suno, aligned)
    are left as they are.

    Parameters
    ----------
    lyrics : Lyrics
        Lyrics with (some) timed lines.
    audio_path : Path
        The song (decoded only when some timed line needs word times).
    analysis : Analysis
        The song's analysis (its voice curve).
    feats : VoiceFeatures, optional
        The song's aligner features when already computed.

    Returns
    -------
    Lyrics
        The same lines; every timed line has word times within its span.

    Raises
    ------
    ToolMissing
        espeak-ng is not installed.
    """
    todo = [i for i, ln in enumerate(lyrics.lines) if needs_word_times(ln)]
    if not todo:
        return lyrics
    from .tts import guess_voice, speak_lines

    if feats is None:
        feats = song_features(Path(audio_path), vocals=vocal_stem(analysis))
    voice = _voice_curve(analysis, feats.n_frames, feats.hop_s)
    lines = list(lyrics.lines)
    words_of = {i: [w.text for w in lines[i].words] or split_words(lines[i].text) for i in todo}
    unique = sorted({w for ws in words_of.values() for w in ws})
    lang = guess_voice([ln.text for ln in lines])
    tpl = dict(zip(unique, speak_lines(unique, voice=lang)))
    duration = float(analysis.duration_s)
    thr = voice_threshold(np.asarray(analysis.vocal_activity, dtype=float))
    for i in todo:
        ln = lines[i]
        ws = words_of[i]
        prev_end = max((float(lines[k].end_s) for k in range(i) if lines[k].is_timed), default=0.0)
        nxt = min((float(lines[k].start_s) for k in range(i + 1, len(lines)) if lines[k].is_timed), default=duration)
        lo = max(prev_end, float(ln.start_s) - WORD_LEAD_S)
        # a line's file time gives no end (an LRC line "ends" where the next starts, maybe after a
        # long break): look no further than its words could plausibly be sung
        longest = WORD_SPAN_BASE_S + WORD_SPAN_PER_SYLLABLE_S * line_syllables(ws)
        hi = min(nxt, float(ln.end_s), float(ln.start_s) + longest)
        # ... and no further than the voice sings on from the line's start (a chord's attack after a
        # pause is not the line's last word)
        hi = min(hi, _voice_run_end(analysis, float(ln.start_s), hi, thr) + WORD_TAIL_S)
        found = _words_of_line(ln, [tpl[w] for w in ws], feats, voice, lo, hi) if ws else None
        if not found:
            continue
        # word starts snap onto the voice's onsets (measured on Embers' word truth: median error
        # 0.38 → 0.28 s; on espeak words sung one by one it costs ~0.05 s: their onsets are soft)
        starts = []
        for a, _ in found:
            floor_s = starts[-1] + 0.02 if starts else lo
            starts.append(max(snap(a, feats.onset, feats.onset_hop_s, floor_s, hi - 0.02), floor_s))
        if ln.source == "file":  # the file's line time is the first word's start (more precise than ours)
            starts[0] = float(ln.start_s)
            starts = [max(t, starts[0] + 0.02 * k) for k, t in enumerate(starts)]
        ends = [min(b, starts[k + 1]) if k + 1 < len(found) else min(b, hi) for k, (_, b) in enumerate(found)]
        # a sung word lasts as long as the voice holds it (a long note), up to the next word
        for k in range(len(ends)):
            limit = starts[k + 1] if k + 1 < len(starts) else hi
            ends[k] = _voice_holds(analysis, ends[k], limit, thr)
        ends = [max(e, s + 0.02) for s, e in zip(starts, ends)]
        words = tuple(Word(w, round(s, 3), round(e, 3)) for w, s, e in zip(ws, starts, ends))
        lines[i] = dataclasses.replace(ln, words=words)
    return dataclasses.replace(lyrics, lines=tuple(lines))


def align_dsp(
    lyrics: Lyrics,
    audio_path: Path,
    analysis: Analysis,
    *,
    progress: ProgressFn = ignore,
) -> Lyrics:
    """Time every line and word of ``lyrics`` on the song, offline, without a neural model (TTS + DTW).

    Parameters
    ----------
    lyrics : Lyrics
        As read from a file: fully timed, partly timed (the timed lines are anchors) or untimed.
    audio_path : Path
        The song (any format :func:`mvtimeline.audio.load.load` decodes); only decoded when some
        line is untimed.
    analysis : Analysis
        The song's analysis (duration, vocal activity, vocal regions).
    progress : ProgressFn
        Receives ``Progress("align", i, len(DSP_STEPS), item=step)`` as each step of
        :data:`DSP_STEPS` starts (``"offset"`` and ``"words"`` for timed lyrics; ``"voice"``,
        ``"speak"`` and ``"warp"`` for untimed ones).

    Returns
    -------
    Lyrics
        Every line and word timed within ``[0, analysis.duration_s]``, lines in order without
        overlap. ``source`` is ``"file"`` (kept from the file), ``"aligned"`` (found here) or
        ``"interim"`` (low confidence: placed by syllables between its neighbours);
        ``confidence`` 0..1. ``offset_s`` holds any global shift applied to the file's times.

    Raises
    ------
    InputError
        The analysis has no positive duration.
    ToolMissing
        Untimed lines and no espeak-ng.
    """
    def step(name: str) -> None:
        (progress or ignore)(Progress("align", DSP_STEPS.index(name), len(DSP_STEPS), item=name))

    duration = float(analysis.duration_s)
    if not math.isfinite(duration) or duration <= 0:
        raise InputError(f"analysis duration {analysis.duration_s!r} s must be positive")
    regions = analysis.vocal_regions_s
    if not lyrics.lines:
        return lyrics
    if lyrics.is_timed:
        step("offset")
        lyrics, feats = fit_offset(lyrics, audio_path, analysis)
        step("words")
        lyrics = align_words(lyrics, Path(audio_path), analysis, feats=feats)
        return flag_lines(place(tighten(lyrics), vocal_regions_s=regions, duration_s=duration), analysis)

    interim = place(lyrics, vocal_regions_s=regions, duration_s=duration)
    lines = list(lyrics.lines)
    todo = [i for i, ln in enumerate(lines) if not ln.is_timed]
    from .tts import guess_voice, speak_lines

    step("voice")
    feats = song_features(Path(audio_path), vocals=vocal_stem(analysis))
    voice = _voice_curve(analysis, feats.n_frames, feats.hop_s)
    step("speak")
    lang = guess_voice([ln.text for ln in lines])
    templates = speak_lines([lines[i].text for i in todo], voice=lang)
    tpl_of = dict(zip(todo, templates))
    log.info("aligning %d line(s) with espeak-ng voice %s", len(todo), lang)

    step("warp")
    result: dict[int, tuple[float, float, list[float], float]] = {}
    n = len(lines)
    runs = [(i, j, interim.lines[i - 1].end_s if i > 0 else 0.0, interim.lines[j].start_s if j < n else duration)
            for i, j in untimed_runs(lines)]
    spans = stanza_spans(lines, analysis, music=feats.music, music_hop_s=feats.hop_s) if len(todo) == n else None
    twins: dict[int, list[tuple[int, float]]] = {}  # first stanza → [(repeat, lag)]
    run_of: dict[int, int] = {}  # stanza → its run
    if spans:  # structure first: each stanza is aligned inside the stretch of song it was matched to
        runs = []
        for k, sp in enumerate(spans):
            if sp.twin >= 0:
                twins.setdefault(sp.twin, []).append((k, sp.lag_s))
        paired = {k for k, sp in enumerate(spans) if sp.twin >= 0} | set(twins)
        for k, sp in enumerate(spans):
            lo_s = max(spans[k - 1].end_s if k else 0.0, sp.start_s - STANZA_PAD_S)
            hi_s = min(spans[k + 1].start_s if k + 1 < len(spans) else duration, sp.end_s + STANZA_PAD_S)
            # no pause between two stanzas (sung back to back): their boundary is the DTW's to find
            if (k and k not in paired and k - 1 not in paired
                    and sp.start_s - spans[k - 1].end_s < STANZA_JOIN_GAP_S):
                i, _, lo0, _ = runs[-1]
                runs[-1] = (i, sp.last + 1, lo0, hi_s)
            else:
                runs.append((sp.first, sp.last + 1, lo_s, hi_s))
            run_of[k] = len(runs) - 1
            sub = place(dataclasses.replace(lyrics, lines=tuple(lines[sp.first: sp.last + 1])),
                        vocal_regions_s=[(max(a, lo_s), min(b, hi_s)) for a, b in regions if b > lo_s and a < hi_s]
                        or [(lo_s, hi_s)], duration_s=duration)
            interim = dataclasses.replace(interim, lines=interim.lines[: sp.first] + sub.lines
                                          + interim.lines[sp.last + 1:])
    twin_runs = {run_of[k] for k, sp in enumerate(spans or ()) if sp.twin >= 0}
    for r, (i, j, lo_s, hi_s) in enumerate(runs):
        if r in twin_runs:
            continue  # aligned with the stanza it repeats
        reps = [(k2, lag) for k, lst in twins.items() if run_of[k] == r for k2, lag in lst]
        run = _align_run(lines[i:j], list(interim.lines[i:j]), lo_s, hi_s, feats,
                         [tpl_of[q] for q in range(i, j)], voice, [lag for _, lag in reps])
        for q, res in enumerate(run):
            result[i + q] = res
        for k2, lag in reps:  # the repeats: the same warp, later
            i2 = spans[k2].first
            for q, (a, b, ws, conf) in enumerate(run):
                result[i2 + q] = (a + lag, b + lag, [w + lag for w in ws], conf)

    out = list(lines)
    low = []
    confs: dict[int, float] = {}
    prev_end = 0.0
    for i in range(n):
        ln = lines[i]
        if ln.is_timed:
            prev_end = float(ln.end_s)
            continue
        if i not in result:
            low.append(i)
            confs[i] = 0.0
            continue
        start, end, word_starts, conf = result[i]
        confs[i] = conf
        if conf < MIN_CONFIDENCE:
            low.append(i)
            continue
        nxt = next((result[k][0] for k in range(i + 1, n) if k in result), duration)
        start = snap(start, feats.onset, feats.onset_hop_s, prev_end, min(end, nxt) - 0.05,
                      after_s=LINE_SNAP_AFTER_S)
        start = max(start, prev_end)
        end = max(end, start + 0.05)
        words = ln.words or tuple(Word(w) for w in split_words(ln.text))
        ws = [start]
        for t in word_starts[1:]:
            t = snap(t, feats.onset, feats.onset_hop_s, ws[-1] + 0.02, end - 0.02)
            ws.append(min(max(t, ws[-1]), end))
        new_words = tuple(
            Word(w.text, ws[k], ws[k + 1] if k + 1 < len(ws) else end) for k, w in enumerate(words[: len(ws)])
        )
        out[i] = dataclasses.replace(ln, start_s=start, end_s=end, words=new_words, source="aligned",
                                     confidence=conf)
        prev_end = end
    if low:
        log.info("%d of %d line(s) aligned with low confidence (< %.2f); they keep their interim "
                    "(syllable-spread) times: lines %s", len(low), len(todo), MIN_CONFIDENCE,
                    ", ".join(str(lines[i].line_no or i + 1) for i in low[:12]) + (" …" if len(low) > 12 else ""))
    placed = place(dataclasses.replace(lyrics, lines=tuple(out)), vocal_regions_s=regions, duration_s=duration)
    final = [
        dataclasses.replace(ln, confidence=confs[i]) if i in low else ln for i, ln in enumerate(placed.lines)
    ]
    sure = [confs[i] for i in todo if i in confs]
    if len(sure) >= LOST_MIN_LINES and float(np.mean(sure)) < LOST_CONFIDENCE:
        log.warning("%s: the alignment looks lost (mean confidence %.2f over %d lines): look at it "
                    "(mvtimeline align ... --plot align.png) or give timed lyrics (LRC, SRT)",
                    lyrics.path or "lyrics", float(np.mean(sure)), len(sure))
    return flag_lines(dataclasses.replace(placed, lines=tuple(final)), analysis)

