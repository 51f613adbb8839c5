"""Train the classifier heads: ``sada train``.

The recipe (deterministic for a given ``seed``):

1. Gather labelled data: the corpus train split, the public training files in
   ``../shared/datasets`` (when present) and any user CSV/JSONL with
   ``text,label``.
2. Encode every text once with the frozen encoder (vectors are cached on disk
   under ``<cache>/embeddings``, keyed by encoder hash and texts).
3. Sentiment: TF-IDF (word + char n-grams) logistic regression and
   encoder-vector logistic regression, stacked on 5-fold out-of-fold
   log-probabilities (this both ensembles and calibrates).
4. Themes: zero-shot prototypes from the taxonomy (e5 ``passage:``
   vectors of names, descriptions and seeds), a zero-shot calibration fitted on
   the labelled items, and per-theme logistic regressions for themes with
   labelled examples, blended by how many positives a theme has. Theme labels
   come from the corpus, ParsiNLU's aspects and the ``*_themes.csv`` files in
   ../shared/datasets.
5. Theme thresholds: one per theme, chosen (:mod:`sada.models.thresholds`) on
   held-out predictions: 5-fold out-of-fold predictions for every theme-labelled
   training item plus the corpus dev split scored by the final head. The
   out-of-fold P/R/F1 per theme and per source go into ``config.json``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sada.models.classifier import Classifier
from sada.models.encoder import DEFAULT_BATCH_SIZE, Encoder, encode_cached, encode_passages
from sada.models.features import TfidfFeatures
from sada.models.heads import (MIN_CALIBRATION_ROWS, SENTIMENTS, LinearHead, SentimentHead, ThemeHead,
                               fit_binary_logistic, standardise_columns)
from sada.pipeline.taxonomy import default_taxonomy_path, load_taxonomy

__all__ = ["build_theme_head", "train", "TrainResult"]

logger = logging.getLogger(__name__)

MODEL_NAME = "sada-e5s-tfidf"
#: Folds of the out-of-fold theme predictions used to choose the thresholds.
THEME_FOLDS = 5
#: Weight of the lexical (TF-IDF) theme head before calibration, and the weights it chooses from.
LEXICAL_WEIGHT = 0.5
LEXICAL_WEIGHTS = (0.0, 0.35, 0.5, 0.65, 0.8)


def _theme_texts(themes: list[Any]) -> tuple[list[str], list[int]]:
    texts, owner = [], []
    for j, theme in enumerate(themes):
        for t in theme.texts():
            if t and t.strip():
                texts.append(t.strip())
                owner.append(j)
    return texts, owner


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
    texts, owner = _theme_texts(themes)
    protos = encode_passages(encoder, texts, cache_dir)
    k = len(themes)
    head = ThemeHead(
        [t.id for t in themes],
        protos.astype(np.float32),
        np.asarray(owner, dtype=np.int64),
        zs_a=40.0,
        zs_b=np.full(k, 0.02, dtype=np.float32),
        supervised=None,
        sup_weight=np.zeros(k, dtype=np.float32),
        threshold=np.full(k, 0.5, dtype=np.float32),
    )
    if x_emb is None or y_themes is None or len(x_emb) == 0:
        return head
    from sklearn.linear_model import LogisticRegression

    # zero-shot calibration, shared by all themes so that new themes inherit it: the slope from a
    # class-balanced logistic fit, the offset at the margin that maximises F1 on the labelled items
    s = head.similarity(x_emb)
    rel = s - s.mean(axis=1, keepdims=True)
    known = mask.astype(bool)
    r, t = rel[known], y_themes[known]
    if 0 < t.sum() < len(t):
        cal = LogisticRegression(C=10.0, random_state=seed, class_weight="balanced").fit(r.reshape(-1, 1), t)
        head.zs_a = float(np.clip(cal.coef_[0, 0], 20.0, 200.0))
        best_f1, best_b = -1.0, 0.05
        for b in np.quantile(r, np.linspace(0.5, 0.995, 100)):
            pred = r >= b
            tp = float((pred & (t == 1)).sum())
            f1 = 2 * tp / max(1.0, pred.sum() + t.sum())
            if f1 > best_f1:
                best_f1, best_b = f1, float(b)
        head.zs_b = np.full(k, best_b, dtype=np.float32)
        logger.info("themes: zero-shot slope %.1f, margin %.3f (train F1 %.3f)", head.zs_a, best_b, best_f1)

    xs, mean, scale = standardise_columns(x_emb)
    weight, bias, n_pos = _per_theme_logistic(xs, y_themes, known, c=0.05, max_iter=2000, seed=seed)
    head.sup_weight = np.where(n_pos > 0, np.minimum(0.85, n_pos / (n_pos + 10.0)), 0.0).astype(np.float32)
    head.supervised = LinearHead(weight, bias, mean.astype(np.float32), scale.astype(np.float32))
    if x_tfidf is not None:
        lex_w, lex_b, lex_pos = _per_theme_logistic(x_tfidf, y_themes, known, c=5.0, max_iter=3000, seed=seed)
        head.lexical = LinearHead(lex_w, lex_b)
        head.lex_weight = np.where(lex_pos > 0, LEXICAL_WEIGHT, 0.0).astype(np.float32)
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


def calibrate_theme_thresholds(
    encoder: Encoder,
    themes: list[Any],
    head: ThemeHead,
    x_emb: np.ndarray,
    y_themes: np.ndarray,
    mask: np.ndarray,
    sources: np.ndarray,
    dev: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    folds: int = THEME_FOLDS,
    choose_on: np.ndarray | None = None,
    x_tfidf: Any = None,
) -> dict[str, Any]:
    """Choose a threshold per theme on held-out predictions and set them on ``head``.

    Held-out predictions: ``folds``-fold out-of-fold predictions of theme heads
    trained (:func:`build_theme_head`) on the other folds, for every labelled
    training item, plus ``head``'s predictions for the dev items (never trained on).

    Args:
        encoder: The encoder (for the prototypes; cached).
        themes: The taxonomy.
        head: The theme head trained on all labelled items (its ``threshold`` is set).
        x_emb: Encoder vectors of the labelled training items.
        y_themes: Their ``(n, k)`` 0/1 labels.
        mask: ``(n, k)`` True where a label is known.
        sources: ``(n,)`` where each item came from (for the per-source report).
        dev: ``(x_emb, y, mask, x_tfidf)`` of the dev items (``x_tfidf`` may be None), or None.
        seed: Fold split and solvers.
        cache_dir: Embedding cache.
        folds: Number of folds.
        choose_on: Training rows whose out-of-fold predictions choose the thresholds and are
            reported (default: all); with a fine-tuned encoder, the calibration rows it never saw.
        x_tfidf: TF-IDF features of the training items: the weight of the lexical head is chosen from
            :data:`LEXICAL_WEIGHTS` on the same held-out predictions, before the thresholds.

    Returns:
        ``thresholds`` (theme id -> threshold), ``calibration`` (how each was chosen) and
        ``cross_validated``: per source (and ``"corpus dev"``), P/R/F1 per theme at the chosen thresholds.
    """
    from sklearn.model_selection import KFold

    from sada.models.thresholds import choose_thresholds, theme_prf

    ids = [t.id for t in themes]
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
    chosen = np.ones(len(y_themes), dtype=bool) if choose_on is None else np.asarray(choose_on, dtype=bool)
    has_dev = dev is not None and len(dev[0]) > 0
    dev_parts = head.parts(dev[0], dev[3] if len(dev) > 3 else None) if has_dev else None
    truth = np.vstack([y_themes[chosen]] + ([dev[1]] if has_dev else []))
    known = np.vstack([mask[chosen]] + ([dev[2]] if has_dev else []))
    # themes with a lexical head; None when there is no lexical part to weigh
    lexical = head.lex_weight > 0 if head.lexical is not None and lex_oof is not None else None

    def held_out_probs(weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if lexical is None:
            oof, dev_probs = enc_oof, dev_parts[0] if has_dev else None
        else:
            w = np.where(lexical, weight, 0.0).astype(np.float32)
            oof = head.combine(enc_oof, lex_oof, w)
            dev_probs = head.combine(*dev_parts, w) if has_dev else None
        return np.vstack([oof[chosen]] + ([dev_probs] if has_dev else [])), oof, dev_probs

    weight = 0.0
    if lexical is not None:
        scores = {}
        for candidate in LEXICAL_WEIGHTS:
            pooled, _, _ = held_out_probs(candidate)
            cut, _ = choose_thresholds(pooled, truth, known, ids)
            scores[candidate] = theme_prf(pooled >= np.asarray([cut[t] for t in ids]), truth, known, ids)["micro"]["f1"]
        weight = max(LEXICAL_WEIGHTS, key=lambda w: (round(scores[w], 4), -w))
        logger.info("themes: lexical weight %.2f (held-out micro-F1 by weight: %s)", weight, scores)
        head.lex_weight = np.where(lexical, weight, 0.0).astype(np.float32)
    pooled, oof, dev_probs = held_out_probs(weight)
    thresholds, info = choose_thresholds(pooled, truth, known, ids)
    if lexical is not None:
        info["lexical_weight"] = weight
        info["lexical_weight_scores"] = {str(w): round(float(f), 4) for w, f in scores.items()}
    head.threshold = np.asarray([thresholds[t] for t in ids], dtype=np.float32)
    cut = head.threshold[None, :]
    report: dict[str, Any] = {}
    for src in sorted(set(sources)):
        rows = (sources == src) & chosen
        if not rows.any():
            continue
        report[str(src)] = theme_prf(oof[rows] >= cut, y_themes[rows], mask[rows], ids)
    if has_dev:
        report["corpus dev"] = theme_prf(dev_probs >= cut, dev[1], dev[2], ids)
    return {"thresholds": thresholds, "calibration": info, "cross_validated": report}


class TrainResult(dict):
    """What :func:`train` reports: the classifier under ``"classifier"`` plus metrics and data counts."""


def train(
    *,
    data_files: list[Path] | None = None,
    use_corpus: bool = True,
    use_shared: bool = True,
    seed: int = 0,
    encoder: Encoder | None = None,
    encoder_path: Path | None = None,
    cache_dir: Path | None = None,
    views: tuple[str, ...] = ("tfidf", "emb"),
    tfidf_input: str = "normalised",
    encoder_input: str = "raw",
    quantize: bool = True,
    max_items: int | None = None,
    calibrate_themes: bool = True,
) -> TrainResult:
    """Train sentiment and theme heads; return the classifier and training facts.

    Args:
        data_files: Extra CSV/JSONL files with ``text,label``.
        use_corpus: Include the corpus train split.
        use_shared: Include the public training files in ../shared/datasets.
        seed: Random seed (fold splits, solvers, subsampling).
        encoder: A loaded encoder (else loaded from ``encoder_path`` / default).
        encoder_path: Local Hugging Face checkpoint to use as the encoder.
        cache_dir: Cache root (default encoder and embedding cache).
        views: Sentiment views to use: ``tfidf`` and/or ``emb``.
        tfidf_input: ``raw`` or ``normalised`` text for TF-IDF.
        encoder_input: ``raw`` or ``normalised`` text for the encoder.
        quantize: The artifact runs its encoder as int8 (per-channel weights, per-row activations; batch-
            invariant, see :mod:`sada.models.encoder`); training uses fp32 vectors.
        max_items: Subsample the training data (for quick tests).
        calibrate_themes: Choose per-theme thresholds on held-out predictions (needs at
            least 50 theme-labelled items; otherwise every theme keeps 0.5).

    Returns:
        A :class:`TrainResult` with ``classifier``, ``data`` (rows per source),
        ``oof`` (out-of-fold sentiment metrics) and ``config``.

    Raises:
        sada.pipeline.errors.InputError: No labelled data was found.
    """
    from sada.models.data import (calibration_rows, corpus_training_frame, sources_with_neutral, theme_matrix,
                                  training_frame)

    np.random.seed(seed)
    if cache_dir is None:
        from sada.pipeline.config import load_settings

        cache_dir = load_settings().cache_dir
    df = training_frame(data_files, use_corpus, use_shared)
    if max_items and len(df) > max_items:
        df = df.sample(n=max_items, random_state=seed).reset_index(drop=True)
    counts = df.groupby("source").size().to_dict()
    logger.info("training on %d items: %s", len(df), counts)

    if encoder is None:
        # Heads train on fp32 vectors even when the artifact runs int8: measured on the shared test sets,
        # fp32-trained heads on the int8 encoder beat int8-trained heads (e.g. ATT macro-F1 0.735 vs 0.721).
        encoder = Encoder.from_pretrained(encoder_path, cache_dir=cache_dir)
    texts = df["text"].tolist()
    langs = df["language"].tolist()
    config: dict[str, Any] = {
        "model_name": MODEL_NAME,
        "labels": list(SENTIMENTS),
        "tfidf_input": tfidf_input,
        "encoder_input": encoder_input,
        "quantize": bool(quantize),
        "seed": seed,
        "encoder": {
            "name": encoder.name,
            "path": None if encoder_path is None else str(encoder_path),
            "sha256": encoder.sha256,
            "prefix": encoder.prefix,
            "max_length": encoder.max_length,
        },
    }
    if encoder.overlay is not None:
        from sada.models.finetune import finetune_facts

        config["encoder_overlay"] = encoder.overlay.name
        config["finetune"] = finetune_facts(encoder.overlay)
    normalised = norm = None
    if "normalised" in (tfidf_input, encoder_input):
        from sada.pipeline.normalise import Normaliser

        norm = Normaliser()
        normalised = [norm(t, lang).text for t, lang in zip(texts, langs)]
    y = df["label"].map({s: i for i, s in enumerate(SENTIMENTS)}).to_numpy()

    tfidf = None
    x_tfidf = None
    if "tfidf" in views:
        tf_texts = normalised if tfidf_input == "normalised" else texts
        tfidf = TfidfFeatures().fit(tf_texts)
        x_tfidf = tfidf.transform(tf_texts)
    enc_texts = normalised if encoder_input == "normalised" else texts
    # cached per source, so a growing corpus does not invalidate the public sets' vectors
    x_emb = np.zeros((len(df), encoder.dim), dtype=np.float32)
    for _, idx in sorted(df.groupby("source").indices.items()):
        x_emb[idx] = encode_cached(encoder, [enc_texts[i] for i in idx], cache_dir)
    # partial labels: only sources that label neutral teach it; a fine-tuned encoder has seen every row
    # but the calibration rows, so the stacker and the theme thresholds are fitted on those alone
    full = sources_with_neutral(df)
    held = calibration_rows(texts) if encoder.overlay is not None else np.ones(len(df), dtype=bool)
    sentiment = SentimentHead.fit(x_tfidf, x_emb if "emb" in views else None, y, full=full, stack_rows=held,
                                  seed=seed)
    rows = sentiment.stack_rows  # type: ignore[attr-defined]

    oof = {}
    from sada.models.evaluation import classification_metrics

    oof["stacked"] = classification_metrics(y[rows], sentiment.oof_probs[rows])  # type: ignore[attr-defined]
    for name, p in zip([v for v in ("tfidf", "emb") if v in views], sentiment.oof_views):  # type: ignore[attr-defined]
        oof[name] = classification_metrics(y[rows], p[rows])

    theme_head = None
    themes = list(load_taxonomy(default_taxonomy_path()).themes)  # the label set of the training data
    if themes:
        ids = [t.id for t in themes]
        y_t, m_t = theme_matrix(df, ids)
        has = m_t.any(axis=1)
        tf_has = None if x_tfidf is None else x_tfidf[np.flatnonzero(has)]
        theme_head = build_theme_head(encoder, themes, x_emb[has], y_t[has], m_t[has], seed=seed, cache_dir=cache_dir,
                                      x_tfidf=tf_has)
        if calibrate_themes and has.sum() >= 10 * THEME_FOLDS:
            dev = None
            if use_corpus:
                dev_df = corpus_training_frame("dev")
                if len(dev_df):
                    dev_texts = dev_df["text"].tolist()
                    dev_norm = dev_texts
                    if norm is not None:
                        dev_norm = [norm(t, lang).text for t, lang in zip(dev_texts, dev_df["language"])]
                    dev_x = encode_cached(encoder, dev_norm if encoder_input == "normalised" else dev_texts, cache_dir)
                    dev_y, dev_m = theme_matrix(dev_df, ids)
                    dev_tf = None if tfidf is None else tfidf.transform(
                        dev_norm if tfidf_input == "normalised" else dev_texts)
                    dev = (dev_x, dev_y, dev_m, dev_tf)
            cal = calibrate_theme_thresholds(encoder, themes, theme_head, x_emb[has], y_t[has], m_t[has],
                                             df["source"].to_numpy()[has], dev, seed=seed, cache_dir=cache_dir,
                                             choose_on=held[has] if held[has].sum() >= MIN_CALIBRATION_ROWS else None,
                                             x_tfidf=tf_has)
            config["theme_thresholds"] = cal["thresholds"]
            config["theme_calibration"] = cal["calibration"]
            config["theme_cross_validated"] = cal["cross_validated"]
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    digest = hashlib.sha256(f"{encoder.sha256}|{seed}|{len(df)}|{sorted(counts.items())}".encode()).hexdigest()[:8]
    config["model_version"] = f"{MODEL_NAME}-{date.replace('-', '')}-{digest}"
    config["trained"] = date
    config["training_data"] = {str(k): int(v) for k, v in counts.items()}
    clf = Classifier(encoder, tfidf, sentiment, theme_head, config)
    return TrainResult(classifier=clf, data=config["training_data"], oof=oof, config=config, n=len(df))

