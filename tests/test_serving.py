"""Scheduled runs for real: `sada serve` starts a Prefect server with its scheduler, runs fire and alerts arrive.

The alert targets are real: an SMTP server (aiosmtpd) and an HTTP server started by the test on
127.0.0.1. The slow tests run `sada serve` as a team would, in its own process with its own SADA_HOME,
and wait for an every-minute schedule to fire.
"""

from __future__ import annotations

import csv
import email
import email.policy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from sada.pipeline.errors import ConfigError
from sada.pipeline.notify import NotificationError, NotifySettings, load_notify_settings, run_alert, send_alert

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus" / "feedback.csv"
SADA = [sys.executable, "-m", "sada.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Inbox:
    """aiosmtpd handler: every message the SMTP server accepts, parsed."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_inbox():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def webhook_inbox():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()


RUN = {"deployment": "sada-daily-feedback", "name": "brave-otter", "state": "Failed",
       "message": "expected a classifier artifact at /srv/models/mine, found none",
       "scheduled": "2026-12-07T05:00:00+00:00", "url": "http://127.0.0.1:4200/runs/flow-run/1"}


def test_alert_email_reaches_the_smtp_server(smtp_inbox):
    port, inbox = smtp_inbox
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=port, email_to="cx@bank.example, ops@bank.example",
                              email_from="sada@bank.example")
    assert send_alert(*run_alert(RUN), settings) == ["email"]
    (message,) = inbox.messages
    assert message["Subject"] == "[Sada] sada-daily-feedback: run brave-otter Failed"
    assert message["To"] == "cx@bank.example, ops@bank.example"
    body = message.get_content()
    assert "/srv/models/mine" in body and "http://127.0.0.1:4200/runs/flow-run/1" in body


def test_alert_posts_json_to_the_webhook(webhook_inbox):
    url, received = webhook_inbox
    assert send_alert(*run_alert(RUN), NotifySettings(webhook_url=url), details=RUN) == ["webhook"]
    (payload,) = received
    assert payload["subject"].endswith("brave-otter Failed")
    assert payload["text"].startswith(payload["subject"]) and payload["run"]["state"] == "Failed"


def test_a_dead_target_does_not_stop_the_other(smtp_inbox):
    port, inbox = smtp_inbox
    dead = f"http://127.0.0.1:{_free_port()}/hook"  # nothing listens there
    settings = NotifySettings(smtp_host="127.0.0.1", smtp_port=port, email_to="cx@x.example", webhook_url=dead)
    assert send_alert(*run_alert(RUN), settings) == ["email"]
    assert len(inbox.messages) == 1
    with pytest.raises(NotificationError, match="webhook"):
        send_alert(*run_alert(RUN), NotifySettings(webhook_url=dead))


@pytest.mark.parametrize("env, missing", [
    ({"SADA_NOTIFY_SMTP_HOST": "mail.example"}, "SADA_NOTIFY_EMAIL_TO"),   # a server but nobody to tell
    ({"SADA_NOTIFY_EMAIL_TO": "cx@x.example"}, "SADA_NOTIFY_SMTP_HOST"),   # recipients but no server
    ({"SADA_NOTIFY_SMTP_PORT": "smtp"}, "SADA_NOTIFY_SMTP_PORT"),          # not a port number
])
def test_half_configured_alerts_are_a_clear_error(monkeypatch, env, missing):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=missing):
        load_notify_settings()


def test_no_target_configured_means_no_alert(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SADA_NOTIFY_"):
            monkeypatch.delenv(name)
    assert load_notify_settings().targets == []
    assert send_alert("s", "b", load_notify_settings()) == []


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A team's shell: its own Sada home, no Prefect API configured, nothing from the test process's Prefect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "SADA_NOTIFY_"))}
    return {**env, "SADA_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect-client"), **extra}


@pytest.mark.slow
def test_unreachable_prefect_server_is_a_one_line_error(tmp_path):
    dead = f"http://127.0.0.1:{_free_port()}/api"
    result = subprocess.run([*SADA, "serve", "--input", str(tmp_path / "*.csv")], cwd=tmp_path, timeout=120,
                            env=_env(tmp_path, PREFECT_API_URL=dead), capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"Error: expected a Prefect server at PREFECT_API_URL={dead}, found none answering ([Errno 111] "
        "Connection refused); start it (`prefect server start`) or unset PREFECT_API_URL so that `sada serve` "
        "starts one"]
    status = subprocess.run([*SADA, "status", "--json"], cwd=tmp_path, timeout=120,
                            env=_env(tmp_path, PREFECT_API_URL=dead), capture_output=True, text=True)
    assert status.returncode == 1
    assert json.loads(status.stdout)["server"] == "down"


def _sample(path: Path, rows: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with CORPUS.open(encoding="utf-8") as src, path.open("w", encoding="utf-8", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        for i, row in zip(range(rows + 1), reader):
            writer.writerow(row[:8])
    return path


def _status(tmp_path: Path) -> tuple[int, dict]:
    result = subprocess.run([*SADA, "status", "--json"], cwd=tmp_path, env=_env(tmp_path), timeout=120,
                            capture_output=True, text=True)
    return result.returncode, json.loads(result.stdout)


def _daily(status: dict) -> dict:
    return next((d for d in status["deployments"] if d["name"] == "sada-daily-feedback"), {})


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen:
    log = (tmp_path / "serve.log").open("w")  # read back on failure
    return subprocess.Popen([*SADA, "serve", "--input", str(tmp_path / "in" / "*.csv"), "--daily-cron", "* * * * *",
                             "--port", str(_free_port()), *args], cwd=tmp_path, env=_env(tmp_path, **env),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen, tmp_path: Path) -> None:
    """Stop `sada serve` as systemd does (SIGTERM; SIGINT may be ignored in a background job)."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    server = tmp_path / "home" / "prefect" / "server.json"
    if server.exists():  # never leave a Prefect server behind
        os.killpg(json.loads(server.read_text())["pid"], signal.SIGKILL)


@pytest.mark.slow
def test_served_schedule_fires_and_status_reports_the_run(tmp_path):
    """The README's first example: no Prefect server started by hand, an every-minute schedule runs."""
    from sada.pipeline.store import Store, analysis

    _sample(tmp_path / "in" / "feedback.csv", 8)
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    process = _serve(tmp_path, "--db", url)
    try:
        deadline, status = time.monotonic() + 420, {}
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(10)
            code, status = _status(tmp_path)
            if (_daily(status).get("last_run") or {}).get("state") == "Completed":
                break
        log = (tmp_path / "serve.log").read_text()
        daily = _daily(status)
        assert (daily.get("last_run") or {}).get("state") == "Completed", log[-3000:]
        assert code == 0 and status["healthy"] and status["server"] == "up"
        assert daily["schedule"] == ["* * * * *"] and daily["timezone"] == "UTC"
        assert {k: daily["rows"][k] for k in ("rows_read", "analysed", "quarantined")} == {
            "rows_read": 8, "analysed": 8, "quarantined": 0}
        assert daily["next_run"] > daily["last_run"]["scheduled"]
        assert Store.open(url).count(analysis) == 8
        assert status["api_url"] == json.loads((tmp_path / "home" / "prefect" / "server.json").read_text())["url"]
    finally:
        _stop(process, tmp_path)
    assert not (tmp_path / "home" / "prefect" / "server.json").exists()  # the server went with `sada serve`


@pytest.mark.slow
def test_failed_scheduled_run_is_e_mailed(tmp_path, smtp_inbox):
    """A run of the served deployment fails (its model is missing): the alert automation e-mails the team.

    The run is scheduled through Prefect's API, as `prefect deployment run` or the UI's "Run" does.
    Prefect holds the events of a run that its own scheduler created less than 5 minutes before it
    starts for up to 15 minutes (their leader, a "Scheduled" event, is never sent; runs of a daily or
    weekly schedule are created days ahead), so an every-minute schedule alone would first alert
    about 6 minutes after `sada serve` starts; test_served_schedule_fires_and_status_reports_the_run
    covers the schedule itself.
    """
    port, inbox = smtp_inbox
    _sample(tmp_path / "in" / "feedback.csv", 3)
    missing_model = tmp_path / "models" / "mine"
    process = _serve(tmp_path, "--db", f"sqlite:///{tmp_path / 's.sqlite'}", "--model", str(missing_model),
                     SADA_NOTIFY_SMTP_HOST="127.0.0.1", SADA_NOTIFY_SMTP_PORT=str(port),
                     SADA_NOTIFY_EMAIL_TO="cx-team@example.com")
    try:
        url = _serving_url(process, tmp_path)
        run = subprocess.run([sys.executable, "-m", "prefect", "deployment", "run",
                              "analyse-feedback/sada-daily-feedback", "--flow-run-name", "mailed-by-test"],
                             cwd=tmp_path, env=_env(tmp_path, PREFECT_API_URL=url), timeout=120,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not inbox.messages and process.poll() is None:
            time.sleep(2)
        log = (tmp_path / "serve.log").read_text()
        assert inbox.messages, log[-3000:]
        message = inbox.messages[0]
        assert message["To"] == "cx-team@example.com"
        assert message["Subject"] == "[Sada] sada-daily-feedback: run mailed-by-test Failed"
        assert str(missing_model) in message.get_content()
        code, status = _status(tmp_path)
        assert code == 1 and not status["healthy"]
        assert any(p.startswith("sada-daily-feedback: last run") and "Failed" in p for p in status["problems"])
    finally:
        _stop(process, tmp_path)


def _serving_url(process: subprocess.Popen, tmp_path: Path, wait: float = 300) -> str:
    """The API URL `sada serve` prints once its deployments and alert automation are in place."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"^serving .* on the Prefect server at (\S+) ", (tmp_path / "serve.log").read_text(), re.M)
        if found:
            return found.group(1)
        time.sleep(1)
    raise AssertionError((tmp_path / "serve.log").read_text()[-3000:])
