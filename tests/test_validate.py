"""Every bad-input class gets its own machine-readable quarantine reason."""

from __future__ import annotations

from datetime import datetime

import pytest

from sada.pipeline.ingest import RawRow
from sada.pipeline.validate import REASONS, FeedbackItem, Rejection, validate


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
