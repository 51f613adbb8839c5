"""Per-theme detection thresholds chosen on held-out labelled data (the F1 is :mod:`sada.models.metrics`'s).

A theme is detected when its blended probability reaches the theme's own
threshold. The thresholds are chosen by :func:`choose_thresholds` on held-out
predictions (out-of-fold predictions for the labelled training items and the
predictions for the corpus dev split, see :mod:`sada.models.theme_training`): for
each theme with at least :data:`MIN_HELD_OUT_POSITIVES` held-out positives, the
threshold on :data:`THRESHOLD_GRID` with the best F1; other themes get the
threshold that maximises the micro-F1 of all themes pooled.

Only cells whose label is known (``mask``) count: a ParsiNLU review says
nothing about billing, so it is neither a positive nor a negative for it.

Example:
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.2], [0.6, 0.7], [0.3, 0.1], [0.8, 0.4]])
    >>> y = np.array([[1, 0], [0, 1], [0, 0], [1, 0]])
    >>> best_f1_threshold(p[:, 0], y[:, 0])
    (0.8, 1.0)
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

import numpy as np

from sada.models.metrics import f1_from_counts

__all__ = ["THRESHOLD_GRID", "MIN_HELD_OUT_POSITIVES", "best_f1_threshold", "choose_thresholds"]

logger = logging.getLogger(__name__)

#: Candidate thresholds (probability of the blended theme score).
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
#: A theme needs this many held-out positives for a threshold of its own.
MIN_HELD_OUT_POSITIVES = 8


def best_f1_threshold(probs: np.ndarray, truth: np.ndarray, grid: np.ndarray = THRESHOLD_GRID) -> tuple[float, float]:
    """The threshold on ``grid`` with the best F1, and that F1.

    Ties go to the higher threshold (fewer detections for the same F1).

    Args:
        probs: Scores of the items, one theme.
        truth: 0/1 labels, same length.
        grid: Candidate thresholds.

    Returns:
        ``(threshold, f1)``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    truth = np.asarray(truth).astype(bool)
    best_t, best_f = float(grid[len(grid) // 2]), -1.0
    for t in grid:
        pred = probs >= t
        f = f1_from_counts(float((pred & truth).sum()), float((pred & ~truth).sum()), float((~pred & truth).sum()))
        if f >= best_f:
            best_t, best_f = float(t), f
    return best_t, max(best_f, 0.0)


def choose_thresholds(
    probs: np.ndarray,
    truth: np.ndarray,
    mask: np.ndarray,
    theme_ids: Sequence[str],
    min_positives: int = MIN_HELD_OUT_POSITIVES,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Per-theme thresholds from held-out predictions.

    Args:
        probs: ``(n, k)`` held-out theme probabilities.
        truth: ``(n, k)`` 0/1 labels.
        mask: ``(n, k)`` True where the label is known.
        theme_ids: Column names.
        min_positives: Held-out positives a theme needs for its own threshold.

    Returns:
        ``(thresholds, info)``: theme id -> threshold, and per theme the number of
        held-out positives and known labels and where its threshold came from
        (``"own"`` or ``"pooled"``), plus the pooled threshold.
    """
    mask = np.asarray(mask, dtype=bool)
    pooled, pooled_f1 = best_f1_threshold(probs[mask], truth[mask])
    thresholds: dict[str, float] = {}
    info: dict[str, Any] = {"pooled_threshold": pooled, "pooled_f1": round(pooled_f1, 4), "themes": {}}
    for j, tid in enumerate(theme_ids):
        rows = mask[:, j]
        n_pos = int(truth[rows, j].sum())
        if n_pos >= min_positives and n_pos < int(rows.sum()):
            t, f = best_f1_threshold(probs[rows, j], truth[rows, j])
            source = "own"
        else:
            t, f, source = pooled, float("nan"), "pooled"
        thresholds[tid] = t
        info["themes"][tid] = {"threshold": t, "held_out_positives": n_pos, "held_out_known": int(rows.sum()),
                               "source": source}
        logger.info("theme %s: threshold %.2f (%s, %d held-out positives, F1 %.3f)", tid, t, source, n_pos, f)
    return thresholds, info
