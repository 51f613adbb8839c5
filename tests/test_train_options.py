"""The training data choices of ``sada train``: which shared files, how many rows a source, and the rule
that decides a negative; each checked on what reaches TrainOptions and the written artifact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sada.cli import main
from sada.models.artifact_config import ArtifactConfig
from sada.models.data import (ALL_TRAIN_FILES, DATASETS_ENV, NEW_TRAIN_FILES, SHARED_TRAIN_FILES, calibration_rows,
                              check_shared_files, training_frame)
from sada.models.sentiment_training import choose_negative_weight, weigh_negative
from sada.models.train_driver import TrainOptions, parse_source_caps, recorded_choices
from sada.pipeline.errors import InputError

# Our own review sentences (never taken from a public dataset), a few per class and language.
SENTENCES = {
    "negative": ["سفارش خیلی دیر رسید و غذا سرد بود", "پشتیبانی اصلا جواب نداد", "الطلب وصل متأخر جداً",
                 "خدمة العملاء سيئة وما حد يرد", "کیفیت جنس خیلی پایین بود", "السعر غالي والجودة ضعيفة"],
    "neutral": ["ساعت کاری فروشگاه تا ده شب است", "سفارش امروز تحویل شد", "متى يفتح الفرع يوم الجمعة؟",
                "كم سعر الباقة الشهرية؟", "این مدل دو رنگ دارد", "وصلني الطلب اليوم"],
    "positive": ["غذا داغ و خوشمزه بود", "پیک خیلی مودب بود", "التوصيل سريع والمنتج ممتاز",
                 "الموظف كان محترم وحل مشكلتي بسرعة", "کیفیت عالی و قیمت مناسب", "جودة عالية وأنصح فيه"],
}


def _rows(prefix: str, place: str, copies: int) -> pd.DataFrame:
    """Labelled rows: every sentence ``copies`` times, each copy a distinct text (a place and its number)."""
    rows = [{"id": f"{prefix}-{label}-{i}-{k}", "text": f"{text} ({place} {k})", "label": label}
            for label, texts in SENTENCES.items() for i, text in enumerate(texts) for k in range(copies)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    """A shared datasets folder of our own sentences, under the names of two shared training files."""
    root = tmp_path_factory.mktemp("datasets")
    _rows("neshan", "شعبه", 6).to_csv(root / "fa_neshan_places.csv", index=False)     # a file with a held-out fifth
    _rows("snappfood", "واحد", 3).to_csv(root / "fa_snappfood_train.csv", index=False)  # a default file, read whole
    return root


def test_shared_file_names_are_checked() -> None:
    assert check_shared_files(("all",)) == ALL_TRAIN_FILES
    assert set(NEW_TRAIN_FILES) == set(ALL_TRAIN_FILES) - set(SHARED_TRAIN_FILES) and len(NEW_TRAIN_FILES) == 5
    with pytest.raises(InputError, match="a test file, never trained on"):
        check_shared_files(("fa_snappfood_test.csv",))
    with pytest.raises(InputError, match="not a shared training file"):
        check_shared_files(("fa_neshan.csv",))
    with pytest.raises(InputError, match="at least one shared training file"):
        check_shared_files(())


@pytest.mark.parametrize("specs, expected", [
    (["fa_neshan_places.csv=500"], {"fa_neshan_places.csv": 500}),
    (["new=2000"], {name: 2000 for name in NEW_TRAIN_FILES}),
    (["new=2000", "ar_arsas.csv=300"], {**{name: 2000 for name in NEW_TRAIN_FILES}, "ar_arsas.csv": 300}),
])
def test_source_caps_parse(specs: list[str], expected: dict[str, int]) -> None:
    assert dict(parse_source_caps(specs)) == expected


@pytest.mark.parametrize("spec, message", [
    ("fa_neshan_places.csv", "expected --source-cap NAME=N"),
    ("fa_neshan_places.csv=two", "at least 3 rows"),
    ("fa_neshan_places.csv=2", "at least 3 rows"),
])
def test_bad_source_caps_are_refused(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_source_caps([spec])


def test_a_cap_on_a_source_the_run_does_not_read_is_refused(tmp_path: Path, datasets: Path) -> None:
    with pytest.raises(InputError, match="a source this run reads"):
        TrainOptions(out=tmp_path / "out", datasets=datasets, source_caps=(("fa_neshan_places.csv", 10),))
    ok = TrainOptions(out=tmp_path / "out", datasets=datasets, shared_files=("fa_neshan_places.csv",),
                      source_caps=(("fa_neshan_places.csv", 10),))
    assert ok.caps == {"fa_neshan_places.csv": 10}


def test_a_source_cap_cuts_only_its_source(datasets: Path) -> None:
    files = ("fa_snappfood_train.csv", "fa_neshan_places.csv")
    whole = training_frame(datasets=datasets, shared_files=files)
    capped = training_frame(datasets=datasets, shared_files=files, source_caps={"fa_neshan_places.csv": 15})
    sizes, before = capped.groupby("source").size().to_dict(), whole.groupby("source").size().to_dict()
    assert sizes["fa_neshan_places.csv"] == 15 < before["fa_neshan_places.csv"]
    assert sizes["fa_snappfood_train.csv"] == before["fa_snappfood_train.csv"] == 54   # untouched, whole
    # the capped rows keep every class (scarce classes first, then equal shares)
    assert capped[capped["source"] == "fa_neshan_places.csv"]["label"].value_counts().to_dict() == {
        "negative": 5, "neutral": 5, "positive": 5}


def test_a_negative_weight_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="weight on P\\(negative\\) between 0.1 and 10"):
        TrainOptions(out=tmp_path / "out", negative_weight=0.0)
    assert TrainOptions(out=tmp_path / "out", negative_weight=1.5).negative_weight == 1.5


@pytest.mark.parametrize("value, expected", [(None, 1.0), ("1", 1.0), ("0.8", 0.8), ("auto", None), ("AUTO", None)])
def test_negative_weight_option(value: str | None, expected: float | None) -> None:
    from sada.models.train_driver import parse_negative_weight

    assert parse_negative_weight(value) == expected


def test_cli_refuses_a_bad_negative_weight(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "out"), "--negative-weight", "most",
                                       "--no-evaluate"])
    assert result.exit_code != 0 and "a number or auto" in result.output, result.output


def test_cli_refuses_a_test_file(tmp_path: Path, datasets: Path) -> None:
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "out"), "--datasets", str(datasets),
                                       "--shared-file", "fa_parsabsa_test.csv", "--no-evaluate"])
    assert result.exit_code != 0 and "a test file, never trained on" in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_negative_weight_is_the_best_mean_over_sources() -> None:
    # source a: negatives sit just under neutral, so a weight > 1 catches them; source b is unmoved by it
    a = np.array([[0.45, 0.55, 0.0], [0.1, 0.9, 0.0], [0.05, 0.0, 0.95]] * 5)
    b = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.0, 0.1, 0.9]] * 5)
    y = np.array([0, 1, 2] * 10)
    groups = np.array(["a"] * 15 + ["b"] * 15)
    rule = choose_negative_weight(np.vstack([a, b]), y, groups, (0.8, 1.0, 1.5, 3.0))
    assert rule["weight"] == 1.5   # 1.5 and 3.0 both fix a; the tie goes to the weight nearest 1
    assert rule["scores"]["1.5"]["mean_macro_f1"] == 1.0 > rule["scores"]["1.0"]["mean_macro_f1"]
    assert np.allclose(weigh_negative(a, 1.0), a) and np.allclose(weigh_negative(a, 2.0).sum(axis=1), 1.0)


@pytest.mark.slow
def test_cli_data_choices_reach_the_artifact(tmp_path: Path, datasets: Path, monkeypatch) -> None:
    """--shared-file and --source-cap reach TrainOptions, the rows trained on, config.json and the model card."""
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["train", "--out", str(out), "--datasets", str(datasets), "--seed", "3",
                                       "--shared-file", "fa_snappfood_train.csv", "--shared-file",
                                       "fa_neshan_places.csv", "--source-cap", "fa_neshan_places.csv=15",
                                       "--negative-weight", "auto", "--no-evaluate", "--json"])
    assert result.exit_code == 0, result.output
    text = (out / "config.json").read_text(encoding="utf-8")
    typed = ArtifactConfig.from_json(out / "config.json")
    assert typed.to_json() == text and typed.extra == {}  # a trained artifact round trips byte for byte
    assert typed.negative_rule.chosen == "validation" and "1.0" in typed.negative_rule.scores  # read as attributes
    config = json.loads(text)
    assert config["training_options"] == {"corpus": False, "per_source_cap": None,
                                          "shared_files": ["fa_snappfood_train.csv", "fa_neshan_places.csv"],
                                          "source_caps": {"fa_neshan_places.csv": 15}, "negative_weight": None}
    assert config["training_data"] == {"fa_neshan_places.csv": 15, "fa_snappfood_train.csv": 54}
    assert config["training_classes"]["fa_neshan_places.csv"] == {"negative": 5, "neutral": 5, "positive": 5}
    rule = config["negative_rule"]
    assert rule["chosen"] == "validation" and "1.0" in rule["scores"]
    best = max(m["mean_macro_f1"] for m in rule["scores"].values())
    assert rule["scores"][str(rule["weight"])]["mean_macro_f1"] == best   # the chosen weight scored best
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| fa_neshan_places.csv | 15 | 5 | 5 | 5 |" in card and "| fa_snappfood_train.csv | 54 |" in card
    assert "fa_neshan_places.csv 15" in card                       # the cap is said
    assert "`--corpus` was not given" in card and "hand-written sample corpus" not in card
    assert "## Negatives: the decision rule" in card
    # sada reproduce reads the choices back: the same options again
    again = TrainOptions(out=tmp_path / "again", datasets=datasets, **recorded_choices(config))
    assert (again.shared_files, again.caps, again.per_source_cap, again.negative_weight) == (
        ("fa_snappfood_train.csv", "fa_neshan_places.csv"), {"fa_neshan_places.csv": 15}, None, None)
    assert TrainOptions(out=tmp_path / "old").negative_weight == recorded_choices({})["negative_weight"] == 1.0


@pytest.mark.slow
def test_finetune_reads_the_same_rows(tmp_path: Path, datasets: Path) -> None:
    """sada train --finetune fine-tunes on the rows the heads train on: the shared files and caps given."""
    from sada.models.finetune import finetune_encoder

    files, caps = ("fa_snappfood_train.csv", "fa_neshan_places.csv"), {"fa_neshan_places.csv": 15}
    counts = []
    for k, source_caps in enumerate((caps, None)):
        _, _, info = finetune_encoder(data_files=[], corpus=None, datasets=datasets, seed=1, epochs=1,
                                      encoder_path=None, out=tmp_path / f"tuned{k}", max_steps=1, batch_size=8,
                                      top_layers=1, shared_files=files, source_caps=source_caps)
        frame = training_frame(datasets=datasets, shared_files=files, seed=1, source_caps=source_caps)
        # every row of the heads' frame but the calibration rows (those calibrate the heads afterwards)
        assert info["rows"] == int((~calibration_rows(frame["text"].tolist())).sum())
        counts.append(info["rows"])
    assert counts[0] < counts[1]   # the cap cut the fine-tuning rows too
