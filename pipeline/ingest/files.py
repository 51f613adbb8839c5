"""Input files and folders (and SQL queries) -> a stream of :class:`RawRow`, every input accounted for.

A file in another format, a folder that cannot be listed, a symlink loop: one quarantined
row each; a file that fails half-way keeps the rows read before it and one row for the rest.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from sada.pipeline.errors import ColumnMappingError, InputError, SadaError
from sada.pipeline.ingest.columns import FIELDS, ColumnMapping, resolve_columns
from sada.pipeline.ingest.formats import READERS, SAMPLE_ROWS, SUPPORTED_SUFFIXES, Table, format_suffix
from sada.pipeline.ingest.rows import FileLayout, RawRow, mapped_row

__all__ = ["expand_inputs", "read_file", "read_inputs", "read_query"]

logger = logging.getLogger(__name__)

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
    paths: Iterable[str | Path], mapping: ColumnMapping | None = None, encoding: str | None = None,
    sheet: str | None = None,
) -> Iterator[RawRow]:
    """Rows of every input file in turn; one bad file never stops the others."""
    for path in expand_inputs(paths):
        yield from read_file(path, mapping, encoding, sheet)


def read_file(
    path: str | Path, mapping: ColumnMapping | None = None, encoding: str | None = None, sheet: str | None = None
) -> Iterator[RawRow]:
    """Rows of one file, with fields renamed to the canonical names.

    A file in an unsupported format yields one ``unsupported_format`` row; one
    that fails to open, a folder that cannot be listed or a symlink loop one
    ``unreadable_file`` row. A file without a text column yields every row as
    ``missing_text_column``. ``sheet`` picks the sheets of a workbook (a name, a
    number from 1 or ``all``; default: the sheet holding the data).
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    problem = _unreadable_entry(path)
    if problem:
        yield RawRow(str(path), 0, {}, "unreadable_file", problem)
        return
    suffix = format_suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        yield RawRow(str(path), 0, {}, "unsupported_format",
                     f"unsupported format {suffix or '(none)'}; expected one of {sorted(SUPPORTED_SUFFIXES)}; "
                     "convert the file or move it out of the input folder")
        return
    reader = READERS[suffix.removesuffix(".gz")]
    table = _TableRows(path, Table(), mapping)
    try:
        for item in reader(path, encoding, sheet):
            if isinstance(item, Table):
                yield from table.flush()
                table = _TableRows(path, item, mapping)
            else:
                yield from table.add(item)
        yield from table.flush()
    except Exception as exc:  # a corrupt file must not stop the other inputs
        yield from table.flush()
        logger.warning("cannot read %s after row %d: %s", path, table.count, exc)
        detail = str(exc) if isinstance(exc, SadaError) else f"{type(exc).__name__}: {exc}"
        yield RawRow(table.label, table.count + 1 if table.count else 0, {}, "unreadable_file", detail[:500])


class _TableRows:
    """Turns one table's records into raw rows; its columns are chosen once the first records are in."""

    def __init__(self, path: Path, table: Table, mapping: ColumnMapping) -> None:
        self.table, self.mapping = table, mapping
        self.label = f"{path}#{table.sheet}" if table.labelled else str(path)
        self.sample: list[tuple] = []
        self.resolved: dict[tuple, dict[str, str] | ColumnMappingError] = {}
        self.layout: FileLayout | None = None
        self.count = 0

    def add(self, item: tuple) -> Iterator[RawRow]:
        self.count = item[1]
        if self.layout is None:
            self.sample.append(item)
            if len(self.sample) >= SAMPLE_ROWS:
                yield from self.flush()
            return
        yield self._row(item)

    def flush(self) -> Iterator[RawRow]:
        if self.layout is None:
            self._choose_columns()
        sample, self.sample = self.sample, []
        for item in sample:
            yield self._row(item)

    def _choose_columns(self) -> None:
        header = next((item[0] for item in self.sample if not item[3]), None)
        columns: dict[str, str] | ColumnMappingError = {}
        if header is not None:
            records = [item[2] for item in self.sample if not item[3] and item[0] == header]
            columns = resolve_columns(self.mapping, header, self.table.questions, records, self.table.tool)
            self.resolved[tuple(header)] = columns
        chosen = {name: columns[name] for name in FIELDS if name in columns} if isinstance(columns, dict) else {}
        self.layout = FileLayout(self.label, self.table.sheet, self.table.tool, self.table.skipped, chosen)
        if header is not None or self.table.skipped:
            logger.info("%s: %s%s%d header row(s) skipped; columns %s", self.label,
                        f"sheet {self.table.sheet!r}, " if self.table.sheet else "",
                        f"{self.table.tool} export, " if self.table.tool else "", self.table.skipped,
                        json.dumps(self.layout.columns, ensure_ascii=False))

    def _row(self, item: tuple) -> RawRow:
        header, number, record, error, detail = item
        if error:
            return RawRow(self.label, number, record or {}, error, detail, self.layout)
        key = tuple(header)
        if key not in self.resolved:
            self.resolved[key] = resolve_columns(self.mapping, header, self.table.questions, (), self.table.tool)
        return mapped_row(self.label, number, header, record, self.resolved[key], self.layout)


def read_query(url: str, query: str, mapping: ColumnMapping | None = None, chunk_size: int = 2000) -> Iterator[RawRow]:
    """Rows of a SQL query run through SQLAlchemy, streamed in chunks.

    The query's column names are mapped like a file's header; rows are
    numbered from 1 and their ``source_file`` is ``sql:`` plus the query.

    Raises:
        InputError: the database cannot be reached or the query fails.
    """
    mapping = mapping or ColumnMapping()
    label = "sql:" + " ".join(query.split())[:200]
    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            result = connection.execution_options(stream_results=True, yield_per=chunk_size).execute(text(query))
            header = list(result.keys())
            columns = resolve_columns(mapping, header)
            for number, row in enumerate(result, start=1):
                yield mapped_row(label, number, header, dict(row._mapping), columns)
    except SQLAlchemyError as exc:
        raise InputError(f"SQL source failed: {str(exc).splitlines()[0]}; check the URL and query") from None
