"""Fixtures of the import tests: the song whose chorus repeats, and its work folder."""

from __future__ import annotations

import shutil

import pytest

from support.clips import build_import_base, once_per_run


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A synthesized song (verse, chorus, verse, chorus: the chorus repeats) and its work folder,
    made once for all the test processes of a run."""
    return once_per_run(tmp_path_factory, "import", build_import_base)


@pytest.fixture()
def work(base, tmp_path):
    """A copy of :func:`base`'s work folder of the test's own: (song, folder)."""
    song, folder = base
    copy = tmp_path / "work"
    shutil.copytree(folder, copy)
    return song, copy
