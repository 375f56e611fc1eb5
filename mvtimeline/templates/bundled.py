"""Settings files that ship inside the package, or the user's own: a name or a ``.toml`` path.

Styles (``templates/styles``), render presets (``templates/render``) and ComfyUI workflow bindings
(``templates/comfyui``) are TOML files in :mod:`mvtimeline`'s package data, read through
:mod:`importlib.resources` so an installed wheel has them too. A user names a bundled one
(``anime``) or gives the path of their own (``my-style.toml``); either way an unknown key is an
error that names it and lists the known ones.

Public: bundled_names, find_file, load_toml_file, BUNDLE_KINDS.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import InputError

__all__ = ["bundled_names", "find_file", "load_toml_file", "BUNDLE_KINDS"]

#: kind → folder under ``mvtimeline/templates`` and how a message calls it.
BUNDLE_KINDS = {"styles": "style", "render": "render preset", "comfyui": "ComfyUI workflow"}


def _folder(kind: str):
    if kind not in BUNDLE_KINDS:
        raise ValueError(f"unknown kind of bundled file {kind!r}; known: {', '.join(BUNDLE_KINDS)}")
    return resources.files("mvtimeline") / "templates" / kind


def bundled_names(kind: str, *, suffix: str = ".toml") -> list[str]:
    """Names of the bundled files of ``kind`` (``"styles"``, ``"render"``, ``"comfyui"``).

    Examples
    --------
    >>> "anime" in bundled_names("styles")
    True
    """
    folder = _folder(kind)
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(suffix)] for p in folder.iterdir() if p.name.endswith(suffix))


def find_file(kind: str, name_or_path: str | Path, *, suffix: str = ".toml") -> Path:
    """The file a user means: an existing ``*suffix`` path, else the bundled file of that name.

    Raises
    ------
    InputError
        Neither exists; the message lists the bundled names.
    """
    p = Path(name_or_path)
    if p.suffix == suffix and p.is_file():
        return p
    candidate = _folder(kind) / f"{name_or_path}{suffix}"
    if str(name_or_path) and "/" not in str(name_or_path) and candidate.is_file():
        return Path(str(candidate))
    what = BUNDLE_KINDS[kind]
    if p.suffix == suffix:
        raise InputError(f"{p}: no such {what} file")
    raise InputError(f"unknown {what} {str(name_or_path)!r}; known: {', '.join(bundled_names(kind, suffix=suffix))}")


def load_toml_file(kind: str, name_or_path: str | Path, *, keys: Collection[str]) -> tuple[Path, dict[str, Any]]:
    """Read a bundled TOML file by name, or the user's by path, and check its top-level keys.

    Parameters
    ----------
    kind : {"styles", "render", "comfyui"}
        Which bundle to look in.
    name_or_path : str or Path
        A bundled name (``"anime"``) or a path ending in ``.toml``.
    keys : collection of str
        The keys the file may have.

    Returns
    -------
    (Path, dict)
        The file and its contents.

    Raises
    ------
    InputError
        Unknown name (the bundled ones are listed), unreadable or invalid TOML, or an unknown key
        (named, with the known ones).
    """
    path = find_file(kind, name_or_path)
    what = BUNDLE_KINDS[kind]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: not a valid {what} file ({exc})") from None
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise InputError(f"{path}: unknown key {unknown[0]!r}; known: {', '.join(sorted(keys))}")
    return path, data
