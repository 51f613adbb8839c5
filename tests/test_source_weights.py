"""``sada train --source-weight`` and the fine-tuning budget options: parsing, checks, the weighted fits,
and what reaches config.json, the model card and ``sada reproduce``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sada.cli import main
from sada.models.artifact_config import ArtifactConfig
from sada.models.data import DATASETS_ENV, NEW_TRAIN_FILES
from sada.models.heads import SENTIMENTS, view_proba
from sada.models.logistic import fit_binary_logistic, unit_mean_weights
from sada.models.sentiment_training import fit_polar_view
from sada.models.train_driver import TrainOptions, parse_source_weights, recorded_choices
from sada.pipeline.errors import InputError

# Our own review sentences (never taken from a public dataset).
SENTENCES = {
    "negative": ["سفارش خیلی دیر رسید و غذا سرد بود", "پشتیبانی اصلا جواب نداد", "الطلب وصل متأخر جداً",
                 "خدمة العملاء سيئة وما حد يرد"],
    "neutral": ["ساعت کاری فروشگاه تا ده شب است", "سفارش امروز تحویل شد", "متى يفتح الفرع يوم الجمعة؟",
                "كم سعر الباقة الشهرية؟"],
    "positive": ["غذا داغ و خوشمزه بود", "پیک خیلی مودب بود", "التوصيل سريع والمنتج ممتاز",
                 "الموظف كان محترم وحل مشكلتي بسرعة"],
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    """A shared datasets folder of our own sentences under two shared training files' names."""
    root = tmp_path_factory.mktemp("datasets")
    for name, place, copies in (("fa_neshan_places.csv", "شعبه", 6), ("fa_snappfood_train.csv", "واحد", 4)):
        rows = [{"id": f"{name}-{label}-{i}-{k}", "text": f"{text} ({place} {k})", "label": label}
                for label, texts in SENTENCES.items() for i, text in enumerate(texts) for k in range(copies)]
        pd.DataFrame(rows).to_csv(root / name, index=False)
    return root


@pytest.mark.parametrize("specs, expected", [
    (["corpus=2"], {"corpus": 2.0}),
    (["new=0.25"], {name: 0.25 for name in NEW_TRAIN_FILES}),
    (["new=0.25", "ar_arsas.csv=1"], {**{name: 0.25 for name in NEW_TRAIN_FILES}, "ar_arsas.csv": 1.0}),
])
def test_source_weights_parse(specs: list[str], expected: dict[str, float]) -> None:
    assert dict(parse_source_weights(specs)) == expected


@pytest.mark.parametrize("spec, message", [
    ("corpus", "expected --source-weight NAME=W"),  # no '='
    ("=2", "expected --source-weight NAME=W"),  # no name
    ("corpus=heavy", "above 0 and at most 100"),  # not a number
    ("corpus=0", "above 0 and at most 100"),  # a zero weight would drop the source: --source-cap's job
    ("corpus=-1", "above 0 and at most 100"),
    ("corpus=101", "above 0 and at most 100"),
])
def test_bad_source_weights_are_refused(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_source_weights([spec])


def test_a_weight_on_a_source_the_run_does_not_read_is_refused(tmp_path: Path, datasets: Path) -> None:
    with pytest.raises(InputError, match="--source-weight for a source this run reads"):
        TrainOptions(out=tmp_path / "out", datasets=datasets, source_weights=(("fa_neshan_places.csv", 2.0),))
    ok = TrainOptions(out=tmp_path / "out", datasets=datasets, shared_files=("fa_neshan_places.csv",),
                      source_weights=(("fa_neshan_places.csv", 2.0),))
    assert ok.weights == {"fa_neshan_places.csv": 2.0}


def test_finetune_budget_needs_finetune(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected --finetune with --finetune-steps or --finetune-lr"):
        TrainOptions(out=tmp_path / "out", finetune_steps=200)
    with pytest.raises(InputError, match="--finetune-steps of at least 1"):
        TrainOptions(out=tmp_path / "out", finetune=True, finetune_steps=0)
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "out"), "--finetune-lr", "2e-5"])
    assert result.exit_code != 0 and "expected --finetune with" in result.output, result.output


def test_weights_keep_their_ratios_at_mean_one() -> None:
    w = unit_mean_weights(np.array(["old", "new", "new", "new", "new"]), {"new": 0.25})
    assert np.isclose(w.mean(), 1.0) and np.isclose(w[0] / w[1], 4.0)
    # only the ratios matter: the same weights, said either way
    assert np.allclose(w, unit_mean_weights(np.array(["old", "new", "new", "new", "new"]), {"old": 4.0}))


def test_a_row_weighed_twice_fits_as_that_row_twice() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    weight = np.where(np.arange(60) < 20, 2.0, 1.0)
    weighed = fit_binary_logistic(x, y, 1.0, 0, sample_weight=weight)
    twice = fit_binary_logistic(np.vstack([x, x[:20]]), np.concatenate([y, y[:20]]), 1.0, 0)
    unweighed = fit_binary_logistic(x, y, 1.0, 0)
    assert np.allclose(weighed[0], twice[0], atol=1e-3) and abs(weighed[1] - twice[1]) < 1e-3
    assert not np.allclose(weighed[0], unweighed[0], atol=1e-3)


def test_the_heavier_source_decides_a_view_where_sources_disagree() -> None:
    """Two sources label the same feature the opposite way: the view follows the one weighed up."""
    rng = np.random.default_rng(1)
    x = np.vstack([rng.normal(1.0, 0.3, size=(40, 2)), rng.normal(-1.0, 0.3, size=(40, 2))])
    pos, neg = SENTIMENTS.index("positive"), SENTIMENTS.index("negative")
    # source a: high x positive; source b (the same points): high x negative
    y = np.concatenate([[pos] * 40, [neg] * 40, [neg] * 40, [pos] * 40])
    xx, sources = np.vstack([x, x]), np.array(["a"] * 80 + ["b"] * 80)
    probe = np.array([[1.0, 1.0]])
    for heavy, expected in (("a", pos), ("b", neg)):
        w = unit_mean_weights(sources, {heavy: 4.0})
        head = fit_polar_view(xx, y, np.zeros(160, dtype=bool), 1.0, sample_weight=w)
        assert int(view_proba(head, probe).argmax(axis=1)[0]) == expected


@pytest.mark.slow
def test_cli_source_weights_reach_the_artifact_and_reproduce(tmp_path: Path, datasets: Path, monkeypatch) -> None:
    """--source-weight moves the heads, is recorded in config.json and the card, and sada reproduce reads it."""
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    base = ["train", "--datasets", str(datasets), "--shared-file", "fa_snappfood_train.csv", "--shared-file",
            "fa_neshan_places.csv", "--no-evaluate", "--json"]
    for name, extra in (("plain", []), ("weighed", ["--source-weight", "fa_snappfood_train.csv=5"])):
        result = CliRunner().invoke(main, base + ["--out", str(tmp_path / name)] + extra)
        assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "weighed" / "config.json").read_text(encoding="utf-8"))
    assert config["training_options"]["source_weights"] == {"fa_snappfood_train.csv": 5.0}
    assert "source_weights" not in json.loads((tmp_path / "plain" / "config.json").read_text("utf-8"))[
        "training_options"]   # absent when every row weighs 1: older artifacts' files stay as they were
    assert ArtifactConfig.from_json(tmp_path / "weighed" / "config.json").to_json() == (
        tmp_path / "weighed" / "config.json").read_text(encoding="utf-8")
    card = (tmp_path / "weighed" / "README.md").read_text(encoding="utf-8")
    assert "fa_snappfood_train.csv x5" in card
    plain = (tmp_path / "plain" / "weights.safetensors").read_bytes()
    assert plain != (tmp_path / "weighed" / "weights.safetensors").read_bytes()
    again = TrainOptions(out=tmp_path / "again", datasets=datasets, **recorded_choices(config))
    assert again.weights == {"fa_snappfood_train.csv": 5.0}


@pytest.mark.slow
def test_cli_finetune_budget_is_recorded(tmp_path: Path, datasets: Path, monkeypatch) -> None:
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    out = tmp_path / "tuned"
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--datasets", str(datasets), "--shared-file",
                                       "fa_neshan_places.csv", "--finetune", "--finetune-steps", "1",
                                       "--finetune-lr", "1e-5", "--no-evaluate", "--json"])
    assert result.exit_code == 0, result.output
    facts = ArtifactConfig.from_json(out / "config.json").finetune
    assert (facts.steps, facts.lr, facts.epochs) == (1, 1e-5, 3)
