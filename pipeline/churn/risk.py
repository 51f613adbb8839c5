"""Churn risk: an explainable, calibrated model, risk bands, segments and reasons in plain words.

The entry point for the Prefect flow and the report is :func:`score_churn`::

    from sada.pipeline.churn import score_churn
    from sada.pipeline.store import Store

    report = score_churn(Store.open("sqlite:///sada.sqlite"))          # the customers already in the store
    report = score_churn(store, customers_path="telco_churn.csv")       # any CSV/Parquet customer file
    report.metrics["auc"], report.scores.head(), report.drivers, report.nps["overall"]

It reads and validates the customers (:mod:`sada.pipeline.churn.customers`), stores them,
joins them to the analysed feedback in the store (the newest analysis per item;
:func:`sada.pipeline.churn.features.feedback_input_label` says which), builds
point-in-time features as of the as-of date (:mod:`sada.pipeline.churn.features`),
measures the model on a seeded stratified held-out split (AUC, PR-AUC,
top-decile lift, Brier, reliability; baselines on recency-frequency only and on
NPS only; the simulator's oracle AUC when the customers are the sample corpus's;
the team's own CRM scores when the file has them), refits on every labelled
customer, scores everyone, writes ``churn_scores`` and returns a
:class:`ChurnReport` with the driver analysis (:mod:`sada.pipeline.churn.drivers`) and NPS tables.

**Model.** Logistic regression (scikit-learn, L2) on standardised features,
with ``log1p`` copies of skewed non-negative numbers and one-hot categories,
then Platt scaling fitted on out-of-fold decision values (5 folds), so the score
is a calibrated probability and still a linear function of the features:
each feature's contribution is ``slope * coef * (x - mean)`` in log-odds (exact
Shapley values of a linear model), and the top positive contributions become the
customer's reasons ("3 complaints about billing and payments in 60 days", "NPS
fell from 9 to 3").

**Bands** by calibrated probability: ``low`` < 0.15 <= ``medium`` < 0.35 <= ``high``.
**Segments** (relationship-marketing playbook), first match wins: ``churned``
(churned by the as-of date, or no activity for more than 90 days), ``at risk``
(band high), ``new`` (tenure under 3 months), ``loyal``.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"complaint_billing": rng.integers(0, 2, 400).astype(float),
    ...                   "tenure_months": rng.uniform(1, 60, 400)})
    >>> y = (rng.random(400) < 0.1 + 0.5 * X["complaint_billing"]).astype(int)
    >>> model = ChurnModel().fit(X, y, {"complaint_billing": "binary", "tenure_months": "numeric"})
    >>> p = model.predict_proba(X)
    >>> bool(abs(p.mean() - y.mean()) < 0.02), classification_metrics(y, p)["auc"] > 0.7
    (True, True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.churn.features import FeatureConfig, FeatureSet, build_features, feedback_input_label
from sada.pipeline.errors import InputError

__all__ = [
    "MODEL_VERSION",
    "BAND_EDGES",
    "ChurnModel",
    "ChurnReport",
    "classification_metrics",
    "reliability_table",
    "assign_bands",
    "assign_segments",
    "reason_text",
    "reason_texts",
    "evaluate_split",
    "score_churn",
]

logger = logging.getLogger(__name__)

MODEL_VERSION = "churn-logit-1"
#: Upper edges of the ``low`` and ``medium`` bands (calibrated probability).
BAND_EDGES = (0.15, 0.35)
LAPSE_DAYS = 90
NEW_MONTHS = 3.0


# ---------------------------------------------------------------------------------- model

class _Design:
    """Turns a feature frame into a standardised numeric matrix; remembers which column came from which feature."""

    def fit(self, X: pd.DataFrame, kinds: dict[str, str]) -> _Design:
        self.specs: list[tuple[str, str, Any]] = []  # (feature, kind of column, parameter)
        for col in X.columns:
            kind = kinds.get(col, "numeric")
            if kind == "categorical":
                vc = X[col].astype(object).where(X[col].notna(), "(missing)").value_counts()
                for level in vc.index[vc >= max(5, 0.005 * len(X))]:
                    self.specs.append((col, "level", level))
                continue
            v = pd.to_numeric(X[col], errors="coerce")
            if v.nunique(dropna=True) < 2:
                continue
            self.specs.append((col, "value", float(v.median())))
            if kind == "numeric" and v.min() >= 0 and v.nunique() > 10:
                self.specs.append((col, "log1p", float(v.median())))
        raw = self._raw(X)
        self.mean = raw.mean(axis=0)
        self.std = raw.std(axis=0)
        self.std[self.std == 0] = 1.0
        return self

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        cols = []
        for feat, kind, par in self.specs:
            if kind == "level":
                cols.append((X[feat].astype(object).where(X[feat].notna(), "(missing)") == par).to_numpy(float))
            else:
                v = pd.to_numeric(X[feat], errors="coerce").fillna(par).to_numpy(float)
                cols.append(np.log1p(np.clip(v, 0, None)) if kind == "log1p" else v)
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return (self._raw(X) - self.mean) / self.std

    @property
    def features(self) -> list[str]:
        return [f for f, _, _ in self.specs]


class ChurnModel:
    """Logistic regression with Platt calibration on out-of-fold scores; linear, so explainable.

    Args:
        C: Inverse L2 strength of the logistic regression.
        folds: Folds for the out-of-fold calibration scores.
        seed: Seed of the fold split.
        features: Use only these features (``None``: all).
    """

    def __init__(self, C: float = 0.5, folds: int = 5, seed: int = 0, features: list[str] | None = None) -> None:
        self.C, self.folds, self.seed, self.only = C, folds, seed, features

    def _lr(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, solver="newton-cholesky", max_iter=200)

    def fit(self, X: pd.DataFrame, y: Any, kinds: dict[str, str]) -> ChurnModel:
        """Fit on features ``X`` and 0/1 labels ``y``; ``kinds`` maps features to numeric/binary/categorical."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):  # small problems: BLAS threads only contend (and are slower)
            return self._fit(X, y, kinds)

    def _fit(self, X: pd.DataFrame, y: Any, kinds: dict[str, str]) -> ChurnModel:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        X = X[self.only] if self.only is not None else X
        y = np.asarray(y, dtype=int)
        self.columns = list(X.columns)
        self.design = _Design().fit(X, kinds)
        Z = self.design.transform(X)
        oof = np.zeros(len(y))
        if Z.shape[1] == 0:
            raise InputError("expected at least one usable feature, found none (every column is constant or "
                             "missing); check the customer file's columns")
        folds = min(self.folds, int(np.bincount(y).min()))
        if folds >= 2:
            for tr, te in StratifiedKFold(folds, shuffle=True, random_state=self.seed).split(Z, y):
                oof[te] = self._lr().fit(Z[tr], y[tr]).decision_function(Z[te])
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof[:, None], y)
            self.slope, self.offset = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        else:
            self.slope, self.offset = 1.0, 0.0
        self.lr = self._lr().fit(Z, y)
        self._Z, self._y = Z, y
        return self

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated log-odds of churn."""
        z = self.lr.decision_function(self.design.transform(X[self.columns]))
        return self.slope * z + self.offset

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities in [0, 1]."""
        return 1.0 / (1.0 + np.exp(-self.log_odds(X)))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per customer and feature: contribution to the calibrated log-odds versus the average customer."""
        Z = self.design.transform(X[self.columns])
        parts = Z * (self.lr.coef_[0] * self.slope)
        out = pd.DataFrame(parts, index=X.index, columns=range(Z.shape[1]))
        return out.T.groupby(np.array(self.design.features)).sum().T.reindex(columns=self.columns, fill_value=0.0)

    def feature_effects(self, level: float = 0.95) -> pd.DataFrame:
        """Per design column: calibrated log-odds per unit of the raw value, odds ratio and a Wald interval.

        The covariance is the inverse of the penalised Fisher information at the fit.
        """
        from scipy.stats import norm

        Z = np.column_stack([np.ones(len(self._Z)), self._Z])
        p = 1 / (1 + np.exp(-(self._Z @ self.lr.coef_[0] + self.lr.intercept_[0])))
        H = (Z * (p * (1 - p))[:, None]).T @ Z
        H[1:, 1:] += np.eye(Z.shape[1] - 1) / self.C
        se = np.sqrt(np.clip(np.diag(np.linalg.pinv(H))[1:], 0, None))
        zq = float(norm.ppf(0.5 + level / 2))
        rows = []
        for j, (feat, kind, par) in enumerate(self.design.specs):
            per_unit = self.slope * self.lr.coef_[0, j] / self.design.std[j]
            half = abs(self.slope) * zq * se[j] / self.design.std[j]
            rows.append({"feature": feat if kind == "value" else f"{feat}={par}" if kind == "level" else f"log1p({feat})",
                         "log_odds_per_unit": per_unit, "odds_ratio": math.exp(per_unit),
                         "or_lower": math.exp(per_unit - half), "or_upper": math.exp(per_unit + half)})
        return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------- metrics

def classification_metrics(y: Any, p: Any) -> dict[str, float]:
    """AUC, PR-AUC (average precision), top-decile lift, Brier score, ECE, base rate and n.

    Example:
        >>> m = classification_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> m["auc"], m["n"]
        (0.75, 4)
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    base = float(y.mean())
    k = max(1, int(math.ceil(0.1 * len(y))))
    top = np.argsort(-p, kind="stable")[:k]
    rel = reliability_table(y, p)
    ece = float((rel["n"] * (rel["mean_predicted"] - rel["observed"]).abs()).sum() / len(y)) if len(y) else math.nan
    both = 0 < y.sum() < len(y)
    return {"auc": round(float(roc_auc_score(y, p)), 4) if both else math.nan,
            "pr_auc": round(float(average_precision_score(y, p)), 4) if both else math.nan,
            "top_decile_lift": round(float(y[top].mean() / base), 3) if base > 0 else math.nan,
            "brier": round(float(brier_score_loss(y, p)), 4), "ece": round(ece, 4),
            "base_rate": round(base, 4), "n": int(len(y))}


def reliability_table(y: Any, p: Any, bins: int = 10) -> pd.DataFrame:
    """Calibration: predicted versus observed churn rate in ``bins`` equal-count bins of the score.

    Example:
        >>> reliability_table([0, 1, 0, 1], [0.2, 0.3, 0.6, 0.9], bins=2)["observed"].tolist()
        [0.5, 0.5]
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    rows = []
    for b, part in enumerate(np.array_split(order, min(bins, max(len(p), 1)))):
        if len(part):
            rows.append({"bin": b + 1, "lower": round(float(p[part].min()), 4), "upper": round(float(p[part].max()), 4),
                         "n": int(len(part)), "mean_predicted": round(float(p[part].mean()), 4),
                         "observed": round(float(y[part].mean()), 4)})
    return pd.DataFrame(rows, columns=["bin", "lower", "upper", "n", "mean_predicted", "observed"])


def assign_bands(p: Any, edges: tuple[float, float] = BAND_EDGES) -> np.ndarray:
    """Risk band per score: ``low``, ``medium`` or ``high``.

    Example:
        >>> assign_bands([0.05, 0.2, 0.9]).tolist()
        ['low', 'medium', 'high']
    """
    p = np.asarray(p, dtype=float)
    return np.where(p < edges[0], "low", np.where(p < edges[1], "medium", "high"))


def assign_segments(info: pd.DataFrame, bands: Any, lapse_days: int = LAPSE_DAYS,
                    new_months: float = NEW_MONTHS) -> np.ndarray:
    """Playbook segment per customer: ``churned``, ``at risk``, ``new`` or ``loyal`` (first match wins).

    ``churned``: churned by the as-of date (``info.label == 1``) or no activity for more than
    ``lapse_days``; ``at risk``: band ``high``; ``new``: tenure under ``new_months``.

    Example:
        >>> info = pd.DataFrame({"label": [1, 0, 0, 0], "recency_days": [5, 200, 3, 3],
        ...                      "tenure_months": [20, 20, 1, 30]})
        >>> assign_segments(info, ["low", "low", "low", "low"]).tolist()
        ['churned', 'churned', 'new', 'loyal']
    """
    bands = np.asarray(bands)
    lab = info["label"].to_numpy(dtype=float) if "label" in info else np.full(len(info), np.nan)
    rec = info["recency_days"].to_numpy(dtype=float) if "recency_days" in info else np.full(len(info), np.nan)
    ten = info["tenure_months"].to_numpy(dtype=float) if "tenure_months" in info else np.full(len(info), np.nan)
    churned = (lab == 1) | (np.nan_to_num(rec, nan=0.0) > lapse_days)
    return np.where(churned, "churned", np.where(bands == "high", "at risk",
                    np.where(np.nan_to_num(ten, nan=np.inf) < new_months, "new", "loyal")))


# ---------------------------------------------------------------------------------- reasons

def _plural(n: float, word: str) -> str:
    n = int(round(n))
    return f"{n} {word}" + ("" if n == 1 else "s")


#: Each reason's English sentence; ``params`` fill it (counts as numbers, ``theme`` as a theme id).
#: The report writes the same reasons in Arabic and Persian from ``key`` and ``params``
#: (``why_*`` in :data:`sada.pipeline.report.i18n.STRINGS`), never from this text.
_ENGLISH: dict[str, Callable[[dict[str, Any], dict[str, str]], str]] = {
    "why_theme_recent": lambda p, n: f"{_plural(p['complaints'], 'complaint')} about {_theme_name(p['theme'], n)} "
                                     f"in {p['days']} days",
    "why_theme_last": lambda p, n: f"{_plural(p['complaints'], 'complaint')} about {_theme_name(p['theme'], n)} "
                                   f"(last on {p['date']})",
    "why_theme": lambda p, n: f"{_plural(p['complaints'], 'complaint')} about {_theme_name(p['theme'], n)}",
    "why_nps_fell": lambda p, n: f"NPS fell from {p['first']} to {p['latest']}",
    "why_nps_detractor": lambda p, n: f"gave NPS {p['score']} (detractor)",
    "why_nps": lambda p, n: f"gave NPS {p['score']}",
    "why_nps_never": lambda p, n: "never answered an NPS survey",
    "why_turned_negative": lambda p, n: "latest feedback turned negative",
    "why_negative_comments": lambda p, n: _plural(p["comments"], "negative comment"),
    "why_no_positive": lambda p, n: "no positive feedback",
    "why_complaints_recent": lambda p, n: f"{_plural(p['complaints'], 'complaint')} in {p['days']} days",
    "why_complaints": lambda p, n: _plural(p["complaints"], "complaint"),
    "why_unanswered": lambda p, n: f"{_plural(p['complaints'], 'complaint')} with no positive follow-up",
    "why_feedback_items": lambda p, n: _plural(p["items"], "feedback item"),
    "why_tenure_short": lambda p, n: f"customer for only {p['months']} months",
    "why_tenure": lambda p, n: f"customer for {p['months']} months",
    "why_recency": lambda p, n: f"no activity for {p['days']} days",
    "why_orders": lambda p, n: f"low activity: {p['rate']:.1f} orders a month",
    "why_category": lambda p, n: f"{p['feature']}: {p['value']}",
    "why_value": lambda p, n: f"{p['feature']} {p['value']:g}",
    "why_value_high": lambda p, n: f"{p['feature']} {p['value']:g} (high)",
    "why_value_low": lambda p, n: f"{p['feature']} {p['value']:g} (low)",
    "why_missing": lambda p, n: f"{p['feature']} missing",
}


def reason_text(key: str, params: dict[str, Any], names: dict[str, str] | None = None) -> str:
    """The English sentence of a reason (``names``: theme id -> English theme name).

    Example:
        >>> reason_text("why_theme_recent", {"theme": "billing", "complaints": 2, "days": 60},
        ...             {"billing": "Billing and payments"})
        '2 complaints about billing and payments in 60 days'
    """
    return _ENGLISH[key](params, names or {})


def _theme_name(theme: str, names: dict[str, str]) -> str:
    return names.get(theme, theme).lower()


def _reason(feature: str, row: dict[str, Any], x: dict[str, Any], medians: dict[str, float],
            recent_days: int) -> dict[str, Any]:
    """One reason, as data: ``{"key": "why_*", "params": {...}}``, for a feature that raises this customer's risk."""

    def said(key: str, **params: Any) -> dict[str, Any]:
        return {"key": key, "params": params}

    if feature.startswith("complaint_"):
        t = feature.removeprefix("complaint_")
        recent, total = row.get(f"ev_recent_{t}", 0), row.get(f"ev_total_{t}", 0)
        if recent:
            return said("why_theme_recent", theme=t, complaints=int(recent), days=recent_days)
        last = row.get(f"ev_last_{t}")
        if pd.notna(last):
            return said("why_theme_last", theme=t, complaints=int(total), date=str(pd.Timestamp(last).date()))
        return said("why_theme", theme=t, complaints=int(total))
    if feature in ("nps_change", "nps_latest_centered", "nps_detractor", "nps_promoter", "has_nps"):
        first, latest = row.get("nps_first"), row.get("nps_latest")
        if pd.notna(first) and pd.notna(latest) and latest < first:
            return said("why_nps_fell", first=int(first), latest=int(latest))
        if pd.notna(latest):
            return said("why_nps_detractor" if latest <= 6 else "why_nps", score=int(latest))
        return said("why_nps_never")
    if feature in ("n_negative", "any_negative", "sentiment_mean", "sentiment_trend"):
        neg = row.get("n_negative", 0)
        if feature == "sentiment_trend" and row.get("last_sentiment", 0) < 0:
            return said("why_turned_negative")
        return said("why_negative_comments", comments=int(neg)) if neg else said("why_no_positive")
    if feature in ("n_complaints", "complaints_recent"):
        rec = row.get("complaints_recent", 0)
        return (said("why_complaints_recent", complaints=int(rec), days=recent_days) if rec
                else said("why_complaints", complaints=int(row.get("n_complaints", 0))))
    if feature == "unanswered_complaints":
        return said("why_unanswered", complaints=int(row.get("unanswered_complaints", 0)))
    if feature in ("any_positive", "n_positive"):
        return said("why_no_positive")
    if feature == "n_feedback":
        return said("why_feedback_items", items=int(row.get("n_feedback", 0)))
    if feature == "tenure_months":
        months = int(round(row.get("tenure_months", 0)))
        return said("why_tenure_short" if row.get("tenure_months", 99) < 24 else "why_tenure", months=months)
    if feature == "recency_days":
        return said("why_recency", days=int(round(row.get("recency_days", 0))))
    if feature == "orders_per_month":
        return said("why_orders", rate=round(float(row.get("orders_per_month", 0)), 1))
    value = x.get(feature)
    if isinstance(value, str):
        return said("why_category", feature=feature, value=value)
    if value is not None and pd.notna(value):
        med = medians.get(feature)
        side = "" if med is None or pd.isna(med) else ("_high" if value > med else "_low" if value < med else "")
        return said("why_value" + side, feature=feature, value=float(value))
    return said("why_missing", feature=feature)


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
            said = _reason(cols[j], info_rows[cid], x_rows[cid], medians, recent_days)
            text = reason_text(said["key"], said["params"], names)
            if text in seen:
                continue
            seen.add(text)
            reasons.append({"text": text, **said, "feature": cols[j], "contribution": round(float(values[i, j]), 3)})
        out.append(reasons)
    return out


# ---------------------------------------------------------------------------------- evaluation

def evaluate_split(fs: FeatureSet, seed: int = 0, test_size: float = 0.2,
                   features: list[str] | None = None, C: float = 0.5) -> tuple[dict[str, float], pd.Series]:
    """Fit on a seeded stratified split of the labelled customers; metrics on the held-out part.

    Returns:
        ``(metrics, held-out probabilities indexed by customer_id)``.
    """
    from sklearn.model_selection import train_test_split

    lab = fs.info["label"].dropna().astype(int)
    X = fs.X.loc[lab.index]
    tr, te = train_test_split(lab.index.to_numpy(), test_size=test_size, random_state=seed, stratify=lab.to_numpy())
    cols = features if features is not None else fs.model_features
    model = ChurnModel(C=C, seed=seed).fit(X.loc[tr, cols], lab.loc[tr], fs.kinds)
    p = pd.Series(model.predict_proba(X.loc[te, cols]), index=te)
    return classification_metrics(lab.loc[te], p), p


# ---------------------------------------------------------------------------------- report

@dataclass
class ChurnReport:
    """What :func:`score_churn` produced.

    Attributes:
        metrics: Held-out metrics (``auc, pr_auc, top_decile_lift, brier, ece, n``), baselines
            (``baseline_rf_auc``, ``baseline_nps_auc``), ``auc_seeds`` / ``auc_mean`` over seeds,
            ``oracle_auc`` (when the simulator's truth applies), ``feedback_input`` and counts.
        scores: One row per scored customer: ``customer_id, score, band, segment, label, reasons``.
        drivers: :func:`sada.pipeline.churn.drivers.theme_drivers` table.
        nps: ``overall`` (dict), ``by_segment``, ``by_period``, ``by_playbook_segment``, ``theme_impact`` (DataFrames).
        reliability: Held-out reliability table.
        coefficients: The final model's effects per design column.
        customers: The customer load summary (rows read / accepted / quarantined / duplicates).
        run_id: The run row in the store (``None`` when not written).
        model_version: Written to ``churn_scores.model_version``.
        as_of: The as-of date.
    """

    metrics: dict[str, Any]
    scores: pd.DataFrame
    drivers: pd.DataFrame
    nps: dict[str, Any]
    reliability: pd.DataFrame
    coefficients: pd.DataFrame
    customers: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    model_version: str = MODEL_VERSION
    as_of: pd.Timestamp | None = None

    def summary(self) -> dict[str, Any]:
        """A strict-JSON-ready summary (what ``sada churn --json`` prints)."""
        seg = self.scores["segment"].value_counts().to_dict() if len(self.scores) else {}
        band = self.scores["band"].value_counts().to_dict() if len(self.scores) else {}
        drivers = self.drivers.head(5)[["theme", "lift", "lift_lower", "lift_upper", "model_odds_ratio",
                                         "customers_lost"]].to_dict("records") if len(self.drivers) else []
        return _jsonable({**self.metrics, "run_id": self.run_id, "model_version": self.model_version,
                "as_of": str(self.as_of.date()) if self.as_of is not None else None,
                "customers": self.customers, "scored": int(len(self.scores)),
                "segments": {k: int(v) for k, v in seg.items()}, "bands": {k: int(v) for k, v in band.items()},
                "nps": self.nps.get("overall"), "top_drivers": drivers})


def _truth_for(ids: pd.Index, corpus_dir: Path) -> dict[str, Any] | None:
    from sada.pipeline.corpus import load_truth
    from sada.pipeline.errors import CorpusError

    try:
        truth = load_truth(corpus_dir)
    except CorpusError:
        return None
    p = {c["customer_id"]: c["p_churn"] for c in truth.get("customers", [])}
    if not p or ids.isin(list(p)).mean() < 0.95 or len(ids) < 0.95 * len(p):
        return None
    return {**truth, "p": p}


def _default_as_of(frame: pd.DataFrame, feedback: pd.DataFrame | None) -> pd.Timestamp:
    dates = [frame[c].max() for c in ("churn_date", "last_activity", "signup_date") if c in frame]
    if feedback is not None and len(feedback):
        dates.append(pd.to_datetime(feedback["created_at"]).max())
    dates = [d for d in dates if pd.notna(d)]
    return pd.Timestamp(max(dates)).normalize() if dates else pd.Timestamp(datetime.now().date())


def score_churn(store: Any, customers_path: str | Path | None = None, as_of: Any = None, *,
                id_column: str | None = None, churn_column: str | None = None, exclude: tuple[str, ...] = (),
                seed: int = 0, test_size: float = 0.2, n_seeds: int = 5, write: bool = True,
                feedback: pd.DataFrame | None = None, corpus_dir: str | Path | None = None) -> ChurnReport:
    """Score every customer's churn risk as of a date, measure it and write it to the store.

    Args:
        store: An open :class:`sada.pipeline.store.Store`.
        customers_path: Customer CSV/Parquet (default: the customers already in the store). The
            sample corpus's ``customers.csv`` is used only when passed here (``sada run`` does).
        as_of: As-of date (default: the latest date in the customer file / feedback, else today).
        id_column: Source column of the customer id (default: detected).
        churn_column: Source column of the churn flag (default: detected).
        exclude: Attribute columns to leave out of the model.
        seed: Seed of the held-out split and the calibration folds.
        test_size: Held-out share.
        n_seeds: Also report the held-out AUC over this many seeds (``auc_seeds``, ``auc_mean``).
        write: Store customers, scores and the run.
        feedback: Feedback signals to use instead of the store's (tests, notebooks).
        corpus_dir: Corpus folder, for theme names and, with its own ``customers.csv``, the
            simulator's oracle (default: the configured one).

    Returns:
        The :class:`ChurnReport`.

    Raises:
        InputError: The file cannot be used (no labels to learn from, unreadable, bad as-of date).
        ColumnMappingError: No customer id column.
    """
    from sada.pipeline.config import load_settings
    from sada.pipeline.taxonomy import load_taxonomy
    from sada.pipeline.churn.customers import load_customers_from_store, read_customers, save_customers
    from sada.pipeline.churn.drivers import nps, nps_table, theme_drivers, theme_nps_impact

    settings = load_settings()
    corpus = Path(corpus_dir) if corpus_dir else settings.corpus_dir
    if customers_path is not None:
        load = read_customers(customers_path, id_column=id_column, churn_column=churn_column, exclude=exclude,
                              dayfirst=settings.date_dayfirst, mask_pii=settings.mask_pii)
    else:
        load = load_customers_from_store(store)
        if not len(load.frame):
            raise InputError("expected customers in --customers or in the store, found none; "
                             "pass --customers PATH")
    run_id = store.start_run("churn", [str(customers_path or "store")]) if write else None
    try:
        if write and customers_path is not None:
            save_customers(store, load, run_id)
        fb = feedback if feedback is not None else load_feedback_signals_safe(store)
        # the simulator's truth only for the sample corpus's own customer file, never for a team's customers
        is_sample = customers_path is not None and Path(customers_path).resolve() == (corpus / "customers.csv").resolve()
        truth = _truth_for(pd.Index(load.frame["customer_id"]), corpus) if is_sample else None
        config = FeatureConfig(exclude=tuple(load.excluded_columns) + tuple(exclude))
        taxonomy = load_taxonomy()
        config.themes = taxonomy.ids
        names = {t.id: t.name("en") for t in taxonomy.themes}
        if truth is not None:
            config.orders_since = pd.Timestamp(truth["window"]["start"])
        if as_of is None:
            as_of = pd.Timestamp(truth["window"]["end"]) if truth is not None else _default_as_of(load.frame, fb)
        fs = build_features(load.frame, fb, as_of, config, load.attribute_columns)
        report = _fit_and_report(fs, truth, names, seed, test_size, n_seeds, config.recent_days)
        report.customers = {**load.summary(), **({"excluded": fs.excluded} if fs.excluded else {})}
        report.metrics["feedback_input"] = feedback_input_label(fb)
        report.metrics["feedback_items_used"] = fs.feedback_used
        versions = fb["model_version"].dropna().unique() if fb is not None and "model_version" in fb else []
        report.model_version = (MODEL_VERSION + ("+" + "+".join(sorted(map(str, versions))) if len(versions)
                                                 else "+nps-only" if fs.feedback_used else "+no-feedback"))[:80]
        # NPS tables: every item with an answer, with or without a customer id
        report.nps = _nps_tables(fb, fs, report.scores, config.themes or fs.themes, nps, nps_table, theme_nps_impact)
        report.drivers = theme_drivers(fs.X, fs.info, fs.themes, report._model) if fs.themes else pd.DataFrame()
        report.as_of = fs.as_of.normalize()
        report.run_id = run_id
        if write:
            _write_scores(store, report, run_id)
            store.finish_run(run_id, _jsonable(report.summary()))
    except BaseException:
        if write and run_id:
            store.finish_run(run_id, {}, status="failed")
        raise
    return report


def load_feedback_signals_safe(store: Any) -> pd.DataFrame:
    from sada.pipeline.churn.features import load_feedback_signals

    return load_feedback_signals(store)


def _fit_and_report(fs: FeatureSet, truth: dict[str, Any] | None, names: dict[str, str], seed: int,
                    test_size: float, n_seeds: int, recent_days: int) -> ChurnReport:
    lab = fs.info["label"].dropna().astype(int)
    if len(lab) < 50 or lab.sum() < 10 or (len(lab) - lab.sum()) < 10:
        raise InputError(f"expected at least 50 customers with a churn flag, 10 of each outcome, found "
                         f"{len(lab)} ({int(lab.sum())} churned); pass --churn-column NAME or add the flag")
    metrics, p_test = evaluate_split(fs, seed, test_size)
    y_test = lab.loc[p_test.index]
    reliability = reliability_table(y_test, p_test)
    metrics["n_train"] = int(len(lab) - len(p_test))
    metrics["seed"] = seed
    if n_seeds > 1:
        aucs = [metrics["auc"]] + [evaluate_split(fs, s, test_size)[0]["auc"] for s in range(seed + 1, seed + n_seeds)]
        metrics["auc_seeds"] = aucs
        metrics["auc_mean"] = round(float(np.mean(aucs)), 4)
    rf = [c for c, g in fs.groups.items() if g == "recency_frequency" and c in fs.model_features]
    npsf = [c for c, g in fs.groups.items() if g == "nps"]
    for name, cols in (("rf", rf), ("nps", npsf)):
        if cols:
            m, _ = evaluate_split(fs, seed, test_size, features=cols)
            metrics[f"baseline_{name}_auc"] = m["auc"]
            metrics[f"baseline_{name}_pr_auc"] = m["pr_auc"]
    if truth is not None:
        from sklearn.metrics import roc_auc_score

        metrics["oracle_auc"] = round(float(truth["oracle_auc"]), 4)
        p_true = np.array([truth["p"].get(c, np.nan) for c in p_test.index])
        metrics["oracle_auc_heldout"] = round(float(roc_auc_score(y_test, p_true)), 4)
    crm = fs.info["crm_risk"].loc[p_test.index]
    if crm.notna().sum() >= 20:
        from scipy.stats import spearmanr
        from sklearn.metrics import roc_auc_score

        ok = crm.notna()
        metrics["crm_auc"] = round(float(roc_auc_score(y_test[ok], crm[ok])), 4)
        metrics["crm_spearman_with_score"] = round(float(spearmanr(crm[ok], p_test[ok]).statistic), 4)
        fb_cols = [c for c, g in fs.groups.items() if g in ("feedback", "nps", "theme") and c in fs.model_features]
        if fb_cols:
            fs2 = FeatureSet(X=fs.X.assign(crm_risk=fs.info["crm_risk"]), info=fs.info,
                             groups={**fs.groups, "crm_risk": "crm"}, kinds={**fs.kinds, "crm_risk": "numeric"},
                             themes=fs.themes, as_of=fs.as_of)
            m_crm, _ = evaluate_split(fs2, seed, test_size, features=["crm_risk"])
            m_both, _ = evaluate_split(fs2, seed, test_size, features=["crm_risk", *fb_cols])
            metrics["crm_only_model_auc"] = m_crm["auc"]
            metrics["crm_plus_feedback_auc"] = m_both["auc"]

    final = ChurnModel(seed=seed).fit(fs.X.loc[lab.index, fs.model_features], lab, fs.kinds)
    p_all = final.predict_proba(fs.X)
    bands = assign_bands(p_all)
    segments = assign_segments(fs.info, bands)
    reasons = reason_texts(final, fs, names, recent_days=recent_days)
    scores = pd.DataFrame({"customer_id": fs.X.index, "score": np.round(p_all, 4), "band": bands,
                           "segment": segments, "label": fs.info["label"].to_numpy(), "reasons": reasons})
    coef = final.feature_effects().sort_values("log_odds_per_unit", ascending=False, key=abs).reset_index(drop=True)
    report = ChurnReport(metrics=metrics, scores=scores, drivers=pd.DataFrame(), nps={}, reliability=reliability,
                         coefficients=coef)
    report._model = final  # type: ignore[attr-defined]
    report._features = fs  # type: ignore[attr-defined]
    return report


def _nps_tables(fb: pd.DataFrame | None, fs: FeatureSet, scores: pd.DataFrame, themes: list[str],
                nps: Any, nps_table: Any, theme_nps_impact: Any) -> dict[str, Any]:
    if fb is None or not len(fb) or pd.to_numeric(fb["nps_score"], errors="coerce").notna().sum() == 0:
        return {"overall": nps([]), "by_segment": pd.DataFrame(), "by_period": pd.DataFrame(),
                "by_playbook_segment": pd.DataFrame(), "theme_impact": pd.DataFrame()}
    fb = fb[pd.to_datetime(fb["created_at"]).isna() | (pd.to_datetime(fb["created_at"]) <= fs.as_of)].copy()
    fb["period"] = pd.to_datetime(fb["created_at"]).dt.to_period("Q").astype(str).replace("NaT", None)
    seg = fs.X["segment"] if "segment" in fs.X else pd.Series(dtype=object)
    fb["customer_segment"] = fb["customer_id"].map(seg)
    fb["playbook_segment"] = fb["customer_id"].map(scores.set_index("customer_id")["segment"])
    return {"overall": nps(fb["nps_score"]), "by_segment": nps_table(fb, "customer_segment"),
            "by_period": nps_table(fb, "period"), "by_playbook_segment": nps_table(fb, "playbook_segment"),
            "theme_impact": theme_nps_impact(fb, themes)}


def _jsonable(obj: Any) -> Any:
    """A copy of ``obj`` that ``json.dumps`` writes as strict JSON (NaN -> None, numpy -> Python)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if math.isnan(obj) or math.isinf(obj) else float(obj)
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def _write_scores(store: Any, report: ChurnReport, run_id: str | None) -> int:
    as_of = report.as_of.to_pydatetime()
    rows = [{"run_id": run_id, "customer_id": r.customer_id, "as_of": as_of, "model_version": report.model_version,
             "score": float(r.score), "band": str(r.band), "segment": str(r.segment), "reasons": r.reasons}
            for r in report.scores.itertuples(index=False)]
    store.add_churn_scores(rows)
    drivers = report.drivers if report.drivers is not None else pd.DataFrame()
    store.add_churn_drivers([
        {"run_id": run_id, "as_of": as_of, "model_version": report.model_version, "theme": str(row.pop("theme")),
         "stats": row} for row in drivers.to_dict("records")])
    logger.info("wrote %d churn scores and %d theme drivers as of %s (%s)", len(rows), len(drivers),
                report.as_of.date(), report.model_version)
    return len(rows)
