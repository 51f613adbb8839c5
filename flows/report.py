"""Flow ``cx-report``: build the CX report from the store and link it from Prefect's artifacts.

A thin wrapper around :func:`pipeline.report.build_report`; spike alerts are
published as a table artifact so a team can hook a notification to them.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline.config import load_settings
from pipeline.report import build_report
from pipeline.report.artifacts import publish_report_artifacts
from pipeline.store import Store

__all__ = ["cx_report"]


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def render(database_url: str, out: str | None, period: str | None, lang: str) -> Any:
    settings = load_settings(database_url=database_url)
    return build_report(Store.open(settings.database_url), out=out, period=period, lang=lang,
                        corpus_dir=settings.corpus_dir)


@flow(name="cx-report", log_prints=True)
def cx_report(database_url: str | None = None, out: str | None = None, period: str | None = None,
              lang: str = "en") -> dict[str, Any]:
    """Write the report; returns its path, period and spike alerts."""
    url = load_settings(database_url=database_url).database_url
    result = render(url, out, period, lang)
    publish_report_artifacts(result)
    get_run_logger().info("report for %s written to %s (%d spike alerts)", result.period, result.path,
                          len(result.spikes))
    return {"path": str(result.path), "period": str(result.period), "lang": result.lang,
            "spikes": len(result.spikes)}
