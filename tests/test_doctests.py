"""The docstring examples of every module in the installed ``sada`` namespace run and pass.

They run from the package (``sada.pipeline.store``, not ``pipeline/store.py`` by path), so
each module is imported once, under the name users import it by.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sada


LAYERS = ("sada.pipeline", "sada.models", "sada.flows", "sada.corpus")


def _modules() -> list[str]:
    names = ["sada", *LAYERS]
    for layer in LAYERS:
        package = importlib.import_module(layer)
        names += [info.name for info in pkgutil.walk_packages(package.__path__, layer + ".")
                  if ".migrations" not in info.name]  # Alembic's scripts run inside a migration only
    return sorted(names)


MODULES = _modules()


def test_every_layer_is_walked():
    # a packaging mistake (a folder not mapped into sada) would silently shrink this list
    for layer in ("sada.pipeline.store", "sada.pipeline.churn.risk", "sada.pipeline.report.build",
                  "sada.models.classifier", "sada.flows.weekly", "sada.corpus.build"):
        assert layer in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module, name) if t.examples]
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed (see above)"
