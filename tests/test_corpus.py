"""Tests of the sample corpus (issue 3): taxonomy, labels, splits, simulator, datasheet, CLI."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from sada.cli import main
from sada.corpus import sample_dir
from sada.corpus.build import (
    README_BEGIN,
    README_END,
    assign_splits,
    build,
    check_item,
    feedback_id,
    normalise_for_dedup,
    read_items,
    render_counts,
)
from sada.pipeline.corpus import (
    CHANNELS,
    CUSTOMER_COLUMNS,
    DOMAINS,
    FEEDBACK_COLUMNS,
    LANGUAGES,
    NPS_RANGE,
    RATING_RANGE,
    SENTIMENTS,
    SOURCES,
    SPLITS,
    VARIETIES,
    load_customers,
    load_feedback,
    load_truth,
    theme_ids,
)
from sada.pipeline.errors import CorpusError
from sada.pipeline.taxonomy import default_taxonomy_path, load_taxonomy

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
DATASETS = REPO.parent / "shared" / "datasets"
BUILT = ("feedback.csv", "customers.csv", "truth.json", "README.md")
THEME_IDS = ["delivery", "price", "quality", "service", "billing", "app", "network", "speed", "packaging",
             "hygiene", "refunds", "trust", "other", "ambience"]


@pytest.fixture(scope="module")
def feedback() -> pd.DataFrame:
    return load_feedback(CORPUS)


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return load_customers(CORPUS)


@pytest.fixture(scope="module")
def truth() -> dict:
    return load_truth(CORPUS)


@pytest.fixture(scope="module")
def fresh_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus built from the current texts into a temporary folder."""
    out = tmp_path_factory.mktemp("build_a")
    build(CORPUS, out)
    return out


# --- taxonomy ---------------------------------------------------------------------------------

def test_default_taxonomy_has_stable_ids_and_three_languages() -> None:
    taxonomy = load_taxonomy(default_taxonomy_path())
    assert taxonomy.ids == THEME_IDS == theme_ids()
    for t in taxonomy.themes:
        for lang in ("ar", "fa", "en"):
            assert t.names[lang].strip() and "\n" not in t.names[lang]
            assert t.descriptions[lang].strip() and "\n" not in t.descriptions[lang]
            assert 5 <= len(t.seeds[lang]) <= 8, (t.id, lang)
            assert len(set(t.seeds[lang])) == len(t.seeds[lang])


# --- feedback schema and labels -------------------------------------------------------------------

def test_feedback_schema(feedback: pd.DataFrame) -> None:
    assert tuple(feedback.columns) == FEEDBACK_COLUMNS
    assert feedback["feedback_id"].is_unique
    assert feedback["text"].str.strip().ne("").all()
    assert all(re.fullmatch(r"(ar|fa)-[0-9a-f]{12}", f) for f in feedback["feedback_id"])
    assert all(feedback_id(lang, text) == fid
               for fid, lang, text in zip(feedback["feedback_id"], feedback["language"], feedback["text"]))
    assert feedback["created_at"].notna().all()
    assert feedback["channel"].isin(CHANNELS).all()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_labels_are_valid(feedback: pd.DataFrame, lang: str) -> None:
    fb = feedback[feedback["language"] == lang]
    assert fb["variety"].isin(VARIETIES[lang]).all()
    assert fb["sentiment"].isin(SENTIMENTS).all()
    assert fb["domain"].isin(DOMAINS).all()
    assert fb["source"].isin(SOURCES).all()
    for themes, ts in zip(fb["themes"], fb["theme_sentiment"]):
        assert set(themes) <= set(THEME_IDS)
        assert len(set(themes)) == len(themes)
        assert set(ts) == set(themes)
        assert set(ts.values()) <= set(SENTIMENTS)
    survey = fb["source"] == "survey"
    review = fb["source"] == "review"
    assert fb.loc[~survey, "nps_score"].isna().all()
    assert fb.loc[~review, "rating"].isna().all()
    for sent, nps in zip(fb.loc[survey, "sentiment"], fb.loc[survey, "nps_score"]):
        assert 0 <= nps <= 10 and NPS_RANGE[sent][0] <= nps <= NPS_RANGE[sent][1], (sent, nps)
    for sent, rating in zip(fb.loc[review, "sentiment"], fb.loc[review, "rating"]):
        assert 1 <= rating <= 5 and RATING_RANGE[sent][0] <= rating <= RATING_RANGE[sent][1], (sent, rating)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_enough_items_and_coverage(feedback: pd.DataFrame, lang: str) -> None:
    fb = feedback[feedback["language"] == lang]
    assert len(fb) >= 1500
    assert set(fb["domain"]) == set(DOMAINS)
    assert set(fb["source"]) == set(SOURCES)
    assert set(fb["sentiment"]) == set(SENTIMENTS)
    seen = {t for themes in fb["themes"] for t in themes}
    assert seen == set(THEME_IDS)
    # texts are distinct even after loose normalisation
    assert fb["text"].map(normalise_for_dedup).is_unique


def test_texts_files_have_no_invalid_lines() -> None:
    result = read_items(CORPUS / "texts", THEME_IDS)
    invalid = [str(p) for p in result.problems if "duplicate of" not in p.reason]
    assert not invalid, "invalid lines in corpus/texts:\n" + "\n".join(invalid[:30])


def test_check_item_rejects_bad_labels() -> None:
    good = {"text": "x", "language": "fa", "variety": "formal", "sentiment": "negative", "themes": ["billing"],
            "theme_sentiment": {"billing": "negative"}, "domain": "banking", "source": "survey", "nps": 3,
            "rating": None}
    assert check_item(good, THEME_IDS, "fa", "banking") == []
    assert check_item({**good, "nps": 9}, THEME_IDS)  # nps inconsistent with negative
    assert check_item({**good, "nps": None}, THEME_IDS)  # survey without nps
    assert check_item({**good, "themes": ["billing", "fees"]}, THEME_IDS)  # unknown theme
    assert check_item({**good, "theme_sentiment": {}}, THEME_IDS)  # keys != themes
    assert check_item({**good, "variety": "gulf"}, THEME_IDS)  # Arabic variety on a Persian item
    assert check_item({**good, "rating": 2}, THEME_IDS)  # rating on a survey item
    assert check_item({**good, "source": "review", "nps": None, "rating": 5}, THEME_IDS)  # 5 stars negative
    assert check_item(good, THEME_IDS, "ar", "banking")  # wrong file


# --- splits ---------------------------------------------------------------------------------------

def test_splits_disjoint_stratified_and_fixed(feedback: pd.DataFrame) -> None:
    assert feedback["split"].isin(SPLITS).all()
    parts = {s: set(load_feedback(CORPUS, s)["feedback_id"]) for s in SPLITS}
    assert not (parts["train"] & parts["dev"]) and not (parts["train"] & parts["test"])
    assert not (parts["dev"] & parts["test"])
    assert set().union(*parts.values()) == set(feedback["feedback_id"])
    for (lang, sent), grp in feedback.groupby(["language", "sentiment"]):
        share = grp["split"].value_counts(normalize=True)
        assert abs(share["train"] - 0.70) < 0.02 and abs(share["dev"] - 0.15) < 0.02, (lang, sent)
        assert abs(share["test"] - 0.15) < 0.02, (lang, sent)
    truth = load_truth(CORPUS)
    assert (assign_splits(feedback, truth["seed"]) == feedback["split"]).all()


def test_unknown_split_is_an_error() -> None:
    with pytest.raises(CorpusError, match="train, dev, test"):
        load_feedback(CORPUS, "validation")


@pytest.mark.parametrize("env, expected", [
    (None, CORPUS),           # unset: the folder installed with sada.corpus (the checkout's, editable)
    ("elsewhere", "tmp"),     # SADA_CORPUS_DIR: another copy, for the research commands
])
def test_sample_dir_is_the_package_folder_or_sada_corpus_dir(tmp_path: Path, monkeypatch, env, expected) -> None:
    if env is None:
        monkeypatch.delenv("SADA_CORPUS_DIR", raising=False)
    else:
        monkeypatch.setenv("SADA_CORPUS_DIR", str(tmp_path))
    assert sample_dir().resolve() == (tmp_path if expected == "tmp" else expected).resolve()


def test_loaders_have_no_default_folder() -> None:
    # None is not "the sample corpus": the lowest layer never looks the sample corpus up
    for read in (load_feedback, load_customers, load_truth):
        with pytest.raises(CorpusError, match="expected a corpus folder, found None; pass the folder"):
            read(None)


def test_missing_corpus_is_explained(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"python -m sada.corpus.build"):
        load_feedback(tmp_path)
    with pytest.raises(CorpusError, match="customers.csv"):
        load_customers(tmp_path)


# --- customers and churn ----------------------------------------------------------------------------

def test_customers_schema(customers: pd.DataFrame, truth: dict) -> None:
    assert tuple(customers.columns) == CUSTOMER_COLUMNS
    assert len(customers) >= 2000 and customers["customer_id"].is_unique
    assert set(customers["churned"]) == {0, 1}
    assert (customers["churn_date"].notna() == customers["churned"].astype(bool)).all()
    churned = customers[customers["churned"] == 1]
    assert (churned["churn_date"] >= churned["signup_date"]).all()
    assert (customers["tenure_months"] >= 0).all() and (customers["orders"] >= 0).all()
    assert (customers["spend"] >= 0).all()
    assert (customers["last_activity_date"] >= customers["signup_date"]).all()
    start, end = pd.Timestamp(truth["window"]["start"]), pd.Timestamp(truth["window"]["end"])
    assert 12 <= truth["window"]["months"] <= 18
    assert (customers["signup_date"] <= end).all() and (churned["churn_date"] >= start).all()


def test_feedback_linked_inside_active_life(feedback: pd.DataFrame, customers: pd.DataFrame, truth: dict) -> None:
    merged = feedback.merge(customers, on="customer_id", how="left", suffixes=("", "_c"), validate="many_to_one")
    assert merged["signup_date"].notna().all(), "feedback linked to an unknown customer"
    assert (merged["language"] == merged["language_c"]).all() and (merged["domain"] == merged["domain_c"]).all()
    assert (merged["created_at"] >= merged["signup_date"]).all()
    assert (merged["created_at"] < pd.Timestamp(truth["window"]["end"]) + pd.Timedelta(days=1)).all()
    churned = merged[merged["churned"] == 1]
    # strictly before the churn day: point-in-time features never see post-churn feedback
    assert (churned["created_at"].dt.normalize() < churned["churn_date"]).all()
    counts = feedback["customer_id"].value_counts()
    assert (customers.set_index("customer_id")["n_feedback"] == counts.reindex(customers["customer_id"]).fillna(0)
            .astype(int).values).all()


def test_simulated_story_has_silent_churn_and_loyal_complainers(feedback: pd.DataFrame,
                                                                 customers: pd.DataFrame) -> None:
    silent = (customers["churned"] == 1) & (customers["n_feedback"] == 0)
    complainers = set(feedback.loc[feedback["sentiment"] == "negative", "customer_id"])
    stayed = customers["customer_id"].isin(complainers) & (customers["churned"] == 0)
    assert silent.sum() > 0 and stayed.sum() > 0
    assert (customers["n_feedback"] == 0).sum() > len(customers) / 3  # many customers never write
    assert (customers["n_feedback"] >= 2).sum() > 0  # some write several times
    # complainers churn more often than customers who never complained
    rate_c = customers.loc[customers["customer_id"].isin(complainers), "churned"].mean()
    rate_n = customers.loc[~customers["customer_id"].isin(complainers), "churned"].mean()
    assert rate_c > rate_n


def test_truth_coefficients_and_probabilities(truth: dict, customers: pd.DataFrame) -> None:
    coef = truth["coefficients"]
    assert coef["theme_negative_billing"] > 3 * coef["theme_negative_packaging"]
    assert coef["theme_negative_network"] > 3 * coef["theme_negative_packaging"]
    assert coef["negative_feedback"] > 0 and coef["detractor"] > 0 and coef["promoter"] < 0
    assert coef["log1p_tenure_months"] < 0 and coef["log1p_activity_rate"] < 0
    assert {f"theme_negative_{t}" for t in THEME_IDS} <= set(coef)
    per = pd.DataFrame(truth["customers"])
    assert list(per["customer_id"]) == list(customers["customer_id"])
    assert per["p_churn"].between(0, 1).all()
    assert 0.6 < truth["oracle_auc"] < 1
    assert truth["n_customers"] == len(customers) and truth["n_churned"] == int(customers["churned"].sum())
    assert math.isclose(per["p_churn"].mean(), customers["churned"].mean(), abs_tol=0.04)


# --- build: determinism and datasheet ------------------------------------------------------------------

def test_build_is_deterministic(fresh_build: Path, tmp_path: Path) -> None:
    build(CORPUS, tmp_path)
    for name in BUILT:
        assert (tmp_path / name).read_bytes() == (fresh_build / name).read_bytes(), name


def test_committed_corpus_is_up_to_date(fresh_build: Path) -> None:
    stale = [n for n in BUILT if (CORPUS / n).read_bytes() != (fresh_build / n).read_bytes()]
    assert not stale, f"{stale} differ from a fresh build; run `python -m sada.corpus.build`"


def test_other_seed_gives_other_customers(tmp_path: Path, fresh_build: Path) -> None:
    build(CORPUS, tmp_path, seed=11, update_readme=False)
    assert (tmp_path / "customers.csv").read_bytes() != (fresh_build / "customers.csv").read_bytes()


def test_readme_counts_match_files(feedback: pd.DataFrame, customers: pd.DataFrame) -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    section = readme.split(README_BEGIN, 1)[1].split(README_END, 1)[0].strip()
    assert section == render_counts(feedback, customers, THEME_IDS).strip()
    assert f"Items: **{len(feedback)}**" in section
    assert f"Customers: **{len(customers)}**, churned: **{int(customers['churned'].sum())}**" in section
    assert "Apache-2.0" in readme


# --- originality: nothing from the public evaluation sets -------------------------------------------

def _norm(s: str) -> str:
    return normalise_for_dedup(s)


def _shingles(s: str, k: int = 5) -> set[str]:
    return {s[i:i + k] for i in range(max(len(s) - k + 1, 1))}


def _public_texts() -> list[str]:
    csv.field_size_limit(10**9)
    out: set[str] = set()
    for path in sorted(DATASETS.glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    n = _norm(cell)
                    if len(n) >= 20 and re.search(r"[\u0600-\u06FF]", n):
                        out.add(n)
    return sorted(out)


def _near_duplicates(corpus: dict[str, str], public: list[str], threshold: float = 0.8) -> set[str]:
    """Ids of corpus texts whose character 5-gram Jaccard similarity to some public text is >= threshold."""
    # |A & B| >= t * |B| is necessary for J(A, B) >= t, so a public text whose
    # shingles mostly never occur in the corpus is rejected by one set intersection.
    cor_sh = {fid: _shingles(n) for fid, n in corpus.items()}
    index: dict[str, list[str]] = defaultdict(list)
    for fid, sh in cor_sh.items():
        for g in sh:
            index[g].append(fid)
    grams = set(index)
    near: set[str] = set()
    for text in public:
        other = _shingles(text)
        if len(other & grams) < threshold * len(other):
            continue
        # prefix filter: A must contain one of B's rarest |B| - ceil(t|B|) + 1 shingles
        size = len(other) - math.ceil(threshold * len(other)) + 1
        rarest = sorted(other, key=lambda g: (len(index.get(g, ())), g))[:size]
        for fid in {fid for g in rarest for fid in index.get(g, ())}:
            mine = cor_sh[fid]
            if min(len(mine), len(other)) < threshold * max(len(mine), len(other)):
                continue
            inter = len(mine & other)
            if inter / (len(mine) + len(other) - inter) >= threshold:
                near.add(fid)
    return near


def test_near_duplicate_detector_finds_small_edits() -> None:
    corpus = {"a": _norm("پشتیبانی این شرکت سه روز است که به تیکت من جواب نداده"),
              "b": _norm("الطلب وصل متأخر يومين والمندوب ما رد على اتصالاتي")}
    public = [_norm("پشتیبانی این شرکت سه روز است که به تیکت من جوابی نداده!!"),
              _norm("الطلب وصل بسرعة والمندوب كان محترم جداً وشكراً لكم")]
    assert _near_duplicates(corpus, public) == {"a"}


def _own_sentences() -> dict[str, str]:
    """The project's other hand-written sentences: the corpus statements and the benchmark's sentence probe."""
    out = {}
    for path in sorted((CORPUS / "statements").glob("*.jsonl")):
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if line.strip():
                out[f"{path.stem}:{i + 1}"] = _norm(json.loads(line)["text"])
    probe = REPO / "benchmarks" / "data" / "sentence_probe.csv"
    if probe.is_file():
        out.update({row["id"]: _norm(row["text"]) for row in csv.DictReader(probe.open(encoding="utf-8"))})
    return out


@pytest.mark.slow
@pytest.mark.skipif(not DATASETS.is_dir(), reason=f"public datasets not found at {DATASETS}")
def test_no_corpus_text_in_public_datasets(feedback: pd.DataFrame) -> None:
    """Exact (normalised) and near-duplicate (char 5-gram Jaccard >= 0.8) matches are both failures.

    The feedback items, the corpus statements and the sentence probe are all checked.

    Every public text is compared (no sampling) without an all-pairs loop; only
    corpus ids are reported, never public text.
    """
    threshold = 0.8
    public = _public_texts()
    if not public:
        pytest.skip(f"no Arabic-script texts found in {DATASETS}")
    corpus = {fid: _norm(t) for fid, t in zip(feedback["feedback_id"], feedback["text"])}
    corpus.update(_own_sentences())
    corpus = {fid: n for fid, n in corpus.items() if len(n) >= 20}
    public_set = set(public)
    exact = sorted(fid for fid, n in corpus.items() if n in public_set)
    assert not exact, f"corpus items found verbatim in the public datasets: {exact[:20]}"

    near = _near_duplicates(corpus, public, threshold)
    assert not near, f"corpus items nearly identical to public dataset texts: {sorted(near)[:20]}"


# --- CLI -----------------------------------------------------------------------------------------------

def test_cli_corpus_stats_json(feedback: pd.DataFrame, customers: pd.DataFrame) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["corpus", "stats", "--json"], env={"SADA_CORPUS_DIR": str(CORPUS)})
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert {"items", "by_language", "by_sentiment", "by_theme", "customers", "churned"} <= set(stats)
    assert stats["items"] == len(feedback) == sum(stats["by_language"].values())
    assert sum(stats["by_sentiment"].values()) == len(feedback)
    assert list(stats["by_theme"]) == THEME_IDS
    assert stats["by_theme"]["billing"] == sum("billing" in t for t in feedback["themes"])
    assert stats["customers"] == len(customers) and stats["churned"] == int(customers["churned"].sum())

    plain = runner.invoke(main, ["corpus", "stats"], env={"SADA_CORPUS_DIR": str(CORPUS)})
    assert plain.exit_code == 0 and f"items: {len(feedback)}" in plain.output


def test_cli_corpus_stats_corpus_dir_wins_over_the_sample(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["corpus", "stats", "--corpus-dir", str(tmp_path)],
                                env={"SADA_CORPUS_DIR": str(CORPUS)})
    assert result.exit_code != 0 and str(tmp_path) in result.output


def test_cli_corpus_stats_missing_corpus(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["corpus", "stats"], env={"SADA_CORPUS_DIR": str(tmp_path)})
    assert result.exit_code != 0
    assert "python -m sada.corpus.build" in result.output


# --- properties ------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LANGUAGES), st.sampled_from(SENTIMENTS), st.text(min_size=1)),
                max_size=60, unique_by=lambda t: (t[0], t[2])),
       st.integers(0, 2**16))
def test_assign_splits_partitions_every_stratum(rows: list[tuple[str, str, str]], seed: int) -> None:
    items = pd.DataFrame({"language": [r[0] for r in rows], "sentiment": [r[1] for r in rows],
                          "feedback_id": [feedback_id(r[0], r[2]) for r in rows]})
    splits = assign_splits(items, seed)
    assert splits.isin(SPLITS).all()
    for _, grp in items.assign(split=splits).groupby(["language", "sentiment"]):
        n = len(grp)
        assert (grp["split"] == "train").sum() == round(n * 0.70)
        assert (grp["split"] == "dev").sum() == round(n * 0.15)
    # the assignment does not depend on row order
    shuffled = items.iloc[::-1]
    assert (assign_splits(shuffled, seed).sort_index() == splits.sort_index()).all()
