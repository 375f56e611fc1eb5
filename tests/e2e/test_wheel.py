"""The package installs from its wheel into a fresh environment and runs there, templates and all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory):
    """A new virtual environment outside the checkout with only mvtimeline's wheel installed in it;
    its dependencies come from this environment's site-packages (a path, so this environment's
    editable mvtimeline is not visible there)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "mvtimeline", src / "mvtimeline", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp / "dist"), str(src)], check=True, capture_output=True, cwd=tmp)  # fmt: skip
    [wheel] = (tmp / "dist").glob("mvtimeline-*.whl")
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, capture_output=True)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   capture_output=True)  # fmt: skip
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
    (Path(site) / "deps-from-the-test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def test_the_wheel_runs_in_a_fresh_environment_with_its_styles_and_presets(fresh_env, demo_song, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(fresh_env / "bin" / "python"), "-c", "import mvtimeline; print(mvtimeline.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path, env=env).stdout  # fmt: skip
    assert Path(where.strip()).is_relative_to(fresh_env), where  # the wheel's copy, not the checkout
    out = tmp_path / "work"
    proc = subprocess.run(
        [str(fresh_env / "bin" / "mvtimeline"), "-q", "run", str(demo_song.audio_path), "--lyrics",
         str(demo_song.lyrics_path), "-o", str(out), "--style", "anime", "--preset", "preview", "--size", "320x180"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (out / "demo.kdenlive").is_file() and (out / "demo.mp4").stat().st_size > 0
    plan = (out / "plan.json").read_text(encoding="utf-8")
    assert '"style": "anime"' in plan and "anime key visual" in plan
