"""Executors: how the clip requests of a run are carried out.

- :mod:`.local` — in this process (the default);
- :mod:`.ray` — on a Ray cluster: one actor per GPU keeps its model loaded, workers return bytes and
  the driver writes the cache;
- :mod:`.cluster` — a batch's analysis, alignment and renders as Ray tasks.

Only this package imports ray.
"""
