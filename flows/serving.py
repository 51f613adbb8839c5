"""``sada serve``: register the scheduled deployments, make sure they can fire, alert on failures, run them.

Steps, in order (:func:`serve`):

1. A Prefect server with a scheduler: the one ``PREFECT_API_URL`` names (checked), or one
   started and supervised here (:class:`sada.flows.server.LocalServer`).
2. The deployments are registered on a runner in this process, and each scheduled one must
   get a scheduled run from the server within :data:`SCHEDULING_SECONDS`: a server whose
   scheduler service does not run is an error, never a silent "serving".
3. Runs that fell due while nothing served them are resolved by the late-runs policy
   (:func:`late_runs_to_skip`): ``once`` (default) runs the newest of each deployment now,
   ``all`` runs every one, ``skip`` runs none.
4. A Prefect automation starts the ``sada-notify`` flow on every failed, crashed, timed-out or
   late run when a notification target is configured (:mod:`sada.pipeline.notify`).
5. The runner executes the runs (each in its own process) until stopped.
"""

from __future__ import annotations

import _thread
import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterExpectedStartTime, FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.runner import Runner
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.states import Cancelled

from sada.flows.server import LocalServer, check_server, configured_api_url
from sada.pipeline.errors import ConfigError
from sada.pipeline.notify import load_notify_settings, send_alert

__all__ = ["LATE_POLICIES", "NOTIFY_AUTOMATION", "late_runs_to_skip", "resolve_late_runs", "serve", "systemd_unit"]

logger = logging.getLogger(__name__)

LATE_POLICIES = ("once", "all", "skip")
#: A run this late when ``sada serve`` starts counts as missed (less is the runner's ordinary delay).
LATE_GRACE = timedelta(minutes=10)
#: How long a scheduled deployment may wait for its first scheduled run. Prefect's scheduler schedules a new or
#: changed deployment in its recent-deployments loop (every 5 s by default): measured 5 s after registering on
#: 2 busy cores. A server without a scheduler never does (measured), so waiting longer only delays the error.
SCHEDULING_SECONDS = 30
#: How often the runner asks the server for runs to start: a run started by hand (`prefect deployment run`, the
#: UI) and each alert's ``sada-notify`` run start within this (Prefect's default is 10 s; the alert waits twice).
RUNNER_QUERY_SECONDS = 2
NOTIFY_AUTOMATION = "sada: alert on failed, crashed or late runs"
ALERT_EVENTS = ["prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut",
                "prefect.flow-run.Late"]


def late_runs_to_skip(late: Sequence[dict[str, Any]], policy: str) -> list[dict[str, Any]]:
    """The missed runs the policy does not run: each run a dict with ``id``, ``deployment_id``, ``scheduled``.

    >>> runs = [{"id": 1, "deployment_id": "d", "scheduled": "2026-12-01T05:00"},
    ...         {"id": 2, "deployment_id": "d", "scheduled": "2026-12-02T05:00"},
    ...         {"id": 3, "deployment_id": "w", "scheduled": "2026-11-30T06:00"}]
    >>> [r["id"] for r in late_runs_to_skip(runs, "once")]
    [1]
    >>> [r["id"] for r in late_runs_to_skip(runs, "skip")], late_runs_to_skip(runs, "all")
    ([1, 2, 3], [])
    """
    if policy not in LATE_POLICIES:
        raise ConfigError(f"expected --late-runs to be one of {', '.join(LATE_POLICIES)}, found {policy!r}")
    if policy == "all":
        return []
    if policy == "skip":
        return list(late)
    newest: dict[Any, dict[str, Any]] = {}
    for run in late:
        kept = newest.get(run["deployment_id"])
        if kept is None or run["scheduled"] > kept["scheduled"]:
            newest[run["deployment_id"]] = run
    keep = {id(r) for r in newest.values()}
    return [r for r in late if id(r) not in keep]


def _systemd_quote(arg: str) -> str:
    arg = arg.replace("%", "%%")
    if arg and not any(ch in arg for ch in ' \t"\'\\;$'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(command: Sequence[str], user: str, workdir: Path, env_file: Path | None = None) -> str:
    """A systemd service that keeps ``command`` (a ``sada serve`` command line) running across reboots.

    >>> unit = systemd_unit(["/opt/sada/.venv/bin/sada", "serve", "--input", "/data/in", "--weekly-cron",
    ...                      "0 6 * * 1"], "sada", Path("/opt/sada"), Path("/etc/sada/sada.env"))
    >>> [line for line in unit.splitlines() if line.startswith("ExecStart")]
    ['ExecStart=/opt/sada/.venv/bin/sada serve --input /data/in --weekly-cron "0 6 * * 1"']
    """
    lines = ["[Unit]", "Description=Sada: scheduled analysis of customer feedback (sada serve)",
             "Wants=network-online.target", "After=network-online.target postgresql.service", "",
             "[Service]", f"User={user}", f"WorkingDirectory={workdir}"]
    if env_file is not None:
        lines.append(f"EnvironmentFile=-{env_file}")
    lines += ["ExecStart=" + " ".join(_systemd_quote(a) for a in command),
              "Restart=always", "RestartSec=30", "TimeoutStopSec=90", "", "[Install]", "WantedBy=multi-user.target"]
    return "\n".join(lines) + "\n"


def serve(deployments: list[Any], notify_deployment: Any, home: Path, late_runs: str = "once",
          port: int = 4200) -> None:
    """Serve ``deployments`` (and the notification flow) until interrupted; see the module docstring.

    Raises:
        ConfigError: the configured Prefect server is unreachable or runs no scheduler, the local
            one does not start, the late-runs policy or a notification setting is invalid.
    """
    late_runs_to_skip([], late_runs)  # validate before anything starts
    notify = load_notify_settings()
    url, server = configured_api_url(), None
    if url:
        check_server(url)
    else:
        server = LocalServer(home, port)
        url = server.start()
        os.environ["PREFECT_API_URL"] = url  # the flow-run processes the runner starts inherit it
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            _serve_on(url, deployments, notify_deployment, late_runs, notify, server)
    finally:
        if server is not None:
            server.stop()


def _serve_on(url: str, deployments: list[Any], notify_deployment: Any, late_runs: str, notify: Any,
              server: LocalServer | None) -> None:
    runner = Runner(name="sada-serve", query_seconds=RUNNER_QUERY_SECONDS, pause_on_shutdown=False)
    ids = {d.name: runner.add_deployment(d) for d in deployments}
    notify_id = runner.add_deployment(notify_deployment)
    scheduled = [ids[d.name] for d in deployments if d.schedules]
    _wait_for_scheduled_runs(url, scheduled)
    resolve_late_runs(scheduled, late_runs, notify)
    _sync_alert_automation(list(ids.values()), notify_id, bool(notify.targets))
    print(f"serving {', '.join(ids)}: schedules fire on the Prefect server at {url} "
          f"(UI {url.removesuffix('/api')}); alerts: {', '.join(notify.targets) or 'none configured'}", flush=True)
    if server is not None:
        threading.Thread(target=_watch_server, args=(server,), daemon=True, name="sada-server-watch").start()
    try:
        asyncio.run(runner.start())
    except KeyboardInterrupt:
        logger.info("stopped")


def _watch_server(server: LocalServer, every: float = 10) -> None:
    """Restart the local server when it dies; stop serving when it cannot be restarted."""
    while True:
        time.sleep(every)
        try:
            server.ensure_running()
        except ConfigError as exc:
            logger.error("%s: stopping", exc)
            _thread.interrupt_main()
            return


def _client() -> Any:
    return get_client(sync_client=True)


def _scheduled_runs(deployment_ids: list[UUID], before: datetime | None = None) -> list[Any]:
    run_filter = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])))
    if before is not None:
        run_filter.expected_start_time = FlowRunFilterExpectedStartTime(before_=before)
    with _client() as client:
        return client.read_flow_runs(flow_run_filter=run_filter, limit=200,
                                     deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=deployment_ids)))


def _wait_for_scheduled_runs(url: str, deployment_ids: list[UUID]) -> None:
    """Each scheduled deployment gets a scheduled run, or the server runs no scheduler: an error."""
    deadline = time.monotonic() + SCHEDULING_SECONDS
    missing = set(deployment_ids)
    while missing:
        missing -= {run.deployment_id for run in _scheduled_runs(list(missing))}
        if not missing:
            return
        if time.monotonic() > deadline:
            raise ConfigError(f"expected the Prefect server at {url} to schedule runs of the deployments within "
                              f"{SCHEDULING_SECONDS} s, found none scheduled: its scheduler service is not running "
                              "(a temporary server, or one started with --no-services); start it with "
                              "`prefect server start`, or unset PREFECT_API_URL so that `sada serve` starts one")
        time.sleep(2)


def resolve_late_runs(deployment_ids: list[UUID], policy: str, notify: Any) -> None:
    late = [{"id": r.id, "deployment_id": r.deployment_id, "scheduled": r.expected_start_time, "name": r.name}
            for r in _scheduled_runs(deployment_ids, before=datetime.now(timezone.utc) - LATE_GRACE)]
    skipped = late_runs_to_skip(late, policy)
    with _client() as client:
        for run in skipped:
            client.set_flow_run_state(run["id"], Cancelled(
                message=f"missed while nothing served the schedule; not run (late-runs policy {policy!r})"),
                force=True)
    if late:
        message = (f"{len(late)} scheduled run(s) fell due while `sada serve` was not running "
                   f"(oldest {min(r['scheduled'] for r in late):%Y-%m-%d %H:%M %Z}); late-runs policy {policy!r}: "
                   f"{len(late) - len(skipped)} run now, {len(skipped)} skipped")
        logger.warning(message)
        if notify.targets:
            send_alert("[Sada] missed scheduled runs", message + "\n", notify, {"late": len(late)})


def _sync_alert_automation(deployment_ids: list[UUID], notify_id: UUID, enabled: bool) -> None:
    """One automation (re)created per serve: failed, crashed, timed-out and late runs start ``sada-notify``."""
    with _client() as client:
        for automation in client.read_automations_by_name(NOTIFY_AUTOMATION):
            client.delete_automation(automation.id)
        if not enabled:
            logger.warning("no alert target configured (SADA_NOTIFY_SMTP_HOST and SADA_NOTIFY_EMAIL_TO, or "
                           "SADA_NOTIFY_WEBHOOK_URL): failed runs show only in `sada status` and the Prefect UI")
            return
        client.create_automation(AutomationCore(
            name=NOTIFY_AUTOMATION,
            description="Runs the sada-notify flow, which e-mails or posts the run's state to the team.",
            trigger=EventTrigger(
                expect=set(ALERT_EVENTS), posture=Posture.Reactive, threshold=1, within=timedelta(0),
                match_related={"prefect.resource.role": "deployment",
                               "prefect.resource.id": [f"prefect.deployment.{i}" for i in deployment_ids]}),
            actions=[RunDeployment(source="selected", deployment_id=notify_id,
                                   parameters={"flow_run_id": "{{ event.resource.id }}", "event": "{{ event.event }}"})],
        ))
