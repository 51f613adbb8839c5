"""Read what the report needs from the store: feedback with its newest analysis, churn scores, customers.

The report reads whatever is in the store: every feedback item, joined to its
newest analysis row (latest ``analysed_at``, whichever model wrote it), and the
churn-score snapshot that applies to the reporting period.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sada.pipeline.classify import as_dict, complaint_themes  # re-exported: the one complaint rule

__all__ = ["FEEDBACK_COLUMNS", "ChurnSnapshot", "as_dict", "complaint_themes", "load_feedback", "load_churn_snapshot",
           "one_taxonomy", "reason_records"]

logger = logging.getLogger(__name__)

#: Columns of :func:`load_feedback`'s frame.
FEEDBACK_COLUMNS: tuple[str, ...] = (
    "feedback_id", "customer_id", "created_at", "source", "channel", "language", "nps_score", "rating",
    "raw_text", "model_version", "sentiment", "themes", "theme_sentiment", "is_complaint",
)


def reason_records(value: Any) -> list[dict[str, Any]]:
    """A ``churn_scores.reasons`` value as ``{"text", "feature", "key", "params"}`` dicts.

    ``sada churn`` stores ``{"text", "key", "params", "feature", "contribution"}`` dicts; older rows
    may lack ``key``/``params`` (``""``/``{}`` here) or hold plain strings.

    Example:
        >>> reason_records([{"text": "NPS fell from 9 to 3", "key": "why_nps_fell",
        ...                  "params": {"first": 9, "latest": 3}, "feature": "nps_change"}, "2 complaints"])[1]
        {'text': '2 complaints', 'feature': '', 'key': '', 'params': {}}
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = [value]
    if not isinstance(value, list):
        return []
    return [{"text": str(x.get("text", "")), "feature": str(x.get("feature") or ""), "key": str(x.get("key") or ""),
             "params": dict(x.get("params") or {})} if isinstance(x, dict)
            else {"text": str(x), "feature": "", "key": "", "params": {}} for x in value if x]


def load_feedback(store: Any) -> pd.DataFrame:
    """Feedback items joined to their newest analysis.

    Items without an analysis row keep NA ``sentiment`` and empty theme dicts. An item with no date
    counts at the time it was received (:func:`sada.pipeline.store.item_date`).

    Args:
        store: An open :class:`sada.pipeline.store.Store`.

    Returns:
        A frame with :data:`FEEDBACK_COLUMNS`; ``created_at`` is the item's date (written, else received).
    """
    columns = ["feedback_id", "customer_id", "item_date", "source", "channel", "language", "nps_score", "rating",
               "raw_text"]
    fb = pd.DataFrame(store.feedback_rows(columns), columns=columns).rename(columns={"item_date": "created_at"})
    an = pd.DataFrame(store.newest_analyses(), columns=["feedback_id", "model_version", "sentiment", "themes",
                                                         "theme_sentiment", "is_complaint"])
    frame = fb.merge(an, on="feedback_id", how="left")
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    frame["nps_score"] = pd.to_numeric(frame["nps_score"], errors="coerce")
    frame["themes"] = frame["themes"].map(as_dict)
    frame["theme_sentiment"] = frame["theme_sentiment"].map(as_dict)
    frame["channel"] = frame["channel"].fillna("(none)").replace("", "(none)")
    frame["language"] = frame["language"].fillna("other")
    logger.info("report: %d feedback items (%d analysed)", len(frame), int(frame["sentiment"].notna().sum()))
    return frame[list(FEEDBACK_COLUMNS)]


@dataclass
class ChurnSnapshot:
    """Churn scores of one as-of date and model version.

    Attributes:
        as_of: The snapshot's as-of date (``None`` when the store has no scores).
        model_version: Which churn model wrote them.
        scores: ``customer_id, score, band, segment, reasons`` (``reasons`` a list of
            :func:`reason_records` dicts: ``text`` and the ``feature`` it came from).
    """

    as_of: pd.Timestamp | None
    model_version: str | None
    scores: pd.DataFrame


def load_churn_snapshot(store: Any, on_or_before: pd.Timestamp | None = None,
                        before_as_of: pd.Timestamp | None = None) -> ChurnSnapshot:
    """The newest churn-score snapshot with ``as_of < on_or_before`` (falling back to the newest overall).

    Args:
        store: An open store.
        on_or_before: Prefer snapshots taken before this instant (the period's end).
        before_as_of: Only snapshots strictly older than this as-of date (for the previous period;
            no fallback then).

    Returns:
        The :class:`ChurnSnapshot`; empty ``scores`` when there is none.
    """
    columns = ["customer_id", "score", "band", "segment", "reasons"]
    empty = ChurnSnapshot(None, None, pd.DataFrame(columns=columns))
    snaps = pd.DataFrame(store.churn_snapshots(), columns=["as_of", "model_version", "last_id"])
    if not len(snaps):
        return empty
    snaps["as_of"] = pd.to_datetime(snaps["as_of"])
    pick = snaps
    if before_as_of is not None:
        pick = snaps[snaps["as_of"] < before_as_of]
        if on_or_before is not None:
            pick = pick[pick["as_of"] < on_or_before]
    elif on_or_before is not None and (snaps["as_of"] < on_or_before).any():
        pick = snaps[snaps["as_of"] < on_or_before]
    if not len(pick):
        return empty
    best = pick.sort_values(["as_of", "last_id"]).iloc[-1]
    scores = pd.DataFrame(store.churn_scores_of(best["as_of"].to_pydatetime(), best["model_version"]), columns=columns)
    scores["reasons"] = scores["reasons"].map(reason_records)
    return ChurnSnapshot(pd.Timestamp(best["as_of"]), str(best["model_version"]), scores)


def _taxonomy_key(model_version: Any) -> str | None:
    """``<version>`` of a ``...+themes-<version>`` model version, ``""`` for a model's own themes, None if unanalysed."""
    if not isinstance(model_version, str):
        return None
    return model_version.partition("+themes-")[2]


def one_taxonomy(frame: pd.DataFrame, taxonomy_version: str) -> tuple[pd.DataFrame, int]:
    """The frame with the themes of items analysed under another taxonomy left out, and how many they are.

    Theme counts and trends never mix two taxonomies: the themes shown are those of analyses under
    ``taxonomy_version`` (or, when no item has it, of the model's own taxonomy). Sentiment and NPS stay.

    Example:
        >>> f = pd.DataFrame({"model_version": ["m+themes-abc", "m", "m+themes-abc"],
        ...                   "themes": [{"a": 0.9}, {"b": 0.8}, {}], "theme_sentiment": [{"a": "negative"}, {}, {}]})
        >>> kept, other = one_taxonomy(f, "abc")
        >>> list(kept["themes"]), other
        ([{'a': 0.9}, {}, {}], 1)
    """
    keys = frame["model_version"].map(_taxonomy_key)
    wanted = taxonomy_version if (keys == taxonomy_version).any() else ""
    other = keys.notna() & (keys != wanted)
    if other.any():
        frame = frame.copy()
        frame.loc[other, "themes"] = [{} for _ in range(int(other.sum()))]
        frame.loc[other, "theme_sentiment"] = [{} for _ in range(int(other.sum()))]
    return frame, int(other.sum())
