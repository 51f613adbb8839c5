"""The numbers behind the report: headline figures, time series, theme tables, quotes, churn tables.

Everything here is plain pandas on the frames of :mod:`sada.pipeline.report.data`;
nothing here formats or draws.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pandas as pd

from sada.pipeline.language import LANGUAGES
from sada.pipeline.nps import NPS_COLUMNS, net_promoter_score, nps_table
from sada.pipeline.report.data import ChurnSnapshot
from sada.pipeline.report.period import Period
from sada.pipeline.report.spikes import clean_quote

__all__ = [
    "SENTIMENTS", "headline", "sentiment_by_month", "theme_table", "nps_by_month", "representative_quotes",
    "at_risk_table", "churn_lift",
]

logger = logging.getLogger(__name__)

SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
_LANGS: tuple[str, ...] = LANGUAGES


def _at_risk(snapshot: ChurnSnapshot) -> pd.DataFrame:
    s = snapshot.scores
    if not len(s):
        return s
    return s[(s["band"] == "high") & (s["segment"] != "churned")]


def _period_figures(fb: pd.DataFrame) -> dict[str, Any]:
    analysed = fb[fb["sentiment"].notna()]
    n = len(analysed)
    mix = {s: (float((analysed["sentiment"] == s).mean()) if n else math.nan) for s in SENTIMENTS}
    return {
        "items": int(len(fb)),
        "by_language": {lang: int((fb["language"] == lang).sum()) for lang in _LANGS},
        "classified": int(n),
        "sentiment": mix,
        "nps": net_promoter_score(fb["nps_score"]),
        "complaint_rate": float(analysed["is_complaint"].astype(bool).mean()) if n else math.nan,
    }


def headline(feedback: pd.DataFrame, period: Period, churn_now: ChurnSnapshot,
             churn_before: ChurnSnapshot) -> dict[str, Any]:
    """Headline figures of ``period`` and of the period before, with their differences.

    Returns:
        ``{"current": {...}, "previous": {...}, "delta": {...}}``: ``items``, ``by_language``,
        ``classified``, ``sentiment`` (shares), ``nps`` (:func:`sada.pipeline.nps.net_promoter_score`), ``complaint_rate``,
        ``at_risk`` (customers in band high and not yet churned) and ``at_risk_as_of``.
    """
    prev = period.previous()
    cur = _period_figures(feedback[period.contains(feedback["created_at"])])
    before = _period_figures(feedback[prev.contains(feedback["created_at"])])
    cur["at_risk"] = int(len(_at_risk(churn_now))) if churn_now.as_of is not None else None
    cur["at_risk_as_of"] = churn_now.as_of
    before["at_risk"] = int(len(_at_risk(churn_before))) if churn_before.as_of is not None else None
    before["at_risk_as_of"] = churn_before.as_of

    def diff(a: Any, b: Any) -> Any:
        if a is None or b is None or pd.isna(a) or pd.isna(b):
            return None
        return a - b

    delta = {
        "items": diff(cur["items"], before["items"]) if before["items"] else None,
        "by_language": {k: diff(v, before["by_language"][k]) if before["items"] else None
                        for k, v in cur["by_language"].items()},
        "sentiment": {s: diff(cur["sentiment"][s], before["sentiment"][s]) for s in SENTIMENTS},
        "nps": diff(cur["nps"]["nps"], before["nps"]["nps"]),
        "complaint_rate": diff(cur["complaint_rate"], before["complaint_rate"]),
        "at_risk": diff(cur["at_risk"], before["at_risk"]),
    }
    return {"current": cur, "previous": before, "delta": delta}


def sentiment_by_month(feedback: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    """Classified items per month, language and sentiment up to ``until``: ``month, language, sentiment, n``."""
    fb = feedback[feedback["sentiment"].notna() & feedback["created_at"].notna() & (feedback["created_at"] < until)]
    if not len(fb):
        return pd.DataFrame(columns=["month", "language", "sentiment", "n"])
    month = fb["created_at"].dt.to_period("M").astype(str)
    out = fb.assign(month=month).groupby(["month", "language", "sentiment"]).size().rename("n").reset_index()
    return out.sort_values(["month", "language", "sentiment"]).reset_index(drop=True)


def theme_table(feedback: pd.DataFrame, period: Period, themes: list[str], threshold: float = 0.5) -> pd.DataFrame:
    """Mentions per theme in ``period`` by theme-level sentiment, most negative first.

    A theme is mentioned when it has a theme-level sentiment and its score is at least ``threshold``.

    Returns:
        ``theme, negative, neutral, positive, mentions, negative_share``.
    """
    fb = feedback[period.contains(feedback["created_at"]) & feedback["sentiment"].notna()]
    counts: dict[str, dict[str, int]] = {}
    for r in fb.itertuples(index=False):
        scores = r.themes or {}
        for theme, label in (r.theme_sentiment or {}).items():
            score = scores.get(theme, 1.0)
            if score is not None and float(score) < threshold:
                continue
            counts.setdefault(theme, dict.fromkeys(SENTIMENTS, 0))
            if label in SENTIMENTS:
                counts[theme][label] += 1
    order = [t for t in themes if t in counts] + sorted(t for t in counts if t not in themes)
    rows = [{"theme": t, **counts[t]} for t in order]
    out = pd.DataFrame(rows, columns=["theme", *SENTIMENTS])
    out["mentions"] = out[list(SENTIMENTS)].sum(axis=1)
    out["negative_share"] = (out["negative"] / out["mentions"].where(out["mentions"] > 0)).fillna(0.0)
    return out.sort_values(["negative", "mentions"], ascending=False, kind="stable").reset_index(drop=True)


def nps_by_month(feedback: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    """NPS per month, overall (``language == "all"``) and per language: ``month, language, n, nps, ...``."""
    fb = feedback[feedback["created_at"].notna() & (feedback["created_at"] < until) & feedback["nps_score"].notna()]
    if not len(fb):
        return pd.DataFrame(columns=["month", "language", *NPS_COLUMNS])
    fb = fb.assign(month=fb["created_at"].dt.to_period("M").astype(str))
    parts = [nps_table(fb, "month").assign(language="all")]
    for lang, part in fb.groupby("language"):
        parts.append(nps_table(part, "month").assign(language=lang))
    return pd.concat(parts, ignore_index=True)


def representative_quotes(feedback: pd.DataFrame, period: Period, themes: list[str], per_theme: int = 3,
                          max_themes: int = 8, threshold: float = 0.5) -> list[dict[str, Any]]:
    """Example quotes for the most-mentioned themes of ``period``.

    Per theme: the items with the highest theme score, complaints first, then one of
    the other sentiment when there is one; texts between 15 and 600 characters preferred.

    Returns:
        ``[{"theme": id, "quotes": [{"feedback_id", "text", "language", "channel", "created_at",
        "sentiment"}]}]``; ``text`` is the stored (PII-masked) text, bidi controls removed.
    """
    fb = feedback[period.contains(feedback["created_at"]) & feedback["sentiment"].notna()]
    rows = []
    for r in fb.itertuples(index=False):
        scores = r.themes or {}
        for theme, label in (r.theme_sentiment or {}).items():
            score = float(scores.get(theme, 1.0) or 0.0)
            if score >= threshold:
                length = len(r.raw_text or "")
                rows.append({"theme": theme, "label": label, "score": score, "fit": 15 <= length <= 600,
                             "feedback_id": r.feedback_id, "raw_text": r.raw_text, "language": r.language,
                             "channel": r.channel, "created_at": r.created_at})
    if not rows:
        return []
    df = pd.DataFrame(rows)
    ranked = df.groupby("theme").size().sort_values(ascending=False, kind="stable")
    order = sorted(ranked.index, key=lambda t: (-ranked[t], themes.index(t) if t in themes else len(themes)))
    out = []
    for theme in order[:max_themes]:
        part = df[df["theme"] == theme].sort_values(["fit", "score", "feedback_id"], ascending=[False, False, True])
        neg = part[part["label"] == "negative"]
        other = part[part["label"] != "negative"]
        picked = pd.concat([neg.head(per_theme - (1 if len(other) else 0)), other.head(1)])
        picked = pd.concat([picked, part.drop(picked.index)]).head(per_theme)
        out.append({"theme": theme, "quotes": [
            {"feedback_id": q.feedback_id, "text": clean_quote(q.raw_text), "language": q.language,
             "channel": q.channel, "created_at": q.created_at, "sentiment": q.label}
            for q in picked.itertuples(index=False)]})
    return out


def at_risk_table(snapshot: ChurnSnapshot, top: int = 15) -> list[dict[str, Any]]:
    """The ``top`` highest-scored customers in band high who have not churned yet, with their reasons.

    Each reason is a ``{"text", "feature"}`` dict (:func:`sada.pipeline.report.data.reason_records`), its text cleaned.
    """
    risky = _at_risk(snapshot).sort_values(["score", "customer_id"], ascending=[False, True]).head(top)
    return [{"customer_id": r.customer_id, "score": float(r.score), "band": r.band, "segment": r.segment,
             "reasons": [{**x, "text": clean_quote(x["text"], 200)} for x in (r.reasons or [])]}
            for r in risky.itertuples(index=False)]


def churn_lift(store: Any, snapshot: Any) -> pd.DataFrame | None:
    """The theme-to-churn table of the churn snapshot the report shows, as the churn run wrote it.

    The churn run computes it (:func:`sada.pipeline.churn.drivers.theme_drivers`: risk ratio with
    the Katz interval, on the features it scored with) and stores it beside the scores; the report
    only reads it, so the two can never disagree.

    Returns:
        The drivers table (``theme, n_with, lift, lift_lower, lift_upper, ...``), or ``None`` when
        there is no snapshot or it has no drivers (no churn labels or no classified feedback).
    """
    if snapshot.as_of is None:
        return None
    rows = store.churn_drivers_of(snapshot.as_of.to_pydatetime(), snapshot.model_version)
    if not rows:
        return None
    table = pd.DataFrame([{"theme": r["theme"], **r["stats"]} for r in rows])
    numeric = [c for c in table.columns if c != "theme"]
    table[numeric] = table[numeric].apply(pd.to_numeric, errors="coerce")
    return table
