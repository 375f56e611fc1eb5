"""Without torch installed, ``mvtimeline --help`` and the procedural backend work, and the diffusers
backend says what to install. Runs in a subprocess where ``import torch`` fails (torch need not be
installed for this test)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_help_and_procedural_work_without_torch(tmp_path) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # any `import torch` now raises ImportError
        sys.modules["diffusers"] = None
        from fractions import Fraction
        from pathlib import Path
        from mvtimeline.cli import main
        assert main(["--help"]) == 0
        assert main(["run", "--help"]) == 0
        from mvtimeline.errors import InputError
        from mvtimeline.generate import get_backend, run, probe_video
        from mvtimeline.types import ClipRequest
        req = ClipRequest(segment_index=1, take=1, section="Verse", section_index=0, image_prompt="x",
                          motion_prompt="", negative_prompt="", seed=1, width=32, height=32, fps=Fraction(24),
                          n_frames=6, head_frames=0, tail_frames=0, clip_start_s=0.0, tempo_bpm=120.0)
        [res] = run([req], backend=get_backend("procedural"), cache_dir=Path({str(tmp_path)!r}))
        assert probe_video(res.path)["frames"] == 6
        try:
            get_backend("diffusers", video_model={str(tmp_path)!r})
        except InputError as exc:
            assert "pip install 'mvtimeline[diffusers]'" in str(exc), exc
        else:
            raise AssertionError("no InputError")
        assert sys.modules["torch"] is None
        print("OK")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("OK")
