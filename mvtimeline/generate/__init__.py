"""The generate stage: clip requests in, cached MP4 clips out.

``run(requests, backend=get_backend("procedural"), cache_dir=WORK / "clips")`` makes every clip
that is not in the cache yet, in this process, and returns a :class:`~mvtimeline.types.ClipResult`
per request; ``open_executor("ray", ...)`` gives an executor with the same ``run`` on a Ray cluster.

The rooms: :mod:`.requesting` (requests from a plan, the chaining rule), :mod:`.cache` (the
content-addressed cache: keys, paths, records; nothing else), :mod:`.encode` (frames → MP4),
:mod:`.grid` (model frame grids and sizes), :mod:`.backends` (what makes a clip),
:mod:`.executors` (where clips are made: local, ray, a batch's cluster), :mod:`.importer` (clips
made elsewhere → takes).

Public:

- :func:`run` — make or reuse the clips of a list of requests in this process
  (:func:`mvtimeline.generate.executors.local.run`).
- :func:`open_executor`, :data:`EXECUTORS` — where clips are made, by name (``local``, ``ray``).
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
from .cache import clip_paths, find_clip, image_sha256, takes_of
from .executors import EXECUTORS, open_executor
from .executors.local import run
from ..media import probe_video

__all__ = [
    "run",
    "open_executor",
    "EXECUTORS",
    "get_backend",
    "known_backends",
    "Backend",
    "image_sha256",
    "find_clip",
    "takes_of",
    "clip_paths",
    "check_request",
    "probe_video",
    "clip_requests",
    "chain",
    "with_audio",
]
