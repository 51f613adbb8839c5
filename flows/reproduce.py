"""Flow ``reproduce``: the researchers' one command, with the same numbers on every run.

Retrains the classifier heads with a fixed seed (corpus train split plus the
public training sets of the shared datasets folder it is given) on the default model's fine-tuned encoder
layers (fine-tuning itself takes about 40 minutes: ``sada train --finetune``), evaluates on the corpus test split and
on every public test set of that folder, analyses the corpus with the retrained
model into a fresh store, scores churn against the simulator's truth, and writes
the tables as markdown (``<out>/tables.md``, also a Prefect artifact).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from sada.models.metrics import binary_f1, theme_detection_metrics, theme_set_matrix
from sada.pipeline.analyze import analyze
from sada.pipeline.churn import score_churn
from sada.pipeline.config import load_settings
from sada.corpus import sample_dir
from sada.pipeline.corpus import load_truth
from sada.pipeline.store import Store

__all__ = ["reproduce", "theme_metrics", "tables_markdown", "oracle_metrics"]


def theme_metrics(truth: list[set[str]], predicted: list[set[str]], theme_ids: list[str]) -> dict[str, Any]:
    """Micro- and macro-F1 of multi-label theme detection, and F1 per theme.

    Example:
        >>> m = theme_metrics([{"billing"}, set()], [{"billing", "app"}, set()], ["billing", "app"])
        >>> round(m["micro_f1"], 3), m["per_theme_f1"]["billing"]
        (0.667, 1.0)
    """
    y, p = theme_set_matrix(truth, theme_ids), theme_set_matrix(predicted, theme_ids)
    scores = theme_detection_metrics(p.astype(bool), y, None, theme_ids)
    return {"micro_f1": scores["micro_f1"], "macro_f1": scores["macro_f1"],
            "per_theme_f1": {t: binary_f1(y[:, j], p[:, j]) for j, t in enumerate(theme_ids)}, "n": len(truth)}


@task(cache_policy=NO_CACHE)
def retrain(model_dir: str, seed: int, datasets: str | None, corpus_dir: str) -> str:
    """Retrain the heads on the default model's fine-tuned encoder layers (``sada train --finetune`` redoes those)."""
    from sada.models.artifact_config import ArtifactConfig
    from sada.models.classifier import DEFAULT_ARTIFACT
    from sada.models.finetune import OVERLAY_FILE
    from sada.models.train_driver import TrainOptions, recorded_choices, run_training

    overlay = DEFAULT_ARTIFACT / OVERLAY_FILE
    shipped = ArtifactConfig.from_json(DEFAULT_ARTIFACT / "config.json")
    # the shipped heads' data choices (shared files, caps), so the same seed gives the shipped model again
    choices = recorded_choices(shipped) if datasets is not None else {}
    result = run_training(TrainOptions(out=Path(model_dir), seed=seed, corpus=Path(corpus_dir),
                                       datasets=None if datasets is None else Path(datasets), epochs=1,
                                       run_eval=False, overlay=overlay if overlay.is_file() else None, **choices))
    return result["model_version"]


@task(cache_policy=NO_CACHE)
def evaluate(model_dir: str, datasets: str | None, corpus_dir: str) -> dict[str, Any]:
    """The corpus's test split (sentiment, themes) and the public test sets of ``datasets``."""
    from sada.models.classifier import Classifier
    from sada.models.data import corpus_training_frame
    from sada.models.evaluation import evaluate_frame, evaluate_shared

    classifier = Classifier.from_pretrained(model_dir)
    test = corpus_training_frame(Path(corpus_dir), "test")
    corpus_sentiment = evaluate_frame(classifier, test, "sentiment", name="corpus_test.csv")
    predictions = classifier.predict(test["text"].tolist(), test["language"].tolist())
    corpus_themes = theme_metrics([set(t) for t in test["themes"]], [set(p.themes) for p in predictions],
                                  classifier.theme_ids)
    by_language = {}
    for language in ("ar", "fa"):
        rows = np.flatnonzero(test["language"].to_numpy() == language)
        labels = test["label"].to_numpy()[rows]
        guesses = np.array([predictions[i].sentiment for i in rows])
        by_language[language] = {"n": int(len(rows)), "accuracy": float((labels == guesses).mean())}
    return {"corpus_sentiment": corpus_sentiment, "corpus_themes": corpus_themes,
            "corpus_by_language": by_language,
            "shared": evaluate_shared(classifier, None if datasets is None else Path(datasets), int8_too=False),
            "model_version": classifier.model_version}


@task(cache_policy=NO_CACHE)
def analyse_and_score(model_dir: str, store_url: str, seed: int, corpus_dir: str) -> dict[str, Any]:
    """Analyse the corpus with the retrained model, then score its customers over the simulator's window.

    The simulator's truth is read here, by the researchers' command, and handed to the product's churn
    step as plain arguments (as-of date, order window); its oracle AUC goes beside the held-out metrics.
    """
    from sada.models.classifier import load_classifier  # lazy: torch's import is a measured cost

    settings = load_settings(database_url=store_url)
    store = Store.open(store_url)
    corpus = Path(corpus_dir)
    truth = load_truth(corpus)
    analysis = analyze([str(corpus / "feedback.csv")], store, settings, classifier=load_classifier(model_dir))
    churn = score_churn(store, customers_path=corpus / "customers.csv", as_of=truth["window"]["end"],
                        orders_since=truth["window"]["start"], seed=seed)
    return {"analysis": analysis.as_dict(), "churn": {**churn.summary(), **oracle_metrics(truth)},
            "drivers": churn.drivers.head(13).round(3).to_dict("records")}


def oracle_metrics(truth: dict[str, Any]) -> dict[str, float]:
    """The simulator's oracle AUC (its true churn probabilities against the outcomes), as the tables print it.

    Example:
        >>> oracle_metrics({"oracle_auc": 0.7412345})
        {'oracle_auc': 0.7412}
    """
    return {"oracle_auc": round(float(truth["oracle_auc"]), 4)}


def tables_markdown(evaluation: dict[str, Any], downstream: dict[str, Any], seed: int) -> str:
    """The tables the README shows, as markdown (no timings, so two runs print the same text)."""
    def f(x: Any) -> str:
        return f"{x:.3f}" if isinstance(x, float) else str(x)

    cs, ct = evaluation["corpus_sentiment"], evaluation["corpus_themes"]
    # the version without its training date, so a rerun on another day prints the same text
    model = re.sub(r"-\d{8}-", "-", evaluation["model_version"])
    lines = [f"# Sada reproduction (seed {seed}, model {model})", "",
             "## Classifier", "", "| data | task | n | accuracy | macro-F1 | TF-IDF+LR accuracy | TF-IDF+LR macro-F1 |",
             "|---|---|---|---|---|---|---|",
             f"| corpus test split | sentiment | {cs['n']} | {f(cs['accuracy'])} | {f(cs['macro_f1'])} | | |",
             f"| corpus test split | themes (micro-F1 / macro-F1) | {ct['n']} | {f(ct['micro_f1'])} | "
             f"{f(ct['macro_f1'])} | | |"]
    for row in evaluation["shared"]:
        lines.append(f"| {row.get('file')} | {row.get('task')} | {row.get('n')} | {f(row.get('accuracy'))} | "
                     f"{f(row.get('macro_f1'))} | {f(row.get('baseline_accuracy', ''))} | "
                     f"{f(row.get('baseline_macro_f1', ''))} |")
    lines += ["", "| corpus test split | n | sentiment accuracy |", "|---|---|---|"]
    lines += [f"| {lang} | {v['n']} | {f(v['accuracy'])} |" for lang, v in evaluation["corpus_by_language"].items()]
    churn = downstream["churn"]
    lines += ["", "## Churn (simulated customers)", "", "| model | AUC |", "|---|---|",
              f"| Sada (held-out, n={churn.get('n')}) | {f(churn.get('auc'))} |",
              f"| Sada, mean over seeded splits {f(churn.get('auc_seeds'))} | {f(churn.get('auc_mean'))} |",
              f"| oracle (simulator's true probabilities) | {f(churn.get('oracle_auc'))} |",
              f"| baseline: recency-frequency only | {f(churn.get('baseline_rf_auc'))} |",
              f"| baseline: NPS only | {f(churn.get('baseline_nps_auc'))} |", "",
              f"PR-AUC {f(churn.get('pr_auc'))}, top-decile lift {f(churn.get('top_decile_lift'))}, "
              f"Brier {f(churn.get('brier'))}.", "",
              "| theme | lift | 95% CI | model odds ratio | customers lost |", "|---|---|---|---|---|"]
    for d in downstream["drivers"]:
        lines.append(f"| {d['theme']} | {f(d['lift'])} | {f(d['lift_lower'])}-{f(d['lift_upper'])} | "
                     f"{f(d['model_odds_ratio'])} | {f(d['customers_lost'])} |")
    return "\n".join(lines) + "\n"


@flow(name="reproduce", log_prints=True)
def reproduce(out_dir: str = "out/reproduce", seed: int = 0, datasets: str | None = None,
              corpus_dir: str | None = None) -> str:
    """Retrain, evaluate, analyse and score churn; write and return the tables (markdown).

    ``datasets`` is the shared public datasets folder (``sada reproduce --datasets``): its training files
    train the heads and its test files are scored; None leaves the public sets out. ``corpus_dir`` is the
    corpus folder (None: the sample corpus, :func:`sada.corpus.sample_dir`): this is the researchers'
    command, so it is the one flow that looks the sample corpus up.
    """
    corpus = str(sample_dir() if corpus_dir is None else Path(corpus_dir))
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model_dir = str(out / "model")
    retrain(model_dir, seed, datasets, corpus)
    evaluation = evaluate(model_dir, datasets, corpus)
    downstream = analyse_and_score(model_dir, f"sqlite:///{(out / 'sada.sqlite').resolve()}", seed, corpus)
    tables = tables_markdown(evaluation, downstream, seed)
    (out / "tables.md").write_text(tables, encoding="utf-8")
    create_markdown_artifact(key="reproduction-tables", markdown=tables, description="Sada's reproduction tables")
    get_run_logger().info("tables written to %s", out / "tables.md")
    return tables
