"""Benchmark: one timeline written by a peer writer and by mvtimeline, compared side by side.

The timeline (built with the test helper ``tests/support/timelines.py``, tiny real media): six
clips with 12-frame dissolves and two takes each, a song on A1, section and lyric-line markers, and
subtitles in the metadata. Each writer's ``.kdenlive`` is then

- parsed with lxml: clips and audio on the timeline, dissolves, guides, subtitles, bin folders;
- opened in the real Kdenlive (22.12 here) on a virtual screen: any dialog is a failure;
- rendered with plain ``melt FILE -consumer avformat:...`` (no ``out=``), limited to
  ``--melt-limit`` seconds, because a file whose black track never ends renders forever.

Writers: ``otio-kdenlive-adapter`` (``pip install otio-kdenlive-adapter``; its column is skipped
with a note when it is missing), mvtimeline 1.04 (the default) and mvtimeline 1.1 (Kdenlive 23.04+
sequences; not opened, as Kdenlive 22.12 refuses 1.1 documents by design).

    python bench/bench_peers.py [--melt-limit 120] [--no-kdenlive] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from lxml import etree

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from support.kdenlive_open import missing_tools, open_in_kdenlive  # noqa: E402
from support.timelines import build_timeline  # noqa: E402

from mvtimeline.timeline.kdenlive.xml import subtitles_path, write_to_file
from mvtimeline.timeline.kdenlive.layout import guide_category

FPS = Fraction(30000, 1001)
SIZE = (1920, 1080)
COLOURS = ("red", "blue", "lime", "yellow", "magenta", "cyan")
CUTS_S = (2.0, 4.0, 6.0, 8.0, 10.0)
SECONDS = 12.0
WRITES = 5  # write time: the fastest of this many writes (the first one pays for imports)
SECTIONS = ("Intro", "Verse", "Chorus", "Verse", "Chorus", "Outro")
LINES = (
    (0.5, 1.8, "neon wakes the street"),
    (2.3, 3.8, "we run beneath the signs"),
    (4.2, 5.9, "under the neon"),
    (6.3, 7.8, "every window sings"),
    (8.2, 9.9, "under the neon, again"),
    (10.3, 11.6, "and the lights go out"),
)


@dataclass
class Column:
    """What one writer's file holds and how Kdenlive and melt took it."""

    name: str
    path: Path | None = None
    error: str = ""
    write_s: float = 0.0
    facts: dict[str, str] = field(default_factory=dict)


def timeline():
    """The compared timeline (``Project`` from the test helper) in a fresh folder."""
    folder = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    markers = []
    bounds = (0.0, *CUTS_S)
    for t_s, section in zip(bounds, SECTIONS):
        markers.append((t_s, "section", section))
    for start_s, _, text in LINES:
        markers.append((start_s, "line", text))
    subs = [{"start_s": a, "end_s": b, "text": t, "words": []} for a, b, t in LINES]
    project = build_timeline(
        folder / "src", fps=FPS, size=SIZE, seconds=SECONDS, cut_s=CUTS_S, colours=COLOURS,
        pre=6, post=6, head=8, tail=8, subtitles=subs, markers=markers, takes=2,
    )  # fmt: skip
    return folder, project


def truth(project) -> dict[str, str]:
    tl = project.timeline
    video, audio = tl.tracks[0], tl.tracks[1]
    n_clips = sum(1 for c in video if c.schema_name() == "Clip")
    n_trans = sum(1 for c in video if c.schema_name() == "Transition")
    subs = tl.metadata["mvtimeline"]["subtitles"]
    return {
        "profile": f"{SIZE[0]}x{SIZE[1]} @ {float(FPS):.3f}",
        "clips on V1": str(n_clips),
        "song on A1": str(sum(1 for _ in audio)),
        "dissolves": str(n_trans),
        "guides": str(len(tl.tracks.markers)),
        "guide categories used": str(len({
            guide_category(m.metadata["mvtimeline"]["kind"], m.name) for m in tl.tracks.markers
        })),  # fmt: skip
        "subtitles": str(len(subs)),
        "bin folders / takes": f"{n_clips} / {2 * n_clips}",
        "duration": f"{project.n_frames} fr = {float(project.n_frames / FPS):.3f} s",
    }


# ------------------------------------------------------------------------------------------ writers
def write_peer(project, out: Path) -> Column:
    col = Column("otio-kdenlive-adapter")
    try:
        import otio_kdenlive_adapter  # noqa: F401
        import opentimelineio as otio
    except ImportError:
        col.error = "not installed (pip install otio-kdenlive-adapter)"
        return col
    path = out / "peer" / "song.kdenlive"
    path.parent.mkdir(parents=True)
    times = []
    for _ in range(WRITES):
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # it prints a deprecation banner
                otio.adapters.write_to_file(project.timeline, str(path), adapter_name="kdenlive")
        except Exception as exc:  # a peer's failure is a result, not a crash of the bench
            col.error = f"write failed: {type(exc).__name__}: {exc}"
            return col
        times.append(time.perf_counter() - t0)
    col.write_s = min(times)
    col.path = path
    return col


def write_ours(project, out: Path, version: str) -> Column:
    col = Column(f"mvtimeline {version}")
    path = out / f"mvtimeline-{version}" / "song.kdenlive"
    # The project folder holds its media, as a real mvtimeline project does.
    shutil.copytree(project.song.parent, path.parent)
    moved = project.timeline.deepcopy()
    _rebase(moved, project.song.parent, path.parent)
    times = []
    for _ in range(WRITES):
        t0 = time.perf_counter()
        write_to_file(moved, path, version=version)
        times.append(time.perf_counter() - t0)
    col.write_s = min(times)
    col.path = path
    return col


def _rebase(tl, old: Path, new: Path) -> None:
    for clip in tl.find_clips():
        ref = clip.media_reference
        ref.target_url = ref.target_url.replace(str(old.resolve()), str(new.resolve()))
        for take in clip.metadata.get("mvtimeline", {}).get("takes", []):
            take["path"] = take["path"].replace(str(old.resolve()), str(new.resolve()))


# ---------------------------------------------------------------------------------------- inspect
def _props(el) -> dict[str, str]:
    return {p.get("name"): p.text or "" for p in el.findall("property")}


def inspect(path: Path) -> dict[str, str]:
    """Count what the file holds, with lxml only (independent of mvtimeline's own reader)."""
    root = etree.parse(str(path)).getroot()
    by_id = {el.get("id"): el for el in root if el.get("id")}
    prof = root.find("profile")
    fps = Fraction(int(prof.get("frame_rate_num")), int(prof.get("frame_rate_den")))
    main_bin = root.find("playlist[@id='main_bin']")
    bin_props = _props(main_bin) if main_bin is not None else {}
    tractors = [el for el in root if el.tag == "tractor"]
    main = tractors[-1]
    if _props(main).get("kdenlive:projectTractor") == "1":
        main = by_id[main.find("track").get("producer")]
    video_clips = audio_clips = 0
    for track in main.findall("track"):
        tr = by_id.get(track.get("producer"))
        if tr is None or tr.tag != "tractor":
            continue
        audio = _props(tr).get("kdenlive:audio_track") == "1"
        for sub in tr.findall("track"):
            pl = by_id.get(sub.get("producer"))
            n = len(pl.findall("entry")) if pl is not None else 0
            if audio:
                audio_clips += n
            else:
                video_clips += n
    dissolves = sum(
        1 for t in root.iter("transition")
        if not _props(t).get("internal_added") and _props(t).get("mlt_service") in ("luma", "composite", "dissolve")
    )  # fmt: skip
    guides_json = _props(main).get("kdenlive:sequenceproperties.guides") or bin_props.get(
        "kdenlive:docproperties.guides", ""
    )
    guides = json.loads(guides_json) if guides_json.strip() else []
    sub_filter = any(_props(f).get("mlt_service") == "avfilter.subtitles" for f in root.iter("filter"))
    sidecar = subtitles_path(path)
    n_subs = 0
    if sidecar.exists():
        import pysubs2

        n_subs = len(pysubs2.load(str(sidecar)))
    folders = [k for k in bin_props if k.startswith("kdenlive:folder.") and bin_props[k] != "Sequences"]
    takes = sum(
        1 for e in (main_bin.findall("entry") if main_bin is not None else [])
        if by_id.get(e.get("producer")) is not None and by_id[e.get("producer")].tag == "producer"
        and _props(by_id[e.get("producer")]).get("kdenlive:folderid", "-1") not in ("-1", "")
    )  # fmt: skip
    return {
        "document version": bin_props.get("kdenlive:docproperties.version", "?"),
        "profile": f"{prof.get('width')}x{prof.get('height')} @ {float(fps):.3f}",
        "clips on V1": str(video_clips),
        "song on A1": str(audio_clips),
        "dissolves": str(dissolves),
        "guides": str(len(guides)),
        "guide categories used": str(len({g.get("type", 0) for g in guides})),
        "subtitles": f"{n_subs}" + ("" if sub_filter or not n_subs else " (no filter)") if sidecar.exists() else "0",
        "bin folders / takes": f"{len(folders)} / {takes}",
    }


def open_check(path: Path, out: Path) -> str:
    result = open_in_kdenlive(path, out)
    if result.clean:
        return f"yes ({result.seconds:.0f} s)"
    return "NO: " + "; ".join(result.dialogs or ("no main window",))


def melt_render(path: Path, out: Path, limit_s: float) -> tuple[str, str]:
    """Plain melt render with a time limit: (output duration, wall time)."""
    target = out / "render.mp4"
    cmd = [
        "melt", str(path), "-consumer", f"avformat:{target}", "vcodec=libx264", "preset=ultrafast",
        "acodec=aac", "real_time=-1", "terminate_on_pause=1",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=path.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # melt and its children: the group we started
        proc.wait()
        return f"did not finish in {limit_s:.0f} s", f"> {limit_s:.0f} s"
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not target.exists():
        return f"melt failed (exit {proc.returncode})", f"{wall:.1f} s"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=nb_read_frames", "-of", "default=nw=1:nk=1", str(target)],
        capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    frames = int(probe) if probe.isdigit() else 0
    return f"{frames} fr = {float(frames / FPS):.3f} s", f"{wall:.1f} s"


# ------------------------------------------------------------------------------------------- main
ROWS = (
    "document version", "profile", "clips on V1", "song on A1", "dissolves", "guides", "guide categories used",
    "subtitles",
    "bin folders / takes", f"write time (best of {WRITES})", "opens in Kdenlive 22.12, no dialog", "melt render length",
    "melt render wall time",
)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--melt-limit", type=float, default=120.0, help="seconds before a melt render is stopped")
    ap.add_argument("--no-kdenlive", action="store_true", help="skip opening the files in Kdenlive")
    ap.add_argument("--keep", type=Path, help="copy the written projects here")
    args = ap.parse_args()

    folder, project = timeline()
    try:
        run(project, folder, args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(project, folder: Path, args: argparse.Namespace) -> None:
    out = folder / "out"
    out.mkdir()
    want = truth(project)
    columns = [write_peer(project, out), write_ours(project, out, "1.04"), write_ours(project, out, "1.1")]
    kdenlive_missing = missing_tools()
    for col in columns:
        if col.path is None:
            continue
        col.facts = inspect(col.path)
        col.facts[f"write time (best of {WRITES})"] = f"{col.write_s * 1000:.1f} ms"
        if args.no_kdenlive or kdenlive_missing:
            col.facts["opens in Kdenlive 22.12, no dialog"] = "not run"
        elif col.facts["document version"] == "1.1":
            col.facts["opens in Kdenlive 22.12, no dialog"] = "n/a (22.12 refuses 1.1)"
        else:
            col.facts["opens in Kdenlive 22.12, no dialog"] = open_check(col.path, col.path.parent / "open")
        length, wall = melt_render(col.path, col.path.parent, args.melt_limit)
        col.facts["melt render length"] = length
        col.facts["melt render wall time"] = wall
    want["melt render length"] = want.pop("duration")

    names = ["timeline (truth)", *(c.name for c in columns)]
    cells = [[want.get(r, "") for r in ROWS]]
    for col in columns:
        cells.append([col.facts.get(r, "") if col.path else (col.error if r == ROWS[0] else "") for r in ROWS])
    width0 = max(len(r) for r in ROWS)
    widths = [max(len(n), *(len(c) for c in cells[k])) for k, n in enumerate(names)]
    print(f"{project.n_frames} frames at {float(FPS):.3f} fps ({SECONDS:.0f} s), {len(COLOURS)} clips, "
          f"{SIZE[0]}x{SIZE[1]}; melt limit {args.melt_limit:.0f} s")
    print(" | ".join([" " * width0, *(n.ljust(w) for n, w in zip(names, widths))]))
    print("-+-".join(["-" * width0, *("-" * w for w in widths)]))
    for i, row in enumerate(ROWS):
        print(" | ".join([row.ljust(width0), *(cells[k][i].ljust(w) for k, w in enumerate(widths))]))
    for col in columns:
        if col.error:
            print(f"note: {col.name}: {col.error}")
    if kdenlive_missing and not args.no_kdenlive:
        print(f"note: Kdenlive not opened: apt-get install -y {' '.join(kdenlive_missing)}")
    if args.keep:
        shutil.copytree(out, args.keep, dirs_exist_ok=True)
        print(f"projects kept in {args.keep}")


if __name__ == "__main__":
    main()
