"""Read feedback files of any common shape into a stream of raw rows.

Formats: CSV, TSV, JSON Lines (each also gzip-compressed, ``.csv.gz``), Excel
(.xlsx) and Parquet, one file or a folder. Text files may be UTF-8 (with or
without BOM), UTF-16 or Windows-1256; a Windows-1256 file may hold UTF-8 lines
(one export appended to another), which are decoded line by line. Bytes that do
not decode survive as surrogate escapes so that only the row holding them is
quarantined, never the whole file. Nothing here judges a row: that is
:mod:`sada.pipeline.validate`'s job. Everything that cannot be read still yields
rows carrying the reason, so every input is accounted for: a file in another
format, a folder that cannot be listed, a symlink loop (one row each), a CSV
line whose quote never closes, each row of a corrupt Parquet row group.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import logging
import os
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from sada.pipeline.errors import ColumnMappingError, DuplicateColumnError, InputError

__all__ = [
    "FIELDS",
    "SUPPORTED_SUFFIXES",
    "ColumnMapping",
    "RawRow",
    "check_encoding",
    "detect_encoding",
    "header_key",
    "expand_inputs",
    "open_text",
    "read_file",
    "read_inputs",
    "read_query",
]

logger = logging.getLogger(__name__)

#: Canonical fields a feedback row can carry. Only ``text`` is required.
FIELDS = ("text", "feedback_id", "customer_id", "created_at", "source", "rating", "nps_score", "channel")

SUPPORTED_SUFFIXES = {".csv", ".tsv", ".jsonl", ".ndjson", ".xlsx", ".parquet",
                      ".csv.gz", ".tsv.gz", ".jsonl.gz", ".ndjson.gz"}

#: Header names recognised for each field, compared after :func:`header_key`.
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


def header_key(name: object) -> str:
    """A header name as compared with known names: no spaces, separators, ZWNJ or BOM; case-folded.

    Example:
        >>> header_key("Customer_ID"), header_key("شناسه مشتری"), header_key("\ufeffNPS Score")
        ('customerid', 'شناسهمشتری', 'npsscore')
    """
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
        keys = {header_key(h): str(h) for h in reversed(header)}
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
    """Files named directly, plus every entry found below folders (sorted).

    Folder entries include files in formats Sada does not read, folders that
    cannot be listed and symlink loops: :func:`read_file` turns each into one
    quarantined row, so nothing in a folder is skipped without a trace.
    Hidden entries (names starting with ".") are left out.

    Raises:
        InputError: a path does not exist, or a folder is empty.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(_walk(path))
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


def _walk(folder: Path, ancestors: frozenset[str] | None = None) -> Iterator[Path]:
    """Every non-hidden entry below ``folder``; unlistable folders and loops are yielded themselves.

    ``ancestors`` are the real paths of ``folder`` and the folders above it.
    """
    ancestors = ancestors or frozenset({os.path.realpath(folder)})
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        yield folder
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir():  # follows symlinks
            real = os.path.realpath(path)
            if real in ancestors:
                yield path
            else:
                yield from _walk(path, ancestors | {real})
        else:
            yield path


def _suffix(path: Path) -> str:
    """The format suffix, compression included: ``.csv``, ``.csv.gz``."""
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    if len(suffixes) == 2 and suffixes[1] == ".gz":
        return "".join(suffixes)
    return suffixes[-1] if suffixes else ""


def _unreadable_entry(path: Path) -> str | None:
    """Why a folder entry cannot be read as a file, or None when it is a regular file."""
    if path.is_file():
        return None
    if path.is_symlink() and not path.exists():
        return f"{path} is a link to {os.readlink(path)}, which does not exist"
    if path.is_dir():
        try:
            os.scandir(path).close()
        except OSError as exc:
            return f"folder {path} cannot be listed ({exc.strerror}); fix its permissions"
        return f"{path} links back to {os.path.realpath(path)}, a folder above it (a symlink loop)"
    return f"{path} is not a regular file"


def read_inputs(
    paths: Iterable[str | Path], mapping: ColumnMapping | None = None, encoding: str | None = None
) -> Iterator[RawRow]:
    """Rows of every input file in turn; one bad file never stops the others."""
    for path in expand_inputs(paths):
        yield from read_file(path, mapping, encoding)


def check_encoding(encoding: str | None) -> str | None:
    """The encoding's canonical name, None when not given.

    Raises:
        InputError: Python knows no such encoding.
    """
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}; expected a codec name such as utf-8, cp1256 or utf-16, "
                         "or leave --encoding out to detect it") from None


def read_file(path: str | Path, mapping: ColumnMapping | None = None, encoding: str | None = None) -> Iterator[RawRow]:
    """Rows of one file, with fields renamed to the canonical names.

    A file in an unsupported format yields one ``unsupported_format`` row; one
    that fails to open, a folder that cannot be listed or a symlink loop one
    ``unreadable_file`` row. A file without a text column yields every row as
    ``missing_text_column``.
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    problem = _unreadable_entry(path)
    if problem:
        yield RawRow(str(path), 0, {}, "unreadable_file", problem)
        return
    suffix = _suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        yield RawRow(str(path), 0, {}, "unsupported_format",
                     f"unsupported format {suffix or '(none)'}; expected one of {sorted(SUPPORTED_SUFFIXES)}; "
                     "convert the file or move it out of the input folder")
        return
    count = 0
    resolved: dict[tuple, dict[str, str] | ColumnMappingError] = {}
    reader = _READERS[suffix.removesuffix(".gz")]
    try:
        for header, number, record, error, detail in reader(path, encoding):
            count = number
            if error:
                yield RawRow(str(path), number, record or {}, error, detail)
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
        columns = mapping.resolve(header)
    except ColumnMappingError as exc:
        return exc
    for name, column in columns.items():
        if name not in mapping.explicit and f"{column}{_DUPLICATE_MARK}2" in header:
            return DuplicateColumnError(
                f"expected one column named {column!r} for {name}, found {header.count(column) + 1} "
                f"(read as {column!r}, {column + _DUPLICATE_MARK + '2'!r}, ...); rename one in the file or "
                f"pick one with --map {name}=COLUMN")
    return columns


#: Repeated header names are read as ``name``, ``name.2``, ``name.3`` so no column overwrites another.
_DUPLICATE_MARK = "."


def _unique_header(header: list[str]) -> list[str]:
    """Header names made unique: the second ``text`` becomes ``text.2``.

    Example:
        >>> _unique_header(["id", "متن", "متن", "id"])
        ['id', 'متن', 'متن.2', 'id.2']
    """
    seen: dict[str, int] = {}
    unique = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}{_DUPLICATE_MARK}{seen[name]}")
    return unique


def _mapped_row(
    path: Path, number: int, header: list[str], record: dict, columns: dict[str, str] | ColumnMappingError
) -> RawRow:
    if isinstance(columns, ColumnMappingError):
        reason = "duplicate_column" if isinstance(columns, DuplicateColumnError) else "column_mapping"
        return RawRow(str(path), number, _first_fields(record), reason, str(columns))
    if "text" not in columns:
        return RawRow(str(path), number, _first_fields(record), "missing_text_column",
                      f"expected a text column, found {header}; name it with --map text=COLUMN")
    fields = {name: _clean_value(record.get(column)) for name, column in columns.items()}
    return RawRow(str(path), number, fields)


def _first_fields(record: dict | None, limit: int = 20) -> dict[str, object]:
    """A row's own cells, kept in the quarantine when no field could be mapped."""
    return {str(k): _clean_value(v) for k, v in list((record or {}).items())[:limit]}


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


def _open_binary(path: Path):
    """The file's bytes, decompressed when it ends in .gz."""
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


def _chosen_encoding(path: Path, encoding: str | None) -> str:
    if encoding:
        return encoding
    with _open_binary(path) as handle:
        return detect_encoding(handle.read(_SAMPLE_BYTES))


def open_text(path: Path, encoding: str | None = None) -> io.TextIOWrapper:
    """Open a text file in its detected (or the given) encoding; undecodable bytes become surrogate escapes."""
    chosen = _chosen_encoding(path, encoding)
    logger.debug("%s: reading as %s", path, chosen)
    # surrogateescape keeps undecodable bytes so only their row is quarantined
    errors = "surrogateescape" if not chosen.startswith("utf-16") else "replace"
    return io.TextIOWrapper(_open_binary(path), encoding=chosen, errors=errors, newline="")


def text_lines(path: Path, encoding: str | None = None) -> Iterator[str]:
    """The file's lines as text, line endings kept.

    A file detected as Windows-1256 is decoded line by line: a line that is
    valid UTF-8 (and not plain ASCII) is read as UTF-8, since Windows-1256
    Arabic practically never forms valid UTF-8; other lines as Windows-1256.
    """
    chosen = _chosen_encoding(path, encoding)
    if chosen != "cp1256" or encoding:
        with open_text(path, chosen) as handle:
            yield from handle
        return
    with _open_binary(path) as handle:
        for line in handle:
            yield _decode_legacy_line(line)


def _decode_legacy_line(line: bytes) -> str:
    """One line of a Windows-1256 file that may hold UTF-8 lines.

    Example:
        >>> _decode_legacy_line("سلام\\n".encode("utf-8")), _decode_legacy_line("سلام\\n".encode("cp1256"))
        ('سلام\\n', 'سلام\\n')
    """
    if line.isascii():
        return line.decode("ascii")
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1256", errors="surrogateescape")


# --------------------------------------------------------------------------- readers
# Each reader yields (header, row_number, record, error, detail).


def _csv_records(path: Path, encoding: str | None) -> Iterator[tuple]:
    """CSV/TSV records, parsed strictly so that a quote that never closes cannot swallow the rows after it.

    When a record does not parse (a stray quote), its first line is quarantined
    as ``malformed_record`` and the lines after it are parsed again as rows of
    their own.
    """
    csv.field_size_limit(1 << 30)
    lines = text_lines(path, encoding)
    head = [line for _, line in zip(range(20), lines)]
    delimiter = "\t" if _suffix(path).startswith(".tsv") else _sniff_delimiter("".join(head))
    pending: deque[str] = deque(head)
    taken: list[str] = []  # the physical lines of the record being parsed

    def source() -> Iterator[str]:
        while True:
            line = pending.popleft() if pending else next(lines, None)
            if line is None:
                return
            taken.append(line)
            yield line

    feed = source()
    reader = csv.reader(feed, delimiter=delimiter, strict=True)
    header: list[str] | None = None
    number = 0
    while True:
        taken.clear()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            first, rest = taken[:1], taken[1:]
            pending.extendleft(reversed(rest))
            feed = source()  # the old one may have run to the end of the file
            reader = csv.reader(feed, delimiter=delimiter, strict=True)
            if header is None:
                continue
            number += 1
            yield header, number, {"line": first[0].rstrip("\r\n") if first else ""}, "malformed_record", (
                f"unbalanced quote ({exc}); the {len(rest)} line(s) after it are read as rows of their own; "
                "fix the quoting in the file")
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = _unique_header([h.strip().lstrip("\ufeff") for h in row])
            continue
        number += 1
        if len(row) > len(header):
            yield header, number, {"line": delimiter.join(row)}, "malformed_record", \
                f"expected {len(header)} fields, found {len(row)}"
            continue
        yield header, number, dict(zip(header, row)), None, ""


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


def _jsonl_records(path: Path, encoding: str | None) -> Iterator[tuple]:
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
                header = _unique_header(
                    [str(v).strip() if v is not None else f"column{i + 1}" for i, v in enumerate(values)])
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
    """Parquet rows, streamed one row group at a time in batches.

    A row group that fails to decode yields one ``unreadable_rows`` row for each
    of its records not yet read, so the count still matches the file's metadata.
    """
    import pyarrow.parquet as pq

    table = pq.ParquetFile(path)
    header = _unique_header(table.schema_arrow.names)
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
_READERS = {".csv": _csv_records, ".tsv": _csv_records, ".jsonl": _jsonl_records, ".ndjson": _jsonl_records,
            ".xlsx": _xlsx_records, ".parquet": _parquet_records}
