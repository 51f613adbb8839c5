"""Which labelled rows train the classifier, which are held out, and which teach neutral."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sada.corpus import sample_dir
from sada.models.data import (ALL_TRAIN_FILES, ARSARCASM, DATASETS_ENV, HELD_OUT_SETS, STATEMENTS_SOURCE, HeldOutSet,
                              calibration_rows, corpus_training_frame, held_out, held_out_frames, shared_datasets_dir,
                              shared_source_frame, shared_training_frame, sources_with_neutral, statements_frame,
                              training_frame)
from sada.pipeline.corpus import load_feedback
from sada.pipeline.errors import CorpusError, InputError


@pytest.mark.parametrize("key, expected", [
    ("arsarcasm-training-0", False),      # a real id shape, trained on
    ("arsarcasm-training-3", True),       # a real id shape, held out
    ("arsarcasm-training-12547", True),
    ("", False),                          # an empty id still lands in one bucket
    ("مرحبا", False),                      # non-ASCII ids hash as UTF-8
])
def test_held_out_is_a_fixed_function_of_the_id(key: str, expected: bool) -> None:
    """The split is pinned: the same rows are held out on every machine and run (salted SHA-1, not hash())."""
    assert held_out(key) is expected
    bucket = int(hashlib.sha1(f"sada-test|{key}".encode("utf-8")).hexdigest()[:8], 16) % 100
    assert held_out(key) == (bucket < 20)


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
def arsarcasm(shared_datasets: Path) -> pd.DataFrame:
    if not (shared_datasets / ARSARCASM).is_file():
        pytest.skip(f"{shared_datasets / ARSARCASM} is not available (fresh clone)")
    return pd.read_csv(shared_datasets / ARSARCASM, dtype=str, keep_default_na=False)


def test_arsarcasm_held_out_part_is_never_trained_on(arsarcasm: pd.DataFrame, shared_datasets: Path) -> None:
    train = shared_training_frame(shared_datasets)
    trained = train[train["source"] == ARSARCASM]
    split = shared_source_frame(shared_datasets, ARSARCASM, "held-out")
    assert len(trained) + len(split) == len(arsarcasm)                  # split by id, every row on one side
    assert not set(trained["id"]) & set(split["id"])
    assert 0.18 < len(split) / len(arsarcasm) < 0.22
    test = dict((spec.file, df) for spec, df in held_out_frames(shared_datasets))[ARSARCASM]
    assert not set(trained["text"]) & set(test["text"])                 # a tweet repeated under another id: not scored
    assert len(split) - 50 < len(test) <= len(split)
    # a real three-class test set: every class is there
    assert set(test["label"]) == {"negative", "neutral", "positive"}


@pytest.fixture(scope="module")
def held_out_parts(shared_datasets: Path) -> dict[str, pd.DataFrame]:
    """Every held-out part in the shared datasets folder, as evaluation scores it (skips on a fresh clone)."""
    parts = {spec.file: df for spec, df in held_out_frames(shared_datasets)}
    if len(parts) < len(HELD_OUT_SETS):
        pytest.skip(f"{shared_datasets} lacks some of {', '.join(s.file for s in HELD_OUT_SETS)} (fresh clone)")
    return parts


@pytest.fixture(scope="module")
def everything_trainable(shared_datasets: Path) -> pd.DataFrame:
    """What a training run reads when it is handed every shared training file."""
    return shared_training_frame(shared_datasets, ALL_TRAIN_FILES)


@pytest.mark.parametrize("spec", HELD_OUT_SETS, ids=lambda s: s.file)
def test_held_out_parts_are_disjoint_from_what_training_reads(spec: HeldOutSet, shared_datasets: Path,
                                                              held_out_parts: dict[str, pd.DataFrame],
                                                              everything_trainable: pd.DataFrame) -> None:
    """For every source with a held-out part: no id, no group and no text of it is trained on, from any file."""
    test = held_out_parts[spec.file]
    raw = pd.read_csv(shared_datasets / spec.file, dtype=str, keep_default_na=False)
    trained = everything_trainable[everything_trainable["source"] == spec.file]
    assert not set(test["id"]) & set(trained["id"])
    assert not set(test["text"]) & set(everything_trainable["text"])   # nor an equal text of another file
    # about a fifth of the file's scored rows (of its groups for SemEval), and a real three-class set
    assert 0.17 < len(test) / (len(test) + len(trained)) < 0.23, (len(test), len(trained))
    assert set(test["label"]) == {"negative", "neutral", "positive"}
    if spec.key != "id":  # split by group: no review has sentences on both sides
        keys = raw.set_index("id")[spec.key]
        assert not set(keys[test["id"]]) & set(keys[trained["id"]])
    # left-out labels (mixed) are neither scored nor trained on
    for left in spec.leave_out:
        assert (raw[spec.label_column] == left).any()
        assert not test["label_raw"].isin([left]).any() and not trained["label_raw"].isin([left]).any()


@pytest.mark.parametrize("key, group, held", [
    ("semeval16-hotels-train-0", "456", False),   # a sentence of review 456: the review decides, not the sentence
    ("semeval16-hotels-train-1", "456", False),   # the same review: the same side
    ("semeval16-hotels-train-9", "12", True),     # another review, held out
])
def test_a_grouped_split_follows_the_group(key: str, group: str, held: bool) -> None:
    spec = HeldOutSet("ar_semeval16_hotels_train.csv", key="review_id")
    df = pd.DataFrame({"id": [key], "review_id": [group]})
    assert spec.held_out(df).tolist() == [held]
    assert held == held_out(f"ar_semeval16_hotels_train.csv|review_id={group}")


# --- corpus statements: sentence-level neutral facts next to opinions on the same topic ------------------

STATEMENT_KEYS = {"text", "language", "variety", "sentiment", "domain", "kind", "group"}
STATEMENT_DOMAINS = {"ecommerce", "telecom", "banking", "restaurants", "electronics", "travel", "books", "home"}
STATEMENT_VARIETIES = {"ar": {"msa", "gulf", "egyptian", "levantine", "maghrebi"}, "fa": {"formal", "colloquial"}}


def _statements(lang: str) -> list[dict]:
    path = sample_dir() / "statements" / f"{lang}_statements.jsonl"
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
    frame = statements_frame(sample_dir())
    assert set(frame["language"]) == {"ar", "fa"} and frame["label"].notna().all()
    df = training_frame(corpus=sample_dir())
    mine = df["source"] == STATEMENTS_SOURCE
    assert mine.sum() == len(frame.drop_duplicates(subset=["text", "label"]))
    # a source with a neutral class teaches subjectivity
    assert sources_with_neutral(df)[mine.to_numpy()].all()
    # statements are training data only: never feedback items of the simulated customers
    assert not set(frame["text"]) & set(load_feedback(sample_dir())["text"])


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


# --- explicit inputs: the shared datasets folder and the artifact folder ------------------------------------


@pytest.mark.parametrize("given, env, expected", [
    (None, None, None),          # nothing given: the public sets are not used (never looked for beside the checkout)
    ("tmp", None, "tmp"),        # --datasets DIR
    (None, "tmp", "tmp"),        # $SADA_SHARED_DATASETS
    ("tmp", "other", "tmp"),     # the option wins over the environment
    (None, "", None),            # an empty variable counts as not set
])
def test_shared_datasets_folder_is_only_what_was_given(tmp_path: Path, monkeypatch, given, env, expected) -> None:
    where = {"tmp": tmp_path, "other": tmp_path / "other"}
    if env is None:
        monkeypatch.delenv(DATASETS_ENV, raising=False)
    else:
        monkeypatch.setenv(DATASETS_ENV, str(where.get(env, env)))
    found = shared_datasets_dir(None if given is None else where[given])
    assert found == (None if expected is None else where[expected])


@pytest.mark.parametrize("origin", ["option", "environment"])
def test_a_missing_shared_datasets_folder_is_an_error_not_a_silent_skip(tmp_path: Path, monkeypatch,
                                                                       origin: str) -> None:
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(DATASETS_ENV, str(missing))
    with pytest.raises(InputError, match="expected the shared datasets folder .* found nothing at"):
        shared_datasets_dir(missing if origin == "option" else None)


def test_training_without_datasets_reads_no_public_set(monkeypatch, tmp_path: Path) -> None:
    """No folder given: only the user's file is read, even where ../shared/datasets exists."""
    monkeypatch.delenv(DATASETS_ENV, raising=False)
    data = tmp_path / "mine.csv"
    data.write_text("text,label\nالخدمة ممتازة,positive\nپیک دیر اومد,negative\n", encoding="utf-8")
    assert set(training_frame([data])["source"]) == {"mine.csv"}
    with pytest.raises(InputError, match="--datasets DIR"):
        training_frame([])


@pytest.mark.parametrize("where, refused", [
    (None, True),                  # no --out: an error, not the installed package's models/default
    ("default", True),             # the shipped artifact
    ("models/mine", True),         # anywhere inside the installed package's folders
    ("pipeline", True),            # the package folder itself
    ("tmp", False),                # outside the package: fine
])
def test_sada_train_never_writes_inside_the_installed_package(tmp_path: Path, where, refused: bool) -> None:
    from sada.models.classifier import DEFAULT_ARTIFACT
    from sada.models.train_driver import check_artifact_dir, package_dirs

    models = DEFAULT_ARTIFACT.parent
    out = {None: None, "default": DEFAULT_ARTIFACT, "models/mine": models / "mine",
           "pipeline": next(d for d in package_dirs() if d.name == "pipeline"), "tmp": tmp_path / "mine"}[where]
    if refused:
        with pytest.raises(InputError, match="--out DIR"):
            check_artifact_dir(out)
    else:
        assert check_artifact_dir(out) == out


def test_cli_train_refuses_the_installed_package_before_training() -> None:
    from click.testing import CliRunner

    from sada.cli import main
    from sada.models.classifier import DEFAULT_ARTIFACT

    before = sorted((p.name, p.stat().st_mtime_ns) for p in DEFAULT_ARTIFACT.iterdir())
    result = CliRunner().invoke(main, ["train", "--no-corpus", "--no-evaluate"])
    assert result.exit_code != 0 and "--out DIR" in result.output, result.output
    result = CliRunner().invoke(main, ["train", "--out", str(DEFAULT_ARTIFACT), "--no-evaluate"])
    assert result.exit_code != 0 and "outside the installed package" in result.output, result.output
    assert sorted((p.name, p.stat().st_mtime_ns) for p in DEFAULT_ARTIFACT.iterdir()) == before


# --- the sample corpus is read only when a command hands it over -----------------------------------------

def test_corpus_loaders_have_no_default_folder() -> None:
    # None is not "the sample corpus": the caller says which folder
    for read in (corpus_training_frame, statements_frame, load_feedback):
        with pytest.raises(CorpusError, match="expected a corpus folder, found None"):
            read(None)
    assert len(corpus_training_frame(sample_dir(), "dev")) > 0  # handed over, it reads


def test_train_options_check_the_corpus_folder(tmp_path: Path) -> None:
    from sada.models.train_driver import TrainOptions

    with pytest.raises(InputError, match="expected a corpus folder, found no folder at"):
        TrainOptions(out=tmp_path / "out", corpus=tmp_path / "missing")
    assert TrainOptions(out=tmp_path / "out").corpus is None  # no --corpus: none


def test_cli_train_reads_the_sample_corpus_only_with_corpus(tmp_path: Path, monkeypatch) -> None:
    """Without --corpus, --data or --datasets there is nothing to train on: the corpus is no default."""
    from click.testing import CliRunner

    from sada.cli import main

    monkeypatch.delenv(DATASETS_ENV, raising=False)
    result = CliRunner().invoke(main, ["train", "--out", str(tmp_path / "out"), "--no-evaluate"])
    assert result.exit_code != 0 and "expected labelled data, found none" in result.output, result.output
    assert "--corpus" in result.output and not (tmp_path / "out").exists()


# --- balancing sources: at most N rows a source, scarce classes kept first --------------------------------

@pytest.mark.parametrize("counts, cap, expected", [
    # Digikala-like: positive dominates; negative and neutral keep every row, positive fills the rest
    ({"negative": 1300, "neutral": 2320, "positive": 9000}, 6000, {"negative": 1300, "neutral": 2320, "positive": 2380}),
    # tweets-like: no class scarce, an equal share each
    ({"negative": 5000, "neutral": 4600, "positive": 3000}, 6000, {"negative": 2000, "neutral": 2000, "positive": 2000}),
    # under the cap: nothing cut
    ({"negative": 10, "positive": 20}, 6000, {"negative": 10, "positive": 20}),
    # a two-class set over the cap: halves
    ({"negative": 3150, "positive": 3150}, 6000, {"negative": 3000, "positive": 3000}),
    # an odd remainder goes to the largest class, never over the cap
    ({"negative": 1, "neutral": 5, "positive": 5}, 8, {"negative": 1, "neutral": 3, "positive": 4}),
])
def test_class_quota(counts: dict[str, int], cap: int, expected: dict[str, int]) -> None:
    from sada.models.data import class_quota

    quota = class_quota(counts, cap)
    assert quota == expected
    assert sum(quota.values()) == min(cap, sum(counts.values()))


def test_cap_per_source_keeps_scarce_classes_and_is_seeded() -> None:
    from sada.models.data import cap_per_source

    df = pd.DataFrame({"source": ["big"] * 90 + ["small"] * 5,
                       "label": ["positive"] * 80 + ["neutral"] * 6 + ["negative"] * 4 + ["neutral"] * 5,
                       "text": [f"t{i}" for i in range(95)]})
    capped = cap_per_source(df, 30, seed=1)
    sizes = capped.groupby(["source", "label"]).size().to_dict()
    assert sizes == {("big", "negative"): 4, ("big", "neutral"): 6, ("big", "positive"): 20, ("small", "neutral"): 5}
    assert capped["text"].tolist() == cap_per_source(df, 30, seed=1)["text"].tolist()     # same seed, same rows
    assert capped["text"].tolist() != cap_per_source(df, 30, seed=2)["text"].tolist()     # another seed, others
    assert cap_per_source(df, None) is df                                                 # no cap: every row


def test_train_options_refuse_a_cap_below_one_row_a_class(tmp_path: Path) -> None:
    from sada.models.train_driver import TrainOptions

    with pytest.raises(InputError, match="per-source cap of at least 3"):
        TrainOptions(out=tmp_path / "out", per_source_cap=2)
    assert TrainOptions(out=tmp_path / "out").per_source_cap is None  # default: every row, as before
