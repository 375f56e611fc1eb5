"""The review page in a real browser (Debian's chromium + chromium-driver, Selenium, headless) against
the real server (``mvtimeline review``) on a procedural work folder: what a person sees and does there
ends up in plan.json and the Kdenlive project.

The tests run in order on one folder, one server and one browser (each reads the state it finds).
Screenshots go to ``$MVTIMELINE_SHOTS`` when set.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from support.browser import ReviewServer, chromium, missing, review_folder
from support.cli import run_cli

pytestmark = pytest.mark.xdist_group("review")


@pytest.fixture(scope="module")
def folder(word_song, tmp_path_factory) -> Path:
    lacking = missing()
    if lacking:
        pytest.skip(f"needs {', '.join(lacking)} (make deps)")
    return review_folder(word_song, tmp_path_factory.mktemp("review"), takes=2)


@pytest.fixture(scope="module")
def server(folder):
    s = ReviewServer(folder)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def page(server):
    from selenium.webdriver.support.ui import WebDriverWait

    d = chromium()
    d.get(server.url)
    WebDriverWait(d, 30).until(lambda x: x.find_element("tag name", "body").get_attribute("data-ready"))
    yield d
    d.quit()


def shot(page, name: str, tmp_path: Path) -> Path:
    """A screenshot of the page, kept in $MVTIMELINE_SHOTS when set."""
    where = Path(os.environ.get("MVTIMELINE_SHOTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"review-{name}.png"
    page.save_screenshot(str(path))
    return path


def wait(page, fn, timeout_s: float = 60.0):
    """Until ``fn()`` is true; an element the page re-drew meanwhile is looked up again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(page, timeout_s, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                         ).until(lambda d: fn())


def plan_of(folder: Path) -> dict:
    return json.loads((folder / "plan.json").read_text())


def seg_of(folder: Path, index: int) -> dict:
    return next(s for s in plan_of(folder)["segments"] if s["index"] == index)


def show(page, index: int) -> None:
    """Bring segment ``index`` up with the keyboard (← / →), as a person would."""
    from selenium.webdriver.common.keys import Keys

    body = page.find_element("tag name", "body")
    for _ in range(80):
        now = int(page.execute_script("return S.segments[cur].index"))
        if now == index:
            return
        body.send_keys(Keys.ARROW_RIGHT if now < index else Keys.ARROW_LEFT)
    raise AssertionError(f"segment {index} never came up")


def words_of(folder: Path) -> list[tuple[float, float]]:
    aligned = json.loads((folder / "aligned.json").read_text())
    return [(w["start_s"], w["end_s"]) for ln in aligned["lines"] for w in ln.get("words", ())
            if w.get("start_s") is not None]


# ------------------------------------------------------------------------------------------- tests
def test_page_shows_every_segment_and_take(page, server, folder, tmp_path):
    plan = plan_of(folder)
    cards = page.find_elements("css selector", "#segments .seg")
    assert [int(c.get_attribute("data-index")) for c in cards] == [s["index"] for s in plan["segments"]]
    for seg in plan["segments"]:
        show(page, seg["index"])
        tiles = page.find_elements("css selector", "#takes .take")
        assert [int(t.get_attribute("data-take")) for t in tiles] == [1, 2]  # made with --takes 2
        chosen = [int(t.get_attribute("data-take")) for t in tiles if "chosen" in t.get_attribute("class")]
        assert chosen == [seg["take"]]
        for v in page.find_elements("css selector", "#takes video"):  # every take's video is served
            src = v.get_attribute("src")
            assert v.get_attribute("preload") == "none"  # loaded only when played
            with urllib.request.urlopen(src, timeout=30) as r:
                assert r.status == 200 and r.read(12)[4:8] == b"ftyp"
    shot(page, "segments", tmp_path)


def test_playing_a_segment_plays_the_song_from_its_start(page, folder, tmp_path):
    from selenium.webdriver.common.keys import Keys

    seg = plan_of(folder)["segments"][2]
    show(page, seg["index"])
    page.find_element("tag name", "body").send_keys(" ")
    wait(page, lambda: page.execute_script("return document.getElementById('audio').currentTime") > seg["start_s"] + 0.3,
         20)
    song_t, video_t, heads = page.execute_script(
        "const a = document.getElementById('audio');"
        "return [a.currentTime, Array.from(document.querySelectorAll('#takes video')).map(v => v.currentTime),"
        "Array.from(document.querySelectorAll('#takes video')).map(v => +v.dataset.head)]")
    assert seg["start_s"] < song_t < seg["end_s"]  # the song plays from the segment's start, not from 0
    for vt, head in zip(video_t, heads):  # each take on the song's clock: the segment's first frame at its start
        assert abs(vt - head - (song_t - seg["start_s"])) < 0.35
    assert page.execute_script("return document.getElementById('audio').paused") is False
    shot(page, "playing", tmp_path)
    page.find_element("tag name", "body").send_keys(" ")  # pause
    assert page.execute_script("return document.getElementById('audio').paused") is True
    assert Keys  # (imported for the keyboard)


def test_pick_with_the_keyboard_changes_plan_and_project(page, folder, tmp_path):
    from mvtimeline.timeline.kdenlive.read import read_summary

    kdenlive = next(folder.glob("*.kdenlive"))
    before = kdenlive.read_bytes()
    show(page, 2)
    assert seg_of(folder, 2)["take"] == 1
    body = page.find_element("tag name", "body")
    body.send_keys("2")
    body.send_keys("p")
    wait(page, lambda: seg_of(folder, 2)["take"] == 2, 30)
    wait(page, lambda: kdenlive.read_bytes() != before, 30)
    summary = read_summary(kdenlive)
    on_v1 = [c for c in summary.clips if c.resource.endswith(".mp4")]
    seg2 = sorted(on_v1, key=lambda c: c.start_frame)[1]
    assert seg2.resource.endswith("take-2.mp4")
    wait(page, lambda: "chosen" in page.find_element("css selector", '#takes .take[data-take="2"]').get_attribute("class"))
    shot(page, "picked", tmp_path)


def _listen(server, events: list, stop: threading.Event) -> None:
    with urllib.request.urlopen(f"{server.base}/api/events?t={server.token}", timeout=120) as r:
        for raw in r:
            line = raw.decode().strip()
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
            if stop.is_set():
                return


def test_reroll_streams_progress_and_the_new_take_lands_in_the_bin(page, server, folder, tmp_path):
    events: list = []
    stop = threading.Event()
    listener = threading.Thread(target=_listen, args=(server, events, stop), daemon=True)
    listener.start()
    time.sleep(0.5)
    show(page, 4)
    page.find_element("id", "reroll").click()
    wait(page, lambda: page.find_elements("css selector", '#jobs li[data-state="done"]'), 120)
    wait(page, lambda: len(page.find_elements("css selector", "#takes .take")) == 3, 30)
    stop.set()
    jobs = [e["job"] for e in events if e.get("type") == "job" and e["job"]["segment"] == 4]
    states = [j["state"] for j in jobs]
    assert states[0] == "queued" and states[-1] == "done" and "running" in states
    running = [j for j in jobs if j["state"] == "running" and j["total"]]
    assert running and running[-1]["done"] == running[-1]["total"] > 0  # the clip's frames counted as they came
    assert jobs[-1]["take"] == 3
    state = server.state()
    seg = next(s for s in state["segments"] if s["index"] == 4)
    new = next(t for t in seg["takes"] if t["take"] == 3)
    clip_file = new["url"].split("?")[0].split("/media/")[1]
    kdenlive = next(folder.glob("*.kdenlive"))
    from mvtimeline.timeline.kdenlive.read import read_summary

    assert any(b.resource.endswith(clip_file) for b in read_summary(kdenlive).bin)  # in the project's bin
    assert seg_of(folder, 4)["take"] == 1  # another take: the timeline keeps the chosen one
    shot(page, "rerolled", tmp_path)


def test_prompt_edit_survives_a_replan(page, folder, tmp_path):
    show(page, 5)
    box = page.find_element("id", "f-image_prompt")
    box.clear()
    box.send_keys("a lighthouse keeper dancing in the rain, neon reflections")
    page.find_element("id", "save").click()
    wait(page, lambda: seg_of(folder, 5)["image_prompt"].startswith("a lighthouse keeper"), 30)
    wait(page, lambda: "needs a take" in page.find_element("id", "seg-state").text, 30)
    run_cli("plan", folder, check=True)
    assert seg_of(folder, 5)["image_prompt"] == "a lighthouse keeper dancing in the rain, neon reflections"
    shot(page, "edited", tmp_path)


def test_reroll_with_a_new_prompt_and_keyframe_puts_its_take_on_the_timeline(page, server, folder, tmp_path):
    import hashlib

    from PIL import Image

    show(page, 5)  # its prompt was edited: it waits for a take
    assert seg_of(folder, 5)["image_prompt"].startswith("a lighthouse keeper")
    still = tmp_path / "keyframe.png"
    Image.new("RGB", (64, 36), (200, 40, 90)).save(still)
    page.find_element("id", "f-keyframe").send_keys(str(still))
    wait(page, lambda: "keyframes/" in page.find_element("id", "keyframe-name").text, 30)
    box = page.find_element("id", "f-motion_prompt")
    box.clear()
    box.send_keys("slow dolly in")
    done = len(page.find_elements("css selector", '#jobs li[data-state="done"]'))
    page.find_element("id", "reroll").click()
    wait(page, lambda: len(page.find_elements("css selector", '#jobs li[data-state="done"]')) > done, 120)
    seg = seg_of(folder, 5)
    assert seg["motion_prompt"] == "slow dolly in" and seg["image"].startswith("keyframes/")
    assert (folder / seg["image"]).read_bytes() == still.read_bytes()
    state = next(s for s in server.state()["segments"] if s["index"] == 5)
    assert not state["stale"]
    chosen = next(t for t in state["takes"] if t["chosen"])
    record = json.loads((folder / chosen["url"].split("?")[0].split("/media/")[1]).with_suffix(".json").read_text())
    assert record["request"]["image_sha256"] == hashlib.sha256(still.read_bytes()).hexdigest()
    assert record["request"]["motion_prompt"] == "slow dolly in"
    wait(page, lambda: "needs a take" not in page.find_element("id", "seg-state").text, 30)
    shot(page, "rerolled-edited", tmp_path)


def test_an_earlier_take_of_the_old_prompt_can_be_brought_back(page, server, folder, tmp_path):
    from mvtimeline.timeline.kdenlive.read import read_summary

    show(page, 5)  # its prompt was edited and a take of the new one made: the old prompt's takes are "earlier"
    auto = seg_of(folder, 5)
    old_prompt = next(s for s in server.state()["segments"] if s["index"] == 5)["earlier"][0]["image_prompt"]
    assert auto["image_prompt"] != old_prompt
    page.find_element("id", "earlier-box").click()  # open the <details>
    tiles = page.find_elements("css selector", "#earlier .take.old")
    assert [int(t.get_attribute("data-take")) for t in tiles] == [1, 2]
    old_key = tiles[1].get_attribute("data-key")
    tiles[1].find_element("css selector", "button.restore").click()
    wait(page, lambda: seg_of(folder, 5)["image_prompt"] == old_prompt and seg_of(folder, 5)["take"] == 2, 30)
    seg = seg_of(folder, 5)
    assert seg["motion_prompt"] != "slow dolly in" and not seg.get("image")  # as the take was made
    kdenlive = next(folder.glob("*.kdenlive"))
    state = next(s for s in server.state()["segments"] if s["index"] == 5)
    chosen = next(t for t in state["takes"] if t["chosen"])
    key = chosen["url"].split("/clips/")[1].split("/")[0]
    assert key == old_key  # the old prompt's own clip, not a new one
    clips = sorted((c for c in read_summary(kdenlive).clips if c.resource.endswith(".mp4")), key=lambda c: c.start_frame)
    assert clips[4].resource.endswith(f"{key}/take-2.mp4")
    wait(page, lambda: len(page.find_elements("css selector", "#earlier .take.old")) >= 1, 30)  # the new prompt's take is earlier now
    shot(page, "brought-back", tmp_path)


def test_moving_a_cut_snaps_to_a_gap_between_words(page, folder, word_song, tmp_path):
    show(page, 3)
    before = seg_of(folder, 3)
    page.find_element("id", "start-next").click()
    wait(page, lambda: abs(seg_of(folder, 3)["start_s"] - before["start_s"]) > 1e-3, 30)
    after = plan_of(folder)["segments"]
    t = seg_of(folder, 3)["start_s"]
    assert t > before["start_s"]
    assert abs(after[1]["end_s"] - t) < 1e-6  # the segment before ends there: still covering the song
    truth = [(w["start_s"], w["end_s"]) for ln in word_song.lines for w in ln.get("words", ())]
    for a, b in words_of(folder) + truth:  # never inside a sung word (ours, nor the song's true times)
        assert not (a + 0.02 < t < b - 0.02), f"cut at {t:.3f} s inside a word sung {a:.3f}–{b:.3f} s"
    wait(page, lambda: "segments 2 and 3 need a new take" in page.find_element("id", "cut-note").text, 30)

    def badges() -> dict:
        return page.execute_script("const out = {}; for (const c of document.querySelectorAll('#segments .seg')) "
                                   "out[c.dataset.index] = c.querySelector('.badge').textContent; return out;")

    wait(page, lambda: badges()["2"] == badges()["3"] == "needs a take", 30)
    assert badges()["4"] != "needs a take"
    shot(page, "cut-moved", tmp_path)


def test_dropping_a_clip_imports_it(page, server, folder, tmp_path):
    seg = seg_of(folder, 7)
    song = next(p for p in folder.glob("*.wav"))
    a, b = seg["start_s"] - 0.4, seg["end_s"] + 0.3
    clip = tmp_path / "kling_output_8f3a2c.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=192x108:rate=24:d={b - a:.3f}",
                    "-ss", f"{a:.3f}", "-t", f"{b - a:.3f}", "-i", str(song), "-map", "0:v", "-map", "1:a",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(clip)], check=True)
    # a file input the test adds, to hand the browser a real file; the drop itself goes through the page's handler
    page.execute_script("const i = document.createElement('input'); i.type = 'file'; i.id = 'test-files';"
                        "document.body.append(i);")
    page.find_element("id", "test-files").send_keys(str(clip))
    show(page, 7)  # dropped on the segment shown: a take of it
    page.execute_script("const dt = new DataTransfer(); for (const f of document.getElementById('test-files').files) "
                        "dt.items.add(f); document.getElementById('takes').dispatchEvent(new DragEvent('drop', "
                        "{dataTransfer: dt, bubbles: true, cancelable: true}));")
    wait(page, lambda: page.find_elements("css selector", "#imports tbody tr")
         or "error" in page.find_element("id", "notice").get_attribute("class"), 120)
    assert "error" not in page.find_element("id", "notice").get_attribute("class"), page.find_element("id", "notice").text
    cells = [td.text for td in page.find_elements("css selector", "#imports tbody tr td")]
    assert cells[0] == clip.name and cells[1] == "7" and cells[2] == "3", cells
    assert "imported" in cells[-1]
    state = server.state()
    takes = next(s for s in state["segments"] if s["index"] == 7)["takes"]
    assert [t["take"] for t in takes] == [1, 2, 3] and takes[2]["imported"]
    shot(page, "imported", tmp_path)


def _raw_get(server, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (no client-side clean-up of ``..``)."""
    host, port = server.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read()


def test_requests_without_the_token_or_outside_the_folder_are_refused(server, folder, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page")
    (folder / "leak.txt").symlink_to(secret)
    (folder / "inside.txt").write_text("fine")
    t = server.token
    assert server.get("/api/state", token=False)[0] == 403
    assert server.get("/", token=False)[0] == 403
    assert server.get("/media/plan.json", token=False)[0] == 403
    status, body = server.get(f"/media/plan.json?t=wrong{t}", token=False)
    assert status == 403 and b"token" in body
    status, body = server.post("/api/pick", {"segment": 1, "take": 1}, token=False)
    assert status == 403
    assert server.get("/media/inside.txt")[0] == 200  # what is inside is served
    for path in (f"/media/../{secret.parent.name}/secret.txt?t={t}", f"/media/%2e%2e/%2e%2e/etc/passwd?t={t}",
                 f"/media/..%2f..%2fetc%2fpasswd?t={t}", f"/media/%2Fetc%2Fpasswd?t={t}", f"/media/leak.txt?t={t}",
                 f"/media/clips/../../secret.txt?t={t}"):
        status, body = _raw_get(server, path)
        assert status in (403, 404), (path, status)
        assert b"not for the page" not in body and b"root:" not in body
        assert json.loads(body)["error"]  # one line, no traceback
    status, body = server.post("/api/pick", {"segment": 99, "take": 1})
    assert status == 400 and "no segment 99" in body["error"]
    status, body = server.post("/api/edit", {"segment": 1, "fields": {"seed": "x"}})
    assert status == 400 and "seed" in body["error"]
    status, body = server.post("/api/cut", {"segment": 1, "time_s": 3.0})
    assert status == 400 and "segment 1" in body["error"]


def test_writes_are_refused_while_generate_holds_the_folder(page, server, folder, tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from mvtimeline.workfolder import writer_lock\n"
        "with writer_lock(Path(sys.argv[1]), 'generate'):\n"
        "    print('held', flush=True); time.sleep(120)\n"), str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        plan_before = (folder / "plan.json").read_bytes()
        status, body = server.post("/api/pick", {"segment": 1, "take": 2})
        assert status == 409 and "in use by mvtimeline generate" in body["error"]
        status, body = server.post("/api/reroll", {"segment": 1})
        assert status == 409
        wait(page, lambda: page.find_element("id", "lock").is_displayed(), 15)
        assert "mvtimeline generate" in page.find_element("id", "lock").text
        assert not page.find_element("id", "reroll").is_enabled()
        assert not page.find_element("id", "pick").is_enabled()
        shot(page, "locked", tmp_path)
        assert (folder / "plan.json").read_bytes() == plan_before
    finally:
        holder.kill()
        holder.wait()
    wait(page, lambda: not page.find_element("id", "lock").is_displayed(), 15)
    assert page.find_element("id", "reroll").is_enabled()


def test_a_queued_reroll_can_be_cancelled(server, folder):
    takes_before = {s["index"]: len(s["takes"]) for s in server.state()["segments"]}
    answers = [server.post("/api/reroll", {"segment": i}) for i in (8, 9, 1)]
    assert [a[0] for a in answers] == [200, 200, 200], answers
    jobs = [a[1]["job"] for a in answers]
    status, body = server.post("/api/cancel", {"job": jobs[2]["id"]})
    assert status == 200 and body["job"]["state"] == "cancelled"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = {j["id"]: j["state"] for j in server.state()["jobs"]}
        if states[jobs[0]["id"]] == states[jobs[1]["id"]] == "done":
            break
        time.sleep(0.2)
    after = {s["index"]: len(s["takes"]) for s in server.state()["segments"]}
    assert after[8] == takes_before[8] + 1 and after[9] == takes_before[9] + 1
    assert after[1] == takes_before[1]  # the cancelled one made nothing
    assert server.post("/api/cancel", {"job": 999})[0] == 404
