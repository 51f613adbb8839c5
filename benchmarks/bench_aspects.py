"""Theme-level (aspect) sentiment: today's rule against a trained head, on three sets the head never trains on.

Test sets (each row: a text, an aspect, the sentiment towards it):

* SemEval-2016 Arabic hotels (``ar_semeval16_hotels_train.csv``), the held-out part by review
  (:meth:`sada.models.data.HeldOutSet.held_out`, the rule ``sada evaluate`` uses): one row per (sentence,
  category) with its polarity; ``neutral`` is the neutral class (this file has no ``conflict``). Categories
  onto the project's themes by :func:`semeval_theme` (SERVICE -> service, *#CLEANLINESS -> hygiene,
  *#PRICES -> price, FOOD_DRINKS -> quality, LOCATION, FACILITIES and ROOMS#DESIGN_FEATURES -> ambience;
  HOTEL, ROOMS and ROOMS_AMENITIES otherwise onto no theme: their row takes the sentence's sentiment).
* Pars-ABSA (``fa_parsabsa_test.csv``, test only): the target term of each row.
* ParsiNLU food test aspects (``fa_parsinlu_food_test.csv``): per aspect column, -2/-1 negative, 0 neutral,
  1/2 positive, 3 (mixed) and -3 (not mentioned) left out; aspects onto themes as ``sada evaluate`` maps them
  (taste/quality/nutrition -> quality, value -> price, delivery, packaging).

Training rows of the head (``--fit``): the SemEval reviews not held out, ParsiNLU food *dev* aspects, and the
``theme:sentiment`` pairs of the shared ``*_themes.csv`` files (their datasets are training files). The head's
constants (regularisation, class weights, whether it reads the focus's vector) are chosen by 5-fold
cross-validation on those rows (grouped by review), on the mean over the three training sources of (accuracy + macro-F1) / 2: accuracy is what
issue 23 asks for, macro-F1 keeps the rare neutral class from being given up (class weights ``balanced`` alone
lifted SemEval macro-F1 0.60 -> 0.64 but cut its accuracy 0.85 -> 0.75); the test sets are scored once.

Features of each text and clause come from the shipped classifier (``load_classifier()``) and are cached per
span under ``--cache`` (default ``$SADA_BENCH_CACHE``, else none), so a re-run encodes nothing.

Measured 2026-12-07 (model sada-e5s-tfidf-20261205-ea4c82a3, int8 encoder on ONNX Runtime, 2 busy cores).
Cross-validation chose the head that reads the focus's vector, C 0.01, no class weights (score 0.808; vector
C 0.03: 0.806; probabilities alone, C 0.03-3: 0.800, balanced 0.780; vector C 0.1 did not finish in 30 min
and was cut). Accuracy / macro-F1 (negative precision / recall):

| set | n | today's rule | trained head (chosen) | head on probabilities only (C 0.3) |
|---|---|---|---|---|
| CV SemEval train part | 8381 | 0.818 / 0.634 (0.894 / 0.737) | 0.853 / 0.649 (0.851 / 0.864) | 0.849 / 0.603 |
| CV theme files | 1974 | 0.856 / 0.613 (0.941 / 0.734) | 0.877 / 0.628 (0.886 / 0.834) | 0.880 / 0.602 |
| CV ParsiNLU dev | 199 | 0.920 / 0.919 (0.988 / 0.850) | 0.920 / 0.919 (0.896 / 0.950) | 0.935 / 0.935 |
| SemEval hotels held-out | 2095 | 0.819 / 0.625 (0.893 / 0.756) | 0.846 / 0.647 (0.842 / 0.851) | 0.844 / 0.584 |
| Pars-ABSA test | 2001 | 0.688 / 0.631 (0.656 / 0.590) | 0.659 / 0.517 (0.590 / 0.725) | 0.655 / 0.513 |
| ParsiNLU food test aspects | 201 | 0.836 / 0.619 (0.926 / 0.789) | 0.871 / 0.588 (0.835 / 0.958) | 0.846 / 0.571 |

The head wins on the Arabic hotel sentences and on ParsiNLU accuracy, and loses on Pars-ABSA: its training rows
are 5-7 % neutral (SemEval 552 of 8381, theme files 59 of 1974, ParsiNLU dev none), Pars-ABSA is 18 % neutral
(a target named without an opinion), and the head learns to turn the sentence head's neutral into a polarity
(negative recall up, neutral lost, macro-F1 down). So no artifact ships it: the classifier keeps the rule, and
reads an ``aspect_sentiment.*`` head only from an artifact that has one.

Usage:
    python -m benchmarks.bench_aspects [--cache DIR] [--fit OUT.safetensors] [--json] [--head VECTOR,C,WEIGHTS]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sada.models.aspect_sentiment import aspect_features, fit_aspect_head, focus_clauses, needs_focus, term_focus
from sada.models.classifier import Classifier, load_classifier
from sada.models.data import PARSINLU_ASPECTS, held_out_set, map_label, parse_theme_labels
from sada.models.heads import SENTIMENTS
from sada.models.metrics import classification_metrics

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent.parent / "shared" / "datasets"
SEMEVAL = "ar_semeval16_hotels_train.csv"
#: Theme-labelled samples of shared training files (``<dataset>_themes.csv``) and their language.
THEME_FILES = {"ar_elsahar_prod": "ar", "ar_elsahar_res2": "ar", "fa_snappfood_train": "fa"}
#: SemEval entity -> project theme (attributes PRICES and CLEANLINESS win over the entity).
SEMEVAL_ENTITIES = {"SERVICE": "service", "FOOD_DRINKS": "quality", "LOCATION": "ambience", "FACILITIES": "ambience"}
LABEL_INDEX = {s: i for i, s in enumerate(SENTIMENTS)}
#: The head's constants tried by cross-validation: (reads the focus's vector, C, class weights). With the
#: probabilities alone ``balanced`` weights scored 0.02 lower at every C (SemEval accuracy 0.85 -> 0.75), so the
#: slower vector fits are tried without them (2 shared cores).
GRID = tuple((False, c, cw) for c in (0.03, 0.3, 3.0) for cw in (None, "balanced")) + tuple(
    (True, c, None) for c in (0.01, 0.03, 0.1))
#: Only items that are not clear-cut read their clauses (as the rule does): reading every item's clauses would
#: encode each clause of every item with a theme (about 2-3x the encoder work of ``predict``), and on the training
#: rows the rule itself does no better that way (SemEval train accuracy 0.818 gated, 0.810 every item).
GRID_GATED = (True,)
FOLDS = 5


def semeval_theme(category: str) -> str | None:
    """The project theme of one SemEval category, or None (an overall judgement of hotel or room).

    Example:
        >>> semeval_theme("ROOMS#CLEANLINESS"), semeval_theme("HOTEL#PRICES"), semeval_theme("HOTEL#GENERAL")
        ('hygiene', 'price', None)
    """
    entity, _, attribute = category.partition("#")
    if attribute == "PRICES":
        return "price"
    if attribute == "CLEANLINESS":
        return "hygiene"
    if category == "ROOMS#DESIGN_FEATURES":
        return "ambience"
    return SEMEVAL_ENTITIES.get(entity)


# --- rows: (text, language, theme or None, term or None, label, source, group) --------------------------

def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["text", "language", "theme", "term", "label", "source", "group"])


def semeval_rows(root: Path, part: str) -> pd.DataFrame:
    """One row per (sentence, category) of the ``held-out`` or ``train`` part of SemEval hotels."""
    df = pd.read_csv(root / SEMEVAL, dtype=str, keep_default_na=False)
    held = held_out_set(SEMEVAL).held_out(df)
    df = df[held if part == "held-out" else ~held]
    rows = []
    for text, review, cats, pols in zip(df["text"], df["review_id"], df["categories"], df["polarities"]):
        for cat, pol in zip(cats.split(";"), pols.split(";")):
            if cat and pol in LABEL_INDEX:
                rows.append((text, "ar", semeval_theme(cat), None, pol, f"semeval {part}", f"semeval-{review}"))
    return _frame(rows)


def parsinlu_rows(root: Path, split: str) -> pd.DataFrame:
    """One row per mentioned aspect of ParsiNLU food ``dev`` or ``test`` (3 = mixed left out)."""
    df = pd.read_csv(root / f"fa_parsinlu_food_{split}.csv", dtype=str, keep_default_na=False)
    rows = []
    for _, row in df.iterrows():
        for aspect, theme in PARSINLU_ASPECTS.items():
            value = str(row.get(aspect, "")).strip()
            if value not in ("", "-3", "3"):
                rows.append((row["text"], "fa", theme, None, map_label(value), f"parsinlu {split}", row["id"]))
    return _frame(rows)


def theme_file_rows(root: Path, known: list[str]) -> pd.DataFrame:
    """The ``theme:sentiment`` pairs of the shared ``*_themes.csv`` files (themes the model knows)."""
    rows = []
    for name, lang in THEME_FILES.items():
        if not (root / f"{name}_themes.csv").is_file():
            continue
        labels = pd.read_csv(root / f"{name}_themes.csv", dtype=str, keep_default_na=False)
        data = pd.read_csv(root / f"{name}.csv", dtype=str, keep_default_na=False)
        if "id" not in data.columns:
            data["id"] = [f"{name}-{i}" for i in range(len(data))]
        texts = dict(zip(data["id"], data["text"]))
        for rid, cell in zip(labels["id"], labels["themes"]):
            for theme, sentiment in parse_theme_labels(cell).items():
                if theme in known and sentiment in LABEL_INDEX and rid in texts:
                    rows.append((texts[rid], lang, theme, None, sentiment, "theme files", rid))
    return _frame(rows)


def parsabsa_rows(root: Path) -> pd.DataFrame:
    """Pars-ABSA test: one row per (review, target term)."""
    df = pd.read_csv(root / "fa_parsabsa_test.csv", dtype=str, keep_default_na=False)
    return _frame([(t, "fa", None, tg, lab, "parsabsa test", t) for t, tg, lab in
                   zip(df["text"], df["target"], df["label"].map(map_label))])


# --- span features, cached per span ---------------------------------------------------------------------

@dataclass
class Spans:
    """Sentiment probabilities, theme probabilities and encoder vectors of texts and clauses."""

    index: dict[tuple[str, str], int]
    probs: np.ndarray
    theme: np.ndarray
    emb: np.ndarray

    def rows(self, spans: list[tuple[str, str]]) -> np.ndarray:
        return np.asarray([self.index[s] for s in spans], dtype=np.int64)


def span_features(classifier: Classifier, spans: list[tuple[str, str]], cache: Path | None,
                  chunk: int = 512) -> Spans:
    """Features of every ``(text, language)`` span, from ``cache`` where already computed."""
    key = hashlib.sha256(classifier.model_version.encode() + classifier.encoder_version.encode()).hexdigest()[:16]
    file = cache / f"aspect_spans-{key}.npz" if cache is not None else None
    known: list[tuple[str, str]] = []
    arrays = {"probs": np.zeros((0, 3), np.float32), "theme": np.zeros((0, len(classifier.theme_ids)), np.float32),
              "emb": np.zeros((0, classifier.encoder.dim), np.float32)}
    if file is not None and file.is_file():
        saved = np.load(file, allow_pickle=False)
        known = [tuple(k.split("\t", 1)) for k in saved["keys"].tolist()]
        arrays = {k: saved[k] for k in arrays}
    seen = set(known)
    todo = list(dict.fromkeys(s for s in spans if s not in seen))
    for start in range(0, len(todo), chunk):
        part = todo[start:start + chunk]
        x_tfidf, x_emb = classifier.features([t for t, _ in part], [lang for _, lang in part])
        new = {"probs": classifier._sentiment(x_tfidf, x_emb), "theme": classifier.themes.predict_proba(x_emb, x_tfidf),
               "emb": x_emb[:, : classifier.encoder.dim]}
        arrays = {k: np.vstack([arrays[k], new[k].astype(np.float32)]) for k in arrays}
        known.extend(part)
        print(f"encoded {len(known)} spans ({start + len(part)}/{len(todo)} new)", file=sys.stderr, flush=True)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(file.with_suffix(".tmp.npz"), keys=np.asarray(["\t".join(k) for k in known]), **arrays)
            file.with_suffix(".tmp.npz").replace(file)
    return Spans({k: i for i, k in enumerate(known)}, arrays["probs"], arrays["theme"], arrays["emb"])


def needed_spans(df: pd.DataFrame) -> list[tuple[str, str]]:
    """The texts, their clauses (texts of two or more) and the term foci of the rows."""
    out: dict[tuple[str, str], None] = {}
    for text, lang, term in zip(df["text"], df["language"], df["term"]):
        out[(text, lang)] = None
        out.update({(s, lang): None for s in focus_clauses(text)})
        if term:
            out[(term_focus(text, term), lang)] = None
    return list(out)


@dataclass
class RowFeatures:
    """Per row: overall and focus probabilities, the focus-is-part flag, the focus's vector, the label."""

    p_overall: np.ndarray
    p_focus: np.ndarray
    part: np.ndarray
    x_focus: np.ndarray
    y: np.ndarray

    def take(self, rows: np.ndarray) -> "RowFeatures":
        return RowFeatures(self.p_overall[rows], self.p_focus[rows], self.part[rows], self.x_focus[rows], self.y[rows])

    def matrix(self, vector: bool) -> np.ndarray:
        return aspect_features(self.p_overall, self.p_focus, self.part, self.x_focus if vector else None)


def row_features(df: pd.DataFrame, spans: Spans, theme_ids: list[str], segment_threshold: float,
                 gated: bool) -> RowFeatures:
    """The focus of each row as :class:`~sada.models.classifier.Classifier` chooses it: the term's clauses; else the
    clause where the theme scores highest (``gated``: only for items whose top probability is below
    ``segment_threshold``, as the rule does); else the whole text."""
    n = len(df)
    p_all, p_focus = np.zeros((n, 3)), np.zeros((n, 3))
    part = np.zeros(n)
    x_focus = np.zeros((n, spans.emb.shape[1]), dtype=np.float32)
    col = {t: j for j, t in enumerate(theme_ids)}
    for i, (text, lang, theme, term) in enumerate(zip(df["text"], df["language"], df["theme"], df["term"])):
        whole = spans.index[(text, lang)]
        p_all[i] = spans.probs[whole]
        focus = whole
        if term:
            focus = spans.index[(term_focus(text, term), lang)]
        elif theme in col and (not gated or needs_focus(spans.probs[whole], segment_threshold)):
            if segs := focus_clauses(text):
                rows = spans.rows([(s, lang) for s in segs])
                focus = int(rows[int(np.argmax(spans.theme[rows, col[theme]]))])
        p_focus[i] = spans.probs[focus]
        part[i] = float(focus != whole)
        x_focus[i] = spans.emb[focus]
    y = df["label"].map(LABEL_INDEX).to_numpy()
    return RowFeatures(p_all, p_focus, part, x_focus, y)


# --- cross-validation and the table ---------------------------------------------------------------------

def folds(groups: pd.Series, k: int = FOLDS) -> np.ndarray:
    """A fold 0..k-1 per row, fixed by the row's group (a review: no review on both sides)."""
    return groups.map(lambda g: int(hashlib.sha1(f"aspect-fold|{g}".encode()).hexdigest()[:8], 16) % k).to_numpy()


def cross_validated(feats: RowFeatures, fold: np.ndarray, c: float, class_weight: str | None,
                    vector: bool) -> np.ndarray:
    """Out-of-fold ``(n, 3)`` probabilities of the head."""
    out = np.zeros((len(fold), 3))
    x = feats.matrix(vector)
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        head = fit_aspect_head(x[train], feats.y[train], c, class_weight)
        out[test] = head.predict_proba(feats.p_overall[test], feats.p_focus[test], feats.part[test],
                                       feats.x_focus[test])
    return out


def summary(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1, negative precision and recall."""
    m = classification_metrics(y, probs)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "negative_precision": m["negative_precision"],
            "negative_recall": m["negative_recall"], "n": int(len(y))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--cache", type=Path, default=Path(os.environ["SADA_BENCH_CACHE"])
                        if os.environ.get("SADA_BENCH_CACHE") else None)
    parser.add_argument("--fit", type=Path, default=None, help="write the chosen head's arrays here (safetensors)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--head", default=None, metavar="VECTOR,C,WEIGHTS",
                        help="skip the cross-validation and fit these constants, e.g. vector,0.01,none "
                             "(probs,0.3,balanced): the grid's vector fits take ~30 min on 2 busy cores")
    args = parser.parse_args(argv)
    if not (args.datasets / SEMEVAL).is_file():
        print(f"skipped: no shared datasets at {args.datasets}", file=sys.stderr)
        return 0
    classifier = load_classifier()
    theme_ids = list(classifier.theme_ids)
    train = pd.concat([semeval_rows(args.datasets, "train"), parsinlu_rows(args.datasets, "dev"),
                       theme_file_rows(args.datasets, theme_ids)], ignore_index=True)
    tests = {"SemEval hotels held-out (ar)": semeval_rows(args.datasets, "held-out"),
             "Pars-ABSA test (fa)": parsabsa_rows(args.datasets),
             "ParsiNLU food test aspects (fa)": parsinlu_rows(args.datasets, "test")}
    spans = span_features(classifier, needed_spans(pd.concat([train, *tests.values()])), args.cache)
    threshold = classifier.config.segment_threshold
    fold = folds(train["group"])
    sources = train["source"].to_numpy()

    # choose the head's constants on the training rows only
    cv = []
    grid = GRID
    if args.head:
        vec, c, cw = args.head.split(",")
        grid = ((vec == "vector", float(c), None if cw == "none" else cw),)
    for gated in GRID_GATED:
        feats = row_features(train, spans, theme_ids, threshold, gated)
        for vector, c, cw in grid:
            oof = cross_validated(feats, fold, c, cw, vector)
            per = {s: summary(feats.y[sources == s], oof[sources == s]) for s in np.unique(sources)}
            score = float(np.mean([(v["accuracy"] + v["macro_f1"]) / 2 for v in per.values()]))
            cv.append({"gated": gated, "vector": vector, "c": c, "class_weight": cw, "score": score,
                       "per_source": per})
            print(f"cv gated={gated} vector={vector} C={c} cw={cw}: score {score:.3f} "
                  + " ".join(f"{s}: {v['accuracy']:.3f}/{v['macro_f1']:.3f}" for s, v in per.items()),
                  file=sys.stderr, flush=True)
    best = max(cv, key=lambda r: r["score"])
    rule_train = row_features(train, spans, theme_ids, threshold, True)
    rule_cv = {s: summary(rule_train.y[sources == s], rule_train.p_focus[sources == s]) for s in np.unique(sources)}

    feats = row_features(train, spans, theme_ids, threshold, best["gated"])
    head = fit_aspect_head(feats.matrix(best["vector"]), feats.y, best["c"], best["class_weight"])
    table = []
    for name, rows in tests.items():
        rule = row_features(rows, spans, theme_ids, threshold, True)
        new = row_features(rows, spans, theme_ids, threshold, best["gated"])
        p_new = head.predict_proba(new.p_overall, new.p_focus, new.part, new.x_focus)
        table.append({"set": name, "today": summary(rule.y, rule.p_focus), "head": summary(new.y, p_new)})
    result = {"model_version": classifier.model_version, "train_rows": train["source"].value_counts().to_dict(),
              "chosen": {k: best[k] for k in ("gated", "vector", "c", "class_weight", "score")},
              "cv_today": rule_cv, "cv_chosen": best["per_source"], "test": table}
    if args.fit is not None:
        from safetensors.numpy import save_file

        save_file({k: np.ascontiguousarray(v) for k, v in head.to_arrays().items()}, str(args.fit))
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    print(f"model {classifier.model_version}; head chosen by {FOLDS}-fold CV on training rows "
          f"{result['train_rows']}: {result['chosen']}")
    print("\n| set | rule | accuracy | macro-F1 | neg P | neg R | n |\n|---|---|---|---|---|---|---|")
    for name, per in [(f"CV {s}", {"today": rule_cv[s], "head": best["per_source"][s]}) for s in rule_cv] + [
            (r["set"], r) for r in table]:
        for which in ("today", "head"):
            m = per[which]
            print(f"| {name} | {which} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['negative_precision']:.3f} "
                  f"| {m['negative_recall']:.3f} | {m['n']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
