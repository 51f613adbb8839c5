"""Sada's sample corpus: hand-written feedback, simulated customers and the simulator's truth.

The corpus is research data. :func:`sample_dir` is the one place that says where it is, and only the
commands about it ask: ``sada run`` with no input (the demo), ``sada reproduce``, ``sada corpus``,
``sada train --corpus``, ``python -m sada.pipeline.language --corpus-dir`` and the tests and benchmarks.
They hand the folder to :mod:`sada.pipeline.corpus`'s loaders, which have no default.

Example:
    >>> from sada.corpus import sample_dir
    >>> (sample_dir() / "feedback.csv").name
    'feedback.csv'
"""

from __future__ import annotations

from pathlib import Path

from sada.pipeline.config import load_settings

__all__ = ["sample_dir"]


def sample_dir() -> Path:
    """The sample corpus folder: ``SADA_CORPUS_DIR`` if set, else the copy installed with this package.

    Returns:
        The folder as a :class:`~pathlib.Path` (not checked for existence; the loaders say what is missing).
    """
    return load_settings().corpus_dir or Path(__file__).resolve().parent
