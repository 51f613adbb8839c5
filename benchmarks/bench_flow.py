"""Rows per second and peak memory of the analyse-feedback flow: in process, on one Dask worker, on two.

Usage:
    python -m benchmarks.bench_flow [--rows 3000 20000] [--no-classify] [--runtime onnx|torch]

For each input size it runs the flow, one after another on the same machine:

* ``threads``: in this process (Prefect's thread runner, the classifier on every core): the reference;
* ``dask, 1 worker``: a local Dask cluster of one worker process (one task thread), whose classifier
  gets every core (:func:`sada.flows.runtime.dask_worker_cores`); target >= 0.8x ``threads``;
* ``dask, 1 worker, 1 core``: the same with ``SADA_INFERENCE_THREADS=1``, the unit of scaling out;
* ``dask, 2 workers``: two worker processes sharing the cores (one each on 2 cores); target >= 1.7x
  the one-core worker.

Input: the sample corpus's texts, repeated with a running number appended so
every row is a new item, written to a temporary CSV. Each measurement uses a
fresh SQLite store, and the whole run a fresh Prefect home, so no classification
comes from a result cache. Peak RSS is sampled over the flow process and all its
children: the total, the flow process, and the highest of any one Dask worker. The int8
encoder runs on PyTorch unless ``--runtime onnx`` (or ``SADA_ENCODER_RUNTIME``) says
otherwise; the first line says which.
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

from sada.flows.runtime import INFERENCE_THREADS_ENV, configure_prefect


def fresh_prefect_home(root: Path) -> dict[str, str]:
    """Point Prefect (this process and every child it starts) at an empty home under ``root``.

    Call before Prefect is imported. A benchmark that reused a home would read the classify task's
    results back from the result cache of an earlier run on the same texts and model (measured: the
    second ``bench_pipeline`` run reported ``sada run`` at 3.14x the classifier instead of 0.55x).
    Returns the variables set, for subprocesses.
    """
    env = {"PREFECT_HOME": str(root / "prefect-home"), "PREFECT_TASKS_REFRESH_CACHE": "true"}
    os.environ.update(env)
    return env


def write_input(path: Path, rows: int) -> Path:
    """A CSV of ``rows`` distinct feedback items built from the corpus texts."""
    from sada.corpus import sample_dir
    from sada.pipeline.corpus import load_feedback

    corpus = load_feedback(sample_dir())
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
    """Samples the RSS and CPU time of this process and its children every 0.2 s.

    ``peak`` is the highest total RSS in MiB; ``per_process`` the highest RSS each process reached
    (this one is ``main``; Dask workers are the children whose command line names a worker).
    ``cpu_seconds()`` is the CPU time (user + system) each kind of process spent while sampled: the
    flow process (with the Dask scheduler), the workers, and the rest (Prefect's server).
    """

    def __init__(self) -> None:
        self.peak = 0.0
        self.per_process: dict[int, float] = {}
        self.workers: set[int] = set()
        self._cpu: dict[int, list[float]] = {}  # pid -> [first seen, last seen] CPU seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    rss = proc.memory_info().rss
                    times = proc.cpu_times()
                    if proc.pid != me.pid and any("worker" in part or "spawn" in part for part in proc.cmdline()):
                        self.workers.add(proc.pid)
                except psutil.Error:
                    continue
                cpu = times.user + times.system
                self._cpu.setdefault(proc.pid, [cpu, cpu])[1] = cpu
                total += rss
                self.per_process[proc.pid] = max(self.per_process.get(proc.pid, 0.0), rss / 2**20)
            self.peak = max(self.peak, total / 2**20)
            self._stop.wait(0.2)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds spent while sampled, by kind of process: ``flow``, ``workers``, ``other``."""
        spent = {"flow": 0.0, "workers": 0.0, "other": 0.0}
        for pid, (first, last) in self._cpu.items():
            kind = "flow" if pid == os.getpid() else "workers" if pid in self.workers else "other"
            spent[kind] += last - (first if kind != "workers" else 0.0)  # a worker starts within the sample
        return spent

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


def measure(source: Path, workers: int, runner: str, classify: bool, batch_size: int,
            worker_cores: int | None = None, in_flight: int | None = None) -> dict:
    """One flow run over ``source``: rows/s and peak RSS (``worker_cores``: fixed cores per Dask worker;
    ``in_flight``: batches read ahead, default the flow's own)."""
    from prefect_dask import DaskTaskRunner
    from prefect.task_runners import ThreadPoolTaskRunner

    from sada.flows.analyse_feedback import analyse_feedback

    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as memory:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        if runner == "dask":
            from dask.distributed import LocalCluster

            if worker_cores:
                os.environ[INFERENCE_THREADS_ENV] = str(worker_cores)  # the worker processes inherit it
            else:
                os.environ.pop(INFERENCE_THREADS_ENV, None)
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                flow = analyse_feedback.with_options(task_runner=DaskTaskRunner(address=cluster.scheduler_address))
                start = time.perf_counter()
                summary = flow(sources=[str(source)], database_url=url, classify_items=classify,
                               batch_size=batch_size, max_in_flight=in_flight)
                seconds = time.perf_counter() - start
        else:
            flow = analyse_feedback.with_options(task_runner=ThreadPoolTaskRunner(max_workers=workers))
            start = time.perf_counter()
            summary = flow(sources=[str(source)], database_url=url, classify_items=classify,
                           batch_size=batch_size, max_in_flight=in_flight)
            seconds = time.perf_counter() - start
    return {"rows": summary["rows_read"], "workers": workers, "runner": runner, "classify": classify,
            "seconds": round(seconds, 1), "rows_per_second": round(summary["rows_read"] / seconds, 1),
            "peak_rss_mib": round(memory.peak), "main_rss_mib": round(memory.main),
            "worker_rss_mib": round(memory.worker_peak),
            "cpu": {kind: round(seconds) for kind, seconds in memory.cpu_seconds().items()}}


#: (label, runner, workers, cores per worker) of each measurement, in order.
SETUPS = [("threads", "threads", 2, None), ("dask, 1 worker", "dask", 1, None),
          ("dask, 1 worker, 1 core", "dask", 1, 1), ("dask, 2 workers", "dask", 2, None)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[3000, 20000])
    parser.add_argument("--no-classify", action="store_true", help="Measure without the classifier.")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--in-flight", type=int, default=None,
                        help="batches read ahead (default: the flow's own, see analyse_feedback)")
    parser.add_argument("--setups", nargs="+", choices=[label for label, *_ in SETUPS], default=None,
                        help="measure only these setups (default: all)")
    parser.add_argument("--runtime", choices=["onnx", "torch"], default=None,
                        help="runtime of the int8 encoder (default: SADA_ENCODER_RUNTIME, else torch)")
    args = parser.parse_args()
    if args.runtime:
        os.environ["SADA_ENCODER_RUNTIME"] = args.runtime  # the Dask workers inherit it
    from sada.models.onnx_encoder import encoder_runtime
    with tempfile.TemporaryDirectory() as tmp:
        fresh_prefect_home(Path(tmp))
        configure_prefect()
        # One Prefect server for the flow and every Dask worker; in ephemeral mode each worker would start its own.
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start(timeout=120)
        os.environ["PREFECT_API_URL"] = server.api_url
        print(f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}, "
              f"int8 encoder on {encoder_runtime()}")
        print("| rows | setup | seconds | rows/s | ratio | peak RSS total (MiB) | flow process (MiB) "
              "| per worker (MiB) | CPU s: flow / workers / server |")
        print("|---|---|---|---|---|---|---|---|---|")
        try:
            for rows in args.rows:
                source = write_input(Path(tmp) / f"input-{rows}.csv", rows)
                rates: dict[str, float] = {}
                for label, runner, workers, cores in SETUPS:
                    if args.setups and label not in args.setups:
                        continue
                    r = measure(source, workers, runner, not args.no_classify, args.batch_size, cores,
                                args.in_flight)
                    rates[label] = r["rows_per_second"]
                    print(f"| {r['rows']} | {label} | {r['seconds']} | {r['rows_per_second']} | "
                          f"{_ratio(label, rates)} | {r['peak_rss_mib']} | {r['main_rss_mib']} | "
                          f"{r['worker_rss_mib'] or '-'} | {r['cpu']['flow']} / {r['cpu']['workers']} / "
                          f"{r['cpu']['other']} |", flush=True)
        finally:
            server.stop()


def _ratio(label: str, rates: dict[str, float]) -> str:
    """Each setup against the one it is judged by: a worker vs in process, two workers vs one of one core."""
    base = {"dask, 1 worker": "threads", "dask, 2 workers": "dask, 1 worker, 1 core"}.get(label)
    if base is None or not rates.get(base):
        return "-"
    return f"{rates[label] / rates[base]:.2f}x vs {base}"


if __name__ == "__main__":
    main()
