"""Tell a team that a scheduled run failed, crashed or is late: SMTP e-mail and/or a webhook.

The targets are configured by environment variables (:class:`NotifySettings`); the
scheduled runs' Prefect automation (``flows/serving.py``) starts the ``sada-notify``
flow, which composes the message with :func:`run_alert` and sends it with
:func:`send_alert`.

>>> subject, body = run_alert({"deployment": "sada-weekly", "name": "calm-fox", "state": "Failed",
...                            "message": "model not found", "scheduled": "2026-12-07T06:00:00+00:00"})
>>> subject
'[Sada] sada-weekly: run calm-fox Failed'
>>> body.splitlines()[0]
'The scheduled run calm-fox of sada-weekly is Failed.'
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Any

import httpx
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sada.pipeline.errors import ConfigError, SadaError

__all__ = ["NotifySettings", "NotificationError", "load_notify_settings", "run_alert", "send_alert"]

logger = logging.getLogger(__name__)

#: What each state means for the team, and what to do about it.
_ADVICE = {
    "Failed": "The run stopped with an error: the message above says which input or setting to fix.",
    "Crashed": "The run's process died (out of memory, killed, machine restarted). The next run resumes: "
               "items already stored are skipped.",
    "TimedOut": "The run took longer than allowed.",
    "Late": "The run did not start on time: is `sada serve` running? (`sada status --json`)",
}


class NotificationError(SadaError, RuntimeError):
    """No configured notification target accepted the alert."""


class NotifySettings(BaseSettings):
    """Where alerts go. Each field maps to ``SADA_NOTIFY_<NAME>``; no target configured, no alert."""

    model_config = SettingsConfigDict(env_prefix="SADA_NOTIFY_", extra="ignore")

    smtp_host: str | None = Field(default=None, description="SMTP server that sends the e-mails.")
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_ssl: bool = Field(default=False, description="Connect with TLS from the start (port 465).")
    smtp_user: str | None = None
    smtp_password: str | None = None
    email_from: str = "sada@localhost"
    email_to: str = Field(default="", description="Recipients, comma-separated.")
    webhook_url: str | None = Field(default=None, description="URL that receives a JSON POST per alert.")

    @property
    def recipients(self) -> list[str]:
        return [r.strip() for r in self.email_to.split(",") if r.strip()]

    @property
    def targets(self) -> list[str]:
        """``email`` and/or ``webhook``: the targets that are fully configured."""
        return (["email"] if self.smtp_host and self.recipients else []) + (["webhook"] if self.webhook_url else [])


def load_notify_settings() -> NotifySettings:
    """Notification settings from the environment.

    Raises:
        ConfigError: a value is invalid, or e-mail is half configured; the message names the variable.
    """
    try:
        settings = NotifySettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "SADA_NOTIFY_" + str(first["loc"][0]).upper() if first["loc"] else "SADA_NOTIFY_*"
        raise ConfigError(f"invalid {name}: {first['msg']}") from None
    if bool(settings.smtp_host) != bool(settings.recipients):
        given, missing = (("SADA_NOTIFY_SMTP_HOST", "SADA_NOTIFY_EMAIL_TO") if settings.smtp_host
                          else ("SADA_NOTIFY_EMAIL_TO", "SADA_NOTIFY_SMTP_HOST"))
        raise ConfigError(f"expected {missing} beside {given} for e-mail alerts, found it empty; set both or neither")
    return settings


def run_alert(run: dict[str, Any]) -> tuple[str, str]:
    """Subject and plain-text body of an alert about one flow run.

    ``run`` holds ``deployment``, ``name``, ``state`` and optionally ``message``, ``scheduled``,
    ``started``, ``ended`` and ``url`` (the run's page in the Prefect UI).
    """
    state = run["state"]
    subject = f"[Sada] {run['deployment']}: run {run['name']} {state}"
    lines = [f"The scheduled run {run['name']} of {run['deployment']} is {state}."]
    if run.get("message"):
        lines += ["", str(run["message"])]
    lines.append("")
    lines += [f"{label}: {run[key]}" for key, label in
              (("scheduled", "scheduled for"), ("started", "started"), ("ended", "ended"), ("url", "details"))
              if run.get(key)]
    if state in _ADVICE:
        lines += ["", _ADVICE[state]]
    return subject, "\n".join(lines) + "\n"


def send_alert(subject: str, body: str, settings: NotifySettings, details: dict[str, Any] | None = None) -> list[str]:
    """Send one alert to every configured target; returns the targets that took it.

    A target that fails is logged and the others are still tried.

    Raises:
        NotificationError: targets are configured and none of them took the alert.
    """
    sent, errors = [], []
    for target in settings.targets:
        try:
            (_send_email if target == "email" else _post_webhook)(subject, body, settings, details or {})
            sent.append(target)
        except (OSError, smtplib.SMTPException, httpx.HTTPError) as exc:
            logger.error("alert not sent by %s: %s", target, exc)
            errors.append(f"{target}: {exc}")
    if errors and not sent:
        raise NotificationError(f"expected an alert to reach {', '.join(settings.targets)}, found "
                                f"{'; '.join(errors)}; check the SADA_NOTIFY_* settings")
    return sent


def _send_email(subject: str, body: str, settings: NotifySettings, _: dict[str, Any]) -> None:
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, settings.email_from, ", ".join(settings.recipients)
    message.set_content(body)
    smtp_class = smtplib.SMTP_SSL if settings.smtp_ssl else smtplib.SMTP
    with smtp_class(settings.smtp_host or "", settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)


def _post_webhook(subject: str, body: str, settings: NotifySettings, details: dict[str, Any]) -> None:
    # "text" is what Slack- and Mattermost-style incoming webhooks display.
    payload = {"subject": subject, "text": f"{subject}\n{body}", "run": details}
    httpx.post(settings.webhook_url or "", json=payload, timeout=30).raise_for_status()
