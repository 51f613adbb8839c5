"""A few dozen labelled texts sharpen a team's own themes: ``sada themes fit``.

Starting from the shipped classifier adapted to the taxonomy (:meth:`Classifier.with_taxonomy`):

* each theme that is new to the model and has at least :data:`MIN_POSITIVES` labelled positives gets
  a logistic regression on the encoder's vectors, blended with its zero-shot meaning score (with the
  plain encoder's evidence, :mod:`sada.models.taxonomy_head`) by how many positives it has
  (``n / (n + 10)``, at most 0.85, as for the trained themes), then with its
  lexical evidence: the seeds' lexical row of zero-shot (:mod:`sada.models.taxonomy_head`), or, when it
  scores a higher F1 out of fold (each fold at the threshold the other folds choose), a logistic
  regression on the classifier's TF-IDF features of the labelled texts (``C`` = :data:`FIT_LEX_C`, the
  trained themes' lexical heads'), blended half and half (:data:`FIT_LEX_WEIGHT`): the words a team's
  customers use can say more than the few the file lists, but with a handful of examples the seeds
  often say more. A threshold is chosen on out-of-fold predictions of the labelled texts (the best F1;
  :func:`best_f1_threshold`);
* themes without enough examples stay zero-shot, and keep competing with the item's other themes
  (:meth:`ThemeHead.compete`, :mod:`sada.models.taxonomy_head`); a fitted theme no longer competes: its
  threshold is chosen on its labels;
* themes the model was trained on keep their trained heads unless the team's texts say otherwise:
  with :data:`MIN_POSITIVES` labelled positives, the supervised head is fitted again on them (a
  logistic regression as for a new theme, weighted ``max(shipped, n / (n + 10))``, the rest of the
  shipped blend kept) when that raises the cross-validated F1 on those texts by more than
  :data:`REFIT_MARGIN` over the shipped head (both out of fold, each fold at the threshold the other
  folds choose, so neither side is scored at a threshold chosen on its own answers);
  else their threshold alone is chosen again on the team's texts (out of fold, then on all of them)
  when that raises the cross-validated F1, and otherwise they stay as shipped. A team's "quality" or
  "delivery" often means something else than the shipped theme of that id (ParsiNLU's aspects:
  16-shot micro-F1 0.639 -> 0.704, 32-shot 0.648 -> 0.666, mean of 3 draws).

The cross-validated precision, recall and F1 per theme (out-of-fold, at the chosen threshold) and
those of the zero-shot head on the same texts are returned for the model card.

Measured (mean of 3 draws of examples, seeds 0-2): 8/16/32-shot micro-F1 0.659/0.704/0.672 on ParsiNLU's test
reviews, 0.649/0.638/0.656 on SemEval's held-out hotel sentences, 0.602/0.629/0.656 leaving one corpus theme out
(test split). Tried and not kept, chosen on the corpus *train* split (each theme left out in turn, examples from
one half, scored on the other; 8/16/32-shot 0.616/0.642/0.675 with this fit): the blend weights of a new theme
chosen out of fold (nested F1, regression weight 0/.25/.5/.75/.85/1 by lexical weight 0/.25/.5/.75, seeds' or
fitted words, from 16 positives on): 0.610/0.627/0.678 (test split: 0.598/0.616/0.648), the choice too noisy on a
few dozen positives; the regression's ``C`` 0.02 or 0.2: 0.623/0.643/0.680 and 0.619/0.646/0.681, within the
draws' noise. A regression on the plain encoder's vectors too, or a stacker over the parts' logits, gained about
0.01 at 32 shots (one draw) but a fitted theme's supervised row reads the fine-tuned vectors only
(:class:`ThemeHead`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from sada.models.artifact_config import ArtifactConfig, TaxonomyFacts
from sada.models.classifier import Classifier
from sada.models.heads import LinearHead, ThemeHead, sigmoid
from sada.models.logistic import fit_binary_logistic
from sada.models.metrics import binary_f1, theme_prf
from sada.models.thresholds import THRESHOLD_GRID, best_f1_threshold
from sada.pipeline.errors import InputError
from sada.pipeline.taxonomy import Taxonomy, parse_theme_cell

__all__ = ["FEW_SHOT_METHOD", "FIT_LEX_C", "FIT_LEX_WEIGHT", "MIN_POSITIVES", "REFIT_MARGIN", "FewShotResult",
           "few_shot_card", "fit_themes", "fitted_model_version", "label_matrix", "read_examples"]

logger = logging.getLogger(__name__)

MIN_POSITIVES = 3
MAX_FOLDS = 5
_C = 0.05  # the trained themes' regularisation (models/theme_training.py)
#: How much a trained theme's cross-validated F1 must rise before its supervised head is fitted again.
REFIT_MARGIN = 0.0
#: A new theme's TF-IDF logistic regression: inverse regularisation (the trained themes' lexical heads')
#: and its weight in the blend (a zero-shot theme's lexical weight).
FIT_LEX_C = 5.0
FIT_LEX_WEIGHT = 0.5
#: Version of the few-shot fit, in the fitted model version (``+fit<N>-``); bump it whenever the fit changes.
#: 1: encoder regression + seeds' lexical row; 2: or a TF-IDF regression in its place, chosen out of fold.
FEW_SHOT_METHOD = 2


@dataclass(frozen=True)
class FewShotResult:
    """What :func:`fit_themes` returns: the classifier and its cross-validated scores."""

    classifier: Classifier
    fitted: list[str]                      # themes that got a supervised head
    zero_shot: list[str]                   # new themes left zero-shot (too few examples)
    cross_validated: dict[str, dict[str, float]]  # theme -> P/R/F1/support, out of fold; plus "micro"
    zero_shot_scores: dict[str, dict[str, float]]  # the zero-shot head on the same texts
    n: int


def label_matrix(labels: Sequence[str], taxonomy: Taxonomy) -> np.ndarray:
    """``(n, k)`` 0/1 from ``themes`` cells (ids joined by ``;``; empty: none).

    >>> from sada.pipeline.taxonomy import Taxonomy, Theme
    >>> t = Taxonomy((Theme("atm", {"en": "ATMs"}), Theme("cards", {"en": "Cards"})), "x")
    >>> label_matrix(["atm", "atm; cards", ""], t).tolist()
    [[1, 0], [1, 1], [0, 0]]

    Raises:
        InputError: a cell names a theme the taxonomy does not have.
    """
    ids = taxonomy.ids
    y = np.zeros((len(labels), len(ids)), dtype=np.int64)
    unknown: set[str] = set()
    for i, cell in enumerate(labels):
        for tid in parse_theme_cell(cell):
            if tid in ids:
                y[i, ids.index(tid)] = 1
            else:
                unknown.add(tid)
    if unknown:
        raise InputError(f"expected theme ids of {taxonomy.source} in the themes column, found "
                         f"{', '.join(sorted(unknown))}; fix the labels or add the themes to the taxonomy")
    return y


def _folds(n: int, n_pos: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.permutation(np.arange(n) % max(2, min(MAX_FOLDS, n_pos)))


def fit_themes(base: Classifier, taxonomy: Taxonomy, texts: Sequence[str], languages: Sequence[str],
               labels: Sequence[str], seed: int = 0) -> FewShotResult:
    """Fit the new themes of ``taxonomy`` on labelled texts (see the module docstring).

    Raises:
        InputError: no labelled text, or labels naming themes the taxonomy does not have.
    """
    if not len(texts):
        raise InputError("expected labelled texts (a text and a themes column), found none")
    y = label_matrix(labels, taxonomy)
    classifier = base.with_taxonomy(taxonomy)
    head = classifier.themes
    assert head is not None and head.supervised is not None
    x_tfidf, x = classifier.features(list(texts), list(languages))  # with the plain vectors when zero-shot reads them
    x_tfidf = None if x_tfidf is None else head.lexical_columns(x_tfidf)  # the theme vocabulary's columns
    xs = (x[:, : head.prototypes.shape[1]] - head.supervised.mean) / head.supervised.scale
    encoder_part, lexical_part = head.parts(x, x_tfidf)
    # new themes: zero-shot, competing with the item's other themes; trained ones: their shipped blend
    zero_shot = head.compete(head.combine(encoder_part, lexical_part))
    thresholds = dict(classifier.config.theme_thresholds or {})
    zero_shot_predicted = zero_shot >= head.threshold[None, :]
    predicted_oof = zero_shot_predicted.copy()
    fitted, left, rethresholded, words = [], [], [], []
    weight, bias = head.supervised.weight.copy(), head.supervised.bias.copy()
    sup_weight = head.sup_weight.copy()
    lex_rows, lex_bias, lex_weight = _lexical_arrays(head)
    for j, tid in enumerate(taxonomy.ids):
        n_pos = int(y[:, j].sum())
        if tid in base.theme_ids and MIN_POSITIVES <= n_pos < len(y):
            refit = _refit_trained(head, x, xs, y[:, j], lexical_part, zero_shot[:, j], predicted_oof[:, j],
                                   thresholds[tid], j, seed)
            if refit is not None:
                (weight[j], bias[j]), sup_weight[j], thresholds[tid], predicted_oof[:, j] = refit
                fitted.append(tid)
                continue
        if tid in base.theme_ids:
            if n_pos >= MIN_POSITIVES and _rethreshold(zero_shot[:, j], y[:, j], _folds(len(y), n_pos, seed),
                                                       thresholds, tid, predicted_oof[:, j]):
                rethresholded.append(tid)
            continue
        if n_pos < MIN_POSITIVES or n_pos == len(y):
            left.append(tid)
            continue
        fit = _fit_new_theme(head, xs, x_tfidf, y[:, j], encoder_part[:, j], lexical_part, j, seed)
        (weight[j], bias[j]), sup_weight[j], thresholds[tid], predicted_oof[:, j] = fit.supervised, fit.weight, \
            fit.threshold, fit.predicted
        if fit.lexical is not None:
            lex_rows[j], lex_bias[j] = fit.lexical
            lex_weight[j] = FIT_LEX_WEIGHT
            words.append(tid)
        fitted.append(tid)
    head = replace(head, supervised=LinearHead(weight, bias, head.supervised.mean, head.supervised.scale),
                   sup_weight=sup_weight, lex_weight=lex_weight,
                   lexical=replace(head.lexical, weight=lex_rows, bias=lex_bias) if head.lexical is not None else None,
                   threshold=np.asarray([thresholds[t] for t in taxonomy.ids], np.float32),
                   competing=np.asarray([c for c in head.competing if taxonomy.ids[c] not in fitted], np.int64))
    facts = {"zero_shot": tuple(left), "few_shot": tuple(fitted), "thresholds_rechosen": tuple(rethresholded),
             "labelled_texts": len(y), "lexical_fitted": tuple(words)}
    fitted_classifier = classifier.with_themes(head, _fitted_config(classifier, thresholds, texts, labels, facts))
    logger.info("themes fitted on %d labelled texts: %s; zero-shot: %s", len(y), ", ".join(fitted) or "none",
                ", ".join(left) or "none")
    return FewShotResult(fitted_classifier, fitted, left, theme_prf(predicted_oof, y, None, taxonomy.ids),
                         theme_prf(zero_shot_predicted, y, None, taxonomy.ids), len(y))


def _fitted_config(classifier: Classifier, thresholds: dict[str, float], texts: Sequence[str],
                   labels: Sequence[str], facts: dict[str, object]) -> ArtifactConfig:
    """``classifier``'s configuration after a fit: the chosen thresholds, the fitted model version and ``facts``
    (:class:`TaxonomyFacts` fields: which themes were fitted, left zero-shot or re-thresholded) over the
    taxonomy facts it had."""
    config = classifier.config
    return replace(config, theme_thresholds=thresholds, taxonomy=replace(config.taxonomy or TaxonomyFacts(), **facts),
                   model_version=fitted_model_version(classifier.model_version, texts, labels))


@dataclass(frozen=True)
class _NewThemeFit:
    """A new theme's fitted parts: supervised row, its blend weight, lexical row (or None), threshold, and the
    out-of-fold predictions on the labelled texts."""

    supervised: tuple[np.ndarray, float]
    weight: float
    lexical: tuple[np.ndarray, float] | None
    threshold: float
    predicted: np.ndarray


def _lexical_arrays(head: ThemeHead) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Copies of the lexical head's rows, biases and blend weights (empty when the head has no lexical part)."""
    if head.lexical is None:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.float32), head.lex_weight.copy()
    return head.lexical.weight.copy(), head.lexical.bias.copy(), head.lex_weight.copy()


def _fit_new_theme(head: ThemeHead, xs: np.ndarray, x_tfidf: object, truth: np.ndarray, zero_shot: np.ndarray,
                   lexical_part: np.ndarray | None, j: int, seed: int) -> _NewThemeFit:
    """A new theme fitted on its labels (module docstring): the encoder's logistic regression blended with
    the zero-shot score, then with the seeds' lexical row or, when that does better out of fold, a logistic
    regression on the TF-IDF features of the labelled texts; the threshold with the best out-of-fold F1."""
    n_pos = int(truth.sum())
    w = min(0.85, n_pos / (n_pos + 10.0))
    words = x_tfidf is not None and head.lexical is not None
    folds = _folds(len(truth), n_pos, seed)
    encoder_oof = _encoder_oof(xs, truth, folds, w, zero_shot, seed)
    words_oof = np.zeros(len(truth))
    for f in np.unique(folds) if words else ():
        train, test = folds != f, folds == f
        lex_coef, lex_b = fit_binary_logistic(x_tfidf[train], truth[train], FIT_LEX_C, seed, class_weight="balanced")
        words_oof[test] = sigmoid(np.asarray(x_tfidf[test] @ lex_coef).ravel() + lex_b)
    oof = _blend(encoder_oof, lexical_part, head.lex_weight, j, np.ones(len(truth), dtype=bool))
    fitted_words = (1 - FIT_LEX_WEIGHT) * encoder_oof + FIT_LEX_WEIGHT * words_oof
    words = words and binary_f1(truth, _nested_predictions(fitted_words, truth, folds)) > binary_f1(
        truth, _nested_predictions(oof, truth, folds))
    oof = fitted_words if words else oof
    t, _ = best_f1_threshold(oof, truth, THRESHOLD_GRID)
    rows = fit_binary_logistic(x_tfidf, truth, FIT_LEX_C, seed, class_weight="balanced") if words else None
    return _NewThemeFit(fit_binary_logistic(xs, truth, _C, seed, class_weight="balanced"), w, rows, t, oof >= t)


def _nested_predictions(oof: np.ndarray, truth: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Out-of-fold predictions, each fold at the threshold the other folds choose (so that two ways of
    scoring are compared without either's threshold chosen on its own answers)."""
    predicted = np.zeros(len(truth), dtype=bool)
    for f in np.unique(folds):
        t, _ = best_f1_threshold(oof[folds != f], truth[folds != f], THRESHOLD_GRID)
        predicted[folds == f] = oof[folds == f] >= t
    return predicted


def fitted_model_version(model_version: str, texts: Sequence[str], labels: Sequence[str]) -> str:
    """``model_version`` (an adapted one) with ``+fit<method>-<8 hex of the labelled texts>`` before
    ``+themes-``: a fitted artifact's analyses are never taken for the zero-shot ones of the same taxonomy,
    nor for another fit's, nor for those of the same labels fitted by an older method (:data:`FEW_SHOT_METHOD`).

    >>> fitted_model_version("m+zs2+themes-c8c6d9a30eeb", ["late"], ["delivery"])
    'm+zs2+fit2-a8f7e835+themes-c8c6d9a30eeb'
    >>> fitted_model_version("m+zs2+fit-0123abcd+themes-c8c6d9a30eeb", ["late"], ["delivery"])
    'm+zs2+fit2-a8f7e835+themes-c8c6d9a30eeb'
    """
    base, _, taxonomy = model_version.partition("+themes-")
    digest = hashlib.sha256("\0".join(f"{t}\t{c}" for t, c in zip(texts, labels)).encode("utf-8")).hexdigest()[:8]
    return f"{re.sub(r'[+]fit[0-9]*-[0-9a-f]+', '', base)}+fit{FEW_SHOT_METHOD}-{digest}+themes-{taxonomy}"


def _refit_trained(head: ThemeHead, x: np.ndarray, xs: np.ndarray, truth: np.ndarray, lexical_part: np.ndarray | None,
                   shipped: np.ndarray, shipped_predicted: np.ndarray, threshold: float, j: int,
                   seed: int) -> tuple[tuple[np.ndarray, float], float, float, np.ndarray] | None:
    """A trained theme's supervised row fitted on the team's labels, its blend weight, threshold and
    out-of-fold predictions, if that beats the shipped head out of fold by :data:`REFIT_MARGIN`; else None."""
    n_pos = int(truth.sum())
    folds = _folds(len(truth), n_pos, seed)
    shipped_oof = shipped_predicted.copy()  # the shipped head, its threshold chosen again where that helps
    _rethreshold(shipped, truth, folds, {"t": threshold}, "t", shipped_oof)
    zero_shot = head.zero_shot(x)[:, j]
    w = max(float(head.sup_weight[j]), min(0.85, n_pos / (n_pos + 10.0)))
    oof = _blend(_encoder_oof(xs, truth, folds, w, zero_shot, seed), lexical_part, head.lex_weight, j,
                 np.ones(len(truth), dtype=bool))
    predicted = _nested_predictions(oof, truth, folds)  # as the shipped head's: no threshold on its own answers
    if binary_f1(truth, predicted) <= binary_f1(truth, shipped_oof) + REFIT_MARGIN:
        return None
    t, _ = best_f1_threshold(oof, truth, THRESHOLD_GRID)
    return fit_binary_logistic(xs, truth, _C, seed, class_weight="balanced"), w, t, predicted


def _encoder_oof(xs: np.ndarray, truth: np.ndarray, folds: np.ndarray, w: float, zero_shot: np.ndarray,
                 seed: int) -> np.ndarray:
    """Out-of-fold encoder scores of one theme: a logistic regression on the standardised vectors of the
    other folds, weighted ``w`` against the theme's zero-shot score."""
    oof = np.zeros(len(truth))
    for f in np.unique(folds):
        train, test = folds != f, folds == f
        coef, b = fit_binary_logistic(xs[train], truth[train], _C, seed, class_weight="balanced")
        oof[test] = w * sigmoid(xs[test] @ coef + b) + (1 - w) * zero_shot[test]
    return oof


def _blend(encoder_part: np.ndarray, lexical_part: np.ndarray | None, lex_weight: np.ndarray, j: int,
           rows: np.ndarray) -> np.ndarray:
    """Theme ``j``'s probability on ``rows`` as :meth:`ThemeHead.combine` gives it (the lexical part blended in)."""
    if lexical_part is None:
        return encoder_part
    return (1 - lex_weight[j]) * encoder_part + lex_weight[j] * lexical_part[rows, j]


def _rethreshold(p: np.ndarray, truth: np.ndarray, folds: np.ndarray, thresholds: dict[str, float], tid: str,
                 predicted: np.ndarray) -> bool:
    """Choose a trained theme's threshold again on labelled texts if that helps out of fold; updates
    ``thresholds[tid]`` and ``predicted`` (its out-of-fold predictions) in place and says whether it did."""
    oof = np.zeros(len(p), dtype=bool)
    for f in np.unique(folds):
        t, _ = best_f1_threshold(p[folds != f], truth[folds != f], THRESHOLD_GRID)
        oof[folds == f] = p[folds == f] >= t
    if binary_f1(truth, oof) <= binary_f1(truth, p >= thresholds[tid]) + 0.01:
        return False
    thresholds[tid], _ = best_f1_threshold(p, truth, THRESHOLD_GRID)
    predicted[:] = oof
    return True


def few_shot_card(result: FewShotResult, taxonomy: Taxonomy, examples: str) -> str:
    """The model card of a ``sada themes fit`` artifact: what was fitted on what, and how well."""
    fit_facts = result.classifier.config.taxonomy or TaxonomyFacts()
    lines = [f"# Sada classifier {result.classifier.model_version}", "",
             f"The shipped classifier adapted to the taxonomy `{taxonomy.source}` (version {taxonomy.version}) "
             f"and fitted on {result.n} labelled texts from `{examples}` by `sada themes fit`. "
             "Sentiment is the shipped model's.", "",
             f"- Fitted on examples: {', '.join(result.fitted) or 'none'}",
             f"- Lexical evidence from the labelled texts' words (else from the file's names and seeds): "
             f"{', '.join(fit_facts.lexical_fitted or ()) or 'none'}",
             f"- Zero-shot (fewer than {MIN_POSITIVES} examples): {', '.join(result.zero_shot) or 'none'}",
             f"- Trained themes (shipped heads): "
             f"{', '.join(t for t in taxonomy.ids if t not in result.fitted + result.zero_shot) or 'none'}; "
             f"threshold chosen again on the labelled texts: "
             f"{', '.join(fit_facts.thresholds_rechosen or ()) or 'none'}", "",
             "## Themes: cross-validated on the labelled texts", "",
             "Out-of-fold predictions (up to 5 folds), at the threshold chosen on them; the zero-shot column is "
             "the same texts scored with no examples.", "",
             "| theme | precision | recall | F1 | support | zero-shot F1 |", "|---|---|---|---|---|---|"]
    for tid in [*taxonomy.ids, "micro"]:
        m, z = result.cross_validated[tid], result.zero_shot_scores[tid]
        lines.append(f"| {tid} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} | "
                     f"{z['f1']:.3f} |")
    return "\n".join(lines) + "\n"


def read_examples(path: str | Path) -> pd.DataFrame:
    """The labelled texts of a CSV or XLSX file with ``text`` and ``themes`` columns (and ``language``).

    Raises:
        InputError: a column is missing.
    """
    path = Path(path)
    frame = pd.read_excel(path, dtype=str) if path.suffix.lower() in {".xlsx", ".xlsm"} else pd.read_csv(path, dtype=str)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("text", "themes") if c not in frame.columns]
    if missing:
        raise InputError(f"expected the columns text and themes in {path}, found {', '.join(frame.columns)}; "
                         "name them so (themes: ids joined by ';', empty for none)")
    frame = frame[frame["text"].fillna("").str.strip() != ""].fillna("")
    return frame
