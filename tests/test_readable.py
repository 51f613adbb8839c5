"""Readable units: no function in pipeline/ or models/ runs over 60 lines of code.

A function's length is counted from its ``def`` to its last line, its docstring left out
(documentation is never the reason to split a function). One that must be longer says why in
its docstring, in a line that starts with ``Long:``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MAX_LINES = 60
FOLDERS = ("pipeline", "models")


def code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function without its docstring."""
    lines = node.end_lineno - node.lineno + 1
    doc = node.body[0] if node.body else None
    if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
        lines -= doc.end_lineno - doc.lineno + 1
    return lines


def long_functions(source: str, limit: int = MAX_LINES) -> list[tuple[str, int]]:
    """``(name, lines)`` of each function over ``limit`` lines of code whose docstring gives no ``Long:`` reason."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and code_lines(node) > limit:
            reason = any(line.strip().startswith("Long:") for line in (ast.get_docstring(node) or "").splitlines())
            if not reason:
                found.append((node.name, code_lines(node)))
    return found


def _function(body_lines: int, doc: str = "Doc.") -> str:
    return f'def f():\n    """{doc}"""\n' + "    x = 1\n" * body_lines


@pytest.mark.parametrize("source, expected", [
    (_function(MAX_LINES - 1), []),                                   # def line + 59 lines: at the limit
    (_function(MAX_LINES), [("f", MAX_LINES + 1)]),                   # one line over
    (_function(MAX_LINES, "Doc.\n\n    Long: one table."), []),        # a reason in the docstring
    (_function(MAX_LINES - 1, "Doc.\n" + "\n" * 200), []),             # a long docstring is not code
])
def test_long_functions_rule(source: str, expected: list[tuple[str, int]]) -> None:
    assert long_functions(source) == expected


def test_no_function_in_pipeline_or_models_is_over_60_lines() -> None:
    found = {f"{path.relative_to(REPO)}:{name}": n for folder in FOLDERS
             for path in sorted((REPO / folder).glob("**/*.py")) if "migrations" not in path.parts
             for name, n in long_functions(path.read_text(encoding="utf-8"))}
    assert found == {}
