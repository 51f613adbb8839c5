"""Why a customer is at risk, in plain words: the features that raise their score most.

Each reason is data first, ``{"key": "why_*", "params": {...}}`` (:func:`reason_of`), so the
report can write it in every language (:mod:`sada.pipeline.report.reasons`), plus its English
sentence (:func:`reason_text`) for the command line and the stored ``text``.

Example:
    >>> reason_of("recency_days", {"recency_days": 120.0}, {}, {}, 60)
    {'key': 'why_recency', 'params': {'days': 120}}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.churn.features import FeatureSet
from sada.pipeline.churn.model import ChurnModel
from sada.pipeline.nps import is_detractor
from sada.pipeline.report.i18n import Translator
from sada.pipeline.report.reasons import reason_words

__all__ = ["reason_of", "reason_text", "reason_texts"]

#: Features whose reason is about NPS, about the sentiment of the feedback, and about complaint counts.
_NPS_FEATURES = ("nps_change", "nps_latest_centered", "nps_detractor", "nps_promoter", "has_nps")
_SENTIMENT_FEATURES = ("n_negative", "any_negative", "sentiment_mean", "sentiment_trend")
_COMPLAINT_FEATURES = ("n_complaints", "complaints_recent")


#: English, the language of the stored sentence and the command line.
_ENGLISH = Translator("en")


def reason_text(key: str, params: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """The English sentence of a reason (``names``: theme id -> English theme name).

    The wording is the report's (:func:`sada.pipeline.report.reasons.reason_words`), so a reason reads
    the same on the command line and on every page; theme names are lower-cased mid-sentence.

    Example:
        >>> reason_text("why_theme_recent", {"theme": "billing", "complaints": 2, "days": 60},
        ...             {"billing": "Billing and payments"})
        '2 complaints about billing and payments in 60 days'
        >>> reason_text("why_orders", {"rate": 0.4}), reason_text("why_category", {"feature": "plan", "value": "x"})
        ('low activity: 0.4 orders a month', 'plan: x')
    """
    lowered = {theme: name.lower() for theme, name in (names or {}).items()}
    return reason_words(key, params, _ENGLISH, lowered) or key


def _said(key: str, **params: Any) -> dict[str, Any]:
    return {"key": key, "params": params}


def _theme_reason(theme: str, row: dict[str, Any], recent_days: int) -> dict[str, Any]:
    recent, total = row.get(f"ev_recent_{theme}", 0), row.get(f"ev_total_{theme}", 0)
    if recent:
        return _said("why_theme_recent", theme=theme, complaints=int(recent), days=recent_days)
    last = row.get(f"ev_last_{theme}")
    if pd.notna(last):
        return _said("why_theme_last", theme=theme, complaints=int(total), date=str(pd.Timestamp(last).date()))
    return _said("why_theme", theme=theme, complaints=int(total))


def _nps_reason(row: dict[str, Any]) -> dict[str, Any]:
    first, latest = row.get("nps_first"), row.get("nps_latest")
    if pd.notna(first) and pd.notna(latest) and latest < first:
        return _said("why_nps_fell", first=int(first), latest=int(latest))
    if pd.notna(latest):
        return _said("why_nps_detractor" if is_detractor(latest) else "why_nps", score=int(latest))
    return _said("why_nps_never")


def _value_reason(feature: str, x: dict[str, Any], medians: dict[str, float]) -> dict[str, Any]:
    """A customer-file attribute: its category, its value against the median, or that it is missing."""
    value = x.get(feature)
    if isinstance(value, str):
        return _said("why_category", feature=feature, value=value)
    if value is not None and pd.notna(value):
        med = medians.get(feature)
        side = "" if med is None or pd.isna(med) else ("_high" if value > med else "_low" if value < med else "")
        return _said("why_value" + side, feature=feature, value=float(value))
    return _said("why_missing", feature=feature)


def reason_of(feature: str, row: dict[str, Any], x: dict[str, Any], medians: dict[str, float],
              recent_days: int) -> dict[str, Any]:
    """One reason, as data: ``{"key": "why_*", "params": {...}}``, for a feature that raises this customer's risk.

    Args:
        feature: The model feature.
        row: The customer's :attr:`FeatureSet.info` row (evidence counts, NPS, tenure, recency).
        x: The customer's feature values.
        medians: Feature -> median over customers (for "high" / "low").
        recent_days: The window of "recent" complaints.
    """
    if feature.startswith("complaint_"):
        return _theme_reason(feature.removeprefix("complaint_"), row, recent_days)
    if feature in _NPS_FEATURES:
        return _nps_reason(row)
    if feature in _SENTIMENT_FEATURES:
        neg = row.get("n_negative", 0)
        if feature == "sentiment_trend" and row.get("last_sentiment", 0) < 0:
            return _said("why_turned_negative")
        return _said("why_negative_comments", comments=int(neg)) if neg else _said("why_no_positive")
    if feature in _COMPLAINT_FEATURES:
        rec = row.get("complaints_recent", 0)
        return (_said("why_complaints_recent", complaints=int(rec), days=recent_days) if rec
                else _said("why_complaints", complaints=int(row.get("n_complaints", 0))))
    if feature == "unanswered_complaints":
        return _said("why_unanswered", complaints=int(row.get("unanswered_complaints", 0)))
    if feature in ("any_positive", "n_positive"):
        return _said("why_no_positive")
    if feature == "n_feedback":
        return _said("why_feedback_items", items=int(row.get("n_feedback", 0)))
    if feature == "tenure_months":
        months = int(round(row.get("tenure_months", 0)))
        return _said("why_tenure_short" if row.get("tenure_months", 99) < 24 else "why_tenure", months=months)
    if feature == "recency_days":
        return _said("why_recency", days=int(round(row.get("recency_days", 0))))
    if feature == "orders_per_month":
        return _said("why_orders", rate=round(float(row.get("orders_per_month", 0)), 1))
    return _value_reason(feature, x, medians)


def reason_texts(model: ChurnModel, fs: FeatureSet, names: dict[str, str] | None = None, top: int = 3,
                 min_contribution: float = 0.05, recent_days: int = 60) -> list[list[dict[str, Any]]]:
    """Top reasons per customer: the features that raise the risk most, in plain words.

    Returns:
        Per customer (in ``fs.X`` order) a list of ``{"text", "key", "params", "feature", "contribution"}``
        dicts, strongest first: ``key`` and ``params`` say the reason as data (the report writes it in
        every language from them), ``text`` in English; contributions are calibrated log-odds versus
        the average customer.
    """
    names = names or {}
    contrib = model.contributions(fs.X[model.columns])
    medians = {c: float(pd.to_numeric(fs.X[c], errors="coerce").median())
               for c in fs.X.columns if fs.kinds.get(c) != "categorical"}
    out: list[list[dict[str, Any]]] = []
    values = contrib.to_numpy()
    cols = list(contrib.columns)
    info_rows = fs.info.to_dict("index")
    x_rows = fs.X.to_dict("index")
    for i, cid in enumerate(fs.X.index):
        order = np.argsort(-values[i], kind="stable")[:top * 2]
        reasons, seen = [], set()
        for j in order:
            if values[i, j] < min_contribution or len(reasons) >= top:
                break
            said = reason_of(cols[j], info_rows[cid], x_rows[cid], medians, recent_days)
            text = reason_text(said["key"], said["params"], names)
            if text in seen:
                continue
            seen.add(text)
            reasons.append({"text": text, **said, "feature": cols[j], "contribution": round(float(values[i, j]), 3)})
        out.append(reasons)
    return out


