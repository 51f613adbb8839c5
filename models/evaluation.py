"""Evaluate a classifier on labelled files: ``sada evaluate``.

Tasks:

* ``sentiment`` - ``text,label``; a file whose labels use only two classes is
  scored on those two (probabilities renormalised over them).
* ``themes`` - theme detection, scored per theme (precision, recall, F1,
  support) and micro/macro-averaged, on one of: a file with a ``themes``
  column (``a;b`` or ``a:negative;b:positive``, like corpus/feedback.csv; every
  theme of the model counts as judged); a ``<dataset>_themes.csv`` file of
  ../shared/datasets (joined on ``id`` with ``<dataset>.csv`` beside it); or
  ParsiNLU-style aspect columns (``taste``, ``value``, ...; -3 = not
  mentioned), mapped onto Sada themes (taste/quality/nutrition -> quality,
  value -> price, delivery -> delivery, packaging -> packaging).
* ``aspects`` - ``text,target,label``: sentiment towards the given target.

Metrics: accuracy, macro-F1, per-class F1, expected calibration error (15
equal-width bins on the top probability), n and items/second.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from sada.models.heads import SENTIMENTS

__all__ = ["classification_metrics", "expected_calibration_error", "evaluate_file", "evaluate_frame", "TASKS"]

logger = logging.getLogger(__name__)

TASKS = ("sentiment", "themes", "aspects")


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 15) -> float:
    """ECE of the top-class probability (equal-width bins)."""
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
    """Accuracy, macro-F1, per-class F1 and ECE over the classes present in ``y``.

    Columns of ``probs`` for classes absent from ``y`` are dropped and the rest
    renormalised, so a two-class set is scored as a two-class problem.
    """
    from sklearn.metrics import accuracy_score, f1_score

    present = sorted(set(int(v) for v in y))
    p = probs[:, present]
    p = p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)
    remap = {c: i for i, c in enumerate(present)}
    yy = np.asarray([remap[int(v)] for v in y])
    pred = p.argmax(axis=1)
    per_class = f1_score(yy, pred, labels=list(range(len(present))), average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(yy, pred)),
        "macro_f1": float(f1_score(yy, pred, average="macro", zero_division=0)),
        "per_class_f1": {labels[c]: float(f) for c, f in zip(present, per_class)},
        "ece": expected_calibration_error(p, yy),
        "n": int(len(yy)),
    }


def _languages(df: Any) -> list[str]:
    return df["language"].astype(str).tolist()


def _labelled_themes(classifier: Any, df: Any, texts: list[str], langs: list[str]) -> dict[str, Any]:
    """Theme detection scores on rows with a ``themes`` column (and ``theme_mask`` where given)."""
    from sada.models.data import parse_theme_labels
    from sada.models.thresholds import theme_prf

    ids = list(classifier.theme_ids)
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
    preds = classifier.predict(texts, langs)
    guess = np.array([[t in p.themes for t in ids] for p in preds], dtype=bool).reshape(len(df), len(ids))
    prf = theme_prf(guess, truth, known, ids)
    judged = [t for t in ids if prf[t]["support"] > 0]
    return {
        "accuracy": float((guess == truth.astype(bool))[known].mean()) if known.any() else 0.0,
        "macro_f1": float(np.mean([prf[t]["f1"] for t in judged])) if judged else 0.0,
        "micro_f1": prf["micro"]["f1"],
        "micro_precision": prf["micro"]["precision"],
        "micro_recall": prf["micro"]["recall"],
        "per_class_f1": {t: prf[t]["f1"] for t in judged},
        "per_theme": {t: prf[t] for t in judged},
        "positives": {t: prf[t]["support"] for t in judged},
        "n": int(len(df)),
    }


def evaluate_file(classifier: Any, path: str | Path, task: str = "sentiment", baseline: bool = False) -> dict[str, Any]:
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
    from sada.models.data import read_labelled
    from sada.pipeline.errors import InputError

    if task not in TASKS:
        raise InputError(f"expected --task to be one of {', '.join(TASKS)}, found {task!r}")
    path = Path(path)
    if task == "themes" and path.name.endswith("_themes.csv"):
        from sada.models.data import read_theme_labels

        df = read_theme_labels(path, list(classifier.theme_ids))  # the annotator judged every theme
    else:
        df = read_labelled(path)
    return evaluate_frame(classifier, df, task, baseline, name=path.name)


def evaluate_frame(classifier: Any, df: Any, task: str = "sentiment", baseline: bool = False,
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
    from sada.models.data import PARSINLU_ASPECTS
    from sada.models.heads import view_proba
    from sada.pipeline.errors import InputError

    texts = df["text"].tolist()
    langs = _languages(df)
    index = {s: i for i, s in enumerate(SENTIMENTS)}
    start = time.perf_counter()
    if task == "themes" and "themes" in df.columns:
        result = _labelled_themes(classifier, df, texts, langs)
        elapsed = time.perf_counter() - start
    elif task == "themes":
        aspects = [a for a in PARSINLU_ASPECTS if a in df.columns]
        if not aspects:
            raise InputError(f"--task themes needs ParsiNLU aspect columns ({', '.join(PARSINLU_ASPECTS)}) in {name}")
        theme_ids = sorted(set(PARSINLU_ASPECTS[a] for a in aspects))
        missing = [t for t in theme_ids if t not in classifier.theme_ids]
        if missing:
            raise InputError(f"the model has no theme(s) {', '.join(missing)}; check corpus/themes.yaml")
        preds = classifier.predict(texts, langs)
        elapsed = time.perf_counter() - start
        from sklearn.metrics import f1_score

        truth = np.zeros((len(df), len(theme_ids)), dtype=int)
        guess = np.zeros_like(truth)
        for i, (_, row) in enumerate(df.iterrows()):
            for a in aspects:
                if str(row[a]).strip() not in ("-3", ""):
                    truth[i, theme_ids.index(PARSINLU_ASPECTS[a])] = 1
            for j, t in enumerate(theme_ids):
                guess[i, j] = int(t in preds[i].themes)
        per = {t: float(f1_score(truth[:, j], guess[:, j], zero_division=0)) for j, t in enumerate(theme_ids)}
        from sada.models.thresholds import theme_prf

        prf = theme_prf(guess.astype(bool), truth, None, theme_ids)
        result: dict[str, Any] = {
            "accuracy": float((truth == guess).mean()),
            "macro_f1": float(np.mean(list(per.values()))),
            "micro_f1": float(f1_score(truth.ravel(), guess.ravel(), zero_division=0)),
            "per_class_f1": per,
            "n": int(len(df)),
            "positives": {t: int(truth[:, j].sum()) for j, t in enumerate(theme_ids)},
            "per_theme": {t: prf[t] for t in theme_ids},
            "micro_precision": prf["micro"]["precision"],
            "micro_recall": prf["micro"]["recall"],
        }
    else:
        if task == "aspects":
            if "target" not in df.columns:
                raise InputError(f"--task aspects needs a `target` column in {name}")
            targets = df["target"].astype(str).tolist()
            if baseline:
                from sada.models.classifier import split_segments

                spans = []
                for t, tg in zip(texts, targets):
                    segs = [s for s in split_segments(t) if tg in s]
                    spans.append(" ".join(segs) if segs else t)
                texts = spans
            else:
                probs = classifier.aspect_sentiment_proba(texts, targets, langs)
        if baseline:
            if classifier.tfidf is None or classifier.sentiment.tfidf is None:
                raise InputError("this model has no TF-IDF view to score as a baseline")
            tf_in = texts
            if classifier.config.get("tfidf_input") == "normalised":
                tf_in = classifier._normalise(texts, langs)
            probs = view_proba(classifier.sentiment.tfidf, classifier.tfidf.transform(tf_in))
        elif task == "sentiment":
            probs = classifier.sentiment_proba(texts, langs)
        elapsed = time.perf_counter() - start
        y = df["label"].map(index).to_numpy()
        result = classification_metrics(y, probs)
    result.update({
        "task": task,
        "file": name,
        "model_version": classifier.model_version + ("+tfidf-baseline" if baseline else ""),
        "seconds": round(elapsed, 3),
        "items_per_second": round(len(df) / elapsed, 2) if elapsed > 0 else None,
    })
    return result
