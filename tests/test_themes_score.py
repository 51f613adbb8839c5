"""`sada themes score`: a taxonomy's detection quality on a team's labelled texts, per theme and micro."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sada

REPO = Path(__file__).resolve().parent.parent
SADA = [sys.executable, "-m", "sada.cli"]
DEFAULT_THEMES = REPO / "pipeline" / "taxonomies" / "default.yaml"


def _score(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SADA, "themes", "score", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_scores_agree_with_the_predictions_of_analyze_texts(tmp_path):
    """20 Arabic and 20 Persian corpus test reviews in one file (one model load per path)."""
    corpus = pd.read_csv(REPO / "corpus" / "feedback.csv", dtype=str, keep_default_na=False)
    test = corpus[corpus["split"] == "test"]
    sample = pd.concat([test[test["language"] == "ar"].head(20), test[test["language"] == "fa"].head(20)])
    labels = tmp_path / "labels.xlsx"
    sample[["text", "themes", "language"]].to_excel(labels, index=False)
    result = _score("--themes", str(DEFAULT_THEMES), "--examples", str(labels), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 40
    predicted = [set(r["themes"]) for r in sada.analyze_texts(sample["text"].tolist(), themes=DEFAULT_THEMES)]
    truth = [set(filter(None, cell.split(";"))) for cell in sample["themes"]]
    for tid, m in report["themes"].items():  # each theme's counts, recomputed from another path
        assert m["support"] == sum(tid in t for t in truth)
        assert m["predicted"] == sum(tid in p for p in predicted)
        assert not m["zero_shot"]  # the default ids keep their trained heads
    hits = sum(len(p & t) for p, t in zip(predicted, truth))
    assert report["micro"]["recall"] == round(hits / sum(map(len, truth)), 3)
    assert report["micro"]["precision"] == round(hits / sum(map(len, predicted)), 3)


@pytest.mark.parametrize("cell, found", [
    ("atm", "atm"),                 # a theme the taxonomy does not have
    ("delivery;atm ; cards", "atm, cards"),  # several, with spaces around them
])
def test_unknown_theme_ids_fail_before_the_model_loads(tmp_path, cell, found):
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"text": ["التوصيل تأخر", "قیمت بالاست"], "themes": [cell, ""]}).to_csv(labels, index=False)
    result = _score("--themes", str(DEFAULT_THEMES), "--examples", str(labels), "--model", str(tmp_path / "none"))
    assert result.returncode != 0
    assert f"expected theme ids of {DEFAULT_THEMES} in the themes column, found {found};" in result.stderr


def test_labelled_examples_are_read_once_for_fit_and_score(tmp_path):
    from sada.models.evaluation import theme_examples
    from sada.pipeline.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(DEFAULT_THEMES)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"text": ["التوصيل تأخر ساعتين والأكل وصل بارد", "قیمت‌ها خیلی بالاست و پیک دیر رسید", "  "],
                  "themes": ["delivery", "price ; delivery", "price"]}).to_csv(labels, index=False)
    examples = theme_examples(labels, taxonomy)
    assert examples.languages == ["ar", "fa"]  # no language column: identified; the blank text is dropped
    assert examples.labels == ["delivery", "price ; delivery"]
    delivery, price = taxonomy.ids.index("delivery"), taxonomy.ids.index("price")
    assert examples.truth.sum(axis=1).tolist() == [1, 2] and examples.truth[1, [delivery, price]].tolist() == [1, 1]
