"""Read feedback files of any common shape into a stream of raw rows.

Formats: CSV, TSV, JSON Lines, JSON (an array of records, or an object holding
one list of records; each also gzip-compressed, ``.csv.gz``), Excel (.xlsx, the
sheet holding the data or the ones ``sheet`` names) and Parquet, one file or a
folder. In tables the header is found below title and blank rows, and the
metadata rows of survey-tool exports (Qualtrics, SurveyMonkey) are skipped and
counted in each row's :class:`FileLayout` (see :mod:`sada.pipeline.survey`). Text files may be UTF-8 (with or
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

from sada.pipeline.ingest.columns import FIELDS, ColumnMapping, header_key
from sada.pipeline.ingest.encoding import check_encoding, detect_encoding, open_text
from sada.pipeline.ingest.files import expand_inputs, read_file, read_inputs, read_query
from sada.pipeline.ingest.formats import SUPPORTED_SUFFIXES, check_sheet, estimate_rows
from sada.pipeline.ingest.rows import FileLayout, RawRow

__all__ = [
    "FIELDS",
    "SUPPORTED_SUFFIXES",
    "ColumnMapping",
    "FileLayout",
    "RawRow",
    "check_encoding",
    "check_sheet",
    "estimate_rows",
    "detect_encoding",
    "header_key",
    "expand_inputs",
    "open_text",
    "read_file",
    "read_inputs",
    "read_query",
]
