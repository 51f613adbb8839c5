"""Read feedback files of any common shape into a stream of raw rows.

Formats: CSV, TSV, JSON Lines, Excel (.xlsx) and Parquet, one file or a folder.
Text files may be UTF-8 (with or without BOM), UTF-16 or Windows-1256; bytes
that do not decode survive as surrogate escapes so that only the row holding
them is quarantined, never the whole file. Nothing here judges a row: that is
:mod:`pipeline.validate`'s job. A file that cannot be read at all yields one
row carrying the reason, so every input is accounted for.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from pipeline.errors import ColumnMappingError, InputError

__all__ = [
    "FIELDS",
    "SUPPORTED_SUFFIXES",
    "ColumnMapping",
    "RawRow",
    "detect_encoding",
    "expand_inputs",
    "open_text",
    "read_file",
    "read_inputs",
    "read_query",
]

logger = logging.getLogger(__name__)

#: Canonical fields a feedback row can carry. Only ``text`` is required.
FIELDS = ("text", "feedback_id", "customer_id", "created_at", "source", "rating", "nps_score", "channel")

SUPPORTED_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".xlsx", ".parquet"}

#: Header names recognised for each field, compared after :func:`_header_key`.
_ALIASES: dict[str, tuple[str, ...]] = {
    "text": (
        "text", "comment", "comments", "review", "reviewtext", "body", "message", "feedback",
        "feedbacktext", "content", "verbatim", "answer", "response", "remarks", "opinion",
        "النص", "التعليق", "تعليق", "المراجعة", "الرأي", "الملاحظات", "متن", "نظر", "دیدگاه",
        "پیام", "توضیحات", "بازخورد",
    ),
    "feedback_id": (
        "feedbackid", "id", "reviewid", "commentid", "responseid", "ticketid", "itemid", "messageid",
    ),
    "customer_id": (
        "customerid", "customer", "clientid", "userid", "accountid", "subscriberid", "memberid",
        "رقمالعميل", "العميل", "شناسهمشتری", "کدمشتری", "مشتری",
    ),
    "created_at": (
        "createdat", "date", "timestamp", "time", "created", "submittedat", "datetime", "reviewdate",
        "submitted", "التاريخ", "تاريخ", "تاریخ", "زمان",
    ),
    "source": ("source", "sourcetype", "type", "kind", "feedbacktype", "المصدر", "منبع"),
    "rating": ("rating", "stars", "starrating", "score5", "التقييم", "امتیاز"),
    "nps_score": ("npsscore", "nps", "likelihoodtorecommend", "recommendscore", "ltr", "npsrating"),
    "channel": ("channel", "platform", "store", "medium", "القناة", "کانال"),
}

_HEADER_JUNK = re.compile(r"[\s_\-.:/()\u200c\ufeff]+")


def _header_key(name: object) -> str:
    return _HEADER_JUNK.sub("", str(name)).casefold()


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column feeds each canonical field.

    Explicit names win; fields left out are auto-detected from common header
    names (English, Arabic and Persian).

    Example:
        >>> ColumnMapping.parse(["text=comment_body"]).resolve(["id", "comment_body", "NPS"])
        {'text': 'comment_body', 'feedback_id': 'id', 'nps_score': 'NPS'}
    """

    explicit: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.explicit) - set(FIELDS))
        if unknown:
            raise ColumnMappingError(
                f"unknown field(s) {unknown} in the column mapping; expected some of {list(FIELDS)}"
            )

    @classmethod
    def parse(cls, pairs: Iterable[str]) -> ColumnMapping:
        """Build a mapping from ``field=column`` strings (the CLI's ``--map``)."""
        explicit = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise ColumnMappingError(f"expected --map FIELD=COLUMN, found {pair!r}")
            explicit[name.strip()] = column.strip()
        return cls(explicit)

    def resolve(self, header: list[str]) -> dict[str, str]:
        """Map canonical field -> column name for one file's header.

        Raises:
            ColumnMappingError: an explicitly mapped column is not in ``header``.
        """
        present = {str(h) for h in header}
        resolved: dict[str, str] = {}
        for name, column in self.explicit.items():
            if column not in present:
                raise ColumnMappingError(
                    f"--map {name}={column}: expected a column named {column!r}, "
                    f"found columns {sorted(present)}; fix the mapping or the file's header"
                )
            resolved[name] = column
        keys = {_header_key(h): str(h) for h in reversed(header)}
        taken = set(resolved.values())
        for name in FIELDS:
            if name in resolved:
                continue
            for alias in _ALIASES[name]:
                column = keys.get(alias)
                if column is not None and column not in taken:
                    resolved[name] = column
                    taken.add(column)
                    break
        return resolved


@dataclass(frozen=True)
class RawRow:
    """One input row before validation.

    ``row_number`` counts data rows from 1 (the header is not a row); a file
    that could not be read at all gives a single row numbered 0. ``error`` is
    a quarantine reason when the row could not even be read.
    """

    source_file: str
    row_number: int
    fields: dict[str, object]
    error: str | None = None
    detail: str = ""


# --------------------------------------------------------------------------- files


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus supported files found below folders (sorted).

    Raises:
        InputError: a path does not exist, or a folder holds no supported file.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                raise InputError(
                    f"expected feedback files ({', '.join(sorted(SUPPORTED_SUFFIXES))}) in folder {path}, found none"
                )
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"input {path} does not exist; check the path given to --input")
    return files


def read_inputs(
    paths: Iterable[str | Path], mapping: ColumnMapping | None = None, encoding: str | None = None
) -> Iterator[RawRow]:
    """Rows of every input file in turn; one bad file never stops the others."""
    for path in expand_inputs(paths):
        yield from read_file(path, mapping, encoding)


def read_file(path: str | Path, mapping: ColumnMapping | None = None, encoding: str | None = None) -> Iterator[RawRow]:
    """Rows of one file, with fields renamed to the canonical names.

    A file in an unsupported format, or one that fails to open, yields one
    ``unreadable_file`` row. A file without a text column yields every row as
    ``missing_text_column``.
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    suffix = path.suffix.lower()
    readers = {
        ".csv": _csv_records, ".tsv": _csv_records, ".jsonl": _jsonl_records, ".ndjson": _jsonl_records,
        ".xlsx": _xlsx_records, ".parquet": _parquet_records,
    }
    reader = readers.get(suffix)
    if reader is None:
        yield RawRow(str(path), 0, {}, "unreadable_file",
                     f"unsupported format {suffix or '(none)'}; expected one of {sorted(SUPPORTED_SUFFIXES)}")
        return
    count = 0
    resolved: dict[tuple, dict[str, str] | ColumnMappingError] = {}
    try:
        for header, number, record, error, detail in reader(path, encoding):
            count = number
            if error:
                yield RawRow(str(path), number, {}, error, detail)
                continue
            key = tuple(header)
            if key not in resolved:
                resolved[key] = _resolve(mapping, header)
            yield _mapped_row(path, number, header, record, resolved[key])
    except Exception as exc:  # a corrupt file must not stop the other inputs
        logger.warning("cannot read %s after row %d: %s", path, count, exc)
        yield RawRow(str(path), count + 1 if count else 0, {}, "unreadable_file",
                     f"{type(exc).__name__}: {exc}"[:500])


def _resolve(mapping: ColumnMapping, header: list[str]) -> dict[str, str] | ColumnMappingError:
    try:
        return mapping.resolve(header)
    except ColumnMappingError as exc:
        return exc


def _mapped_row(
    path: Path, number: int, header: list[str], record: dict, columns: dict[str, str] | ColumnMappingError
) -> RawRow:
    if isinstance(columns, ColumnMappingError):
        return RawRow(str(path), number, {}, "column_mapping", str(columns))
    if "text" not in columns:
        return RawRow(str(path), number, {}, "missing_text_column",
                      f"expected a text column, found {header}; name it with --map text=COLUMN")
    fields = {name: _clean_value(record.get(column)) for name, column in columns.items()}
    return RawRow(str(path), number, fields)


def _clean_value(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\r\n", "\n").replace("\r", "\n")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN from Excel/Parquet
        return None
    return value


def read_query(url: str, query: str, mapping: ColumnMapping | None = None, chunk_size: int = 2000) -> Iterator[RawRow]:
    """Rows of a SQL query run through SQLAlchemy, streamed in chunks.

    The query's column names are mapped like a file's header; rows are
    numbered from 1 and their ``source_file`` is ``sql:`` plus the query.

    Raises:
        InputError: the database cannot be reached or the query fails.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    mapping = mapping or ColumnMapping()
    label = "sql:" + " ".join(query.split())[:200]
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=chunk_size).execute(text(query))
            header = list(result.keys())
            columns = _resolve(mapping, header)
            for number, row in enumerate(result, start=1):
                yield _mapped_row(Path(label), number, header, dict(row._mapping), columns)
    except SQLAlchemyError as exc:
        raise InputError(f"SQL source failed: {str(exc).splitlines()[0]}; check the URL and query") from None


# --------------------------------------------------------------------------- encodings

_SAMPLE_BYTES = 1 << 20


def detect_encoding(sample: bytes) -> str:
    """Guess the text encoding of a file from its first bytes.

    BOMs decide first; then UTF-16 without BOM (Arabic script puts 0x06 in
    every other byte); then UTF-8 if nearly all multi-byte sequences are
    valid; otherwise Windows-1256, the usual legacy Arabic code page.

    Example:
        >>> detect_encoding("سلام".encode("cp1256"))
        'cp1256'
        >>> detect_encoding("سلام".encode("utf-8"))
        'utf-8'
        >>> detect_encoding(codecs.BOM_UTF8 + b"x")
        'utf-8-sig'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        high = {0x00, 0x06, 0x20, 0xFB, 0xFE}
        if sum(b in high for b in odd) > 0.9 * len(odd) and odd.count(0) + odd.count(6) > 0.5 * len(odd):
            return "utf-16-le"
        if sum(b in high for b in even) > 0.9 * len(even) and even.count(0) + even.count(6) > 0.5 * len(even):
            return "utf-16-be"
    text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(sample, final=False)
    bad = text.count("\ufffd")
    valid = sum(ord(ch) >= 0x80 for ch in text) - bad
    # Windows-1256 bytes almost never form valid UTF-8 sequences; a few stray bytes in a UTF-8 file do not
    # make it Windows-1256 (their rows are quarantined as undecodable instead).
    return "utf-8" if valid >= 3 * bad else "cp1256"


def open_text(path: Path, encoding: str | None = None) -> io.TextIOWrapper:
    """Open a text file in its detected (or the given) encoding; undecodable bytes become surrogate escapes."""
    with path.open("rb") as handle:
        sample = handle.read(_SAMPLE_BYTES)
    chosen = encoding or detect_encoding(sample)
    logger.debug("%s: reading as %s", path, chosen)
    # surrogateescape keeps undecodable bytes so only their row is quarantined
    errors = "surrogateescape" if not chosen.startswith("utf-16") else "replace"
    return path.open("r", encoding=chosen, errors=errors, newline="")


# --------------------------------------------------------------------------- readers
# Each reader yields (header, row_number, record, error, detail).


def _csv_records(path: Path, encoding: str | None) -> Iterator[tuple]:
    csv.field_size_limit(1 << 30)
    with open_text(path, encoding) as handle:
        sample = handle.read(1 << 16)
        handle.seek(0)
        delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(sample)
        reader = csv.reader(handle, delimiter=delimiter)
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
        if header is None:
            return
        header = [h.strip().lstrip("\ufeff") for h in header]
        number = 0
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            number += 1
            if len(row) > len(header):
                yield header, number, None, "malformed_record", f"expected {len(header)} fields, found {len(row)}"
                continue
            yield header, number, dict(zip(header, row)), None, ""


def _sniff_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample.split("\n", 20)[0] if sample else ",", delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _jsonl_records(path: Path, encoding: str | None) -> Iterator[tuple]:
    with open_text(path, encoding) as handle:
        number = 0
        header: list[str] = []
        for line in handle:
            if not line.strip():
                continue
            number += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield header, number, None, "malformed_record", f"invalid JSON: {exc.msg}"
                continue
            if not isinstance(record, dict):
                yield header, number, None, "malformed_record", f"expected a JSON object, found {type(record).__name__}"
                continue
            record = {str(k): (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
                      for k, v in record.items()}
            yield list(record), number, record, None, ""


def _xlsx_records(path: Path, encoding: str | None) -> Iterator[tuple]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header = None
        for values in rows:
            if any(v not in (None, "") for v in values):
                header = [str(v).strip() if v is not None else f"column{i + 1}" for i, v in enumerate(values)]
                break
        if header is None:
            return
        number = 0
        for values in rows:
            if not any(v not in (None, "") for v in values):
                continue
            number += 1
            yield header, number, dict(zip(header, values)), None, ""
    finally:
        book.close()


def _parquet_records(path: Path, encoding: str | None) -> Iterator[tuple]:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    header = table.schema_arrow.names
    number = 0
    for batch in table.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            number += 1
            yield header, number, record, None, ""
