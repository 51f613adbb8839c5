"""Property-based: random bytes, encodings and column layouts never crash ingestion, and counts add up.

The counts are checked against what the test itself wrote (its rows, its line breaks), not
against a second pass of the reader under test.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sada.pipeline.analyze import RunSummary, analyze
from sada.pipeline.config import load_settings
from sada.pipeline.ingest import ColumnMapping, read_file
from sada.pipeline.language import default_identifier
from sada.pipeline.store import Store

pytestmark = pytest.mark.slow  # hypothesis: 80 examples, each a real store

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = [".csv", ".tsv", ".jsonl", ".xlsx", ".parquet"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1256"]
NAMES = ["text", "comment", "id", "nps", "date", "customer", "x", "النص", "متن", ""]
cells = st.one_of(st.none(), st.text(max_size=40), st.integers(-5, 20).map(str),
                  st.sampled_from(["عالی بود", "الخدمة سيئة", "۱۰", "2025-13-45", "\ufeff", "\r\n"]))
# A header the reader can tell from the rows under it: two or more named cells, at least one a known
# column name. (A one-cell header names no delimiter, and a header narrower than the rows below is
# read as a title row: both are the reader's documented guesses, tested in test_survey.)
headers = st.lists(st.sampled_from(NAMES), min_size=2, max_size=6).filter(
    lambda h: sum(bool(n) for n in h) >= 2 and any(n not in ("", "x") for n in h))


@SETTINGS
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_never_crash_and_every_row_is_accounted_for(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"random{suffix}"
        path.write_bytes(data)
        rows = list(read_file(path))
        assert all(r.error is None or r.detail for r in rows)
        summary = _analyse(path)
    assert summary.rows_read == len(rows)
    if suffix in (".xlsx", ".parquet"):
        # random bytes are never a workbook or a Parquet file: one unreadable_file row says so
        assert [r.error for r in rows] == ["unreadable_file"]
    else:
        # a text record holds at least one line: no more records than the bytes have line breaks, plus one
        assert summary.rows_read <= data.count(b"\n") + data.count(b"\r") + 1


@SETTINGS
@given(header=headers, rows=st.lists(st.lists(cells, min_size=0, max_size=8), max_size=12),
       encoding=st.sampled_from(ENCODINGS), delimiter=st.sampled_from([",", ";", "\t"]))
def test_random_column_layouts_and_encodings(header, rows, encoding, delimiter):
    written = [header, *(["" if c is None else c for c in row] for row in rows)]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(written)
    data = buffer.getvalue().encode(encoding, errors="replace")
    # blank rows are not records; the first row is the header
    records = sum(any(cell.strip() for cell in row) for row in written[1:])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("f.tsv" if delimiter == "\t" else "f.csv")
        path.write_bytes(data)
        read = list(read_file(path, ColumnMapping(), encoding=_declared(encoding)))
        summary = _analyse(path, _declared(encoding))
    assert len(read) == summary.rows_read
    # every record written is read once, as feedback or as a survey-metadata row below the header
    assert summary.rows_read + summary.header_rows == records


def _declared(encoding: str) -> str | None:
    """UTF-16 without a BOM is detected only for Arabic script; a team gives ``--encoding`` for other text."""
    return encoding if encoding == "utf-16-le" else None


def _analyse(path: Path, encoding: str | None = None) -> RunSummary:
    store = Store.open(f"sqlite:///{path.parent / 's.sqlite'}")
    try:
        summary = analyze([str(path)], store, load_settings(), encoding=encoding, identifier=default_identifier())
    finally:
        store.engine.dispose()
    assert summary.analysed + summary.quarantined + summary.duplicates == summary.rows_read
    return summary
