"""``sada status``: what monitoring polls: each scheduled deployment's last run, its rows and its next run.

Read from the Prefect server that fires the schedules (``PREFECT_API_URL``, or the one a running
``sada serve`` started) and from the Sada store the deployment writes to. A deployment's last run
is its newest run that has ended; a run in flight is reported as ``running``, so a run that starts
(an every-minute schedule) never hides the failure before it. ``healthy`` is false when the server
does not answer, a deployment is missing or paused, its last run did not complete, or a run is late.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter, DeploymentFilterId, DeploymentFilterName, FlowRunFilter, FlowRunFilterState,
    FlowRunFilterStateName, FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy.exc import SQLAlchemyError

from sada.flows.deployments import SCHEDULED_DEPLOYMENTS
from sada.flows.server import configured_api_url, local_server_url
from sada.pipeline.config import load_settings
from sada.pipeline.errors import SadaError
from sada.pipeline.store import Store

__all__ = ["service_status", "status_lines"]

logger = logging.getLogger(__name__)

_UNHEALTHY_STATES = {"Failed", "Crashed", "TimedOut", "Cancelled"}
#: A run in one of these states has ended: the newest such run is a deployment's "last run".
_FINAL_STATES = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
#: A run in one of these states is in flight: reported as "running", never as the last run.
_ACTIVE_STATES = [StateType.RUNNING, StateType.CANCELLING, StateType.PAUSED]
#: The command each deployment's analysis is recorded under in the store's runs table.
_STORE_COMMAND = "analyse_feedback"


def service_status(home: Path) -> dict[str, Any]:
    """The status object of ``sada status --json`` (see the module docstring)."""
    url = configured_api_url() or local_server_url(home)
    status: dict[str, Any] = {"api_url": url, "server": "down", "healthy": False, "problems": [],
                              "deployments": [], "checked_at": _iso(datetime.now(UTC))}
    if url is None:
        status["problems"].append("no Prefect server: `sada serve` is not running and PREFECT_API_URL is not set")
        return status
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}), get_client(sync_client=True) as client:
            deployments = client.read_deployments(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=list(SCHEDULED_DEPLOYMENTS))))
            status["server"] = "up"
            status["deployments"] = [_deployment_status(client, d) for d in sorted(deployments, key=lambda d: d.name)]
    except Exception as exc:  # noqa: BLE001  (any failure to reach the server is reported, not raised)
        status["problems"].append(f"the Prefect server at {url} did not answer: {exc}")
        return status
    found = {d["name"] for d in status["deployments"]}
    if SCHEDULED_DEPLOYMENTS[0] not in found:  # the daily one may be switched off (--daily-cron off)
        status["problems"].append(f"deployment {SCHEDULED_DEPLOYMENTS[0]} is not registered: start `sada serve`")
    for d in status["deployments"]:
        status["problems"] += [f"{d['name']}: {p}" for p in d.pop("problems")]
    status["healthy"] = not status["problems"]
    return status


def status_lines(report: dict[str, Any]) -> list[str]:
    """The plain-text ``sada status``: the server, a line per deployment (and one for its run in flight), problems.

    Example:
        >>> report = {"server": "up", "api_url": "http://127.0.0.1:4200/api", "problems": [], "deployments": [
        ...     {"name": "cx-daily", "last_run": {"state": "Completed", "started": "2026-03-01T06:00:00"},
        ...      "rows": {"rows_read": 120}, "next_run": "2026-03-02T06:00:00",
        ...      "running": {"name": "brisk-fox", "state": "Running", "started": "2026-03-02T06:00:01"}}]}
        >>> print("\\n".join(status_lines(report)))
        server       up (http://127.0.0.1:4200/api)
        cx-daily             last Completed 2026-03-01T06:00:00  rows 120  next 2026-03-02T06:00:00
        cx-daily             running brisk-fox (Running) since 2026-03-02T06:00:01
    """
    lines = [f"server       {report['server']} ({report['api_url'] or 'none'})"]
    for d in report["deployments"]:
        last, rows, running = d["last_run"] or {}, d["rows"] or {}, d.get("running")
        lines.append(f"{d['name']:<20} last {last.get('state', 'never')} {last.get('started') or ''}  "
                     f"rows {rows.get('rows_read', '-')}  next {d['next_run'] or '-'}")
        if running:
            lines.append(f"{d['name']:<20} running {running['name']} ({running['state']}) since "
                         f"{running.get('started') or running.get('scheduled') or '-'}")
    return lines + [f"problem      {problem}" for problem in report["problems"]]


def _deployment_status(client: Any, deployment: Any) -> dict[str, Any]:
    by_id = DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))
    past = client.read_flow_runs(
        deployment_filter=by_id, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=1,
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_FINAL_STATES))))
    running = client.read_flow_runs(
        deployment_filter=by_id, sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=1,
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=_ACTIVE_STATES))))
    upcoming = client.read_flow_runs(
        deployment_filter=by_id, sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1,
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Scheduled"]))))
    late = client.read_flow_runs(
        deployment_filter=by_id, limit=50,
        flow_run_filter=FlowRunFilter(state=FlowRunFilterState(name=FlowRunFilterStateName(any_=["Late"]))))
    last = _run(past[0]) if past else None
    problems = []
    if deployment.paused:
        problems.append("paused")
    if last and last["state"] in _UNHEALTHY_STATES:
        problems.append(f"last run {last['name']} {last['state']}: {last['message'] or ''}".rstrip(": "))
    if late:
        problems.append(f"{len(late)} late run(s): is `sada serve` running?")
    schedules = [s.schedule for s in deployment.schedules or []]
    return {
        "name": deployment.name,
        "schedule": [getattr(s, "cron", None) or str(s) for s in schedules],
        "timezone": getattr(schedules[0], "timezone", None) if schedules else None,
        "paused": bool(deployment.paused),
        "last_run": last,
        "running": _run(running[0]) if running else None,
        "rows": _store_rows(deployment.parameters or {}, past[0]) if past else None,
        "next_run": _iso(upcoming[0].expected_start_time) if upcoming else None,
        "late_runs": len(late),
        "problems": problems,
    }


def _run(run: Any) -> dict[str, Any]:
    return {"id": str(run.id), "name": run.name, "state": run.state.name if run.state else None,
            "message": run.state.message if run.state else None, "scheduled": _iso(run.expected_start_time),
            "started": _iso(run.start_time), "ended": _iso(run.end_time)}


def _store_rows(parameters: dict[str, Any], run: Any) -> dict[str, Any] | None:
    """The counts the run's analysis wrote to the store's runs table (the first one it started)."""
    if run.start_time is None:
        return None
    try:
        url = load_settings(database_url=parameters.get("database_url")).database_url
        store = Store.open(url, migrate=False, create=False)
        started = run.start_time.astimezone(UTC).replace(tzinfo=None) - timedelta(seconds=1)
        recorded = store.first_run_since(_STORE_COMMAND, started)
        store.engine.dispose()
    except (SadaError, SQLAlchemyError, OSError) as exc:
        logger.warning("store of %s not readable: %s", run.name, exc)
        return None
    if recorded is None or (run.end_time and recorded["started_at"] > run.end_time.astimezone(UTC).replace(tzinfo=None)):
        return None
    keys = ("rows_read", "analysed", "quarantined", "duplicates", "languages", "status")
    return {k: recorded[k] for k in keys}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
