"""Sada: listen to customers who write in Arabic and Persian.

The public API. Everything else lives in the layers below and may change:

* :mod:`sada.cli`: the ``sada`` command line; :mod:`sada.api`: functions that join layers;
* :mod:`sada.flows`: the Prefect flows and deployments;
* :mod:`sada.models`: the encoder, the heads, training and evaluation;
* :mod:`sada.corpus`: the sample corpus, its taxonomy and the simulator;
* :mod:`sada.pipeline`: ingest -> language -> normalise -> classify -> store,
  the churn model (:mod:`sada.pipeline.churn`), the report (:mod:`sada.pipeline.report`).

Each layer imports only the layers listed below it.

Names are imported on first use, so ``import sada`` stays light (no torch, no Prefect).

Example:
    >>> import sada
    >>> [row["language"] for row in sada.analyze_texts(["الخدمة ممتازة", "ارسال دیر بود"], classify=False)]
    ['ar', 'fa']
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = [
    "Classifier", "RunSummary", "SadaError", "Settings", "Store", "analyze", "analyze_texts", "build_report",
    "load_classifier", "load_settings", "__version__",
]

try:
    __version__ = version("sada")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

#: public name -> the module that defines it
_EXPORTS = {
    "Classifier": "sada.models.classifier",
    "RunSummary": "sada.pipeline.analyze",
    "SadaError": "sada.pipeline.errors",
    "Settings": "sada.pipeline.config",
    "Store": "sada.pipeline.store",
    "analyze": "sada.pipeline.analyze",
    "analyze_texts": "sada.api",
    "build_report": "sada.pipeline.report",
    "load_classifier": "sada.models.classifier",
    "load_settings": "sada.pipeline.config",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'sada' has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
