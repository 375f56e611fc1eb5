"""The one exception hierarchy of mvtimeline.

``MvtimelineError`` is the root. ``InputError`` (exit code 2) means the user gave something we cannot
use; ``RunError`` (exit code 1) means a run failed for another reason. Each message is one line: what
is wrong, where, and what to do.

Public: MvtimelineError, InputError, RunError, LyricsFormatError, AudioFormatError,
SchemaVersionError, OutputError, RenderFailed, ToolMissing.
"""

from __future__ import annotations

__all__ = [
    "MvtimelineError",
    "InputError",
    "RunError",
    "LyricsFormatError",
    "AudioFormatError",
    "SchemaVersionError",
    "OutputError",
    "RenderFailed",
    "ToolMissing",
    "ClipFailed",
    "ClipsMissing",
]


class MvtimelineError(Exception):
    """Root of every error mvtimeline raises on purpose."""

    exit_code = 1


class InputError(MvtimelineError):
    """Bad input from the user: a missing or unreadable file, a malformed value. Exit code 2."""

    exit_code = 2


class RunError(MvtimelineError):
    """A run failed for a reason other than bad input. Exit code 1."""

    exit_code = 1


class LyricsFormatError(InputError):
    """A lyrics file that cannot be read: names the file and the line."""


class AudioFormatError(InputError):
    """An audio file that ffmpeg/soundfile cannot decode."""


class SchemaVersionError(InputError):
    """An artifact written with a schema this version does not read."""


class OutputError(InputError):
    """An output folder or file that cannot be written."""


class ToolMissing(RunError):
    """An external program (ffmpeg, melt, espeak-ng) is not installed."""


class RenderFailed(RunError):
    """melt or ffmpeg exited with an error while rendering."""


class ClipFailed(RunError):
    """One clip could not be made (a remote server failed after its retries); the others go on."""


class ClipsMissing(RunError):
    """Some clips of a run could not be made; the rest are in the cache. A re-run makes only those.

    ``made`` holds the results of the clips that exist, ``failed`` the (request, message) pairs.
    """

    def __init__(self, message: str, *, made: list | None = None, failed: list | None = None) -> None:
        super().__init__(message)
        self.made = made or []
        self.failed = failed or []


class Cancelled(RunError):
    """The person stopped the work (a re-roll cancelled on the review page); what was finished stays."""
