"""Property-based: random mixes of issue 12's hostile cells and records, on SQLite and PostgreSQL.

Each example writes a file whose records are counted as they are written
(one physical line per record, so the count does not depend on Sada's
parser), sometimes with file-level trouble too (mixed Windows-1256/UTF-8
lines, a repeated header, an unsupported file beside it), runs
``sada analyze`` and checks: exit 0 and no exception,
rows_read equals the records written, analysed + quarantined + duplicates
equals rows_read, and no PII from the shared list survives in any stored
column of feedback or quarantine.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from sada.cli import main
from sada.pipeline.store import Store, feedback, quarantine
from tests.hostile_cases import TEXTS
from tests.pii_cases import PII_CASES, find_pii

SETTINGS = settings(max_examples=75, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

pii = st.sampled_from([value for value, _ in PII_CASES])
texts = st.one_of(
    st.sampled_from(TEXTS),
    st.builds(lambda t, p, glue: f"{t}{'' if glue else ' '}{p}", st.sampled_from(TEXTS), pii, st.booleans()),
    st.sampled_from(["الخدمة \ud800 ممتازة", "سفارش\u0000دیر", "", "   ", "Доставка была быстрой",
                     "ممتاز " * 1200, 'قال "سنتصل', "great app 👍", "خیلیییییی خوب بود هههه"]),
)
cells = {
    "nps": st.sampled_from(["", "9", "۱۰", "Infinity", "-inf", "nan", "11", "7.5", "١٢", "00966551234567",
                            "4111111111111111"]),
    "date": st.sampled_from(["", "2025-01-05", "0001-01-01T00:00:00+01:00", "1403/05/12 25:00", "2026-02-30",
                             "1403/05/12", "9999-12-31T23:59:59-05:00", "not a date"]),
    "customer": st.one_of(st.sampled_from(["", "c-1", "cust-\udfff", "cust\u00001", "x" * 300, "966551234567"]),
                          pii),
    "channel": st.one_of(st.sampled_from(["", "web", "app", "c" * 100, "we\u0000b"]), pii),
}
ids = st.one_of(st.sampled_from(["a1", "a2", "a3"]),  # repeats, with the same or other content
                st.builds(lambda s: "long-" + "x" * 90 + s, st.sampled_from("AB")),
                st.integers(0, 10**6).map(str))
records = st.lists(st.fixed_dictionaries({"id": ids, "text": texts, **cells}), min_size=1, max_size=12)


def _csv_lines(rows: list[dict], broken: set[int], header: list[str]) -> list[str]:
    """One physical line per record; records in ``broken`` get an opening quote that never closes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for n, row in enumerate(rows):
        if n in broken:
            out.write(f'{row["id"]},"{row["text"].replace(chr(34), "")},{row["nps"]}\n')
        else:
            writer.writerow(list(row.values()))
    return out.getvalue().splitlines(keepends=True)


def _encode_line(line: str, legacy: bool) -> bytes:
    """UTF-8, or (``legacy``) Windows-1256 where the line fits it and UTF-8 where it does not."""
    if legacy:
        try:
            return line.encode("cp1256")
        except UnicodeEncodeError:
            pass
    return line.encode("utf-8", "surrogatepass")


def _write(folder: Path, rows: list[dict], fmt: str, broken: set[int], quirks: set[str]) -> Path:
    """The input file; ``quirks``: ``legacy`` (mixed Windows-1256/UTF-8 lines), ``dup_header`` (a second
    ``text`` column header), ``extra_file`` (the file sits in a folder with a .txt beside it)."""
    if "extra_file" in quirks:
        folder = folder / "inbox"
        folder.mkdir()
        (folder / "notes.txt").write_text("ملاحظات\n", encoding="utf-8")
    rows = [{k: v.replace("\n", " ").replace("\r", " ") for k, v in r.items()} for r in rows]
    header = list(rows[0])
    if "dup_header" in quirks:
        header[header.index("channel")] = "text"
    if fmt == "xlsx":  # digits-only cells become numbers, as spreadsheets store phone numbers
        import openpyxl

        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(header)
        for row in rows:
            sheet.append([int(v) if v.isascii() and v.isdigit() else _xlsx_safe(v) for v in row.values()])
        book.save(folder / "in.xlsx")
    elif fmt == "jsonl":  # \ud800 stays escaped
        (folder / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        lines = _csv_lines(rows, broken, header)
        (folder / "in.csv").write_bytes(b"".join(_encode_line(line, "legacy" in quirks) for line in lines))
    return folder if "extra_file" in quirks else folder / f"in.{fmt}"


def _xlsx_safe(value: str) -> str:
    """Excel cells cannot hold control characters or lone surrogates: write them visibly instead."""
    return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", "\ufffd", value)


def _stored_values(url: str) -> list[str]:
    with Store.open(url).engine.connect() as c:
        values = [v for row in c.execute(select(feedback.c.raw_text, feedback.c.normalised_text,
                                                 feedback.c.customer_id, feedback.c.channel))
                  for v in row if v]
        for detail, fields in c.execute(select(quarantine.c.detail, quarantine.c.fields)):
            values.append(detail or "")
            values.extend(str(v) for v in (fields or {}).values())
    return values


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request):
    """A factory of fresh store URLs: SQLite files, or databases on the session's PostgreSQL server."""
    if request.param == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="sada-h-"))
        counter = iter(range(10**6))
        return lambda: f"sqlite:///{folder / f's{next(counter)}.sqlite'}"
    import uuid

    import psycopg

    base = request.getfixturevalue("postgres_server")

    def fresh() -> str:
        name = "h_" + uuid.uuid4().hex[:12]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{base}/{name}"

    return fresh


@SETTINGS
@given(rows=records, fmt=st.sampled_from(["csv", "jsonl", "xlsx"]), broken=st.sets(st.integers(0, 11), max_size=2),
       quirks=st.sets(st.sampled_from(["legacy", "dup_header", "extra_file"])))
def test_hostile_mixes_never_crash_count_every_record_and_leak_no_pii(server, rows, fmt, broken, quirks):
    url = server()
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp), rows, fmt, broken, quirks)
        result = CliRunner().invoke(main, ["analyze", "--json", "--no-classify", "--db", url, "--input", str(path)])
    assert result.exit_code == 0 and result.exception is None, result.output
    summary = json.loads(result.stdout)
    assert summary["rows_read"] == len(rows) + ("extra_file" in quirks)
    assert summary["analysed"] + summary["quarantined"] + summary["duplicates"] == summary["rows_read"]
    leaked = [hit for value in _stored_values(url) for hit in find_pii(value)]
    assert leaked == []
    Store.open(url).engine.dispose()
