"""The NPS rule's one home (sada.pipeline.nps), and the places that ask it agreeing at its boundaries."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sada.pipeline.churn.features import build_features
from sada.pipeline.churn.reasons import reason_of
from sada.pipeline.corpus import NPS_RANGE
from sada.pipeline.errors import InputError
from sada.pipeline.nps import is_nps_answer, net_promoter_score, nps_category, nps_table


@pytest.mark.parametrize(("score", "category"), [
    (0, "detractor"),  # the bottom of the scale
    (6, "detractor"),  # the highest detractor's answer
    (7, "passive"),  # the lowest passive's answer
    (8, "passive"),  # the highest passive's answer
    (9, "promoter"),  # the lowest promoter's answer
    (10, "promoter"),  # the top of the scale
    (6.0, "detractor"),  # a float from a numeric column
    (None, None),  # no answer
    (pd.NA, None),  # a nullable Int64 column's missing value
])
def test_nps_category(score, category) -> None:
    assert nps_category(score) == category


@pytest.mark.parametrize("score", [
    -1,  # below the scale
    11,  # above the scale (a 1-11 survey exported as is)
])
def test_nps_category_rejects_answers_off_the_scale(score) -> None:
    with pytest.raises(InputError, match="from 0 to 10"):
        nps_category(score)


@pytest.mark.parametrize(("value", "answer"), [
    (0, True),  # the bottom of the scale
    (10.0, True),  # a whole number read as a float from a CSV
    (9.5, False),  # a half point (a 0-10 slider with steps)
    (11, False),  # above the scale
    (-1, False),  # below the scale
    (float("nan"), False),  # a cell that parsed to NaN
    (float("inf"), False),  # an overflowing cell
])
def test_is_nps_answer(value, answer) -> None:
    assert is_nps_answer(value) is answer


@pytest.mark.parametrize(("scores", "expected"), [
    ([10, 9, 9], {"n": 3, "promoters": 1.0, "passives": 0.0, "detractors": 0.0, "nps": 100.0}),  # all promoters
    ([0, 6], {"n": 2, "promoters": 0.0, "passives": 0.0, "detractors": 1.0, "nps": -100.0}),  # all detractors
    ([7, 8], {"n": 2, "promoters": 0.0, "passives": 1.0, "detractors": 0.0, "nps": 0.0}),  # passives only
    ([10, 7, 0, None], {"n": 3, "promoters": 0.3333, "passives": 0.3333, "detractors": 0.3333, "nps": 0.0}),  # NA
    (["9", "6", ""], {"n": 2, "promoters": 0.5, "passives": 0.0, "detractors": 0.5, "nps": 0.0}),  # text from a CSV
    ([9, 9, 6], {"n": 3, "promoters": 0.6667, "passives": 0.0, "detractors": 0.3333, "nps": 33.3}),  # rounding
])
def test_net_promoter_score(scores, expected) -> None:
    assert net_promoter_score(scores) == expected


def test_net_promoter_score_of_no_answers_is_nan() -> None:
    out = net_promoter_score([None, pd.NA])
    assert out["n"] == 0 and all(math.isnan(out[k]) for k in ("promoters", "passives", "detractors", "nps"))


def test_nps_table_leaves_out_groups_without_answers() -> None:
    df = pd.DataFrame({"nps_score": [10, 2, None, 9], "g": ["a", "a", "b", None]})
    table = nps_table(df, "g")
    assert table["g"].tolist() == ["(none)", "a"]  # "b" has no answer; the missing key is grouped as (none)
    assert table["nps"].tolist() == [100.0, 0.0]


def test_corpus_ranges_follow_the_categories() -> None:
    """A negative survey item carries a detractor's score, a positive one never does."""
    assert {nps_category(s) for s in range(NPS_RANGE["negative"][0], NPS_RANGE["negative"][1] + 1)} == {"detractor"}
    assert "detractor" not in {nps_category(s) for s in range(NPS_RANGE["positive"][0], NPS_RANGE["positive"][1] + 1)}


@pytest.mark.parametrize(("answer", "detractor", "promoter", "reason"), [
    (6, 1.0, 0.0, "why_nps_detractor"),  # the highest detractor's answer
    (7, 0.0, 0.0, "why_nps"),  # the lowest passive's answer
    (8, 0.0, 0.0, "why_nps"),  # the highest passive's answer
    (9, 0.0, 1.0, "why_nps"),  # the lowest promoter's answer
])
def test_churn_features_and_reasons_share_the_boundaries(answer, detractor, promoter, reason) -> None:
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_date": pd.to_datetime(["2024-01-01"] * 2),
                              "churned": [0, 1], "churn_date": pd.to_datetime([None, "2025-03-01"]),
                              "last_activity_date": pd.to_datetime(["2025-05-01", "2025-02-01"]),
                              "orders": [5, 3]})
    fb = pd.DataFrame({"feedback_id": ["f1", "f2"], "customer_id": ["a", "b"],
                       "created_at": pd.to_datetime(["2025-01-10", "2025-01-10"]), "nps_score": [answer, 3],
                       "sentiment": ["neutral", "negative"], "themes": [{}, {}], "is_complaint": [False, True]})
    fs = build_features(customers, fb, as_of="2025-06-01")
    assert fs.X.loc["a", ["nps_detractor", "nps_promoter"]].tolist() == [detractor, promoter]
    row = fs.info.loc["a"].to_dict()
    assert reason_of("nps_latest_centered", row, {}, {}, 30)["key"] == reason
