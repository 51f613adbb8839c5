"""Point-in-time churn features: what was known about each customer on the as-of date.

:func:`build_features` joins the customers to their analysed feedback and
computes one row of features per customer *as of* a date. Nothing after the
as-of date is used: a feedback item dated after it, or after the customer's
churn date, changes no feature (``tests/test_churn.py`` checks this). A stored
item counts at its date as the report and ``sada export`` read it: when it was
written, else when Sada received it (:func:`sada.pipeline.store.item_date`); an
item of a frame handed in without a date is left out of the per-customer features
(it still counts in the aggregate NPS and driver tables).

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
  detractor / promoter ever (:mod:`sada.pipeline.nps`), has answered;
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

from sada.pipeline.classify import as_dict, complaint_themes, is_complaint_item
from sada.pipeline.errors import InputError
from sada.pipeline.nps import is_detractor, is_promoter

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

    Items without analysis keep their NPS and date, with ``sentiment`` NA and no themes. An item with no
    date counts at the time it was received, as in the report (:func:`sada.pipeline.store.item_date`).

    Returns:
        Columns ``feedback_id, customer_id, created_at, source, nps_score, sentiment, themes,
        theme_sentiment, is_complaint, model_version``; ``created_at`` is the item's date (written, else
        received).
    """
    columns = ["feedback_id", "customer_id", "item_date", "source", "nps_score"]
    fb = pd.DataFrame(store.feedback_rows(columns), columns=columns).rename(columns={"item_date": "created_at"})
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
    as_of = _end_of_day(as_of)
    cu, excluded = _customers_as_of(customers, as_of)
    label, cutoff = _labels_and_cutoffs(cu, as_of)
    out = _Features(info=pd.DataFrame({"cutoff": cutoff, "label": label, "churn_date": cu["churn_date"],
                                       "signup_date": cu["signup_date"], "crm_risk": cu["crm_risk"]}, index=cu.index))
    _put_behaviour(out, cu, as_of, cutoff, config)
    attrs = attribute_columns if attribute_columns is not None else [c for c in cu.columns if c not in _CORE]
    _put_attributes(out, cu, attrs, config)
    fb = _feedback_up_to_cutoff(feedback, cutoff)
    themes = list(config.themes) if config.themes is not None else sorted(
        {t for v in (fb["theme_sentiment"] if "theme_sentiment" in fb else []) for t in as_dict(v)})
    stats = _FeedbackStats(len(cu.index), themes)
    pos = {c: i for i, c in enumerate(cu.index)}
    for cid, items in (fb.groupby("customer_id", sort=False) if len(fb) else []):
        stats.add(pos[cid], items, cutoff.iloc[pos[cid]], config)
    _put_feedback(out, stats, fb, themes)
    logger.info("built %d features for %d customers as of %s from %d feedback items",
                out.X.shape[1], len(out.X), as_of.date(), len(fb))
    return FeatureSet(X=out.X, info=out.info, groups=out.groups, kinds=out.kinds, themes=themes, as_of=as_of,
                      excluded=excluded, feedback_used=int(len(fb)))


def _end_of_day(as_of: Any) -> pd.Timestamp:
    try:
        return pd.Timestamp(as_of).normalize() + pd.Timedelta(hours=23, minutes=59, seconds=59)
    except (ValueError, TypeError):
        raise InputError(f"expected an as-of date such as 2026-06-30, found {as_of!r}; fix --as-of") from None


def _customers_as_of(customers: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, dict[str, int]]:
    """Typed customers who had signed up by ``as_of``, indexed by id, and how many were left out."""
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
    return cu[~later].drop_duplicates("customer_id").set_index("customer_id"), excluded


def _labels_and_cutoffs(cu: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """Label: churned by ``as_of`` (NA when unknown); cutoff: ``as_of``, or the churn date for churners."""
    churned_by = (cu["churned"] == 1) & (cu["churn_date"].isna() | (cu["churn_date"] <= as_of))
    label = pd.Series(np.where(cu["churned"].isna(), np.nan, churned_by.astype(float)), index=cu.index)
    cutoff = pd.Series(as_of, index=cu.index)
    has_date = churned_by & cu["churn_date"].notna()
    cutoff[has_date] = cu.loc[has_date, "churn_date"]
    return label, cutoff


@dataclass
class _Features:
    """The frame being built: features with their group and kind, and the per-customer facts."""

    info: pd.DataFrame
    X: pd.DataFrame = field(init=False)
    groups: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.X = pd.DataFrame(index=self.info.index)

    def put(self, name: str, values: Any, group: str, kind: str = "numeric") -> None:
        self.X[name] = values
        self.groups[name] = group
        self.kinds[name] = kind


def _put_behaviour(out: _Features, cu: pd.DataFrame, as_of: pd.Timestamp, cutoff: pd.Series,
                   config: FeatureConfig) -> None:
    """Tenure, recency, orders a month, spend per order and segment."""
    tenure = (as_of - cu["signup_date"]).dt.days / DAYS_PER_MONTH
    tenure = tenure.where(cu["signup_date"].notna(), cu["tenure_months"])
    out.info["tenure_months"] = tenure
    if tenure.notna().any():
        out.put("tenure_months", tenure.clip(lower=0), "recency_frequency")
    last = cu["last_activity"].where(cu["last_activity"] <= as_of)
    recency = (cutoff - last).dt.days.clip(lower=0)
    out.info["recency_days"] = recency
    out.info["last_activity_known"] = cu["last_activity"].notna()
    if recency.notna().any():
        out.put("recency_days", recency.astype(float), "recency_frequency")
    if cu["orders"].notna().any():
        start = cu["signup_date"]
        if config.orders_since is not None:
            start = start.where(start > config.orders_since, pd.Timestamp(config.orders_since))
        months = ((cutoff - start).dt.days / DAYS_PER_MONTH).where(start.notna(), tenure)
        rate = cu["orders"] / months.clip(lower=0.5)
        out.put("orders_per_month", rate, "recency_frequency")
        out.info["orders_per_month"] = rate
    if cu["spend"].notna().any():
        spo = cu["spend"] / cu["orders"].where(cu["orders"] > 0) if cu["orders"].notna().any() else cu["spend"]
        out.put("spend_per_order" if cu["orders"].notna().any() else "spend", spo, "behaviour")
    if "segment" in cu and cu["segment"].notna().any():
        out.put("segment", cu["segment"].astype(object), "behaviour", "categorical")


def _put_attributes(out: _Features, cu: pd.DataFrame, attrs: list[str], config: FeatureConfig) -> None:
    """The customer file's other columns: numbers as they are, categories with few enough levels."""
    for col in attrs:
        if col in config.exclude or col not in cu or col in out.X:
            continue
        values = cu[col]
        if pd.api.types.is_numeric_dtype(values):
            if values.notna().any():
                out.put(col, values.astype(float), "behaviour")
        else:
            levels = values.dropna().nunique()
            if 1 < levels <= config.max_levels and levels < 0.5 * max(len(values), 1):
                out.put(col, values.astype(object), "behaviour", "categorical")
            else:
                logger.info("attribute %s left out: %d levels", col, levels)


def _feedback_up_to_cutoff(feedback: pd.DataFrame | None, cutoff: pd.Series) -> pd.DataFrame:
    """The customers' dated items up to each one's cutoff, in order (customer, time, id)."""
    fb = feedback if feedback is not None else pd.DataFrame(columns=["customer_id", "created_at"])
    fb = fb[fb["customer_id"].isin(cutoff.index)].copy() if len(fb) else fb
    if len(fb):
        fb["created_at"] = pd.to_datetime(fb["created_at"])
        fb = fb[fb["created_at"].notna()]
        fb = fb[fb["created_at"] <= fb["customer_id"].map(cutoff)]
        fb = fb.sort_values(["customer_id", "created_at", "feedback_id"])
    return fb


#: Per-customer feedback statistics kept in :class:`_FeedbackStats` (zero for customers who wrote nothing).
_STAT_COLUMNS = ("n_feedback", "n_negative", "n_positive", "sentiment_mean", "sentiment_trend", "n_complaints",
                 "complaints_recent", "unanswered_complaints", "nps_latest_centered", "nps_change", "nps_detractor",
                 "nps_promoter", "has_nps")


class _FeedbackStats:
    """Feedback, NPS and complaint statistics per customer, filled one customer's items at a time."""

    def __init__(self, n: int, themes: list[str]) -> None:
        self.cols = {k: np.zeros(n) for k in _STAT_COLUMNS}
        self.nps_first = np.full(n, np.nan)
        self.nps_latest = np.full(n, np.nan)
        self.last_sent = np.full(n, np.nan)
        self.theme_total = {t: np.zeros(n) for t in themes}
        self.theme_recent = {t: np.zeros(n) for t in themes}
        self.theme_last: dict[str, list[Any]] = {t: [pd.NaT] * n for t in themes}

    def add(self, i: int, items: pd.DataFrame, cut: pd.Timestamp, config: FeatureConfig) -> None:
        """Customer ``i``'s items (in time order, up to their cutoff ``cut``)."""
        recent_from = cut - pd.Timedelta(days=config.recent_days)
        self.cols["n_feedback"][i] = len(items)
        self._sentiment(i, items)
        flags = self._complaints(i, items, recent_from, config.theme_threshold)
        self.cols["n_complaints"][i] = flags.sum()
        self.cols["complaints_recent"][i] = (flags & (items["created_at"] >= recent_from).to_numpy()).sum()
        if flags.any():
            self.cols["unanswered_complaints"][i] = (flags & ~_answered_later(items, len(flags))).sum()
        self._nps(i, items)

    def _sentiment(self, i: int, items: pd.DataFrame) -> None:
        sent = items["sentiment"].map(_SENT) if "sentiment" in items else pd.Series(dtype=float)
        sent = sent.dropna()
        if len(sent):
            self.cols["n_negative"][i] = float((sent < 0).sum())
            self.cols["n_positive"][i] = float((sent > 0).sum())
            self.cols["sentiment_mean"][i] = sent.mean()
            self.last_sent[i] = sent.iloc[-1]
            if len(sent) > 1:
                self.cols["sentiment_trend"][i] = sent.iloc[-1] - sent.iloc[:-1].mean()

    def _complaints(self, i: int, items: pd.DataFrame, recent_from: pd.Timestamp, threshold: float) -> np.ndarray:
        """Which items are complaints; counts each theme complained about (total, recent, last date)."""
        flags = []
        for row in items.itertuples(index=False):
            tlist = (complaint_themes(getattr(row, "themes", None), row.theme_sentiment, threshold)
                     if "theme_sentiment" in items else [])
            flags.append(is_complaint_item(getattr(row, "is_complaint", None), getattr(row, "sentiment", None),
                                           getattr(row, "theme_sentiment", None)))
            for t in tlist:
                if t in self.theme_total:
                    self.theme_total[t][i] += 1
                    if row.created_at >= recent_from:
                        self.theme_recent[t][i] += 1
                    self.theme_last[t][i] = row.created_at
        return np.array(flags, dtype=bool)

    def _nps(self, i: int, items: pd.DataFrame) -> None:
        nps = pd.to_numeric(items["nps_score"], errors="coerce").dropna() if "nps_score" in items else []
        if len(nps):
            self.nps_first[i], self.nps_latest[i] = nps.iloc[0], nps.iloc[-1]
            self.cols["has_nps"][i] = 1.0
            self.cols["nps_latest_centered"][i] = nps.iloc[-1] - 7.0
            self.cols["nps_change"][i] = nps.iloc[-1] - nps.iloc[0]
            self.cols["nps_detractor"][i] = float(is_detractor(nps).any())
            self.cols["nps_promoter"][i] = float(is_promoter(nps).any())


def _answered_later(items: pd.DataFrame, n: int) -> np.ndarray:
    """Per item: whether a later item of the same customer is non-negative (a complaint "answered")."""
    later_ok = np.zeros(n, dtype=bool)
    ok_seen = False
    sent_all = items["sentiment"].map(_SENT).to_numpy() if "sentiment" in items else np.full(n, np.nan)
    for j in range(n - 1, -1, -1):
        later_ok[j] = ok_seen
        if not np.isnan(sent_all[j]) and sent_all[j] >= 0:
            ok_seen = True
    return later_ok


def _put_feedback(out: _Features, stats: _FeedbackStats, fb: pd.DataFrame, themes: list[str]) -> None:
    """The feedback, NPS and theme features that the data supports, and the facts reasons are written from."""
    cols = stats.cols
    if len(fb):
        for name in ("n_feedback", "n_complaints", "complaints_recent", "unanswered_complaints"):
            out.put(name, cols[name], "feedback")
        if "sentiment" in fb and fb["sentiment"].notna().any():
            for name in ("n_negative", "n_positive", "sentiment_mean", "sentiment_trend"):
                out.put(name, cols[name], "feedback")
            out.put("any_negative", (cols["n_negative"] > 0).astype(float), "feedback", "binary")
            out.put("any_positive", (cols["n_positive"] > 0).astype(float), "feedback", "binary")
        if cols["has_nps"].any():
            for name in ("nps_latest_centered", "nps_change"):
                out.put(name, cols[name], "nps")
            for name in ("nps_detractor", "nps_promoter", "has_nps"):
                out.put(name, cols[name], "nps", "binary")
        for t in themes:
            if stats.theme_total[t].any():
                out.put(f"complaint_{t}", (stats.theme_total[t] > 0).astype(float), "theme", "binary")
    info = out.info
    info["nps_first"] = stats.nps_first
    info["nps_latest"] = stats.nps_latest
    info["last_sentiment"] = stats.last_sent
    for k in ("n_feedback", "n_negative", "n_complaints", "complaints_recent", "unanswered_complaints"):
        info[k] = cols[k]
    for t in themes:
        info[f"ev_total_{t}"] = stats.theme_total[t]
        info[f"ev_recent_{t}"] = stats.theme_recent[t]
        info[f"ev_last_{t}"] = pd.to_datetime(pd.Series(stats.theme_last[t], index=info.index))
