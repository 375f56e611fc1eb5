"""The generate stage: clip requests in, cached MP4 clips out.

``run(requests, backend=get_backend("procedural"), cache_dir=WORK / "clips")`` makes every clip
that is not in the cache yet and returns a :class:`~mvtimeline.types.ClipResult` per request.

Public:

- :func:`run` — make or reuse the clips of a list of requests (content-addressed cache).
- :func:`get_backend`, :func:`known_backends`, :class:`Backend` — the backend registry and protocol.
- :func:`image_sha256` — content hash of a user still, for ``ClipRequest.image_sha256``.
- :func:`find_clip`, :func:`clip_paths` — look a clip up in the cache.
- :func:`check_request` — the checks every request goes through.
- :func:`probe_video` — frames, size and rate of a video file, counted by decoding.
- :func:`clip_requests`, :func:`chain` — the requests of a plan, and the chaining rule;
  :func:`with_audio` — the requests of a backend driven by each segment's audio.
"""

from __future__ import annotations

from .backends.base import Backend, check_request
from .backends.registry import get_backend, known_backends
from .requesting import chain, clip_requests, with_audio
from .cache import clip_paths, find_clip, image_sha256, run
from ..media import probe_video

__all__ = [
    "run",
    "get_backend",
    "known_backends",
    "Backend",
    "image_sha256",
    "find_clip",
    "clip_paths",
    "check_request",
    "probe_video",
    "clip_requests",
    "chain",
    "with_audio",
]
