"""How good the churn scores are: held-out metrics, calibration, baselines, the team's own CRM score.

:func:`held_out_metrics` measures the model on a seeded stratified held-out split (AUC,
PR-AUC, top-decile lift, Brier, ECE, reliability), over several seeds, against baselines on
recency-frequency only and on NPS only, and against the team's own CRM scores when the
customer file has them.

scikit-learn and SciPy are imported inside the functions that use them (about 1.5 s of import
time, measured, that reading or reporting churn scores does not need).

Example:
    >>> m = classification_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> m["auc"], m["top_decile_lift"]
    (0.75, 2.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.churn.features import FeatureSet
from sada.pipeline.churn.model import ChurnModel

__all__ = ["classification_metrics", "reliability_table", "evaluate_split", "held_out_metrics"]


def classification_metrics(y: Any, p: Any) -> dict[str, float]:
    """AUC, PR-AUC (average precision), top-decile lift, Brier score, ECE, base rate and n.

    Example:
        >>> m = classification_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> m["auc"], m["n"]
        (0.75, 4)
    """
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    base = float(y.mean())
    k = max(1, int(math.ceil(0.1 * len(y))))
    top = np.argsort(-p, kind="stable")[:k]
    rel = reliability_table(y, p)
    ece = float((rel["n"] * (rel["mean_predicted"] - rel["observed"]).abs()).sum() / len(y)) if len(y) else math.nan
    both = 0 < y.sum() < len(y)
    return {"auc": round(float(roc_auc_score(y, p)), 4) if both else math.nan,
            "pr_auc": round(float(average_precision_score(y, p)), 4) if both else math.nan,
            "top_decile_lift": round(float(y[top].mean() / base), 3) if base > 0 else math.nan,
            "brier": round(float(brier_score_loss(y, p)), 4), "ece": round(ece, 4),
            "base_rate": round(base, 4), "n": int(len(y))}


def reliability_table(y: Any, p: Any, bins: int = 10) -> pd.DataFrame:
    """Calibration: predicted versus observed churn rate in ``bins`` equal-count bins of the score.

    Example:
        >>> reliability_table([0, 1, 0, 1], [0.2, 0.3, 0.6, 0.9], bins=2)["observed"].tolist()
        [0.5, 0.5]
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    rows = []
    for b, part in enumerate(np.array_split(order, min(bins, max(len(p), 1)))):
        if len(part):
            rows.append({"bin": b + 1, "lower": round(float(p[part].min()), 4), "upper": round(float(p[part].max()), 4),
                         "n": int(len(part)), "mean_predicted": round(float(p[part].mean()), 4),
                         "observed": round(float(y[part].mean()), 4)})
    return pd.DataFrame(rows, columns=["bin", "lower", "upper", "n", "mean_predicted", "observed"])


def evaluate_split(fs: FeatureSet, seed: int = 0, test_size: float = 0.2,
                   features: list[str] | None = None, C: float = 0.5) -> tuple[dict[str, float], pd.Series]:
    """Fit on a seeded stratified split of the labelled customers; metrics on the held-out part.

    Returns:
        ``(metrics, held-out probabilities indexed by customer_id)``.
    """
    from sklearn.model_selection import train_test_split

    lab = fs.info["label"].dropna().astype(int)
    X = fs.X.loc[lab.index]
    tr, te = train_test_split(lab.index.to_numpy(), test_size=test_size, random_state=seed, stratify=lab.to_numpy())
    cols = features if features is not None else fs.model_features
    model = ChurnModel(C=C, seed=seed).fit(X.loc[tr, cols], lab.loc[tr], fs.kinds)
    p = pd.Series(model.predict_proba(X.loc[te, cols]), index=te)
    return classification_metrics(lab.loc[te], p), p



def held_out_metrics(fs: FeatureSet, seed: int = 0, test_size: float = 0.2,
                     n_seeds: int = 5) -> tuple[dict[str, Any], pd.DataFrame]:
    """Held-out metrics of the model on ``fs``, over ``n_seeds`` seeds, with baselines and the CRM comparison.

    Returns:
        ``(metrics, reliability table of the held-out part)``: :func:`classification_metrics`'s keys plus
        ``n_train``, ``seed``, ``auc_seeds`` / ``auc_mean``, ``baseline_{rf,nps}_{auc,pr_auc}`` and, with
        CRM scores, ``crm_auc``, ``crm_spearman_with_score``, ``crm_only_model_auc``, ``crm_plus_feedback_auc``.
    """
    lab = fs.info["label"].dropna().astype(int)
    metrics, p_test = evaluate_split(fs, seed, test_size)
    y_test = lab.loc[p_test.index]
    metrics["n_train"] = int(len(lab) - len(p_test))
    metrics["seed"] = seed
    if n_seeds > 1:
        aucs = [metrics["auc"]] + [evaluate_split(fs, s, test_size)[0]["auc"] for s in range(seed + 1, seed + n_seeds)]
        metrics["auc_seeds"] = aucs
        metrics["auc_mean"] = round(float(np.mean(aucs)), 4)
    metrics.update(_baselines(fs, seed, test_size))
    metrics.update(_crm_comparison(fs, y_test, p_test, seed, test_size))
    return metrics, reliability_table(y_test, p_test)


def _baselines(fs: FeatureSet, seed: int, test_size: float) -> dict[str, float]:
    """AUC and PR-AUC of the same model on recency-frequency features only, and on NPS features only."""
    out = {}
    rf = [c for c, g in fs.groups.items() if g == "recency_frequency" and c in fs.model_features]
    npsf = [c for c, g in fs.groups.items() if g == "nps"]
    for name, cols in (("rf", rf), ("nps", npsf)):
        if cols:
            m, _ = evaluate_split(fs, seed, test_size, features=cols)
            out[f"baseline_{name}_auc"] = m["auc"]
            out[f"baseline_{name}_pr_auc"] = m["pr_auc"]
    return out


def _crm_comparison(fs: FeatureSet, y_test: pd.Series, p_test: pd.Series, seed: int,
                    test_size: float) -> dict[str, float]:
    """The team's own CRM score on the held-out part (when 20+ customers have one), alone and with feedback."""
    crm = fs.info["crm_risk"].loc[p_test.index]
    if crm.notna().sum() < 20:
        return {}
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    ok = crm.notna()
    out = {"crm_auc": round(float(roc_auc_score(y_test[ok], crm[ok])), 4),
           "crm_spearman_with_score": round(float(spearmanr(crm[ok], p_test[ok]).statistic), 4)}
    fb_cols = [c for c, g in fs.groups.items() if g in ("feedback", "nps", "theme") and c in fs.model_features]
    if fb_cols:
        fs2 = FeatureSet(X=fs.X.assign(crm_risk=fs.info["crm_risk"]), info=fs.info,
                         groups={**fs.groups, "crm_risk": "crm"}, kinds={**fs.kinds, "crm_risk": "numeric"},
                         themes=fs.themes, as_of=fs.as_of)
        m_crm, _ = evaluate_split(fs2, seed, test_size, features=["crm_risk"])
        m_both, _ = evaluate_split(fs2, seed, test_size, features=["crm_risk", *fb_cols])
        out["crm_only_model_auc"] = m_crm["auc"]
        out["crm_plus_feedback_auc"] = m_both["auc"]
    return out
