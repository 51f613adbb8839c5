"""Churn: who is about to leave, and why, from customer records and what they wrote.

Modules, in the order the work flows:

* :mod:`~sada.pipeline.churn.customers`: reading and validating customer records (CSV, Excel, Parquet);
* :mod:`~sada.pipeline.churn.features`: point-in-time features per customer from feedback and records;
* :mod:`~sada.pipeline.churn.risk`: the calibrated, explainable risk model, bands, segments, reasons
  and :func:`score_churn`, the whole step;
* :mod:`~sada.pipeline.churn.drivers`: which themes go with churn (risk ratios), NPS tables.
"""

from __future__ import annotations

from sada.pipeline.churn.risk import (
    BAND_EDGES,
    MODEL_VERSION,
    ChurnModel,
    ChurnReport,
    assign_bands,
    assign_segments,
    classification_metrics,
    evaluate_split,
    reason_text,
    reason_texts,
    reliability_table,
    score_churn,
)

__all__ = [
    "BAND_EDGES", "MODEL_VERSION", "ChurnModel", "ChurnReport", "assign_bands", "assign_segments",
    "classification_metrics", "evaluate_split", "reason_text", "reason_texts", "reliability_table", "score_churn",
]
