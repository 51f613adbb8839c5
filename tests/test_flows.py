"""The Prefect flows, run for real on a temporary Prefect server (prefect_test_harness).

This also guards the Prefect/FastAPI pins: if an upgrade breaks the ephemeral
server, these tests fail.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from sada.flows.runtime import configure_prefect
from sada.pipeline.errors import InputError
from sada.pipeline.store import Store, analysis, feedback

configure_prefect()

from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from sada.flows.analyse_feedback import analyse_feedback  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "corpus" / "feedback.csv"


@pytest.fixture(scope="module")
def prefect_api() -> str:
    """A temporary Prefect server for this module; its URL is exported so subprocesses use it too."""
    from prefect.settings import PREFECT_API_URL

    with prefect_test_harness(server_startup_timeout=120):
        url = PREFECT_API_URL.value()
        previous = os.environ.get("PREFECT_API_URL")
        os.environ["PREFECT_API_URL"] = url
        try:
            yield url
        finally:
            if previous is None:
                os.environ.pop("PREFECT_API_URL", None)
            else:
                os.environ["PREFECT_API_URL"] = previous


def _corpus_sample(path: Path, rows: int) -> Path:
    with CORPUS.open(encoding="utf-8") as src, path.open("w", encoding="utf-8", newline="") as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        for i, row in enumerate(reader):
            if i > rows:
                break
            writer.writerow(row[:8])  # the columns a CX export has: id, text, customer, date, source, ...
    return path


def _store_contents(url: str) -> tuple[list, list]:
    """Everything a run writes about items, without run ids and timestamps."""
    store = Store.open(url)
    skip = {"run_id", "ingested_at"}
    with store.engine.connect() as c:
        items = sorted(tuple(v for k, v in r._mapping.items() if k not in skip)
                       for r in c.execute(select(feedback)))
        results = sorted((r.feedback_id, r.model_version, r.sentiment, r.is_complaint)
                         for r in c.execute(select(analysis)))
    store.engine.dispose()
    return [tuple(map(str, i)) for i in items], results


def test_flow_counts_add_up_and_second_run_writes_nothing(prefect_api, tmp_path, db_url):
    source = _corpus_sample(tmp_path / "feedback.csv", 120)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")  # must not stop the good file
    first = analyse_feedback(sources=[str(tmp_path / "*.csv"), str(tmp_path / "broken.xlsx")], database_url=db_url, classify_items=False,
                             batch_size=25)
    assert first["rows_read"] == 121
    assert (first["analysed"], first["quarantined"], first["duplicates"]) == (120, 1, 0)
    assert first["quarantine_reasons"] == {"unreadable_file": 1}
    assert sum(first["languages"].values()) == 120
    second = analyse_feedback(sources=[str(source)], database_url=db_url, classify_items=False, batch_size=25)
    assert (second["rows_read"], second["analysed"], second["duplicates"]) == (120, 0, 120)


def test_flow_publishes_summary_artifact(prefect_api, tmp_path):
    import httpx

    source = _corpus_sample(tmp_path / "feedback.csv", 30)
    analyse_feedback(sources=[str(source)], database_url=f"sqlite:///{tmp_path / 's.sqlite'}",
                     classify_items=False)
    # Prefect 3.8's client sends nulls this server version rejects, so ask the REST API directly.
    body = {"artifacts": {"key": {"any_": ["feedback-summary"]}}, "limit": 50, "offset": 0, "sort": "CREATED_DESC"}
    artifacts = httpx.post(f"{prefect_api}/artifacts/filter", json=body, timeout=30).raise_for_status().json()
    assert any("| analysed | 30 |" in a["data"] for a in artifacts)


def test_missing_model_fails_fast_naming_the_path(prefect_api, tmp_path):
    from sada.pipeline.errors import ModelNotFoundError

    source = _corpus_sample(tmp_path / "feedback.csv", 5)
    with pytest.raises(ModelNotFoundError, match=str(tmp_path / "no-model")):
        analyse_feedback(sources=[str(source)], database_url=f"sqlite:///{tmp_path / 's.sqlite'}",
                         model_path=str(tmp_path / "no-model"))


def test_dask_cluster_gives_the_same_store_as_threads(prefect_api, tmp_path):
    from dask.distributed import LocalCluster
    from prefect_dask import DaskTaskRunner

    source = _corpus_sample(tmp_path / "feedback.csv", 300)
    threads_db, dask_db = f"sqlite:///{tmp_path / 'threads.sqlite'}", f"sqlite:///{tmp_path / 'dask.sqlite'}"
    analyse_feedback(sources=[str(source)], database_url=threads_db, classify_items=False, batch_size=40)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = analyse_feedback.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
        summary = on_dask(sources=[str(source)], database_url=dask_db, classify_items=False, batch_size=40)
    assert summary["analysed"] == 300
    assert _store_contents(dask_db) == _store_contents(threads_db)


def test_killed_run_resumes_to_the_same_store(prefect_api, tmp_path):
    source = _corpus_sample(tmp_path / "feedback.csv", 1500)
    whole, resumed = f"sqlite:///{tmp_path / 'whole.sqlite'}", f"sqlite:///{tmp_path / 'resumed.sqlite'}"
    analyse_feedback(sources=[str(source)], database_url=whole, classify_items=False, batch_size=50)

    code = ("from sada.flows.runtime import configure_prefect; configure_prefect();"
            "from sada.flows.analyse_feedback import analyse_feedback;"
            f"analyse_feedback(sources=[{str(source)!r}], database_url={resumed!r}, classify_items=False,"
            "batch_size=50, max_in_flight=1)")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    written = 0
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        try:
            written = Store.open(resumed, migrate=False).count(feedback)
        except Exception:  # the schema may not exist yet
            continue
        if written >= 200:
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert 0 < written < 1500, f"the run was not caught mid-way ({written} rows written)"

    summary = analyse_feedback(sources=[str(source)], database_url=resumed, classify_items=False, batch_size=50)
    assert summary["duplicates"] >= written  # finished batches were not redone
    assert _store_contents(resumed) == _store_contents(whole)


def _artifacts(api: str, key: str) -> list[dict]:
    import httpx

    body = {"artifacts": {"key": {"any_": [key]}}, "limit": 50, "offset": 0, "sort": "CREATED_DESC"}
    return httpx.post(f"{api}/artifacts/filter", json=body, timeout=30).raise_for_status().json()


def test_score_churn_flow_writes_scores_and_publishes_tables(prefect_api, tmp_path):
    from sada.flows.score_churn import score_churn_flow
    from sada.pipeline.store import churn_scores

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    summary = score_churn_flow(database_url=url, customers_path=str(REPO / "corpus" / "customers.csv"))
    assert summary["scored"] == Store.open(url).count(churn_scores) > 2000
    assert 0.5 < summary["auc"] <= 1 and "oracle_auc" not in summary  # the flow never reads the simulator truth
    rows = _artifacts(prefect_api, "top-at-risk-customers")[0]["data"]
    assert "customer_id" in rows and "reasons" in rows


def test_deployments_have_cron_schedules_and_parameters():
    from sada.flows.deployments import build_deployments

    weekly, daily = build_deployments(["/data/*.csv"], "sqlite:///x.sqlite", customers_path="/data/customers.csv")
    assert "model_path" not in weekly.parameters  # the shipped model unless --model names one
    assert weekly.name == "sada-weekly" and weekly.schedules[0].schedule.cron == "0 6 * * 1"
    assert weekly.parameters["customers_path"] == "/data/customers.csv"
    assert daily.schedules[0].schedule.cron == "0 5 * * *"
    assert daily.parameters == {"sources": ["/data/*.csv"], "database_url": "sqlite:///x.sqlite"}
    assert len(build_deployments(["/data/*.csv"], daily_cron=None)) == 1
    mine = build_deployments(["/data/*.csv"], model_path="/srv/models/mine")
    assert [d.parameters["model_path"] for d in mine] == ["/srv/models/mine"] * 2
    with pytest.raises(InputError, match="found none"):  # a schedule never falls back to the sample corpus
        build_deployments(daily_cron=None)


def test_sada_run_does_the_whole_job_and_a_second_run_analyses_nothing(prefect_api, tmp_path):
    """`sada run --json`: analyse with the committed classifier, score churn, write the report."""
    import json

    from click.testing import CliRunner

    from sada.cli import main
    from sada.pipeline.store import churn_scores

    if not (REPO / "models" / "default" / "config.json").is_file():
        pytest.skip("no committed default classifier in models/default")
    source = _corpus_sample(tmp_path / "feedback.csv", 60)
    url, report = f"sqlite:///{tmp_path / 's.sqlite'}", tmp_path / "report.html"
    args = ["run", "--input", str(source), "--customers", str(REPO / "corpus" / "customers.csv"),
            "--db", url, "--report", str(report), "--json"]
    first = CliRunner().invoke(main, args, catch_exceptions=False)
    summary = json.loads(first.stdout)
    assert {k: summary[k] for k in ("rows_read", "analysed", "quarantined", "duplicates")} == {
        "rows_read": 60, "analysed": 60, "quarantined": 0, "duplicates": 0}
    assert summary["model_version"].startswith("sada-")
    assert Store.open(url).count(analysis) == 60
    assert summary["churn"]["scored"] == Store.open(url).count(churn_scores)
    assert report.is_file() and report.stat().st_size > 100_000
    ui_summary = _artifacts(prefect_api, "cx-weekly-summary")[0]["data"]  # what the Prefect UI shows for the run
    assert "| 60 | 60 | 0 | 0 |" in ui_summary and report.resolve().as_uri() in ui_summary
    assert "## Spike alerts" in ui_summary

    again = json.loads(CliRunner().invoke(main, args, catch_exceptions=False).stdout)
    assert (again["analysed"], again["duplicates"]) == (0, 60)


@pytest.mark.slow
def test_sada_serve_refuses_a_server_that_runs_no_scheduler(prefect_api, tmp_path):
    """Prefect's temporary server never fires schedules: `sada serve` must say so, not 'serve' in silence."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SADA_NOTIFY_")}
    result = subprocess.run(
        [sys.executable, "-m", "sada.cli", "serve", "--db", f"sqlite:///{tmp_path / 's.sqlite'}",
         "--input", str(tmp_path / "inbox" / "*.csv"), "--daily-cron", "* * * * *"],
        cwd=tmp_path, env={**env, "PREFECT_API_URL": prefect_api, "SADA_HOME": str(tmp_path / "home")},
        capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"Error: expected the Prefect server at {prefect_api} to schedule runs of the deployments within")
    assert "scheduler service is not running" in result.stderr


@pytest.mark.slow
def test_thread_runner_classifies_in_the_main_thread(prefect_api, tmp_path, monkeypatch):
    """PyTorch's elementwise kernels run on one core outside the main thread: the flow classifies there."""
    import threading

    import sada.flows.analyse_feedback as module

    seen: list[str] = []
    real = module.classify_texts

    def recording(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "classify_texts", recording)
    import uuid

    source = tmp_path / "feedback.csv"
    run = uuid.uuid4().hex[:8]  # new texts every run: Prefect's classify cache must not answer for them
    with CORPUS.open(encoding="utf-8") as src, source.open("w", encoding="utf-8", newline="") as dst:
        reader, writer = csv.DictReader(src), csv.writer(dst)
        writer.writerow(["id", "text"])
        for i, row in zip(range(60), reader):
            writer.writerow([f"{run}-{i}", f"{row['text']} {run}"])
    summary = analyse_feedback(sources=[str(source)], database_url=f"sqlite:///{tmp_path / 's.sqlite'}",
                               batch_size=20)
    assert summary["analysed"] == 60 and len(seen) == 3
    assert set(seen) == {threading.main_thread().name}, seen


@pytest.mark.parametrize("day", ["20261205", "20270101"])
def test_reproduce_tables_do_not_change_with_the_training_day(day):
    """The model version carries its training date; the researchers' tables must not."""
    from sada.flows.reproduce import tables_markdown

    metrics = {"n": 525, "accuracy": 0.855, "macro_f1": 0.846, "micro_f1": 0.759}
    evaluation = {"model_version": f"sada-e5s-tfidf-{day}-08fa4b3a", "corpus_sentiment": metrics,
                  "corpus_themes": metrics, "shared": [], "corpus_by_language": {"ar": {"n": 262, "accuracy": 0.874}}}
    tables = tables_markdown(evaluation, {"churn": {"n": 800, "auc": 0.69}, "drivers": []}, seed=0)
    assert tables.splitlines()[0] == "# Sada reproduction (seed 0, model sada-e5s-tfidf-08fa4b3a)"
    assert day not in tables


@pytest.mark.parametrize("policy, still_scheduled", [
    ("once", ["1h ago", "in 1h"]),                    # the newest missed run runs, older ones are skipped
    ("all", ["3h ago", "2h ago", "1h ago", "in 1h"]),  # every missed run runs
    ("skip", ["in 1h"]),                               # missed runs are not run at all
])
def test_late_runs_policy_on_a_real_server(prefect_api, policy, still_scheduled):
    """Runs that fell due while `sada serve` was down: the policy decides which of them still run."""
    from datetime import datetime, timedelta, timezone

    from prefect.client.orchestration import get_client
    from prefect.states import Scheduled

    from sada.flows.serving import resolve_late_runs
    from sada.pipeline.notify import NotifySettings

    deployment_id = analyse_feedback.to_deployment(name=f"late-{policy}").apply()
    now = datetime.now(timezone.utc)
    offsets = {"3h ago": -3, "2h ago": -2, "1h ago": -1, "in 1h": 1}
    with get_client(sync_client=True) as client:
        runs = {label: client.create_flow_run_from_deployment(
                    deployment_id, state=Scheduled(scheduled_time=now + timedelta(hours=hours))).id
                for label, hours in offsets.items()}
        resolve_late_runs([deployment_id], policy, NotifySettings())
        states = {label: client.read_flow_run(run_id).state for label, run_id in runs.items()}
    assert sorted(label for label, state in states.items() if state.is_scheduled()) == sorted(still_scheduled)
    skipped = [state for state in states.values() if not state.is_scheduled()]
    assert all(state.is_cancelled() and policy in state.message for state in skipped)


def test_status_last_run_is_the_newest_ended_run_not_one_in_flight(prefect_api):
    """An every-minute schedule starts a run right after one failed: status still reports the failure."""
    from datetime import datetime, timedelta, timezone

    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Failed, Running, Scheduled

    from sada.flows.status import _deployment_status

    deployment_id = analyse_feedback.to_deployment(name="status-in-flight").apply()
    now = datetime.now(timezone.utc)

    def run(minutes_ago: int, *states):
        with get_client(sync_client=True) as client:
            run_id = client.create_flow_run_from_deployment(
                deployment_id, state=Scheduled(scheduled_time=now - timedelta(minutes=minutes_ago))).id
            for state in states:
                client.set_flow_run_state(run_id, state, force=True)
        return str(run_id)

    run(3, Running(), Completed())
    failed = run(2, Running(), Failed(message="model not found"))
    in_flight = run(1, Running())
    with get_client(sync_client=True) as client:
        status = _deployment_status(client, client.read_deployment(deployment_id))
    assert status["last_run"]["id"] == failed and status["last_run"]["state"] == "Failed"
    assert status["running"]["id"] == in_flight and status["running"]["state"] == "Running"
    assert status["problems"] == [f"last run {status['last_run']['name']} Failed: model not found"]
