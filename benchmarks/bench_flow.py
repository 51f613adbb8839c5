"""Rows per second and peak memory of the analyse-feedback flow, by input size and worker count.

Usage:
    python -m benchmarks.bench_flow --rows 20000 100000 --workers 1 2 [--runner dask|threads] [--no-classify]

Input: the sample corpus's texts, repeated with a running number appended so
every row is a new item, written to a temporary CSV. Each measurement uses a
fresh SQLite store. Peak RSS is sampled over the flow process and all its
children (Dask workers included), so it shows whether memory stays flat as the
input grows (the flow streams in batches with a bounded number in flight).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil

from sada.flows.runtime import configure_prefect


def write_input(path: Path, rows: int) -> Path:
    """A CSV of ``rows`` distinct feedback items built from the corpus texts."""
    from sada.pipeline.corpus import load_feedback

    corpus = load_feedback()
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["feedback_id", "text", "customer_id", "created_at", "source", "nps_score"])
        for i in range(rows):
            item = corpus.iloc[i % len(corpus)]
            nps = "" if item.nps_score is None or str(item.nps_score) == "<NA>" else int(item.nps_score)
            writer.writerow([f"b{i}", f"{item.text} #{i}", item.customer_id, item.created_at.isoformat(),
                             item.source, nps])
    return path


class PeakMemory:
    """Samples the RSS of this process and its children every 0.2 s, in MiB.

    ``peak`` is the highest total; ``per_process`` the highest RSS each process reached
    (this one is ``main``; Dask workers are the children whose command line names a worker).
    """

    def __init__(self) -> None:
        self.peak = 0.0
        self.per_process: dict[int, float] = {}
        self.workers: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    rss = proc.memory_info().rss
                    if proc.pid != me.pid and any("worker" in part or "spawn" in part for part in proc.cmdline()):
                        self.workers.add(proc.pid)
                except psutil.Error:
                    continue
                total += rss
                self.per_process[proc.pid] = max(self.per_process.get(proc.pid, 0.0), rss / 2**20)
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(0.2)

    @property
    def main(self) -> float:
        return self.per_process.get(os.getpid(), 0.0)

    @property
    def worker_peak(self) -> float:
        """The highest RSS of any one worker process (0 with the thread runner)."""
        return max((self.per_process[pid] for pid in self.workers), default=0.0)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(source: Path, workers: int, runner: str, classify: bool, batch_size: int) -> dict:
    from prefect_dask import DaskTaskRunner
    from prefect.task_runners import ThreadPoolTaskRunner

    from sada.flows.analyse_feedback import analyse_feedback

    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as memory:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        if runner == "dask":
            from dask.distributed import LocalCluster

            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                flow = analyse_feedback.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
                start = time.perf_counter()
                summary = flow(sources=[str(source)], database_url=url, classify_items=classify,
                               batch_size=batch_size, max_in_flight=2 * workers)
                seconds = time.perf_counter() - start
        else:
            flow = analyse_feedback.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
            start = time.perf_counter()
            summary = flow(sources=[str(source)], database_url=url, classify_items=classify,
                           batch_size=batch_size, max_in_flight=2 * workers)
            seconds = time.perf_counter() - start
    return {"rows": summary["rows_read"], "workers": workers, "runner": runner, "classify": classify,
            "seconds": round(seconds, 1), "rows_per_second": round(summary["rows_read"] / seconds, 1),
            "peak_rss_mib": round(memory.peak), "main_rss_mib": round(memory.main),
            "worker_rss_mib": round(memory.worker_peak)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runner", choices=["dask", "threads"], default="dask")
    parser.add_argument("--no-classify", action="store_true", help="Measure without the classifier.")
    parser.add_argument("--batch-size", type=int, default=512)
    args = parser.parse_args()
    # Every measurement classifies: cached results of an earlier one (same texts, same model) would be reused.
    os.environ["PREFECT_TASKS_REFRESH_CACHE"] = "true"
    configure_prefect()
    # One Prefect server for the flow and every Dask worker; in ephemeral mode each worker would start its own.
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=120)
    os.environ["PREFECT_API_URL"] = server.api_url
    print("| rows | runner | workers | classify | seconds | rows/s | vs 1 worker | peak RSS total (MiB) "
          "| flow process (MiB) | per worker (MiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            source = write_input(Path(tmp) / f"input-{rows}.csv", rows)
            single = None
            for workers in args.workers:
                r = measure(source, workers, args.runner, not args.no_classify, args.batch_size)
                single = single or (r["rows_per_second"] if workers == 1 else None)
                ratio = f"{r['rows_per_second'] / single:.2f}x" if single else "-"
                print(f"| {r['rows']} | {r['runner']} | {r['workers']} | {r['classify']} | {r['seconds']} | "
                      f"{r['rows_per_second']} | {ratio} | {r['peak_rss_mib']} | {r['main_rss_mib']} | "
                      f"{r['worker_rss_mib'] or '-'} |", flush=True)
    server.stop()


if __name__ == "__main__":
    main()
