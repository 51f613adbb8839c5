"""The import graph of the ``sada`` namespace: no cycles, and every import points down a layer.

Imports are read from the source (every ``import`` statement, those inside
functions too), with the folder -> package mapping taken from pyproject.toml,
so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: Layer of each package, highest first; a module may import its own package or lower layers only.
LAYERS = {"sada": 4, "sada.flows": 3, "sada.models": 2, "sada.corpus": 2, "sada.pipeline": 1}
#: The modules of the top layer that may import anything below them: the entry points and the
#: command line's progress display.
TOP = {"sada.api", "sada.cli", "sada.progress"}


def _modules() -> dict[str, Path]:
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    modules = {}
    for package, folder in mapping.items():
        for path in (REPO / folder).glob("**/*.py"):
            rel = path.relative_to(REPO / folder).with_suffix("")
            if rel.parts[0] == "migrations":  # Alembic's scripts, loaded by path during a migration
                continue
            parts = [p for p in rel.parts if p != "__init__"]
            modules[".".join([package, *parts])] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    graph = defaultdict(set)
    for module, path in MODULES.items():
        for name in _imports(path):
            if name.split(".")[0] in {"pipeline", "models", "flows", "corpus"}:
                pytest.fail(f"{module} imports {name!r}: use the installed name sada.{name}")
            target = _resolve(name) if name.startswith("sada") else None
            if target and target != module:
                graph[module].add(target)
    return graph


def _package(module: str) -> str:
    """``sada.pipeline.store`` -> ``sada.pipeline``; ``sada`` and the :data:`TOP` modules -> ``sada``."""
    return "sada" if module == "sada" or module in TOP else ".".join(module.split(".")[:2])


def test_the_map_covers_every_layer():
    packages = {_package(m) for m in MODULES}
    assert packages == set(LAYERS), packages
    assert len(MODULES) > 50


def test_imports_point_down_the_layers():
    upward = [(a, b) for a, targets in _graph().items() for b in targets
              if _package(a) != _package(b) and LAYERS[_package(b)] >= LAYERS[_package(a)]]
    assert not upward, "imports that point up or sideways: " + ", ".join(f"{a} -> {b}" for a, b in sorted(upward))


def test_the_pipeline_never_imports_models_or_flows():
    # the pipeline is handed a classifier (sada.pipeline.classify.Classifier), it never loads one
    offenders = sorted((a, b) for a, targets in _graph().items() if a.startswith("sada.pipeline.")
                       for b in targets if not b.startswith("sada.pipeline"))
    assert not offenders


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target):] + [target] if target in path else [node, target])
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [module])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("source, expected", [
    ("from sada.pipeline.store import Store", {"sada.pipeline.store.Store"}),
    ("def f():\n    from sada.models import classifier", {"sada.models.classifier"}),  # lazy imports count
    ("import sada.flows.weekly as w", {"sada.flows.weekly"}),
    ("from . import x", set()),  # relative: not used in this project
])
def test_import_reader(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source, encoding="utf-8")
    assert _imports(path) == expected
