"""How Sada's flows run: Prefect defaults that keep data on the machine, and the task runner.

Call :func:`configure_prefect` before the first flow run (the CLI does):
Prefect's server otherwise tries to send telemetry, and CX data is private.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["PREFECT_DEFAULTS", "configure_prefect", "quiet_task_logs", "task_runner"]

#: Set unless the environment already says otherwise.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # nothing leaves the machine
    "PREFECT_LOGGING_EXTRA_LOGGERS": "sada",  # library logs show in the Prefect UI
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",  # slow 2-core machines
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",  # library logs outside a flow run stay local
}


def configure_prefect() -> None:
    """Apply :data:`PREFECT_DEFAULTS` to the environment where it is silent."""
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def quiet_task_logs() -> None:
    """Keep Prefect's per-task state lines (``Finished in state Completed()``) off the console.

    For interactive commands such as ``sada run``: task failures are still shown (warnings
    and errors), and every task's state stays in the Prefect UI.
    """
    logging.getLogger("prefect.task_runs").setLevel(logging.WARNING)


def task_runner(dask_address: str | None = None, workers: int = 2) -> Any:
    """Threads by default; a dask.distributed cluster when ``dask_address`` is given.

    With Dask, point every worker at one Prefect server (PREFECT_API_URL):
    in ephemeral mode each worker would start a temporary server of its own.
    """
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=workers)
