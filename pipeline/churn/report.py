"""What a churn scoring run produced (:class:`ChurnReport`), its NPS tables, and how it is stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sada.pipeline.churn.drivers import theme_nps_impact
from sada.pipeline.churn.features import FeatureSet
from sada.pipeline.jsonable import jsonable
from sada.pipeline.nps import net_promoter_score, nps_table

__all__ = ["MODEL_VERSION", "ChurnReport", "churn_model_version", "nps_tables", "write_report"]

logger = logging.getLogger(__name__)

#: The churn model's version; the classifier versions whose analysis fed it are appended.
MODEL_VERSION = "churn-logit-1"


@dataclass
class ChurnReport:
    """What :func:`score_churn` produced.

    Attributes:
        metrics: Held-out metrics (``auc, pr_auc, top_decile_lift, brier, ece, n``), baselines
            (``baseline_rf_auc``, ``baseline_nps_auc``), ``auc_seeds`` / ``auc_mean`` over seeds,
            the CRM comparison (when the file has CRM scores), ``feedback_input`` and counts.
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
        return jsonable({**self.metrics, "run_id": self.run_id, "model_version": self.model_version,
                         "as_of": str(self.as_of.date()) if self.as_of is not None else None,
                         "customers": self.customers, "scored": int(len(self.scores)),
                         "segments": {k: int(v) for k, v in seg.items()},
                         "bands": {k: int(v) for k, v in band.items()},
                         "nps": self.nps.get("overall"), "top_drivers": drivers})


def churn_model_version(feedback: pd.DataFrame | None, feedback_used: int) -> str:
    """:data:`MODEL_VERSION` plus the analysis that fed the features (``+nps-only``, ``+no-feedback``).

    Example:
        >>> churn_model_version(pd.DataFrame({"model_version": ["gold-labels", None]}), 2)
        'churn-logit-1+gold-labels'
    """
    versions = (feedback["model_version"].dropna().unique()
                if feedback is not None and "model_version" in feedback else [])
    return (MODEL_VERSION + ("+" + "+".join(sorted(map(str, versions))) if len(versions)
                             else "+nps-only" if feedback_used else "+no-feedback"))[:80]


def nps_tables(fb: pd.DataFrame | None, fs: FeatureSet, scores: pd.DataFrame, themes: list[str]) -> dict[str, Any]:
    """NPS overall, per customer segment, per quarter, per playbook segment and each theme's impact.

    Every item with an answer up to the as-of date counts, with or without a customer id.
    """
    if fb is None or not len(fb) or pd.to_numeric(fb["nps_score"], errors="coerce").notna().sum() == 0:
        return {"overall": net_promoter_score([]), "by_segment": pd.DataFrame(), "by_period": pd.DataFrame(),
                "by_playbook_segment": pd.DataFrame(), "theme_impact": pd.DataFrame()}
    fb = fb[pd.to_datetime(fb["created_at"]).isna() | (pd.to_datetime(fb["created_at"]) <= fs.as_of)].copy()
    fb["period"] = pd.to_datetime(fb["created_at"]).dt.to_period("Q").astype(str).replace("NaT", None)
    seg = fs.X["segment"] if "segment" in fs.X else pd.Series(dtype=object)
    fb["customer_segment"] = fb["customer_id"].map(seg)
    fb["playbook_segment"] = fb["customer_id"].map(scores.set_index("customer_id")["segment"])
    return {"overall": net_promoter_score(fb["nps_score"]), "by_segment": nps_table(fb, "customer_segment"),
            "by_period": nps_table(fb, "period"), "by_playbook_segment": nps_table(fb, "playbook_segment"),
            "theme_impact": theme_nps_impact(fb, themes)}


def write_report(store: Any, report: ChurnReport) -> int:
    """Write the scores and theme drivers to the store and close the run with the summary; returns the scores written."""
    run_id = report.run_id
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
    if run_id:
        store.finish_run(run_id, report.summary())
    return len(rows)
