"""What the review page shows of a work folder, as one JSON-ready dict (:func:`page_state`), and the
song's waveform (:func:`waveform`).

Public: page_state, waveform, take_entries, WAVE_BINS.
"""

from __future__ import annotations

import json
import logging
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np

from ..fileio import relative_path

if TYPE_CHECKING:
    from ..generate.backends.base import Backend
    from ..types import Analysis, ClipRequest, ClipResult, Lyrics, Plan
    from ..workfolder import WorkFolder

__all__ = ["page_state", "waveform", "take_entries", "WAVE_BINS"]

log = logging.getLogger(__name__)

#: Peaks of the song's waveform sent to the page (one per bin).
WAVE_BINS = 1600


def waveform(song: Path, *, bins: int = WAVE_BINS, cache_dir: Path | None = None) -> list[float]:
    """The song's loudest sample per bin, ``bins`` bins, scaled to 0..1 (the page draws it).

    Parameters
    ----------
    song : Path
    bins : int > 0
    cache_dir : Path, optional
        Keep it there (``waveform-<song's sha256>.json``): the next review opens at once.

    Returns
    -------
    list of float
    """
    import json

    from ..audio.load import load
    from ..fileio import atomic_write, ensure_dir, file_sha256

    cached = None
    if cache_dir is not None:
        cached = Path(cache_dir) / f"waveform-{file_sha256(song)[:16]}-{bins}.json"
        try:
            return [float(v) for v in json.loads(cached.read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError):
            pass
    y, _ = load(song, sr=None)  # peaks need no resampling (and no librosa)
    n = max(1, len(y) // bins)
    peaks = np.abs(y[: n * bins]).reshape(-1, n).max(axis=1) if len(y) >= bins else np.abs(y)
    top = float(peaks.max()) or 1.0
    out = [round(float(v) / top, 3) for v in peaks]
    if cached is not None:
        ensure_dir(cached.parent)
        atomic_write(cached, json.dumps(out))
    return out


def _url(project: WorkFolder, path: Path, token: str) -> str:
    return f"/media/{quote(relative_path(path, project.folder))}?t={token}"


def take_entries(project: WorkFolder, req: ClipRequest, takes: list[ClipResult], chosen: int, token: str
                 ) -> list[dict[str, Any]]:
    """The takes of one segment as the page shows them: number, video and thumbnail URLs, where the
    segment starts in the clip (``head_s``), what made it and how long it took.

    Parameters
    ----------
    project : WorkFolder
    req : ClipRequest
        The segment's request (handles, fps).
    takes : list of ClipResult
        Its takes in the cache.
    chosen : int
        The chosen take's number.
    token : str
        The page's token, put in every URL.

    Returns
    -------
    list of dict
    """
    out = []
    for res in takes:
        record = res.meta or {}
        backend = record.get("backend", {})
        meta = record.get("meta", {})
        request = record.get("request", {})
        fps = Fraction(str(request.get("fps", f"{req.fps.numerator}/{req.fps.denominator}")))
        head = int(request.get("head_frames", req.head_frames))
        out.append({
            "take": res.take,
            "chosen": res.take == chosen,
            "url": _url(project, res.path, token),
            "thumb": f"/thumb/{res.key}/{res.take}?t={token}",
            "head_s": round(float(head / fps), 4),
            "backend": backend.get("name", "") if isinstance(backend, dict) else str(backend),
            "generate_s": record.get("generate_s"),
            "created": record.get("created", ""),
            "imported": isinstance(backend, dict) and backend.get("name") == "import",
            "placeholder": bool(meta.get("placeholder")),
            "source": Path(str(meta.get("source", ""))).name if meta.get("source") else "",
        })
    return out


def _earlier_takes(project: WorkFolder, backend: Backend, keys: dict[int, str], reqs: dict[int, ClipRequest],
                   token: str) -> dict[int, list[dict[str, Any]]]:
    """Takes of each segment made before its prompts, seed or keyframe were edited (in the cache under
    another key, for the same stretch of the song and the same backend): they can be brought back."""
    from ..generate import clip_paths, find_clip
    from ..types import ClipResult

    out: dict[int, list[dict[str, Any]]] = {}
    for meta in sorted(project.clips_dir.glob("*/take-*.json")):
        key = meta.parent.name
        try:
            record = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or not isinstance(record.get("take"), int):
            continue
        req = record.get("request") or {}
        index = req.get("segment_index")
        if index not in reqs or key == keys[index] or record.get("meta", {}).get("placeholder"):
            continue
        now = reqs[index]
        made_by = (record.get("backend") or {}).get("name")
        if (made_by not in (backend.name, "import") or req.get("n_frames") != now.n_frames
                or abs(float(req.get("clip_start_s", -1)) - now.clip_start_s) > 1e-3
                or (req.get("width"), req.get("height")) != (now.width, now.height)):
            continue
        take = record["take"]
        if find_clip(project.clips_dir, key, take) is None:  # incomplete or damaged: nothing to bring back
            continue
        res = ClipResult(path=clip_paths(project.clips_dir, key, take)[0], key=key, take=take, n_frames=now.n_frames,
                         fps=now.fps, cached=True, elapsed_s=0.0, meta=record)
        [entry] = take_entries(project, now, [res], -1, token)
        entry.update(key=key, image_prompt=req.get("image_prompt", ""), motion_prompt=req.get("motion_prompt", ""))
        out.setdefault(index, []).append(entry)
    return out


def _lines(aligned: Lyrics) -> list[dict[str, Any]]:
    out = []
    for ln in aligned.lines:
        if not ln.is_timed:
            continue
        out.append({"text": ln.text, "start_s": ln.start_s, "end_s": ln.end_s,
                    "singers": list(ln.singers),
                    "words": [{"text": w.text, "start_s": w.start_s, "end_s": w.end_s} for w in ln.words
                              if w.start_s is not None and w.end_s is not None]})
    return out


def page_state(project: WorkFolder, *, token: str, backend: Backend, plan: Plan | None = None,
               analysis: Analysis | None = None, aligned: Lyrics | None = None,
               gpu_price_per_hour: float | None = None) -> dict[str, Any]:
    """Everything the page shows of the work folder now.

    Parameters
    ----------
    project : WorkFolder
    token : str
        Put into every media URL.
    backend : Backend
        The folder's backend (its cache keys find the takes).
    plan, analysis, aligned : optional
        Already loaded; default: read from the folder.
    gpu_price_per_hour : float, optional
        The price the costs are shown at (default: the folder's setting).

    Returns
    -------
    dict
        ``name``, ``duration_s``, ``fps``, ``width``, ``height``, ``backend``, ``executor``,
        ``song`` (URL), ``sections``, ``lines`` (with words), ``segments`` (each with its takes,
        ``stale`` when its chosen take is not made), ``price``.
    """
    plan = plan or project.load_plan()
    analysis = analysis or project.load_analysis()
    aligned = aligned or project.load_aligned()
    cfg = project.config
    clips = project.chosen_clips(plan, analysis, backend, missing_ok=True)
    takes = project.all_takes(clips)
    all_reqs = project.clip_requests(plan, analysis, backend)
    reqs = {}
    for r in all_reqs:
        reqs.setdefault(r.segment_index, r)
    earlier = _earlier_takes(project, backend, {i: r.key(backend.name, backend.version, backend.model_id)
                                                for i, r in reqs.items()}, reqs, token)
    segments = []
    for seg in plan.segments:
        req = clips[seg.index][0] if seg.index in clips else reqs[seg.index]
        segments.append({
            "index": seg.index, "start_s": seg.start_s, "end_s": seg.end_s, "section": seg.section,
            "lines": list(seg.lines), "image_prompt": seg.image_prompt, "motion_prompt": seg.motion_prompt,
            "negative_prompt": seg.negative_prompt, "seed": seg.seed, "take": seg.take, "singer": seg.singer,
            "cut": seg.cut, "chunks": seg.chunks, "image": seg.image,
            "edited": sorted(k for k in ("image_prompt", "motion_prompt", "negative_prompt")
                             if getattr(seg, k) != seg.auto.get(k, getattr(seg, k)))
                      + (["singer"] if seg.singer != seg.auto.get("singer", seg.singer) else []),
            "stale": seg.index not in clips,
            "frames": req.n_frames,
            "takes": take_entries(project, req, takes.get(seg.index, []), seg.take, token)
            if seg.index in clips else [],
            "earlier": earlier.get(seg.index, []),
        })
    sections = []
    for seg in plan.segments:
        if sections and sections[-1]["name"] == seg.section:
            sections[-1]["end_s"] = seg.end_s
        else:
            sections.append({"name": seg.section, "start_s": seg.start_s, "end_s": seg.end_s})
    return {
        "name": project.name,
        "folder": str(project.folder),
        "duration_s": plan.duration_s,
        "fps": float(cfg.fps),
        "width": cfg.width, "height": cfg.height,
        "backend": cfg.backend, "executor": cfg.executor,
        "song": _url(project, project.song, token),
        "sections": sections,
        "lines": _lines(aligned),
        "segments": segments,
        "cut_rule": plan.cut_rule,
        "has_project": project.path(".kdenlive").exists(),
        "singers": sorted(({s.singer for s in plan.segments} | {s.auto.get("singer", "") for s in plan.segments}
                           | set(cfg.cast or {})) - {""}),
        "price": price_of(project, plan, backend, all_reqs, gpu_price_per_hour),
    }


def price_of(project: WorkFolder, plan: Plan, backend: Backend, reqs: list[ClipRequest],
             gpu_price_per_hour: float | None) -> dict[str, Any]:
    """The price of the next gamble (:mod:`mvtimeline.generate.price`): what one more take of each
    segment would take and cost (frames × seconds per frame, measured on this folder's clips or the
    stated default), and what the clips made so far took, per segment and in total.

    Parameters
    ----------
    project : WorkFolder
    plan : Plan
    backend : Backend
    reqs : list of ClipRequest
        The plan's requests (a chained segment has several).
    gpu_price_per_hour : float, optional
        Default: the folder's setting (None there too: times only).

    Returns
    -------
    dict
        ``text`` (one line), ``spent_text``, ``s_per_frame``, ``source``, ``measured``,
        ``gpu_price_per_hour``, ``segments`` (number → ``seconds``, ``cost``), ``spent`` (number →
        ``seconds``, ``cost``, ``clips``).
    """
    from ..generate import price as pricing

    price = project.config.gpu_price_per_hour if gpu_price_per_hour is None else gpu_price_per_hour
    rate = pricing.rate_for(project, backend)
    per_seg: dict[int, list[ClipRequest]] = {}
    for r in reqs:
        per_seg.setdefault(r.segment_index, []).append(r)
    segments = {}
    for index, rs in per_seg.items():
        est = pricing.estimate(rs, rate, price)
        segments[str(index)] = {"seconds": round(est.seconds, 3), "cost": est.cost}
    every = pricing.estimate(reqs, rate, price)
    made = pricing.spent(project, plan, gpu_price_per_hour=price)
    return {
        "text": f"one more take of every segment: {pricing.describe(every)}",
        "spent_text": f"so far: {pricing.describe_spent(made)}" if made.clips else "",
        "s_per_frame": rate.s_per_frame, "source": rate.source, "measured": rate.measured,
        "gpu_price_per_hour": price,
        "segments": segments,
        "spent": {str(r.segment): {"seconds": r.seconds, "cost": r.cost, "clips": r.clips} for r in made.segments},
        "spent_seconds": made.seconds, "spent_cost": made.cost,
    }
