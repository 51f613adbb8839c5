"""The installed product stays apart from research: it never reaches for the checkout on its own.

Nothing installed reads the sample corpus, ``../shared``, ``benchmarks/`` or the source
checkout unless a command hands it the path. The rules are read from the source of every
installed module (the folders pyproject.toml maps into the ``sada`` namespace), so a lazy
import or a path built inside a function cannot hide:

* a path that leaves the package (``Path(__file__).parent.parent``) or names the checkout
  (``SOURCE_ROOT``);
* a path segment naming research data (``"shared"``, ``"benchmarks"``, ``"../shared/..."``)
  outside help texts and docstrings;
* the sample corpus (``sada.corpus``, by import or by name) outside the commands that are
  about it: the command line (the demo, ``sada corpus``, ``sada reproduce``), ``sada reproduce``'s
  flow and the corpus package itself.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

#: Modules allowed to name the sample corpus: the commands about it, and the corpus itself.
CORPUS_USERS = {"sada.cli", "sada.flows.reproduce"}
#: Folders of research data beside the package, as path segments and as the start of a path.
RESEARCH_FOLDERS = {"shared", "benchmarks"}
RESEARCH_PATH = re.compile(r"^(?:\.\./)*(?:shared|benchmarks)/")


def _installed_modules() -> dict[str, Path]:
    mapping = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["package-dir"]
    modules = {}
    for package, folder in mapping.items():
        for path in sorted((REPO / folder).glob("**/*.py")):
            rel = path.relative_to(REPO / folder).with_suffix("")
            modules[".".join([package, *(p for p in rel.parts if p != "__init__")])] = path
    return modules


MODULES = _installed_modules()


def _docstrings_and_help(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings or ``help=``/``description=`` texts (prose, not paths)."""
    prose = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                prose.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg in {"help", "description", "epilog"}:
            prose.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
    return prose


def _leaves_package(node: ast.AST) -> bool:
    """``Path(__file__)...parent.parent``: two or more ``.parent`` steps over ``__file__``."""
    steps, cur = 0, node
    while isinstance(cur, ast.Attribute) and cur.attr == "parent":
        steps, cur = steps + 1, cur.value
    names = {n.id for n in ast.walk(cur) if isinstance(n, ast.Name)}
    return steps >= 2 and "__file__" in names


def _constant(node: ast.AST) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def problems(module: str, source: str) -> list[str]:
    """What in one module's source reaches for the checkout, research data or the sample corpus."""
    tree = ast.parse(source)
    prose = _docstrings_and_help(tree)
    found = []
    corpus_allowed = module in CORPUS_USERS or module.startswith("sada.corpus")
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Name) and node.id == "SOURCE_ROOT":
            found.append(f"{module}:{line} names SOURCE_ROOT (the checkout)")
        elif isinstance(node, ast.Attribute) and _leaves_package(node):
            found.append(f"{module}:{line} builds a path above its package from __file__")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose \
                and RESEARCH_PATH.match(node.value):
            found.append(f"{module}:{line} path {node.value!r} names research data")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _constant(node.right) in RESEARCH_FOLDERS:
            found.append(f"{module}:{line} joins the path segment {_constant(node.right)!r} (research data)")
        elif isinstance(node, ast.Call) and not corpus_allowed and "sada.corpus" in map(_constant, node.args):
            found.append(f"{module}:{line} opens the sample corpus package by name")
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not corpus_allowed:
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom) and node.module == "sada":
                names = [f"sada.{a.name}" for a in node.names]
            if any(n == "sada.corpus" or n.startswith("sada.corpus.") for n in names):
                found.append(f"{module}:{line} imports the sample corpus")
    return found


# Each rule fires on the kind of code it is meant to catch (so the walk below can fail).
@pytest.mark.parametrize("module, source", [
    ("sada.models.data", "from sada.pipeline.config import SOURCE_ROOT\nx = SOURCE_ROOT / 'a'\n"),
    # a path two folders above the module: the checkout's root
    ("sada.models.data", "from pathlib import Path\nROOT = Path(__file__).resolve().parent.parent\n"),
    # research data named as a path segment, however it is joined
    ("sada.models.data", "def f(root):\n    return root / 'benchmarks' / 'data'\n"),
    ("sada.models.data", "P = '../shared/datasets'\n"),
    # the sample corpus reached from the product: by import, lazily, or by package name
    ("sada.flows.weekly", "def f():\n    from sada.corpus import simulate\n"),
    ("sada.pipeline.corpus", "from importlib.resources import files\nD = files('sada.corpus')\n"),
])
def test_each_rule_catches_its_case(module: str, source: str) -> None:
    assert problems(module, source)


# What stays allowed: the package's own data folders, prose, and the corpus commands.
@pytest.mark.parametrize("module, source", [
    ("sada.pipeline.taxonomy", "from pathlib import Path\nD = Path(__file__).resolve().parent / 'taxonomies'\n"),
    ("sada.cli", "import click\n@click.option('--datasets', help='e.g. ../shared/datasets')\ndef f(): pass\n"),
    ("sada.models.data", "def f():\n    '''Reads ../shared/datasets when handed it.'''\n"),
    ("sada.cli", "from sada.corpus import simulate\n"),
    ("sada.flows.reproduce", "D = 'sada.corpus'\n"),
])
def test_allowed_code_passes(module: str, source: str) -> None:
    assert problems(module, source) == []


def test_installed_modules_never_reach_for_the_checkout_or_research_data() -> None:
    found = [p for module, path in MODULES.items() for p in problems(module, path.read_text(encoding="utf-8"))]
    assert found == []
