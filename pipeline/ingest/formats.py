"""The reader of each file format: CSV/TSV, JSON Lines, JSON, Excel, Parquet (and their ``.gz``).

Each reader takes ``(path, encoding, sheet)`` and yields a :class:`Table` before each table
it reads (a file, or a sheet of a workbook), then ``(header, row_number, record, error,
detail)`` per record. In tables the header is found below title and blank rows, and survey
tools' metadata rows are skipped and counted (:mod:`sada.pipeline.survey`).
"""

from __future__ import annotations

import csv
import json
import logging
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq

from sada.pipeline.errors import InputError
from sada.pipeline.ingest.columns import KNOWN_NAMES, ColumnMapping, resolve_columns, unique_header
from sada.pipeline.ingest.encoding import open_binary, open_text, text_lines
from sada.pipeline.survey import clean_header, detect_layout, find_header_row

__all__ = ["QUARANTINE_LINE_CHARS", "READERS", "SAMPLE_ROWS", "SUPPORTED_SUFFIXES", "Table", "check_sheet",
           "estimate_rows", "format_suffix"]

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".xlsx", ".parquet",
                      ".csv.gz", ".tsv.gz", ".jsonl.gz", ".ndjson.gz", ".json.gz"}


def format_suffix(path: Path) -> str:
    """The format suffix, compression included: ``.csv``, ``.csv.gz``."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] == ".gz":
        return "".join(suffixes)
    return suffixes[-1] if suffixes else ""


@dataclass(frozen=True)
class Table:
    """Yielded by a reader before the records of each table it reads (a file, or a sheet of a workbook)."""

    sheet: str | None = None
    skipped: int = 0  # title rows above the header and survey metadata rows below it
    tool: str | None = None
    questions: dict[str, str] = field(default_factory=dict)
    labelled: bool = False  # several sheets of one workbook: rows are labelled file#sheet


#: Records read before a table's columns are chosen: content-based detection looks at them.
SAMPLE_ROWS = 50


#: Non-blank rows looked at to find the header below title rows.
_HEAD_ROWS = 20


def _blank(cells: Sequence[object]) -> bool:
    return not any(v is not None and str(v).strip() != "" for v in cells)


def _table_records(rows: Iterator[tuple], delimiter: str = ",", sheet: str | None = None,
                   labelled: bool = False) -> Iterator[object]:
    """A table's records from its non-blank rows ``(cells, error, detail, kept)``.

    The header is found below title rows (:func:`find_header_row`); survey
    metadata rows below it are skipped (:func:`detect_layout`). Both are counted
    in the yielded :class:`Table`, never as records. A row that did not parse
    (``error``) keeps ``kept`` for the quarantine; one before the header counts as a
    header row.
    """
    head = list(islice(rows, _HEAD_ROWS))
    good = [i for i, row in enumerate(head) if not row[1]]
    if not good:
        return
    at = good[find_header_row([head[i][0] for i in good], KNOWN_NAMES)]
    header = unique_header([clean_header(v) if v is not None else f"column{i + 1}"
                             for i, v in enumerate(head[at][0])])
    following = []
    for cells, error, _, _ in head[at + 1:at + 4]:
        if error:
            break
        following.append(cells)
    layout = detect_layout(header, following)
    meta = min(layout.meta_rows, len(following))
    yield Table(sheet, at + meta, layout.tool, layout.questions, labelled)
    header = unique_header(layout.header)
    number = 0
    for cells, error, detail, kept in chain(head[at + 1 + meta:], rows):
        number += 1
        if error:
            yield header, number, kept, error, detail
        elif len(cells) > len(header) and not _blank(cells[len(header):]):
            yield header, number, {"line": delimiter.join("" if c is None else str(c) for c in cells)}, \
                "malformed_record", f"expected {len(header)} fields, found {len(cells)}"
        else:
            yield header, number, dict(zip(header, cells)), None, ""


def _csv_records(path: Path, encoding: str | None, sheet: str | None = None) -> Iterator[object]:
    """CSV/TSV records, parsed strictly so that a quote that never closes cannot swallow the rows after it.

    When a record does not parse (a stray quote), its first line is quarantined
    as ``malformed_record`` and the lines after it are parsed again as rows of
    their own.
    """
    csv.field_size_limit(1 << 30)
    lines = text_lines(path, encoding)
    head = [line for _, line in zip(range(20), lines)]
    delimiter = "\t" if format_suffix(path).startswith(".tsv") else _sniff_delimiter("".join(head))
    yield from _table_records(_csv_rows(lines, head, delimiter), delimiter)


def _csv_rows(lines: Iterator[str], head: list[str], delimiter: str) -> Iterator[tuple]:
    """``(cells, error, detail, kept)`` of each non-blank CSV record."""
    pending: deque[str] = deque(head)
    taken: list[str] = []  # the physical lines of the record being parsed

    def source() -> Iterator[str]:
        while True:
            line = pending.popleft() if pending else next(lines, None)
            if line is None:
                return
            taken.append(line)
            yield line

    reader = csv.reader(source(), delimiter=delimiter, strict=True)
    while True:
        taken.clear()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            first, rest = taken[:1], taken[1:]
            pending.extendleft(reversed(rest))
            reader = csv.reader(source(), delimiter=delimiter, strict=True)  # the old one may be at the end
            yield None, "malformed_record", (
                f"unbalanced quote ({exc}); the {len(rest)} line(s) after it are read as rows of their own; "
                "fix the quoting in the file"), {"line": first[0].rstrip("\r\n") if first else ""}
            continue
        if any(cell.strip() for cell in row):
            yield row, None, "", None


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 20)[0] if sample else ",", delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    repeated = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    if repeated:
        raise ValueError(f"key(s) {repeated} appear more than once in the object")
    return dict(pairs)


def _flat(record: dict) -> dict[str, object]:
    """A JSON record with nested objects and lists kept as JSON text."""
    return {str(k): (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
            for k, v in record.items()}


def _jsonl_records(path: Path, encoding: str | None, sheet: str | None = None) -> Iterator[tuple]:
    number = 0
    header: list[str] = []
    for line in text_lines(path, encoding):
        if not line.strip():
            continue
        number += 1
        raw = {"line": line.rstrip("\r\n")}  # what the quarantine keeps of a record that does not parse
        try:
            record = json.loads(line, object_pairs_hook=_no_repeated_keys)
        except json.JSONDecodeError as exc:
            yield header, number, raw, "malformed_record", f"invalid JSON: {exc.msg}"
            continue
        except ValueError as exc:  # a repeated key would silently drop one of its values
            yield header, number, raw, "malformed_record", f"invalid record: {exc}"
            continue
        if not isinstance(record, dict):
            yield header, number, raw, "malformed_record", f"expected a JSON object, found {type(record).__name__}"
            continue
        record = _flat(record)
        yield list(record), number, record, None, ""


class _Repeated(dict):
    """A JSON object with a key given twice (the later value would silently win)."""

    repeated: list[str]


def _mark_repeated_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    repeated = sorted(k for k, n in Counter(k for k, _ in pairs).items() if n > 1)
    if not repeated:
        return dict(pairs)
    marked = _Repeated(pairs)
    marked.repeated = repeated
    return marked


def _json_records(path: Path, encoding: str | None, sheet: str | None = None) -> Iterator[tuple]:
    """Records of a ``.json`` file: an array of objects, or an object holding one list of objects (an API dump).

    The whole file is parsed at once (JSON has no record boundaries); an element that is
    not an object, or repeats a key, is a ``malformed_record`` of its own.
    """
    with open_text(path, encoding) as handle:
        data = json.loads(handle.read(), object_pairs_hook=_mark_repeated_keys)
    records = _json_record_list(data)
    for number, record in enumerate(records, start=1):
        raw = {"line": json.dumps(record, ensure_ascii=False)[:QUARANTINE_LINE_CHARS]}
        if not isinstance(record, dict):
            yield [], number, raw, "malformed_record", f"expected a JSON object, found {type(record).__name__}"
        elif isinstance(record, _Repeated):
            yield [], number, raw, "malformed_record", \
                f"invalid record: key(s) {record.repeated} appear more than once in the object"
        else:
            flat = _flat(record)
            yield list(flat), number, flat, None, ""


#: How much of a malformed JSON element the quarantine keeps (the store bounds it again).
QUARANTINE_LINE_CHARS = 100_000


def _json_record_list(data: object) -> list:
    """The list of records in a parsed ``.json`` file.

    Raises:
        InputError: neither an array nor an object with exactly one list of objects.
    """
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lists = [k for k, v in data.items() if isinstance(v, list) and any(isinstance(e, dict) for e in v)]
        if len(lists) == 1:
            return data[lists[0]]
        if not lists and not any(isinstance(v, (dict, list)) for v in data.values()):
            return [data]  # one flat record
        found = f"lists of records under {lists}" if lists else f"an object with keys {sorted(data)[:10]}"
    else:
        found = type(data).__name__
    raise InputError(f"expected a JSON array of records or an object holding one list of records, found {found}; "
                     "export the records as an array, or as JSON Lines (.jsonl)")


def check_sheet(sheet: str | None) -> str | None:
    """The ``--sheet`` value as given: a sheet name, a sheet number counted from 1, ``all``, or None.

    Raises:
        InputError: a sheet number below 1.
    """
    if sheet is not None and sheet.strip().isdigit() and int(sheet) < 1:
        raise InputError(f"expected --sheet NAME, a sheet number from 1, or all; found {sheet!r}")
    return sheet


def _xlsx_records(path: Path, encoding: str | None, sheet: str | None = None) -> Iterator[object]:
    """Records of the workbook's data sheet (or the sheets ``sheet`` names), each sheet a table of its own."""
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = _chosen_sheets(book, sheet, path)
        for ws in sheets:
            rows = ((list(values), None, "", None) for values in ws.iter_rows(values_only=True)
                    if not _blank(values))
            yield from _table_records(rows, sheet=ws.title, labelled=len(sheets) > 1)
    finally:
        book.close()


def _chosen_sheets(book, sheet: str | None, path: Path) -> list:
    """The worksheets to read: ``all``, the one named or numbered (from 1), or the one holding the data.

    Raises:
        InputError: no sheet has that name or number.
    """
    sheets = book.worksheets
    if sheet is None:
        chosen = _data_sheet(sheets) if len(sheets) > 1 else sheets[0]
        if len(sheets) > 1:
            logger.info("%s: reading sheet %r (%d of %d), the one holding the data; --sheet picks another",
                        path, chosen.title, sheets.index(chosen) + 1, len(sheets))
        return [chosen]
    if sheet.strip().casefold() == "all":
        return list(sheets)
    named = [ws for ws in sheets if ws.title == sheet or ws.title.strip().casefold() == sheet.strip().casefold()]
    if named:
        return named[:1]
    if sheet.strip().isdigit() and 1 <= int(sheet) <= len(sheets):
        return [sheets[int(sheet) - 1]]
    raise InputError(f"expected a sheet named {sheet!r} or a sheet number from 1 to {len(sheets)} in {path.name}, "
                     f"found sheets {[ws.title for ws in sheets]}; fix --sheet (or use --sheet all)")


def _data_sheet(sheets: list):
    """The sheet that holds the feedback: a text column found in its first rows, then the most rows."""

    def score(ws) -> tuple[bool, int]:
        rows = [(list(v), None, "", None) for v in islice(
            (v for v in ws.iter_rows(values_only=True) if not _blank(v)), _HEAD_ROWS + SAMPLE_ROWS)]
        records = list(_table_records(iter(rows)))
        data = [r for r in records if not isinstance(r, Table)]
        table = next((r for r in records if isinstance(r, Table)), Table())
        if not data:
            return False, 0
        header = data[0][0]
        columns = resolve_columns(ColumnMapping(), header, table.questions, [r[2] for r in data], table.tool)
        has_text = isinstance(columns, dict) and "text" in columns
        return has_text, max(ws.max_row or 0, len(data))

    scores = [score(ws) for ws in sheets]
    return sheets[scores.index(max(scores))]


def _parquet_records(path: Path, encoding: str | None, sheet: str | None = None) -> Iterator[tuple]:
    """Parquet rows, streamed one row group at a time in batches.

    A row group that fails to decode yields one ``unreadable_rows`` row for each
    of its records not yet read, so the count still matches the file's metadata.
    """
    table = pq.ParquetFile(path)
    header = unique_header([clean_header(name) for name in table.schema_arrow.names])
    number = 0
    for group in range(table.num_row_groups):
        end = number + table.metadata.row_group(group).num_rows
        try:
            for batch in table.iter_batches(batch_size=4096, row_groups=[group]):
                for record in batch.to_pylist():
                    number += 1
                    yield header, number, dict(zip(header, record.values())), None, ""
        except Exception as exc:  # noqa: BLE001 - any decoding failure of this group
            detail = (f"row group {group + 1} of {table.num_row_groups} (rows {number + 1}-{end}) "
                      f"cannot be read: {type(exc).__name__}: {str(exc)[:200]}")
            while number < end:
                number += 1
                yield header, number, None, "unreadable_rows", detail


#: The reader of each format (a ``.gz`` file is read by its inner format's reader).
READERS = {".csv": _csv_records, ".tsv": _csv_records, ".jsonl": _jsonl_records, ".ndjson": _jsonl_records,
            ".json": _json_records, ".xlsx": _xlsx_records, ".parquet": _parquet_records}


def estimate_rows(path: str | Path) -> int | None:
    """About how many records a file holds, read cheaply (for a progress bar's time left); None when unknown.

    Text files count their line breaks (a quoted field holding one counts twice),
    workbooks their sheets' dimensions, Parquet its metadata. Nothing here is used
    for accounting.
    """
    path = Path(path)
    suffix = format_suffix(path).removesuffix(".gz")
    try:
        if suffix in (".csv", ".tsv", ".jsonl", ".ndjson"):
            with open_binary(path) as handle:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
            return max(lines - (suffix in (".csv", ".tsv")), 0)
        if suffix == ".parquet":
            return pq.ParquetFile(path).metadata.num_rows
        if suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            try:
                return max((ws.max_row or 0) for ws in book.worksheets)
            finally:
                book.close()
    except Exception:  # noqa: BLE001 - an estimate; reading the file reports what is wrong with it
        return None
    return None
