"""The review page: a local web app over a work folder to look at every take against the song,
pick, edit, re-roll, move cuts and import clips (``mvtimeline review DIR``).

- :mod:`.state` — what the page shows, as JSON (the plan, the takes, the song's waveform, the price).
- :mod:`.jobs` — the queue of re-rolls, made by the folder's own backend and executor.
- :mod:`.server` — the aiohttp app: a token on every media and write request, files only from
  inside the work folder, one writer at a time with the CLI.
- ``static/`` — the page itself (plain HTML, CSS and JavaScript; no build step, nothing from the web).

Public: serve, make_app, Review.
"""

from __future__ import annotations

from .server import Review, make_app, serve

__all__ = ["serve", "make_app", "Review"]
