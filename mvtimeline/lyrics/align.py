"""Align lyrics to the song offline: file times kept (offset-checked), the rest found by TTS + DTW.

:func:`align` gives every line and word a start and end, a ``source`` and a ``confidence``:

* **Fully timed lyrics** (LRC, enhanced LRC, SRT/VTT, Suno aligned words, aligned.json): the times
  are kept (``source="file"``), but a **global offset search** checks them against the song, for
  files made for another release or with a different intro. A 0/1 "sung" indicator built from
  the timed lines is cross-correlated with the vocal-activity curve of the analysis over
  ±``OFFSET_RANGE_S``; the best lag is applied only when its correlation beats the unshifted one
  clearly (``OFFSET_MIN_GAIN``), is logged, and recorded in ``Lyrics.offset_s`` (seconds added to
  the file's times).
* **Untimed lines** are aligned, each run of them between the timed lines around it (the anchors;
  the song's start and end when there are none):

  1. the song's voice-enhanced features (:mod:`.align_audio`: HPSS + running-median foreground,
     MFCC c1–c12 with CMVN) and the vocal-activity curve of the analysis;
  2. every line spoken by espeak-ng in a voice matching the lyrics' language (:mod:`.align_tts`);
  3. one banded DTW (:mod:`.align_dtw`) of all spoken lines, with pauses between them, against
     the song span: speech rows want matching MFCCs *and* voice, pause rows want no voice, so the
     programme assigns lines to vocal phrases (monotone, gaps between lines on vocal gaps) and
     warps inside them at once. The band (``BAND_S`` around) follows the syllable-weighted interim
     placement of :func:`~mvtimeline.lyrics.place`;
  4. line starts and word starts snap to the nearest strong onset of the voice within
     ``SNAP_S``; words inside a line get their times from the warp of their syllables;
  5. a confidence per line from how well its MFCCs matched (against the same speech compared to
     the whole span) and how much of it has voice. Lines below ``MIN_CONFIDENCE`` fall back to the
     interim placement between their confident neighbours (``source="interim"``, their low
     confidence kept), with one warning giving the count.

Public: align, estimate_offset, MIN_CONFIDENCE, OFFSET_RANGE_S.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..types import Analysis, Line, Lyrics, Word
from ._common import untimed_runs
from .place import place
from .words import count_syllables, line_syllables, split_words

__all__ = ["align", "estimate_offset", "MIN_CONFIDENCE", "OFFSET_RANGE_S"]

log = logging.getLogger(__name__)

#: Aligned lines below this confidence fall back to the interim placement.
MIN_CONFIDENCE = 0.35
#: The offset search looks this far (seconds) either way.
OFFSET_RANGE_S = 10.0
#: The best offset must beat no offset by this share of the correlation's range.
OFFSET_MIN_GAIN = 0.15
#: Offsets smaller than this (seconds) are not worth applying (line times in files and the voice
#: curve are not more precise).
OFFSET_MIN_S = 0.15
#: The offset found on whole lines is refined within this many seconds on the voice's onsets.
REFINE_S = 0.6

#: Half-width (seconds) of the DTW band around the interim placement: at least ``BAND_MIN_S``, at
#: most ``BAND_MAX_S``, else ``BAND_SHARE`` of the span.
BAND_MIN_S = 4.0
BAND_MAX_S = 15.0
BAND_SHARE = 0.15
#: Pause rows in the template before each line and after the last.
PAUSE_ROWS = 2
#: Word starts move to a voice onset at most this far (seconds); line starts look from
#: ``SNAP_S`` before to ``LINE_SNAP_AFTER_S`` after (the voice curve and the analysis windows
#: see a voice some 0.1–0.2 s before it starts).
SNAP_S = 0.12
LINE_SNAP_AFTER_S = 0.5
#: A clear onset is at least this share of the strongest one in the window.
SNAP_REL = 0.35
#: Seconds per syllable assumed for a timed line's sung part in the offset search.
_S_PER_SYLLABLE = 0.3


# ----------------------------------------------------------------------------------- offset search
def _sung_indicator(lines: Sequence[Line], hop_s: float, n: int) -> np.ndarray:
    ind = np.zeros(n)
    for ln in lines:
        if not ln.is_timed:
            continue
        timed_words = [w for w in ln.words if w.start_s is not None and w.end_s is not None]
        if timed_words:
            spans = [(w.start_s, w.end_s) for w in timed_words]
        else:
            words = [w.text for w in ln.words] or split_words(ln.text)
            guess = 0.5 + _S_PER_SYLLABLE * line_syllables(words)
            spans = [(ln.start_s, min(ln.end_s, ln.start_s + guess))]
        for a, b in spans:
            i, j = int(round(a / hop_s)), int(round(b / hop_s))
            ind[max(0, i): max(0, min(n, j))] = 1.0
    return ind


def estimate_offset(
    lyrics: Lyrics,
    analysis: Analysis,
    *,
    range_s: float = OFFSET_RANGE_S,
    onset: np.ndarray | None = None,
    onset_hop_s: float = 0.01,
) -> tuple[float, float]:
    """The shift (seconds, added to the lyrics' times) that best fits the timed lines to the voice.

    Parameters
    ----------
    lyrics : Lyrics
        Lyrics with (some) timed lines.
    analysis : Analysis
        The song's analysis (``vocal_activity`` every ``hop_s`` seconds).
    range_s : float > 0
        Largest shift tried either way, in seconds.
    onset : np.ndarray or None
        The voice's onset envelope (every ``onset_hop_s`` s, 0..1); when given, the shift is
        refined by moving each shifted line start onto the first clear voice onset near it and
        taking the median move (the vocal-activity curve rises early, on chords and windows).

    Returns
    -------
    offset_s : float
        0.0 unless a shift fits clearly better than none (by ``OFFSET_MIN_GAIN`` of the range of
        the correlation); positive means the song sings later than the file says.
    gain : float
        How much better the chosen shift fits than none, as a share of the correlation's range.
    """
    va = np.asarray(analysis.vocal_activity, dtype=float)
    hop = float(analysis.hop_s)
    if va.size < 8 or hop <= 0:
        return 0.0, 0.0
    ind = _sung_indicator(lyrics.lines, hop, va.size)
    if ind.sum() == 0:
        return 0.0, 0.0
    x = va - va.mean()
    max_lag = int(round(range_s / hop))
    n = va.size
    # correlation of ind shifted by lag (ind[t - lag]) with x[t], for lags -max_lag..max_lag
    size = 1 << int(math.ceil(math.log2(2 * n + 1)))
    corr_full = np.fft.irfft(np.fft.rfft(x, size) * np.conj(np.fft.rfft(ind, size)), size)
    lags = np.arange(-max_lag, max_lag + 1)
    corr = corr_full[lags % size]
    k = int(np.argmax(corr))
    c0 = corr[max_lag]
    span = float(corr.max() - np.median(corr))
    if span <= 0:
        return 0.0, 0.0
    gain = float((corr[k] - c0) / span)
    lag = float(lags[k])
    if 0 < k < len(corr) - 1:  # parabolic refinement between frames
        a, b, c = corr[k - 1], corr[k], corr[k + 1]
        den = a - 2 * b + c
        if den < 0:
            lag += 0.5 * (a - c) / den
    # refine on the rising edges of the voice against the line starts (block ends are guesses)
    edges = np.maximum(0.0, np.diff(va, prepend=va[0]))
    edges = np.convolve(edges, np.ones(3) / 3, mode="same")
    starts = [ln.start_s / hop for ln in lyrics.lines if ln.is_timed]
    best_fine, best_score = lag, -1.0
    for fine in np.arange(lag - REFINE_S / hop, lag + REFINE_S / hop + 0.25, 0.25):
        idx = np.round(np.asarray(starts) + fine).astype(int)
        idx = idx[(idx >= 0) & (idx < n)]
        score = float(edges[idx].sum()) if idx.size else 0.0
        if score > best_score:
            best_fine, best_score = fine, score
    offset = best_fine * hop
    if onset is not None and gain >= OFFSET_MIN_GAIN:
        moves = []
        for st in starts:
            t = st * hop + offset
            snapped = _snap(t, onset, onset_hop_s, 0.0, math.inf, after_s=LINE_SNAP_AFTER_S)
            if snapped != t:
                moves.append(snapped - t)
        if len(moves) >= max(2, 0.3 * len(starts)):
            offset += float(np.median(moves))
    log.debug("offset search: block lag %.3f s, refined %.3f s, gain %.2f", lag * hop, offset, gain)
    if abs(offset) < OFFSET_MIN_S or gain < OFFSET_MIN_GAIN:
        return 0.0, gain
    return round(float(offset), 3), gain


def _shift(lyrics: Lyrics, offset_s: float, duration_s: float) -> Lyrics:
    def mv(t: float | None) -> float | None:
        return None if t is None else min(max(t + offset_s, 0.0), duration_s)

    lines = tuple(
        dataclasses.replace(
            ln,
            start_s=mv(ln.start_s),
            end_s=mv(ln.end_s),
            words=tuple(Word(w.text, mv(w.start_s), mv(w.end_s)) for w in ln.words),
        )
        for ln in lyrics.lines
    )
    return dataclasses.replace(lyrics, lines=lines, offset_s=lyrics.offset_s + offset_s)


def _tighten(lyrics: Lyrics) -> Lyrics:
    """A line whose words are all timed ends where its last word ends (not at the next line's tag:
    the gap after it is where a cut may go), so word-timed formats agree on line ends."""
    lines = []
    for ln in lyrics.lines:
        if ln.is_timed and ln.words and all(w.start_s is not None and w.end_s is not None for w in ln.words):
            last = float(ln.words[-1].end_s)
            if ln.start_s < last < ln.end_s:
                ln = dataclasses.replace(ln, end_s=last)
        lines.append(ln)
    return dataclasses.replace(lyrics, lines=tuple(lines))


# ------------------------------------------------------------------------------------- alignment
def _voice_curve(analysis: Analysis, n_frames: int, hop_s: float) -> np.ndarray:
    """The analysis' vocal activity on the aligner's grid, as a soft 0..1 voice presence."""
    from ..audio import voice_threshold

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


def _snap(t: float, onset: np.ndarray, hop: float, lo: float, hi: float, *, before_s: float = SNAP_S,
          after_s: float = SNAP_S) -> float:
    """Move ``t`` onto the first clear voice onset in ``[t - before_s, t + after_s]`` (and in [lo, hi]).

    A clear onset is a local peak of the onset envelope at least ``SNAP_REL`` of the window's
    strongest and at least 0.1; ``t`` stays where it is when there is none.
    """
    a = max(lo, t - before_s)
    b = min(hi, t + after_s)
    i, j = int(math.ceil(a / hop)), int(math.floor(b / hop)) + 1
    i, j = max(i, 1), min(j, onset.size - 1)
    if j - i < 3:
        return t
    seg = onset[i:j]
    top = float(seg.max())
    if top < 0.1:
        return t
    for k in range(seg.size):
        x = onset[i + k]
        if x >= SNAP_REL * top and x >= onset[i + k - 1] and x >= onset[i + k + 1]:
            return (i + k) * hop
    return t


def _align_run(
    lines: list[Line],
    interim: list[Line],
    lo_s: float,
    hi_s: float,
    feats,
    templates,
    voice: np.ndarray,
) -> list[tuple[float, float, list[float], float]]:
    """Align one run of untimed lines inside [lo_s, hi_s]: (start, end, word starts, confidence)."""
    from .align_dtw import banded_dtw

    hop = feats.hop_s
    t0 = max(0, int(math.floor(lo_s / hop)))
    t1 = min(feats.n_frames, int(math.ceil(hi_s / hop)))
    T = t1 - t0
    n = len(lines)
    if T < 2 * n + 2:
        return []
    song = feats.mfcc[t0:t1]
    v = voice[t0:t1]

    # template rows and their expected song time (the interim placement)
    rows_feat, rows_level, rows_pause, rows_time = [], [], [], []
    spans: list[tuple[int, int]] = []
    d = song.shape[1]
    prev_end = lo_s
    for i, (tpl, im) in enumerate(zip(templates, interim)):
        for k in range(PAUSE_ROWS):
            rows_feat.append(np.zeros((1, d)))
            rows_level.append([0.0])
            rows_pause.append([1.0])
            rows_time.append([prev_end + (im.start_s - prev_end) * (k + 0.5) / PAUSE_ROWS])
        a = sum(len(r) for r in rows_level)
        m = tpl.n_frames
        rows_feat.append(tpl.mfcc)
        rows_level.append(0.3 + 0.7 * tpl.level)
        rows_pause.append(np.full(m, -1.0))
        rows_time.append(im.start_s + (im.end_s - im.start_s) * (np.arange(m) + 0.5) / max(1, m))
        spans.append((a, a + m))
        prev_end = im.end_s
    for k in range(PAUSE_ROWS):
        rows_feat.append(np.zeros((1, d)))
        rows_level.append([0.0])
        rows_pause.append([1.0])
        rows_time.append([prev_end + (hi_s - prev_end) * (k + 0.5) / PAUSE_ROWS])
    tm = np.concatenate(rows_feat, axis=0)
    level = np.concatenate([np.asarray(r, float) for r in rows_level])
    pause_w = np.concatenate([np.asarray(r, float) for r in rows_pause])
    expected = (np.concatenate([np.asarray(r, float) for r in rows_time]) - t0 * hop) / hop
    J = tm.shape[0]
    band = min(BAND_MAX_S, max(BAND_MIN_S, BAND_SHARE * (hi_s - lo_s))) / hop
    lo = np.clip(np.floor(expected - band), 0, T - 1).astype(np.int64)
    hi = np.clip(np.ceil(expected + band) + 1, 1, T).astype(np.int64)
    lo = np.maximum.accumulate(lo)
    hi = np.maximum.accumulate(hi)
    lo[0], hi[-1] = 0, T
    lo = np.minimum(lo, hi - 1)
    pj, pt, total = banded_dtw(tm, level, pause_w, song, v, lo, hi)
    if pj.size == 0:
        log.warning("alignment found no path for %d line(s) in %.1f..%.1f s", n, lo_s, hi_s)
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
        conf = float(np.clip(0.1 + 0.5 * conf_mfcc + 0.4 * conf_voice, 0.0, 1.0))
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


def align(
    lyrics: Lyrics,
    audio_path: Path,
    analysis: Analysis,
    *,
    progress: Callable[[str], None] | None = None,
) -> Lyrics:
    """Time every line and word of ``lyrics`` on the song, offline.

    Parameters
    ----------
    lyrics : Lyrics
        As read from a file: fully timed, partly timed (the timed lines are anchors) or untimed.
    audio_path : Path
        The song (any format :func:`mvtimeline.audio.load.load` decodes); only decoded when some
        line is untimed.
    analysis : Analysis
        The song's analysis (duration, vocal activity, vocal regions).
    progress : callable(str) or None
        Called with the name of each step as it starts (``"offset"``, ``"voice"``, ``"speak"``,
        ``"warp"``).

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
    step = progress or (lambda name: None)
    duration = float(analysis.duration_s)
    if not math.isfinite(duration) or duration <= 0:
        raise InputError(f"analysis duration {analysis.duration_s!r} s must be positive")
    regions = analysis.vocal_regions_s
    if not lyrics.lines:
        return lyrics
    if lyrics.is_timed:
        step("offset")
        offset, gain = estimate_offset(lyrics, analysis)
        if offset:  # worth a closer look: refine on the voice's onsets
            from .align_audio import song_features

            feats = song_features(Path(audio_path))
            offset, gain = estimate_offset(lyrics, analysis, onset=feats.onset, onset_hop_s=feats.onset_hop_s)
        if offset:
            log.warning("%s: lyrics times shifted by %+.2f s to fit the song's voice (fit %.2f better)",
                        lyrics.path or "lyrics", offset, gain)
            lyrics = _shift(lyrics, offset, duration)
        else:
            log.info("%s: lyrics times fit the song (no offset; best shift gains %.2f)", lyrics.path or "lyrics", gain)
        return place(_tighten(lyrics), vocal_regions_s=regions, duration_s=duration)

    interim = place(lyrics, vocal_regions_s=regions, duration_s=duration)
    lines = list(lyrics.lines)
    todo = [i for i, ln in enumerate(lines) if not ln.is_timed]
    from .align_audio import song_features
    from .align_tts import guess_voice, speak_lines

    step("voice")
    feats = song_features(Path(audio_path))
    voice = _voice_curve(analysis, feats.n_frames, feats.hop_s)
    step("speak")
    lang = guess_voice([ln.text for ln in lines])
    templates = speak_lines([lines[i].text for i in todo], voice=lang)
    tpl_of = dict(zip(todo, templates))
    log.info("aligning %d line(s) with espeak-ng voice %s", len(todo), lang)

    step("warp")
    result: dict[int, tuple[float, float, list[float], float]] = {}
    n = len(lines)
    for i, j in untimed_runs(lines):
        lo_s = interim.lines[i - 1].end_s if i > 0 else 0.0
        hi_s = interim.lines[j].start_s if j < n else duration
        run = _align_run(lines[i:j], list(interim.lines[i:j]), lo_s, hi_s, feats,
                         [tpl_of[k] for k in range(i, j)], voice)
        for k, r in enumerate(run):
            result[i + k] = r

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
        start = _snap(start, feats.onset, feats.onset_hop_s, prev_end, min(end, nxt) - 0.05,
                      after_s=LINE_SNAP_AFTER_S)
        start = max(start, prev_end)
        end = max(end, start + 0.05)
        words = ln.words or tuple(Word(w) for w in split_words(ln.text))
        ws = [start]
        for t in word_starts[1:]:
            t = _snap(t, feats.onset, feats.onset_hop_s, ws[-1] + 0.02, end - 0.02)
            ws.append(min(max(t, ws[-1]), end))
        new_words = tuple(
            Word(w.text, ws[k], ws[k + 1] if k + 1 < len(ws) else end) for k, w in enumerate(words[: len(ws)])
        )
        out[i] = dataclasses.replace(ln, start_s=start, end_s=end, words=new_words, source="aligned",
                                     confidence=conf)
        prev_end = end
    if low:
        log.warning("%d of %d line(s) aligned with low confidence (< %.2f); they keep their interim "
                    "(syllable-spread) times: lines %s", len(low), len(todo), MIN_CONFIDENCE,
                    ", ".join(str(lines[i].line_no or i + 1) for i in low[:12]) + (" …" if len(low) > 12 else ""))
    placed = place(dataclasses.replace(lyrics, lines=tuple(out)), vocal_regions_s=regions, duration_s=duration)
    final = [
        dataclasses.replace(ln, confidence=confs[i]) if i in low else ln for i, ln in enumerate(placed.lines)
    ]
    return dataclasses.replace(placed, lines=tuple(final))
