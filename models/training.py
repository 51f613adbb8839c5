"""Train the classifier heads: ``sada train``.

The recipe (deterministic for a given ``seed``):

1. Gather labelled data: the corpus train split, the public training files of
   the shared datasets folder when one is given (``--datasets``) and any user
   CSV/JSONL with ``text,label``.
2. Encode every text once with the frozen encoder (vectors are cached on disk
   under ``<cache>/embeddings``, keyed by encoder hash and texts).
3. Sentiment: TF-IDF (word + char n-grams) logistic regression and
   encoder-vector logistic regression, stacked on 5-fold out-of-fold
   log-probabilities (this both ensembles and calibrates).
4. Themes: zero-shot prototypes from the taxonomy (e5 ``passage:``
   vectors of names, descriptions and seeds), a zero-shot calibration fitted on
   the labelled items, and per-theme logistic regressions for themes with
   labelled examples, blended by how many positives a theme has. Theme labels
   come from the corpus, ParsiNLU's aspects and the ``*_themes.csv`` files of
   the shared datasets (:mod:`sada.models.theme_training`). The lexical part
   reads the theme heads' own TF-IDF vocabulary, fitted on the theme-labelled
   rows only, so that adding sentiment rows does not move theme scores.
5. Theme thresholds: one per theme, chosen (:mod:`sada.models.thresholds`) on
   held-out predictions: 5-fold out-of-fold predictions for every theme-labelled
   training item plus the corpus dev split scored by the final head. The
   out-of-fold P/R/F1 per theme and per source go into ``config.json``.

Saving, evaluating and the model card around it: :mod:`sada.models.train_driver`.
"""


from __future__ import annotations

import datetime as _dt
import hashlib
import logging
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sada.models.artifact_config import ArtifactConfig, EncoderSpec, TrainingChoices
from sada.models.classifier import Classifier
from sada.models.data import (SHARED_TRAIN_FILES, calibration_rows, corpus_training_frame, sources_with_neutral,
                              theme_matrix, training_frame)
from sada.models.encoder import Encoder, encode_cached
from sada.models.features import TfidfFeatures
from sada.models.finetune import finetune_facts
from sada.models.heads import MIN_CALIBRATION_ROWS, SENTIMENTS, ThemeHead
from sada.models.logistic import unit_mean_weights
from sada.models.metrics import classification_metrics
from sada.models.sentiment_training import SentimentFit, fit_sentiment_head
from sada.models.theme_training import THEME_FOLDS, HeldOutThemes, build_theme_head, calibrate_theme_thresholds
from sada.pipeline.config import load_settings
from sada.pipeline.normalise import Normaliser
from sada.pipeline.taxonomy import default_taxonomy_path, load_taxonomy

__all__ = ["MODEL_NAME", "TrainResult", "TextInputs", "train", "data_choices"]

logger = logging.getLogger(__name__)

MODEL_NAME = "sada-e5s-tfidf"


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` returns.

    Attributes:
        classifier: The trained classifier (its ``config`` is what ``config.json`` will hold).
        data: Training rows per source.
        oof: Out-of-fold sentiment metrics (``stacked`` and each view) on the stacker's rows.
        config: The artifact's configuration (the classifier's :class:`ArtifactConfig`).
        n: Training rows.
    """

    classifier: Classifier
    data: dict[str, int]
    oof: dict[str, dict[str, Any]]
    config: ArtifactConfig
    n: int


@dataclass(frozen=True)
class TextInputs:
    """Which text each part of the model reads: ``raw`` or ``normalised`` (:class:`Normaliser`).

    Raises:
        ValueError: Another value.
    """

    tfidf: str = "normalised"
    encoder: str = "raw"

    def __post_init__(self) -> None:
        for name in (self.tfidf, self.encoder):
            if name not in ("raw", "normalised"):
                raise ValueError(f"expected a text input of raw or normalised, found {name!r}")

    def texts(self, texts: list[str], languages: list[str], normaliser: Normaliser | None) -> tuple[list[str], list[str]]:
        """``(tfidf_texts, encoder_texts)`` of ``texts``, normalising once when either part needs it."""
        normalised = texts
        if "normalised" in (self.tfidf, self.encoder):
            normalised = [normaliser(t, lang).text for t, lang in zip(texts, languages)]
        return (normalised if self.tfidf == "normalised" else texts,
                normalised if self.encoder == "normalised" else texts)


def _base_config(encoder: Encoder, encoder_path: Path | None, inputs: TextInputs, quantize: bool,
                 seed: int) -> ArtifactConfig:
    """The artifact's configuration before the heads are trained: inputs, encoder, fine-tuning facts."""
    spec = EncoderSpec(name=encoder.name, path=None if encoder_path is None else str(encoder_path),
                       sha256=encoder.sha256, prefix=encoder.prefix, max_length=encoder.max_length)
    overlay = encoder.overlay
    return ArtifactConfig(model_name=MODEL_NAME, labels=tuple(SENTIMENTS), tfidf_input=inputs.tfidf,
                          encoder_input=inputs.encoder, quantize=bool(quantize), seed=seed, encoder=spec,
                          encoder_overlay=None if overlay is None else overlay.name,
                          finetune=None if overlay is None else finetune_facts(overlay))


def data_choices(corpus: bool, datasets: bool, shared_files: tuple[str, ...], per_source_cap: int | None,
                 source_caps: dict[str, int] | None, negative_weight: float | None = 1.0,
                 finetune_from: Path | None = None, source_weights: dict[str, float] | None = None,
                 own_theme_vocabulary: bool = False) -> TrainingChoices:
    """What a run trained on, as ``config.json`` records it (``training_options``): ``sada reproduce`` and
    the model card read it back.

    Example:
        >>> choices = data_choices(True, True, ("a.csv",), None, {"a.csv": 2000}, None)
        >>> choices.shared_files, choices.source_caps, list(choices.as_dict())
        (('a.csv',), {'a.csv': 2000}, ['corpus', 'shared_files', 'per_source_cap', 'source_caps', 'negative_weight'])
    """
    return TrainingChoices(corpus=bool(corpus), shared_files=tuple(shared_files) if datasets else (),
                           per_source_cap=per_source_cap, source_caps=dict(sorted((source_caps or {}).items())),
                           negative_weight=negative_weight,
                           finetune_from=None if finetune_from is None else str(finetune_from),
                           source_weights=dict(sorted(source_weights.items())) if source_weights else None,
                           theme_vocabulary="own" if own_theme_vocabulary else None)


def _encode_by_source(encoder: Encoder, df: pd.DataFrame, texts: list[str], cache_dir: Path) -> np.ndarray:
    """Encoder vectors of every row, cached per source (a growing corpus keeps the public sets' vectors)."""
    x_emb = np.zeros((len(df), encoder.dim), dtype=np.float32)
    for _, idx in sorted(df.groupby("source").indices.items()):
        x_emb[idx] = encode_cached(encoder, [texts[i] for i in idx], cache_dir)
    return x_emb


def _features(df: pd.DataFrame, encoder: Encoder, inputs: TextInputs, normaliser: Normaliser | None,
              with_tfidf: bool, cache_dir: Path) -> tuple[TfidfFeatures | None, Any, np.ndarray, list[str] | None]:
    """The TF-IDF features (fitted on these rows) when asked for, the encoder vectors of every row, and the
    texts TF-IDF reads (None without TF-IDF)."""
    tf_texts, enc_texts = inputs.texts(df["text"].tolist(), df["language"].tolist(), normaliser)
    tfidf = TfidfFeatures().fit(tf_texts) if with_tfidf else None
    return (tfidf, None if tfidf is None else tfidf.transform(tf_texts),
            _encode_by_source(encoder, df, enc_texts, cache_dir), tf_texts if with_tfidf else None)


def _theme_vocabulary(tf_texts: list[str] | None, has: np.ndarray) -> tuple[TfidfFeatures | None, Any]:
    """The theme heads' own TF-IDF vocabulary, fitted on the theme-labelled rows (so that sentiment rows do not
    move theme scores), and those rows' features; ``(None, None)`` without TF-IDF or with too few such rows."""
    if tf_texts is None or not has.any():
        return None, None
    texts = [t for t, h in zip(tf_texts, has) if h]
    try:
        tfidf = TfidfFeatures().fit(texts)
    except ValueError as err:  # too few rows for any n-gram to reach the minimum document frequency
        logger.warning("themes: no TF-IDF vocabulary from %d theme-labelled rows (%s); no lexical part", len(texts),
                       err)
        return None, None
    return tfidf, tfidf.transform(texts)


def _oof_metrics(fit: SentimentFit, y: np.ndarray) -> dict[str, dict[str, Any]]:
    """Out-of-fold sentiment metrics of the stacked model and of each view, on the stacker's rows."""
    rows = fit.stack_rows
    oof = {"stacked": classification_metrics(y[rows], fit.oof_probs[rows])}
    for name, p in zip(fit.view_names, fit.oof_views):
        oof[name] = classification_metrics(y[rows], p[rows])
    return oof


def _dev_themes(encoder: Encoder, inputs: TextInputs, normaliser: Normaliser | None, ids: list[str],
                tfidf: TfidfFeatures | None, *, cache_dir: Path, corpus: Path | None) -> HeldOutThemes | None:
    """The corpus dev split as held-out theme items (None without a corpus folder, or when it has none)."""
    if corpus is None:
        return None
    dev_df = corpus_training_frame(corpus, "dev")
    if not len(dev_df):
        return None
    tf_texts, enc_texts = inputs.texts(dev_df["text"].tolist(), dev_df["language"].tolist(), normaliser)
    dev_y, dev_m = theme_matrix(dev_df, ids)
    return HeldOutThemes(encode_cached(encoder, enc_texts, cache_dir), dev_y, dev_m,
                         None if tfidf is None else tfidf.transform(tf_texts))


def _train_themes(encoder: Encoder, df: pd.DataFrame, x_emb: np.ndarray, tf_texts: list[str] | None,
                  held: np.ndarray, dev: Callable[[list[str], TfidfFeatures | None], HeldOutThemes | None], *,
                  seed: int, cache_dir: Path, calibrate: bool,
                  shared: tuple[TfidfFeatures | None, Any] = (None, None),
                  own_vocabulary: bool = False) -> tuple[ThemeHead | None, dict[str, Any], TfidfFeatures | None]:
    """The theme head over the default taxonomy (the training data's label set), its config entries and, with
    ``own_vocabulary``, its own TF-IDF vocabulary (:func:`_theme_vocabulary`); else the lexical part reads the
    ``shared`` sentiment vocabulary and its features of every row (the shipped model's recipe) and None is returned
    for the vocabulary. ``tf_texts`` None: no lexical part.

    ``dev`` is called for the dev items only when the thresholds are calibrated.
    """
    themes = list(load_taxonomy(default_taxonomy_path()).themes)
    if not themes:
        return None, {}, None
    ids = [t.id for t in themes]
    y_t, m_t = theme_matrix(df, ids)
    has = m_t.any(axis=1)
    if own_vocabulary:
        theme_tfidf, tf_has = _theme_vocabulary(tf_texts, has)
    else:
        theme_tfidf, tf_has = shared[0], None if shared[1] is None else shared[1][np.flatnonzero(has)]
    head = build_theme_head(encoder, themes, x_emb[has], y_t[has], m_t[has], seed=seed, cache_dir=cache_dir,
                            x_tfidf=tf_has)
    if not calibrate or has.sum() < 10 * THEME_FOLDS:
        return head, {}, theme_tfidf if own_vocabulary else None
    cal = calibrate_theme_thresholds(encoder, themes, head, x_emb[has], y_t[has], m_t[has],
                                     df["source"].to_numpy()[has], dev(ids, theme_tfidf), seed=seed,
                                     cache_dir=cache_dir,
                                     choose_on=held[has] if held[has].sum() >= MIN_CALIBRATION_ROWS else None,
                                     x_tfidf=tf_has)
    return cal.head, {"theme_thresholds": cal.thresholds, "theme_calibration": cal.calibration,
                      "theme_cross_validated": cal.cross_validated}, theme_tfidf if own_vocabulary else None


def _version(encoder: Encoder, seed: int, counts: dict[str, int], n: int) -> dict[str, Any]:
    """The model version, the training date and the rows per source (:class:`ArtifactConfig` fields)."""
    date = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d")
    digest = hashlib.sha256(f"{encoder.sha256}|{seed}|{n}|{sorted(counts.items())}".encode()).hexdigest()[:8]
    return {"model_version": f"{MODEL_NAME}-{date.replace('-', '')}-{digest}", "trained": date,
            "training_data": {str(k): int(v) for k, v in counts.items()}}


def train(
    *,
    data_files: list[Path] | None = None,
    corpus: Path | None = None,
    datasets: Path | None = None,
    seed: int = 0,
    encoder: Encoder | None = None,
    encoder_path: Path | None = None,
    cache_dir: Path | None = None,
    views: tuple[str, ...] = ("tfidf", "emb"),
    inputs: TextInputs = TextInputs(),
    quantize: bool = True,
    max_items: int | None = None,
    calibrate_themes: bool = True,
    shared_files: tuple[str, ...] = SHARED_TRAIN_FILES,
    per_source_cap: int | None = None,
    source_caps: dict[str, int] | None = None,
    negative_weight: float | None = 1.0,
    finetune_from: Path | None = None,
    source_weights: dict[str, float] | None = None,
    own_theme_vocabulary: bool = False,
) -> TrainResult:
    """Train sentiment and theme heads; return the classifier and training facts.

    Args:
        data_files: Extra CSV/JSONL files with ``text,label``.
        corpus: A corpus folder (``sada.corpus.sample_dir()`` for the sample corpus) whose train split and
            statements are trained on and whose dev split chooses the theme thresholds; None for none.
        datasets: The shared public datasets folder (its training files are used), or None.
        seed: Random seed (fold splits, solvers, subsampling).
        encoder: A loaded encoder (else loaded from ``encoder_path`` / default).
        encoder_path: Local Hugging Face checkpoint to use as the encoder.
        cache_dir: Cache root (default encoder and embedding cache).
        views: Sentiment views to use: ``tfidf`` and/or ``emb``.
        inputs: Raw or normalised text for TF-IDF and for the encoder.
        quantize: The artifact runs its encoder as int8 (per-channel weights, per-row activations; batch-
            invariant, see :mod:`sada.models.encoder`); training uses fp32 vectors.
        max_items: Subsample the training data (for quick tests).
        calibrate_themes: Choose per-theme thresholds on held-out predictions (needs at
            least 50 theme-labelled items; otherwise every theme keeps 0.5).
        shared_files: The files of ``datasets`` to train on (default: :data:`sada.models.data.SHARED_TRAIN_FILES`;
            :data:`sada.models.data.ALL_TRAIN_FILES` adds the real review and tweet sets with held-out parts).
        per_source_cap: At most this many rows a source, scarce classes kept first
            (:func:`sada.models.data.cap_per_source`); None keeps every row.
        source_caps: A cap of its own for each source named (a file name such as ``fa_digikala_comments.csv``),
            instead of ``per_source_cap``.
        negative_weight: The weight on P(negative) of the decision rule (1.0: the most probable class); None
            chooses it on the stacker's validation rows (:func:`sada.models.sentiment_training.choose_negative_weight`).
            What every weight scores there is recorded either way.
        finetune_from: The overlay ``encoder``'s fine-tuning continued from (``sada train --finetune-from``),
            recorded in ``training_options``.
        source_weights: A weight for each named source's rows in the sentiment views' regressions (others 1;
            scaled to mean 1 over the rows: :func:`sada.models.logistic.unit_mean_weights`), recorded in
            ``training_options``.
        own_theme_vocabulary: Fit the theme heads' lexical part on a TF-IDF vocabulary of the theme-labelled rows
            alone (``sada train --own-theme-vocabulary``), so that sentiment-only rows do not move theme scores;
            recorded in ``training_options``. Off: one vocabulary for both, as the shipped model was trained
            (measured on its data, the theme heads' cross-validated micro-F1 with their own vocabulary: corpus
            0.783 -> 0.778, Elsahar PROD 0.875 -> 0.857, RES2 0.862 -> 0.864, SnappFood 0.851 -> 0.845).

    Raises:
        sada.pipeline.errors.InputError: No labelled data was found.
    """
    np.random.seed(seed)
    cache_dir = load_settings().cache_dir if cache_dir is None else cache_dir
    df = training_frame(data_files, corpus, datasets, shared_files, per_source_cap, seed, source_caps)
    if max_items and len(df) > max_items:
        df = df.sample(n=max_items, random_state=seed).reset_index(drop=True)
    counts = df.groupby("source").size().to_dict()
    classes = {str(src): {str(k): int(v) for k, v in cell.value_counts().sort_index().items()}
               for src, cell in df.groupby("source")["label"]}
    logger.info("training on %d items: %s", len(df), counts)
    if encoder is None:
        # Heads train on fp32 vectors even when the artifact runs int8: measured on the shared test sets,
        # fp32-trained heads on the int8 encoder beat int8-trained heads (e.g. ATT macro-F1 0.735 vs 0.721).
        encoder = Encoder.from_pretrained(encoder_path, cache_dir=cache_dir)
    options = data_choices(corpus is not None, datasets is not None, shared_files, per_source_cap, source_caps,
                           negative_weight, finetune_from, source_weights, own_theme_vocabulary)
    texts = df["text"].tolist()
    normaliser = Normaliser() if "normalised" in (inputs.tfidf, inputs.encoder) else None
    tfidf, x_tfidf, x_emb, tf_texts = _features(df, encoder, inputs, normaliser, "tfidf" in views, cache_dir)
    y = df["label"].map({s: i for i, s in enumerate(SENTIMENTS)}).to_numpy()
    # partial labels: only sources that label neutral teach it; a fine-tuned encoder has seen every row
    # but the calibration rows, so the stacker and the theme thresholds are fitted on those alone
    held = calibration_rows(texts) if encoder.overlay is not None else np.ones(len(df), dtype=bool)
    fit = fit_sentiment_head(x_tfidf, x_emb if "emb" in views else None, y, full=sources_with_neutral(df),
                             stack_rows=held, seed=seed, groups=df["source"].to_numpy(),
                             negative_weight=negative_weight,
                             sample_weight=unit_mean_weights(df["source"].to_numpy(), source_weights))
    oof = _oof_metrics(fit, y)

    dev = partial(_dev_themes, encoder, inputs, normaliser, cache_dir=cache_dir, corpus=corpus)
    theme_head, theme_config, theme_tfidf = _train_themes(encoder, df, x_emb, tf_texts, held, dev, seed=seed,
                                                          cache_dir=cache_dir, calibrate=calibrate_themes,
                                                          shared=(tfidf, x_tfidf),
                                                          own_vocabulary=own_theme_vocabulary)
    config = replace(_base_config(encoder, encoder_path, inputs, quantize, seed), training_options=options,
                     **theme_config, negative_rule=fit.negative_rule, **_version(encoder, seed, counts, len(df)),
                     training_classes=classes, theme_ids=tuple(theme_head.theme_ids) if theme_head is not None else ())
    clf = Classifier(encoder, tfidf, fit.head, theme_head, config, theme_tfidf=theme_tfidf)
    return TrainResult(classifier=clf, data=dict(config.training_data or {}), oof=oof, config=config, n=len(df))
