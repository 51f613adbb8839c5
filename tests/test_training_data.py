"""Which labelled rows train the classifier, which are held out, and which teach neutral."""

from __future__ import annotations

import json

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


# --- corpus statements: sentence-level neutral facts next to opinions on the same topic ------------------

STATEMENT_KEYS = {"text", "language", "variety", "sentiment", "domain", "kind", "group"}
STATEMENT_DOMAINS = {"ecommerce", "telecom", "banking", "restaurants", "electronics", "travel", "books", "home"}
STATEMENT_VARIETIES = {"ar": {"msa", "gulf", "egyptian", "levantine", "maghrebi"}, "fa": {"formal", "colloquial"}}


def _statements(lang: str) -> list[dict]:
    from sada.pipeline.corpus import sample_corpus_dir

    path = sample_corpus_dir() / "statements" / f"{lang}_statements.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_statements_are_grouped_neutral_fact_positive_and_negative_opinion(lang: str) -> None:
    rows = _statements(lang)
    assert len(rows) >= 300
    groups: dict[str, list[dict]] = {}
    for row in rows:
        assert set(row) == STATEMENT_KEYS, row
        assert row["language"] == lang and row["variety"] in STATEMENT_VARIETIES[lang], row
        assert row["domain"] in STATEMENT_DOMAINS and row["group"].startswith(f"{lang}-"), row
        # a neutral line states, narrates or asks; a polar line judges
        assert (row["kind"] in ("fact", "question", "narration")) == (row["sentiment"] == "neutral"), row
        assert row["kind"] in ("fact", "question", "narration", "opinion"), row
        groups.setdefault(row["group"], []).append(row)
    for group, members in groups.items():
        assert sorted(m["sentiment"] for m in members) == ["negative", "neutral", "positive"], group
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts)


def test_statements_train_as_their_own_source_with_neutral() -> None:
    from sada.models.data import STATEMENTS_SOURCE, statements_frame, training_frame

    frame = statements_frame()
    assert set(frame["language"]) == {"ar", "fa"} and frame["label"].notna().all()
    df = training_frame(use_corpus=True, use_shared=False)
    mine = df["source"] == STATEMENTS_SOURCE
    assert mine.sum() == len(frame.drop_duplicates(subset=["text", "label"]))
    # a source with a neutral class teaches subjectivity
    assert sources_with_neutral(df)[mine.to_numpy()].all()
    # statements are training data only: never feedback items of the simulated customers
    from sada.pipeline.corpus import load_feedback

    assert not set(frame["text"]) & set(load_feedback()["text"])


def _shingles(text: str, k: int = 4) -> set[str]:
    import re

    flat = re.sub(r"\s+", " ", re.sub(r"[^\w\s]", "", text)).strip()
    return {flat[i:i + k] for i in range(max(1, len(flat) - k + 1))}


def test_sentence_probe_is_independent_of_the_training_statements() -> None:
    """The probe (benchmarks/data/sentence_probe.csv) measures neutral on sentences no training row resembles:
    no probe text shares 40 % of its character 4-grams (Jaccard) with a corpus statement."""
    from pathlib import Path

    probe = pd.read_csv(Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "sentence_probe.csv")
    assert set(probe["label"]) == {"negative", "neutral", "positive"} and set(probe["language"]) == {"ar", "fa"}
    assert (probe["label"] == "neutral").mean() > 0.4
    statements = [_shingles(r["text"]) for lang in ("ar", "fa") for r in _statements(lang)]
    close = []
    for pid, text in zip(probe["id"], probe["text"]):
        mine = _shingles(text)
        best = max(len(mine & other) / len(mine | other) for other in statements)
        if best >= 0.4:
            close.append((pid, round(best, 2)))
    assert not close, close
