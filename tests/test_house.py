"""The house rules, read off the source with the standard library's ``ast``: no import cycle between
mvtimeline's modules, no module taking another's ``_private`` name, no print or rich in library
code, no code comment pointing outside the repository."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import mvtimeline

PACKAGE = Path(mvtimeline.__file__).resolve().parent
REPO = PACKAGE.parent


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    """Line numbers inside ``if TYPE_CHECKING:`` blocks (imports there never run)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """``(module imported, names taken from it, line)`` for every import that runs (at module level
    or in a function), relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_blocks(tree)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [alias.name for alias in node.names], node.lineno))
    return out


def graph() -> dict[str, set[str]]:
    """Module → the mvtimeline modules it imports (``from pkg import submodule`` counts the submodule)."""
    edges: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for target, names, _ in imports_of(name, path):
            if not target.startswith("mvtimeline"):
                continue
            for n in names:
                if f"{target}.{n}" in MODULES:
                    edges[name].add(f"{target}.{n}")
            if target in MODULES and (not names or any(f"{target}.{n}" not in MODULES for n in names)):
                edges[name].add(target)
        edges[name].discard(name)
    return edges


def test_no_module_imports_a_private_name_of_another():
    bad = []
    for name, path in MODULES.items():
        for target, names, line in imports_of(name, path):
            if target.startswith("mvtimeline") and target != name:
                bad += [f"{path.relative_to(REPO)}:{line} takes {n} from {target}" for n in names
                        if n.startswith("_") and not n.startswith("__")]
    assert not bad, "\n".join(bad)


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append(" → ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(cycles)


def test_library_code_never_prints_or_imports_rich():
    bad = []
    for name, path in MODULES.items():
        if name in ("mvtimeline.cli", "mvtimeline.__main__"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                bad.append(f"{path.relative_to(REPO)}:{node.lineno} calls print")
        bad += [f"{path.relative_to(REPO)}:{line} imports rich" for target, _, line in imports_of(name, path)
                if target == "rich" or target.startswith("rich.")]
    assert not bad, "\n".join(bad)


def test_code_does_not_point_at_files_outside_the_repository():
    outside = re.compile(r"/work/|\.\./shared|/shared/")
    bad = [f"{path.relative_to(REPO)}:{k}" for path in MODULES.values()
           for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if outside.search(line)]
    assert not bad, "\n".join(bad)


def _numpy_doc_problems(fn, where: str) -> list[str]:
    import inspect

    doc = inspect.getdoc(fn) or ""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters if p not in ("self", "cls")]
    out = []
    if params and "Parameters\n----------" not in doc:
        out.append(f"{where}: no Parameters section")
    if sig.return_annotation not in (None, "None", inspect.Signature.empty) and "Returns\n-------" not in doc:
        out.append(f"{where}: no Returns section")
    return out


def test_the_work_folder_api_and_the_pipeline_have_numpy_docstrings():
    import inspect

    from mvtimeline import pipeline, types, workfolder
    from mvtimeline.timeline import export

    bad = []
    for name in pipeline.__all__:
        obj = getattr(pipeline, name)
        if inspect.isfunction(obj):
            bad += _numpy_doc_problems(obj, f"pipeline.{name}")
    for name, member in inspect.getmembers(workfolder.WorkFolder):
        if not name.startswith("_") and (inspect.isfunction(member) or inspect.ismethod(member)):
            bad += _numpy_doc_problems(member, f"WorkFolder.{name}")
    bad += _numpy_doc_problems(export.write, "export.write")
    for cls in (types.Analysis, types.Lyrics, types.Plan):
        bad += _numpy_doc_problems(cls.save, f"{cls.__name__}.save") + _numpy_doc_problems(cls.load, f"{cls.__name__}.load")
    assert not bad, "\n".join(bad)


def test_only_the_executors_import_ray():
    """Ray is how clips (and a batch's songs) run on many machines: that lives in generate/executors/."""
    bad = [f"{name}:{line}" for name, path in MODULES.items()
           if not name.startswith("mvtimeline.generate.executors")
           for target, _, line in imports_of(name, path) if target == "ray" or target.startswith("ray.")]
    assert not bad, bad


def _getattr_probes(tree: ast.AST) -> list[int]:
    """Lines of ``getattr(backend, ...)`` / ``getattr(x.backend, ...)`` / ``hasattr(...)`` on a backend."""
    out = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                and node.args):
            target = node.args[0]
            name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
            if re.search(r"(^|_)backend$", name.lower()):
                out.append(node.lineno)
    return out


def test_nothing_probes_a_backend_for_what_it_can_do():
    """The Backend protocol declares every optional capability with a default: no one asks with getattr."""
    bad = [f"{name}:{line}" for name, path in MODULES.items()
           for line in _getattr_probes(ast.parse(path.read_text(encoding="utf-8")))]
    assert not bad, bad


def test_the_root_holds_only_what_every_stage_shares():
    """DESIGN's layout: the root has the CLI, the chaining (pipeline, batch), the work folder, settings,
    doctor and the shared ground; everything else lives in a stage's folder."""
    root = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    assert len(root) <= 12, root


def test_every_module_says_what_it_is_for():
    """Every module (and package) opens with a docstring."""
    bad = [name for name, path in MODULES.items()
           if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))]
    assert not bad, bad
