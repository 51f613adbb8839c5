"""Turn raw rows into valid feedback items or quarantine them with a reason.

Every row ends up exactly once as a :class:`FeedbackItem` or a
:class:`Rejection`; reasons are machine-readable codes (see ``REASONS``).

Example:
    >>> from sada.pipeline.ingest import RawRow
    >>> validate(RawRow("f.csv", 1, {"text": "  "})).reason
    'empty_text'
    >>> validate(RawRow("f.csv", 2, {"text": "عالی بود", "nps_score": "۱۱"})).reason
    'nps_out_of_range'
    >>> validate(RawRow("f.csv", 3, {"text": "عالی بود", "nps_score": "۹"})).nps_score
    9
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import jdatetime
from dateutil import parser as date_parser
from hijridate import Hijri

from sada.pipeline.digits import ascii_number
from sada.pipeline.ingest import RawRow
from sada.pipeline.nps import is_nps_answer
from sada.pipeline.store import CHANNEL_LENGTH, CUSTOMER_ID_LENGTH, ID_LENGTH  # the widths of the store's columns

__all__ = [
    "REASONS", "FeedbackItem", "Rejection", "validate", "content_hash", "make_feedback_id", "bounded_id",
    "parse_date",
]



#: Every quarantine reason Sada writes, with what it means.
REASONS = {
    "empty_text": "the text is empty or only whitespace",
    "text_too_long": "the text is longer than SADA_MAX_TEXT_LENGTH characters",
    "undecodable_bytes": "a field holds bytes that are not valid in the file's encoding (or a lone surrogate)",
    "invalid_characters": "a field holds a NUL character, which no database column can store",
    "field_too_long": "channel is longer than 64 characters",
    "unparseable_date": "created_at is present but is not a date",
    "nps_out_of_range": "nps_score is not a whole number from 0 to 10",
    "rating_out_of_range": "rating is not a number from 0 to 10",
    "unsupported_language": "the text is mostly in a script other than Arabic or Latin, or in an Arabic-script "
                            "language other than Arabic and Persian (Urdu, Kurdish, Pashto, ...; named in the detail)",
    "malformed_record": "the row could not be parsed (bad JSON, too many CSV fields)",
    "missing_text_column": "the file has no column recognised as the feedback text",
    "column_mapping": "a --map option names a column the file does not have",
    "unreadable_file": "the file could not be opened or read at all",
    "unreadable_rows": "part of a file (e.g. a corrupt Parquet row group) could not be read; one row per record",
    "unsupported_format": "a file in an input folder is not a format Sada reads",
    "duplicate_column": "the header names a column Sada uses twice; rename one or pick it with --map",
    "invalid_row": "validating the row failed unexpectedly (a bug: please report it)",
    "store_rejected": "the database refused the row (the detail says why)",
}

_SURROGATE = re.compile("[\ud800-\udfff]")
_SOURCES = {
    "review": "review", "reviews": "review", "appstore": "review", "app_store": "review",
    "survey": "survey", "nps": "survey", "csat": "survey",
    "ticket": "ticket", "tickets": "ticket", "support": "ticket", "complaint": "ticket",
}


@dataclass(frozen=True)
class FeedbackItem:
    """A valid feedback item, ready for language ID and normalisation."""

    feedback_id: str
    content_hash: str
    text: str
    source_file: str
    row_number: int
    source: str
    channel: str | None
    customer_id: str | None
    created_at: datetime | None
    rating: float | None
    nps_score: int | None


@dataclass(frozen=True)
class Rejection:
    """A quarantined row: where it came from, why, and what was in it."""

    source_file: str
    row_number: int
    reason: str
    detail: str
    fields: dict[str, object]


def content_hash(source: str, customer_id: str | None, created_at: datetime | None, text: str) -> str:
    """SHA-256 of the fields that make an item what it is."""
    key = "\x1f".join([source, customer_id or "", created_at.isoformat() if created_at else "", text])
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def bounded_id(value: str, width: int) -> str:
    """``value`` if it fits ``width``, else a prefix, ``~`` and 16 hex digits of its SHA-256.

    Two long ids that share a prefix stay two ids; the same id always maps to the same value.

    Example:
        >>> bounded_id("سفارش-12", 80)
        'سفارش-12'
        >>> a, b = bounded_id("x" * 90 + "A", 80), bounded_id("x" * 90 + "B", 80)
        >>> len(a), a == b, a == bounded_id("x" * 90 + "A", 80)
        (80, False, True)
    """
    if len(value) <= width:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return value[: width - 17] + "~" + digest


def make_feedback_id(given: object, digest: str) -> str:
    """The source's own id when it has one, else ``h-`` and the content hash's first 24 hex digits."""
    text = _as_text(given)
    return bounded_id(text, ID_LENGTH) if text else "h-" + digest[:24]


def validate(row: RawRow, max_text_length: int = 5000, dayfirst: bool = True) -> FeedbackItem | Rejection:
    """Check one raw row; return the item or the reason it is quarantined."""
    if row.error:
        return Rejection(row.source_file, row.row_number, row.error, row.detail, row.fields)

    def reject(reason: str, detail: str) -> Rejection:
        return Rejection(row.source_file, row.row_number, reason, detail, row.fields)

    fields = row.fields
    text = _as_text(fields.get("text"))
    if not text:
        return reject("empty_text", REASONS["empty_text"])
    for name, value in fields.items():
        if not isinstance(value, str):
            continue
        if _SURROGATE.search(value):
            return reject("undecodable_bytes",
                          f"{name} holds bytes that do not decode (or a lone surrogate); re-export the file as UTF-8")
        if "\x00" in value:
            return reject("invalid_characters", f"{name} holds a NUL character; remove it or re-export the file")
    if len(text) > max_text_length:
        return reject("text_too_long", f"{len(text)} characters, more than the limit of {max_text_length}")
    created_at = None
    raw_date = _as_text(fields.get("created_at"))
    if raw_date:
        created_at = parse_date(raw_date, dayfirst)
        if created_at is None:
            return reject("unparseable_date", f"created_at {raw_date[:40]!r} is not a date")
    nps = _parse_number(fields.get("nps_score"))
    if nps is not None and not is_nps_answer(nps):
        return reject("nps_out_of_range", f"nps_score {fields.get('nps_score')!r} is not a whole number 0..10")
    rating = _parse_number(fields.get("rating"))
    if rating is not None and (rating != rating or not 0 <= rating <= 10):
        return reject("rating_out_of_range", f"rating {fields.get('rating')!r} is not a number 0..10")
    channel = _as_text(fields.get("channel")) or None
    if channel and len(channel) > CHANNEL_LENGTH:
        return reject("field_too_long", f"channel is {len(channel)} characters, more than {CHANNEL_LENGTH}")
    source_raw = (_as_text(fields.get("source")) or "").casefold()
    source = _SOURCES.get(source_raw, source_raw[:32] or "unknown")
    customer_id = _as_text(fields.get("customer_id"))
    digest = content_hash(source, customer_id, created_at, text)
    return FeedbackItem(
        feedback_id=make_feedback_id(fields.get("feedback_id"), digest),
        content_hash=digest,
        text=text,
        source_file=row.source_file,
        row_number=row.row_number,
        source=source,
        channel=channel,
        customer_id=bounded_id(customer_id, CUSTOMER_ID_LENGTH) if customer_id else None,
        created_at=created_at,
        rating=rating,
        nps_score=int(nps) if nps is not None else None,
    )



def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def _parse_number(value: object) -> float | None:
    """None when absent; NaN when present but not a number (so range checks reject it)."""
    text = ascii_number(_as_text(value))
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return float("nan")


_YMD = re.compile(r"^(\d{4})[/\-.](\d{1,2})[/\-.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
#: A first field of four digits is a year: the date is Y/M/D whatever SADA_DATE_DAYFIRST says.
_YEAR_FIRST = re.compile(r"^\d{4}[/\-.]")
#: "GMT+3" / "UTC-05:00" as Google Forms writes them; the number is the offset from UTC, east positive.
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{1,2})(?::?(\d{2}))?\b", re.IGNORECASE)
#: Fields a date leaves out: month and day 1, year 1 (out of range, so a date without a year is not a date),
#: instead of dateutil's default of today's, which made "2024-01" a different day each day.
_MISSING_FIELDS = datetime(1, 1, 1)


def _from_local_calendar(text: str) -> datetime | None:
    """Solar Hijri (years 1300-1429, Iran) and Umm al-Qura Hijri (1430-1500) dates, as Gregorian.

    Example:
        >>> _from_local_calendar("1403/05/12"), _from_local_calendar("1446-02-07 10:30")
        (datetime.datetime(2024, 8, 2, 0, 0), datetime.datetime(2024, 8, 11, 10, 30))
    """
    match = _YMD.match(text)
    if not match or not 1300 <= int(match[1]) <= 1500:
        return None
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    clock = [int(x) if x else 0 for x in match.groups()[3:]]
    try:
        if year < 1430:
            gregorian = jdatetime.date(year, month, day).togregorian()
        else:
            gregorian = Hijri(year, month, day).to_gregorian()
        return datetime(gregorian.year, gregorian.month, gregorian.day, *clock)
    except (ValueError, OverflowError):  # no such day, or hour 25
        return None


def _numeric_offset(text: str) -> str:
    """Rewrite ``GMT+3`` as ``+03:00``: people mean UTC+3, but dateutil reads it the POSIX way (UTC-3).

    Example:
        >>> _numeric_offset("2025/03/02 10:01:00 AM GMT+3"), _numeric_offset("10:01 UTC-03:30")
        ('2025/03/02 10:01:00 AM +03:00', '10:01 -03:30')
    """
    return _GMT_OFFSET.sub(lambda m: f"{m[1]}{int(m[2]):02d}:{m[3] or '00'}", text)


def parse_date(text: str, dayfirst: bool = True) -> datetime | None:
    """The one date rule for feedback and customer files: a naive UTC datetime, or None if not a date.

    Solar Hijri (1300-1429) and Hijri (1430-1500) years are converted; a four-digit first field is
    year first (Y/M/D); ``dayfirst`` only chooses D/M/Y over M/D/Y; offsets (``+03:00``, ``GMT+3``)
    are applied and dropped.

    Example:
        >>> parse_date("2025/03/02"), parse_date("03/04/2025"), parse_date("03/04/2025", dayfirst=False)
        (datetime.datetime(2025, 3, 2, 0, 0), datetime.datetime(2025, 4, 3, 0, 0), datetime.datetime(2025, 3, 4, 0, 0))
        >>> parse_date("2025/03/02 10:01:00 AM GMT+3"), parse_date("۱۴۰۳/۰۵/۱۲"), parse_date("soon")
        (datetime.datetime(2025, 3, 2, 7, 1), datetime.datetime(2024, 8, 2, 0, 0), None)
    """
    text = ascii_number(text).strip()
    match = _YMD.match(text)
    if match and 1300 <= int(match[1]) <= 1500:  # a local-calendar date, or nothing
        return _from_local_calendar(text)
    try:
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = date_parser.parse(_numeric_offset(text), dayfirst=dayfirst and not _YEAR_FIRST.match(text),
                                       default=_MISSING_FIELDS)
        if parsed.tzinfo is not None:  # year 1 in UTC+1 is year 0 in UTC: OverflowError
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    if not 1900 <= parsed.year <= 2200:
        return None
    return parsed
