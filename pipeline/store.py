"""The results store: SQLAlchemy 2, SQLite by default, PostgreSQL by URL.

Tables: feedback items, analysis results (one per item and model version),
quarantine, customers, churn scores and runs. The schema is versioned with
Alembic (pipeline/migrations); :meth:`Store.open` brings a database up to the
newest version. Inserts use ``ON CONFLICT DO NOTHING`` so parallel writers
never duplicate an item and a re-run over the same input adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DataError, StatementError

from sada.pipeline.errors import ConfigError
from sada.pipeline.jsonable import jsonable

__all__ = ["CHANNEL_LENGTH", "CUSTOMER_ID_LENGTH", "ID_LENGTH", "Store", "metadata", "feedback", "analysis",
           "quarantine", "customers", "churn_scores", "churn_drivers", "runs", "item_vectors",
           "item_date"]

logger = logging.getLogger(__name__)

metadata = MetaData()

#: Column widths: longer ids are bounded by :func:`sada.pipeline.validate.bounded_id` before they get here.
ID_LENGTH = 80
CUSTOMER_ID_LENGTH = 128
CHANNEL_LENGTH = 64

feedback = Table(
    "feedback", metadata,
    Column("feedback_id", String(ID_LENGTH), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("source_file", Text), Column("row_number", Integer),
    Column("source", String(32)), Column("channel", String(CHANNEL_LENGTH)),
    Column("customer_id", String(CUSTOMER_ID_LENGTH), index=True),
    Column("created_at", DateTime, index=True),
    Column("rating", Float), Column("nps_score", Integer),
    Column("language", String(8), index=True), Column("language_confidence", Float),
    Column("raw_text", Text, nullable=False), Column("normalised_text", Text, nullable=False),
    Column("cues", JSON),
    Column("run_id", String(36), index=True),
    Column("ingested_at", DateTime, nullable=False),
)

analysis = Table(
    "analysis", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feedback_id", String(ID_LENGTH), ForeignKey("feedback.feedback_id", ondelete="CASCADE"), nullable=False),
    Column("model_version", String(80), nullable=False),
    Column("sentiment", String(16), nullable=False),
    Column("sentiment_probs", JSON, nullable=False),
    Column("themes", JSON, nullable=False),
    Column("theme_sentiment", JSON, nullable=False),
    Column("is_complaint", Boolean, nullable=False),
    Column("analysed_at", DateTime, nullable=False),
    UniqueConstraint("feedback_id", "model_version", name="uq_analysis_item_model"),
)

#: Each analysed item's encoder vector (float16 bytes), so its themes can be scored again for another
#: taxonomy without reading the input files or running the encoder (``sada themes apply``).
item_vectors = Table(
    "item_vectors", metadata,
    Column("feedback_id", String(ID_LENGTH), ForeignKey("feedback.feedback_id", ondelete="CASCADE"), primary_key=True),
    Column("encoder", String(80), nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

quarantine = Table(
    "quarantine", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("row_key", String(64), nullable=False, unique=True),
    Column("run_id", String(36), index=True, nullable=False),
    Column("source_file", Text), Column("row_number", Integer),
    Column("reason", String(40), nullable=False, index=True),
    Column("detail", Text),
    Column("fields", JSON),
    Column("quarantined_at", DateTime, nullable=False),
)

customers = Table(
    "customers", metadata,
    Column("customer_id", String(CUSTOMER_ID_LENGTH), primary_key=True),
    Column("signup_date", DateTime), Column("tenure_months", Float),
    Column("segment", String(64)), Column("orders", Float), Column("spend", Float),
    Column("last_activity", DateTime),
    Column("churned", Boolean), Column("churn_date", DateTime),
    Column("crm_risk", Float),
    Column("attributes", JSON),
)

churn_scores = Table(
    "churn_scores", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), index=True),
    Column("customer_id", String(CUSTOMER_ID_LENGTH), nullable=False, index=True),
    Column("as_of", DateTime, nullable=False),
    Column("model_version", String(80), nullable=False),
    Column("score", Float, nullable=False),
    Column("band", String(16), nullable=False),
    Column("segment", String(32), nullable=False),
    Column("reasons", JSON, nullable=False),
    UniqueConstraint("customer_id", "as_of", "model_version", name="uq_churn_customer_asof_model"),
)

churn_drivers = Table(
    "churn_drivers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36)),
    Column("as_of", DateTime, nullable=False),
    Column("model_version", String(80), nullable=False),
    Column("theme", String(64), nullable=False),
    Column("stats", JSON, nullable=False),  # the theme's row of sada.pipeline.churn.drivers.theme_drivers
    UniqueConstraint("as_of", "model_version", "theme", name="uq_churn_driver_asof_model_theme"),
)

runs = Table(
    "runs", metadata,
    Column("run_id", String(36), primary_key=True),
    Column("command", String(40), nullable=False),
    Column("started_at", DateTime, nullable=False), Column("finished_at", DateTime),
    Column("status", String(16), nullable=False),
    Column("inputs", JSON),
    Column("rows_read", Integer), Column("analysed", Integer),
    Column("quarantined", Integer), Column("duplicates", Integer),
    Column("languages", JSON),
    Column("summary", JSON),
    Column("host", String(255)), Column("pid", Integer),
)


# Alembic's command API keeps module-level state: one migration at a time per process.
_MIGRATION_LOCK = threading.Lock()


_VECTOR_KEYS = ("vector", "encoder")  # classifier results that go to item_vectors, not analysis


def _newest_analysis(*columns: str) -> Any:
    """Each item's newest analysis row (the latest ``analysed_at``, then the latest row) with ``feedback_id``
    and ``columns``: the one definition of "the item's current result", as a subquery to join on."""
    rank = func.row_number().over(partition_by=analysis.c.feedback_id,
                                  order_by=(analysis.c.analysed_at.desc(), analysis.c.id.desc()))
    ranked = select(analysis.c.feedback_id, *(analysis.c[c] for c in columns), rank.label("rank")).subquery()
    return select(*(c for c in ranked.c if c.name != "rank")).where(ranked.c.rank == 1).subquery()


def item_date() -> Any:
    """The date a stored item counts at, as SQL: when it was written, else when Sada received it (the one home
    of the rule: the report, ``sada export`` and its date filter read it; an input without dates still counts
    this week).

    Example:
        >>> str(item_date())
        'coalesce(feedback.created_at, feedback.ingested_at)'
    """
    return func.coalesce(feedback.c.created_at, feedback.c.ingested_at)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """A connection to the results store. Use :meth:`open`, which migrates."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @classmethod
    def open(cls, url: str, migrate: bool = True, create: bool = True) -> Store:
        """Connect to ``url`` (sqlite:///path or postgresql://...) and upgrade the schema.

        Args:
            url: SQLAlchemy URL of the store.
            migrate: Bring the schema up to the newest revision.
            create: Create a SQLite file that does not exist yet (off for commands that only read,
                so a mistyped path is an error rather than a new empty store).

        Raises:
            ConfigError: the URL is malformed, the database cannot be reached, the file is not a
                database, or (``create=False``) there is no store at the path.
        """
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            path = Path(url.removeprefix("sqlite:///")).expanduser()
            if not create and not path.is_file():
                raise ConfigError(f"expected a Sada store at {path}, found no such file; check --db / "
                                  "SADA_DATABASE_URL (sada analyze creates the store)")
            path.parent.mkdir(parents=True, exist_ok=True)
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        try:
            engine = create_engine(url, future=True, pool_pre_ping=True)
            store = cls(engine)
            if migrate:
                store.migrate()
        except (ArgumentError, DatabaseError) as exc:  # DatabaseError: also "file is not a database"
            raise ConfigError(
                f"cannot open the store at {engine_url_safe(url)}: {str(exc).splitlines()[0]}; "
                "check --db / SADA_DATABASE_URL"
            ) from None
        return store

    def migrate(self) -> None:
        """Upgrade the schema to the newest Alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with _MIGRATION_LOCK, self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def schema_version(self) -> str | None:
        with self.engine.connect() as connection:
            return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()

    # ------------------------------------------------------------------ runs

    def start_run(self, command: str, inputs: Sequence[str] = ()) -> str:
        """Record a new run as ``running``; first mark runs of dead processes on this host ``interrupted``."""
        self.mark_interrupted_runs()
        run_id = str(uuid.uuid4())
        with self.engine.begin() as c:
            c.execute(runs.insert().values(run_id=run_id, command=command, started_at=_now(),
                                           status="running", inputs=list(inputs),
                                           host=socket.gethostname(), pid=os.getpid()))
        return run_id

    def mark_interrupted_runs(self) -> list[str]:
        """Runs still ``running`` whose process on this host is gone (killed) become ``interrupted``.

        Runs of other hosts are left alone: their processes cannot be checked from here.
        Returns the run ids marked.
        """
        host = socket.gethostname()
        with self.engine.begin() as c:
            open_runs = c.execute(select(runs.c.run_id, runs.c.pid).where(
                runs.c.status == "running", runs.c.host == host, runs.c.pid.is_not(None))).all()
            dead = [r.run_id for r in open_runs if not _process_alive(r.pid)]
            if dead:
                c.execute(runs.update().where(runs.c.run_id.in_(dead)).values(status="interrupted", finished_at=_now()))
        for run_id in dead:
            logger.warning("run %s was still marked running but its process is gone: marked interrupted", run_id)
        return dead

    def finish_run(self, run_id: str, summary: dict[str, Any], status: str = "ok") -> None:
        counts = {k: summary.get(k) for k in ("rows_read", "analysed", "quarantined", "duplicates", "languages")}
        with self.engine.begin() as c:
            c.execute(runs.update().where(runs.c.run_id == run_id).values(
                finished_at=_now(), status=status, summary=summary, **counts))

    def first_run_since(self, command: str, since: datetime) -> dict[str, Any] | None:
        """The first run of ``command`` that started at or after ``since`` (naive UTC), with its counts."""
        query = (select(runs).where(runs.c.command == command, runs.c.started_at >= since)
                 .order_by(runs.c.started_at).limit(1))
        with self.engine.connect() as c:
            row = c.execute(query).first()
        return dict(row._mapping) if row is not None else None

    # ------------------------------------------------------------------ feedback

    def known_hashes(self, feedback_ids: Iterable[str]) -> dict[str, str]:
        """feedback_id -> content_hash for the ids already stored."""
        ids = list(set(feedback_ids))
        found: dict[str, str] = {}
        with self.engine.connect() as c:
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                rows = c.execute(select(feedback.c.feedback_id, feedback.c.content_hash)
                                 .where(feedback.c.feedback_id.in_(chunk)))
                found.update({r.feedback_id: r.content_hash for r in rows})
        return found

    def add_feedback(self, items: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]] = ()) -> set[str]:
        """Insert new items (and their analysis results) in one transaction.

        Items whose feedback_id is already stored with the same content are
        skipped; an id stored with different content is updated (its old
        analysis is replaced). Returns the ids written, so the caller can
        count the rest as duplicates, also when another writer got there first.
        """
        if not items:
            return set()
        now = _now()
        # one key order for every writer, so parallel transactions cannot deadlock on each other's rows
        rows = sorted(({**item, "ingested_at": now} for item in items), key=lambda r: r["feedback_id"])
        written: set[str] = set()
        with self.engine.begin() as c:
            stmt = self._insert(feedback).on_conflict_do_nothing(index_elements=["feedback_id"])
            for row in rows:  # RETURNING per row keeps this portable across SQLite and PostgreSQL
                if c.execute(stmt.values(**row).returning(feedback.c.feedback_id)).first():
                    written.add(row["feedback_id"])
            changed = [r for r in rows if r["feedback_id"] not in written]
            if changed:
                stored = {fid: h for fid, h in c.execute(
                    select(feedback.c.feedback_id, feedback.c.content_hash)
                    .where(feedback.c.feedback_id.in_([r["feedback_id"] for r in changed])))}
                for row in changed:
                    if stored.get(row["feedback_id"]) not in (None, row["content_hash"]):
                        fid = row["feedback_id"]
                        c.execute(feedback.update().where(feedback.c.feedback_id == fid).values(**row))
                        c.execute(analysis.delete().where(analysis.c.feedback_id == fid))
                        written.add(fid)
            kept = [r for r in results if r["feedback_id"] in written]
            result_rows = [{k: v for k, v in r.items() if k not in _VECTOR_KEYS} | {"analysed_at": now} for r in kept]
            if result_rows:
                c.execute(self._insert(analysis).on_conflict_do_nothing(
                    index_elements=["feedback_id", "model_version"]), result_rows)
            self._put_vectors(c, [r for r in kept if r.get("vector") is not None])
        return written

    def _put_vectors(self, c: Any, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        stmt = self._insert(item_vectors)
        stmt = stmt.on_conflict_do_update(index_elements=["feedback_id"],
                                          set_={"encoder": stmt.excluded.encoder, "vector": stmt.excluded.vector})
        c.execute(stmt, [{"feedback_id": r["feedback_id"], "encoder": r["encoder"], "vector": r["vector"]}
                         for r in sorted(rows, key=lambda r: r["feedback_id"])])

    def add_vectors(self, rows: Sequence[dict[str, Any]]) -> None:
        """Store (or replace) items' vectors: ``feedback_id``, ``encoder``, ``vector`` (bytes)."""
        with self.engine.begin() as c:
            self._put_vectors(c, rows)

    def add_analyses(self, rows: Sequence[dict[str, Any]]) -> int:
        """Add analysis rows of stored items (a re-theming); one per item and model version. Returns how many."""
        if not rows:
            return 0
        now = _now()
        with self.engine.begin() as c:
            result = c.execute(self._insert(analysis).on_conflict_do_nothing(
                index_elements=["feedback_id", "model_version"]), [{**r, "analysed_at": now} for r in rows])
        return int(result.rowcount or 0)

    def complaints(self) -> list[dict[str, Any]]:
        """Items whose newest analysis is a complaint, with its themes, by id. Keys: ``feedback_id``,
        ``language``, ``raw_text``, ``normalised_text``, ``created_at``, ``themes``."""
        newest = _newest_analysis("themes", "is_complaint")
        query = (select(feedback.c.feedback_id, feedback.c.language, feedback.c.raw_text, feedback.c.normalised_text,
                        feedback.c.created_at, newest.c.themes)
                 .join(newest, newest.c.feedback_id == feedback.c.feedback_id)
                 .where(newest.c.is_complaint.is_(True)).order_by(feedback.c.feedback_id))
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def _items(self, own: Sequence[Any], newest_columns: Sequence[str], *, after: str | None, limit: int,
               analysed_only: bool = False, with_vectors: bool = False,
               where: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A page of stored items by id (``feedback_id`` above ``after``): the ``own`` feedback columns, the stored
        vector's ``encoder`` and ``vector`` (``with_vectors``; None where none is stored) and ``newest_columns``
        of the newest analysis (None where there is none; ``analysed_only`` leaves such items out)."""
        newest = _newest_analysis(*newest_columns)
        vectors = (item_vectors.c.encoder, item_vectors.c.vector) if with_vectors else ()
        query = (select(*own, *vectors, *(newest.c[c] for c in newest_columns))
                 .join(newest, newest.c.feedback_id == feedback.c.feedback_id, isouter=not analysed_only))
        if with_vectors:
            query = query.outerjoin(item_vectors, item_vectors.c.feedback_id == feedback.c.feedback_id)
        for condition in ([feedback.c.feedback_id > after] if after is not None else []) + list(where):
            query = query.where(condition)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query.order_by(feedback.c.feedback_id).limit(limit))]

    def items_to_retheme(self, after: str | None = None, limit: int = 10_000) -> list[dict[str, Any]]:
        """A page of analysed items with their newest analysis and vector (None when not stored), by id.

        Keys: ``feedback_id``, ``language``, ``raw_text``, ``normalised_text``, ``encoder``, ``vector``,
        ``model_version``, ``sentiment``, ``sentiment_probs``, ``theme_sentiment``.
        """
        own = (feedback.c.feedback_id, feedback.c.language, feedback.c.raw_text, feedback.c.normalised_text)
        return self._items(own, ("model_version", "sentiment", "sentiment_probs", "theme_sentiment"), after=after,
                           limit=limit, analysed_only=True, with_vectors=True)

    def items_page(self, after: str | None = None, limit: int = 5_000, run_id: str | None = None,
                   dated_from: datetime | None = None, dated_before: datetime | None = None) -> list[dict[str, Any]]:
        """A page of stored items joined to their newest analysis (None where not analysed), by id.

        Keys: the ``feedback`` columns but ``content_hash``, ``normalised_text`` and ``cues``, then ``model_version``,
        ``sentiment``, ``sentiment_probs``, ``themes``, ``theme_sentiment``, ``is_complaint``, ``analysed_at``.
        Pass the last id of a page as ``after`` for the next one. ``run_id``: one run's items only;
        ``dated_from`` / ``dated_before``: items whose :func:`item_date` is at or after / before them.
        """
        own = [c for c in feedback.c if c.name not in {"content_hash", "normalised_text", "cues"}]
        where = [] if run_id is None else [feedback.c.run_id == run_id]
        where += [] if dated_from is None else [item_date() >= dated_from]
        where += [] if dated_before is None else [item_date() < dated_before]
        return self._items(own, ("model_version", "sentiment", "sentiment_probs", "themes", "theme_sentiment",
                                 "is_complaint", "analysed_at"), after=after, limit=limit, where=where)

    def quarantine_page(self, after: int = 0, limit: int = 5_000, run_id: str | None = None) -> list[dict[str, Any]]:
        """A page of quarantined rows (``id`` above ``after``), oldest first: ``id``, ``run_id``,
        ``source_file``, ``row_number``, ``reason``, ``detail``, ``fields``, ``quarantined_at``."""
        query = (select(*(c for c in quarantine.c if c.name != "row_key")).where(quarantine.c.id > after)
                 .order_by(quarantine.c.id).limit(limit))
        if run_id is not None:
            query = query.where(quarantine.c.run_id == run_id)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def add_feedback_or_refuse(
        self, items: Sequence[dict[str, Any]], results: Sequence[dict[str, Any]] = ()
    ) -> tuple[set[str], list[dict[str, Any]]]:
        """:meth:`add_feedback`, but a row the database refuses does not sink its batch.

        The batch goes in one transaction; if the database refuses it (a value
        it cannot store), each row is retried on its own. Returns the ids
        written and the refused items, each with an ``error`` saying why.
        """
        try:
            return self.add_feedback(items, results), []
        except (DataError, StatementError) as exc:
            logger.warning("the store refused a batch (%s); writing its %d rows one by one",
                           _first_line(exc), len(items))
        by_id = {r["feedback_id"]: r for r in results}
        written: set[str] = set()
        refused: list[dict[str, Any]] = []
        for item in items:
            result = [by_id[item["feedback_id"]]] if item["feedback_id"] in by_id else []
            try:
                written |= self.add_feedback([item], result)
            except (DataError, StatementError) as exc:
                refused.append({**item, "error": f"the database refused the row: {_first_line(exc)}"})
        return written, refused

    def add_quarantine(self, run_id: str, rows: Sequence[dict[str, Any]]) -> int:
        """Record rejected rows; a row already quarantined by an earlier run is not added again.

        Returns how many rows were new to the quarantine table.
        """
        if not rows:
            return 0
        now = _now()
        keyed = sorted(({**r, "row_key": _row_key(r), "run_id": run_id, "quarantined_at": now} for r in rows),
                       key=lambda r: r["row_key"])
        stmt = self._insert(quarantine).on_conflict_do_nothing(index_elements=["row_key"])
        with self.engine.begin() as c:
            return sum(c.execute(stmt.values(**r).returning(quarantine.c.id)).first() is not None for r in keyed)

    # ------------------------------------------------------------------ customers and churn

    def upsert_customers(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert customer records, replacing the stored record of an id seen before; returns the rows written."""
        if not rows:
            return 0
        return self._upsert(customers, rows, ["customer_id"], [c for c in rows[0] if c != "customer_id"])

    def customer_rows(self) -> list[dict[str, Any]]:
        """Every stored customer record, ordered by id."""
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(select(customers).order_by(customers.c.customer_id))]

    def add_churn_scores(self, rows: Sequence[dict[str, Any]]) -> int:
        """Write churn scores; a score for the same customer, as-of date and model replaces the old one."""
        return self._upsert(churn_scores, rows, ["customer_id", "as_of", "model_version"],
                            ["run_id", "score", "band", "segment", "reasons"])

    def add_churn_drivers(self, rows: Sequence[dict[str, Any]]) -> int:
        """Write a snapshot's theme drivers (``run_id, as_of, model_version, theme, stats``); a rerun replaces them.

        ``stats`` values may be numpy scalars or NaN: they are stored as JSON numbers or null.
        """
        rows = [{**row, "stats": jsonable(row["stats"])} for row in rows]
        return self._upsert(churn_drivers, rows, ["as_of", "model_version", "theme"], ["run_id", "stats"])

    def _upsert(self, table: Table, rows: Sequence[dict[str, Any]], keys: list[str], update: list[str]) -> int:
        if not rows:
            return 0
        insert = self._insert(table)
        stmt = insert.on_conflict_do_update(index_elements=keys, set_={c: insert.excluded[c] for c in update})
        with self.engine.begin() as c:
            for start in range(0, len(rows), 1000):
                c.execute(stmt, list(rows[start:start + 1000]))
        return len(rows)

    # ------------------------------------------------------------------ reading

    def count(self, table: Table) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(table)).scalar_one()

    def newest_analyses(self) -> list[dict[str, Any]]:
        """Each analysed item's newest analysis: the latest ``analysed_at``, then the latest row.

        The one definition of "the item's current result" that the churn features and the
        report both read. Keys: ``feedback_id, model_version, sentiment, themes,
        theme_sentiment, is_complaint``.
        """
        columns = ("feedback_id", "model_version", "sentiment", "themes", "theme_sentiment", "is_complaint")
        newest = _newest_analysis(*columns[1:])
        query = select(*(newest.c[c] for c in columns)).order_by(newest.c.feedback_id)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def feedback_rows(self, columns: Sequence[str], run_id: str | None = None) -> list[dict[str, Any]]:
        """Stored feedback items (the named ``feedback`` columns), ordered by id.

        Args:
            columns: Columns of the ``feedback`` table, or ``item_date``: the date the item counts at
                (:func:`item_date`).
            run_id: Only the items that run wrote.
        """
        query = select(*(item_date().label(c) if c == "item_date" else feedback.c[c] for c in columns)
                       ).order_by(feedback.c.feedback_id)
        if run_id is not None:
            query = query.where(feedback.c.run_id == run_id)
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def churn_snapshots(self) -> list[dict[str, Any]]:
        """One row per stored churn snapshot: ``as_of``, ``model_version`` and ``last_id`` (its newest row)."""
        query = (select(churn_scores.c.as_of, churn_scores.c.model_version, func.max(churn_scores.c.id).label("last_id"))
                 .group_by(churn_scores.c.as_of, churn_scores.c.model_version))
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def churn_scores_of(self, as_of: datetime, model_version: str) -> list[dict[str, Any]]:
        """The scores of one snapshot: ``customer_id, score, band, segment, reasons``, ordered by customer."""
        cs = churn_scores
        query = (select(cs.c.customer_id, cs.c.score, cs.c.band, cs.c.segment, cs.c.reasons)
                 .where((cs.c.as_of == as_of) & (cs.c.model_version == model_version)).order_by(cs.c.customer_id))
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def churn_drivers_of(self, as_of: datetime, model_version: str) -> list[dict[str, Any]]:
        """The theme drivers of one churn snapshot, in the order the churn run ranked them."""
        query = (select(churn_drivers.c.theme, churn_drivers.c.stats)
                 .where((churn_drivers.c.as_of == as_of) & (churn_drivers.c.model_version == model_version))
                 .order_by(churn_drivers.c.id))
        with self.engine.connect() as c:
            return [dict(r._mapping) for r in c.execute(query)]

    def quarantine_reasons(self, run_id: str | None = None) -> dict[str, int]:
        query = select(quarantine.c.reason, func.count()).group_by(quarantine.c.reason)
        if run_id:
            query = query.where(quarantine.c.run_id == run_id)
        with self.engine.connect() as c:
            return {reason: n for reason, n in c.execute(query)}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


#: A file's real path, looked up once per file rather than once per quarantined row.
_real_path = lru_cache(maxsize=1024)(os.path.realpath)


def _row_key(row: dict[str, Any]) -> str:
    """Identity of a quarantined row: where it was (the file's real path), why, and what it held."""
    source = row.get("source_file")
    if source and not str(source).startswith("sql:"):
        # the same file by relative and absolute path is one file (abspath first: the cache must not outlive a chdir)
        source = _real_path(os.path.abspath(source))
    payload = json.dumps([source, row.get("row_number"), row["reason"], row.get("fields")],
                         sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()


def _first_line(exc: BaseException) -> str:
    return (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def engine_url_safe(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"
