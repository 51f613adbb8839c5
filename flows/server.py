"""The Prefect server that fires the schedules: one ``sada serve`` starts and watches, or one it checks.

Prefect's temporary (ephemeral) server, which a flow starts when no ``PREFECT_API_URL`` is
configured, runs no scheduler service: deployments served against it never run. So when no
API is configured, :class:`LocalServer` starts ``prefect server start`` with its services
(scheduler, late runs, automations) on the loopback interface, with its database and log in
``$SADA_HOME/prefect`` and telemetry off, and restarts it if it dies. When an API is
configured, :func:`check_server` makes sure it answers and schedules before anything is served.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

import httpx
from prefect.settings import PREFECT_API_URL

from sada.pipeline.errors import ConfigError

__all__ = ["LocalServer", "check_server", "configured_api_url", "local_server_url", "server_env"]

logger = logging.getLogger(__name__)

#: The port Prefect's UI is usually found on; another free one is taken when it is busy.
DEFAULT_PORT = 4200
STARTUP_SECONDS = 180  # a first start migrates the database: slow on 2 cores


def configured_api_url() -> str | None:
    """``PREFECT_API_URL`` from the environment or the active Prefect profile; None when unset."""
    return PREFECT_API_URL.value() or None


def server_env(home: Path, port: int) -> dict[str, str]:
    """Environment of a Sada-managed Prefect server: its own home, loopback only, no telemetry, scheduler on."""
    return {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "true",
        "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "true",
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "true",
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        # the server's own settings win over a profile that points clients elsewhere
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
    }


def check_server(url: str, timeout: float = 10) -> dict[str, Any]:
    """The server's settings, after checking that it answers and that its scheduler is enabled.

    Raises:
        ConfigError: the server does not answer, or its scheduler service is switched off.
    """
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=timeout).raise_for_status()
        settings = httpx.get(f"{url.rstrip('/')}/admin/settings", timeout=timeout).raise_for_status().json()
    except httpx.HTTPError as exc:
        raise ConfigError(f"expected a Prefect server at PREFECT_API_URL={url}, found none answering ({exc}); "
                          "start it (`prefect server start`) or unset PREFECT_API_URL so that "
                          "`sada serve` starts one") from None
    scheduler = settings.get("server", {}).get("services", {}).get("scheduler", {})
    if not scheduler.get("enabled", True):
        raise ConfigError(f"expected the Prefect server at {url} to run its scheduler service, found it "
                          "switched off; start it without --no-scheduler "
                          "(PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED=true)")
    return settings


def local_server_url(home: Path) -> str | None:
    """The API URL of the server a running ``sada serve`` started from ``home``, if one is up."""
    try:
        state = json.loads((home / "prefect" / "server.json").read_text(encoding="utf-8"))
        httpx.get(f"{state['url']}/health", timeout=5).raise_for_status()
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return None
    return str(state["url"])


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise ConfigError("expected a free TCP port on 127.0.0.1 for the Prefect server, found none")


class LocalServer:
    """A Prefect server with its services, started and supervised by this process.

    One per Sada home: a lock file keeps a second ``sada serve`` from sharing the database.
    """

    def __init__(self, home: Path, port: int = DEFAULT_PORT) -> None:
        self.home = home / "prefect"
        self.preferred_port = port
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._lock: IO[str] | None = None
        self._log: IO[bytes] | None = None
        self._stopping = threading.Event()  # set by stop(): the watcher must not start it again
        self._guard = threading.Lock()  # start/restart and stop never interleave

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def start(self) -> str:
        """Start the server and wait until it answers; returns its API URL.

        Raises:
            ConfigError: another ``sada serve`` holds this home, or the server did not come up
                (the message points at its log).
        """
        self.home.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            self._lock = (self.home / "serve.lock").open("w")
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._lock.close()
                self._lock = None
                raise ConfigError(f"expected one `sada serve` per Sada home, found another one running on "
                                  f"{self.home}; stop it, or give this one its own SADA_HOME") from None
        if not self.port:
            self.port = _free_port(self.preferred_port)
        if self._log is not None:
            self._log.close()
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
            env=server_env(self.home, self.port), stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_until_up()
        (self.home / "server.json").write_text(json.dumps({"url": self.url, "pid": self.process.pid}), "utf-8")
        logger.info("Prefect server with scheduler at %s (UI %s, log %s)", self.url, self.url[:-4], self.log_path)
        return self.url

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                break
            try:
                httpx.get(f"{self.url}/health", timeout=5).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(1)
        self._stop()
        raise ConfigError(f"expected the Prefect server to answer on {self.url} within {STARTUP_SECONDS} s, "
                          f"found it did not; see {self.log_path}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> bool:
        """Restart the server if it died (same port, same database); True when it was restarted."""
        with self._guard:
            if self._stopping.is_set() or self.alive():
                return False
            code = self.process.returncode if self.process else None
            logger.error("the Prefect server exited (code %s); restarting it, see %s", code, self.log_path)
            self.restarts += 1
            self.start()
            return True

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s) and release the home; it is not restarted."""
        self._stopping.set()
        with self._guard:
            self._stop()

    def _stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        (self.home / "server.json").unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None
