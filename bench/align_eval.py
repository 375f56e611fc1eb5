"""Scoring helpers of the alignment benchmark: truth, cuts inside sung words and lines, voice frames.

A cut is *inside a word* when it falls more than ``WORD_MARGIN_S`` after a true word's start and
before its end, *inside a line* when more than ``LINE_MARGIN_S`` (the dev set scorer's 0.15 s)
inside a true line. The voice detector is scored per frame against the true word spans (a frame
is sung when it lies inside a true word).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mvtimeline import plan
from mvtimeline.types import Analysis, Lyrics

WORD_MARGIN_S = 0.02
LINE_MARGIN_S = 0.15


def load_truth(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def truth_lrc(truth: dict, out: Path) -> Path:
    """An LRC of the truth's line starts (what a Suno user has: lines timed, words not)."""
    rows = []
    for ln in truth["lines"]:
        m, s = divmod(float(ln["start"]), 60)
        rows.append(f"[{int(m):02d}:{s:05.2f}]{ln['text']}")
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return out


def truth_text(truth: dict, out: Path) -> Path:
    out.write_text("\n".join(ln["text"] for ln in truth["lines"]) + "\n", encoding="utf-8")
    return out


def word_spans(truth: dict) -> list[tuple[float, float]]:
    return [(float(w["start"]), float(w["end"])) for ln in truth["lines"] for w in ln.get("words", [])]


def line_spans(truth: dict) -> list[tuple[float, float]]:
    return [(float(ln["start"]), float(ln["end"])) for ln in truth["lines"]]


def plan_cuts(lyrics: Lyrics, analysis: Analysis, *, max_s: float = 8.0, **kwargs) -> list[float]:
    p = plan.build(lyrics, analysis, style="cinematic", max_s=max_s, title="bench", **kwargs)
    return [s.start_s for s in p.segments[1:]]


def share_inside(cuts: list[float], spans: list[tuple[float, float]], margin_s: float) -> float:
    if not cuts:
        return 0.0
    bad = sum(1 for c in cuts if any(a + margin_s < c < b - margin_s for a, b in spans))
    return 100.0 * bad / len(cuts)


def voice_frame_accuracy(analysis: Analysis, truth: dict, *, threshold: float | None = None) -> dict:
    """Frame accuracy of the analysis' voice curve (thresholded) against the true word spans,
    counted within the truth's first..last word (outside it nothing is annotated)."""
    from mvtimeline.audio import voice_threshold

    va = np.asarray(analysis.vocal_activity)
    thr = voice_threshold(va) if threshold is None else threshold
    t = np.arange(va.size) * analysis.hop_s
    sung = np.zeros(va.size, bool)
    spans = word_spans(truth)
    for a, b in spans:
        sung[(t >= a) & (t < b)] = True
    lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
    sel = (t >= lo) & (t < hi)
    pred = va >= thr
    acc = float((pred[sel] == sung[sel]).mean())
    recall = float((pred[sel] & sung[sel]).sum() / max(1, sung[sel].sum()))
    precision = float((pred[sel] & sung[sel]).sum() / max(1, pred[sel].sum()))
    return {"accuracy": 100 * acc, "recall": 100 * recall, "precision": 100 * precision}
