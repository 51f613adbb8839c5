"""The Net Promoter Score rule: who is a detractor, a passive or a promoter, and the score of a set of answers.

An NPS answer is a whole number from 0 to 10. Detractors answer 0-6, passives 7-8,
promoters 9-10; the NPS of a set of answers is ``100 * (% promoters - % detractors)``,
from -100 to 100. This module is the one home of those thresholds: the churn features,
the churn reasons, the report, the corpus checks and the simulator all ask it.

Example:
    >>> [nps_category(s) for s in (0, 6, 7, 8, 9, 10, None)]
    ['detractor', 'detractor', 'passive', 'passive', 'promoter', 'promoter', None]
    >>> net_promoter_score([10, 9, 8, 3])["nps"]
    25.0
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sada.pipeline.errors import InputError

__all__ = [
    "NPS_MIN",
    "NPS_MAX",
    "DETRACTOR_MAX",
    "PROMOTER_MIN",
    "NPS_COLUMNS",
    "is_nps_answer",
    "is_detractor",
    "is_promoter",
    "nps_category",
    "net_promoter_score",
    "nps_table",
]

#: The answer scale, inclusive.
NPS_MIN, NPS_MAX = 0, 10
#: The highest answer of a detractor.
DETRACTOR_MAX = 6
#: The lowest answer of a promoter.
PROMOTER_MIN = 9
#: Columns of :func:`net_promoter_score`'s result, in the order the tables print them.
NPS_COLUMNS: tuple[str, ...] = ("n", "promoters", "passives", "detractors", "nps")


def is_nps_answer(value: float) -> bool:
    """Whether a number is an NPS answer: a whole number from 0 to 10.

    Example:
        >>> [is_nps_answer(v) for v in (0, 10.0, 9.5, 11, -1, float("nan"))]
        [True, True, False, False, False, False]
    """
    return math.isfinite(value) and value == int(value) and NPS_MIN <= value <= NPS_MAX


def is_detractor(score: Any) -> Any:
    """Whether an answer (or each answer of an array / Series) is a detractor's: 0-6.

    Example:
        >>> is_detractor(6), is_detractor(7)
        (True, False)
        >>> is_detractor(pd.Series([3, 9])).tolist()
        [True, False]
    """
    return score <= DETRACTOR_MAX


def is_promoter(score: Any) -> Any:
    """Whether an answer (or each answer of an array / Series) is a promoter's: 9-10.

    Example:
        >>> is_promoter(pd.Series([8, 9, 10])).tolist()
        [False, True, True]
    """
    return score >= PROMOTER_MIN


def nps_category(score: int | None) -> str | None:
    """The category of one answer: ``detractor`` (0-6), ``passive`` (7-8) or ``promoter`` (9-10).

    Args:
        score: An NPS answer 0..10, or ``None`` / NA.

    Returns:
        The category, or ``None`` when there is no answer.

    Raises:
        InputError: The answer is outside 0..10.

    Example:
        >>> nps_category(11)
        Traceback (most recent call last):
        ...
        sada.pipeline.errors.InputError: expected an NPS answer from 0 to 10, found 11; fix the item's nps_score
    """
    if score is None or pd.isna(score):
        return None
    s = int(score)
    if not NPS_MIN <= s <= NPS_MAX:
        raise InputError(f"expected an NPS answer from {NPS_MIN} to {NPS_MAX}, found {s}; fix the item's nps_score")
    return "detractor" if is_detractor(s) else "promoter" if is_promoter(s) else "passive"


def net_promoter_score(scores: Any) -> dict[str, float]:
    """NPS of 0-10 answers (NAs ignored): ``n``, ``promoters``, ``passives``, ``detractors`` (shares) and ``nps``.

    Shares are rounded to 4 decimals, the score to 1; with no answers the shares and the score are NaN.

    Example:
        >>> net_promoter_score([10, 7, 0, None])["detractors"]
        0.3333
        >>> net_promoter_score([])["n"]
        0
    """
    s = pd.to_numeric(pd.Series(list(scores), dtype=object), errors="coerce").dropna()
    n = len(s)
    if not n:
        return {"n": 0, "promoters": math.nan, "passives": math.nan, "detractors": math.nan, "nps": math.nan}
    pro, det = float(is_promoter(s).mean()), float(is_detractor(s).mean())
    return {"n": int(n), "promoters": round(pro, 4), "passives": round(1 - pro - det, 4),
            "detractors": round(det, 4), "nps": round(100 * (pro - det), 1)}


def nps_table(frame: pd.DataFrame, by: str, score_column: str = "nps_score") -> pd.DataFrame:
    """:func:`net_promoter_score` per value of ``by`` (rows without a value are grouped as ``(none)``).

    Groups without any answer are left out.

    Example:
        >>> df = pd.DataFrame({"nps_score": [10, 2, 9, 9], "period": ["Q1", "Q1", "Q2", "Q2"]})
        >>> nps_table(df, "period")["nps"].tolist()
        [0.0, 100.0]
    """
    rows = []
    keys = frame[by].astype(object).where(frame[by].notna(), "(none)")
    for key, part in frame.groupby(keys, sort=True):
        if pd.to_numeric(part[score_column], errors="coerce").notna().any():
            rows.append({by: key, **net_promoter_score(part[score_column])})
    return pd.DataFrame(rows, columns=[by, *NPS_COLUMNS])
