"""Logistic-regression fits behind every head: the one place that calls scikit-learn's ``LogisticRegression``.

* :func:`fit_logistic` - the fit itself (coefficients, intercepts, classes);
* :func:`fit_binary_logistic` - one weight row and bias (the theme heads, the partial-label views);
* :func:`fit_softmax_head` - a multinomial :class:`~sada.models.heads.LinearHead` (the sentiment stacker);
* :func:`standardise_columns` - the centring and scaling dense features get first.

Example:
    >>> x = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> w, b = fit_binary_logistic(x, np.array([0, 0, 1, 1]), c=1.0, seed=0)
    >>> bool(w[0] > 0), fit_binary_logistic(x, np.array([1, 1, 1, 1]), c=1.0, seed=0)[1]
    (True, 30.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from sada.models.heads import LinearHead

__all__ = ["LogisticFit", "fit_logistic", "fit_binary_logistic", "fit_softmax_head", "standardise_columns",
           "unit_mean_weights"]


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic regression as arrays: ``coef`` ``(rows, d)``, ``intercept`` ``(rows,)``, ``classes``."""

    coef: np.ndarray
    intercept: np.ndarray
    classes: list[int]


def fit_logistic(x: np.ndarray | sp.spmatrix, y: np.ndarray, *, c: float, seed: int,
                 class_weight: str | None = None, max_iter: int = 2000,
                 sample_weight: np.ndarray | None = None) -> LogisticFit:
    """Fit scikit-learn's ``LogisticRegression`` (lbfgs) with inverse regularisation ``c``.

    Args:
        x: Features.
        y: Integer labels (at least two distinct values).
        c: Inverse regularisation strength.
        seed: Random state.
        class_weight: Passed to scikit-learn (``"balanced"`` or None).
        max_iter: Solver iterations.
        sample_weight: ``(n,)`` weight of each row in the loss (None: every row 1); the weights scale the data
            term against the regularisation, so a caller keeps their mean at 1 (:func:`unit_mean_weights`).
    """
    clf = LogisticRegression(C=c, max_iter=max_iter, random_state=seed, class_weight=class_weight)
    clf.fit(x, y, sample_weight=sample_weight)
    return LogisticFit(clf.coef_, clf.intercept_, [int(k) for k in clf.classes_])


def fit_binary_logistic(x: np.ndarray | sp.spmatrix, y: np.ndarray, c: float, seed: int,
                        class_weight: str | None = None, max_iter: int = 2000,
                        sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Weights and bias of a binary logistic regression; a constant label gives a constant logit (+-30).
    ``sample_weight`` weighs each row in the loss (:func:`fit_logistic`)."""
    if len(set(y.tolist())) < 2:
        return np.zeros(x.shape[1], dtype=np.float32), (30.0 if len(y) and y[0] == 1 else -30.0)
    fit = fit_logistic(x, y, c=c, seed=seed, class_weight=class_weight, max_iter=max_iter,
                       sample_weight=sample_weight)
    return fit.coef[0].astype(np.float32), float(fit.intercept[0])


def unit_mean_weights(sources: np.ndarray, weights: dict[str, float] | None) -> np.ndarray | None:
    """Each row's weight: its source's weight in ``weights`` (1 for a source not named), scaled to mean 1 over
    the rows, so that weighing sources moves them against each other, not the data against the
    regularisation; None when no source is weighed (every row 1).

    Example:
        >>> unit_mean_weights(np.array(["a", "b", "b", "b"]), {"a": 4.0}).tolist()
        [2.2857142857142856, 0.5714285714285714, 0.5714285714285714, 0.5714285714285714]
        >>> unit_mean_weights(np.array(["a", "b"]), {}) is None
        True
    """
    if not weights:
        return None
    w = np.asarray([float(weights.get(str(s), 1.0)) for s in sources], dtype=np.float64)
    return w * (len(w) / w.sum())


def standardise_columns(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x - mean) / scale`` per column, with the mean and scale (``std + 1e-6``), in ``x``'s dtype.

    Example:
        >>> xs, mean, scale = standardise_columns(np.array([[1.0, 5.0], [3.0, 5.0]]))
        >>> xs.round(3).tolist(), mean.tolist()
        ([[-1.0, 0.0], [1.0, 0.0]], [2.0, 5.0])
    """
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-6
    return (x - mean) / scale, mean, scale


def fit_softmax_head(x: np.ndarray | sp.spmatrix, y: np.ndarray, n_classes: int, c: float, *,
                     standardise: bool = False, seed: int = 0, class_weight: str | None = None) -> LinearHead:
    """A multinomial logistic regression as a :class:`LinearHead` with a row for each of ``n_classes``.

    Classes absent from ``y`` get a zero row and bias -30 (never predicted); with two classes
    present scikit-learn keeps one row, which is split symmetrically between them.

    Example:
        >>> head = fit_softmax_head(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 2, 2]), 3, 1.0)
        >>> head.weight.shape, float(head.bias[1])
        ((3, 1), -30.0)
    """
    mean = scale = None
    if standardise:
        x, mean, scale = standardise_columns(np.asarray(x, dtype=np.float64))
    fit = fit_logistic(x, y, c=c, seed=seed, class_weight=class_weight)
    weight = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
    bias = np.full(n_classes, -30.0, dtype=np.float32)
    if len(fit.classes) == 2:  # scikit-learn keeps one row for two classes: expand symmetrically
        low, high = fit.classes
        weight[high], weight[low] = fit.coef[0] / 2, -fit.coef[0] / 2
        bias[high], bias[low] = fit.intercept[0] / 2, -fit.intercept[0] / 2
    else:
        for row, k in enumerate(fit.classes):
            weight[k] = fit.coef[row]
            bias[k] = fit.intercept[row]
    return LinearHead(weight, bias, None if mean is None else mean.astype(np.float32),
                      None if scale is None else scale.astype(np.float32))
