"""Flow ``cx-report``: build the CX report from the store and link it from Prefect's artifacts.

A thin wrapper around :func:`sada.pipeline.report.build_report`; spike alerts are
published as a table artifact (``cx-spike-alerts``) so a team can hook a
notification (a Prefect automation) to them.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from sada.models.candidates import store_candidates
from sada.pipeline.config import load_settings
from sada.pipeline.pii import mask_pii
from sada.pipeline.report import build_report
from sada.pipeline.store import Store

__all__ = ["cx_report", "publish_report_artifacts", "spike_rows"]


def spike_rows(spikes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spike alerts flattened to one table row each (example quotes joined), for a Prefect table artifact."""
    return [{"theme": s["theme_name"], "language": s["language"], "channel": s["channel"], "period": s["period"],
             "complaints": s["count"], "baseline_mean": s["baseline_mean"], "baseline_sd": s["baseline_sd"],
             "z_score": s["z_score"], "examples": " | ".join(mask_pii(q["text"]) for q in s["examples"])}
            for s in spikes]


def publish_report_artifacts(result: Any, key_prefix: str = "cx") -> dict[str, Any]:
    """Create the Prefect artifacts of a :class:`sada.pipeline.report.ReportResult`.

    Args:
        result: What :func:`sada.pipeline.report.build_report` returned.
        key_prefix: Artifact key prefix (lower-case letters, digits and dashes).

    Returns:
        The artifact ids: ``{"report": ..., "spikes": ..., "summary": ...}``.
    """
    uri = result.path.resolve().as_uri()
    ids = {"report": create_link_artifact(key=f"{key_prefix}-report", link=uri,
                                          link_text=f"CX report {result.period} ({result.lang})",
                                          description=f"Self-contained HTML report for {result.period}")}
    rows = spike_rows(result.spikes)
    ids["spikes"] = create_table_artifact(key=f"{key_prefix}-spike-alerts", table=rows or [{"spikes": "none"}],
                                          description=f"{len(rows)} spike alert(s) in {result.period}")
    lines = [f"**CX report {result.period}** (vs {result.previous_period}): [{result.path.name}]({uri})", ""]
    lines += [f"- spike: {r['theme']} ({r['language']}, {r['channel']}): {r['complaints']} complaints, "
              f"usually {r['baseline_mean']} ± {r['baseline_sd']}" for r in rows] or ["- no spike alerts"]
    ids["summary"] = create_markdown_artifact(key=f"{key_prefix}-report-summary", markdown="\n".join(lines))
    return {k: str(v) for k, v in ids.items()}


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def render(database_url: str, out: str | None, period: str | None, lang: str, themes: str | None = None) -> Any:
    settings = load_settings(database_url=database_url)
    store = Store.open(settings.database_url)
    return build_report(store, out=out, period=period, lang=lang, themes=themes,
                        candidates=store_candidates(store).candidates)


@flow(name="cx-report", log_prints=True)
def cx_report(database_url: str | None = None, out: str | None = None, period: str | None = None,
              lang: str = "en", themes: str | None = None) -> dict[str, Any]:
    """Write the report; returns its path, period and spike alerts."""
    url = load_settings(database_url=database_url).database_url
    result = render(url, out, period, lang, themes)
    publish_report_artifacts(result)
    get_run_logger().info("report for %s written to %s (%d spike alerts)", result.period, result.path,
                          len(result.spikes))
    return {"path": str(result.path), "period": str(result.period), "lang": result.lang,
            "spikes": len(result.spikes), "spike_alerts": spike_rows(result.spikes)}
