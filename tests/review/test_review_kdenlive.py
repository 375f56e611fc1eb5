"""A take picked on the review page (keyboard: 2, P) leaves a project the real Kdenlive 22.12 opens
with no dialog, the picked take on its timeline."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from support.browser import ReviewServer, chromium, missing, review_folder


@pytest.mark.kdenlive
def test_kdenlive_opens_the_project_after_a_pick_on_the_page(word_song, tmp_path):
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from mvtimeline.timeline.kdenlive.read import read_summary
    from support.kdenlive_open import missing_tools, open_in_kdenlive

    lacking = missing() + missing_tools()
    if lacking:
        pytest.skip(f"needs {', '.join(lacking)} (make deps)")
    folder = review_folder(word_song, tmp_path / "work", takes=2)
    server = ReviewServer(folder)
    page = chromium()
    try:
        page.get(server.url)
        WebDriverWait(page, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready"))
        body = page.find_element("tag name", "body")
        body.send_keys(Keys.ARROW_RIGHT)  # segment 2
        WebDriverWait(page, 10).until(lambda d: d.execute_script("return S.segments[cur].index") == 2)
        body.send_keys("2")
        body.send_keys("p")
        plan = folder / "plan.json"
        WebDriverWait(page, 30).until(lambda d: json.loads(plan.read_text())["segments"][1]["take"] == 2)
    finally:
        page.quit()
        server.stop()
    kdenlive = next(folder.glob("*.kdenlive"))
    clips = sorted((c for c in read_summary(kdenlive).clips if c.resource.endswith(".mp4")), key=lambda c: c.start_frame)
    assert clips[1].resource.endswith("take-2.mp4") and clips[0].resource.endswith("take-1.mp4")
    result = open_in_kdenlive(kdenlive, tmp_path / "kdenlive-open")
    shots = os.environ.get("MVTIMELINE_SHOTS")
    if shots and result.screenshot is not None:
        Path(shots).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.screenshot, Path(shots) / "review-pick-kdenlive.png")
    assert result.clean, f"Kdenlive showed {result.dialogs or 'no main window'}; see {result.screenshot}, {result.log}"
