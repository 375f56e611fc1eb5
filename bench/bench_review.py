"""Benchmark the review page: how fast a long song with many takes opens in a real browser.

Usage: ``python bench/bench_review.py [--work DIR] [--loads 5]``

Two procedural work folders of synthesized songs sung word by word (their eLRC gives the word times,
so no aligner runs): the baseline, a 44.5 s song (about 10 segments) with 2 takes each,
and the case of the issue, a long song cut into about 60 segments with 3 takes each. For each, with
``mvtimeline review`` serving it and headless Chromium (Debian's chromium + chromium-driver, Selenium)
opening it: the time from navigation to the page drawn with every segment listed (``data-ready``,
the page's own ``performance.now()``) on the first load (right after the server started: no thumbnail
nor waveform made yet) and the median of
``--loads`` later loads; the ``/api/state`` answer's time (median of 10) and size; how many videos
the page loads up front (none: ``preload="none"``, a take's video is fetched when played) and how
many thumbnails it asks for (lazy: those in view). Reported side by side, with the ratio of the long
song to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def make_folder(work: Path, name: str, *, stanzas: int, takes: int, max_segment_s: float | None) -> Path:
    """A procedural work folder of a synthesized song (``stanzas`` stanzas) with ``takes`` takes."""
    from mvtimeline.audio.demo import synthesize
    from support.cli import run_cli

    folder = work / name / "project"
    if (folder / "plan.json").exists():
        return folder
    text = (REPO / "mvtimeline" / "data" / "demo_lyrics.txt").read_text(encoding="utf-8").strip()
    blocks = text.split("\n\n")
    lyrics_text = "\n\n".join(blocks[k % len(blocks)] for k in range(stanzas))  # a longer song: the stanzas again
    song = synthesize(work / name / "source", lyrics_text=lyrics_text, stanzas=stanzas, intro_bars=2, outro_bars=2,
                      word_by_word=True)

    def ts(t: float) -> str:
        m, s = divmod(t, 60)
        return f"{int(m):02d}:{s:05.2f}"

    rows = [f"[{ts(ln['start_s'])}]" + " ".join(f"<{ts(w['start_s'])}>{w['text']}" for w in ln["words"])
            for ln in song.lines]
    lyrics = work / name / "song.elrc"
    lyrics.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = ["run", song.audio_path, "--lyrics", lyrics, "-o", folder, "--size", "320x180", "--takes", takes,
            "--pace", "energetic"]
    if max_segment_s:
        args += ["--max-segment", max_segment_s]
    run_cli(*args, check=True)
    return folder


def measure(folder: Path, loads: int) -> dict:
    import json

    from support.browser import ReviewServer, chromium

    import shutil

    shutil.rmtree(folder / ".review", ignore_errors=True)  # no thumbnails nor waveform kept from a run before
    server = ReviewServer(folder)
    try:
        d = chromium()
        try:
            ready = []
            thumbs = videos = 0
            for i in range(loads + 1):  # the first one right after the server started
                d.get("about:blank")
                d.get(server.url)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    r = d.find_element("tag name", "body").get_attribute("data-ready")
                    if r:
                        break
                    time.sleep(0.01)
                listed = len(d.find_elements("css selector", "#segments .seg"))
                ready.append(float(r) / 1000)
                if i == 0:
                    time.sleep(1.0)
                    thumbs = d.execute_script("return performance.getEntriesByType('resource')"
                                              ".filter(e => e.name.includes('/thumb/')).length")
                    videos = d.execute_script("return performance.getEntriesByType('resource')"
                                              ".filter(e => e.name.includes('.mp4')).length")
        finally:
            d.quit()
        state_s = []
        size = 0
        for _ in range(10):
            t0 = time.perf_counter()
            status, body = server.get("/api/state")
            state_s.append(time.perf_counter() - t0)
            size = len(body)
        state = json.loads(body)
        segments = len(state["segments"])
        takes = sum(len(s["takes"]) for s in state["segments"])
        assert listed == segments, (listed, segments)
    finally:
        server.stop()
    return {"segments": segments, "takes": takes, "first_s": ready[0], "ready_s": statistics.median(ready[1:]),
            "state_s": statistics.median(state_s), "state_kb": size / 1024, "thumbs": thumbs, "videos": videos}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="Keep the work folders here (default: a temp folder).")
    ap.add_argument("--loads", type=int, default=5)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-review-"))
    cases = {
        "baseline: 44.5 s song, 2 takes": make_folder(work, "small", stanzas=2, takes=2, max_segment_s=None),
        "long song: ~60 segments x 3 takes": make_folder(work, "long", stanzas=12, takes=3, max_segment_s=4.0),
    }
    rows = {name: measure(folder, args.loads) for name, folder in cases.items()}
    print(f"{'case':<36} {'segs':>5} {'takes':>6} {'first':>8} {'ready':>8} {'state':>8} {'state KB':>9} "
          f"{'thumbs':>7} {'videos':>7}")
    for name, r in rows.items():
        print(f"{name:<36} {r['segments']:>5} {r['takes']:>6} {r['first_s']:>7.3f}s {r['ready_s']:>7.3f}s "
              f"{r['state_s']:>7.3f}s {r['state_kb']:>9.0f} {r['thumbs']:>7} {r['videos']:>7}")
    base, long = rows.values()
    print(f"ratio long/baseline: page ready x{long['ready_s'] / base['ready_s']:.2f}, "
          f"state x{long['state_s'] / base['state_s']:.2f}, for x{long['takes'] / base['takes']:.1f} the takes")


if __name__ == "__main__":
    main()
