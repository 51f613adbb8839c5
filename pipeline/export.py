"""``sada export``: every stored item with its current result, as a file a team opens or loads elsewhere.

One row per stored feedback item, in id order, with its newest analysis (the result the report and
the churn features read; empty where the item was stored without classifying) in the columns of
:data:`ITEM_COLUMNS`. ``themes`` holds the detected theme ids joined by ``;``, strongest first, the
format of the labelling file's ``themes`` column, so an export corrected by hand goes back into
``sada themes fit --examples``. Quarantined rows go to a file of their own (:data:`QUARANTINE_COLUMNS`),
so every input row can be accounted for.

The format follows the file's suffix: ``.csv`` (UTF-8 with a byte-order mark, which Excel needs to show
Arabic and Persian), ``.xlsx`` (right to left, header frozen), ``.jsonl`` or ``.parquet``. The store is
read a page at a time and the file written as it goes, so memory stays flat, and the file appears
under its name only when it is complete.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from sada.pipeline.classify import as_dict
from sada.pipeline.errors import InputError
from sada.pipeline.store import Store
from sada.pipeline.taxonomy import format_theme_cell

__all__ = ["EXPORT_FORMATS", "ITEM_COLUMNS", "QUARANTINE_COLUMNS", "ExportFilter", "export_items",
           "export_quarantine", "item_record"]

logger = logging.getLogger(__name__)

#: Columns of an items export, in order.
ITEM_COLUMNS = (
    "feedback_id", "customer_id", "created_at", "ingested_at", "source", "channel", "rating", "nps_score",
    "language", "language_confidence", "text", "sentiment", "p_negative", "p_neutral", "p_positive", "themes",
    "theme_scores", "theme_sentiment", "is_complaint", "model_version", "analysed_at", "source_file",
    "row_number", "run_id",
)
#: Columns of a quarantine export, in order (``fields``: the row's cells as JSON).
QUARANTINE_COLUMNS = ("run_id", "source_file", "row_number", "reason", "detail", "fields", "quarantined_at")
#: File suffixes ``sada export`` writes.
EXPORT_FORMATS = (".csv", ".xlsx", ".jsonl", ".parquet")
#: Rows below the header that one Excel sheet holds.
_XLSX_MAX_ROWS = 1_048_575
_PAGE = 5_000


@dataclass(frozen=True)
class ExportFilter:
    """Which items to export: those one run stored, and/or those dated in ``[since, until]``.

    An item's date is the report's (:func:`sada.pipeline.store.item_date`: when it was written, else when
    Sada received it), compared in the store's query; ``until`` includes its whole day.
    """

    run_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def before(self) -> datetime | None:
        """The first moment after ``until``'s day (items are dated before it), or None.

        Example:
            >>> ExportFilter(until=datetime(2026, 3, 20, 15, 30)).before
            datetime.datetime(2026, 3, 21, 0, 0)
        """
        if self.until is None:
            return None
        return datetime.combine(self.until.date(), datetime.min.time()) + timedelta(days=1)


def item_record(row: dict[str, Any]) -> dict[str, Any]:
    """One stored item (a row of :meth:`Store.items_page`) as a row of the export.

    Example:
        >>> record = item_record({"feedback_id": "r1", "raw_text": "الطلب تأخر", "sentiment": "negative",
        ...     "sentiment_probs": {"negative": 0.9, "neutral": 0.06, "positive": 0.04},
        ...     "themes": {"price": 0.55, "delivery": 0.97}, "theme_sentiment": {"delivery": "negative"},
        ...     "is_complaint": True})
        >>> record["themes"], record["theme_sentiment"], record["p_negative"], record["is_complaint"]
        ('delivery;price', 'delivery:negative', 0.9, True)
    """
    themes = as_dict(row.get("themes"))
    probs = as_dict(row.get("sentiment_probs"))
    strongest = sorted(themes, key=lambda t: (-float(themes[t]), t))
    analysed = row.get("sentiment") is not None
    record = {c: row.get(c) for c in ITEM_COLUMNS}
    record.update({
        "text": row.get("raw_text"),
        "p_negative": probs.get("negative"), "p_neutral": probs.get("neutral"), "p_positive": probs.get("positive"),
        "themes": format_theme_cell(strongest) if analysed else None,
        "theme_scores": json.dumps({t: themes[t] for t in strongest}, ensure_ascii=False) if analysed else None,
        "theme_sentiment": ";".join(f"{t}:{s}" for t, s in as_dict(row.get("theme_sentiment")).items())
        if analysed else None,
        "is_complaint": bool(row["is_complaint"]) if row.get("is_complaint") is not None else None,
    })
    return record


def export_items(store: Store, out: str | Path, where: ExportFilter = ExportFilter()) -> int:
    """Write every stored item that ``where`` keeps, with its current result, to ``out``; returns the row count.

    Raises:
        InputError: the suffix is not one of :data:`EXPORT_FORMATS`, or an .xlsx would exceed one sheet.
    """
    def pages() -> Iterator[list[dict[str, Any]]]:
        after = None
        while page := store.items_page(after, _PAGE, where.run_id, where.since, where.before):
            after = page[-1]["feedback_id"]
            yield [item_record(r) for r in page]

    return _write(Path(out), ITEM_COLUMNS, pages())


def export_quarantine(store: Store, out: str | Path, run_id: str | None = None) -> int:
    """Write the quarantined rows (all, or one run's) to ``out``; returns the row count."""
    def pages() -> Iterator[list[dict[str, Any]]]:
        after = 0
        while page := store.quarantine_page(after, _PAGE, run_id):
            after = page[-1]["id"]
            yield [{**{c: r.get(c) for c in QUARANTINE_COLUMNS},
                    "fields": json.dumps(r["fields"], ensure_ascii=False) if r.get("fields") is not None else None}
                   for r in page]

    return _write(Path(out), QUARANTINE_COLUMNS, pages())


def _write(out: Path, columns: Sequence[str], pages: Iterable[list[dict[str, Any]]]) -> int:
    suffix = out.suffix.lower()
    writer = _WRITERS.get(suffix)
    if writer is None:
        raise InputError(f"expected an output file ending in {', '.join(EXPORT_FORMATS)}, found {out.name!r}; "
                         "name the file for the format you want, e.g. feedback.xlsx")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    try:
        rows = writer(part, columns, pages)
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    logger.info("exported %d rows to %s", rows, out)
    return rows


def _cell(value: Any) -> Any:
    """A value as a CSV/XLSX cell: dates as ISO text, missing as empty."""
    if value is None:
        return ""
    return value.isoformat(sep=" ") if isinstance(value, datetime) else value


def _write_csv(path: Path, columns: Sequence[str], pages: Iterable[list[dict[str, Any]]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for page in pages:
            writer.writerows([_cell(r[c]) for c in columns] for r in page)
            n += len(page)
    return n


def _write_jsonl(path: Path, columns: Sequence[str], pages: Iterable[list[dict[str, Any]]]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for page in pages:
            for r in page:
                record = {c: r[c].isoformat() if isinstance(r[c], datetime) else r[c] for c in columns}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += len(page)
    return n


def _write_xlsx(path: Path, columns: Sequence[str], pages: Iterable[list[dict[str, Any]]]) -> int:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("items" if "feedback_id" in columns else "quarantine")
    sheet.sheet_view.rightToLeft = True
    sheet.freeze_panes = "A2"
    sheet.append(list(columns))
    n = 0
    for page in pages:
        if n + len(page) > _XLSX_MAX_ROWS:
            raise InputError(f"expected at most {_XLSX_MAX_ROWS:,} rows for one Excel sheet, found more; "
                             "export to .csv or .parquet, or narrow it with --run/--since/--until")
        for r in page:
            sheet.append([_cell(r[c]) for c in columns])
        n += len(page)
    book.save(path)
    return n


def _write_parquet(path: Path, columns: Sequence[str], pages: Iterable[list[dict[str, Any]]]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, _parquet_types().get(c, pa.string())) for c in columns])
    n = 0
    with pq.ParquetWriter(path, schema) as writer:
        for page in pages:
            writer.write_table(pa.Table.from_pylist(page, schema=schema))
            n += len(page)
    return n


def _parquet_types() -> dict[str, Any]:
    import pyarrow as pa

    floats = ("rating", "language_confidence", "p_negative", "p_neutral", "p_positive")
    times = ("created_at", "ingested_at", "analysed_at", "quarantined_at")
    return {**{c: pa.float64() for c in floats}, **{c: pa.timestamp("us") for c in times},
            "nps_score": pa.int64(), "row_number": pa.int64(), "is_complaint": pa.bool_()}


_WRITERS: dict[str, Callable[[Path, Sequence[str], Iterable[list[dict[str, Any]]]], int]] = {
    ".csv": _write_csv, ".xlsx": _write_xlsx, ".jsonl": _write_jsonl, ".parquet": _write_parquet}
