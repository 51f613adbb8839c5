"""The classifier's evaluation metrics (sada.models.metrics): one F1, the same numbers as scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from sada.models.metrics import (binary_f1, classification_metrics, f1_from_counts, theme_detection_metrics,
                                 theme_prf, theme_set_matrix)


@pytest.mark.parametrize("seed, rate", [
    (0, 0.5),     # balanced columns
    (1, 0.05),    # rare positives, some columns with none
    (2, 0.0),     # nothing to find and nothing found: 0, not a division by zero
])
def test_f1_is_bit_for_bit_scikit_learns(seed: int, rate: float) -> None:
    """sada reproduce's tables were printed with scikit-learn's F1: the one formula must give the same bits."""
    rng = np.random.default_rng(seed)
    truth = (rng.random((300, 6)) < rate).astype(int)
    guess = rng.random((300, 6)) < (rate or 0.0)
    for j in range(truth.shape[1]):
        assert binary_f1(truth[:, j], guess[:, j]) == float(f1_score(truth[:, j], guess[:, j], zero_division=0))
    assert theme_detection_metrics(guess, truth, None, list("abcdef"))["micro_f1"] == float(
        f1_score(truth.ravel(), guess.ravel(), zero_division=0))


@pytest.mark.parametrize("tp, fp, fn, expected", [
    (0, 0, 0, 0.0),     # an empty column
    (1, 0, 0, 1.0),     # perfect
    (1, 1, 0, 2 / 3),   # a false alarm
    (0, 3, 2, 0.0),     # nothing right
])
def test_f1_from_counts(tp: int, fp: int, fn: int, expected: float) -> None:
    assert f1_from_counts(tp, fp, fn) == pytest.approx(expected)


def test_unknown_cells_count_for_nothing() -> None:
    """A ParsiNLU review says nothing about billing: masked cells are neither hits nor misses."""
    truth = np.array([[1, 0], [0, 1], [1, 0]])
    guess = np.array([[True, True], [False, False], [True, True]])
    mask = np.array([[True, False], [True, True], [True, False]])
    m = theme_detection_metrics(guess, truth, mask, ["delivery", "billing"])
    assert m["accuracy"] == 0.75                                # 3 of the 4 known cells
    assert m["per_class_f1"] == {"delivery": 1.0, "billing": 0.0}
    assert m["macro_f1"] == 0.5 and m["positives"] == {"delivery": 2, "billing": 1}
    assert theme_prf(guess, truth, mask, ["delivery", "billing"])["billing"] == {
        "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


def test_macro_f1_leaves_out_themes_without_a_known_positive() -> None:
    truth = theme_set_matrix([{"app"}, set(), {"app"}], ["app", "trust"])
    guess = theme_set_matrix([{"app", "trust"}, set(), {"app"}], ["app", "trust"]).astype(bool)
    m = theme_detection_metrics(guess, truth, None, ["app", "trust"])
    assert m["macro_f1"] == 1.0 and list(m["per_class_f1"]) == ["app"]   # trust: no positive, not averaged in
    assert m["micro_precision"] == 2 / 3 and m["micro_recall"] == 1.0


def test_two_class_file_is_scored_as_two_classes() -> None:
    y = np.array([0, 2, 2, 0])
    probs = np.array([[0.5, 0.4, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    m = classification_metrics(y, probs)
    assert set(m["per_class_f1"]) == {"negative", "positive"}  # neutral dropped, probabilities renormalised
    assert m["accuracy"] == 1.0 and m["n"] == 4                 # row 2: positive 0.3 beats negative 0.2


@pytest.mark.parametrize("y, pred, precision, recall", [
    # a polite complaint read as positive: recall falls, precision holds
    ([0, 0, 0, 1, 2], [0, 0, 2, 1, 2], 1.0, 2 / 3),
    # plain descriptions read as negative: precision falls, recall holds
    ([0, 1, 1, 2, 2], [0, 0, 0, 2, 2], 1 / 3, 1.0),
    # no item called negative: precision 0 (not a division by zero), recall 0
    ([0, 1, 2], [1, 1, 2], 0.0, 0.0),
    # two-class set (no neutral): the neutral column is dropped before the argmax
    ([0, 0, 2, 2], [0, 1, 2, 2], 1.0, 1.0),
    # no negative in the truth: nothing to report, None (not 0)
    ([1, 2, 2], [0, 2, 2], None, None),
])
def test_negative_precision_and_recall(y: list[int], pred: list[int], precision, recall) -> None:
    """Negative P/R are scikit-learn's per-class numbers for the negative class, over the classes present."""
    probs = np.full((len(y), 3), 0.1)
    probs[np.arange(len(y)), pred] = 0.8
    if 1 not in y:  # the two-class case: the runner-up must decide, so make the true class second
        probs[np.arange(len(y)), y] = np.maximum(probs[np.arange(len(y)), y], 0.15)
    m = classification_metrics(np.array(y), probs)
    if precision is None:
        assert m["negative_precision"] is None and m["negative_recall"] is None
        assert "negative" not in m["per_class_precision"]
        return
    assert m["negative_precision"] == pytest.approx(precision)
    assert m["negative_recall"] == pytest.approx(recall)
    assert m["per_class_precision"]["negative"] == m["negative_precision"]
    assert m["per_class_recall"]["negative"] == m["negative_recall"]
