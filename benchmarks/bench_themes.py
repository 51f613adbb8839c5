"""A team's own taxonomy on real labelled reviews: zero-shot theme detection, per theme and micro-F1.

Two public label sets are used as if a CX team had written their themes, with the taxonomy files in
``benchmarks/data/taxonomies/`` (this project's own names, descriptions and seeds):

* ParsiNLU food & beverage reviews (fa, ``fa_parsinlu_food_test.csv``, 192 reviews): an aspect
  counts as a theme of the review unless it is -3 ("not mentioned").
* SemEval-2016 Arabic hotel sentences (``ar_semeval16_hotels_train.csv``): categories mapped onto
  the hotel taxonomy by :data:`SEMEVAL_THEMES` (HOTEL#GENERAL and other overall categories onto none);
  the held-out part is every review whose id is divisible by 5 (the rest is never used here).

Few-shot (``--shots 8 16 32``): k labelled texts per theme (and k with no theme) drawn from the
training part (ParsiNLU's dev split; the SemEval reviews not held out), fitted as ``sada themes fit``
does, scored on the same held-out parts; ``--draws N`` (default 3) draws the examples N times (seeds 0..N-1)
and reports the mean over the draws (P, R, F1 and detections per theme, and micro-F1 with its range), so the
curve is not one draw's noise.

Leave one theme out (``--loto``), on the sample corpus's test split: each default theme in turn is given
a new id (so the shipped classifier has no trained head for it and it is detected zero-shot from its
names, descriptions and seeds, the other themes keeping theirs), and with ``--shots`` fitted on k texts per
theme from the corpus train split, with the shipped heads' micro-F1 on the same split (every theme trained
on all its labels) as the reference no few-shot fit is expected to pass. Then zero-shot the same way on the
shared theme-labelled files
(:data:`SHARED_THEME_FILES`, each joined on ``id`` with its dataset's texts; skipped when absent). Caveat: the shipped encoder's layers were fine-tuned with every theme,
so this is kinder than a theme the model never saw; retraining the encoder 14 times is out of reach on 2 cores.

The plain encoder's calibration (``--calibrate-plain``): the slope and margin of a new theme's plain-encoder
score (``PLAIN_SLOPE``, ``PLAIN_MARGIN`` in models/taxonomy_head.py), fitted on the shipped themes' labels of
the corpus train split, and with each theme left out in turn (what ``--loto`` uses for that theme, so the
left-out theme's labels never choose its own constants).

Competition (``--choose-competition``): ``COMPETE_RATIO`` in models/taxonomy_head.py, chosen without held-out
data: each default theme left out of the corpus *train* split in turn (as ``--loto`` does on the test split), the
left-out themes' pooled zero-shot micro-F1 at each ratio of :data:`COMPETE_GRID` (the probabilities computed once
per left-out theme, every ratio applied to them by ``ThemeHead.compete``, as ``predict`` does); the best ratio is
kept (the smaller at a tie). ``--competition 0 R``: the same micro-F1 at those ratios on the held-out sets (corpus
test split and the shared theme-labelled files left one theme out; SemEval and ParsiNLU, all their themes).

Speed (``--speed N``): items/s of ``Classifier.predict`` on N corpus texts (no vector cache) with the shipped
themes and with a taxonomy that has zero-shot themes (read by the plain encoder too), and the memory the plain
encoder adds.

Usage:
    python -m benchmarks.bench_themes [--shots 8 16 32] [--draws 3] [--loto] [--json] [--calibrate-plain] [--speed 512]
    python -m benchmarks.bench_themes --choose-competition | --competition 0 0.8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from sada.corpus import sample_dir
from sada.models.classifier import Classifier, load_classifier
from sada.models import taxonomy_head
from sada.models.encoder import encode_cached
from sada.models.few_shot import fit_themes
from sada.models.heads import ThemeHead
from sada.models.logistic import fit_logistic
from sada.models.metrics import theme_prf
from sada.pipeline.corpus import load_feedback
from sada.pipeline.taxonomy import default_taxonomy_path, load_taxonomy

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent.parent / "shared" / "datasets"
TAXONOMIES = HERE / "data" / "taxonomies"
#: Encoder vectors of the texts, kept between runs (SADA_BENCH_CACHE; unset: none kept).
CACHE = Path(os.environ["SADA_BENCH_CACHE"]) if os.environ.get("SADA_BENCH_CACHE") else None
PARSINLU_ASPECTS = ("taste", "value", "delivery", "packaging", "nutrition", "quality")
#: SemEval ENTITY#ATTRIBUTE -> the hotel taxonomy's theme (None: an overall judgement, no theme).
SEMEVAL_THEMES = {"SERVICE": "staff", "LOCATION": "location", "FOOD_DRINKS": "food", "FACILITIES": "facilities",
                  "ROOMS": "rooms", "ROOMS_AMENITIES": "rooms", "HOTEL": None}
#: Theme-labelled samples of shared datasets (``<dataset>_themes.csv``) and their language.
SHARED_THEME_FILES = {"ar_elsahar_prod": "ar", "ar_elsahar_res2": "ar", "fa_snappfood_train": "fa"}
#: Competition ratios tried by ``--choose-competition`` (0: none).
COMPETE_GRID = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)


def semeval_theme(category: str) -> str | None:
    """The hotel theme of one SemEval category: prices and cleanliness across entities, else by entity."""
    entity, _, attribute = category.partition("#")
    if attribute == "PRICES":
        return "prices"
    if attribute == "CLEANLINESS":
        return "cleanliness"
    return SEMEVAL_THEMES.get(entity)


def parsinlu_frame(split: str = "test") -> pd.DataFrame:
    df = pd.read_csv(DATASETS / f"fa_parsinlu_food_{split}.csv")
    themes = [";".join(a for a in PARSINLU_ASPECTS if row[a] != -3) for _, row in df.iterrows()]
    return pd.DataFrame({"text": df["text"], "language": "fa", "themes": themes})


def semeval_frame(held_out: bool = True) -> pd.DataFrame:
    df = pd.read_csv(DATASETS / "ar_semeval16_hotels_train.csv")
    part = df[(df["review_id"].astype(int) % 5 == 0) == held_out]
    themes = [";".join(sorted({t for c in str(v).split(";") if (t := semeval_theme(c))}))
              for v in part["categories"].fillna("")]
    return pd.DataFrame({"text": part["text"].tolist(), "language": "ar", "themes": themes})


def sample_shots(pool: pd.DataFrame, ids: list[str], k: int, seed: int = 0) -> pd.DataFrame:
    """Up to ``k`` texts per theme and ``k`` with no theme, drawn from ``pool`` with ``seed``."""
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    has = [set(str(t).split(";")) - {""} for t in pool["themes"]]
    for tid in [*ids, None]:
        rows = [i for i, t in enumerate(has) if (tid in t if tid else not t)]
        chosen.update(rng.choice(rows, size=min(k, len(rows)), replace=False).tolist())
    return pool.iloc[sorted(chosen)]


def cached_classifier(taxonomy_file: Path | None = None) -> Classifier:
    """The shipped classifier keeping its vectors in :data:`CACHE`, adapted to ``taxonomy_file``'s themes as
    ``load_classifier(themes=...)`` adapts it (the theme texts' vectors are cached too: each leave-one-theme-out
    pass adapts again)."""
    base = load_classifier()
    base.embedding_cache = CACHE
    if taxonomy_file is None or (taxonomy := load_taxonomy(taxonomy_file)).ids == base.theme_ids:
        return base
    return base.with_taxonomy(taxonomy)


def score(taxonomy_file: Path, frame: pd.DataFrame, examples: pd.DataFrame | None = None) -> dict:
    """Predictions of the shipped classifier adapted to the taxonomy (fitted on ``examples`` if given)."""
    taxonomy = load_taxonomy(taxonomy_file)
    classifier = cached_classifier(taxonomy_file)
    if examples is not None:
        classifier = fit_themes(cached_classifier(), taxonomy, examples["text"].tolist(),
                                examples["language"].tolist(), examples["themes"].tolist()).classifier
    started = time.perf_counter()
    predictions = classifier.predict(frame["text"].tolist(), frame["language"].tolist())
    seconds = time.perf_counter() - started
    ids = taxonomy.ids
    truth = np.asarray([[tid in str(t).split(";") for tid in ids] for t in frame["themes"]])
    predicted = np.asarray([[tid in p.themes for tid in ids] for p in predictions])
    scores = theme_prf(predicted, truth, None, ids)
    for j, tid in enumerate(ids):
        scores[tid] = {**scores[tid], "predicted": int(predicted[:, j].sum())}
    return {"n": len(frame), "items_per_second": round(len(frame) / seconds, 1), **scores}


def mean_scores(runs: list[dict]) -> dict:
    """The mean of :func:`score`'s results over draws: every number per theme (and ``micro``), plus the
    micro-F1's range (``micro_f1_min``, ``micro_f1_max``)."""
    out: dict = {}
    for key, value in runs[0].items():
        if isinstance(value, dict):
            out[key] = {m: float(np.mean([r[key][m] for r in runs])) for m in value}
        else:
            out[key] = float(np.mean([r[key] for r in runs]))
    f1 = [r["micro"]["f1"] for r in runs]
    out["micro_f1_min"], out["micro_f1_max"] = min(f1), max(f1)
    return out


def corpus_frame(split: str) -> pd.DataFrame:
    df = load_feedback(sample_dir(), split)
    return pd.DataFrame({"text": df["text"], "language": df["language"], "themes": [";".join(t) for t in df["themes"]]})


def shared_themes_frame(dataset: str) -> pd.DataFrame | None:
    """The theme-labelled sample of a shared dataset with its texts (themes without their sentiment); None if absent."""
    labels, texts = DATASETS / f"{dataset}_themes.csv", DATASETS / f"{dataset}.csv"
    if not (labels.is_file() and texts.is_file()):
        return None
    df = pd.read_csv(labels, dtype=str).fillna("").merge(pd.read_csv(texts, dtype=str)[["id", "text"]], on="id")
    themes = [";".join(pair.partition(":")[0].strip() for pair in cell.split(";") if pair.strip()) for cell in df["themes"]]
    return pd.DataFrame({"text": df["text"], "language": SHARED_THEME_FILES[dataset], "themes": themes})


@lru_cache(maxsize=1)
def _plain_relative_similarity() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The corpus train split as the plain encoder sees it: each text's relative similarity to every default
    theme (as a new theme's is computed), the labels, and the theme ids."""
    classifier = load_classifier()
    taxonomy = load_taxonomy(default_taxonomy_path())
    view = taxonomy_head.plain_zero_shot(taxonomy, list(range(len(taxonomy.ids))), classifier.plain_encoder, CACHE)
    frame = corpus_frame("train")
    texts, languages = frame["text"].tolist(), frame["language"].tolist()
    if classifier.config.normalises_encoder_input:
        texts = classifier._normalise(texts, languages)
    relative = view.relative_similarity(encode_cached(classifier.plain_encoder, texts, CACHE))
    truth = np.asarray([[tid in str(t).split(";") for tid in taxonomy.ids] for t in frame["themes"]])
    return relative, truth, taxonomy.ids


def plain_calibration(exclude: str | None = None) -> tuple[float, float, float]:
    """Slope, margin and F1 of the plain encoder's calibration (taxonomy_head.PLAIN_SLOPE and PLAIN_MARGIN)
    on the corpus train split, every default theme's column pooled (``exclude``: that theme's left out): the
    slope of a logistic regression on the relative similarity (C=10, balanced classes, clipped to 20-200), and
    the margin with the best F1 among the similarity's quantiles 0.5-0.995."""
    relative, truth, ids = _plain_relative_similarity()
    keep = [j for j, tid in enumerate(ids) if tid != exclude]
    r, t = relative[:, keep].ravel(), truth[:, keep].ravel()
    fit = fit_logistic(r.reshape(-1, 1), t.astype(int), c=10.0, seed=0, class_weight="balanced", max_iter=200)
    slope = float(np.clip(fit.coef[0, 0], 20, 200))
    f1, margin = max((2 * (t & (r >= b)).sum() / ((r >= b).sum() + t.sum()), b)
                     for b in np.quantile(r, np.linspace(0.5, 0.995, 100)))
    return slope, float(margin), float(f1)


@contextmanager
def plain_calibration_without(theme_id: str) -> Iterator[None]:
    """The plain encoder's constants fitted without ``theme_id``'s labels, for as long as the block runs."""
    saved = taxonomy_head.PLAIN_SLOPE, taxonomy_head.PLAIN_MARGIN
    taxonomy_head.PLAIN_SLOPE, taxonomy_head.PLAIN_MARGIN, _ = plain_calibration(theme_id)
    try:
        yield
    finally:
        taxonomy_head.PLAIN_SLOPE, taxonomy_head.PLAIN_MARGIN = saved


def speed(n: int, taxonomy_file: Path) -> None:
    """Items/s of ``predict`` on ``n`` corpus texts with the shipped themes, then with ``taxonomy_file``'s
    (zero-shot themes: the plain encoder too), and the resident memory before and after the plain encoder loads."""
    frame = corpus_frame("test")
    frame = pd.concat([frame] * (n // len(frame) + 1)).iloc[:n]
    texts, languages = frame["text"].tolist(), frame["language"].tolist()
    for themes in (default_taxonomy_path(), taxonomy_file):
        classifier = load_classifier(themes=themes)
        classifier.predict(texts[:32], languages[:32])  # warm up (and load the plain encoder)
        rss = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                   if line.startswith("VmRSS:")) / 1024
        started = time.perf_counter()
        classifier.predict(texts, languages)
        seconds = time.perf_counter() - started
        print(f"{Path(themes).name}: {n / seconds:.1f} items/s ({n} texts, {classifier.encoder.runtime} "
              f"{'int8' if classifier.encoder.quantized else 'fp32'}, plain encoder read: {classifier.reads_plain}), "
              f"RSS {rss:.0f} MB; load average {os.getloadavg()[0]:.1f}")


def loto_taxonomies(tmp: Path) -> Iterator[tuple[str, str, Path, list[str]]]:
    """Per default theme: its id, the new id it is given, a taxonomy file in ``tmp`` where it has that id (so it
    is zero-shot, the other themes keeping their trained heads), and the taxonomy's ids."""
    import yaml

    entries = yaml.safe_load(default_taxonomy_path().read_text(encoding="utf-8"))["themes"]
    for entry in entries:
        tid, new = entry["id"], f"{entry['id']}_new"
        path = tmp / f"loto_{tid}.yaml"
        path.write_text(yaml.safe_dump({"themes": [{**e, "id": new} if e is entry else e for e in entries]},
                                       allow_unicode=True), encoding="utf-8")
        yield tid, new, path, [new if e is entry else e["id"] for e in entries]


def renamed(frame: pd.DataFrame, tid: str, new: str) -> pd.DataFrame:
    """``frame`` with the theme ``tid`` labelled ``new``."""
    rename = lambda cell: ";".join(new if t == tid else t for t in str(cell).split(";") if t)  # noqa: E731
    return frame.assign(themes=frame["themes"].map(rename))


def leave_one_theme_out(shots: list[int], tmp: Path, test: pd.DataFrame | None = None,
                        draws: int = 1) -> dict[str, dict]:
    """Per default theme: P/R/F1 when it is zero-shot (and k-shot), the others keeping their trained heads.

    ``test``: the labelled texts scored (default: the corpus test split); k-shot examples come from the corpus
    train split, drawn ``draws`` times (the mean over the draws is kept).
    """
    test = corpus_frame("test") if test is None else test
    pool = corpus_frame("train") if shots else None
    out: dict[str, dict] = {}
    for tid, new, path, ids in loto_taxonomies(tmp):
        test_t = renamed(test, tid, new)
        with plain_calibration_without(tid):
            out[tid] = {"zero-shot": score(path, test_t)[new]}
            for k in shots:
                assert pool is not None  # k texts of every theme, as a team labels
                runs = [score(path, test_t, sample_shots(renamed(pool, tid, new), ids, k, seed))
                        for seed in range(draws)]
                out[tid][f"{k}-shot"] = mean_scores(runs)[new]
    return out


def competition_inputs(taxonomy_file: Path,
                       frame: pd.DataFrame) -> tuple[ThemeHead, np.ndarray, np.ndarray, np.ndarray]:
    """What :meth:`ThemeHead.compete` needs to score ``frame`` at any ratio: the adapted head, its blended
    probabilities before competition, the detection thresholds and the labels (``(n, k)``, the taxonomy's order)."""
    classifier = cached_classifier(taxonomy_file)
    x_tfidf, x = classifier.features(frame["text"].tolist(), frame["language"].tolist())
    head = classifier.themes
    assert head is not None
    p = head.combine(*head.parts(x, x_tfidf))
    truth = np.asarray([[tid in str(t).split(";") for tid in classifier.theme_ids] for t in frame["themes"]])
    return head, p, classifier.theme_thresholds, truth


def counts(detected: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """True positives, detections and labels, summed (micro-F1 = 2 tp / (detections + labels))."""
    return np.asarray([(detected & truth).sum(), detected.sum(), truth.sum()], dtype=np.int64)


def micro_f1(c: np.ndarray) -> str:
    """``F1 (P / R)`` of :func:`counts`."""
    tp, detected, labels = (int(v) for v in c)
    return f"{2 * tp / max(1, detected + labels):.3f} ({tp / max(1, detected):.2f} / {tp / max(1, labels):.2f})"


def loto_competition(frame: pd.DataFrame, ratios: list[float], tmp: Path) -> dict[float, np.ndarray]:
    """Leave one theme out on ``frame`` (as :func:`leave_one_theme_out`), zero-shot: per ratio of
    :meth:`ThemeHead.compete` (0: no competition), the :func:`counts` of the left-out themes, pooled."""
    out = {r: np.zeros(3, dtype=np.int64) for r in ratios}
    for tid, new, path, ids in loto_taxonomies(tmp):
        with plain_calibration_without(tid):
            head, p, thresholds, truth = competition_inputs(path, renamed(frame, tid, new))
        j = ids.index(new)
        assert head.competing.tolist() == [j]
        for r in ratios:
            out[r] += counts(head.compete(p, r)[:, j] >= thresholds[j], truth[:, j])
    return out


def taxonomy_competition(taxonomy_file: Path, frame: pd.DataFrame, ratios: list[float]) -> dict[float, np.ndarray]:
    """Every theme of a team's taxonomy (zero-shot where the classifier has no head for it): per ratio of
    :meth:`ThemeHead.compete`, the :func:`counts` over all the taxonomy's themes (as :func:`score`'s micro)."""
    head, p, thresholds, truth = competition_inputs(taxonomy_file, frame)
    return {r: counts(head.compete(p, r) >= thresholds[None, :], truth) for r in ratios}


def print_competition(tables: dict[str, dict[float, np.ndarray]], ratios: list[float]) -> None:
    """One row per set: micro-F1 (P / R) at each ratio."""
    print("| set | " + " | ".join("none" if r == 0 else f"ratio {r:g}" for r in ratios) + " |")
    print("|---|" + "---|" * len(ratios))
    for name, row in tables.items():
        print(f"| {name} | " + " | ".join(micro_f1(row[r]) for r in ratios) + " |", flush=True)


def print_loto(table: dict[str, dict], columns: list[str]) -> None:
    """Per-theme P / R / F1 of each column (themes with support), then the micro-F1 over every left-out theme
    (a theme without support counts its detections as false positives)."""
    print("| theme | " + " | ".join(f"{c} P / R / F1" for c in columns) + " | support |")
    print("|---|" + "---|" * (len(columns) + 1))
    for tid, row in table.items():
        if row[columns[0]]["support"]:
            print(f"| {tid} | " + " | ".join(f"{row[c]['precision']:.2f} / {row[c]['recall']:.2f} / "
                                           f"{row[c]['f1']:.2f}" for c in columns) + f" | {row[columns[0]]['support']} |")
    for c in columns:
        cells = [row[c] for row in table.values()]
        tp = sum(round(m["recall"] * m["support"], 3) for m in cells)  # a mean over draws: pooled over them
        micro = 2 * tp / max(1, sum(m["predicted"] + m["support"] for m in cells))
        mean_f1 = np.mean([m["f1"] for m in cells if m["support"]])
        print(f"{c}: micro-F1 over the left-out themes {micro:.3f}, mean F1 over those with support {mean_f1:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, nargs="*", default=[], help="Few-shot sizes per theme, e.g. 8 16 32.")
    parser.add_argument("--draws", type=int, default=3, help="Draws of few-shot examples to average (seeds 0..N-1).")
    parser.add_argument("--loto", action="store_true", help="Leave each default theme out on the sample corpus.")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--calibrate-plain", action="store_true",
                        help="Fit the plain encoder's slope and margin on the corpus train split.")
    parser.add_argument("--speed", type=int, default=0, help="Items/s with and without zero-shot themes on N texts.")
    parser.add_argument("--choose-competition", action="store_true",
                        help="Zero-shot micro-F1 per competition ratio, each default theme left out of the corpus "
                             "train split (how COMPETE_RATIO is chosen).")
    parser.add_argument("--competition", type=float, nargs="+", metavar="RATIO",
                        help="Zero-shot micro-F1 at these competition ratios (0: none) on the held-out sets.")
    args = parser.parse_args(argv)
    if args.calibrate_plain:
        slope, margin, f1 = plain_calibration()
        print(f"plain encoder, every default theme: slope {slope:.1f}, margin {margin:.4f} (F1 {f1:.3f} there); "
              f"models/taxonomy_head.py has {taxonomy_head.PLAIN_SLOPE}, {taxonomy_head.PLAIN_MARGIN}")
        for tid in _plain_relative_similarity()[2]:
            print(f"  without {tid}: slope {plain_calibration(tid)[0]:.1f}, margin {plain_calibration(tid)[1]:.4f}")
        return 0
    if args.speed:
        speed(args.speed, TAXONOMIES / "semeval_hotels.yaml")
        return 0
    if args.choose_competition:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            table = loto_competition(corpus_frame("train"), list(COMPETE_GRID), Path(tmp))
        print_competition({"corpus train split, leave one theme out": table}, list(COMPETE_GRID))
        best = max(COMPETE_GRID, key=lambda r: (2 * table[r][0] / max(1, table[r][1] + table[r][2]), -r))
        print(f"best ratio there: {best:g}; models/taxonomy_head.py has {taxonomy_head.COMPETE_RATIO}")
        return 0
    if not DATASETS.is_dir():
        print(f"no {DATASETS}: nothing to measure", file=sys.stderr)
        return 1
    if args.competition:
        import tempfile

        ratios = sorted(set(args.competition))
        with tempfile.TemporaryDirectory() as tmp:
            test = loto_competition(corpus_frame("test"), ratios, Path(tmp))
            tables = {"corpus test split, leave one theme out": test}
            print_competition(tables, ratios)
            tables = {"SemEval hotels, held-out fifth": taxonomy_competition(TAXONOMIES / "semeval_hotels.yaml",
                                                                             semeval_frame(), ratios),
                      "ParsiNLU food, test": taxonomy_competition(TAXONOMIES / "parsinlu_food.yaml", parsinlu_frame(),
                                                                  ratios)}
            print_competition(tables, ratios)
            for dataset in SHARED_THEME_FILES:
                frame = shared_themes_frame(dataset)
                if frame is not None:
                    print_competition({f"{dataset}_themes.csv, leave one theme out":
                                       loto_competition(frame, ratios, Path(tmp))}, ratios)
        return 0
    if args.loto:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            print("Sample corpus, test split:")
            if args.shots:
                print(f"(k-shot: mean over {args.draws} draws of examples)")
            print_loto(leave_one_theme_out(args.shots, Path(tmp), draws=args.draws),
                       ["zero-shot", *(f"{k}-shot" for k in args.shots)])
            shipped = score(default_taxonomy_path(), corpus_frame("test"))["micro"]
            print(f"reference: the shipped heads (every theme trained on all labels): micro-F1 {shipped['f1']:.3f} "
                  f"(P {shipped['precision']:.3f} R {shipped['recall']:.3f})")
            for dataset in SHARED_THEME_FILES:
                frame = shared_themes_frame(dataset)
                if frame is None:
                    print(f"\n{dataset}_themes.csv: absent, skipped")
                    continue
                print(f"\n{dataset}_themes.csv ({len(frame)} texts), zero-shot:")
                print_loto(leave_one_theme_out([], Path(tmp), frame), ["zero-shot"])
        return 0
    sets = {"parsinlu_food (fa, test)": (TAXONOMIES / "parsinlu_food.yaml", parsinlu_frame(), parsinlu_frame("dev")),
            "semeval16_hotels (ar, held-out fifth)": (TAXONOMIES / "semeval_hotels.yaml", semeval_frame(),
                                                      semeval_frame(held_out=False))}
    results = {}
    for name, (taxonomy, test, pool) in sets.items():
        results[f"{name} zero-shot"] = score(taxonomy, test)
        for k in args.shots:
            draws = [sample_shots(pool, load_taxonomy(taxonomy).ids, k, seed) for seed in range(args.draws)]
            runs = [score(taxonomy, test, shots) for shots in draws]
            texts = round(float(np.mean([len(shots) for shots in draws])))
            results[f"{name} {k}-shot (~{texts} texts, mean of {args.draws} draws)"] = mean_scores(runs)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for name, r in results.items():
        spread = f", draws {r['micro_f1_min']:.3f}-{r['micro_f1_max']:.3f}" if "micro_f1_min" in r else ""
        print(f"\n{name}: {r['n']:.0f} items, micro-F1 {r['micro']['f1']:.3f} "
              f"(P {r['micro']['precision']:.3f} R {r['micro']['recall']:.3f}{spread}), "
              f"{r['items_per_second']:.1f} items/s")
        print("| theme | P | R | F1 | support |\n|---|---|---|---|---|")
        for tid, m in r.items():
            if isinstance(m, dict) and tid != "micro":
                print(f"| {tid} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
