"""Structure first: which stretch of the song each stanza of the lyrics is sung in.

Before any line is warped onto the song, the song's vocal phrases (runs of singing between breaths
and breaks, from the analysis' voice curve) are matched to the lyrics' stanzas (blank-line blocks,
and section tags) by dynamic programming, in order:

- every stanza takes a run of consecutive phrases whose sung time fits its syllables at one rate
  of singing for the whole song (a few rates are tried; the best fit wins);
- phrases may be left to no stanza (an ad-lib, backing vocals, a lead instrument the voice curve
  took for singing) at a cost per second, so a stanza never has to stretch over them;
- a stanza that would span a long break costs, so instrumental breaks fall between stanzas;
- repeated stanzas (a chorus sung again, a verse with the same words) are sung to music that
  repeats: once every stanza has a first place, the song's self-similarity (chroma and timbre of
  the whole mix) near each pair of repeats pins where both start, and a second pass rewards those
  starts.

The per-line alignment then runs inside each stanza's stretch only, so an error cannot carry a whole
section or a repeated chorus to the wrong place. Internal to :mod:`mvtimeline.lyrics` (used by
:mod:`.dsp`).

Public: StanzaSpan, stanza_spans, vocal_phrases, repeated_stanzas, repeat_lags, compile_kernels.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mvtimeline.audio import voice_threshold
from .jit import njit
from mvtimeline.types import Analysis, Line
from ..words import line_syllables, split_words

__all__ = ["StanzaSpan", "stanza_spans", "vocal_phrases", "repeated_stanzas", "repeat_lags", "compile_kernels"]

log = logging.getLogger(__name__)

#: Gaps shorter than this (seconds) do not split a phrase; phrases shorter than PHRASE_MIN_S are noise.
PHRASE_BRIDGE_S = 0.15
PHRASE_MIN_S = 0.3
#: A dip of the voice curve this deep below its level within a second splits a phrase, at most every
#: DIP_SPACING_S seconds.
DIP_DEPTH = 0.2
DIP_SPACING_S = 1.5
#: Cost of leaving a second of singing to no stanza.
SKIP_COST_PER_S = 0.35
#: Weight of the misfit between a stanza's sung time and its syllables (squared log ratio).
FIT_WEIGHT = 4.0
#: A break inside a stanza longer than this (seconds) costs BREAK_COST_PER_S per extra second.
BREAK_OK_S = 3.0
BREAK_COST_PER_S = 0.6
#: Bonus for a stanza starting after a pause, full for a pause of GAP_FULL_S seconds or more (a
#: stanza break is longer than a breath); GAP_FULL_LINE_S when lines are placed in runs (no stanzas).
GAP_BONUS = 1.5
GAP_FULL_S = 1.5
GAP_FULL_LINE_S = 1.5
#: Phrases shorter than this (seconds) are blips, not singing, when measuring the pause before a stanza,
#: and are no phrase at all when no other phrase comes within BLIP_GAP_S seconds of them.
BLIP_S = 0.8
BLIP_GAP_S = 1.0
#: Rates of singing tried, as multiples of the song's average (sung time per syllable).
RATE_FACTORS = (0.6, 0.75, 0.9, 1.0, 1.1, 1.25, 1.45)
#: Most phrases one stanza may take.
MAX_PHRASES = 40
#: Two stanzas whose words match this closely (difflib ratio) are repeats of each other.
REPEAT_TEXT_MIN = 0.75
#: Repeats are looked for this far (seconds) around where the first pass put them, over at least
#: REPEAT_MIN_S and at most REPEAT_MAX_S of music.
REPEAT_SEARCH_S = 8.0
REPEAT_MIN_S = 3.0
REPEAT_MAX_S = 20.0
#: A repeat counts when its similarity stands this many deviations above the search window's median.
REPEAT_MIN_Z = 4.0
#: Lags whose music fits within this many standard deviations of the best count as ties.
REPEAT_TIE = 0.5
#: Bonus for a repeated stanza starting at its pinned start (falls off linearly over ANCHOR_TOL_S).
REPEAT_BONUS = 3.0
ANCHOR_TOL_S = 1.0
#: Lyrics without stanzas: at most this many lines share one run of phrases.
LINES_PER_BLOCK = 8
#: At most this many passes with repeat anchors.
REPEAT_PASSES = 3


@dataclass(frozen=True)
class StanzaSpan:
    """Where one stanza (lines ``first``..``last``, inclusive indices) is sung: ``[start_s, end_s]``,
    and how well its sung time fits its syllables (1 = exactly, 0.5 = twice off).

    ``twin`` is the index (in the list of spans) of an earlier stanza with the same lines whose
    music this one repeats ``lag_s`` seconds later (-1: none): the two are sung alike and can be
    aligned together."""

    first: int
    last: int
    start_s: float
    end_s: float
    fit: float
    twin: int = -1
    lag_s: float = 0.0


def vocal_phrases(analysis: Analysis) -> list[tuple[float, float]]:
    """Runs of singing (seconds) from the analysis' voice curve: above its threshold, gaps under
    ``PHRASE_BRIDGE_S`` bridged, runs under ``PHRASE_MIN_S`` dropped."""
    va = np.asarray(analysis.vocal_activity, dtype=float)
    if va.size == 0:
        return []
    on = va >= voice_threshold(va)
    hop = analysis.hop_s
    out: list[list[float]] = []
    i = 0
    while i < va.size:
        if not on[i]:
            i += 1
            continue
        j = i
        while j < va.size and on[j]:
            j += 1
        a, b = i * hop, j * hop
        if out and a - out[-1][1] < PHRASE_BRIDGE_S:
            out[-1][1] = b
        else:
            out.append([a, b])
        i = j
    phrases = [(a, b) for a, b in out if b - a >= PHRASE_MIN_S]
    # a blip alone (a chord's attack or a drum hit the voice curve took for a syllable) is no phrase
    kept = [(a, b) for k, (a, b) in enumerate(phrases)
            if b - a >= BLIP_S
            or (k > 0 and a - phrases[k - 1][1] < BLIP_GAP_S)
            or (k + 1 < len(phrases) and phrases[k + 1][0] - b < BLIP_GAP_S)]
    return [piece for a, b in kept for piece in _split_at_dips(va, hop, a, b)]


def _split_at_dips(va: np.ndarray, hop: float, a: float, b: float) -> list[tuple[float, float]]:
    """A long phrase split where the voice dips well below its level around (a breath, a line end
    sung on without a real pause), at least ``DIP_SPACING_S`` apart."""
    if b - a < 2 * DIP_SPACING_S:
        return [(a, b)]
    import scipy.ndimage

    i0, i1 = int(a / hop), min(va.size, int(b / hop))
    seg = scipy.ndimage.uniform_filter1d(va[i0:i1], 3)
    env = scipy.ndimage.maximum_filter1d(seg, max(3, int(1.0 / hop)))
    depth = env - seg
    cuts: list[int] = []
    order = np.argsort(-depth)
    spacing = int(DIP_SPACING_S / hop)
    for k in order:
        if depth[k] < DIP_DEPTH:
            break
        if k < spacing or k > seg.size - spacing or any(abs(k - c) < spacing for c in cuts):
            continue
        cuts.append(int(k))
    edges = [a, *sorted((i0 + c) * hop for c in cuts), b]
    return list(zip(edges[:-1], edges[1:]))


def _stanzas(lines: Sequence[Line]) -> list[tuple[int, int]]:
    """Index ranges (inclusive) of the stanzas: a new stanza at a blank line or a new section tag."""
    out: list[list[int]] = []
    for i, ln in enumerate(lines):
        if out and ln.stanza == lines[i - 1].stanza and ln.section == lines[i - 1].section:
            out[-1][1] = i
        else:
            out.append([i, i])
    return [(a, b) for a, b in out]


def _syllables(lines: Sequence[Line]) -> int:
    return sum(line_syllables([w.text for w in ln.words] or split_words(ln.text)) for ln in lines)


def _norm_text(lines: Sequence[Line]) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", ln.text.lower()).strip() for ln in lines)


def repeated_stanzas(lines: Sequence[Line], groups: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Pairs ``(k, k2)`` (k < k2) of stanza indices whose words are (nearly) the same."""
    texts = [_norm_text(lines[a: b + 1]) for a, b in groups]
    out = []
    for k in range(len(texts)):
        for k2 in range(k + 1, len(texts)):
            if texts[k] and texts[k2] and \
                    difflib.SequenceMatcher(None, texts[k], texts[k2], autojunk=False).ratio() >= REPEAT_TEXT_MIN:
                out.append((k, k2))
    return out


def _diagonal_means(a: np.ndarray, b: np.ndarray, length: int) -> np.ndarray:
    """``out[i, j]`` = mean over ``d < length`` of ``a[i + d] · b[j + d]``."""
    sim = a @ b.T
    csum = np.zeros((sim.shape[0] + 1, sim.shape[1] + 1))
    for i in range(sim.shape[0]):  # running sums along the diagonals
        csum[i + 1, 1:] = csum[i, :-1] + sim[i]
    ni, nj = sim.shape[0] - length + 1, sim.shape[1] - length + 1
    return (csum[length: length + ni, length: length + nj] - csum[:ni, :nj]) / length


def repeat_lags(pairs: list[tuple[int, int]], starts_s: list[float], ends_s: list[float],
                music: np.ndarray, hop_s: float) -> list[tuple[int, int, float, float]]:
    """How far apart repeated stanzas are by the music: for each pair ``(k, k2)`` placed at
    ``starts_s``/``ends_s`` by a first pass, the lag (seconds) within ``REPEAT_SEARCH_S`` of the
    first pass' lag at which the music of the two stanzas is most alike, when it stands out.

    Returns
    -------
    list of (k, k2, lag_s, strength 0..1)
    """
    out = []
    n = music.shape[0]
    w = int(REPEAT_SEARCH_S / hop_s)
    for k, k2 in pairs:
        dur = min(ends_s[k] - starts_s[k], ends_s[k2] - starts_s[k2], REPEAT_MAX_S)
        if dur < REPEAT_MIN_S:
            continue
        length = int(dur / hop_s)
        i0, j0 = max(0, int(starts_s[k] / hop_s) - w), max(0, int(starts_s[k2] / hop_s) - w)
        i1, j1 = min(n, int(starts_s[k] / hop_s) + w + length), min(n, int(starts_s[k2] / hop_s) + w + length)
        if i1 - i0 <= length or j1 - j0 <= length:
            continue
        sim = _diagonal_means(music[i0:i1], music[j0:j1], length)
        # music that loops (the same chords every few bars) fits at several lags about as well:
        # of those, the one nearest the first pass' (the voice's) lag
        lag0 = starts_s[k2] - starts_s[k]
        ii, jj = np.indices(sim.shape)
        lags_s = ((j0 + jj) - (i0 + ii)) * hop_s
        near = sim >= sim.max() - REPEAT_TIE * sim.std()
        if np.ptp(lags_s[near]) > 2 * ANCHOR_TOL_S:
            log.debug("stanzas %d and %d: the music fits at several lags (%.1f–%.1f s); not pinned", k, k2,
                      lags_s[near].min(), lags_s[near].max())
            continue
        i, j = np.unravel_index(int(np.argmin(np.where(near, np.abs(lags_s - lag0), np.inf))), sim.shape)
        z = (sim[i, j] - np.median(sim)) / (sim.std() + 1e-9)
        lag = ((j0 + j) - (i0 + i)) * hop_s
        if z < REPEAT_MIN_Z or lag < dur:
            continue
        out.append((k, k2, float(lag), float(min(1.0, 0.5 + (z - REPEAT_MIN_Z) / REPEAT_MIN_Z))))
        log.debug("stanzas %d and %d repeat %.2f s apart (z %.1f)", k, k2, lag, z)
    return out


@njit(cache=True, nogil=True)
def _dp(dur, csum, cbrk, csyl, bonus, rate, max_units, max_phrases, skip_cost, fit_weight):  # pragma: no cover
    """The dynamic programme of :func:`_solve` (compiled): best[k, j] is the cheapest cost of the
    first k units placed with phrases[:j] used; back_* say where each state came from."""
    m, n = bonus.shape
    best = np.full((m + 1, n + 1), np.inf)
    back_k = np.full((m + 1, n + 1), -1, dtype=np.int64)
    back_j = np.full((m + 1, n + 1), -1, dtype=np.int64)
    back_e = np.full((m + 1, n + 1), -1, dtype=np.int64)
    best[0, 0] = 0.0
    for k in range(m + 1):
        for j in range(n + 1):
            cur = best[k, j]
            if cur == np.inf:
                continue
            if j < n:  # leave phrase j to no unit
                c = cur + skip_cost * dur[j]
                if c < best[k, j + 1]:
                    best[k, j + 1] = c
                    back_k[k, j + 1] = k
                    back_j[k, j + 1] = j
                    back_e[k, j + 1] = -1
            if k == m or j == n:
                continue
            for k2 in range(k + 1, min(m, k + max_units) + 1):  # units k..k2-1 take phrases j..e
                expected = max(0.5, (csyl[k2] - csyl[k]) * rate)
                for e in range(j, min(n, j + max_phrases)):
                    sung = csum[e + 1] - csum[j]
                    if e > j and sung > 3.0 * expected:
                        break
                    c = cur + fit_weight * np.log(sung / expected) ** 2 + cbrk[e] - cbrk[j] - bonus[k, j]
                    if c < best[k2, e + 1]:
                        best[k2, e + 1] = c
                        back_k[k2, e + 1] = k
                        back_j[k2, e + 1] = j
                        back_e[k2, e + 1] = e
    return best, back_k, back_j, back_e


def _solve(phrases: list[tuple[float, float]], syl: list[int], rate: float,
           anchors: dict[int, list[tuple[float, float]]] | None = None, max_units: int = 1
           ) -> tuple[float, list[tuple[int, int, int, int]]]:
    """Cheapest assignment of lyric units (stanzas, syllable counts ``syl``) to runs of phrases at
    ``rate``: a run of 1..``max_units`` units takes a run of phrases; a unit starting at one of its
    ``anchors`` (time, strength) earns a bonus. Returns the cost and ``(first unit, last unit,
    first phrase, last phrase)`` per run, inclusive."""
    anchors = anchors or {}
    n, m = len(phrases), len(syl)
    dur = np.array([b - a for a, b in phrases])
    starts = np.array([a for a, _ in phrases])
    gap_before = np.array([phrases[q][0] - phrases[q - 1][1] if q else 0.0 for q in range(n)])
    # the pause before a phrase, not counting blips (a drum hit or a chord the voice curve took for
    # a syllable) since the last real phrase
    pause_before = np.zeros(n)
    last_end = None
    for q, (a, b) in enumerate(phrases):
        pause_before[q] = a - last_end if last_end is not None else 0.0
        if b - a >= BLIP_S:
            last_end = b
    csum = np.concatenate([[0.0], np.cumsum(dur)])
    # break cost of the gaps inside phrases j..e: cbrk[e] - cbrk[j]
    cbrk = np.concatenate([[0.0], np.cumsum(BREAK_COST_PER_S * np.maximum(0.0, gap_before[1:] - BREAK_OK_S))])
    csyl = np.concatenate([[0], np.cumsum(syl)])
    bonus = np.zeros((m, n))  # a unit starts best after a pause (a breath or a break)
    bonus[1:] = GAP_BONUS * np.minimum(1.0, pause_before / (GAP_FULL_S if max_units == 1 else GAP_FULL_LINE_S))
    for k, marks in anchors.items():
        for at, strength in marks:
            bonus[k] += REPEAT_BONUS * strength * np.maximum(0.0, 1.0 - np.abs(starts - at) / ANCHOR_TOL_S)
    best, back_k, back_j, back_e = _dp(dur, csum, cbrk, csyl.astype(np.float64), bonus, float(rate),
                                       int(max_units), MAX_PHRASES, SKIP_COST_PER_S, FIT_WEIGHT)
    inf = math.inf
    if best[m, n] == inf:
        return inf, []
    runs: list[tuple[int, int, int, int]] = []
    k, j = m, n
    while (k, j) != (0, 0):
        pk, pj, e = int(back_k[k, j]), int(back_j[k, j]), int(back_e[k, j])
        if e >= 0:
            runs.append((pk, k - 1, pj, e))
        k, j = pk, pj
    return float(best[m, n]), runs[::-1]


def stanza_spans(lines: Sequence[Line], analysis: Analysis, *, music: np.ndarray | None = None,
                 music_hop_s: float = 0.0) -> list[StanzaSpan] | None:
    """Where each stanza of ``lines`` (all untimed) is sung, or None when the song has too few
    phrases for its stanzas (the caller then aligns the whole song as one run).

    Parameters
    ----------
    lines : sequence of Line
        The lyrics' lines, in order (their ``stanza`` and ``section`` mark the stanzas).
    analysis : Analysis
        The song's voice curve.
    music : ndarray, shape (n_frames, d), optional
        Unit-length feature rows of the whole mix every ``music_hop_s`` seconds
        (:class:`.features.VoiceFeatures` ``music``); with them repeated stanzas are pinned
        where the music repeats.
    music_hop_s : float
        Seconds between rows of ``music``.

    Returns
    -------
    list of StanzaSpan or None
    """
    phrases = vocal_phrases(analysis)
    groups = _stanzas(lines)
    by_line = len(groups) < 2  # no blank lines or tags: runs of lines find their own blocks
    if by_line:
        groups = [(i, i) for i in range(len(lines))]
    if len(groups) < 2 or len(phrases) < 2:
        return None
    syl = [_syllables(lines[a: b + 1]) for a, b in groups]
    base = sum(b - a for a, b in phrases) / max(1, sum(syl))
    max_units = LINES_PER_BLOCK if by_line else 1
    best = _best(phrases, syl, base, None, max_units)
    if best is None:
        return None
    pairs = repeated_stanzas(lines, groups) if music is not None and music_hop_s > 0 and not by_line else []
    lags = []
    if pairs:
        runs = best[1]
        lags = repeat_lags(pairs, [phrases[r[2]][0] for r in runs], [phrases[r[3]][1] for r in runs],
                           music, music_hop_s)
    for _ in range(REPEAT_PASSES if lags else 0):
        # each repeat wants to start where its partner's place and the music's lag put it; passes
        # until the places agree
        starts = [phrases[r[2]][0] for r in best[1]]
        anchors: dict[int, list[tuple[float, float]]] = {}
        for k, k2, lag, strength in lags:
            anchors.setdefault(k, []).append((starts[k2] - lag, strength))
            anchors.setdefault(k2, []).append((starts[k] + lag, strength))
        again = _best(phrases, syl, base, anchors, max_units)
        if again is None or again[1] == best[1]:
            break
        best = again
    _, runs, rate = best
    starts = [phrases[r[2]][0] for r in runs]
    twins: dict[int, tuple[int, float]] = {}
    for k, k2, lag, _strength in lags:
        same = groups[k][1] - groups[k][0] == groups[k2][1] - groups[k2][0]
        if same and k2 not in twins and abs(starts[k2] - starts[k] - lag) <= ANCHOR_TOL_S:
            root = twins.get(k, (k, 0.0))  # chain a third chorus to the first one
            twins[k2] = (root[0], root[1] + lag)
    out = []
    for k, (u0, u1, p0, p1) in enumerate(runs):
        sung = sum(phrases[q][1] - phrases[q][0] for q in range(p0, p1 + 1))
        fit = math.exp(-abs(math.log(sung / max(0.5, sum(syl[u0: u1 + 1]) * rate))))
        twin, lag = twins.get(k, (-1, 0.0))
        out.append(StanzaSpan(groups[u0][0], groups[u1][1], phrases[p0][0], phrases[p1][1], round(fit, 3),
                              twin, round(lag, 3)))
    log.info("stanzas on the song: %s", ", ".join(
        f"{sp.start_s:.1f}–{sp.end_s:.1f}" + (f" (= {sp.twin} + {sp.lag_s:.1f} s)" if sp.twin >= 0 else "")
        for sp in out))
    return out


def _best(phrases, syl, base, anchors, max_units) -> tuple[float, list[tuple[int, int, int, int]], float] | None:
    """The cheapest of :func:`_solve` over the rates of singing tried."""
    best = None
    for f in RATE_FACTORS:
        cost, spans = _solve(phrases, syl, base * f, anchors, max_units)
        if spans and (best is None or cost < best[0]):
            best = (cost, spans, base * f)
    return best


def compile_kernels() -> None:
    """Compile (or load from numba's cache) the dynamic programme on a toy problem."""
    _solve([(0.0, 1.0), (1.5, 2.5), (4.0, 5.0)], [3, 4], 0.3, None, 2)
