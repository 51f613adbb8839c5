"""Flow ``cx-weekly``: the scheduled job that runs analyse-feedback, then churn scoring, then the report.

``sada run`` runs it on the sample corpus in Prefect's ephemeral mode (no
server to start); ``sada serve`` serves it on a cron schedule.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from sada.flows.analyse_feedback import analyse_feedback
from sada.flows.runtime import task_runner
from sada.flows.report import cx_report
from sada.flows.score_churn import score_churn_flow
from sada.pipeline.config import load_settings

__all__ = ["cx_weekly", "default_sources"]


def default_sources() -> list[str]:
    """The sample corpus's feedback file."""
    return [str(load_settings().corpus_dir / "feedback.csv")]


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
) -> dict[str, Any]:
    """Analyse new feedback from ``sources`` (default: the sample corpus), score churn risk, write the report.

    Returns one summary object whose keys include those of ``sada analyze --json``.
    """
    logger = get_run_logger()
    analyse = analyse_feedback.with_options(task_runner=task_runner(dask_address, workers))
    summary = analyse(sources=sources or default_sources(), database_url=database_url, model_path=model_path)
    logger.info("feedback: %d analysed, %d quarantined, %d duplicates", summary["analysed"],
                summary["quarantined"], summary["duplicates"])
    if customers_path is None and sources is None:
        customers_path = str(load_settings().corpus_dir / "customers.csv")  # the sample corpus's customers
    churn = None
    if customers_path is None:
        logger.warning("no customer records given (customers_path): churn scoring skipped")
    else:
        churn = score_churn_flow(database_url=database_url, customers_path=customers_path, as_of=as_of)
    report = cx_report(database_url=database_url, out=report_out, period=report_period, lang=report_lang)
    return {**summary, "churn": churn, "report": report}
