"""The ``mvtimeline`` command as the tests run it: in the test's own process through click's
``CliRunner`` (no interpreter start, no imports again, numba's code already compiled), or, for the
few tests that need a real process (signals, kill and resume, ``python -m`` itself), as a subprocess.

Both give a :class:`CliResult` with the names of :class:`subprocess.CompletedProcess` (``returncode``,
``stdout``, ``stderr``), so a test reads the same whichever way the command ran.

In the process, the command runs through :func:`mvtimeline.cli.main`, the console script's own entry
point: our errors become one line and an exit code exactly as a user sees them. Output is captured at
the file-descriptor level (``capture="fd"``), so what a child process (melt, ffmpeg, a batch worker)
writes lands in ``stdout``/``stderr`` as it would in a terminal. The root logger's handlers and level,
which the command sets up, are put back afterwards.

Public: CliResult, run_cli, run_cli_process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from click.testing import CliRunner

__all__ = ["CliResult", "run_cli", "run_cli_process"]


@dataclass(frozen=True)
class CliResult:
    """What one ``mvtimeline`` command left: its arguments, exit status and the two streams (text)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def check(self) -> CliResult:
        """This result, or an ``AssertionError`` with the stderr when the command failed."""
        assert self.returncode == 0, f"mvtimeline {' '.join(self.args)} exited {self.returncode}:\n{self.stderr}"
        return self


class _Entry:
    """What ``CliRunner.invoke`` calls: the console script's ``main`` (errors → one line + exit code)."""

    name = "mvtimeline"

    def main(self, args, prog_name=None, **extra):
        from mvtimeline.cli import main

        sys.exit(main(list(args)))


def run_cli(*args, env: Mapping[str, str | None] | None = None, check: bool = False) -> CliResult:
    """Run ``mvtimeline ARGS...`` in this process, as the console script does.

    Parameters
    ----------
    *args : str or Path or number
        The command line after ``mvtimeline`` (each turned into a string).
    env : mapping of str to str or None, optional
        Environment variables set for the run (None removes one), e.g. ``{"COLUMNS": "80"}``.
    check : bool
        Fail the test (``AssertionError`` with the stderr) when the command exits non-zero.
    """
    argv = [str(a) for a in args]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        result = CliRunner(capture="fd").invoke(_Entry(), argv, env=dict(env or {}), prog_name="mvtimeline",
                                                catch_exceptions=False)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    out = CliResult(argv, result.exit_code, result.stdout, result.stderr)
    return out.check() if check else out


def run_cli_process(*args, env: Mapping[str, str] | None = None, check: bool = False,
                    timeout_s: float = 600) -> CliResult:
    """Run ``python -m mvtimeline ARGS...`` in a subprocess (a new interpreter, as a user starts it)."""
    argv = [str(a) for a in args]
    proc = subprocess.run([sys.executable, "-m", "mvtimeline", *argv], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout_s)
    out = CliResult(argv, proc.returncode, proc.stdout, proc.stderr)
    return out.check() if check else out
