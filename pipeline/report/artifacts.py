"""Publish a report to Prefect: a link to the HTML file, the spike alerts as a table, a short summary.

Call :func:`publish_report_artifacts` from inside a flow or task run (for example
the ``cx-weekly`` flow after :func:`pipeline.report.build_report`); a team hooks a
notification (Prefect automation) to the ``cx-spike-alerts`` artifact.
"""

from __future__ import annotations

from typing import Any

from pipeline.pii import mask_pii

__all__ = ["publish_report_artifacts", "spike_rows"]


def spike_rows(spikes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spike alerts flattened to one table row each (example quotes joined), for a Prefect table artifact."""
    return [{"theme": s["theme_name"], "language": s["language"], "channel": s["channel"], "period": s["period"],
             "complaints": s["count"], "baseline_mean": s["baseline_mean"], "baseline_sd": s["baseline_sd"],
             "z_score": s["z_score"], "examples": " | ".join(mask_pii(q["text"]) for q in s["examples"])}
            for s in spikes]


def publish_report_artifacts(result: Any, key_prefix: str = "cx") -> dict[str, Any]:
    """Create the Prefect artifacts of a :class:`pipeline.report.ReportResult`.

    Args:
        result: What :func:`pipeline.report.build_report` returned.
        key_prefix: Artifact key prefix (lower-case letters, digits and dashes).

    Returns:
        The artifact ids: ``{"report": ..., "spikes": ..., "summary": ...}``.
    """
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

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
