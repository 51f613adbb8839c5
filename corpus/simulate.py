"""Seeded simulator of a customer base whose churn depends on what customers wrote.

The generative story (also in ``corpus/README.md``; the numbers live in
:data:`COEFFICIENTS` and are copied to ``truth.json``):

1. **Customers.** Each (language, domain) cell of the corpus gets its share of
   ``n_customers``. A customer has a segment (consumer/business), a plan
   (basic/standard/premium), a signup date (55 % signed up in the four years
   before the window, 45 % during its first 13 months), a latent monthly
   activity rate ``activity_rate`` (orders or transactions per month, log-normal
   by plan), a latent dissatisfaction ``u ~ N(0, 1)`` and a feedback propensity
   (Gamma, so that many customers never write and a few write several times).
2. **Months.** The window has ``months`` calendar months. Every month each
   active customer places ``Poisson(activity_rate)`` orders (spend per order is
   log-normal by domain).
3. **Feedback.** The hand-written items of a cell are shuffled and spread evenly
   over the months. Each item goes to one active customer of its cell (at most
   one item per customer per month), drawn with weight
   ``propensity * exp(GAMMA * s * u)`` where ``s`` is +1 for a negative item, -1
   for a positive one and 0 for a neutral one: unhappy customers write the
   complaints, but ``u`` itself does not enter the hazard. The item gets a
   timestamp inside that month and inside the customer's active life.
4. **Churn.** After the month's feedback, each active customer churns with the
   monthly hazard ``sigmoid(intercept + sum(coef * feature))`` (features in
   :data:`FEATURES`; feedback features are "ever, up to and including this
   month", so only feedback written before the churn date counts). A churner's
   churn date lies after their last feedback, so every feedback timestamp is
   strictly earlier than the churn date. Customers who never write can churn
   (silent churn); complainers can stay.
5. **Truth.** Each customer's true probability of churning within the window
   is ``1 - prod(1 - hazard)`` over the months from signup to the window end,
   with the features they actually had (frozen after churning). ``oracle_auc``
   is the AUC of that probability against the simulated outcome.

Everything is drawn from one ``numpy.random.Generator`` seeded by the build, in a
fixed order, so the same seed and the same items give identical files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.nps import DETRACTOR_MAX, NPS_MAX, NPS_MIN, PROMOTER_MIN, is_detractor, is_promoter

__all__ = [
    "COEFFICIENTS",
    "THEME_COEFFICIENTS",
    "FEATURES",
    "GAMMA",
    "SimConfig",
    "SimResult",
    "simulate",
    "auc",
]

#: Weight of the latent dissatisfaction when choosing who wrote an item.
GAMMA = 0.8

#: Monthly churn hazard, logit scale. Reference: consumer segment, standard plan,
#: no feedback. Odds ratios are ``exp(coef)``.
COEFFICIENTS: dict[str, float] = {
    "intercept": -3.0,
    "log1p_tenure_months": -0.35,
    "log1p_activity_rate": -0.45,
    "plan_basic": 0.25,
    "plan_premium": -0.30,
    "segment_business": -0.20,
    "negative_feedback": 0.50,
    "positive_feedback": -0.30,
    "detractor": 0.60,
    "promoter": -0.40,
}

#: Extra log-odds of churning per month once a customer has complained about a
#: theme (an item with ``theme_sentiment[theme] == "negative"``).
THEME_COEFFICIENTS: dict[str, float] = {
    "billing": 1.00,
    "network": 0.90,
    "trust": 0.80,
    "refunds": 0.60,
    "service": 0.50,
    "hygiene": 0.50,
    "price": 0.45,
    "speed": 0.40,
    "quality": 0.40,
    "delivery": 0.35,
    "app": 0.30,
    "packaging": 0.10,
    "other": 0.05,
    # added with the theme (after the simulator was written): the place itself does not drive churn
    "ambience": 0.0,
}

#: Definition of each hazard feature, evaluated for customer i in month m.
FEATURES: dict[str, str] = {
    "log1p_tenure_months": "log(1 + months from signup to the start of month m, at least 0)",
    "log1p_activity_rate": "log(1 + the customer's latent orders/transactions per month); "
                           "estimate it as orders / active months",
    "plan_basic": "1 if plan == basic",
    "plan_premium": "1 if plan == premium",
    "segment_business": "1 if segment == business",
    "negative_feedback": "1 if the customer wrote any item with sentiment negative up to month m",
    "positive_feedback": "1 if the customer wrote any item with sentiment positive up to month m",
    "detractor": f"1 if any survey item up to month m had nps_score {NPS_MIN}-{DETRACTOR_MAX}",
    "promoter": f"1 if any survey item up to month m had nps_score {PROMOTER_MIN}-{NPS_MAX}",
    "theme_negative_<theme>": "1 if any item up to month m had theme_sentiment[<theme>] == negative",
}

_PLANS = ("basic", "standard", "premium")
_PLAN_P = (0.45, 0.35, 0.20)
_PLAN_ACTIVITY = {"basic": 1.5, "standard": 3.0, "premium": 5.0}  # median orders / month
_SPEND_PER_ORDER = {"telecom": 14.0, "ecommerce": 38.0, "banking": 22.0, "restaurants": 11.0}
#: Channel probabilities by source and domain (app, web, call_center, store).
_CHANNELS = ("app", "web", "call_center", "store")
_CHANNEL_P: dict[str, dict[str, tuple[float, float, float, float]]] = {
    "review": {d: (0.6, 0.4, 0.0, 0.0) for d in ("telecom", "ecommerce", "banking", "restaurants")},
    "survey": {
        "telecom": (0.35, 0.35, 0.15, 0.15),
        "ecommerce": (0.5, 0.5, 0.0, 0.0),
        "banking": (0.35, 0.3, 0.1, 0.25),
        "restaurants": (0.45, 0.25, 0.0, 0.3),
    },
    "ticket": {
        "telecom": (0.25, 0.15, 0.5, 0.1),
        "ecommerce": (0.35, 0.25, 0.4, 0.0),
        "banking": (0.2, 0.15, 0.5, 0.15),
        "restaurants": (0.4, 0.2, 0.3, 0.1),
    },
}
_DAYS_PER_MONTH = 30.4375


@dataclass(frozen=True)
class SimConfig:
    """Simulator settings.

    Attributes:
        seed: Seed of the ``numpy.random.Generator``.
        n_customers: Customers in total, shared among (language, domain) cells
            in proportion to their items.
        start: First day of the observation window.
        months: Length of the window in calendar months (12-18).
    """

    seed: int = 3
    n_customers: int = 4000
    start: date = date(2025, 1, 1)
    months: int = 18


@dataclass
class SimResult:
    """What :func:`simulate` returns.

    Attributes:
        links: One row per item: feedback_id, customer_id, created_at (ISO string), channel.
        customers: One row per customer (see ``pipeline.corpus.CUSTOMER_COLUMNS``).
        truth: JSON-serialisable dict: seed, story, coefficients, per-customer truth.
    """

    links: pd.DataFrame
    customers: pd.DataFrame
    truth: dict[str, Any]


def _add_months(d: date, n: int) -> date:
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half).

    Args:
        score: Higher means more likely positive.
        label: 0/1 outcomes.

    Returns:
        The AUC, or ``nan`` when only one class is present.
    """
    score = np.asarray(score, dtype=float)
    label = np.asarray(label, dtype=int)
    n_pos, n_neg = int(label.sum()), int((1 - label).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[label == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))



@dataclass(frozen=True)
class _Window:
    """The observation window: its first day (day 0) and the first day of each month, plus one past the end."""

    epoch: date
    month_starts: tuple[date, ...]

    @classmethod
    def of(cls, config: SimConfig) -> _Window:
        return cls(config.start, tuple(_add_months(config.start, m) for m in range(config.months + 1)))

    @property
    def months(self) -> int:
        return len(self.month_starts) - 1

    @property
    def end(self) -> date:
        return self.month_starts[-1] - timedelta(days=1)

    def day(self, d: date) -> int:
        """Day index of ``d`` relative to the window start."""
        return (d - self.epoch).days

    def month_days(self, m: int) -> tuple[int, int]:
        """First and last day index of month ``m``."""
        return self.day(self.month_starts[m]), self.day(self.month_starts[m + 1]) - 1

    def iso(self, d: int) -> str:
        """The ISO date of day index ``d``."""
        return (self.epoch + timedelta(days=int(d))).isoformat()


@dataclass
class _Customers:
    """The drawn customers, one array entry per customer (their cell indexes ``cells``)."""

    customer_id: np.ndarray
    cell: np.ndarray
    language: np.ndarray
    domain: np.ndarray
    segment: np.ndarray
    plan: np.ndarray
    signup_day: np.ndarray
    activity: np.ndarray
    u: np.ndarray
    propensity: np.ndarray
    basket: np.ndarray

    @property
    def n(self) -> int:
        return len(self.customer_id)


@dataclass
class _State:
    """What the months have done to each customer so far: orders, feedback flags, churn, survival."""

    churned: np.ndarray
    churn_day: np.ndarray
    last_fb_day: np.ndarray
    last_act_day: np.ndarray
    orders: np.ndarray
    spend: np.ndarray
    n_fb: np.ndarray
    neg_any: np.ndarray
    pos_any: np.ndarray
    detr_any: np.ndarray
    prom_any: np.ndarray
    theme_neg: np.ndarray
    log_surv: np.ndarray

    @classmethod
    def start(cls, n: int, n_themes: int) -> _State:
        never = np.full(n, -10**6, dtype=np.int64)
        return cls(churned=np.zeros(n, dtype=bool), churn_day=np.full(n, np.iinfo(np.int32).max, dtype=np.int64),
                   last_fb_day=never.copy(), last_act_day=never.copy(), orders=np.zeros(n, dtype=np.int64),
                   spend=np.zeros(n, dtype=float), n_fb=np.zeros(n, dtype=np.int64),
                   neg_any=np.zeros(n, dtype=bool), pos_any=np.zeros(n, dtype=bool),
                   detr_any=np.zeros(n, dtype=bool), prom_any=np.zeros(n, dtype=bool),
                   theme_neg=np.zeros((n, n_themes), dtype=bool), log_surv=np.zeros(n, dtype=float))


#: Sign of an item's sentiment in the weight of who wrote it.
_SENT_SIGN = {"negative": 1.0, "neutral": 0.0, "positive": -1.0}
#: Column of each theme in :attr:`_State.theme_neg` and in the hazard's theme coefficients.
_THEMES = tuple(THEME_COEFFICIENTS)
_THEME_POS = {t: j for j, t in enumerate(_THEMES)}
_THEME_COEF = np.array([THEME_COEFFICIENTS[t] for t in _THEMES])


def _customers_per_cell(sizes: list[int], n_customers: int) -> np.ndarray:
    """Customers of each cell, in proportion to its items (largest remainder, deterministic).

    Example:
        >>> _customers_per_cell([1, 1, 1], 10).tolist()
        [4, 3, 3]
    """
    raw = np.array([n_customers * s / sum(sizes) for s in sizes])
    counts = np.floor(raw).astype(int)
    for k in np.argsort(-(raw - counts), kind="stable")[: n_customers - counts.sum()]:
        counts[k] += 1
    return counts


def _draw_customers(rng: np.random.Generator, cells: list[tuple[str, str]], counts: np.ndarray) -> _Customers:
    """Step 1 of the story: each customer's cell, segment, plan, signup, activity, dissatisfaction, propensity."""
    n = int(counts.sum())
    cell = np.repeat(np.arange(len(cells)), counts)
    domain = np.array([cells[k][1] for k in cell])
    segment = np.where(rng.random(n) < 0.15, "business", "consumer")
    plan = np.array(_PLANS)[rng.choice(3, size=n, p=_PLAN_P)]
    existing = rng.random(n) < 0.55
    before = rng.integers(1, 4 * 365, size=n)  # days before the window
    during = rng.integers(0, 396, size=n)  # days into the window (first ~13 months)
    activity = np.array([_PLAN_ACTIVITY[p] for p in plan]) * np.exp(rng.normal(0.0, 0.6, size=n))
    activity = np.round(activity, 4)
    u = rng.normal(0.0, 1.0, size=n)
    propensity = rng.gamma(0.6, 1.0, size=n) * (1.0 + 0.3 * np.log1p(activity))
    basket = np.array([_SPEND_PER_ORDER[d] for d in domain]) * np.exp(rng.normal(0.0, 0.3, size=n))
    return _Customers(customer_id=np.array([f"C{i + 1:05d}" for i in range(n)]), cell=cell,
                      language=np.array([cells[k][0] for k in cell]), domain=domain, segment=segment, plan=plan,
                      signup_day=np.where(existing, -before, during), activity=activity, u=u,
                      propensity=propensity, basket=basket)


def _static_log_odds(cust: _Customers) -> np.ndarray:
    """The part of the monthly hazard's log-odds that does not change over time."""
    return (COEFFICIENTS["intercept"]
            + COEFFICIENTS["log1p_activity_rate"] * np.log1p(cust.activity)
            + COEFFICIENTS["plan_basic"] * (cust.plan == "basic")
            + COEFFICIENTS["plan_premium"] * (cust.plan == "premium")
            + COEFFICIENTS["segment_business"] * (cust.segment == "business"))


def _spread_items(rng: np.random.Generator, cell_items: list[pd.DataFrame], months: int) -> list[list[int]]:
    """Step 3's plan: each cell's items shuffled, then split evenly over the months (row labels per month)."""
    by_month: list[list[int]] = [[] for _ in range(months)]
    for part in cell_items:
        idx = part.index.to_numpy()
        idx = idx[rng.permutation(len(idx))]
        for m, chunk in enumerate(np.array_split(idx, months)):
            by_month[m].extend(int(i) for i in chunk)
    return by_month


def _place_orders(rng: np.random.Generator, cust: _Customers, st: _State, m_start: int, m_end: int,
                  active: np.ndarray, first_day: np.ndarray) -> None:
    """Step 2 for one month: Poisson orders over the part of the month each customer was active."""
    frac = np.where(active, (m_end - first_day + 1) / (m_end - m_start + 1), 0.0)
    n_orders = rng.poisson(cust.activity * frac)
    st.orders += n_orders
    st.spend += n_orders * cust.basket
    has = n_orders > 0
    act_day = first_day + np.floor(rng.random(cust.n) * (m_end - first_day + 1)).astype(np.int64)
    st.last_act_day = np.where(has & active, np.maximum(st.last_act_day, act_day), st.last_act_day)


def _pick_writer(rng: np.random.Generator, cust: _Customers, candidates: np.ndarray, sentiment: str) -> int:
    """Who wrote an item: weight ``propensity * exp(GAMMA * s * u)`` among the candidates."""
    w = cust.propensity[candidates] * np.exp(GAMMA * _SENT_SIGN[sentiment] * cust.u[candidates])
    return int(candidates[rng.choice(candidates.size, p=w / w.sum())])


def _record_feedback(st: _State, i: int, row: pd.Series, fb_day: int) -> None:
    """What an item written on ``fb_day`` does to its writer's feedback features."""
    st.n_fb[i] += 1
    st.last_fb_day[i] = max(st.last_fb_day[i], fb_day)
    sentiment = str(row["sentiment"])
    st.neg_any[i] |= sentiment == "negative"
    st.pos_any[i] |= sentiment == "positive"
    nps = row["nps"]
    if nps is not None and not pd.isna(nps):
        st.detr_any[i] |= is_detractor(int(nps))
        st.prom_any[i] |= is_promoter(int(nps))
    for t, s in dict(row["theme_sentiment"]).items():
        if s == "negative" and t in _THEME_POS:
            st.theme_neg[i, _THEME_POS[t]] = True


def _link_items(rng: np.random.Generator, items: pd.DataFrame, item_ixs: list[int], cells: list[tuple[str, str]],
                cust: _Customers, st: _State, window: _Window, m: int,
                active: np.ndarray, first_day: np.ndarray) -> list[tuple[str, str, str, str]]:
    """Step 3 for one month: each planned item goes to one active customer of its cell, at most one each.

    Returns:
        ``(feedback_id, customer_id, created_at, channel)`` per item.

    Raises:
        ValueError: A cell has more items this month than active customers.
    """
    m_end = window.month_days(m)[1]
    taken = np.zeros(cust.n, dtype=bool)
    links = []
    for item_ix in item_ixs:
        row = items.loc[item_ix]
        k = cells.index((str(row["language"]), str(row["domain"])))
        cand = np.flatnonzero(active & (cust.cell == k) & ~taken)
        if cand.size == 0:
            raise ValueError(f"no active customer left in cell {cells[k]} in month {m}; raise n_customers")
        i = _pick_writer(rng, cust, cand, str(row["sentiment"]))
        taken[i] = True
        d0 = int(first_day[i])
        fb_day = d0 + int(rng.integers(0, m_end - d0 + 1))
        secs = int(rng.integers(7 * 3600, 24 * 3600))
        ts = datetime.combine(window.epoch + timedelta(days=fb_day), datetime.min.time()) + timedelta(seconds=secs)
        src, dom = str(row["source"]), str(row["domain"])
        channel = _CHANNELS[int(rng.choice(4, p=_CHANNEL_P[src][dom]))]
        links.append((str(row["feedback_id"]), str(cust.customer_id[i]), ts.isoformat(), channel))
        _record_feedback(st, i, row, fb_day)
    return links


def _draw_churn(rng: np.random.Generator, cust: _Customers, st: _State, static: np.ndarray, m_start: int,
                m_end: int, signed: np.ndarray, active: np.ndarray, first_day: np.ndarray) -> None:
    """Step 4 for one month: the hazard with the state after this month's feedback, and who churns when."""
    tenure = np.maximum(m_start - cust.signup_day, 0) / _DAYS_PER_MONTH
    eta = (static
           + COEFFICIENTS["log1p_tenure_months"] * np.log1p(tenure)
           + COEFFICIENTS["negative_feedback"] * st.neg_any
           + COEFFICIENTS["positive_feedback"] * st.pos_any
           + COEFFICIENTS["detractor"] * st.detr_any
           + COEFFICIENTS["promoter"] * st.prom_any
           + st.theme_neg.astype(float) @ _THEME_COEF)
    hazard = _sigmoid(eta)
    st.log_surv += np.where(signed, np.log1p(-hazard), 0.0)
    draw = rng.random(cust.n)
    new_churn = active & (draw < hazard)
    earliest = np.maximum(first_day, st.last_fb_day + 1)  # a churner's date follows their last feedback
    span = np.maximum(m_end - earliest + 1, 1)
    cday = earliest + np.floor(rng.random(cust.n) * span).astype(np.int64)
    st.churn_day = np.where(new_churn, cday, st.churn_day)
    st.churned |= new_churn


def _customers_frame(cust: _Customers, st: _State, window: _Window) -> pd.DataFrame:
    """One row per customer, the columns of ``pipeline.corpus.CUSTOMER_COLUMNS``."""
    stop_day = np.where(st.churned, st.churn_day, window.day(window.end))
    tenure_months = np.floor((stop_day - cust.signup_day) / _DAYS_PER_MONTH).astype(int)
    last_act = np.where(st.last_act_day < -10**5, cust.signup_day, st.last_act_day)
    last_act = np.where(st.churned, np.minimum(last_act, st.churn_day), last_act)
    return pd.DataFrame({
        "customer_id": cust.customer_id,
        "language": cust.language,
        "domain": cust.domain,
        "segment": cust.segment,
        "plan": cust.plan,
        "signup_date": [window.iso(d) for d in cust.signup_day],
        "tenure_months": tenure_months,
        "orders": st.orders,
        "spend": np.round(st.spend, 2),
        "last_activity_date": [window.iso(d) for d in last_act],
        "n_feedback": st.n_fb,
        "churned": st.churned.astype(int),
        "churn_date": [window.iso(d) if c else "" for d, c in zip(st.churn_day, st.churned)],
    })


def _truth(config: SimConfig, window: _Window, cust: _Customers, st: _State) -> dict[str, Any]:
    """Step 5: the story, the coefficients, each customer's true churn probability and the oracle AUC."""
    p_true = 1.0 - np.exp(st.log_surv)
    oracle = round(auc(p_true, st.churned.astype(int)), 6)
    return {
        "seed": config.seed,
        "generator": "numpy.random.default_rng (PCG64)",
        "window": {"start": config.start.isoformat(), "end": window.end.isoformat(), "months": window.months},
        "n_customers": cust.n,
        "n_churned": int(st.churned.sum()),
        "model": ("discrete-time monthly hazard: P(churn in month m | active at its start) = "
                  "sigmoid(intercept + sum_k coef_k * feature_k(i, m)); feedback written in month m "
                  "counts in month m and always precedes the churn date"),
        "features": FEATURES,
        "coefficients": {**COEFFICIENTS, **{f"theme_negative_{t}": v for t, v in THEME_COEFFICIENTS.items()}},
        "feedback_assignment": {
            "gamma": GAMMA,
            "rule": "weight = propensity * exp(gamma * s * u), s = +1 negative / 0 neutral / -1 positive; "
                    "u ~ N(0,1) does not enter the hazard",
        },
        "oracle_auc": oracle if math.isfinite(oracle) else None,
        "customers": [
            {"customer_id": str(cid), "p_churn": round(float(p), 6), "activity_rate": float(a),
             "dissatisfaction": round(float(uu), 6)}
            for cid, p, a, uu in zip(cust.customer_id, p_true, cust.activity, cust.u)
        ],
    }


def simulate(items: pd.DataFrame, config: SimConfig = SimConfig()) -> SimResult:
    """Simulate customers, link every item to one of them, and draw churn.

    The steps of the module's story, in the order they draw from the one generator: customers,
    the items' months, then per month orders, feedback and churn.

    Args:
        items: One row per item with columns feedback_id, language, domain,
            sentiment, source, nps (Int or None), theme_sentiment (dict). The
            order of rows must be deterministic (the build sorts by feedback_id).
        config: Seed, size and window.

    Returns:
        The links, the customers and the truth.

    Raises:
        ValueError: a cell has more items in a month than active customers.
    """
    rng = np.random.default_rng(config.seed)
    window = _Window.of(config)
    cells = sorted({(str(r.language), str(r.domain)) for r in items.itertuples()})
    cell_items = [items[(items["language"] == lang) & (items["domain"] == dom)] for lang, dom in cells]
    cust = _draw_customers(rng, cells, _customers_per_cell([len(p) for p in cell_items], config.n_customers))
    st = _State.start(cust.n, len(_THEMES))
    static = _static_log_odds(cust)
    plan_by_month = _spread_items(rng, cell_items, window.months)
    links: list[tuple[str, str, str, str]] = []
    for m in range(window.months):
        m_start, m_end = window.month_days(m)
        signed = cust.signup_day <= m_end
        active = signed & ~st.churned
        first_day = np.maximum(cust.signup_day, m_start)
        _place_orders(rng, cust, st, m_start, m_end, active, first_day)
        links += _link_items(rng, items, plan_by_month[m], cells, cust, st, window, m, active, first_day)
        _draw_churn(rng, cust, st, static, m_start, m_end, signed, active, first_day)
    return SimResult(links=pd.DataFrame(links, columns=["feedback_id", "customer_id", "created_at", "channel"]),
                     customers=_customers_frame(cust, st, window), truth=_truth(config, window, cust, st))
