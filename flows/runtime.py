"""How Sada's flows run: Prefect defaults that keep data on the machine, and the task runner.

Call :func:`configure_prefect` before the first flow run (the CLI does):
Prefect's server otherwise tries to send telemetry, and CX data is private.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from functools import lru_cache
from typing import Any

__all__ = ["INFERENCE_THREADS_ENV", "PREFECT_DEFAULTS", "configure_prefect", "dask_worker_cores", "quiet_task_logs",
           "restore_allocator", "task_runner"]

logger = logging.getLogger(__name__)

#: Environment variable that fixes the cores each Dask worker's classifier uses (overrides the share).
INFERENCE_THREADS_ENV = "SADA_INFERENCE_THREADS"

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


#: glibc's ``mallopt`` parameters, and the values glibc itself grows them to (its dynamic maximum on 64-bit).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_TRIM_BYTES, _MMAP_BYTES = 64 << 20, 32 << 20


@lru_cache(maxsize=1)
def restore_allocator() -> bool:
    """Give the C allocator back its room on a Dask worker; True when it was changed.

    Dask starts its workers with ``MALLOC_TRIM_THRESHOLD_=65536``. Setting any such variable turns off
    glibc's dynamic thresholds, so every freed activation tensor goes back to the system and the next
    forward pass faults its pages in again: the encoder ran at 67 texts/s instead of 347 in one process
    (measured, 512 texts, 2 threads; a plain spawned process without the variable: 391). Raising the trim
    and mmap thresholds at run time (``mallopt``) restores the speed: 407 texts/s. Runs once per process.
    """
    if not os.environ.get("MALLOC_TRIM_THRESHOLD_") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl): no such variable to undo
        return False
    changed = bool(libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_BYTES)) and bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_BYTES))
    logger.info("allocator thresholds raised for inference (MALLOC_TRIM_THRESHOLD_ was %s): %s",
                os.environ["MALLOC_TRIM_THRESHOLD_"], changed)
    return changed


def cores_share(cores: int, own_threads: int, host_threads: int) -> int:
    """A worker's share of its host's ``cores``: in proportion to its threads among all workers' there, at least 1.

    Example:
        >>> [cores_share(2, 1, 1), cores_share(2, 1, 2), cores_share(16, 2, 8), cores_share(2, 1, 4)]
        [2, 1, 4, 1]
    """
    return max(1, cores * own_threads // max(host_threads, own_threads, 1))


@lru_cache(maxsize=1)
def dask_worker_cores() -> int | None:
    """The cores this process's classifier should use when it is a Dask worker; None when it is not one.

    ``SADA_INFERENCE_THREADS`` when set; else this worker's :func:`cores_share` of the cores it may run
    on, among the workers the scheduler knows on its host (one worker on 2 cores: 2; two: 1 each).
    A worker process starts with ``OMP_NUM_THREADS=1`` (Dask's default for thread-parallel work), which
    would leave a torch encoder on one core; the int8 encoder's ONNX Runtime pool is sized with this
    count too (:func:`sada.models.encoder.set_inference_threads`), its threads unpinned, so two workers
    on one host never share pinned cores. Worked out once per process.
    """
    if "distributed" not in sys.modules:  # not imported: this process is no Dask worker
        return None
    from distributed import get_client, get_worker  # already imported (checked above): no import cost

    try:
        worker = get_worker()
    except ValueError:
        return None
    fixed = os.environ.get(INFERENCE_THREADS_ENV)
    if fixed:
        return max(1, int(fixed))
    host = worker.address.rsplit(":", 1)[0]
    workers = get_client().scheduler_info(n_workers=-1)["workers"]
    host_threads = sum(int(w["nthreads"]) for addr, w in workers.items() if addr.rsplit(":", 1)[0] == host)
    cores = cores_share(len(os.sched_getaffinity(0)), int(worker.state.nthreads), host_threads)
    logger.info("Dask worker %s: classifier on %d cores (%d worker threads on this host)", worker.address, cores,
                host_threads)
    return cores
