"""Flow ``analyse-feedback``: sources -> validate and quarantine -> language -> normalise -> classify -> store.

Thin typed tasks around :mod:`sada.pipeline.analyze`. Incremental by content hash:
items already stored with the same content are skipped before classification,
so a re-run over the same input writes nothing new, and a run that crashed
resumes where it stopped (every batch is committed in one transaction).
Classification results are also cached by Prefect, keyed on the batch's texts
and the model version. Retries only on the steps that do I/O.
"""

from __future__ import annotations

import glob
import hashlib
import threading
import time
from collections.abc import Iterator
from functools import lru_cache
from itertools import chain
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from sada.flows.runtime import dask_worker_cores, restore_allocator
from sada.models.classifier import artifact_version, load_classifier
from sada.models.encoder import set_inference_threads
from sada.pipeline.analyze import BatchCounts, PreparedBatch, prepare_batch, run_batches, store_batch
from sada.pipeline.classify import as_dict, classify_texts
from sada.pipeline.config import Settings, load_settings
from sada.pipeline.errors import InputError
from sada.pipeline.ingest import RawRow, expand_inputs, read_inputs, read_query
from sada.pipeline.language import default_identifier
from sada.pipeline.normalise import Normaliser
from sada.pipeline.store import Store

__all__ = ["analyse_feedback", "breakdown_markdown"]

_IO_RETRIES = {"retries": 3, "retry_delay_seconds": [2, 10, 30]}


@lru_cache(maxsize=4)
def _store(url: str) -> Store:
    """One engine per process and URL (threads and Dask workers share it)."""
    return Store.open(url)


@lru_cache(maxsize=1)
def _classify_lock() -> threading.Lock:
    """One batch is classified at a time per process; preparing and storing the others overlap with it.

    A function, not a module global: Dask pickles the task functions by value, and a lock cannot be pickled.
    """
    return threading.Lock()


@lru_cache(maxsize=4)
def _normaliser(mask_pii: bool) -> Normaliser:
    return Normaliser(mask_pii=mask_pii)


class _ClassifyHere:
    """A batch whose preparation runs in a worker thread and whose classification runs in this thread.

    The encoder already uses every core, so with the thread runner the flow classifies one batch at a
    time itself, when its result is collected, while the worker threads prepare the next batches and
    store the previous ones. The int8 encoder's ONNX Runtime pool works the same from any thread; with
    ``SADA_ENCODER_RUNTIME=torch`` this thread also matters: PyTorch runs its elementwise kernels on a
    single core when called from any thread but the main one (measured: 5.1 s for 512 texts in a worker
    thread, 2.7 s in the main thread).
    """

    def __init__(self, prepared: Any, classify_batch: Any, store: Any) -> None:
        self.prepared, self.classify_batch, self.store = prepared, classify_batch, store

    def result(self) -> BatchCounts:
        predictions = self.classify_batch(self.prepared.result())
        return self.store(self.prepared, predictions).result()


def _tasks_run_here() -> bool:
    """Whether this flow's tasks run in this process (threads), not on Dask workers with their own copies."""
    from prefect.context import FlowRunContext
    from prefect.task_runners import ThreadPoolTaskRunner

    context = FlowRunContext.get()
    return context is None or isinstance(context.task_runner, ThreadPoolTaskRunner)


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def start_run(database_url: str, sources: list[str]) -> str:
    return _store(database_url).start_run("analyse_feedback", sources)


@task(cache_policy=NO_CACHE)
def discover_sources(sources: list[str]) -> list[str]:
    """Files named, found below folders, or matched by glob patterns."""
    logger = get_run_logger()
    paths: list[str] = []
    for source in sources:
        if any(ch in source for ch in "*?["):
            matched = sorted(glob.glob(source, recursive=True))
            if not matched:
                logger.warning("source pattern %s matches no file", source)
            paths.extend(matched)
        else:
            paths.append(source)
    return [str(p) for p in expand_inputs(paths)] if paths else []


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def prepare(rows: list[RawRow], database_url: str, run_id: str, settings: Settings) -> PreparedBatch:
    return prepare_batch(rows, _store(database_url), run_id, settings, default_identifier(),
                         _normaliser(settings.mask_pii))


def _classify_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    """The batch's texts and the model version, which names the taxonomy too (``+themes-<version>``)."""
    prepared: PreparedBatch = parameters["prepared"]
    if parameters["model_version"] is None:
        return None
    digest = hashlib.sha256()
    for text, language in zip(prepared.texts, prepared.languages):
        digest.update(f"{language}\x1f{text}\x1e".encode("utf-8", "surrogatepass"))
    return f"sada-classify-{parameters['model_version']}-{digest.hexdigest()}"


@task(cache_key_fn=_classify_cache_key, persist_result=True)
def classify(prepared: PreparedBatch, model_path: str | None, model_version: str | None,
             themes: str | None = None) -> list[dict[str, Any]]:
    if model_version is None or not prepared.texts:
        return []
    cores = dask_worker_cores()
    if cores is not None:  # on a Dask worker: its share of the cores, not the one core OMP_NUM_THREADS=1 gives
        set_inference_threads(cores)
        restore_allocator()  # and glibc's own thresholds, not Dask's MALLOC_TRIM_THRESHOLD_
    # One batch at a time: the encoder already uses every core, two would oversubscribe them. The load too: the
    # first imports transformers, whose lazy module fails when two threads import from it at once (measured on
    # a Dask worker of 2 threads: "cannot import name 'AutoModel'").
    with _classify_lock():
        classifier = load_classifier(model_path, themes)
        return classify_texts(prepared.texts, prepared.languages, classifier, prepared.normalised)


@task(cache_policy=NO_CACHE, **_IO_RETRIES)
def store_results(prepared: PreparedBatch, predictions: list[dict[str, Any]], database_url: str,
                  run_id: str) -> BatchCounts:
    return store_batch(prepared, predictions, _store(database_url), run_id)


@flow(name="analyse-feedback", log_prints=True)
def analyse_feedback(
    sources: list[str] | None = None,
    database_url: str | None = None,
    sql_url: str | None = None,
    sql_query: str | None = None,
    model_path: str | None = None,
    classify_items: bool = True,
    batch_size: int | None = None,
    max_in_flight: int | None = None,
    themes: str | None = None,
) -> dict[str, Any]:
    """Analyse new and changed feedback from files, folders, glob patterns and/or a SQL query.

    ``max_in_flight`` batches are read ahead (default: 2 with threads, where the flow classifies
    and the threads prepare the next batch; 4 on Dask, so that every worker has one).

    Returns the run summary (the keys of ``sada analyze --json``).
    """
    logger = get_run_logger()
    started = time.perf_counter()
    settings = load_settings(database_url=database_url, batch_size=batch_size)
    url = settings.database_url
    sources = list(sources or [])
    if not sources and not sql_query:
        raise InputError("expected at least one source (files, folders, glob patterns) or a SQL query, found none")
    # fails fast, naming the path; names the taxonomy (``themes``: a file, else SADA_THEMES or the shipped one)
    model_version = artifact_version(model_path, themes) if classify_items else None
    inline = _tasks_run_here()  # threads in this process: the flow classifies, see _ClassifyHere
    if inline:  # the threads share these copies; a missing encoder fails before any batch
        default_identifier()
        _normaliser(settings.mask_pii).load()  # hazm's word lists too, not in the first batch's time
        if model_version:
            load_classifier(model_path, themes)
    run_id = start_run(url, sources + ([f"sql:{sql_query}"] if sql_query else []))
    files = discover_sources(sources)
    rows: Iterator[RawRow] = read_inputs(files)
    if sql_query:
        rows = chain(rows, read_query(sql_url or url, sql_query))

    def submit(batch: list[RawRow]) -> Any:  # three tasks per batch, chained by their futures
        prepared = prepare.submit(batch, url, run_id, settings)
        if inline:
            return _ClassifyHere(prepared, lambda p: classify(p, model_path, model_version, themes),
                                 lambda p, predictions: store_results.submit(p, predictions, url, run_id))
        predictions = classify.submit(prepared, model_path, model_version, themes)
        return store_results.submit(prepared, predictions, url, run_id)

    def progress(_: BatchCounts, total: BatchCounts) -> None:
        seconds = time.perf_counter() - started
        logger.info("%s rows done (%s analysed) in %.0f s, %.0f rows/s", f"{total.rows_read:,}",
                    f"{total.analysed:,}", seconds, total.rows_read / seconds if seconds else 0)

    if max_in_flight is None:
        max_in_flight = 2 if inline else 4
    summary = run_batches(rows, _store(url), run_id, settings, submit, model_version, max_in_flight,
                          progress).as_dict()
    _publish(summary, url, run_id)
    logger.info("analysed %(analysed)d, quarantined %(quarantined)d, duplicates %(duplicates)d "
                "of %(rows_read)d rows", summary)
    return summary


def breakdown_markdown(store: Store, run_id: str) -> str:
    """Sentiment and theme counts by language for the items a run wrote, as markdown tables."""
    newest = {row["feedback_id"]: row for row in store.newest_analyses()}
    sentiments: dict[tuple[str, str], int] = {}
    themes: dict[tuple[str, str], int] = {}
    for item in store.feedback_rows(["feedback_id", "language"], run_id=run_id):
        result = newest.get(item["feedback_id"])
        if result is None or result["sentiment"] is None:
            continue
        language, sentiment = item["language"], result["sentiment"]
        sentiments[(language, sentiment)] = sentiments.get((language, sentiment), 0) + 1
        for theme in as_dict(result["themes"]):
            themes[(language, theme)] = themes.get((language, theme), 0) + 1
    if not sentiments:
        return "_No classified items in this run._\n"
    languages = sorted({lang for lang, _ in sentiments})
    lines = ["| sentiment | " + " | ".join(languages) + " |", "|---|" + "---|" * len(languages)]
    for label in ("negative", "neutral", "positive"):
        lines.append(f"| {label} | " + " | ".join(str(sentiments.get((lang, label), 0)) for lang in languages) + " |")
    lines += ["", "| theme | " + " | ".join(languages) + " |", "|---|" + "---|" * len(languages)]
    for theme in sorted({t for _, t in themes}, key=lambda t: -sum(themes.get((lang, t), 0) for lang in languages)):
        lines.append(f"| {theme} | " + " | ".join(str(themes.get((lang, theme), 0)) for lang in languages) + " |")
    return "\n".join(lines) + "\n"


def _publish(summary: dict[str, Any], url: str, run_id: str) -> None:
    counts = "\n".join(f"| {k} | {summary[k]} |" for k in ("rows_read", "analysed", "quarantined", "duplicates"))
    languages = ", ".join(f"{k} {v}" for k, v in summary["languages"].items())
    reasons = ", ".join(f"{k} {v}" for k, v in summary["quarantine_reasons"].items()) or "none"
    create_markdown_artifact(
        key="feedback-summary",
        markdown=(f"# Feedback analysed\n\n| count | rows |\n|---|---|\n{counts}\n\n"
                  f"Languages: {languages}  \nQuarantine reasons: {reasons}  \n"
                  f"Model: {summary['model_version'] or 'none'}\n\n"
                  f"## Sentiment and themes by language\n\n{breakdown_markdown(_store(url), run_id)}"),
        description="Counts read / analysed / quarantined / duplicate, and the sentiment and theme mix",
    )
    if summary["quarantine_reasons"]:
        create_table_artifact(
            key="quarantine-reasons",
            table=[{"reason": k, "rows": v} for k, v in summary["quarantine_reasons"].items()],
            description="Why rows were quarantined in this run",
        )
