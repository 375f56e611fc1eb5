"""A real browser for the review page's tests: Debian's ``chromium`` driven by ``chromium-driver``
through Selenium, headless, sound allowed to start without a click; and the review server itself,
``mvtimeline review DIR --no-open --port 0`` in its own process.

Public: missing, chromium, ReviewServer, review_folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["missing", "chromium", "ReviewServer", "review_folder"]

_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromedriver")


def missing() -> list[str]:
    """The Debian packages (or pip package) the browser tests lack."""
    out = [pkg for path, pkg in zip(_CHROMIUM, ("chromium", "chromium-driver")) if not Path(path).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        out.append("selenium (pip)")
    return out


def chromium(width: int = 1400, height: int = 1000) -> Any:
    """A headless Chromium under Selenium (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                f"--window-size={width},{height}", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    opts.binary_location = _CHROMIUM[0]
    return webdriver.Chrome(options=opts, service=Service(_CHROMIUM[1]))


class ReviewServer:
    """``mvtimeline review FOLDER`` running in its own process; ``url`` is the page's address
    (with its token), ``base`` the server's, ``token`` the token."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "mvtimeline", "review", str(folder), "--no-open",
                                      "--port", "0", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        line = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "review page:" in line or not line:
                break
        m = re.search(r"(http://[^/\s]+)/\?t=(\S+)", line)
        if not m:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            self.stop()
            raise AssertionError(f"the review server did not start: {line!r} {err}")
        self.base, self.token = m.group(1), m.group(2)
        self.url = f"{self.base}/?t={self.token}"

    def get(self, path: str, *, token: bool = True) -> tuple[int, bytes]:
        """GET ``path`` (the token added unless ``token`` is False): (status, body)."""
        sep = "&" if "?" in path else "?"
        url = self.base + path + (f"{sep}t={self.token}" if token else "")
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post(self, path: str, data: dict, *, token: bool = True) -> tuple[int, dict]:
        """POST JSON to ``path``: (status, the JSON answer)."""
        req = urllib.request.Request(self.base + path, data=json.dumps(data).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **({"X-Mvt-Token": self.token} if token else {})})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def state(self) -> dict:
        status, body = self.get("/api/state")
        assert status == 200, body
        return json.loads(body)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def review_folder(song: Any, out: Path, *, takes: int = 2, size: str = "160x90") -> Path:
    """A procedural work folder of a synthesized song sung word by word (its eLRC gives every word's
    time, so no aligner runs), with ``takes`` takes of each segment."""
    from support.cli import run_cli

    out.mkdir(parents=True, exist_ok=True)
    rows = []

    def ts(t: float) -> str:
        m, s = divmod(t, 60)
        return f"{int(m):02d}:{s:05.2f}"

    for ln in song.lines:
        words = ln.get("words") or []
        body = " ".join(f"<{ts(w['start_s'])}>{w['text']}" for w in words) if words else ln["text"]
        rows.append(f"[{ts(ln['start_s'])}]{body}")
    lyrics = out / "song.elrc"
    lyrics.write_text("\n".join(rows) + "\n", encoding="utf-8")
    song_copy = out / "song.wav"
    shutil.copyfile(song.audio_path, song_copy)
    folder = out / "project"
    run_cli("run", song_copy, "--lyrics", lyrics, "-o", folder, "--size", size, "--takes", takes, check=True)
    return folder
