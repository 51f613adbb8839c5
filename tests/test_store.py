"""The results store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from sada.pipeline.errors import ConfigError
from sqlalchemy import inspect

from sada.pipeline.store import Store, analysis, feedback, metadata, quarantine


def _item(fid: str, text: str = "الخدمة ممتازة", digest: str | None = None) -> dict:
    return {"feedback_id": fid, "content_hash": digest or f"hash-{fid}", "raw_text": text,
            "normalised_text": text, "language": "ar", "source": "review"}


def _result(fid: str) -> dict:
    return {"feedback_id": fid, "model_version": "test-1", "sentiment": "positive",
            "sentiment_probs": {"positive": 0.9, "neutral": 0.05, "negative": 0.05},
            "themes": {}, "theme_sentiment": {}, "is_complaint": False}


def test_migrations_create_every_table_at_the_newest_version(db_url):
    store = Store.open(db_url)
    assert store.schema_version() == "0004"
    columns = {table: {c["name"] for c in inspect(store.engine).get_columns(table)} for table in metadata.tables}
    assert columns == {name: set(table.columns.keys()) for name, table in metadata.tables.items()}
    Store.open(db_url)  # opening again is a no-op, not an error
    assert store.count(feedback) == 0


def test_same_items_twice_are_written_once(db_url):
    store = Store.open(db_url)
    items = [_item(f"id-{i}") for i in range(5)]
    assert store.add_feedback(items, [_result(i["feedback_id"]) for i in items]) == {f"id-{i}" for i in range(5)}
    assert store.add_feedback(items, [_result(i["feedback_id"]) for i in items]) == set()
    assert store.count(feedback) == 5
    assert store.count(analysis) == 5


def test_changed_content_under_the_same_id_replaces_item_and_result(db_url):
    store = Store.open(db_url)
    store.add_feedback([_item("x", "قديم", "h1")], [_result("x")])
    assert store.add_feedback([_item("x", "جديد", "h2")], []) == {"x"}
    assert store.known_hashes(["x"]) == {"x": "h2"}
    assert store.count(analysis) == 0  # the stale result went with the old text


def test_quarantine_rows_keep_reason_and_fields(db_url):
    store = Store.open(db_url)
    run_id = store.start_run("analyze", ["a.csv"])
    store.add_quarantine(run_id, [{"source_file": "a.csv", "row_number": 3, "reason": "empty_text",
                                   "detail": "", "fields": {"text": ""}}])
    assert store.quarantine_reasons(run_id) == {"empty_text": 1}
    assert store.count(quarantine) == 1


def test_parallel_writers_neither_duplicate_nor_lose_rows(postgres_url):
    store = Store.open(postgres_url)
    batches = [[_item(f"id-{(w * 37 + i) % 120}") for i in range(60)] for w in range(8)]

    def write(batch):
        return Store.open(postgres_url).add_feedback(batch, [_result(r["feedback_id"]) for r in batch])

    with ThreadPoolExecutor(max_workers=8) as pool:
        written = list(pool.map(write, batches))
    everything = {r["feedback_id"] for b in batches for r in b}
    assert store.count(feedback) == len(everything)
    assert store.count(analysis) == len(everything)
    all_written = [fid for w in written for fid in w]
    assert sorted(all_written) == sorted(everything)  # each id reported written by exactly one writer


@pytest.mark.parametrize("url", ["mysql://nobody@localhost/x", "not a url"])
def test_unknown_backends_get_a_clear_error(url):
    from sada.pipeline.config import load_settings

    with pytest.raises(ConfigError, match="SADA_DATABASE_URL"):
        load_settings(database_url=url)


def test_unreachable_postgres_is_a_one_line_config_error():
    with pytest.raises(ConfigError, match="cannot open the store"):
        Store.open("postgresql://nobody@127.0.0.1:1/nowhere")


def test_newest_analysis_per_item_is_the_latest_written(db_url):
    from datetime import datetime

    store = Store.open(db_url)
    store.add_feedback([_item("a"), _item("b")])
    at = datetime(2026, 6, 1, 12, 0)
    rows = [  # two models for "a" at the same instant (the later insert wins), an older and a newer one for "b"
        {**_result("a"), "model_version": "m1", "analysed_at": at},
        {**_result("a"), "model_version": "m2", "analysed_at": at, "sentiment": "negative"},
        {**_result("b"), "model_version": "new", "analysed_at": datetime(2026, 6, 2)},
        {**_result("b"), "model_version": "old", "analysed_at": datetime(2026, 5, 1)},
    ]
    with store.engine.begin() as c:
        for row in rows:
            c.execute(analysis.insert().values(**row))
    newest = {r["feedback_id"]: (r["model_version"], r["sentiment"]) for r in store.newest_analyses()}
    assert newest == {"a": ("m2", "negative"), "b": ("new", "positive")}
