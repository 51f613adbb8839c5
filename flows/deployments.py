"""Deployments with cron schedules, served locally by ``sada serve`` (Prefect's ``serve``).

The same deployments are declared in prefect.yaml for teams that run a Prefect
server with workers. Times are in the given time zone (default UTC).
"""

from __future__ import annotations

from typing import Any

from sada.pipeline.errors import InputError
from sada.pipeline.taxonomy import load_taxonomy

__all__ = ["WEEKLY_CRON", "DAILY_CRON", "SCHEDULED_DEPLOYMENTS", "build_deployments", "notify_deployment"]

#: Monday 06:00: the CX report is ready when the team starts the week.
WEEKLY_CRON = "0 6 * * 1"
#: Every day 05:00: new feedback is analysed daily.
DAILY_CRON = "0 5 * * *"
#: The deployments ``sada serve`` schedules (``sada status`` reports on these).
SCHEDULED_DEPLOYMENTS = ("sada-weekly", "sada-daily-feedback")


def build_deployments(
    sources: list[str] | None = None,
    database_url: str | None = None,
    weekly_cron: str = WEEKLY_CRON,
    daily_cron: str | None = DAILY_CRON,
    timezone: str = "UTC",
    customers_path: str | None = None,
    model_path: str | None = None,
    themes: str | None = None,
) -> list[Any]:
    """The cx-weekly deployment (and a daily analyse-feedback one unless ``daily_cron`` is None).

    Raises:
        InputError: no feedback sources: a schedule runs on the team's own files, never on the
            sample corpus (``sada run`` is the demo on the corpus).
    """
    from prefect.schedules import Cron

    from sada.flows.analyse_feedback import analyse_feedback
    from sada.flows.weekly import cx_weekly

    if not sources:
        raise InputError("expected the feedback sources to schedule (--input FILE, FOLDER or 'GLOB'), found none; "
                         "`sada run` runs the job once on the sample corpus")
    weekly = {"sources": sources, "database_url": database_url, "customers_path": customers_path}
    daily: dict[str, Any] = {"sources": sources, "database_url": database_url}
    if model_path:
        weekly["model_path"] = daily["model_path"] = model_path
    if themes:
        load_taxonomy(themes)  # a broken taxonomy file fails now, not at the first scheduled run
        weekly["themes"] = daily["themes"] = themes
    deployments = [cx_weekly.to_deployment(
        name="sada-weekly", schedule=Cron(weekly_cron, timezone=timezone), parameters=weekly,
        description="Analyse new feedback, score churn risk and build the CX report.",
    )]
    if daily_cron:
        deployments.append(analyse_feedback.to_deployment(
            name="sada-daily-feedback", schedule=Cron(daily_cron, timezone=timezone),
            parameters=daily,
            description="Analyse the day's new feedback.",
        ))
    return deployments


def notify_deployment() -> Any:
    """The ``sada-notify`` deployment (no schedule): the alert automation runs it on a failed or late run."""
    from sada.flows.notify import notify_run

    return notify_run.to_deployment(name="sada-notify", description="E-mail or post an alert about a scheduled run.")
