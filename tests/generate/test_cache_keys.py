"""The cache keys of the clips, pinned: a work folder made by an earlier version is reused with no
re-encode. The values below were computed by mvtimeline before issue 22 moved the modules (commit
09cf80c); a change to ``ClipRequest`` (a field renamed or added without a default that drops out of the
key), to ``ClipRequest.key`` or to a backend's version shows up here as a re-generation of every clip
every user has made."""

from __future__ import annotations

from fractions import Fraction

import pytest

from mvtimeline.generate import get_backend
from mvtimeline.types import ClipRequest

BASE = dict(segment_index=3, take=1, section="chorus 1", section_index=2, image_prompt="neon city, rain",
            motion_prompt="slow push in", negative_prompt="blurry", seed=1234567, width=640, height=360,
            fps=Fraction(30000, 1001), n_frames=97, head_frames=0, tail_frames=12, clip_start_s=12.345,
            tempo_bpm=96.0, downbeats_s=(12.5, 15.0), loudness=(0.1234, 0.5, 0.9))

REQUESTS = {
    "plain": BASE,
    "take 2": {**BASE, "take": 2, "seed": BASE["seed"] + 1000003},
    "still": {**BASE, "image": "/x/still.png", "image_sha256": "ab" * 32, "crop_bottom": 0.08},
    "audio": {**BASE, "audio": "/x/stem.wav", "audio_sha256": "cd" * 32, "audio_is_vocals": True},
    "25 fps": {**BASE, "fps": Fraction(25), "n_frames": 80, "pingpong": True},
}

KEYS = {
    ("procedural", "plain"): "fd632d368b0ffd74ce36",
    ("procedural", "take 2"): "fd632d368b0ffd74ce36",
    ("procedural", "still"): "1eb17fc800d83cc4e375",
    ("procedural", "audio"): "4bf7b09e587268853872",
    ("procedural", "25 fps"): "e30c2123d66de0c49dcc",
    ("loop", "plain"): "7767cee416cb7c18acc9",
    ("loop", "take 2"): "7767cee416cb7c18acc9",
    ("loop", "still"): "7b2e4654cf8e00c48734",
    ("loop", "audio"): "2e4e4f7ea16dac672061",
    ("loop", "25 fps"): "4864582e0db05e62ce17",
}


@pytest.mark.parametrize("backend,case", sorted(KEYS))
def test_a_clip_keeps_the_key_it_had_before_the_move(backend, case):
    b = get_backend(backend)
    assert ClipRequest(**REQUESTS[case]).key(b.name, b.version, b.model_id) == KEYS[backend, case]


def test_the_model_backends_keep_their_versions():
    """The diffusers and ComfyUI backends put their version first in every key."""
    from mvtimeline.generate.backends.comfyui.backend import BACKEND_VERSION as COMFYUI
    from mvtimeline.generate.backends.diffusers.backend import BACKEND_VERSION as DIFFUSERS

    assert (str(COMFYUI), str(DIFFUSERS)) == ("1", "1")
