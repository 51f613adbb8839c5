"""Evaluation metrics of the classifier, in one place: sentiment and theme detection.

* Sentiment: :func:`classification_metrics` (accuracy, macro-F1, per-class F1, precision and recall,
  the negative class's precision and recall, ECE over the classes present, so a two-class set is
  scored as a two-class problem) and :func:`expected_calibration_error`.
* Themes (multi-label): :func:`f1_from_counts` is the one F1 formula; :func:`binary_f1` scores one
  column, :func:`theme_prf` gives rounded precision/recall/F1 per theme plus ``"micro"`` (the
  report form, also what the threshold and weight choices compare), and :func:`theme_detection_metrics`
  the unrounded summary of an evaluation (accuracy over known cells, macro- and micro-F1).

Only cells whose label is known (``mask``) count: a ParsiNLU review says nothing about billing, so
it is neither a positive nor a negative for it.

Example:
    >>> p = np.array([[0.9, 0.2], [0.6, 0.7], [0.3, 0.1], [0.8, 0.4]])
    >>> y = np.array([[1, 0], [0, 1], [0, 0], [1, 0]])
    >>> prf = theme_prf(p >= 0.5, y, None, ["a", "b"])
    >>> prf["a"]["precision"], prf["a"]["recall"], prf["b"]["f1"], prf["micro"]["f1"]
    (0.667, 1.0, 1.0, 0.857)
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from sada.models.heads import SENTIMENTS

__all__ = ["f1_from_counts", "binary_f1", "precision_recall_f1", "theme_prf", "theme_detection_metrics",
           "theme_set_matrix", "expected_calibration_error", "classification_metrics"]


def f1_from_counts(tp: float, fp: float, fn: float) -> float:
    """``2 tp / (2 tp + fp + fn)``; 0 when there is nothing to find and nothing found.

    The same value as scikit-learn's ``f1_score(..., zero_division=0)``, bit for bit.

    Example:
        >>> f1_from_counts(2, 1, 1), f1_from_counts(0, 0, 0)
        (0.6666666666666666, 0.0)
    """
    return 2 * tp / max(1.0, 2 * tp + fp + fn)


def _counts(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    p, t = np.asarray(predicted, dtype=bool), np.asarray(truth).astype(bool)
    return float((p & t).sum()), float((p & ~t).sum()), float((~p & t).sum())


def binary_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F1 of one 0/1 column.

    Example:
        >>> binary_f1(np.array([1, 0, 1, 1]), np.array([True, True, False, True]))
        0.6666666666666666
    """
    return f1_from_counts(*_counts(predicted, truth))


def precision_recall_f1(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Unrounded precision, recall, F1 and support of boolean predictions against 0/1 labels (any shape)."""
    tp, fp, fn = _counts(predicted, truth)
    return {"precision": tp / max(1.0, tp + fp), "recall": tp / max(1.0, tp + fn),
            "f1": f1_from_counts(tp, fp, fn), "support": int(tp + fn)}


def _known(truth: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return np.ones(np.shape(truth), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


def theme_prf(
    predicted: np.ndarray, truth: np.ndarray, mask: np.ndarray | None, theme_ids: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per theme, plus ``"micro"`` over all known cells, rounded to 3 digits.

    Args:
        predicted: ``(n, k)`` booleans (detected).
        truth: ``(n, k)`` 0/1 labels.
        mask: ``(n, k)`` True where the label is known (None: all known).
        theme_ids: Column names.

    Returns:
        ``{theme: {"precision", "recall", "f1", "support"}, ..., "micro": {...}}``.
    """
    predicted = np.asarray(predicted, dtype=bool)
    truth = np.asarray(truth)
    mask = _known(truth, mask)

    def rounded(m: dict[str, float]) -> dict[str, float]:
        return {k: (v if k == "support" else round(v, 3)) for k, v in m.items()}

    out = {tid: rounded(precision_recall_f1(predicted[mask[:, j], j], truth[mask[:, j], j]))
           for j, tid in enumerate(theme_ids)}
    out["micro"] = rounded(precision_recall_f1(predicted[mask], truth[mask]))
    return out


def theme_detection_metrics(predicted: np.ndarray, truth: np.ndarray, mask: np.ndarray | None,
                            theme_ids: Sequence[str]) -> dict[str, Any]:
    """How well themes were detected, over the known cells: what ``sada evaluate --task themes`` reports.

    Returns:
        ``accuracy`` (known cells), ``macro_f1`` (mean over the themes with a known positive),
        ``micro_f1``/``micro_precision``/``micro_recall`` (unrounded), and for the themes with a
        known positive ``per_class_f1`` (unrounded), ``per_theme`` (:func:`theme_prf`) and ``positives``.

    Example:
        >>> m = theme_detection_metrics(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]), None, ["a", "b"])
        >>> m["accuracy"], round(m["micro_f1"], 3), m["macro_f1"], list(m["per_class_f1"])
        (0.75, 0.667, 1.0, ['a'])
    """
    predicted = np.asarray(predicted, dtype=bool)
    truth = np.asarray(truth)
    known = _known(truth, mask)
    per = {tid: precision_recall_f1(predicted[known[:, j], j], truth[known[:, j], j])
           for j, tid in enumerate(theme_ids)}
    judged = [t for t in theme_ids if per[t]["support"] > 0]
    micro = precision_recall_f1(predicted[known], truth[known])
    report = theme_prf(predicted, truth, known, theme_ids)
    return {
        "accuracy": float((predicted == truth.astype(bool))[known].mean()) if known.any() else 0.0,
        "macro_f1": float(np.mean([per[t]["f1"] for t in judged])) if judged else 0.0,
        "micro_f1": micro["f1"],
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "per_class_f1": {t: per[t]["f1"] for t in judged},
        "per_theme": {t: report[t] for t in judged},
        "positives": {t: per[t]["support"] for t in judged},
    }


def theme_set_matrix(themes: Iterable[Iterable[str]], theme_ids: Sequence[str]) -> np.ndarray:
    """``(n, k)`` 0/1 from each row's theme ids (ids outside ``theme_ids`` are ignored).

    Example:
        >>> theme_set_matrix([{"billing"}, set(), ["app", "other"]], ["billing", "app"]).tolist()
        [[1, 0], [0, 0], [0, 1]]
    """
    rows = [set(t) for t in themes]
    return np.array([[t in s for t in theme_ids] for s in rows], dtype=int).reshape(len(rows), len(theme_ids))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class probability (equal-width bins).

    Example:
        >>> expected_calibration_error(np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0]))
        0.45
    """
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def classification_metrics(y: np.ndarray, probs: np.ndarray, labels: tuple[str, ...] = SENTIMENTS) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1 / precision / recall and ECE over the classes present in ``y``.

    Columns of ``probs`` for classes absent from ``y`` are dropped and the rest
    renormalised, so a two-class set is scored as a two-class problem.
    ``negative_precision`` and ``negative_recall`` (None when ``y`` has no negative) are the
    numbers a CX team reads first: of the items called negative, how many are; of the negative
    items, how many are caught.

    Example:
        >>> m = classification_metrics(np.array([0, 2, 2]), np.array([[.7, .2, .1], [.1, .1, .8], [.6, .1, .3]]))
        >>> round(m["accuracy"], 3), sorted(m["per_class_f1"]), m["n"]
        (0.667, ['negative', 'positive'], 3)
        >>> m["negative_precision"], m["negative_recall"]
        (0.5, 1.0)
    """
    present = sorted(set(int(v) for v in y))
    p = probs[:, present]
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    remap = {c: i for i, c in enumerate(present)}
    yy = np.asarray([remap[int(v)] for v in y])
    pred = p.argmax(axis=1)
    precision, recall, per_class, _ = precision_recall_fscore_support(
        yy, pred, labels=list(range(len(present))), average=None, zero_division=0)
    negative = labels.index("negative") if "negative" in labels else None
    return {
        "accuracy": float(accuracy_score(yy, pred)),
        "macro_f1": float(f1_score(yy, pred, average="macro", zero_division=0)),
        "per_class_f1": {labels[c]: float(f) for c, f in zip(present, per_class)},
        "per_class_precision": {labels[c]: float(v) for c, v in zip(present, precision)},
        "per_class_recall": {labels[c]: float(v) for c, v in zip(present, recall)},
        "negative_precision": float(precision[remap[negative]]) if negative in remap else None,
        "negative_recall": float(recall[remap[negative]]) if negative in remap else None,
        "ece": expected_calibration_error(p, yy),
        "n": int(len(yy)),
    }
