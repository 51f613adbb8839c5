"""Every bad-input class gets its own machine-readable quarantine reason."""

from __future__ import annotations

from datetime import datetime

import pytest

from sada.pipeline.ingest import RawRow
from sada.pipeline.validate import REASONS, FeedbackItem, Rejection, parse_date, validate


def _row(**fields) -> RawRow:
    return RawRow("f.csv", 1, fields)


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"text": ""}, "empty_text"),
        ({"text": " \n\t "}, "empty_text"),  # whitespace only
        ({"text": None}, "empty_text"),  # missing cell
        ({"text": "x" * 5001}, "text_too_long"),
        ({"text": "bad \udcff byte"}, "undecodable_bytes"),  # surrogate escape left by ingestion
        ({"text": "عالی", "created_at": "yesterday-ish"}, "unparseable_date"),
        ({"text": "عالی", "created_at": "1403/13/40"}, "unparseable_date"),  # no 13th month in the Solar Hijri year
        ({"text": "عالی", "nps_score": "11"}, "nps_out_of_range"),
        ({"text": "عالی", "nps_score": "-1"}, "nps_out_of_range"),
        ({"text": "عالی", "nps_score": "7.5"}, "nps_out_of_range"),  # NPS is a whole number
        ({"text": "عالی", "nps_score": "ten"}, "nps_out_of_range"),
        ({"text": "عالی", "rating": "12"}, "rating_out_of_range"),
    ],
)
def test_bad_rows_are_rejected_with_a_reason(fields, reason):
    outcome = validate(_row(**fields))
    assert isinstance(outcome, Rejection)
    assert outcome.reason == reason and outcome.reason in REASONS


@pytest.mark.parametrize(
    "fields, attribute, expected",
    [
        ({"text": "عالی", "nps_score": "۱۰"}, "nps_score", 10),  # Persian digits
        ({"text": "ممتاز", "nps_score": "٠"}, "nps_score", 0),  # Arabic-Indic digits
        ({"text": "ممتاز", "nps_score": 9.0}, "nps_score", 9),  # Excel gives floats
        ({"text": "ممتاز", "created_at": "2025-03-04T10:00:00+03:30"}, "created_at", datetime(2025, 3, 4, 6, 30)),
        ({"text": "ممتاز", "created_at": "04/03/2025"}, "created_at", datetime(2025, 3, 4)),  # day first
        ({"text": "ممتاز", "created_at": "۲۰۲۵-۰۳-۰۴"}, "created_at", datetime(2025, 3, 4)),
        ({"text": "عالی", "created_at": "۱۴۰۳/۰۵/۱۲"}, "created_at", datetime(2024, 8, 2)),  # Solar Hijri (Iran)
        ({"text": "ممتاز", "created_at": "1446-02-07"}, "created_at", datetime(2024, 8, 11)),  # Hijri (Umm al-Qura)
        ({"text": "ممتاز", "source": "Support"}, "source", "ticket"),
        ({"text": "ممتاز"}, "source", "unknown"),
        ({"text": "  ممتاز  "}, "text", "ممتاز"),
    ],
)
def test_good_rows_are_parsed(fields, attribute, expected):
    outcome = validate(_row(**fields))
    assert isinstance(outcome, FeedbackItem)
    assert getattr(outcome, attribute) == expected


@pytest.mark.parametrize("dayfirst", [True, False])
@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025/03/02", datetime(2025, 3, 2)),  # Google Forms: four-digit first field is year first, not 3 February
        ("2025-03-02", datetime(2025, 3, 2)),  # ISO
        ("2025.03.02", datetime(2025, 3, 2)),  # dots
        ("2025/3/2", datetime(2025, 3, 2)),  # no leading zeros
        ("2025/03/02 14:05:00", datetime(2025, 3, 2, 14, 5)),  # Google Forms timestamp
        ("2025/03/02 10:01:00 AM GMT+3", datetime(2025, 3, 2, 7, 1)),  # GMT+3 is UTC+3 (dateutil alone: 13:01)
        ("2025/03/02 10:01:00 PM GMT-5", datetime(2025, 3, 3, 3, 1)),  # west of Greenwich, past midnight UTC
        ("2025/03/02 10:01:00 GMT+03:30", datetime(2025, 3, 2, 6, 31)),  # Tehran, half-hour offset
        ("2025/03/02 10:01 GMT+0330", datetime(2025, 3, 2, 6, 31)),  # offset without a colon
        ("2025/03/02 10:01 UTC+4", datetime(2025, 3, 2, 6, 1)),  # Dubai, written UTC+4
        ("2025/03/02 10:01 gmt+3", datetime(2025, 3, 2, 7, 1)),  # lower case
        ("2025/03/02 10:01 GMT", datetime(2025, 3, 2, 10, 1)),  # GMT with no offset is UTC
        ("2025-03-02T10:01:00+03:00", datetime(2025, 3, 2, 7, 1)),  # ISO offset, unchanged
        ("2025-03-02 10:01:00 +03:00", datetime(2025, 3, 2, 7, 1)),  # numeric offset after a space
        ("2025-03-02T10:01:00Z", datetime(2025, 3, 2, 10, 1)),  # Zulu
        ("2024-01", datetime(2024, 1, 1)),  # month only: the 1st, not today's day of the month
        ("1403/05/12", datetime(2024, 8, 2)),  # Solar Hijri, year first regardless
        ("1446-02-07", datetime(2024, 8, 11)),  # Hijri (Umm al-Qura)
        ("۲۰۲۵/۰۳/۰۲", datetime(2025, 3, 2)),  # Persian digits, year first
    ],
)
def test_dates_are_read_the_same_whatever_dayfirst_says(text, expected, dayfirst):
    assert parse_date(text, dayfirst) == expected


@pytest.mark.parametrize(
    "text, dayfirst, expected",
    [
        ("03/04/2025", True, datetime(2025, 4, 3)),  # SADA_DATE_DAYFIRST=true: D/M/Y
        ("03/04/2025", False, datetime(2025, 3, 4)),  # false: M/D/Y
        ("03/04/2025 10:01 GMT+3", True, datetime(2025, 4, 3, 7, 1)),  # day first and a GMT offset together
        ("13/04/2025", False, datetime(2025, 4, 13)),  # no 13th month: dateutil takes it as the day
    ],
)
def test_dayfirst_decides_only_between_day_and_month_first(text, dayfirst, expected):
    assert parse_date(text, dayfirst) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025/13/02",  # year first: 13 is the month, and there is none
        "2025/02/30",  # no 30 February
        "5 March",  # no year: not guessed as this year
        "10:01 GMT+3",  # a time is not a date
    ],
)
def test_not_dates(text):
    assert parse_date(text, True) is None and parse_date(text, False) is None


def test_feedback_id_comes_from_the_source_or_a_stable_hash():
    given = validate(_row(text="عالی", feedback_id="R-17"))
    assert given.feedback_id == "R-17"
    first = validate(_row(text="عالی", customer_id="c1", created_at="2025-01-01"))
    again = validate(RawRow("other-file.csv", 99, {"text": "عالی", "customer_id": "c1", "created_at": "2025-01-01"}))
    other = validate(_row(text="عالی", customer_id="c2", created_at="2025-01-01"))
    assert first.feedback_id == again.feedback_id  # same content from another file is the same item
    assert first.feedback_id != other.feedback_id
    assert first.feedback_id.startswith("h-")


def test_read_errors_pass_through_as_rejections():
    outcome = validate(RawRow("f.jsonl", 4, {}, "malformed_record", "invalid JSON"))
    assert (outcome.reason, outcome.row_number) == ("malformed_record", 4)
