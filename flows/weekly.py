"""Flow ``cx-weekly``: the scheduled job that runs analyse-feedback, then churn scoring, then the report.

``sada run`` runs it in Prefect's ephemeral mode (no server to start; with no input it hands
the flow the sample corpus's feedback and customers); ``sada serve`` serves it on a cron schedule.
The flow itself reads only what it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from sada.flows.analyse_feedback import analyse_feedback
from sada.flows.runtime import task_runner
from sada.flows.report import cx_report
from sada.flows.score_churn import score_churn_flow
from sada.pipeline.errors import InputError

__all__ = ["cx_weekly", "weekly_summary_markdown"]


def weekly_summary_markdown(summary: dict[str, Any]) -> str:
    """The run's summary as the Prefect UI shows it: rows, languages, quarantine reasons, spikes, report.

    >>> md = weekly_summary_markdown({"rows_read": 12, "analysed": 10, "quarantined": 1, "duplicates": 1,
    ...     "languages": {"ar": 6, "fa": 4}, "quarantine_reasons": {"empty_text": 1}, "churn": None,
    ...     "report": {"path": "/srv/out/report.html", "period": "2026-W49", "spike_alerts": []}})
    >>> print(md.splitlines()[2])
    | 12 | 10 | 1 | 1 |
    >>> "Languages: ar 6, fa 4" in md and "[/srv/out/report.html](file:///srv/out/report.html)" in md
    True
    """
    report = summary.get("report") or {}
    reasons = ", ".join(f"{k} {v}" for k, v in (summary.get("quarantine_reasons") or {}).items()) or "none"
    languages = ", ".join(f"{k} {v}" for k, v in (summary.get("languages") or {}).items() if v) or "none"
    lines = ["| rows read | analysed | quarantined | duplicates |", "|---|---|---|---|",
             f"| {summary['rows_read']} | {summary['analysed']} | {summary['quarantined']} | {summary['duplicates']} |",
             "", f"Languages: {languages}  ", f"Quarantine reasons: {reasons}  "]
    churn = summary.get("churn")
    lines.append(f"Churn: {churn['scored']} customers scored  " if churn else "Churn: not scored (no customer file)  ")
    if report.get("path"):
        path = Path(report["path"]).resolve()
        lines.append(f"Report ({report.get('period')}): [{path}]({path.as_uri()})")
    alerts = report.get("spike_alerts") or []
    lines += ["", f"## Spike alerts ({len(alerts)})", ""]
    lines += [f"- {a['theme']} ({a['language']}, {a['channel']}): {a['complaints']} complaints, usually "
              f"{a['baseline_mean']} ± {a['baseline_sd']}" for a in alerts] or ["- none"]
    return "\n".join(lines) + "\n"


@flow(name="cx-weekly", log_prints=True)
def cx_weekly(
    sources: list[str] | None = None,
    database_url: str | None = None,
    model_path: str | None = None,
    dask_address: str | None = None,
    workers: int = 2,
    customers_path: str | None = None,
    as_of: str | None = None,
    report_out: str | None = None,
    report_lang: str = "en",
    report_period: str | None = None,
    themes: str | None = None,
) -> dict[str, Any]:
    """Analyse new feedback from ``sources``, score churn risk of ``customers_path``'s customers, write the report.

    Returns one summary object whose keys include those of ``sada analyze --json``.

    Raises:
        InputError: No sources given.
    """
    if not sources:
        raise InputError("expected feedback sources (files, folders or glob patterns), found none; "
                         "pass sources, e.g. sada run --input feedback.csv")
    logger = get_run_logger()
    analyse = analyse_feedback.with_options(task_runner=task_runner(dask_address, workers))
    summary = analyse(sources=sources, database_url=database_url, model_path=model_path, themes=themes)
    logger.info("feedback: %d analysed, %d quarantined, %d duplicates", summary["analysed"],
                summary["quarantined"], summary["duplicates"])
    churn = None
    if customers_path is None:
        logger.warning("no customer records given (customers_path): churn scoring skipped")
    else:
        churn = score_churn_flow(database_url=database_url, customers_path=customers_path, as_of=as_of)
    report = cx_report(database_url=database_url, out=report_out, period=report_period, lang=report_lang,
                       themes=themes)
    result = {**summary, "churn": churn, "report": report}
    create_markdown_artifact(key="cx-weekly-summary", markdown=weekly_summary_markdown(result),
                             description="What this run read, analysed and found, and where the report is")
    return result
