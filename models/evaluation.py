"""Evaluate a classifier on labelled data: ``sada evaluate`` and the test tables of ``sada train``.

Tasks:

* ``sentiment`` - ``text,label``; a file whose labels use only two classes is
  scored on those two (probabilities renormalised over them).
* ``themes`` - theme detection, scored per theme (precision, recall, F1,
  support) and micro/macro-averaged, on one of: a file with a ``themes``
  column (``a;b`` or ``a:negative;b:positive``, like corpus/feedback.csv; every
  theme of the model counts as judged); a ``<dataset>_themes.csv`` file of
  the shared datasets (joined on ``id`` with ``<dataset>.csv`` beside it); or
  ParsiNLU-style aspect columns (``taste``, ``value``, ...; -3 = not
  mentioned), mapped onto Sada themes (taste/quality/nutrition -> quality,
  value -> price, delivery -> delivery, packaging -> packaging).
* ``aspects`` - ``text,target,label``: sentiment towards the given target.

Metrics (:mod:`sada.models.metrics`): accuracy, macro-F1, per-class F1 / precision / recall, the
negative class's precision and recall, expected calibration error (15 equal-width bins on the top
probability), n and items/second.

The test tables: :func:`evaluate_shared` (every public test set in the shared datasets folder a
command was given, and the held-out fifth of each file in :data:`sada.models.data.HELD_OUT_SETS`),
:func:`evaluate_corpus_test` (a corpus folder a command was given) and :func:`evaluate_sentence_probe` (a probe file a command was given).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sada.models.aspect_sentiment import term_focus
from sada.models.classifier import Classifier
from sada.models.data import (ARSARCASM, PARSINLU_ASPECTS, SHARED_TEST_FILES, HeldOutSet,
                              corpus_training_frame, held_out_frames, parse_theme_labels, read_labelled,
                              read_theme_labels)
from sada.models.encoder import Encoder
from sada.models.few_shot import label_matrix, read_examples
from sada.models.heads import SENTIMENTS, view_proba
from sada.models.metrics import classification_metrics, theme_detection_metrics, theme_prf
from sada.pipeline.config import load_settings
from sada.pipeline.errors import InputError
from sada.pipeline.language import default_identifier
from sada.pipeline.taxonomy import Taxonomy

__all__ = ["evaluate_file", "evaluate_frame", "evaluate_shared", "evaluate_corpus_test", "evaluate_sentence_probe",
           "TASKS", "HELD_OUT_NAME", "PUBLISHED", "ThemeExamples", "theme_examples", "score_themes"]

logger = logging.getLogger(__name__)

TASKS = ("sentiment", "themes", "aspects")

#: How the held-out fifth of ArSarcasm-v2's training file is named in tables (each held-out part is named
#: by :attr:`sada.models.data.HeldOutSet.name`).
HELD_OUT_NAME = HeldOutSet(ARSARCASM).name

#: Published numbers from the shared datasets' README, for the model card's comparison column.
PUBLISHED = {
    "fa_snappfood_test.csv": "ParsBERT v2 re-run on the same 7k test: accuracy 0.876 (trained on ~56k); "
                             "e5-small frozen + LR (MTEB, tiny sample): accuracy 0.742",
    "ar_elsahar_att.csv": "none published for ATT alone",
    "fa_parsinlu_food_test.csv": "mT5-large re-run: accuracy 0.693, macro-F1 0.502 (whole review)",
    "fa_parsabsa_test.csv": "ParsBERT + NLI-style input: accuracy ~0.91",
    HELD_OUT_NAME: "none for this split (ArSarcasm-v2's own test set is not here)",
    "fa_digikala_comments held-out": "ParsBERT v1, Digikala reviews 3-class (another split): F1 0.817",
    "ar_arsas held-out": "CAMeLBERT-Mix fine-tuned on ArSAS (its own split, mixed included): F1 0.927",
}


def evaluate_file(classifier: Classifier, path: str | Path, task: str = "sentiment",
                  baseline: bool = False) -> dict[str, Any]:
    """Score ``classifier`` on one file.

    Args:
        classifier: A :class:`sada.models.classifier.Classifier`.
        path: CSV or JSONL file.
        task: ``sentiment``, ``themes`` or ``aspects``.
        baseline: Score the TF-IDF view alone (the TF-IDF + logistic-regression
            baseline trained on the same data) instead of the full model.

    Returns:
        The metrics, plus ``items_per_second``, ``task`` and ``file``.
    """
    if task not in TASKS:
        raise InputError(f"expected --task to be one of {', '.join(TASKS)}, found {task!r}")
    path = Path(path)
    if task == "themes" and path.name.endswith("_themes.csv"):
        df = read_theme_labels(path, list(classifier.theme_ids))  # the annotator judged every theme
    else:
        df = read_labelled(path)
    return evaluate_frame(classifier, df, task, baseline, name=path.name)


def _labelled_theme_matrices(df: pd.DataFrame, ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(truth, known)`` of rows with a ``themes`` column (and ``theme_mask`` where given)."""
    col = {t: j for j, t in enumerate(ids)}
    truth = np.zeros((len(df), len(ids)), dtype=int)
    known = np.zeros_like(truth, dtype=bool)
    masks = df["theme_mask"] if "theme_mask" in df.columns else [None] * len(df)
    for i, (labels, mask) in enumerate(zip(df["themes"], masks)):
        for t in (mask if isinstance(mask, list) else ids):
            if t in col:
                known[i, col[t]] = True
        for t in parse_theme_labels(labels):
            if t in col:
                truth[i, col[t]] = 1
    return truth, known


def _aspect_matrix(df: pd.DataFrame, name: str, model_themes: list[str]) -> tuple[np.ndarray, list[str]]:
    """``(truth, theme ids)`` from ParsiNLU aspect columns (-3 or empty: not mentioned)."""
    aspects = [a for a in PARSINLU_ASPECTS if a in df.columns]
    if not aspects:
        raise InputError(f"--task themes needs ParsiNLU aspect columns ({', '.join(PARSINLU_ASPECTS)}) in {name}")
    theme_ids = sorted(set(PARSINLU_ASPECTS[a] for a in aspects))
    missing = [t for t in theme_ids if t not in model_themes]
    if missing:
        raise InputError(f"the model has no theme(s) {', '.join(missing)}; check corpus/themes.yaml")
    truth = np.zeros((len(df), len(theme_ids)), dtype=int)
    for i, (_, row) in enumerate(df.iterrows()):
        for a in aspects:
            if str(row[a]).strip() not in ("-3", ""):
                truth[i, theme_ids.index(PARSINLU_ASPECTS[a])] = 1
    return truth, theme_ids


def _theme_result(classifier: Classifier, df: pd.DataFrame, name: str) -> dict[str, Any]:
    """Theme detection metrics on labelled themes or on aspect columns."""
    if "themes" in df.columns:
        ids = list(classifier.theme_ids)
        truth, known = _labelled_theme_matrices(df, ids)
    else:
        truth, ids = _aspect_matrix(df, name, list(classifier.theme_ids))
        known = None
    preds = classifier.predict(df["text"].tolist(), df["language"].astype(str).tolist())
    guess = np.array([[t in p.themes for t in ids] for p in preds], dtype=bool).reshape(len(df), len(ids))
    return {**theme_detection_metrics(guess, truth, known, ids), "n": int(len(df))}


def _baseline_probs(classifier: Classifier, texts: list[str], langs: list[str]) -> np.ndarray:
    """Sentiment probabilities of the TF-IDF view alone (the TF-IDF + LR baseline)."""
    if classifier.tfidf is None or classifier.sentiment.tfidf is None:
        raise InputError("this model has no TF-IDF view to score as a baseline")
    tf_in = classifier._normalise(texts, langs) if classifier.config.normalises_tfidf else texts
    return view_proba(classifier.sentiment.tfidf, classifier.tfidf.transform(tf_in))


def _sentiment_result(classifier: Classifier, df: pd.DataFrame, task: str, baseline: bool,
                      name: str) -> dict[str, Any]:
    """Sentiment metrics of the whole text, or (``aspects``) towards each row's ``target``."""
    texts, langs = df["text"].tolist(), df["language"].astype(str).tolist()
    if task == "aspects":
        if "target" not in df.columns:
            raise InputError(f"--task aspects needs a `target` column in {name}")
        targets = df["target"].astype(str).tolist()
        if baseline:  # the baseline reads the clauses that name the target
            texts = [term_focus(t, tg) for t, tg in zip(texts, targets)]
        else:
            probs = classifier.aspect_sentiment_proba(texts, targets, langs)
    if baseline:
        probs = _baseline_probs(classifier, texts, langs)
    elif task == "sentiment":
        probs = classifier.sentiment_proba(texts, langs)
    y = df["label"].map({s: i for i, s in enumerate(SENTIMENTS)}).to_numpy()
    return classification_metrics(y, probs)


def evaluate_frame(classifier: Classifier, df: pd.DataFrame, task: str = "sentiment", baseline: bool = False,
                   name: str = "frame") -> dict[str, Any]:
    """Score ``classifier`` on labelled rows as :func:`sada.models.data.read_labelled` returns them.

    Args:
        classifier: A :class:`sada.models.classifier.Classifier`.
        df: The rows (``text``, ``label``, ``language``; per task also ``themes``, aspect columns or ``target``).
        task: ``sentiment``, ``themes`` or ``aspects``.
        baseline: Score the TF-IDF view alone.
        name: Reported as ``file``.

    Returns:
        The metrics, as :func:`evaluate_file` returns them.
    """
    start = time.perf_counter()
    if task == "themes":
        result = _theme_result(classifier, df, name)
    else:
        result = _sentiment_result(classifier, df, task, baseline, name)
    elapsed = time.perf_counter() - start
    result.update({
        "task": task,
        "file": name,
        "model_version": classifier.model_version + ("+tfidf-baseline" if baseline else ""),
        "seconds": round(elapsed, 3),
        "items_per_second": round(len(df) / elapsed, 2) if elapsed > 0 else None,
    })
    return result


# --- a team's labelled texts: sada themes fit and sada themes score ----------------------------

@dataclass(frozen=True)
class ThemeExamples:
    """Labelled texts of a taxonomy (the ``--examples`` file of ``sada themes fit`` and ``sada themes score``).

    Attributes:
        texts: The texts.
        languages: Each text's language (the file's ``language`` column, else identified).
        labels: Each text's ``themes`` cell (ids joined by ``;``).
        truth: ``(n, k)`` 0/1, the labels over the taxonomy's ids in order.
    """

    texts: list[str]
    languages: list[str]
    labels: list[str]
    truth: np.ndarray


def theme_examples(path: str | Path, taxonomy: Taxonomy) -> ThemeExamples:
    """The labelled texts of a CSV or XLSX file (``text``, ``themes``, optional ``language``) for ``taxonomy``.

    Raises:
        InputError: a column is missing, or a cell names a theme the taxonomy does not have (before any
            model loads).
    """
    frame = read_examples(path)
    labels = frame["themes"].tolist()
    truth = label_matrix(labels, taxonomy)
    texts = frame["text"].tolist()
    languages = (frame["language"].tolist() if "language" in frame.columns
                 else [g.language for g in default_identifier().predict(texts)])
    return ThemeExamples(texts, languages, labels, truth)


def score_themes(classifier: Classifier, taxonomy: Taxonomy, examples: ThemeExamples) -> dict[str, Any]:
    """How well ``classifier`` detects ``taxonomy``'s themes on labelled texts (``sada themes score``).

    Returns:
        ``model_version``, ``n``, ``micro`` (precision, recall, f1, support) and ``themes``: per theme id, in
        the taxonomy's order, ``precision``, ``recall``, ``f1``, ``support`` (labelled), ``predicted`` (found)
        and ``zero_shot`` (detected with no training).
    """
    predictions = classifier.predict(examples.texts, examples.languages)
    guess = np.array([[tid in p.themes for tid in taxonomy.ids] for p in predictions], dtype=bool)
    guess = guess.reshape(len(examples.texts), len(taxonomy.ids))
    scores = theme_prf(guess, examples.truth, None, taxonomy.ids)
    zero_shot = set(classifier.config.zero_shot_themes)
    per_theme = {tid: {**scores[tid], "predicted": int(guess[:, j].sum()), "zero_shot": tid in zero_shot}
                 for j, tid in enumerate(taxonomy.ids)}
    return {"model_version": classifier.model_version, "n": len(examples.texts), "micro": scores["micro"],
            "themes": per_theme}


# --- the test tables of sada train and sada reproduce ------------------------------------------

Scorer = Callable[..., dict[str, Any]]


def _shared_jobs(classifier: Classifier, root: Path) -> list[tuple[str, str, Scorer]]:
    """``(name, task, score)`` of every public test set in ``root``; ``score(classifier, baseline=...)``."""
    jobs = [(name, task, partial(evaluate_file, path=root / name, task=task))
            for name, task in SHARED_TEST_FILES.items() if (root / name).is_file()]
    if (root / "fa_parsinlu_food_test.csv").is_file() and classifier.themes is not None:
        name = "fa_parsinlu_food_test.csv"
        jobs.append((name, "themes", partial(evaluate_file, path=root / name, task="themes")))
    for spec, held in held_out_frames(root):
        if len(held):
            jobs.append((spec.name, "sentiment", partial(evaluate_frame, df=held, task="sentiment", name=spec.name)))
    return jobs


def _other_precision(classifier: Classifier) -> Classifier:
    """The same heads on the encoder at the other precision (int8 for fp32, fp32 for int8)."""
    enc = classifier.encoder
    quant = Encoder.from_pretrained(enc.path, prefix=enc.prefix, max_length=enc.max_length,
                                    quantize=not enc.quantized, overlay=enc.overlay)
    return classifier.with_encoder(quant)


def evaluate_shared(classifier: Classifier, datasets: Path | None, int8_too: bool = True) -> list[dict[str, Any]]:
    """Score the classifier (and its TF-IDF baseline view) on every public test set in ``datasets``.

    The test files, then the held-out fifth of every file in :data:`sada.models.data.HELD_OUT_SETS`
    (ArSarcasm-v2, Digikala comments, Neshan places, SnappFood raw, ArSAS, SemEval-2016 hotels by review);
    no rows without a folder.
    """
    if datasets is None:
        return []
    jobs = _shared_jobs(classifier, Path(datasets))
    int8 = _other_precision(classifier) if int8_too else None
    cache, callers = load_settings().cache_dir, classifier.embedding_cache
    classifier.embedding_cache = cache  # re-running an evaluation re-uses the vectors
    if int8 is not None:
        int8.embedding_cache = cache
    try:
        return [_evaluate_job(classifier, int8, name, task, score) for name, task, score in jobs]
    finally:
        classifier.embedding_cache = callers  # the caller's own cache setting, not None


def _evaluate_job(classifier: Classifier, int8: Classifier | None, name: str, task: str,
                  score: Scorer) -> dict[str, Any]:
    """One row of the test table: the model, its TF-IDF baseline view and the other precision."""
    res = score(classifier, baseline=False)
    row = {k: res[k] for k in ("task", "accuracy", "macro_f1", "n", "items_per_second")}
    row["file"] = name
    row["per_class_f1"] = res["per_class_f1"]
    for key in ("negative_precision", "negative_recall"):
        if key in res:
            row[key] = res[key]
    if "ece" in res:
        row["ece"] = res["ece"]
    if task != "themes" and classifier.tfidf is not None:
        base = score(classifier, baseline=True)
        row["baseline_accuracy"] = base["accuracy"]
        row["baseline_macro_f1"] = base["macro_f1"]
    if int8 is not None:
        other = score(int8, baseline=False)
        key = "fp32" if classifier.encoder.quantized else "int8"
        row[f"{key}_accuracy"] = other["accuracy"]
        row[f"{key}_macro_f1"] = other["macro_f1"]
        row[f"{key}_items_per_second"] = other["items_per_second"]
    row["published"] = PUBLISHED.get(name, "") if task != "themes" else ""
    logger.info("evaluated %s (%s): %s", name, task, row)
    return row


def evaluate_corpus_test(classifier: Classifier, corpus_dir: Path) -> list[dict[str, Any]]:
    """Sentiment and theme scores on the test split of the corpus in ``corpus_dir`` (empty when it is not built)."""
    test = corpus_training_frame(corpus_dir, "test")
    if test.empty:
        return []
    return [evaluate_frame(classifier, test, task, name="corpus test split") for task in ("sentiment", "themes")]


def evaluate_sentence_probe(classifier: Classifier, path: Path | None) -> list[dict[str, Any]]:
    """Sentiment scores on a sentence probe file (``sada train --probe``; the checkout's is
    benchmarks/data/sentence_probe.csv); no rows without one.

    Raises:
        sada.pipeline.errors.InputError: The file given does not exist.
    """
    if path is None:
        return []
    if not Path(path).is_file():
        raise InputError(f"expected a sentence probe file (id,text,label,language), found nothing at {path}; "
                         "pass an existing file to --probe or leave it out")
    row = evaluate_file(classifier, path, "sentiment")
    row["file"] = "sentence probe"
    row["path"] = str(path)
    return [row]
