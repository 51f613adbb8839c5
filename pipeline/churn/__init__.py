"""Churn: who is about to leave, and why, from customer records and what they wrote.

Modules, in the order the work flows:

* :mod:`~sada.pipeline.churn.customers`: reading and validating customer records (CSV, Excel, Parquet);
* :mod:`~sada.pipeline.churn.features`: point-in-time features per customer from feedback and records;
* :mod:`~sada.pipeline.churn.model`: the calibrated, explainable logistic model;
* :mod:`~sada.pipeline.churn.evaluation`: held-out metrics, calibration, baselines, the CRM comparison;
* :mod:`~sada.pipeline.churn.segments`: risk bands and playbook segments;
* :mod:`~sada.pipeline.churn.reasons`: each customer's top reasons, as data and in words;
* :mod:`~sada.pipeline.churn.drivers`: which themes go with churn (risk ratios), NPS tables;
* :mod:`~sada.pipeline.churn.report`: :class:`ChurnReport`, what a run produced, and how it is stored;
* :mod:`~sada.pipeline.churn.risk`: :func:`score_churn`, the whole step.
"""

from __future__ import annotations

from sada.pipeline.churn.evaluation import classification_metrics, evaluate_split, reliability_table
from sada.pipeline.churn.model import ChurnModel
from sada.pipeline.churn.reasons import reason_text, reason_texts
from sada.pipeline.churn.report import MODEL_VERSION, ChurnReport
from sada.pipeline.churn.risk import score_churn
from sada.pipeline.churn.segments import BAND_EDGES, assign_bands, assign_segments

__all__ = [
    "BAND_EDGES", "MODEL_VERSION", "ChurnModel", "ChurnReport", "assign_bands", "assign_segments",
    "classification_metrics", "evaluate_split", "reason_text", "reason_texts", "reliability_table", "score_churn",
]
