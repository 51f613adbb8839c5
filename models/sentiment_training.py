"""Train the sentiment head: two partial-label views, stacked on their out-of-fold predictions.

Each view (TF-IDF, encoder vectors) is two logistic regressions (:func:`fit_polar_view`):
*subjectivity* (neutral vs polar), trained only on sources that label neutral at all, and
*polarity* (positive vs negative), trained on every polar row, two-class sets included. The
stacker, a multinomial logistic regression on the views' 5-fold out-of-fold log-probabilities,
both ensembles and calibrates them. :func:`fit_sentiment_head` returns the head and, apart from
it, what training measured (:class:`SentimentFit`): the inference object carries no training results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import StratifiedKFold

from sada.models.heads import MIN_CALIBRATION_ROWS, SENTIMENTS, LinearHead, SentimentHead, softmax, view_proba
from sada.models.logistic import fit_binary_logistic, fit_softmax_head, standardise_columns
from sada.models.metrics import classification_metrics

__all__ = ["SentimentFit", "fit_polar_view", "fit_sentiment_head", "stacker_rows", "NEGATIVE_WEIGHTS",
           "choose_negative_weight", "weigh_negative"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentimentFit:
    """What :func:`fit_sentiment_head` returns.

    Attributes:
        head: The fitted head (views trained on every row, the stacker on ``stack_rows``).
        oof_probs: ``(n, 3)`` stacked probabilities of the out-of-fold view predictions.
        oof_views: Per view (in the order tfidf, emb), its ``(n, 3)`` out-of-fold probabilities.
        view_names: The names of ``oof_views``.
        stack_rows: ``(n,)`` True for the rows the stacker was fitted on.
        negative_rule: The weight on P(negative) (:func:`choose_negative_weight`) and what each weight scored.
    """

    head: SentimentHead
    oof_probs: np.ndarray
    oof_views: list[np.ndarray]
    view_names: list[str]
    stack_rows: np.ndarray
    negative_rule: dict[str, Any] | None = None


#: The weights on P(negative) that :func:`choose_negative_weight` tries (1.0: the most probable class).
NEGATIVE_WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0)


def weigh_negative(probs: np.ndarray, weight: float) -> np.ndarray:
    """``probs`` with P(negative) multiplied by ``weight`` and renormalised: the decision of a cost ``weight``
    on missing a negative (argmax of the result), and what a stacker bias raised by ``log(weight)`` gives.

    Example:
        >>> weigh_negative(np.array([[0.3, 0.4, 0.3]]), 2.0).round(3).tolist()
        [[0.462, 0.308, 0.231]]
    """
    out = np.asarray(probs, dtype=np.float64).copy()
    out[:, SENTIMENTS.index("negative")] *= weight
    return out / out.sum(axis=1, keepdims=True)


def choose_negative_weight(probs: np.ndarray, y: np.ndarray, groups: np.ndarray,
                           weights: tuple[float, ...] = NEGATIVE_WEIGHTS, fixed: float | None = None) -> dict[str, Any]:
    """The weight on P(negative) with the best macro-F1 averaged over ``groups`` (sources, so that no single
    domain decides), on validation predictions; ties go to the weight nearest 1. ``fixed`` takes that weight
    instead (what the others scored is still reported).

    Returns:
        ``weight``, and per weight tried its ``mean_macro_f1`` and mean negative precision, recall and F1.

    Example:
        >>> p = np.array([[0.45, 0.55, 0.0], [0.2, 0.8, 0.0], [0.1, 0.0, 0.9]] * 4)
        >>> choose_negative_weight(p, np.array([0, 1, 2] * 4), np.array(["a"] * 12), (1.0, 1.5))["weight"]
        1.5
    """
    scores = {}
    for w in weights:
        per = [classification_metrics(y[groups == g], weigh_negative(probs[groups == g], w))
               for g in sorted(set(groups.tolist()))]
        neg = [m for m in per if m.get("negative_precision") is not None]
        scores[w] = {"mean_macro_f1": round(float(np.mean([m["macro_f1"] for m in per])), 4),
                     "negative_precision": round(float(np.mean([m["negative_precision"] for m in neg])), 4) if neg else None,
                     "negative_recall": round(float(np.mean([m["negative_recall"] for m in neg])), 4) if neg else None,
                     "negative_f1": round(float(np.mean([m["per_class_f1"].get("negative", 0.0) for m in neg])), 4)
                     if neg else None}
    best = max(weights, key=lambda w: (scores[w]["mean_macro_f1"], -abs(np.log(w)))) if fixed is None else fixed
    return {"weight": float(best), "chosen": "given" if fixed is not None else "validation",
            "scores": {str(w): v for w, v in scores.items()}}


def fit_polar_view(x: np.ndarray | sp.spmatrix, y: np.ndarray, full: np.ndarray, c: float,
                   standardise: bool = False, seed: int = 0, sample_weight: np.ndarray | None = None) -> LinearHead:
    """A partial-label sentiment view: rows (subjectivity, polarity) of a 2-row :class:`LinearHead`.

    Args:
        x: Features.
        y: Labels (index into :data:`SENTIMENTS`).
        full: True for rows whose source labels neutral (they train subjectivity).
        c: Inverse regularisation strength of both regressions.
        standardise: Centre and scale dense features first.
        seed: Random state.
        sample_weight: ``(n,)`` weight of each row in both regressions (None: every row 1).
    """
    mean = scale = None
    if standardise:
        x, mean, scale = standardise_columns(np.asarray(x, dtype=np.float64))
    neutral, positive = SENTIMENTS.index("neutral"), SENTIMENTS.index("positive")
    polar = y != neutral
    sw = (lambda rows: None) if sample_weight is None else (lambda rows: np.asarray(sample_weight)[rows])
    w_s, b_s = fit_binary_logistic(x[np.flatnonzero(full)], (y[full] == neutral).astype(int), c, seed,
                                   sample_weight=sw(full))
    w_p, b_p = fit_binary_logistic(x[np.flatnonzero(polar)], (y[polar] == positive).astype(int), c, seed,
                                   sample_weight=sw(polar))
    return LinearHead(np.vstack([w_s, w_p]).astype(np.float32), np.asarray([b_s, b_p], dtype=np.float32),
                      None if mean is None else mean.astype(np.float32),
                      None if scale is None else scale.astype(np.float32))


def stacker_rows(y: np.ndarray, full: np.ndarray, stack_rows: np.ndarray | None) -> np.ndarray:
    """The rows the stacker is fitted on: ``stack_rows`` within ``full``, or every ``full`` row when too few.

    Example:
        >>> y = np.array([0, 1, 2] * 30)
        >>> int(stacker_rows(y, np.ones(90, bool), np.arange(90) < 60).sum())  # enough rows: as asked
        60
        >>> int(stacker_rows(y, np.ones(90, bool), np.arange(90) < 10).sum())  # too few: every row
        90
    """
    rows = np.ones(len(y), dtype=bool) if stack_rows is None else np.asarray(stack_rows, dtype=bool)
    if (rows & full).any():
        rows = rows & full
    if rows.sum() < MIN_CALIBRATION_ROWS or len(set(y[rows].tolist())) < 2:
        logger.warning("sentiment: %d stacker rows are too few; fitting the stacker on every row with "
                       "its labels' sources", int(rows.sum()))
        rows = full if len(set(y[full].tolist())) >= 2 else np.ones(len(y), dtype=bool)
    return rows


def _out_of_fold(views: list[tuple[str, Any, float, bool]], y: np.ndarray, full: np.ndarray, folds: int,
                 seed: int, sample_weight: np.ndarray | None = None) -> list[np.ndarray]:
    """Each view's ``(n, 3)`` out-of-fold probabilities (stratified folds; rows weighed by ``sample_weight``)."""
    oof = [np.zeros((len(y), len(SENTIMENTS))) for _ in views]
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (tr, te) in enumerate(skf.split(np.zeros(len(y)), y)):
        for v, (_, x, c, std) in enumerate(views):
            head = fit_polar_view(x[tr], y[tr], full[tr], c, standardise=std, seed=seed,
                                  sample_weight=None if sample_weight is None else sample_weight[tr])
            oof[v][te] = view_proba(head, x[te])
        logger.info("sentiment: fold %d/%d done", fold + 1, folds)
    return oof


def fit_sentiment_head(
    x_tfidf: sp.spmatrix | None,
    x_emb: np.ndarray | None,
    y: np.ndarray,
    *,
    full: np.ndarray | None = None,
    stack_rows: np.ndarray | None = None,
    c_tfidf: float = 10.0,
    c_emb: float = 0.5,
    folds: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
    negative_weight: float | None = None,
    sample_weight: np.ndarray | None = None,
) -> SentimentFit:
    """Train both views (partial labels), then the stacker on their out-of-fold predictions.

    Args:
        x_tfidf: TF-IDF matrix or None to skip that view.
        x_emb: Encoder vectors or None to skip that view.
        y: Integer labels (index into :data:`SENTIMENTS`).
        full: True for rows whose source labels neutral at all (default: every row). Only
            they train the views' subjectivity and the stacker; the others teach polarity.
        stack_rows: Rows the stacker is fitted on (default: all); with a fine-tuned encoder,
            the calibration rows it never saw. Intersected with ``full`` when any such row
            exists (:func:`stacker_rows`).
        c_tfidf: Regularisation of the TF-IDF view.
        c_emb: Regularisation of the encoder view.
        folds: Folds for the out-of-fold predictions.
        seed: Random state (fold split and solvers).
        groups: Each row's source: with it, the weight on P(negative) is chosen on the stacker rows' predictions
            (:func:`choose_negative_weight`) and put into the stacker's negative bias; None keeps weight 1.
        negative_weight: This weight on P(negative) instead of the chosen one (None: choose).
        sample_weight: ``(n,)`` weight of each row in the views' regressions (``sada train --source-weight``;
            :func:`sada.models.logistic.unit_mean_weights`); the stacker weighs its rows equally.

    Returns:
        The head with its out-of-fold predictions and stacker rows (:class:`SentimentFit`).
    """
    full = np.ones(len(y), dtype=bool) if full is None else np.asarray(full, dtype=bool)
    rows = stacker_rows(y, full, stack_rows)
    views: list[tuple[str, Any, float, bool]] = []
    if x_tfidf is not None:
        views.append(("tfidf", x_tfidf, c_tfidf, False))
    if x_emb is not None:
        views.append(("emb", x_emb, c_emb, True))
    oof = _out_of_fold(views, y, full, folds, seed, sample_weight)
    features = SentimentHead.view_features(oof)
    stack = fit_softmax_head(features[rows], y[rows], len(SENTIMENTS), 1.0, seed=seed)
    fitted = {name: fit_polar_view(x, y, full, c, standardise=std, seed=seed, sample_weight=sample_weight)
              for name, x, c, std in views}
    probs = softmax(stack.logits(features))
    rule = None
    if groups is not None:
        rule = choose_negative_weight(probs[rows], y[rows], np.asarray(groups)[rows], fixed=negative_weight)
        stack.bias[SENTIMENTS.index("negative")] += np.float32(np.log(rule["weight"]))
        probs = softmax(stack.logits(features))
        logger.info("sentiment: weight on P(negative) %.2f (%s)", rule["weight"], rule["scores"])
    head = SentimentHead(fitted.get("tfidf"), fitted.get("emb"), stack)
    return SentimentFit(head, probs, oof, [name for name, *_ in views], rows, rule)
