"""The churn model: logistic regression on standardised features, calibrated, linear so explainable.

Logistic regression (scikit-learn, L2) on standardised features, with ``log1p`` copies of
skewed non-negative numbers and one-hot categories, then Platt scaling fitted on out-of-fold
decision values (5 folds), so the score is a calibrated probability and still a linear function
of the features: each feature's contribution is ``slope * coef * (x - mean)`` in log-odds (exact
Shapley values of a linear model), which :mod:`sada.pipeline.churn.reasons` turns into words.

scikit-learn and SciPy are imported inside the functions that use them: together they add about
1.5 s to importing :mod:`sada.pipeline.churn` (measured), which the report and the flows import
without fitting anything.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"complaint_billing": rng.integers(0, 2, 400).astype(float),
    ...                   "tenure_months": rng.uniform(1, 60, 400)})
    >>> y = (rng.random(400) < 0.1 + 0.5 * X["complaint_billing"]).astype(int)
    >>> model = ChurnModel().fit(X, y, {"complaint_billing": "binary", "tenure_months": "numeric"})
    >>> bool(abs(model.predict_proba(X).mean() - y.mean()) < 0.02)
    True
    >>> model.feature_effects(X).loc[0, "feature"]
    'complaint_billing'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sada.pipeline.errors import InputError

__all__ = ["ChurnModel"]


class _Design:
    """Turns a feature frame into a standardised numeric matrix; remembers which column came from which feature."""

    def fit(self, X: pd.DataFrame, kinds: dict[str, str]) -> _Design:
        self.specs: list[tuple[str, str, Any]] = []  # (feature, kind of column, parameter)
        for col in X.columns:
            kind = kinds.get(col, "numeric")
            if kind == "categorical":
                vc = X[col].astype(object).where(X[col].notna(), "(missing)").value_counts()
                for level in vc.index[vc >= max(5, 0.005 * len(X))]:
                    self.specs.append((col, "level", level))
                continue
            v = pd.to_numeric(X[col], errors="coerce")
            if v.nunique(dropna=True) < 2:
                continue
            self.specs.append((col, "value", float(v.median())))
            if kind == "numeric" and v.min() >= 0 and v.nunique() > 10:
                self.specs.append((col, "log1p", float(v.median())))
        raw = self._raw(X)
        self.mean = raw.mean(axis=0)
        self.std = raw.std(axis=0)
        self.std[self.std == 0] = 1.0
        return self

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        cols = []
        for feat, kind, par in self.specs:
            if kind == "level":
                cols.append((X[feat].astype(object).where(X[feat].notna(), "(missing)") == par).to_numpy(float))
            else:
                v = pd.to_numeric(X[feat], errors="coerce").fillna(par).to_numpy(float)
                cols.append(np.log1p(np.clip(v, 0, None)) if kind == "log1p" else v)
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        return (self._raw(X) - self.mean) / self.std

    @property
    def features(self) -> list[str]:
        return [f for f, _, _ in self.specs]


class ChurnModel:
    """Logistic regression with Platt calibration on out-of-fold scores; linear, so explainable.

    Args:
        C: Inverse L2 strength of the logistic regression.
        folds: Folds for the out-of-fold calibration scores.
        seed: Seed of the fold split.
        features: Use only these features (``None``: all).
    """

    def __init__(self, C: float = 0.5, folds: int = 5, seed: int = 0, features: list[str] | None = None) -> None:
        self.C, self.folds, self.seed, self.only = C, folds, seed, features

    def _lr(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, solver="newton-cholesky", max_iter=200)

    def fit(self, X: pd.DataFrame, y: Any, kinds: dict[str, str]) -> ChurnModel:
        """Fit on features ``X`` and 0/1 labels ``y``; ``kinds`` maps features to numeric/binary/categorical."""
        with threadpool_limits(1):  # small problems: BLAS threads only contend (and are slower)
            return self._fit(X, y, kinds)

    def _fit(self, X: pd.DataFrame, y: Any, kinds: dict[str, str]) -> ChurnModel:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        X = X[self.only] if self.only is not None else X
        y = np.asarray(y, dtype=int)
        self.columns = list(X.columns)
        self.design = _Design().fit(X, kinds)
        Z = self.design.transform(X)
        oof = np.zeros(len(y))
        if Z.shape[1] == 0:
            raise InputError("expected at least one usable feature, found none (every column is constant or "
                             "missing); check the customer file's columns")
        folds = min(self.folds, int(np.bincount(y).min()))
        if folds >= 2:
            for tr, te in StratifiedKFold(folds, shuffle=True, random_state=self.seed).split(Z, y):
                oof[te] = self._lr().fit(Z[tr], y[tr]).decision_function(Z[te])
            platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof[:, None], y)
            self.slope, self.offset = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        else:
            self.slope, self.offset = 1.0, 0.0
        self.lr = self._lr().fit(Z, y)
        return self

    def log_odds(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated log-odds of churn."""
        z = self.lr.decision_function(self.design.transform(X[self.columns]))
        return self.slope * z + self.offset

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities in [0, 1]."""
        return 1.0 / (1.0 + np.exp(-self.log_odds(X)))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per customer and feature: contribution to the calibrated log-odds versus the average customer."""
        Z = self.design.transform(X[self.columns])
        parts = Z * (self.lr.coef_[0] * self.slope)
        out = pd.DataFrame(parts, index=X.index, columns=range(Z.shape[1]))
        return out.T.groupby(np.array(self.design.features)).sum().T.reindex(columns=self.columns, fill_value=0.0)

    def feature_effects(self, X: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
        """Per design column: calibrated log-odds per unit of the raw value, odds ratio and a Wald interval.

        Args:
            X: The frame the model was fitted on (its rows give the Fisher information).
            level: Confidence level of the interval.

        The covariance is the inverse of the penalised Fisher information at the fit.
        """
        from scipy.stats import norm

        Zfit = self.design.transform(X[self.columns])
        Z = np.column_stack([np.ones(len(Zfit)), Zfit])
        p = 1 / (1 + np.exp(-(Zfit @ self.lr.coef_[0] + self.lr.intercept_[0])))
        H = (Z * (p * (1 - p))[:, None]).T @ Z
        H[1:, 1:] += np.eye(Z.shape[1] - 1) / self.C
        se = np.sqrt(np.clip(np.diag(np.linalg.pinv(H))[1:], 0, None))
        zq = float(norm.ppf(0.5 + level / 2))
        rows = []
        for j, (feat, kind, par) in enumerate(self.design.specs):
            per_unit = self.slope * self.lr.coef_[0, j] / self.design.std[j]
            half = abs(self.slope) * zq * se[j] / self.design.std[j]
            rows.append({"feature": feat if kind == "value" else f"{feat}={par}" if kind == "level" else f"log1p({feat})",
                         "log_odds_per_unit": per_unit, "odds_ratio": math.exp(per_unit),
                         "or_lower": math.exp(per_unit - half), "or_upper": math.exp(per_unit + half)})
        return pd.DataFrame(rows)


