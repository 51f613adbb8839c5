"""Which labelled rows train the classifier, which are held out, and which teach neutral."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sada.models.data import (ARSARCASM, arsarcasm_held_out, calibration_rows, held_out, shared_datasets_dir,
                              shared_training_frame, sources_with_neutral)


@pytest.mark.parametrize("key", [
    "arsarcasm-training-0",     # a real id shape
    "arsarcasm-training-12547",
    "",                         # an empty id still lands in one bucket
    "مرحبا",                     # non-ASCII ids hash as UTF-8
])
def test_held_out_is_a_pure_function_of_the_id(key: str) -> None:
    assert held_out(key) == held_out(str(key))
    assert isinstance(held_out(key), bool)


def test_held_out_and_calibration_fractions() -> None:
    ids = [f"row-{i}" for i in range(5000)]
    assert 0.18 < np.mean([held_out(i) for i in ids]) < 0.22
    assert 0.13 < calibration_rows(ids).mean() < 0.17
    # the two splits are drawn independently (different salts)
    both = np.mean([held_out(i) for i in ids] & calibration_rows(ids))
    assert 0.01 < both < 0.05


def test_calibration_rows_do_not_depend_on_order_or_batch() -> None:
    texts = ["الطلب وصل متأخر", "سفارش دیر رسید", "الفاتورة غلط", "پیک مودب بود", "التطبيق يعلق"] * 3
    whole = calibration_rows(texts)
    assert whole.tolist() == [calibration_rows([t])[0] for t in texts]
    assert calibration_rows(texts[::-1]).tolist() == whole[::-1].tolist()


def test_sources_with_neutral_marks_two_class_sources() -> None:
    df = pd.DataFrame({
        "source": ["two.csv", "two.csv", "three.csv", "three.csv", "three.csv"],
        "label": ["positive", "negative", "positive", "neutral", "negative"],
    })
    assert sources_with_neutral(df).tolist() == [False, False, True, True, True]


@pytest.fixture(scope="module")
def arsarcasm() -> pd.DataFrame:
    root = shared_datasets_dir()
    if root is None or not (root / ARSARCASM).is_file():
        pytest.skip(f"../shared/datasets/{ARSARCASM} is not available (fresh clone)")
    return pd.read_csv(root / ARSARCASM, dtype=str, keep_default_na=False)


def test_arsarcasm_held_out_part_is_never_trained_on(arsarcasm: pd.DataFrame) -> None:
    train = shared_training_frame()
    trained = train[train["source"] == ARSARCASM]
    test = arsarcasm_held_out()
    assert len(trained) + len(test) == len(arsarcasm)
    assert not set(trained["id"]) & set(test["id"])
    assert not set(trained["text"]) & set(test["text"]) - set(arsarcasm.loc[~arsarcasm["id"].map(held_out), "text"])
    assert 0.18 < len(test) / len(arsarcasm) < 0.22
    # a real three-class test set: every class is there
    assert set(test["label"]) == {"negative", "neutral", "positive"}
