"""ComfyUI workflows: an API-format graph plus the binding that says where mvtimeline's values go.

A workflow is what ComfyUI's "Export (API)" writes: ``{node_id: {"class_type", "inputs", "_meta":
{"title"}}}``. Its **binding** names, per role, the node input that takes the value:

- roles given per clip: ``image`` (the uploaded keyframe's name), ``audio`` (the uploaded stem's
  name), ``prompt``, ``negative``, ``seed``, ``frames`` (frame count on the model's grid),
  ``width``, ``height``, ``fps`` (the model's own rate); and ``output``, the node(s) whose outputs
  are the clip (default: every node that saves a video or images);
- the model's facts: ``fps`` (native frame rate), ``frames`` (the frame grid, ``"4k+1"``,
  ``"5+17k"``, ``"8k+1"``, ``"k"``), ``max_frames`` (longest clip), ``min_frames``, ``multiple``
  (width and height are multiples of it), ``audio_rate`` (sample rate of the stem it wants),
  ``kind`` (``"video"``, or ``"image"`` for a keyframe workflow).

The binding comes from a TOML file beside the workflow (``FILE.toml``: a ``[model]`` table of the
facts and a ``[bind]`` table of ``role = "SELECTOR.input"`` or a list of them) or from node titles
(``_meta.title`` holding ``mvt:ROLE`` or ``mvt:ROLE.input`` tokens, several per node). A SELECTOR
is a node title or a ``class_type``; it must match exactly one node. Nodes are never found by id:
editing a workflow on the canvas renumbers them.

The frame grid of the model's facts: :class:`mvtimeline.generate.grid.FrameGrid`.

Public: Workflow, Binding, load_workflow, bundled_workflows, ROLES, OUTPUT_CLASSES.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from mvtimeline.templates.bundled import bundled_names, find_file
from mvtimeline.errors import InputError
from ...grid import FrameGrid

__all__ = ["Workflow", "Binding", "load_workflow", "bundled_workflows", "ROLES", "OUTPUT_CLASSES"]

#: Roles a binding can name, and the node input each takes by default (a title ``mvt:ROLE``).
ROLES = {
    "image": ("image",),
    "audio": ("audio",),
    "prompt": ("text", "prompt", "positive_prompt"),
    "negative": ("text", "negative_prompt"),
    "seed": ("seed", "noise_seed"),
    "frames": ("length", "amount", "batch_size", "frames", "num_frames", "video_length"),
    "width": ("width",),
    "height": ("height",),
    "fps": ("fps", "frame_rate"),
    "output": (),
}
#: Node classes whose outputs are files: core savers and VideoHelperSuite's combine.
OUTPUT_CLASSES = ("SaveVideo", "SaveImage", "SaveAnimatedWEBP", "SaveAnimatedPNG", "VHS_VideoCombine",
                  "SaveWEBM")
_MODEL_KEYS = {"fps", "frames", "max_frames", "min_frames", "multiple", "audio_rate", "kind", "description"}
_TITLE_TOKEN = re.compile(r"mvt:([a-z]+)(?:\.([A-Za-z0-9_]+))?")
@dataclass(frozen=True)
class Binding:
    """Where each role's value goes (``role → ((node_id, input), ...)``) and the model's facts."""

    targets: dict[str, tuple[tuple[str, str], ...]]
    outputs: tuple[str, ...]
    fps: Fraction
    grid: FrameGrid
    max_frames: int
    min_frames: int = 1
    multiple: int = 16
    audio_rate: int | None = None
    kind: str = "video"


@dataclass(frozen=True)
class Workflow:
    """A ComfyUI API-format graph with its binding; :meth:`fill` gives the graph of one clip."""

    name: str
    graph: dict[str, Any] = field(repr=False)
    binding: Binding = field(repr=False)
    sha256: str = ""

    @property
    def needs_image(self) -> bool:
        return "image" in self.binding.targets

    @property
    def needs_audio(self) -> bool:
        return "audio" in self.binding.targets

    @property
    def class_types(self) -> tuple[str, ...]:
        """The node classes the graph uses, sorted."""
        return tuple(sorted({n["class_type"] for n in self.graph.values()}))

    def describe(self, node_id: str) -> str:
        node = self.graph[node_id]
        title = (node.get("_meta") or {}).get("title")
        return f"{node['class_type']}" + (f" {title!r}" if title and title != node["class_type"] else "")

    def fill(self, values: dict[str, Any]) -> dict[str, Any]:
        """A copy of the graph with ``values`` (role → value) set on the bound inputs.

        Roles without a value keep the workflow's own; a value for an unbound role is ignored
        (e.g. a still workflow has no ``prompt``).
        """
        graph = copy.deepcopy(self.graph)
        for role, value in values.items():
            for node_id, inp in self.binding.targets.get(role, ()):
                graph[node_id].setdefault("inputs", {})[inp] = value
        return graph


def _nodes(graph: Any, where: str) -> dict[str, Any]:
    if isinstance(graph, dict) and "nodes" in graph and "links" in graph:
        raise InputError(f"{where}: this is ComfyUI's UI format; export the workflow with \"Export (API)\" "
                         "(enable the dev mode options in the settings if the menu lacks it)")
    if not isinstance(graph, dict) or not graph or not all(
            isinstance(n, dict) and isinstance(n.get("class_type"), str) for n in graph.values()):
        raise InputError(f"{where}: not a ComfyUI API-format workflow ({{node_id: {{class_type, inputs}}}})")
    return graph


def _select(graph: dict[str, Any], selector: str, where: str) -> str:
    """The one node whose title (preferred) or class_type is ``selector``."""
    by_title = [k for k, n in graph.items() if (n.get("_meta") or {}).get("title") == selector]
    found = by_title or [k for k, n in graph.items() if n["class_type"] == selector]
    if not found:
        raise InputError(f"{where}: no node titled or of class {selector!r} in the workflow")
    if len(found) > 1:
        raise InputError(f"{where}: {len(found)} nodes match {selector!r} (ids {', '.join(sorted(found))}); "
                         "give one of them a unique title and bind that")
    return found[0]


def _default_input(node: dict[str, Any], role: str, node_desc: str, where: str) -> str:
    inputs = node.get("inputs") or {}
    for name in ROLES[role]:
        if name in inputs:
            return name
    raise InputError(f"{where}: node {node_desc} has none of the inputs {', '.join(ROLES[role])} for "
                     f"{role!r}; name it, e.g. mvt:{role}.INPUT")


def _bind_toml(graph: dict[str, Any], bind: dict[str, Any], where: str) -> dict[str, list[tuple[str, str]]]:
    targets: dict[str, list[tuple[str, str]]] = {}
    for role, spec in bind.items():
        if role not in ROLES:
            raise InputError(f"{where}: unknown role {role!r} in [bind]; known: {', '.join(ROLES)}")
        for item in spec if isinstance(spec, list) else [spec]:
            if not isinstance(item, str):
                raise InputError(f"{where}: [bind] {role} = {item!r}: write \"SELECTOR.input\"")
            if role == "output":
                targets.setdefault(role, []).append((_select(graph, item, f"{where}: [bind] output"), ""))
                continue
            selector, _, inp = item.rpartition(".")
            if not selector:
                selector, inp = item, ""
            node_id = _select(graph, selector, f"{where}: [bind] {role}")
            node = graph[node_id]
            inp = inp or _default_input(node, role, node["class_type"], where)
            if inp not in (node.get("inputs") or {}):
                raise InputError(f"{where}: [bind] {role}: node {selector!r} ({node['class_type']}) has no input {inp!r}")
            targets.setdefault(role, []).append((node_id, inp))
    return targets


def _bind_titles(graph: dict[str, Any], where: str) -> dict[str, list[tuple[str, str]]]:
    targets: dict[str, list[tuple[str, str]]] = {}
    for node_id, node in graph.items():
        title = (node.get("_meta") or {}).get("title") or ""
        for role, inp in _TITLE_TOKEN.findall(title):
            if role not in ROLES:
                raise InputError(f"{where}: node {node['class_type']} {title!r}: unknown role mvt:{role}; "
                                 f"known: {', '.join(ROLES)}")
            if role == "output":
                targets.setdefault(role, []).append((node_id, ""))
                continue
            inp = inp or _default_input(node, role, f"{node['class_type']} {title!r}", where)
            if inp not in (node.get("inputs") or {}):
                raise InputError(f"{where}: node {node['class_type']} {title!r} has no input {inp!r}")
            targets.setdefault(role, []).append((node_id, inp))
    return targets


def _int(model: dict[str, Any], key: str, default: int | None, where: str, minimum: int = 1) -> int | None:
    v = model.get(key, default)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
        raise InputError(f"{where}: [model] {key} = {v!r} must be an integer >= {minimum}")
    return v


def _binding(graph: dict[str, Any], meta: dict[str, Any], where: str) -> Binding:
    unknown = sorted(set(meta) - {"model", "bind"})
    if unknown:
        raise InputError(f"{where}: unknown table {unknown[0]!r}; known: model, bind")
    model = meta.get("model") or {}
    bad = sorted(set(model) - _MODEL_KEYS)
    if bad:
        raise InputError(f"{where}: unknown key {bad[0]!r} in [model]; known: {', '.join(sorted(_MODEL_KEYS))}")
    targets = _bind_toml(graph, meta["bind"], where) if meta.get("bind") else _bind_titles(graph, where)
    outputs = tuple(n for n, _ in targets.pop("output", ()))
    if not outputs:
        outputs = tuple(k for k, n in graph.items() if n["class_type"] in OUTPUT_CLASSES)
    if not outputs:
        raise InputError(f"{where}: no output node (one of {', '.join(OUTPUT_CLASSES)}, or bind mvt:output)")
    try:
        fps = Fraction(str(model.get("fps", 16)))
    except (ValueError, ZeroDivisionError):
        raise InputError(f"{where}: [model] fps = {model.get('fps')!r} is not a frame rate") from None
    if not 0 < fps <= 240:
        raise InputError(f"{where}: [model] fps = {model.get('fps')!r} must be in (0, 240]")
    kind = model.get("kind", "video")
    if kind not in ("video", "image"):
        raise InputError(f"{where}: [model] kind = {kind!r}; known: video, image")
    grid = FrameGrid.parse(model.get("frames", "k"))
    max_frames = _int(model, "max_frames", 1 if kind == "image" else 81, where)
    min_frames = _int(model, "min_frames", 1, where)
    if grid.at_least(min_frames) > max_frames:
        raise InputError(f"{where}: [model] max_frames {max_frames} is below the grid's first count {grid.at_least(min_frames)}")
    return Binding(targets={k: tuple(v) for k, v in targets.items()}, outputs=outputs, fps=fps, grid=grid,
                   max_frames=max_frames, min_frames=min_frames,
                   multiple=_int(model, "multiple", 16, where), audio_rate=_int(model, "audio_rate", None, where, 8000),
                   kind=kind)


def bundled_workflows() -> list[str]:
    """Names of the workflows shipped in ``templates/comfyui`` (``--workflow NAME``)."""
    return bundled_names("comfyui", suffix=".json")


def load_workflow(name_or_path: str | Path) -> Workflow:
    """A bundled workflow by name (``still``, ``still-audio``, ...) or an API-format ``FILE.json``
    with its binding (``FILE.toml`` beside it, else node titles).

    Raises
    ------
    InputError
        Unknown name (the known ones are listed), an unreadable or non-API-format file, a binding
        whose nodes are missing or ambiguous (the message names the node), bad model facts.
    """
    path = find_file("comfyui", name_or_path, suffix=".json")
    where = f"workflow {path.name}"
    try:
        raw = path.read_bytes()
        graph = _nodes(json.loads(raw), where)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{where}: cannot read it ({exc})") from None
    toml_path = path.with_suffix(".toml")
    meta: dict[str, Any] = {}
    meta_raw = b""
    if toml_path.is_file():
        try:
            meta_raw = toml_path.read_bytes()
            meta = tomllib.loads(meta_raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"{toml_path}: cannot read the binding ({exc})") from None
    binding = _binding(graph, meta, where)
    sha = hashlib.sha256(raw + b"\0" + meta_raw).hexdigest()
    return Workflow(name=path.stem, graph=graph, binding=binding, sha256=sha)
