"""Hostile and messy inputs from issue 12, each built into a folder with its true record count.

Each :class:`Case` writes its files into a folder and says how many records
they hold, counted from how the file was built (never by Sada's parser), so a
test or ``benchmarks/hostile_inputs.py`` can check that every record comes
out as analysed, quarantined or duplicate. The texts are written for these
cases; none comes from a public dataset.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CASES", "Case", "csv_bytes"]

GOOD_AR = ["الخدمة ممتازة والتوصيل سريع", "المنتج وصل مكسور ولم يرد احد", "الاسعار مرتفعة جدا هذا الشهر"]
GOOD_FA = ["سفارش خیلی دیر رسید و غذا سرد بود", "پشتیبانی سریع جواب داد، ممنون", "کیفیت بسته‌بندی عالی بود"]
TEXTS = GOOD_AR + GOOD_FA


@dataclass(frozen=True)
class Case:
    """One hostile input: how to build it, how many records it holds, what a correct run reports.

    Attributes:
        name: Short id, also the regression test's id.
        build: Writes the input files into a folder; returns the paths to pass to ``--input``.
        records: Records in the input (rows, lines, files that cannot be read), counted independently.
        args: Extra ``sada analyze`` options.
        expect_error: The run must stop with a one-line error (exit 1, no traceback) instead.
        analysed: How many records must be analysed (None: not checked).
        reasons: Quarantine reasons that must appear, with their minimum counts.
        postgres_only: The case only bites on PostgreSQL (it still runs on SQLite).
    """

    name: str
    build: Callable[[Path], list[Path]]
    records: int
    args: tuple[str, ...] = ()
    expect_error: bool = False
    analysed: int | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    postgres_only: bool = False


def csv_bytes(header: list[str], rows: list[list[object]], encoding: str = "utf-8") -> bytes:
    """A well-formed CSV file's bytes."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _csv_case(name: str, header: list[str], rows: list[list[object]]) -> Callable[[Path], list[Path]]:
    return lambda folder: [_write(folder, name, csv_bytes(header, rows))]


def _rows(n: int, start: int = 1) -> list[list[object]]:
    return [[f"r{i}", TEXTS[i % len(TEXTS)]] for i in range(start, start + n)]


def _jsonl(folder: Path, name: str, records: list[dict]) -> list[Path]:
    # ensure_ascii keeps lone surrogates as \ud800 escapes, as real exports write them
    return [_write(folder, name, "".join(json.dumps(r) + "\n" for r in records))]


def _unbalanced_quote(folder: Path) -> list[Path]:
    lines = ["id,text,nps"] + [f"q{i},{TEXTS[i % len(TEXTS)]},{i % 11}" for i in range(1, 11)]
    lines[3] = 'q3,"الخدمة ممتازة لكن,7'  # the quote never closes
    lines[7] = 'q7,"سفارش دیر رسید",3'
    return [_write(folder, "quote.csv", "\n".join(lines) + "\n")]


def _long_ids(folder: Path) -> list[Path]:
    prefix = "order-2026-" + "x" * 80
    return [_write(folder, "ids.csv", csv_bytes(["id", "text"], [[prefix + "A", TEXTS[0]], [prefix + "B", TEXTS[1]]]))]


def _same_id_twice(folder: Path) -> list[Path]:
    rows = [["dup-1", TEXTS[0]], ["other", TEXTS[2]], ["dup-1", TEXTS[1]]]
    return [_write(folder, "twice.csv", csv_bytes(["id", "text"], rows))]


def _duplicate_header(folder: Path) -> list[Path]:
    rows = [[f"h{i}", TEXTS[i], TEXTS[i + 1]] for i in range(3)]
    return [_write(folder, "header.csv", csv_bytes(["id", "text", "text"], rows))]


def _corrupt_parquet(folder: Path) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 10_000
    table = pa.table({"id": [f"p{i}" for i in range(n)], "text": [TEXTS[i % len(TEXTS)] + f" {i}" for i in range(n)]})
    path = folder / "corrupt.parquet"
    pq.write_table(table, path, row_group_size=4096, compression="none")
    data = bytearray(path.read_bytes())
    middle = pq.ParquetFile(path).metadata.row_group(1).column(1)
    start = middle.data_page_offset
    data[start:start + 4000] = os.urandom(4000)  # scramble the middle row group's text pages
    path.write_bytes(bytes(data))
    return [path]


def _odd_folder(folder: Path) -> list[Path]:
    import gzip

    root = folder / "inbox"
    (root / "sub").mkdir(parents=True)
    (root / "good.csv").write_bytes(csv_bytes(["id", "text"], _rows(2)))
    (root / "notes.txt").write_text("ملاحظات\n", encoding="utf-8")
    (root / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\x00" * 60)
    (root / "sub" / "packed.csv.gz").write_bytes(gzip.compress(csv_bytes(["id", "text"], _rows(2, start=10))))
    os.symlink(root, root / "sub" / "loop")  # a symlink loop back to the top
    if os.geteuid() == 0:  # root reads any folder: a dangling link is the unreadable entry instead
        os.symlink(root / "moved-away.csv", root / "gone.csv")
    else:
        locked = root / "locked"
        locked.mkdir()
        (locked / "hidden.csv").write_bytes(csv_bytes(["id", "text"], _rows(1, start=20)))
        locked.chmod(0)
    return [root]


def _mixed_encoding(folder: Path) -> list[Path]:
    lines = [("id,text\n", "cp1256")] + [(f"m{i},{GOOD_AR[i % 3]}\n", "cp1256") for i in range(8)]
    lines += [("m8,سفارش خیلی دیر رسید\n", "utf-8"), ("m9,المنتج ممتاز جدا\n", "utf-8")]
    return [_write(folder, "mixed.csv", b"".join(text.encode(enc) for text, enc in lines))]


def _oversized(folder: Path) -> list[Path]:
    return [_write(folder, "big.csv", csv_bytes(["id", "text"], [["big", "ممتاز " * 2_000_000], ["ok", TEXTS[0]]]))]


def _bad_cells(folder: Path) -> list[Path]:
    rows = [
        ["c1", TEXTS[0], "Infinity", "", ""],
        ["c2", TEXTS[1], "5", "0001-01-01T00:00:00+01:00", ""],
        ["c3", TEXTS[2], "5", "1403/05/12 25:00", ""],
        ["c4", TEXTS[3], "-inf", "", ""],
        ["c5", TEXTS[4], "7", "2026-02-30", ""],
        ["c6", TEXTS[5], "9", "2026-03-01", "web"],
    ]
    return [_write(folder, "cells.csv", csv_bytes(["id", "text", "nps", "date", "channel"], rows))]


def _surrogates(folder: Path) -> list[Path]:
    return _jsonl(folder, "sur.jsonl", [
        {"id": "s1", "text": "الخدمة \ud800 ممتازة"},
        {"id": "s2", "text": TEXTS[1], "customer_id": "cust-\udfff"},
        {"id": "s3", "text": TEXTS[2]},
    ])


def _postgres_limits(folder: Path) -> list[Path]:
    return _jsonl(folder, "pg.jsonl", [
        {"id": "n1", "text": "الخدمة\u0000ممتازة"},
        {"id": "n2", "text": TEXTS[1], "channel": "c" * 200},
        {"id": "n3", "text": TEXTS[2], "customer_id": "cust\u00001"},
        {"id": "n4", "text": TEXTS[3]},
    ])


CASES: list[Case] = [
    Case("nps_infinity_and_bad_dates", _bad_cells, 6, analysed=1,
         reasons={"nps_out_of_range": 2, "unparseable_date": 3}),
    Case("lone_surrogates_jsonl", _surrogates, 3, analysed=1),
    Case("postgres_nul_and_long_channel", _postgres_limits, 4, analysed=1, postgres_only=True),
    Case("unbalanced_quote", _unbalanced_quote, 10, reasons={"malformed_record": 1}),
    Case("long_ids_collide", _long_ids, 2, analysed=2),
    Case("same_id_twice_in_run", _same_id_twice, 3, analysed=3),
    Case("duplicate_header", _duplicate_header, 3, analysed=0),
    Case("corrupt_parquet_middle", _corrupt_parquet, 10_000),
    # good.csv 2 + packed.csv.gz 2 + notes.txt + old.xls + the loop + an unreadable folder (or dangling link)
    Case("odd_folder", _odd_folder, 8, analysed=4),
    Case("cp1256_with_utf8_lines", _mixed_encoding, 10),
    Case("oversized_field", _oversized, 2, analysed=1, reasons={"text_too_long": 1}),
    Case("bogus_encoding", _csv_case("enc.csv", ["id", "text"], _rows(3)), 3, args=("--encoding", "bogus"),
         expect_error=True),
]
