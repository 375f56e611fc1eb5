"""Progress: the one event every long job reports, and the callback type that receives it.

A stage, a backend, an executor or the batch calls ``progress(Progress(...))``; the CLI's reporter
turns the events into bars, and anything else (a test, the review page) can read the same fields.
Nothing is encoded in strings: which clip, which song and which worker are fields of their own.

- ``stage``: ``"analyze"``, ``"separate"``, ``"align"``, ``"plan"``, ``"generate"`` (clips of a run),
  ``"clip"`` (frames or steps of one clip), ``"export"``, ``"render"``, ``"song"`` (songs of a batch);
- ``done`` of ``total`` (any unit: clips, frames, steps, a fraction when ``total`` is 1);
- ``item``: what part of the stage: a clip's label, an aligner's step;
- ``song``: which song of a batch ("" outside a batch);
- ``worker``: who did it (a Ray worker, a ComfyUI server), when known.

Public: Progress, ProgressFn, ignore, relabel.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Progress", "ProgressFn", "ignore", "relabel"]


@dataclass(frozen=True)
class Progress:
    """One progress report: ``done`` of ``total`` in ``stage`` (see the module docstring).

    Examples
    --------
    >>> Progress("clip", 12, 48, item="03 Chorus").fraction
    0.25
    """

    stage: str
    done: float = 0.0
    total: float = 1.0
    item: str = ""
    song: str = ""
    worker: str = ""

    @property
    def fraction(self) -> float:
        """``done / total`` clipped to [0, 1] (0 when ``total`` is not positive)."""
        if self.total <= 0:
            return 0.0
        return min(1.0, max(0.0, self.done / self.total))


#: A progress callback: receives every event of a job, returns nothing.
ProgressFn = Callable[[Progress], None]


def ignore(event: Progress) -> None:
    """The callback that shows nothing (the default of every ``progress=`` parameter)."""


def relabel(progress: ProgressFn | None, **fields: str) -> ProgressFn:
    """A callback that passes every event on to ``progress`` with ``fields`` set (``item``, ``song``,
    ``worker``, ``stage``): how a caller tells its listener which clip or song an event is about.

    Examples
    --------
    >>> seen = []
    >>> relabel(seen.append, song="b-side")(Progress("clip", 1, 2))
    >>> seen[0].song
    'b-side'
    """
    if progress is None:
        return ignore
    return lambda event: progress(dataclasses.replace(event, **fields))
