"""Train the theme head: zero-shot prototypes, supervised and lexical parts, per-theme thresholds.

* :func:`build_theme_head` - the e5 ``passage:`` prototypes of every theme (names, descriptions,
  seeds), a zero-shot calibration shared by all themes, a per-theme logistic regression on encoder
  vectors for themes with labelled examples (weight ``n_pos / (n_pos + 10)``, at most 0.85) and,
  with TF-IDF features, a per-theme lexical regression blended at :data:`LEXICAL_WEIGHT`;
* :func:`calibrate_theme_thresholds` - the lexical weight (from :data:`LEXICAL_WEIGHTS`) and a
  threshold per theme (:mod:`sada.models.thresholds`), chosen on held-out predictions: out-of-fold
  predictions of heads trained on the other folds plus the dev items scored by the final head.
  It returns the calibrated head and what was measured (:class:`ThemeCalibration`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import KFold

from sada.models.encoder import Encoder, encode_passages
from sada.models.heads import LinearHead, ThemeHead
from sada.models.logistic import fit_binary_logistic, fit_logistic, standardise_columns
from sada.models.metrics import f1_from_counts, theme_prf
from sada.models.thresholds import choose_thresholds

__all__ = ["THEME_FOLDS", "LEXICAL_WEIGHT", "LEXICAL_WEIGHTS", "HeldOutThemes", "ThemeCalibration",
           "build_theme_head", "calibrate_theme_thresholds"]

logger = logging.getLogger(__name__)

#: Folds of the out-of-fold theme predictions used to choose the thresholds.
THEME_FOLDS = 5
#: Weight of the lexical (TF-IDF) theme head before calibration, and the weights it chooses from.
LEXICAL_WEIGHT = 0.5
LEXICAL_WEIGHTS = (0.0, 0.35, 0.5, 0.65, 0.8)


@dataclass(frozen=True)
class HeldOutThemes:
    """Theme-labelled items never trained on (the corpus dev split): vectors, labels, known cells, TF-IDF."""

    x_emb: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    x_tfidf: Any = None


@dataclass(frozen=True)
class ThemeCalibration:
    """What :func:`calibrate_theme_thresholds` returns.

    Attributes:
        head: The head with its thresholds (and lexical weight) set.
        thresholds: Theme id -> threshold.
        calibration: How each threshold was chosen (:func:`choose_thresholds`'s info), plus the
            lexical weight and the held-out micro-F1 of each candidate weight when there is a lexical part.
        cross_validated: Per source (and ``"corpus dev"``), P/R/F1 per theme at the chosen thresholds.
    """

    head: ThemeHead
    thresholds: dict[str, float]
    calibration: dict[str, Any]
    cross_validated: dict[str, Any]


def _theme_texts(themes: list[Any]) -> tuple[list[str], list[int]]:
    texts, owner = [], []
    for j, theme in enumerate(themes):
        for t in theme.texts():
            if t and t.strip():
                texts.append(t.strip())
                owner.append(j)
    return texts, owner


def _zero_shot_head(encoder: Encoder, themes: list[Any], cache_dir: Path | None) -> ThemeHead:
    """Prototypes of every theme and the default zero-shot calibration; no supervised part yet."""
    texts, owner = _theme_texts(themes)
    protos = encode_passages(encoder, texts, cache_dir)
    k = len(themes)
    return ThemeHead([t.id for t in themes], protos.astype(np.float32), np.asarray(owner, dtype=np.int64),
                     zs_a=40.0, zs_b=np.full(k, 0.02, dtype=np.float32), supervised=None,
                     sup_weight=np.zeros(k, dtype=np.float32), threshold=np.full(k, 0.5, dtype=np.float32))


def _zero_shot_calibration(head: ThemeHead, x_emb: np.ndarray, y_themes: np.ndarray, known: np.ndarray,
                           seed: int) -> ThemeHead:
    """The zero-shot slope and margin, shared by all themes so that new themes inherit them.

    The slope comes from a class-balanced logistic fit of the labels on the item's relative
    similarity, the margin is the one that maximises F1 on the labelled items.
    """
    s = head.similarity(x_emb)
    rel = s - s.mean(axis=1, keepdims=True)
    r, t = rel[known], y_themes[known]
    if not 0 < t.sum() < len(t):
        return head
    fit = fit_logistic(r.reshape(-1, 1), t, c=10.0, seed=seed, class_weight="balanced", max_iter=100)
    slope = float(np.clip(fit.coef[0, 0], 20.0, 200.0))
    best_f1, best_b = -1.0, 0.05
    for b in np.quantile(r, np.linspace(0.5, 0.995, 100)):
        pred = r >= b
        tp = float((pred & (t == 1)).sum())
        f1 = f1_from_counts(tp, float(pred.sum()) - tp, float(t.sum()) - tp)
        if f1 > best_f1:
            best_f1, best_b = f1, float(b)
    logger.info("themes: zero-shot slope %.1f, margin %.3f (train F1 %.3f)", slope, best_b, best_f1)
    return replace(head, zs_a=slope, zs_b=np.full(len(head.theme_ids), best_b, dtype=np.float32))


def build_theme_head(
    encoder: Encoder,
    themes: list[Any],
    x_emb: np.ndarray | None = None,
    y_themes: np.ndarray | None = None,
    mask: np.ndarray | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    x_tfidf: Any = None,
) -> ThemeHead:
    """Zero-shot prototypes for every theme, plus supervised parts where labels exist.

    With ``x_tfidf`` each theme with labelled examples also gets a lexical head (logistic
    regression on TF-IDF), blended in at :data:`LEXICAL_WEIGHT` until
    :func:`calibrate_theme_thresholds` chooses the weight on held-out predictions.

    Args:
        encoder: The encoder (its prefix is switched to ``passage: `` for e5 prototypes).
        themes: :class:`sada.pipeline.taxonomy.Theme` objects (id, names, descriptions, seeds, examples).
        x_emb: Encoder vectors of labelled items (``query:``), or None.
        y_themes: ``(n, n_themes)`` 0/1 labels.
        mask: ``(n, n_themes)`` True where the label is known.
        seed: Random state.
        cache_dir: Embedding cache.
        x_tfidf: TF-IDF features of the same items, or None (no lexical head).

    Returns:
        The theme head.
    """
    head = _zero_shot_head(encoder, themes, cache_dir)
    if x_emb is None or y_themes is None or len(x_emb) == 0:
        return head
    known = mask.astype(bool)
    head = _zero_shot_calibration(head, x_emb, y_themes, known, seed)
    xs, mean, scale = standardise_columns(x_emb)
    weight, bias, n_pos = _per_theme_logistic(xs, y_themes, known, c=0.05, max_iter=2000, seed=seed)
    head = replace(head, supervised=LinearHead(weight, bias, mean.astype(np.float32), scale.astype(np.float32)),
                   sup_weight=np.where(n_pos > 0, np.minimum(0.85, n_pos / (n_pos + 10.0)), 0.0).astype(np.float32))
    if x_tfidf is not None:
        lex_w, lex_b, lex_pos = _per_theme_logistic(x_tfidf, y_themes, known, c=5.0, max_iter=3000, seed=seed)
        head = replace(head, lexical=LinearHead(lex_w, lex_b),
                       lex_weight=np.where(lex_pos > 0, LEXICAL_WEIGHT, 0.0).astype(np.float32))
    return head


def _per_theme_logistic(x: Any, y_themes: np.ndarray, known: np.ndarray, *, c: float, max_iter: int,
                        seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One class-balanced logistic regression per theme on its known rows.

    Returns:
        ``(k, d)`` weights, ``(k,)`` biases and ``(k,)`` positives per fitted theme; a theme with
        fewer than 3 positives or 3 negatives gets no regression (weight 0, bias -10, 0 positives).
    """
    k = y_themes.shape[1]
    weight = np.zeros((k, x.shape[1]), dtype=np.float32)
    bias = np.full(k, -10.0, dtype=np.float32)
    fitted = np.zeros(k)
    for j in range(k):
        rows = np.flatnonzero(known[:, j])
        yj = y_themes[rows, j]
        n_pos = int(yj.sum())
        if n_pos < 3 or (len(yj) - n_pos) < 3:
            continue
        weight[j], bias[j] = fit_binary_logistic(x[rows], yj, c, seed, class_weight="balanced", max_iter=max_iter)
        fitted[j] = n_pos
    return weight, bias, fitted


def _out_of_fold_parts(encoder: Encoder, themes: list[Any], x_emb: np.ndarray, y_themes: np.ndarray,
                       mask: np.ndarray, x_tfidf: Any, *, seed: int, cache_dir: Path | None,
                       folds: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold encoder and lexical parts of every labelled item (heads trained on the other folds)."""
    enc_oof = np.zeros(y_themes.shape, dtype=np.float32)
    lex_oof = np.zeros(y_themes.shape, dtype=np.float32) if x_tfidf is not None else None
    for k, (tr, te) in enumerate(KFold(n_splits=folds, shuffle=True, random_state=seed).split(x_emb)):
        fold_head = build_theme_head(encoder, themes, x_emb[tr], y_themes[tr], mask[tr], seed=seed,
                                     cache_dir=cache_dir, x_tfidf=None if x_tfidf is None else x_tfidf[tr])
        enc_part, lex_part = fold_head.parts(x_emb[te], None if x_tfidf is None else x_tfidf[te])
        enc_oof[te] = enc_part
        if lex_oof is not None:
            # a theme without a lexical head in this fold keeps its encoder score
            lex_oof[te] = enc_part if lex_part is None else np.where(fold_head.lex_weight[None, :] > 0, lex_part,
                                                                     enc_part)
        logger.info("themes: fold %d/%d done", k + 1, folds)
    return enc_oof, lex_oof


@dataclass(frozen=True)
class _HeldOutScores:
    """Held-out theme probabilities at a candidate lexical weight: the chosen training rows' out-of-fold
    scores, then the dev items' scores by the final head."""

    head: ThemeHead
    enc_oof: np.ndarray
    lex_oof: np.ndarray | None
    dev_parts: tuple[np.ndarray, np.ndarray | None] | None
    chosen: np.ndarray
    lexical: np.ndarray | None  # themes with a lexical head; None when there is no lexical part to weigh

    def at(self, weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(pooled, oof, dev)`` probabilities with the lexical heads at ``weight``."""
        if self.lexical is None:
            oof, dev = self.enc_oof, None if self.dev_parts is None else self.dev_parts[0]
        else:
            w = np.where(self.lexical, weight, 0.0).astype(np.float32)
            oof = self.head.combine(self.enc_oof, self.lex_oof, w)
            dev = None if self.dev_parts is None else self.head.combine(*self.dev_parts, w)
        return np.vstack([oof[self.chosen]] + ([] if dev is None else [dev])), oof, dev


def _choose_lexical_weight(scores_at: _HeldOutScores, truth: np.ndarray, known: np.ndarray,
                           ids: list[str]) -> tuple[float, dict[float, float]]:
    """The weight of :data:`LEXICAL_WEIGHTS` with the best held-out micro-F1 (ties: the lower weight)."""
    scores = {}
    for candidate in LEXICAL_WEIGHTS:
        pooled, _, _ = scores_at.at(candidate)
        cut, _ = choose_thresholds(pooled, truth, known, ids)
        scores[candidate] = theme_prf(pooled >= np.asarray([cut[t] for t in ids]), truth, known, ids)["micro"]["f1"]
    weight = max(LEXICAL_WEIGHTS, key=lambda w: (round(scores[w], 4), -w))
    logger.info("themes: lexical weight %.2f (held-out micro-F1 by weight: %s)", weight, scores)
    return weight, scores


def _per_source_report(oof: np.ndarray, cut: np.ndarray, y_themes: np.ndarray, mask: np.ndarray,
                       sources: np.ndarray, chosen: np.ndarray, dev: HeldOutThemes | None,
                       dev_probs: np.ndarray | None, ids: list[str]) -> dict[str, Any]:
    """P/R/F1 per theme at ``cut``, per source of the chosen rows, then ``"corpus dev"``."""
    report: dict[str, Any] = {}
    for src in sorted(set(sources)):
        rows = (sources == src) & chosen
        if rows.any():
            report[str(src)] = theme_prf(oof[rows] >= cut, y_themes[rows], mask[rows], ids)
    if dev is not None:
        report["corpus dev"] = theme_prf(dev_probs >= cut, dev.y, dev.mask, ids)
    return report


def calibrate_theme_thresholds(
    encoder: Encoder,
    themes: list[Any],
    head: ThemeHead,
    x_emb: np.ndarray,
    y_themes: np.ndarray,
    mask: np.ndarray,
    sources: np.ndarray,
    dev: HeldOutThemes | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    folds: int = THEME_FOLDS,
    choose_on: np.ndarray | None = None,
    x_tfidf: Any = None,
) -> ThemeCalibration:
    """Choose the lexical weight and a threshold per theme on held-out predictions.

    Held-out predictions: ``folds``-fold out-of-fold predictions of theme heads
    trained (:func:`build_theme_head`) on the other folds, for every labelled
    training item, plus ``head``'s predictions for the dev items (never trained on).

    Args:
        encoder: The encoder (for the prototypes; cached).
        themes: The taxonomy.
        head: The theme head trained on all labelled items (not changed: the result carries a copy).
        x_emb: Encoder vectors of the labelled training items.
        y_themes: Their ``(n, k)`` 0/1 labels.
        mask: ``(n, k)`` True where a label is known.
        sources: ``(n,)`` where each item came from (for the per-source report).
        dev: The dev items, or None.
        seed: Fold split and solvers.
        cache_dir: Embedding cache.
        folds: Number of folds.
        choose_on: Training rows whose out-of-fold predictions choose the thresholds and are
            reported (default: all); with a fine-tuned encoder, the calibration rows it never saw.
        x_tfidf: TF-IDF features of the training items: the weight of the lexical head is chosen from
            :data:`LEXICAL_WEIGHTS` on the same held-out predictions, before the thresholds.

    Returns:
        The calibrated head, its thresholds, how they were chosen and the per-source P/R/F1.
    """
    ids = [t.id for t in themes]
    enc_oof, lex_oof = _out_of_fold_parts(encoder, themes, x_emb, y_themes, mask, x_tfidf, seed=seed,
                                          cache_dir=cache_dir, folds=folds)
    chosen = np.ones(len(y_themes), dtype=bool) if choose_on is None else np.asarray(choose_on, dtype=bool)
    dev = dev if dev is not None and len(dev.x_emb) > 0 else None
    truth = np.vstack([y_themes[chosen]] + ([dev.y] if dev is not None else []))
    known = np.vstack([mask[chosen]] + ([dev.mask] if dev is not None else []))
    lexical = head.lex_weight > 0 if head.lexical is not None and lex_oof is not None else None
    scores_at = _HeldOutScores(head, enc_oof, lex_oof, None if dev is None else head.parts(dev.x_emb, dev.x_tfidf),
                               chosen, lexical)
    weight, scores = _choose_lexical_weight(scores_at, truth, known, ids) if lexical is not None else (0.0, {})
    if lexical is not None:
        head = replace(head, lex_weight=np.where(lexical, weight, 0.0).astype(np.float32))
        scores_at = replace(scores_at, head=head)
    pooled, oof, dev_probs = scores_at.at(weight)
    thresholds, info = choose_thresholds(pooled, truth, known, ids)
    if lexical is not None:
        info["lexical_weight"] = weight
        info["lexical_weight_scores"] = {str(w): round(float(f), 4) for w, f in scores.items()}
    head = replace(head, threshold=np.asarray([thresholds[t] for t in ids], dtype=np.float32))
    report = _per_source_report(oof, head.threshold[None, :], y_themes, mask, sources, chosen, dev, dev_probs, ids)
    return ThemeCalibration(head, thresholds, info, report)
