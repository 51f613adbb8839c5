"""Point-in-time churn features: what was known about each customer on the as-of date.

:func:`build_features` joins the customers to their analysed feedback and
computes one row of features per customer *as of* a date. Nothing after the
as-of date is used: a feedback item dated after it, or after the customer's
churn date, changes no feature (``tests/test_churn.py`` checks this), and
feedback items without a timestamp are left out of the per-customer features
(they still count in the aggregate NPS and driver tables).

Each customer's *cutoff* is the as-of date, or the churn date for customers who
had already churned by then: a churner's features are the ones they had when
they left, which is what a model of "who leaves" must learn from. Tenure is
always measured from the signup date to the as-of date (so it does not shrink
for churners).

Feature groups (``FeatureSet.groups``):

* ``recency_frequency``: ``tenure_months``, ``recency_days`` (days from the last
  activity to the cutoff), ``orders_per_month`` (orders over the months observed);
* ``behaviour``: ``spend_per_order``, ``segment`` and the customer file's other
  columns (attributes such as plan, contract or monthly charges);
* ``nps``: latest NPS (centred on 7), its change since the first answer,
  detractor / promoter ever, has answered;
* ``feedback``: items written, negative and positive items, sentiment level and
  trend (latest minus the earlier mean), complaints, complaints in the last
  ``recent_days``, unanswered complaints (complaints not followed by a later
  non-negative item from the same customer: the feedback table holds no
  replies, so this is a proxy);
* ``theme``: ``complaint_<theme>``: 1 when the customer complained about the theme.

:data:`TIMING_FEATURES` (recency and counts up to the cutoff) are built for segments and
reasons but kept out of the model: see the comment there.

Example:
    >>> import pandas as pd
    >>> cust = pd.DataFrame({"customer_id": ["a", "b"], "signup_date": pd.to_datetime(["2024-01-01"] * 2),
    ...                      "churned": [1.0, 0.0], "churn_date": pd.to_datetime(["2025-03-01", None])})
    >>> fb = pd.DataFrame({"feedback_id": ["1", "2"], "customer_id": ["a", "a"],
    ...                    "created_at": pd.to_datetime(["2025-02-01", "2025-05-01"]), "nps_score": [3, 9],
    ...                    "sentiment": ["negative", "positive"], "theme_sentiment": [{"billing": "negative"}, {}]})
    >>> fs = build_features(cust, fb, "2025-06-30", FeatureConfig(themes=["billing"]))
    >>> fs.X.loc["a", ["complaint_billing", "n_feedback", "nps_detractor"]].tolist()  # item 2 is after churn
    [1.0, 1.0, 1.0]
    >>> fs.info["label"].tolist()
    [1.0, 0.0]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.classify import as_dict, complaint_themes
from sada.pipeline.errors import InputError

__all__ = ["FeatureConfig", "FeatureSet", "build_features", "load_feedback_signals", "feedback_input_label",
           "DAYS_PER_MONTH", "TIMING_FEATURES"]

logger = logging.getLogger(__name__)

DAYS_PER_MONTH = 30.4375
#: Features that measure time or exposure up to the cutoff. They are computed (and used for
#: segments and reasons) but are not model inputs: the labels come from the same period as the
#: features, so a churner's cutoff is their churn date, and "no activity for 0 days before the
#: cutoff", "2 complaints in the last 60 days" or "fewer items written" would tell the model *when*
#: the customer left rather than *why* (on the sample corpus they lift the AUC far above the
#: simulator's oracle, which is the sign of a leak). A forward-looking model trained on a
#: snapshot before a label horizon, with transaction history, can use them.
TIMING_FEATURES = frozenset({"recency_days", "complaints_recent", "n_feedback", "n_negative", "n_positive",
                             "n_complaints", "unanswered_complaints"})
_SENT = {"negative": -1.0, "neutral": 0.0, "positive": 1.0}
_CORE = {"customer_id", "churned", "churn_date", "signup_date", "tenure_months", "segment", "orders", "spend",
         "last_activity", "crm_risk"}


@dataclass
class FeatureConfig:
    """Settings of the feature builder.

    Attributes:
        recent_days: Window for "recent" complaints and for the reasons text.
        orders_since: Date from which the customer file counts orders (e.g. the start of
            a data window); ``None``: since signup.
        themes: Theme ids to build complaint features for (default: every theme seen).
        theme_threshold: Minimum theme score for a theme to count as mentioned.
        exclude: Attribute columns to leave out.
        max_levels: Categorical attributes with more levels than this are left out (id-like).
    """

    recent_days: int = 60
    orders_since: pd.Timestamp | None = None
    themes: list[str] | None = None
    theme_threshold: float = 0.5
    exclude: tuple[str, ...] = ()
    max_levels: int = 50


@dataclass
class FeatureSet:
    """Features of each customer as of a date.

    Attributes:
        X: Model features, indexed by customer_id (numeric floats, categoricals as strings).
        info: Per-customer facts used for labels, segments and reasons (cutoff, label,
            tenure, recency, evidence counts per theme, first/latest NPS, ...).
        groups: Feature -> group name (see the module docstring).
        kinds: Feature -> ``numeric``, ``binary`` or ``categorical``.
        themes: The themes with complaint features.
        as_of: The as-of date.
        excluded: Customers left out and why (``not_yet_customer``: signed up after the as-of date).
        feedback_used: Items that entered the per-customer features.
    """

    X: pd.DataFrame
    info: pd.DataFrame
    groups: dict[str, str]
    kinds: dict[str, str]
    themes: list[str]
    as_of: pd.Timestamp
    excluded: dict[str, int] = field(default_factory=dict)
    feedback_used: int = 0

    @property
    def model_features(self) -> list[str]:
        """The features the churn model may use: all but :data:`TIMING_FEATURES`."""
        return [c for c in self.X.columns if c not in TIMING_FEATURES]


def load_feedback_signals(store: Any) -> pd.DataFrame:
    """Feedback items joined to their newest analysis (latest ``analysed_at`` per item).

    Items without analysis keep their NPS and timestamp, with ``sentiment`` NA and no themes.

    Returns:
        Columns ``feedback_id, customer_id, created_at, source, nps_score, sentiment, themes,
        theme_sentiment, is_complaint, model_version``.
    """
    columns = ["feedback_id", "customer_id", "created_at", "source", "nps_score"]
    fb = pd.DataFrame(store.feedback_rows(columns), columns=columns)
    an = pd.DataFrame(store.newest_analyses(), columns=["feedback_id", "model_version", "sentiment", "themes",
                                                         "theme_sentiment", "is_complaint"])
    merged = fb.merge(an, on="feedback_id", how="left")
    merged["created_at"] = pd.to_datetime(merged["created_at"])
    logger.info("loaded %d feedback items (%d with analysis)", len(merged), int(merged["sentiment"].notna().sum()))
    return merged


def feedback_input_label(feedback: pd.DataFrame) -> str:
    """Which analysis fed the features, e.g. ``"analysis:gold-labels (3413 items)"`` or ``"nps-only"``."""
    if feedback is None or not len(feedback):
        return "none"
    if "model_version" not in feedback or feedback["model_version"].isna().all():
        return f"nps-only ({len(feedback)} items, no analysis rows)"
    versions = feedback["model_version"].dropna().value_counts()
    return "analysis:" + ",".join(f"{v} ({n} items)" for v, n in versions.items())


def build_features(customers: pd.DataFrame, feedback: pd.DataFrame | None, as_of: Any,
                   config: FeatureConfig | None = None, attribute_columns: list[str] | None = None) -> FeatureSet:
    """Features of every customer who had signed up by ``as_of``, from data up to ``as_of`` only.

    Args:
        customers: Canonical customer frame (:class:`sada.pipeline.churn.customers.CustomerLoad` ``.frame``).
        feedback: Feedback signals (:func:`load_feedback_signals`); ``None`` for none.
        as_of: The as-of date (anything ``pd.Timestamp`` accepts).
        config: Feature settings.
        attribute_columns: Which non-canonical columns are attributes (default: all others).

    Returns:
        The :class:`FeatureSet`.

    Raises:
        InputError: ``as_of`` is not a date or the customer frame has no ``customer_id``.
    """
    config = config or FeatureConfig()
    try:
        as_of = pd.Timestamp(as_of).normalize() + pd.Timedelta(hours=23, minutes=59, seconds=59)
    except (ValueError, TypeError):
        raise InputError(f"expected an as-of date such as 2026-06-30, found {as_of!r}; fix --as-of") from None
    if "customer_id" not in customers:
        raise InputError("expected a customer_id column in the customer frame, found none; "
                         "read customers with sada.pipeline.churn.customers.read_customers")
    cu = customers.copy()
    for col in ("signup_date", "churn_date", "last_activity"):
        cu[col] = pd.to_datetime(cu[col]) if col in cu else pd.NaT
    for col in ("tenure_months", "orders", "spend", "churned", "crm_risk"):
        cu[col] = pd.to_numeric(cu[col], errors="coerce") if col in cu else np.nan
    excluded = {}
    later = cu["signup_date"].notna() & (cu["signup_date"] > as_of)
    if later.any():
        excluded["not_yet_customer"] = int(later.sum())
    cu = cu[~later].drop_duplicates("customer_id").set_index("customer_id")
    idx = cu.index

    churned_by = (cu["churned"] == 1) & (cu["churn_date"].isna() | (cu["churn_date"] <= as_of))
    label = pd.Series(np.where(cu["churned"].isna(), np.nan, churned_by.astype(float)), index=idx)
    cutoff = pd.Series(as_of, index=idx)
    has_date = churned_by & cu["churn_date"].notna()
    cutoff[has_date] = cu.loc[has_date, "churn_date"]

    X = pd.DataFrame(index=idx)
    groups: dict[str, str] = {}
    kinds: dict[str, str] = {}
    info = pd.DataFrame({"cutoff": cutoff, "label": label, "churn_date": cu["churn_date"],
                         "signup_date": cu["signup_date"], "crm_risk": cu["crm_risk"]}, index=idx)

    def put(name: str, values: Any, group: str, kind: str = "numeric") -> None:
        X[name] = values
        groups[name] = group
        kinds[name] = kind

    # ---- behaviour: tenure, recency, frequency, spend
    tenure = (as_of - cu["signup_date"]).dt.days / DAYS_PER_MONTH
    tenure = tenure.where(cu["signup_date"].notna(), cu["tenure_months"])
    info["tenure_months"] = tenure
    if tenure.notna().any():
        put("tenure_months", tenure.clip(lower=0), "recency_frequency")
    last = cu["last_activity"].where(cu["last_activity"] <= as_of)
    recency = (cutoff - last).dt.days.clip(lower=0)
    info["recency_days"] = recency
    info["last_activity_known"] = cu["last_activity"].notna()
    if recency.notna().any():
        put("recency_days", recency.astype(float), "recency_frequency")
    if cu["orders"].notna().any():
        start = cu["signup_date"]
        if config.orders_since is not None:
            start = start.where(start > config.orders_since, pd.Timestamp(config.orders_since))
        months = ((cutoff - start).dt.days / DAYS_PER_MONTH).where(start.notna(), tenure)
        rate = cu["orders"] / months.clip(lower=0.5)
        put("orders_per_month", rate, "recency_frequency")
        info["orders_per_month"] = rate
    if cu["spend"].notna().any():
        spo = cu["spend"] / cu["orders"].where(cu["orders"] > 0) if cu["orders"].notna().any() else cu["spend"]
        put("spend_per_order" if cu["orders"].notna().any() else "spend", spo, "behaviour")
    if "segment" in cu and cu["segment"].notna().any():
        put("segment", cu["segment"].astype(object), "behaviour", "categorical")
    attrs = attribute_columns if attribute_columns is not None else [c for c in cu.columns if c not in _CORE]
    for col in attrs:
        if col in config.exclude or col not in cu or col in X:
            continue
        values = cu[col]
        if pd.api.types.is_numeric_dtype(values):
            if values.notna().any():
                put(col, values.astype(float), "behaviour")
        else:
            levels = values.dropna().nunique()
            if 1 < levels <= config.max_levels and levels < 0.5 * max(len(values), 1):
                put(col, values.astype(object), "behaviour", "categorical")
            else:
                logger.info("attribute %s left out: %d levels", col, levels)

    # ---- feedback, NPS, themes (only items up to each customer's cutoff)
    fb = feedback if feedback is not None else pd.DataFrame(columns=["customer_id", "created_at"])
    fb = fb[fb["customer_id"].isin(idx)].copy() if len(fb) else fb
    if len(fb):
        fb["created_at"] = pd.to_datetime(fb["created_at"])
        fb = fb[fb["created_at"].notna()]
        fb = fb[fb["created_at"] <= fb["customer_id"].map(cutoff)]
        fb = fb.sort_values(["customer_id", "created_at", "feedback_id"])
    themes = list(config.themes) if config.themes is not None else sorted(
        {t for v in (fb["theme_sentiment"] if "theme_sentiment" in fb else []) for t in as_dict(v)})
    n = len(idx)
    pos = {c: i for i, c in enumerate(idx)}
    cols = {k: np.zeros(n) for k in ("n_feedback", "n_negative", "n_positive", "sentiment_mean", "sentiment_trend",
                                      "n_complaints", "complaints_recent", "unanswered_complaints",
                                      "nps_latest_centered", "nps_change", "nps_detractor", "nps_promoter",
                                      "has_nps")}
    nps_first = np.full(n, np.nan)
    nps_latest = np.full(n, np.nan)
    last_sent = np.full(n, np.nan)
    theme_total = {t: np.zeros(n) for t in themes}
    theme_recent = {t: np.zeros(n) for t in themes}
    theme_last: dict[str, list[Any]] = {t: [pd.NaT] * n for t in themes}
    for cid, items in (fb.groupby("customer_id", sort=False) if len(fb) else []):
        i = pos[cid]
        cut = cutoff.iloc[i]
        recent_from = cut - pd.Timedelta(days=config.recent_days)
        cols["n_feedback"][i] = len(items)
        sent = items["sentiment"].map(_SENT) if "sentiment" in items else pd.Series(dtype=float)
        sent = sent.dropna()
        if len(sent):
            cols["n_negative"][i] = float((sent < 0).sum())
            cols["n_positive"][i] = float((sent > 0).sum())
            cols["sentiment_mean"][i] = sent.mean()
            last_sent[i] = sent.iloc[-1]
            if len(sent) > 1:
                cols["sentiment_trend"][i] = sent.iloc[-1] - sent.iloc[:-1].mean()
        complaint_flags = []
        for row in items.itertuples(index=False):
            tlist = (complaint_themes(getattr(row, "themes", None), row.theme_sentiment, config.theme_threshold)
                     if "theme_sentiment" in items else [])
            is_c = getattr(row, "is_complaint", None) in (True, 1) or getattr(row, "sentiment", None) == "negative"
            complaint_flags.append(is_c or bool(tlist))
            for t in tlist:
                if t in theme_total:
                    theme_total[t][i] += 1
                    if row.created_at >= recent_from:
                        theme_recent[t][i] += 1
                    theme_last[t][i] = row.created_at
        flags = np.array(complaint_flags, dtype=bool)
        cols["n_complaints"][i] = flags.sum()
        cols["complaints_recent"][i] = (flags & (items["created_at"] >= recent_from).to_numpy()).sum()
        if flags.any():
            later_ok = np.zeros(len(flags), dtype=bool)
            ok_seen = False
            sent_all = items["sentiment"].map(_SENT).to_numpy() if "sentiment" in items else np.full(len(flags), np.nan)
            for j in range(len(flags) - 1, -1, -1):
                later_ok[j] = ok_seen
                if not np.isnan(sent_all[j]) and sent_all[j] >= 0:
                    ok_seen = True
            cols["unanswered_complaints"][i] = (flags & ~later_ok).sum()
        nps = pd.to_numeric(items["nps_score"], errors="coerce").dropna() if "nps_score" in items else []
        if len(nps):
            nps_first[i], nps_latest[i] = nps.iloc[0], nps.iloc[-1]
            cols["has_nps"][i] = 1.0
            cols["nps_latest_centered"][i] = nps.iloc[-1] - 7.0
            cols["nps_change"][i] = nps.iloc[-1] - nps.iloc[0]
            cols["nps_detractor"][i] = float((nps <= 6).any())
            cols["nps_promoter"][i] = float((nps >= 9).any())
    used = int(len(fb))
    have_sentiment = "sentiment" in fb and len(fb) and fb["sentiment"].notna().any()
    if used:
        for name in ("n_feedback", "n_complaints", "complaints_recent", "unanswered_complaints"):
            put(name, cols[name], "feedback")
        if have_sentiment:
            for name in ("n_negative", "n_positive", "sentiment_mean", "sentiment_trend"):
                put(name, cols[name], "feedback")
            put("any_negative", (cols["n_negative"] > 0).astype(float), "feedback", "binary")
            put("any_positive", (cols["n_positive"] > 0).astype(float), "feedback", "binary")
        if cols["has_nps"].any():
            for name in ("nps_latest_centered", "nps_change"):
                put(name, cols[name], "nps")
            for name in ("nps_detractor", "nps_promoter", "has_nps"):
                put(name, cols[name], "nps", "binary")
        for t in themes:
            if theme_total[t].any():
                put(f"complaint_{t}", (theme_total[t] > 0).astype(float), "theme", "binary")
    info["nps_first"] = nps_first
    info["nps_latest"] = nps_latest
    info["last_sentiment"] = last_sent
    for k in ("n_feedback", "n_negative", "n_complaints", "complaints_recent", "unanswered_complaints"):
        info[k] = cols[k]
    for t in themes:
        info[f"ev_total_{t}"] = theme_total[t]
        info[f"ev_recent_{t}"] = theme_recent[t]
        info[f"ev_last_{t}"] = pd.to_datetime(pd.Series(theme_last[t], index=idx))
    logger.info("built %d features for %d customers as of %s from %d feedback items",
                X.shape[1], len(X), as_of.date(), used)
    return FeatureSet(X=X, info=info, groups=groups, kinds=kinds, themes=themes, as_of=as_of,
                      excluded=excluded, feedback_used=used)
