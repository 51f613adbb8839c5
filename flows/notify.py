"""Flow ``sada-notify``: the alert a Prefect automation sends when a scheduled run fails, crashes or is late.

``sada serve`` registers it beside the scheduled deployments and creates the automation
(``flows/serving.py``); the message and the targets are :mod:`sada.pipeline.notify`'s.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_UI_URL

from sada.pipeline.notify import load_notify_settings, run_alert, send_alert

__all__ = ["notify_run", "run_details"]

#: A late run that has started (or was skipped by the late-runs policy) needs no alert of its own.
_STILL_LATE = {"Late", "Scheduled"}


def run_details(flow_run_id: str) -> dict[str, Any]:
    """What an alert says about a flow run: names, state, message, times and its page in the Prefect UI."""
    run_id = UUID(flow_run_id.removeprefix("prefect.flow-run."))
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        deployment = client.read_deployment(run.deployment_id).name if run.deployment_id else run.name
    ui = PREFECT_UI_URL.value()
    return {
        "id": str(run.id), "name": run.name, "deployment": deployment,
        "state": run.state.name if run.state else "Unknown",
        "message": run.state.message if run.state else None,
        "scheduled": run.expected_start_time.isoformat() if run.expected_start_time else None,
        "started": run.start_time.isoformat() if run.start_time else None,
        "ended": run.end_time.isoformat() if run.end_time else None,
        "url": f"{ui.rstrip('/')}/runs/flow-run/{run.id}" if ui else None,
    }


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[10, 60, 300])
def send(subject: str, body: str, details: dict[str, Any]) -> list[str]:
    return send_alert(subject, body, load_notify_settings(), details)


@flow(name="sada-notify", log_prints=True)
def notify_run(flow_run_id: str, event: str = "") -> dict[str, Any]:
    """Send the alert about ``flow_run_id`` (the automation passes the event's resource id)."""
    logger = get_run_logger()
    details = run_details(flow_run_id)
    if event.endswith(".Late") and details["state"] not in _STILL_LATE:
        logger.info("run %s was late and is now %s: no alert", details["name"], details["state"])
        return {"sent": [], "run": details}
    subject, body = run_alert(details)
    sent = send(subject, body, details)
    logger.info("alert about %s (%s) sent to %s", details["name"], details["state"], ", ".join(sent) or "nobody")
    return {"sent": sent, "run": details}
