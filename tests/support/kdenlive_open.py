"""Open a project in the real Kdenlive on a virtual screen and report what it shows.

The Python twin of the team's ``kdenlive_open.sh``: Xvfb on a free display, a private
D-Bus session and HOME, ``kdenlive PROJECT``, wait for the main window, list the visible windows
with xdotool, take a screenshot with ImageMagick's ``import``, then end everything it started.
A project opened *cleanly* shows only the main window (``<name> / <profile> — Kdenlive``): any
other window is a dialog (missing clip, corrupted project, upgrade question...).

Public: missing_tools, open_in_kdenlive, OpenResult, TOOLS.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["missing_tools", "open_in_kdenlive", "OpenResult", "TOOLS"]

#: Programs needed, and the Debian packages that provide them.
TOOLS = {
    "kdenlive": "kdenlive",
    "Xvfb": "xvfb",
    "xdotool": "xdotool",
    "import": "imagemagick",
    "dbus-launch": "dbus-x11",
}
_SCREEN = (1600, 1000)


@dataclass(frozen=True)
class OpenResult:
    """What Kdenlive showed.

    ``clean`` is True when exactly the main window is visible (no dialog). ``windows`` are all
    visible window names, ``dialogs`` those that are not the main window. ``screenshot`` is a PNG
    of the whole virtual screen (None if ``import`` failed); ``log`` is Kdenlive's stdout+stderr.
    """

    clean: bool
    windows: tuple[str, ...]
    dialogs: tuple[str, ...]
    screenshot: Path | None
    log: Path
    seconds: float


def missing_tools() -> list[str]:
    """The Debian packages to install before :func:`open_in_kdenlive` can run (empty: all there)."""
    return sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})


def _is_main(name: str) -> bool:
    return name.endswith(" — Kdenlive") and " / " in name


def _kill_group(proc: subprocess.Popen, grace_s: float = 3.0) -> None:
    """End a process we started in its own session, and its children, by its process-group id."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace_s)


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display (it picks the number) and wait until clients can connect."""
    for _ in range(3):
        read_fd, write_fd = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{_SCREEN[0]}x{_SCREEN[1]}x24", "-nolisten", "tcp"],
            pass_fds=(write_fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        os.close(write_fd)
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        display = f":{number}"
        for _ in range(20):
            probe = subprocess.run(
                ["xdotool", "getdisplaygeometry"], env=dict(os.environ, DISPLAY=display), capture_output=True
            )
            if number and probe.returncode == 0 and xvfb.poll() is None:
                return xvfb, display
            time.sleep(0.25)
        _kill_group(xvfb)
    raise RuntimeError("Xvfb did not start: no display accepted connections")


def open_in_kdenlive(
    project: Path,
    out_dir: Path,
    *,
    settle_s: float = 8.0,
    timeout_s: float = 90.0,
    maximize: bool = True,
) -> OpenResult:
    """Open ``project`` in Kdenlive under Xvfb and report the windows and a screenshot.

    Parameters
    ----------
    project : Path
        The ``.kdenlive`` file.
    out_dir : Path
        Where ``screen.png``, ``windows.txt`` and ``kdenlive.log`` go (created).
    settle_s : float >= 0
        Seconds to wait after the main window appears, so late dialogs show up too.
    timeout_s : float > 0
        Seconds to wait for any Kdenlive window before giving up (the result is then not clean).
    maximize : bool
        Give the main window the whole virtual screen (Qt's ``-geometry``) so the timeline is
        readable in the screenshot.

    Returns
    -------
    OpenResult

    Raises
    ------
    RuntimeError
        A needed program is missing (the message names the apt packages) or Xvfb did not start.
    """
    missing = missing_tools()
    if missing:
        raise RuntimeError(f"missing programs: apt-get install -y {' '.join(missing)}")
    project = Path(project).resolve()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for attempt in range(2):
        result = _open_once(project, out_dir, settle_s=settle_s, timeout_s=timeout_s, maximize=maximize, t0=t0)
        log_text = result.log.read_text(encoding="utf-8", errors="replace") if result.log.exists() else ""
        # Kdenlive that could not reach the X server never ran: try once more on a fresh display.
        if result.windows or "could not connect to display" not in log_text or attempt:
            return result
    return result


def _open_once(
    project: Path, out_dir: Path, *, settle_s: float, timeout_s: float, maximize: bool, t0: float
) -> OpenResult:
    shot, log_path = out_dir / "screen.png", out_dir / "kdenlive.log"
    for stale in (shot, out_dir / "windows.txt"):
        stale.unlink(missing_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="kdenlive-open-"))
    procs: list[subprocess.Popen] = []
    dbus_pid: int | None = None
    windows: list[str] = []
    try:
        xvfb, display = _start_xvfb()
        procs.append(xvfb)
        for sub in ("home", "run", "tmp"):
            (scratch / sub).mkdir(mode=0o700)
        env = dict(
            os.environ,
            DISPLAY=display,
            HOME=str(scratch / "home"),
            XDG_RUNTIME_DIR=str(scratch / "run"),
            TMPDIR=str(scratch / "tmp"),  # Kdenlive keeps a crash lock there: one per run
        )
        inherited = ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY")
        for key in (*inherited, "XAUTHORITY"):
            env.pop(key, None)
        dbus = subprocess.run(["dbus-launch", "--sh-syntax"], env=env, capture_output=True, text=True, check=True)
        for line in dbus.stdout.splitlines():
            key, _, value = line.partition("=")
            value = value.rstrip(";").strip("'\"")
            if key == "DBUS_SESSION_BUS_ADDRESS":
                env[key] = value
            elif key == "DBUS_SESSION_BUS_PID":
                dbus_pid = int(value)

        # Qt's X11 -geometry option: the main window fills the virtual screen (no window manager).
        geometry = ["-geometry", f"{_SCREEN[0]}x{_SCREEN[1]}+0+0"] if maximize else []
        with open(log_path, "wb") as log_file:
            kdenlive = subprocess.Popen(
                ["kdenlive", *geometry, str(project)],
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=scratch,
            )
        procs.append(kdenlive)

        def names() -> list[str]:
            res = subprocess.run(
                ["xdotool", "search", "--onlyvisible", "--name", ".", "getwindowname", "%@"],
                env=env,
                capture_output=True,
                text=True,
            )
            return sorted({n for n in res.stdout.splitlines() if n.strip()})

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and kdenlive.poll() is None:
            if any("Kdenlive" in n for n in names()):
                break
            time.sleep(0.25)
        if kdenlive.poll() is None:
            time.sleep(settle_s)
        windows = names()
        (out_dir / "windows.txt").write_text("".join(f"{n}\n" for n in windows), encoding="utf-8")
        subprocess.run(["import", "-window", "root", str(shot)], env=env, capture_output=True)
    finally:
        for proc in reversed(procs):
            _kill_group(proc)
        if dbus_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(dbus_pid, signal.SIGTERM)
        shutil.rmtree(scratch, ignore_errors=True)

    dialogs = tuple(n for n in windows if not _is_main(n))
    mains = [n for n in windows if _is_main(n)]
    return OpenResult(
        clean=bool(mains) and not dialogs,
        windows=tuple(windows),
        dialogs=dialogs,
        screenshot=shot if shot.exists() else None,
        log=log_path,
        seconds=time.monotonic() - t0,
    )
