"""A shot pack: everything each clip needs, to make the clips with any generator.

``write_pack(folder, out)`` writes, per segment, a folder ``NN-section-first-words/`` with:

- ``keyframe.png`` — the segment's picture (the cast singer's, the user's ``--image``), else the
  middle frame of its chosen take when one was generated;
- ``audio.wav`` and ``audio.mp3`` — the song from the clip's first frame (segment + handles) for the
  clip's length; ``vocals.wav`` too when the project has a vocal stem;
- ``prompt.txt``, ``motion.txt``, ``negative.txt``;
- ``shot.json`` — times in seconds and frames, the handles, the lyric lines, the singer, and the
  frame counts common models want for the clip (Wan 4k+1 at 16 fps, 81 at most; 5+17k at 24 fps;
  LTX 8k+1 at 24 fps);
- with ``fmt="wan2gp"``: ``wan2gp.json`` (``prompt``, ``image_start``, ``audio_guide``,
  ``video_length``, ``force_fps``, ``seed``, ``resolution``) for Wan2GP's ``wgp.py --process``.

At the top: ``index.html`` (a contact sheet: picture, times, lyric, prompt, the audio to play),
``shots.csv`` and, with wan2gp, ``wan2gp-queue.json`` (every shot's settings in a list). Clips
made from the pack come back with ``mvtimeline import DIR PACK``: the folder names say which
segment each clip is of.

Public: write_pack, shot_folder_name, SUGGESTED_GRIDS, PACK_FORMATS.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import re
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import InputError, RunError
from ..fileio import atomic_write, ensure_dir

__all__ = ["write_pack", "shot_folder_name", "SUGGESTED_GRIDS", "PACK_FORMATS"]

log = logging.getLogger(__name__)

#: Pack formats: ``plain`` (the files above) and ``wan2gp`` (plus Wan2GP settings per shot).
PACK_FORMATS = ("plain", "wan2gp")
#: name → (fps, grid, most frames per generation or None)
SUGGESTED_GRIDS = {
    "wan_16fps_4k+1": (16, "4k+1", 81),
    "s2v_16fps_4k": (16, "4k", 80),
    "h3_24fps_5+17k": (24, "5+17k", 362),
    "ltx_24fps_8k+1": (24, "8k+1", 257),
    "infinitetalk_25fps_4k+1": (25, "4k+1", 81),
}


def shot_folder_name(index: int, section: str, lines: tuple[str, ...]) -> str:
    """``"03-chorus-under-the-neon"``: number, section and the first lyric words, as a file name.

    Examples
    --------
    >>> shot_folder_name(3, "Chorus", ("Under the neon we come alive",))
    '03-chorus-under-the-neon-we'
    """
    words = " ".join(" ".join(lines).split()[:4])
    slug = re.sub(r"[^\w]+", "-", f"{section} {words}".lower(), flags=re.UNICODE).strip("-")
    return f"{index:02d}-{slug[:48].strip('-')}" if slug else f"{index:02d}"


def _suggested(seconds: float) -> dict[str, dict[str, Any]]:
    from ..generate.grid import FrameGrid

    out = {}
    for name, (fps, grid, most) in SUGGESTED_GRIDS.items():
        need = int(-(-round(seconds * fps * 1000) // 1000))
        n = FrameGrid.parse(grid).at_least(need)
        out[name] = {"fps": fps, "frames": n, "seconds": round(n / fps, 4),
                     "fits_one_generation": most is None or n <= most}
    return out


def _mp3(wav: Path, mp3: Path) -> None:
    import shutil

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        from ..errors import ToolMissing

        raise ToolMissing("ffmpeg is not installed (make deps)")
    tmp = mp3.with_name(f".{mp3.name}.tmp.mp3")
    proc = subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", "-q:a", "3", str(tmp)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RunError(f"{mp3}: ffmpeg could not write the mp3 ({proc.stderr.strip()[-200:]})")
    tmp.replace(mp3)


def write_pack(folder: Path, out: Path, *, fmt: str = "plain") -> Path:
    """Write the shot pack of a work folder's plan into ``out`` (see the module's docs).

    Parameters
    ----------
    folder : Path
        A work folder with a plan.
    out : Path
        The pack folder (created; files already there are replaced, others left alone).
    fmt : {"plain", "wan2gp"}

    Returns
    -------
    Path
        ``out / "index.html"``.

    Raises
    ------
    InputError
        Not a work folder, an unknown format, ``out`` is a file or the work folder (or inside it).
    """
    from .. import pipeline
    from ..audio import load, probe, wav_window
    from ..media import frame_at

    if fmt not in PACK_FORMATS:
        raise InputError(f"unknown pack format {fmt!r}; known: {', '.join(PACK_FORMATS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; give a folder for the shot pack")
    project = pipeline.load_project(Path(folder))
    if out.resolve() == project.folder.resolve() or project.folder.resolve() in out.resolve().parents:
        raise InputError(f"{out}: is inside the work folder {project.folder}; write the shot pack to a folder of its "
                         f"own, e.g. -o {project.folder.resolve().parent / (project.name + '-shots')}")
    plan = project.load_plan()
    analysis = project.load_analysis()
    backend = pipeline.project_backend(project)
    reqs = {r.segment_index: r for r in project.clip_requests(plan, analysis, backend)}
    clips: dict[int, Any] = {}
    try:
        clips = pipeline.chosen_clips(project, plan, analysis, backend=backend)
    except InputError:
        clips = {}  # not generated yet: the pack has the pictures the user gave, if any
    rate = int(probe(project.song)[1])
    song = load(project.song, sr=rate)[0]
    vocals_path = project.vocals
    vocals = load(vocals_path, sr=rate)[0] if vocals_path else None
    ensure_dir(out)
    rows, queue = [], []
    for seg in plan.segments:
        req = reqs[seg.index]
        fps = Fraction(req.fps)
        name = shot_folder_name(seg.index, seg.section, seg.lines)
        d = ensure_dir(out / name)
        clip_s = float(Fraction(req.n_frames) / fps)
        keyframe = None
        if req.image:
            from ..media import fit_image, open_image

            img = fit_image(open_image(req.image, where=f"segment {seg.index}"), req.width, req.height,
                            crop_bottom=req.crop_bottom)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            keyframe = atomic_write(d / "keyframe.png", buf.getvalue())
        elif seg.index in clips:
            from PIL import Image

            mid = float(Fraction(req.head_frames) / fps) + seg.duration_s / 2
            buf = io.BytesIO()
            Image.fromarray(frame_at(clips[seg.index][1].path, mid, fps=fps)).save(buf, format="PNG")
            keyframe = atomic_write(d / "keyframe.png", buf.getvalue())
        wav = atomic_write(d / "audio.wav", wav_window(song, rate, req.clip_start_s, round(clip_s * rate)))
        _mp3(wav, d / "audio.mp3")
        if vocals is not None:
            atomic_write(d / "vocals.wav", wav_window(vocals, rate, req.clip_start_s, round(clip_s * rate)))
        atomic_write(d / "prompt.txt", (seg.image_prompt + "\n").encode())
        atomic_write(d / "motion.txt", (seg.motion_prompt + "\n").encode())
        atomic_write(d / "negative.txt", (seg.negative_prompt + "\n").encode())
        shot = {
            "segment": seg.index, "folder": name, "section": seg.section, "singer": seg.singer,
            "lyrics": list(seg.lines), "start_s": seg.start_s, "end_s": seg.end_s,
            "clip_start_s": req.clip_start_s, "clip_seconds": round(clip_s, 6),
            "head_s": round(float(Fraction(req.head_frames) / fps), 6),
            "tail_s": round(float(Fraction(req.tail_frames) / fps), 6),
            "fps": f"{fps.numerator}/{fps.denominator}", "frames": req.n_frames, "head_frames": req.head_frames,
            "tail_frames": req.tail_frames, "width": req.width, "height": req.height, "seed": seg.seed,
            "keyframe": keyframe.name if keyframe else None, "audio": "audio.wav",
            "vocals": "vocals.wav" if vocals is not None else None,
            "suggested_frames": _suggested(clip_s),
        }
        atomic_write(d / "shot.json", (json.dumps(shot, indent=2, ensure_ascii=False) + "\n").encode())
        if fmt == "wan2gp":
            wan = {"prompt": ", ".join(p for p in (seg.image_prompt, seg.motion_prompt) if p),
                   "negative_prompt": seg.negative_prompt, "image_start": str((d / "keyframe.png").resolve())
                   if keyframe else None, "audio_guide": str((d / "audio.wav").resolve()),
                   "video_length": shot["suggested_frames"]["wan_16fps_4k+1"]["frames"], "force_fps": "16",
                   "seed": seg.seed, "resolution": f"{req.width}x{req.height}"}
            atomic_write(d / "wan2gp.json", (json.dumps(wan, indent=2, ensure_ascii=False) + "\n").encode())
            queue.append(wan)
        rows.append(shot)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["segment", "folder", "section", "singer", "start_s", "end_s", "clip_start_s", "clip_seconds", "frames",
                "lyrics", "prompt"])
    for r, seg in zip(rows, plan.segments):
        w.writerow([r["segment"], r["folder"], r["section"], r["singer"], r["start_s"], r["end_s"], r["clip_start_s"],
                    r["clip_seconds"], r["frames"], " / ".join(r["lyrics"]), seg.image_prompt])
    atomic_write(out / "shots.csv", buf.getvalue().encode())
    if fmt == "wan2gp":
        atomic_write(out / "wan2gp-queue.json", (json.dumps(queue, indent=2, ensure_ascii=False) + "\n").encode())
    return atomic_write(out / "index.html", _contact_sheet(project.name, rows, plan).encode())


def _contact_sheet(title: str, rows: list[dict[str, Any]], plan: Any) -> str:
    from ..timecode import format_time

    e = html.escape
    body = []
    for r, seg in zip(rows, plan.segments):
        img = (f'<img src="{e(r["folder"])}/keyframe.png" width="240" alt="segment {r["segment"]}">'
               if r["keyframe"] else '<div class="noimg">no picture yet</div>')
        body.append(
            f'<tr id="shot-{r["segment"]}"><td>{img}</td><td><b>{r["segment"]:02d}</b> {e(r["section"])}'
            + (f' · {e(r["singer"])}' if r["singer"] else "")
            + f'<br>{format_time(r["start_s"])}–{format_time(r["end_s"])} ({r["end_s"] - r["start_s"]:.2f} s, '
            f'{r["frames"]} frames at {e(r["fps"])})<br><code>{e(r["folder"])}/</code></td>'
            f'<td class="lyr">{e(" / ".join(r["lyrics"])) or "(instrumental)"}</td>'
            f'<td class="pr">{e(seg.image_prompt)}<br><i>{e(seg.motion_prompt)}</i></td>'
            f'<td><audio controls preload="none" src="{e(r["folder"])}/audio.mp3"></audio></td></tr>')
    css = ("body{font:14px system-ui,sans-serif;background:#18181c;color:#e6e6e6;margin:16px}"
           "td{vertical-align:top;padding:8px;border-top:1px solid #333}.lyr{color:#fadc78;max-width:260px}"
           ".pr{color:#b0b9c8;max-width:420px}.noimg{width:240px;height:135px;background:#333}")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{e(title)} — shots</title><style>{css}</style></head><body><h1>{e(title)} — "
            f"{len(rows)} shots</h1><table>\n" + "\n".join(body) + "\n</table></body></html>\n")
