"""Which complaint themes cost customers, and what each theme does to NPS.

* :func:`theme_drivers`: per theme, the churn rate of customers who complained about
  it and of those who did not, the lift (risk ratio) with a confidence interval
  (Katz log method), the churn model's own effect (odds ratio per complaint, with
  a Wald interval) and the customers lost: the sum over complainers of the model's
  churn probability minus the same probability with that complaint removed.
  Themes are ranked by customers lost (then by the model's effect).
* :func:`theme_nps_impact`: NPS of respondents who mention a theme versus those
  who do not, and the impact weighted by how often it is mentioned:
  ``impact = share * (nps_with - nps_without) = nps_overall - nps_without``, the
  points of NPS the theme adds (positive) or costs (negative); the NPS itself is
  :func:`sada.pipeline.nps.net_promoter_score`.

Example:
    >>> rr, lo, hi = risk_ratio_ci(30, 100, 20, 200)
    >>> round(rr, 2), round(lo, 2), round(hi, 2)
    (3.0, 1.8, 5.01)
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from sada.pipeline.nps import net_promoter_score

__all__ = ["risk_ratio_ci", "wilson_ci", "theme_drivers", "theme_nps_impact"]

logger = logging.getLogger(__name__)


def _z(level: float) -> float:
    return float(norm.ppf(0.5 + level / 2))


def wilson_ci(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n``.

    Example:
        >>> [round(x, 3) for x in wilson_ci(5, 10)]
        [0.237, 0.763]
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(level)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def risk_ratio_ci(a: int, n1: int, c: int, n0: int, level: float = 0.95) -> tuple[float, float, float]:
    """Risk ratio ``(a/n1) / (c/n0)`` with the Katz log interval.

    ``se(log RR) = sqrt(1/a - 1/n1 + 1/c - 1/n0)``; with a zero cell, 0.5 is added
    to ``a`` and ``c`` and 1 to ``n1`` and ``n0`` (Haldane-Anscombe correction).

    Args:
        a: Events (churners) among the exposed (customers who mention the theme).
        n1: Exposed customers.
        c: Events among the unexposed.
        n0: Unexposed customers.
        level: Confidence level.

    Returns:
        ``(rr, lower, upper)``; NaNs when a group is empty.
    """
    if n1 <= 0 or n0 <= 0:
        return (math.nan, math.nan, math.nan)
    if a == 0 or c == 0:
        a, c, n1, n0 = a + 0.5, c + 0.5, n1 + 1, n0 + 1
    rr = (a / n1) / (c / n0)
    se = math.sqrt(max(1 / a - 1 / n1 + 1 / c - 1 / n0, 0.0))
    z = _z(level)
    return (rr, rr * math.exp(-z * se), rr * math.exp(z * se))


def _mentions(value: Any, threshold: float) -> set[str]:
    if isinstance(value, dict):
        return {t for t, s in value.items() if s is None or float(s) >= threshold}
    if isinstance(value, (list, tuple)):
        return set(value)
    return set()


def theme_nps_impact(feedback: pd.DataFrame, themes: list[str], threshold: float = 0.5) -> pd.DataFrame:
    """Per theme: NPS with and without a mention among NPS respondents, mention share and impact.

    Uses every item with an NPS answer, with or without a customer id.

    Returns:
        Columns ``theme, n_with, nps_with, n_without, nps_without, share, impact``, sorted by impact
        (most costly first).
    """
    if feedback is None or not len(feedback) or "nps_score" not in feedback:
        return pd.DataFrame(columns=["theme", "n_with", "nps_with", "n_without", "nps_without", "share", "impact"])
    fb = feedback[pd.to_numeric(feedback["nps_score"], errors="coerce").notna()]
    col = "themes" if "themes" in fb else None
    mention = [(_mentions(v, threshold) if col else set()) for v in (fb[col] if col else [None] * len(fb))]
    rows = []
    for t in themes:
        has = np.array([t in m for m in mention], dtype=bool)
        if not has.any():
            continue
        w, wo = net_promoter_score(fb.loc[has, "nps_score"]), net_promoter_score(fb.loc[~has, "nps_score"])
        share = float(has.mean())
        impact = share * (w["nps"] - wo["nps"]) if wo["n"] else math.nan
        rows.append({"theme": t, "n_with": w["n"], "nps_with": w["nps"], "n_without": wo["n"],
                     "nps_without": wo["nps"], "share": round(share, 4), "impact": round(impact, 2)})
    out = pd.DataFrame(rows, columns=["theme", "n_with", "nps_with", "n_without", "nps_without", "share", "impact"])
    return out.sort_values("impact", kind="stable").reset_index(drop=True)


def theme_drivers(X: pd.DataFrame, info: pd.DataFrame, themes: list[str], model: Any | None = None,
                  level: float = 0.95) -> pd.DataFrame:
    """Churn drivers per complaint theme among the labelled customers.

    Args:
        X: Model features (``complaint_<theme>`` columns), indexed by customer.
        info: ``label`` (1 churned, 0 stayed, NA unknown) and ``ev_total_<theme>`` per customer.
        themes: Theme ids.
        model: A :class:`sada.pipeline.churn.ChurnModel` fitted on the labelled rows of ``X``, for the model
            effect and customers lost.
        level: Confidence level of the intervals.

    Returns:
        One row per theme with any complainer: ``theme, n_with, churned_with, rate_with, n_without,
        churned_without, rate_without, lift, lift_lower, lift_upper, excess_churners, model_odds_ratio,
        model_or_lower, model_or_upper, customers_lost``, ranked by ``customers_lost`` (the model's
        estimate; ``excess_churners`` is the unadjusted ``churned_with - n_with * rate_without``).
    """
    lab = info["label"]
    known = lab.notna()
    y = lab[known].astype(int)
    effects = model.feature_effects(X.loc[known], level) if model is not None else pd.DataFrame()  # fitted rows
    base_p = model.predict_proba(X) if model is not None else None
    rows = []
    for t in themes:
        col = f"ev_total_{t}"
        if col not in info:
            continue
        has_all = info[col] > 0
        has = has_all[known]
        a, n1 = int(y[has].sum()), int(has.sum())
        c, n0 = int(y[~has].sum()), int((~has).sum())
        if n1 == 0:
            continue
        rr, lo, hi = risk_ratio_ci(a, n1, c, n0, level)
        rate1, rate0 = a / n1, (c / n0 if n0 else math.nan)
        row = {"theme": t, "n_with": n1, "churned_with": a, "rate_with": round(rate1, 4), "n_without": n0,
               "churned_without": c, "rate_without": round(rate0, 4), "lift": round(rr, 3),
               "lift_lower": round(lo, 3), "lift_upper": round(hi, 3),
               "excess_churners": round(a - n1 * rate0, 1),
               "model_odds_ratio": math.nan, "model_or_lower": math.nan, "model_or_upper": math.nan,
               "customers_lost": math.nan}
        feat = f"complaint_{t}"
        if model is not None and feat in X.columns and feat in set(effects.get("feature", [])):
            e = effects.set_index("feature").loc[feat]
            row.update(model_odds_ratio=round(float(e["odds_ratio"]), 3), model_or_lower=round(float(e["or_lower"]), 3),
                       model_or_upper=round(float(e["or_upper"]), 3))
            X0 = X.loc[has_all].copy()
            X0[feat] = 0.0
            lost = float((base_p[has_all.to_numpy()] - model.predict_proba(X0)).sum())
            row["customers_lost"] = round(lost, 1)
        rows.append(row)
    out = pd.DataFrame(rows)
    if not len(out):
        return out
    key = out["customers_lost"].fillna(out["excess_churners"])
    out = out.assign(_k=key).sort_values(["_k", "model_odds_ratio"], ascending=False, kind="stable")
    return out.drop(columns="_k").reset_index(drop=True)
