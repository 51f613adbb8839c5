"""Plain `sada status`: one line per deployment, and one for a run in flight when there is one."""

from __future__ import annotations

from sada.flows.status import status_lines


def _report(running: dict | None) -> dict:
    return {"server": "up", "api_url": "http://127.0.0.1:4200/api", "healthy": False,
            "problems": ["cx-weekly: last run calm-owl Failed: model not found"],
            "deployments": [
                {"name": "cx-weekly", "last_run": {"name": "calm-owl", "state": "Failed", "started": "2026-03-01T06:00"},
                 "rows": None, "next_run": None, "running": running},
                {"name": "cx-daily", "last_run": None, "rows": None, "next_run": "2026-03-02T06:00", "running": None},
            ]}


def test_the_run_in_flight_is_printed_beside_the_last_ended_one() -> None:
    running = {"id": "1", "name": "brisk-fox", "state": "Running", "message": None,
               "scheduled": "2026-03-01T06:01", "started": "2026-03-01T06:01:02", "ended": None}
    lines = status_lines(_report(running))
    weekly = [line for line in lines if line.startswith("cx-weekly")]
    assert weekly[0].split()[:3] == ["cx-weekly", "last", "Failed"]  # the failure stays the last run
    assert weekly[1].split() == ["cx-weekly", "running", "brisk-fox", "(Running)", "since", "2026-03-01T06:01:02"]
    assert lines[-1] == "problem      cx-weekly: last run calm-owl Failed: model not found"


def test_no_running_line_without_a_run_in_flight_and_a_pending_one_shows_when_it_was_due() -> None:
    lines = status_lines(_report(None))
    assert not any(" running " in line for line in lines)
    assert [line.split()[:3] for line in lines[1:3]] == [["cx-weekly", "last", "Failed"], ["cx-daily", "last", "never"]]
    pending = {"name": "slow-cat", "state": "Paused", "started": None, "scheduled": "2026-03-01T06:01"}
    assert "cx-weekly            running slow-cat (Paused) since 2026-03-01T06:01" in status_lines(_report(pending))
