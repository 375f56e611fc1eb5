"""Open (and save) projects in the Kdenlive releases people run, from Debian chroots, as root.

Kdenlive 24.12 (Debian 13, ``trixie``) and 26.08 (Debian testing, ``forky``) run from chroots made
by the team's ``kdenlive_chroot.sh`` (``../shared/tools/`` beside the checkout, or the path in
``MVT_KDENLIVE_CHROOT_TOOL``), cached under ``/var/cache/mvtimeline`` (``KD_ROOT``). Opening goes
through that tool as it is (it reports CLEAN / NOT CLEAN with each dialog's title and keeps
screenshots). Saving is not one of its verbs, so :func:`save_in_chroot` drives Kdenlive's own
File > Save As over D-Bus and xdotool the same way, inside the same chroot.

The tool keeps one output folder per chroot (``/root/kd_out``), so every run here holds a lock of
its chroot (threads and processes alike): one Kdenlive per chroot at a time, the chroots at once.
Each run has its own network namespace (``unshare -n``): the X servers of two chroots cannot meet
on one display number (X's abstract sockets belong to the network namespace, and the tool only
looks in its chroot's ``/tmp`` for a free one); Kdenlive needs no network.

Public: SUITES, tool_path, chroot_dir, skip_reason, open_in_chroot, import_otio, save_in_chroot, ChrootOpen.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SUITES", "tool_path", "chroot_dir", "skip_reason", "open_in_chroot", "import_otio", "save_in_chroot",
           "ChrootOpen"]

#: Debian suite → the Kdenlive release it ships.
SUITES = {"trixie": "24.12", "forky": "26.08"}
_REPO = Path(__file__).resolve().parents[2]


def tool_path() -> Path:
    """``kdenlive_chroot.sh``: ``$MVT_KDENLIVE_CHROOT_TOOL`` or ``../shared/tools/`` beside the checkout."""
    env = os.environ.get("MVT_KDENLIVE_CHROOT_TOOL")
    return Path(env) if env else _REPO.parent / "shared" / "tools" / "kdenlive_chroot.sh"


def chroot_dir(suite: str) -> Path:
    return Path(os.environ.get("KD_ROOT", "/var/cache/mvtimeline")) / f"kdenlive-{suite}"


def skip_reason(suite: str) -> str | None:
    """Why Kdenlive of ``suite`` cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "running Kdenlive from a chroot needs root"
    if not tool_path().is_file():
        return f"no {tool_path()} (set MVT_KDENLIVE_CHROOT_TOOL)"
    if not (chroot_dir(suite) / "usr/bin/kdenlive").exists():
        return f"no Kdenlive chroot at {chroot_dir(suite)}: make kdenlive-chroots"
    return None


@contextlib.contextmanager
def _holding(suite: str) -> Iterator[None]:
    """The lock of ``suite``'s chroot (flock: held per open file, so threads wait for each other too)."""
    with open(chroot_dir(suite) / "root" / ".mvtimeline-tests.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _own_network() -> list[str]:
    """The command prefix that runs a chroot's X server, D-Bus and Kdenlive in a network namespace of their own."""
    return ["unshare", "-n"] if shutil.which("unshare") else []


@dataclass(frozen=True)
class ChrootOpen:
    """What the tool reported: ``clean`` (only the main window), the dialogs, the screenshots."""

    suite: str
    clean: bool
    dialogs: str
    screenshots: tuple[Path, ...]
    output: str
    log: Path

    def message(self) -> str:
        shots = ", ".join(str(p) for p in self.screenshots) or "no screenshot"
        return f"Kdenlive {SUITES[self.suite]} ({self.suite}): {self.dialogs or 'no main window'}; see {shots}"


def _run_tool(verb: str, suite: str, file: Path, out_dir: Path, settle_s: int) -> tuple[int, str]:
    """Run a verb of the team's tool; again (up to three times) when Kdenlive could not reach its
    virtual screen (a start-up race of Xvfb: "could not connect to display", or Qt's xcb plugin that
    could not load; not a verdict on the file), once more when it vanished without showing anything
    or when the tool brought back nothing at all (no ``windows.txt``: its output folder emptied under it)."""
    out_dir = Path(out_dir)
    attempts = 3
    for attempt in range(attempts):
        with _holding(suite):
            proc = subprocess.run(
                [*_own_network(), "bash", str(tool_path()), verb, suite, str(Path(file).resolve()), str(out_dir),
                 str(settle_s)],
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
        out = proc.stdout + proc.stderr
        log = out_dir / "kdenlive.log"
        log_text = log.read_text(errors="replace") if log.exists() else ""
        lowered = log_text.lower()
        raced = ("could not connect to display" in lowered or 'could not load the qt platform plugin "xcb"' in lowered) \
            and "kdenlive exited" in out
        # Kdenlive gone before the screenshot with no dialog shown: a crash under load, seen once in
        # 26.08 on a busy machine (the same project opened clean before and after); a second crash
        # of the same project fails the test
        vanished = "NOT CLEAN: dialogs: none; no project main window" in out
        nothing = not (out_dir / "windows.txt").exists() and not (out_dir / "steps.txt").exists()
        if attempt + 1 < attempts and (raced or ((vanished or nothing) and attempt == 0)):
            continue
        return proc.returncode, out
    return proc.returncode, out


def open_in_chroot(suite: str, project: Path, out_dir: Path, *, settle_s: int = 12) -> ChrootOpen:
    """Open ``project`` in the Kdenlive of ``suite`` with the team's tool."""
    rc, out = _run_tool("open", suite, project, out_dir, settle_s)
    m = re.search(r"^NOT CLEAN: (.*)$", out, re.M)
    shots = tuple(sorted(Path(out_dir).glob("screen*.png")))
    return ChrootOpen(suite, rc == 0 and "CLEAN: opened with no dialog" in out, m.group(1) if m else "", shots, out,
                      Path(out_dir) / "kdenlive.log")


def import_otio(suite: str, otio_file: Path, out_dir: Path, *, settle_s: int = 12) -> tuple[Path, str]:
    """File > OpenTimelineIO Import of ``otio_file`` in the Kdenlive of ``suite`` (25.04+), saved by
    Kdenlive as ``out_dir/imported.kdenlive``; returns that path (it may be missing) and the report."""
    _, out = _run_tool("otio", suite, otio_file, out_dir, settle_s)
    return Path(out_dir) / "imported.kdenlive", out


_SAVE_SCRIPT = r"""
set -u
file=$1; target=$2; out=$3
mkdir -p "$out"; rm -f "$out"/*
for n in $(seq 0 50); do d=$((300 + (RANDOM % 400))); [ -e /tmp/.X11-unix/X$d ] || break; done
Xvfb :$d -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 & xpid=$!
for _ in $(seq 100); do [ -e /tmp/.X11-unix/X$d ] && break; sleep 0.1; done
scratch=$(mktemp -d /tmp/kdsave.XXXXXX)
mkdir -p "$scratch/home/.config" "$scratch/home/Videos" "$scratch/home/Documents" "$scratch/run" "$scratch/tmp"
chmod 700 "$scratch/run"
printf '[startup]\nshowWelcome=false\n' >"$scratch/home/.config/kdenliverc"
export DISPLAY=:$d HOME=$scratch/home XDG_RUNTIME_DIR=$scratch/run TMPDIR=$scratch/tmp SDL_AUDIODRIVER=dummy LANG=C.UTF-8
eval "$(dbus-launch --sh-syntax)"
kdenlive "$file" >"$out/kdenlive.log" 2>&1 & kpid=$!
step() { echo "$(date +%s.%N | cut -c1-14) $*" >>"$out/steps.txt"; }
names() { xdotool search --onlyvisible --maxdepth 1 --name '' getwindowname %@ 2>/dev/null; }
winid() { for w in $(xdotool search --onlyvisible --maxdepth 1 --name '' 2>/dev/null); do
  xdotool getwindowname "$w" 2>/dev/null | grep -q "$1" && { echo "$w"; return; }; done; }
svc() { dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames \
  | grep -o 'org\.kde\.kdenlive[^"]*' | head -1; }
shot() { import -window root rgb:- 2>/dev/null | md5sum; }
step "started"
main=""
for _ in $(seq 240); do main=$(names | grep -E ' [*]?/ .* — Kdenlive$' | head -1); [ -n "$main" ] && break; sleep 0.5; done
step "main: $main"
# the project is loaded when no "Loading" window is left and the screen stops changing (polled,
# at least 2 s after the main window, at most 30 s)
prev=""; same=0
for _ in $(seq 60); do
  sleep 0.5
  names | grep -q 'Loading' && { same=0; prev=""; continue; }
  cur=$(shot); if [ "$cur" = "$prev" ]; then same=$((same + 1)); else same=0; fi; prev=$cur
  [ $same -ge 4 ] && break
done
step "loaded"
names >"$out/windows-before-save.txt"
w=""
for _ in $(seq 4); do   # the action again if no dialog came (D-Bus service not up yet)
  dbus-send --session --type=method_call --dest="$(svc)" /kdenlive/MainWindow_1 \
    org.kde.KMainWindow.activateAction string:file_save_as
  for _ in $(seq 20); do w=$(winid 'Save As'); [ -n "$w" ] && break; sleep 0.25; done
  [ -n "$w" ] && break
done
step "save dialog: ${w:-none}"
if [ -n "$w" ]; then
  xdotool windowfocus --sync "$w" 2>/dev/null; sleep 0.5
  xdotool type --delay 15 "$target"; sleep 0.3; xdotool key Return
  # written: the document is whole (</mlt>), the subtitle sidecar it names is there, and neither
  # grows any more
  ass=$target.ass; prev=""
  for _ in $(seq 120); do
    sleep 0.25
    [ -s "$target" ] && tail -c 200 "$target" | grep -q '</mlt>' || continue
    if [ -e "$file.ass" ] || [ -e "$file.srt" ] || grep -q "$(basename "$ass")" "$target"; then
      [ -s "$ass" ] || continue; fi
    cur=$(stat -c %s "$target" "$ass" 2>/dev/null | tr '\n' ' ')
    [ "$cur" = "$prev" ] && break; prev=$cur
  done
  step "saved: $(ls -l "$target"* 2>/dev/null | tr '\n' '|')"
fi
names >"$out/windows-after-save.txt"
import -window root "$out/screen-after-save.png" 2>/dev/null
kill $kpid 2>/dev/null
for _ in $(seq 20); do kill -0 $kpid 2>/dev/null || break; sleep 0.1; done
kill -9 $kpid 2>/dev/null
kill $DBUS_SESSION_BUS_PID $xpid 2>/dev/null; rm -rf "$scratch"
"""


def save_in_chroot(suite: str, project: Path, target: Path, out_dir: Path) -> Path:
    """Open ``project`` in the Kdenlive of ``suite``, File > Save As ``target`` (same folder as the
    project), and copy what Kdenlive saved (the project and its sidecars) back beside ``project``.

    Returns
    -------
    Path
        ``target`` as Kdenlive wrote it (raises ``RuntimeError`` when Kdenlive saved nothing).
    """
    project, target, out_dir = Path(project).resolve(), Path(target).resolve(), Path(out_dir)
    if target.parent != project.parent:
        raise ValueError("save next to the project: Kdenlive keeps relative media paths then")
    root = chroot_dir(suite)
    folder = project.parent
    inner = root / folder.relative_to("/")
    with _holding(suite):  # the tool copies folders to the same place and has its own files there
        for sub in ("proc", "sys", "dev"):
            if subprocess.run(["mountpoint", "-q", str(root / sub)]).returncode:
                kind = ["-t", "proc", "proc"] if sub == "proc" else ["--bind", f"/{sub}"]
                subprocess.run(["mount", *kind, str(root / sub)], check=True)
        shutil.rmtree(inner, ignore_errors=True)
        shutil.copytree(folder, inner, symlinks=True)
        (root / "root/mvt_save.sh").write_text(_SAVE_SCRIPT)
        subprocess.run([*_own_network(), "chroot", str(root), "bash", "/root/mvt_save.sh", str(project), str(target),
                        "/root/mvt_save_out"], capture_output=True, timeout=300)  # fmt: skip
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in (root / "root/mvt_save_out").iterdir():
            shutil.copy2(f, out_dir / f.name)
        saved = inner / target.name
        if not saved.is_file():
            raise RuntimeError(f"Kdenlive {SUITES[suite]} saved nothing; see {out_dir}")
        for f in inner.glob(target.name + "*"):  # the project and its sidecars (.ass, backups)
            shutil.copy2(f, folder / f.name)
        shutil.rmtree(inner, ignore_errors=True)
    return target
