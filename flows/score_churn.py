"""Flow ``score-churn``: customers -> point-in-time features -> risk scores -> segments -> drivers -> store.

A thin wrapper around :func:`sada.pipeline.churn.score_churn`, publishing the churn
summary, the top at-risk customers and the theme drivers as Prefect artifacts.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from sada.pipeline.churn import ChurnReport, score_churn
from sada.pipeline.config import load_settings
from sada.pipeline.store import Store

__all__ = ["score_churn_flow", "publish_churn"]


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def score(database_url: str, customers_path: str | None, as_of: str | None) -> ChurnReport:
    return score_churn(Store.open(database_url), customers_path=customers_path, as_of=as_of)


def publish_churn(report: ChurnReport, top: int = 25) -> None:
    """Markdown summary plus table artifacts: top at-risk customers and theme drivers."""
    summary = report.summary()
    metric_rows = "\n".join(f"| {k} | {summary[k]} |" for k in
                            ("n", "auc", "pr_auc", "top_decile_lift", "brier", "ece") if k in summary)
    segments = ", ".join(f"{k} {v}" for k, v in summary.get("segments", {}).items())
    create_markdown_artifact(
        key="churn-summary",
        markdown=(f"# Churn risk as of {summary.get('as_of')}\n\n{summary.get('scored', 0)} customers scored. "
                  f"Segments: {segments}.\n\n| metric | value |\n|---|---|\n{metric_rows}\n"),
        description="Churn-risk scores, segments and held-out quality",
    )
    at_risk = report.scores.sort_values("score", ascending=False).head(top)
    create_table_artifact(
        key="top-at-risk-customers",
        table=[{"customer_id": r.customer_id, "score": round(float(r.score), 3), "band": r.band,
                "segment": r.segment, "reasons": "; ".join(x["text"] for x in r.reasons or [])}
               for r in at_risk.itertuples()],
        description=f"The {top} customers most likely to leave, with the reasons",
    )
    if len(report.drivers):
        columns = [c for c in ("theme", "customers_with", "churn_rate_with", "churn_rate_without", "lift",
                               "lift_lower", "lift_upper", "model_odds_ratio", "customers_lost")
                   if c in report.drivers.columns]
        create_table_artifact(
            key="theme-drivers",
            table=report.drivers[columns].round(3).to_dict("records"),
            description="Which complaint themes go with churn, ranked by customers lost",
        )


@flow(name="score-churn", log_prints=True)
def score_churn_flow(database_url: str | None = None, customers_path: str | None = None,
                     as_of: str | None = None) -> dict[str, Any]:
    """Score churn risk for every customer and publish the artifacts; returns ``sada churn --json``'s summary."""
    url = load_settings(database_url=database_url).database_url
    report = score(url, customers_path, as_of)
    publish_churn(report)
    summary = report.summary()
    get_run_logger().info("scored %s customers; held-out AUC %s", summary.get("scored"), summary.get("auc"))
    return summary
