"""Property-based: random bytes, encodings and column layouts never crash ingestion, and counts add up."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sada.pipeline.analyze import analyze
from sada.pipeline.config import load_settings
from sada.pipeline.ingest import ColumnMapping, read_file
from sada.pipeline.language import default_identifier
from sada.pipeline.store import Store

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SUFFIXES = [".csv", ".tsv", ".jsonl", ".xlsx", ".parquet"]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1256"]
cells = st.one_of(st.none(), st.text(max_size=40), st.integers(-5, 20).map(str),
                  st.sampled_from(["عالی بود", "الخدمة سيئة", "۱۰", "2025-13-45", "\ufeff", "\r\n"]))


@SETTINGS
@given(data=st.binary(max_size=2000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_never_crash_and_every_row_is_accounted_for(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"random{suffix}"
        path.write_bytes(data)
        rows = list(read_file(path))
        assert all(r.error is None or r.detail for r in rows)
        _assert_counts_add_up(path, len(rows))


@SETTINGS
@given(
    header=st.lists(st.sampled_from(["text", "comment", "id", "nps", "date", "customer", "x", "النص", "متن", ""]),
                    min_size=1, max_size=6),
    rows=st.lists(st.lists(cells, min_size=0, max_size=8), max_size=12),
    encoding=st.sampled_from(ENCODINGS),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_random_column_layouts_and_encodings(header, rows, encoding, delimiter):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows([["" if c is None else c for c in row] for row in rows])
    data = buffer.getvalue().encode(encoding, errors="replace")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("f.tsv" if delimiter == "\t" else "f.csv")
        path.write_bytes(data)
        read = list(read_file(path, ColumnMapping()))
        _assert_counts_add_up(path, len(read))


def _assert_counts_add_up(path: Path, expected_rows: int) -> None:
    store = Store.open(f"sqlite:///{path.parent / 's.sqlite'}")
    summary = analyze([str(path)], store, load_settings(), identifier=default_identifier())
    assert summary.rows_read == expected_rows
    assert summary.analysed + summary.quarantined + summary.duplicates == summary.rows_read
    store.engine.dispose()
