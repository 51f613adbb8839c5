"""What the readers yield: one :class:`RawRow` per input record, with the :class:`FileLayout` it was read with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sada.pipeline.errors import ColumnMappingError, DuplicateColumnError

__all__ = ["FileLayout", "RawRow", "mapped_row"]

@dataclass(frozen=True)
class FileLayout:
    """How one file (or one sheet of a workbook) was read: said in the run summary, so nothing is silent.

    ``tool`` is the survey tool whose export layout was recognised (``qualtrics``,
    ``surveymonkey``, ``google_forms``, ``microsoft_forms``, ``typeform``) or None;
    ``header_rows`` counts the title and survey metadata rows skipped around the
    header (the header line itself is not counted); ``columns`` is the column chosen
    for each field.
    """

    source_file: str
    sheet: str | None = None
    tool: str | None = None
    header_rows: int = 0
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RawRow:
    """One input row before validation.

    ``row_number`` counts data rows from 1 (the header and the metadata rows around
    it are not rows); a file that could not be read at all gives a single row
    numbered 0. ``error`` is a quarantine reason when the row could not even be
    read. ``layout`` is how its file was read (shared by the file's rows).
    """

    source_file: str
    row_number: int
    fields: dict[str, object]
    error: str | None = None
    detail: str = ""
    layout: FileLayout | None = None


def mapped_row(
    label: str, number: int, header: list[str], record: dict, columns: dict[str, str] | ColumnMappingError,
    layout: FileLayout | None = None,
) -> RawRow:
    if isinstance(columns, ColumnMappingError):
        reason = "duplicate_column" if isinstance(columns, DuplicateColumnError) else "column_mapping"
        return RawRow(label, number, _first_fields(record), reason, str(columns), layout)
    if "text" not in columns:
        return RawRow(label, number, _first_fields(record), "missing_text_column",
                      f"expected a text column, found {header}; name it with --map text=COLUMN", layout)
    fields = {name: _clean_value(record.get(column)) for name, column in columns.items()}
    return RawRow(label, number, fields, layout=layout)


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
