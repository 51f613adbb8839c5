"""Churn linking (issue 5): customers, point-in-time features, calibrated model, reasons, segments, drivers, CLI."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sada.cli import main
from sada.corpus import sample_dir
from sada.pipeline.churn import (
    ChurnModel,
    assign_bands,
    assign_segments,
    classification_metrics,
    reason_texts,
    reliability_table,
    score_churn,
)
from sada.pipeline.churn.customers import read_customers, validate_customers
from sada.pipeline.churn.drivers import risk_ratio_ci, theme_drivers, theme_nps_impact, wilson_ci
from sada.pipeline.churn.features import FeatureConfig, build_features, load_feedback_signals
from sada.pipeline.churn.reasons import reason_of, reason_text
from sada.pipeline.corpus import load_truth
from sada.pipeline.errors import ColumnMappingError, InputError
from sada.pipeline.nps import net_promoter_score, nps_table
from sada.pipeline.report.data import load_churn_snapshot
from sada.pipeline.report.metrics import churn_lift
from sada.pipeline.store import Store, analysis, churn_drivers, churn_scores, customers, feedback

THEMES = ["billing", "network", "app"]


def _synthetic(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers whose churn depends on billing complaints and activity; feedback before churn."""
    rng = np.random.default_rng(seed)
    ids = [f"K{i:04d}" for i in range(n)]
    signup = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    billing = rng.random(n) < 0.25
    network = rng.random(n) < 0.2
    rate = rng.lognormal(0.5, 0.5, n)
    p = 1 / (1 + np.exp(-(-1.6 + 1.6 * billing + 0.6 * network - 0.5 * np.log1p(rate))))
    churned = rng.random(n) < p
    churn_date = pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]")
    churn_date[churned] = pd.Timestamp("2025-06-01") + pd.to_timedelta(rng.integers(0, 200, churned.sum()), unit="D")
    cust = pd.DataFrame({"customer_id": ids, "signup_date": signup, "churned": churned.astype(float),
                         "churn_date": churn_date.to_numpy(), "orders": np.round(rate * 12), "spend": rate * 100,
                         "last_activity": pd.Timestamp("2025-05-20"), "segment": rng.choice(["consumer", "business"], n),
                         "tenure_months": np.nan, "crm_risk": np.nan})
    rows = []
    for i in range(n):
        ts = pd.Timestamp("2025-05-01") + pd.Timedelta(days=int(rng.integers(0, 25)))
        if billing[i] or network[i]:
            tsent = {**({"billing": "negative"} if billing[i] else {}), **({"network": "negative"} if network[i] else {})}
            rows.append({"feedback_id": f"f{i}", "customer_id": ids[i], "created_at": ts, "source": "survey",
                         "nps_score": int(rng.integers(0, 7)), "sentiment": "negative",
                         "themes": {t: 1.0 for t in tsent}, "theme_sentiment": tsent, "is_complaint": True,
                         "model_version": "gold-labels"})
        elif rng.random() < 0.3:
            rows.append({"feedback_id": f"f{i}", "customer_id": ids[i], "created_at": ts, "source": "survey",
                         "nps_score": int(rng.integers(8, 11)), "sentiment": "positive", "themes": {"app": 1.0},
                         "theme_sentiment": {"app": "positive"}, "is_complaint": False, "model_version": "gold-labels"})
    rows.append({"feedback_id": "anon", "customer_id": None, "created_at": pd.Timestamp("2025-03-01"), "source": "survey",
                 "nps_score": 2, "sentiment": "negative", "themes": {"billing": 1.0},
                 "theme_sentiment": {"billing": "negative"}, "is_complaint": True, "model_version": "gold-labels"})
    return cust, pd.DataFrame(rows)


# ------------------------------------------------------------------ customers: nothing is lost

def test_customer_validation_accounts_for_every_row(tmp_path):
    raw = pd.DataFrame({
        "Customer ID": ["a", "b", "", "a", "c", "d", "e", "f", "b"],
        "Churn": ["yes", "no", "no", "yes", "maybe", "0", "1", "0", "yes"],
        "signup_date": ["2024-01-01", "2024-02-01", "", "2024-01-01", "", "not a date", "2024-05-01", "", "2024-02-01"],
        "churn_date": ["2025-01-01", "", "", "2025-01-01", "", "", "2023-01-01", "", ""],
        "orders": ["3", "4", "1", "3", "2", "1", "1", "-2", "4"],
        "plan": ["basic"] * 9,
    })
    path = tmp_path / "c.csv"
    raw.to_csv(path, index=False)
    load = read_customers(path)
    assert load.rows_read == 9
    assert len(load.frame) + load.quarantined + load.duplicates == 9
    assert load.duplicates == 1  # the second "a" row is identical
    assert load.quarantine_reasons == {"conflicting_duplicate": 1, "inconsistent_dates": 1, "invalid_number": 1,
                                       "missing_customer_id": 1, "unparseable_churn_flag": 1, "unparseable_date": 1}
    assert sorted(load.frame["customer_id"]) == ["a", "b"]
    assert load.columns["customer_id"] == "Customer ID" and load.attribute_columns == ["plan"]


@pytest.mark.parametrize(
    "signup, expected",
    [
        ("1403/05/12", "2024-08-02"),  # Solar Hijri (issue 24): not the Gregorian year 1403
        ("۱۴۰۳/۰۵/۱۲", "2024-08-02"),  # the same in Persian digits
        ("1446-02-07", "2024-08-11"),  # Hijri (Umm al-Qura)
        ("2025/03/02", "2025-03-02"),  # year first, with day first on
        ("2025/03/02 10:01:00 AM GMT+3", "2025-03-02 07:01"),  # Google Forms offset, as UTC
        ("03/04/2025", "2025-04-03"),  # day first
    ],
)
def test_customer_dates_follow_the_feedback_date_rule(tmp_path, signup, expected):
    path = tmp_path / "c.csv"
    path.write_text(f"customer_id,signup_date,churned\nk1,{signup},0\nk2,,0\n", encoding="utf-8")
    load = read_customers(path, dayfirst=True)
    assert load.quarantined == 0
    assert load.frame["signup_date"].tolist()[0] == pd.Timestamp(expected)
    assert pd.isna(load.frame["signup_date"].tolist()[1])  # an empty cell stays empty, not quarantined


def test_customer_columns_by_flag_and_errors(tmp_path):
    raw = pd.DataFrame({"who": ["x", "y"], "gone": ["1", "0"]})
    load = validate_customers(raw, {"customer_id": "who", "churned": "gone"})
    assert load.frame["churned"].tolist() == [1.0, 0.0]
    with pytest.raises(ColumnMappingError, match="--id-column"):
        validate_customers(pd.DataFrame({"foo": ["1"]}))
    with pytest.raises(ColumnMappingError, match="nope"):
        validate_customers(raw, {"customer_id": "nope"})
    with pytest.raises(InputError, match="expected a customer file"):
        read_customers(tmp_path / "missing.csv")


def test_parquet_customers(tmp_path):
    pytest.importorskip("pyarrow")
    cust, _ = _synthetic(20)
    cust.to_parquet(tmp_path / "c.parquet")
    load = read_customers(tmp_path / "c.parquet")
    assert len(load.frame) == 20 and load.frame["churned"].notna().all()


# ------------------------------------------------------------------ point-in-time features

def test_feedback_after_as_of_changes_nothing():
    cust, fb = _synthetic(200)
    as_of = "2025-05-15"
    base = build_features(cust, fb, as_of, FeatureConfig(themes=THEMES))
    later = fb.copy()
    later.loc[:, "created_at"] = pd.Timestamp("2025-05-16")  # every item after as_of ...
    extra = pd.DataFrame([{**fb.iloc[0].to_dict(), "feedback_id": "late", "created_at": pd.Timestamp("2025-09-01"),
                           "theme_sentiment": {"app": "negative"}, "nps_score": 0}])
    moved = build_features(cust, pd.concat([fb[fb["created_at"] <= as_of], extra]), as_of, FeatureConfig(themes=THEMES))
    pd.testing.assert_frame_equal(base.X, moved.X)
    none = build_features(cust, later, as_of, FeatureConfig(themes=THEMES))
    assert none.feedback_used == 0


def test_feedback_after_churn_date_is_ignored_and_labels_follow_as_of():
    cust = pd.DataFrame({"customer_id": ["a", "b", "c"], "signup_date": pd.to_datetime(["2024-01-01"] * 2 + ["2026-01-01"]),
                         "churned": [1.0, 1.0, 0.0], "churn_date": pd.to_datetime(["2025-03-01", "2025-12-01", None])})
    fb = pd.DataFrame({"feedback_id": ["1", "2"], "customer_id": ["a", "a"],
                       "created_at": pd.to_datetime(["2025-02-01", "2025-04-01"]), "nps_score": [9, 2],
                       "sentiment": ["positive", "negative"], "theme_sentiment": [{}, {"billing": "negative"}]})
    fs = build_features(cust, fb, "2025-06-30", FeatureConfig(themes=["billing"]))
    assert list(fs.X.index) == ["a", "b"] and fs.excluded == {"not_yet_customer": 1}
    assert fs.info.loc["a", "label"] == 1.0 and fs.info.loc["b", "label"] == 0.0  # b churns after as_of
    assert "complaint_billing" not in fs.X  # the complaint came after a's churn date
    assert fs.X.loc["a", "nps_promoter"] == 1.0


def test_store_feedback_signals_use_newest_analysis(db_url):
    store = Store.open(db_url)
    now = pd.Timestamp("2025-01-01").to_pydatetime()
    item = {"feedback_id": "x1", "content_hash": "h", "customer_id": "c1", "created_at": now, "nps_score": 3,
            "raw_text": "t", "normalised_text": "t", "source": "survey"}
    store.add_feedback([item])
    with store.engine.begin() as c:
        for version, when, sent in (("old", "2025-01-02", "positive"), ("new", "2025-01-03", "negative")):
            c.execute(analysis.insert().values(feedback_id="x1", model_version=version, sentiment=sent,
                                               sentiment_probs={}, themes={"billing": 0.9},
                                               theme_sentiment={"billing": sent}, is_complaint=sent == "negative",
                                               analysed_at=pd.Timestamp(when).to_pydatetime()))
    sig = load_feedback_signals(store)
    assert sig.loc[0, "model_version"] == "new" and sig.loc[0, "sentiment"] == "negative"


def test_an_undated_item_counts_in_churn_features_at_its_ingested_date(db_url):
    """The report's date rule (written, else received) dates the items churn features use too."""
    store = Store.open(db_url)
    base = {"content_hash": "h", "customer_id": "c1", "raw_text": "t", "normalised_text": "t", "source": "survey"}
    store.add_feedback([{**base, "feedback_id": "x1", "created_at": pd.Timestamp("2025-01-01").to_pydatetime(),
                         "nps_score": 9},
                        {**base, "feedback_id": "x2", "content_hash": "h2", "created_at": None, "nps_score": 2}])
    with store.engine.begin() as c:  # received on 2025-03-05
        c.execute(feedback.update().values(ingested_at=pd.Timestamp("2025-03-05 10:00").to_pydatetime()))
    sig = load_feedback_signals(store).set_index("feedback_id")
    assert sig.loc["x2", "created_at"] == pd.Timestamp("2025-03-05 10:00")
    assert sig.loc["x1", "created_at"] == pd.Timestamp("2025-01-01")  # a written date wins
    cust = pd.DataFrame({"customer_id": ["c1"], "signup_date": pd.to_datetime(["2024-01-01"]),
                         "churned": [0.0], "churn_date": pd.to_datetime([None])})
    before = build_features(cust, sig.reset_index(), "2025-03-04", FeatureConfig(themes=THEMES))
    after = build_features(cust, sig.reset_index(), "2025-06-30", FeatureConfig(themes=THEMES))
    assert before.feedback_used == 1 and before.X.loc["c1", "nps_promoter"] == 1.0
    assert after.feedback_used == 2 and after.X.loc["c1", "nps_detractor"] == 1.0


# ------------------------------------------------------------------ model: calibration, reasons, segments

@pytest.fixture(scope="module")
def fitted():
    cust, fb = _synthetic(1500, seed=1)
    fs = build_features(cust, fb, "2025-12-31", FeatureConfig(themes=THEMES))
    lab = fs.info["label"].astype(int)
    model = ChurnModel().fit(fs.X[fs.model_features], lab, fs.kinds)
    return fs, model, lab


def test_calibration(fitted):
    fs, model, lab = fitted
    p = model.predict_proba(fs.X)
    assert ((p >= 0) & (p <= 1)).all()
    rel = reliability_table(lab, p, bins=5)
    assert (rel["mean_predicted"] - rel["observed"]).abs().max() < 0.08
    m = classification_metrics(lab, p)
    assert m["auc"] > 0.65 and m["ece"] < 0.05 and m["top_decile_lift"] > 1.5
    effects = model.feature_effects(fs.X).set_index("feature")
    assert effects.loc["complaint_billing", "or_lower"] > 1.5  # true odds ratio e^1.6 ~ 5


def test_metric_definitions():
    y, p = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1], [0.1] * 8 + [0.9, 0.2]
    m = classification_metrics(y, p)
    assert m["top_decile_lift"] == 5.0  # top 1 of 10 is a churner, base rate 0.2
    assert m["brier"] == pytest.approx((8 * 0.01 + 0.01 + 0.64) / 10, abs=1e-4)
    assert m["auc"] == pytest.approx(1 - 0 / 16 - 0.0, abs=0.1)


def test_reasons_are_plain_words(fitted):
    fs, model, _ = fitted
    reasons = reason_texts(model, fs, {"billing": "Billing and payments"})
    billers = [i for i, c in enumerate(fs.X.index) if fs.X.loc[c, "complaint_billing"] == 1]
    texts = [r["text"] for r in reasons[billers[0]]]
    assert all(set(r) == {"text", "key", "params", "feature", "contribution"} for rs in reasons for r in rs)
    assert any(t.endswith("complaint about billing and payments in 60 days") or "about billing" in t for t in texts)
    for rs in reasons:
        assert len(rs) <= 3
        assert all(r["contribution"] >= 0.05 for r in rs)
        assert [r["contribution"] for r in rs] == sorted([r["contribution"] for r in rs], reverse=True)


def test_reasons_are_data_with_an_english_sentence():
    row = {"nps_first": 9.0, "nps_latest": 3.0}
    said = reason_of("nps_change", row, {}, {}, 60)
    assert said == {"key": "why_nps_fell", "params": {"first": 9, "latest": 3}}
    assert reason_text(**said) == "NPS fell from 9 to 3"
    row = {"ev_recent_billing": 3, "ev_total_billing": 4}
    said = reason_of("complaint_billing", row, {}, {}, 60)
    assert said == {"key": "why_theme_recent", "params": {"theme": "billing", "complaints": 3, "days": 60}}
    assert reason_text(**said, names={"billing": "Billing"}) == "3 complaints about billing in 60 days"
    said = reason_of("spend_per_order", {}, {"spend_per_order": 24.782}, {"spend_per_order": 20.0}, 60)
    assert said == {"key": "why_value_high", "params": {"feature": "spend_per_order", "value": 24.782}}
    assert reason_text(**said) == "spend_per_order 24.782 (high)"


def test_bands_and_segments():
    assert assign_bands([0.0, 0.149, 0.15, 0.349, 0.35, 1.0]).tolist() == ["low", "low", "medium", "medium", "high", "high"]
    info = pd.DataFrame({"label": [1, 0, 0, 0, 0, np.nan], "recency_days": [0, 120, 5, 5, 5, np.nan],
                         "tenure_months": [30, 30, 30, 1, 30, 30]})
    seg = assign_segments(info, ["low", "low", "high", "low", "low", "medium"])
    assert seg.tolist() == ["churned", "churned", "at risk", "new", "loyal", "loyal"]


# ------------------------------------------------------------------ drivers and NPS

def test_risk_ratio_ci_hand_computed():
    rr, lo, hi = risk_ratio_ci(30, 100, 20, 200)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 20 - 1 / 200)
    assert rr == pytest.approx(3.0)
    assert lo == pytest.approx(3.0 * math.exp(-1.959964 * se), rel=1e-5)
    assert hi == pytest.approx(3.0 * math.exp(1.959964 * se), rel=1e-5)
    rr0, lo0, hi0 = risk_ratio_ci(0, 10, 5, 50)  # zero cell: Haldane-Anscombe
    assert rr0 == pytest.approx((0.5 / 11) / (5.5 / 51)) and lo0 < rr0 < hi0
    assert math.isnan(risk_ratio_ci(1, 0, 1, 10)[0])
    lo_w, hi_w = wilson_ci(5, 10)
    assert lo_w == pytest.approx(0.2366, abs=1e-4) and hi_w == pytest.approx(0.7634, abs=1e-4)


def test_theme_drivers_small_table():
    # 10 customers: 4 complained about billing (3 churned), 6 did not (1 churned)
    info = pd.DataFrame({"label": [1, 1, 1, 0, 1, 0, 0, 0, 0, 0],
                         "ev_total_billing": [1, 2, 1, 1, 0, 0, 0, 0, 0, 0]}, index=list("abcdefghij"))
    X = pd.DataFrame({"complaint_billing": (info["ev_total_billing"] > 0).astype(float)})
    d = theme_drivers(X, info, ["billing"]).iloc[0]
    assert (d["n_with"], d["churned_with"], d["n_without"], d["churned_without"]) == (4, 3, 6, 1)
    assert d["lift"] == pytest.approx(0.75 / (1 / 6), abs=1e-3)
    rr, lo, hi = risk_ratio_ci(3, 4, 1, 6)
    assert (d["lift_lower"], d["lift_upper"]) == (round(lo, 3), round(hi, 3))
    assert d["excess_churners"] == pytest.approx(3 - 4 / 6, abs=0.05)


def test_nps_tables():
    assert net_promoter_score([10, 9, 8, 7, 6, 0])["nps"] == pytest.approx(0.0)
    assert net_promoter_score([])["n"] == 0
    fb = pd.DataFrame({"nps_score": [10, 10, 2, 8, None], "themes": [{"app": 1.0}, {}, {"billing": 0.9}, {}, {}],
                       "q": ["a", "a", "b", "b", "b"]})
    assert nps_table(fb, "q")["nps"].tolist() == [100.0, -50.0]
    imp = theme_nps_impact(fb, ["billing", "app"]).set_index("theme")
    # billing: with = -100 (1 answer), without = 66.7 (3 answers), share 1/4 -> impact -41.67 = overall 25 - 66.7
    assert imp.loc["billing", "impact"] == pytest.approx(0.25 * (-100 - 66.7), abs=0.05)
    assert imp.loc["billing", "impact"] == pytest.approx(net_promoter_score(fb["nps_score"])["nps"] - imp.loc["billing", "nps_without"], abs=0.05)


# ------------------------------------------------------------------ end to end with the store, and the CLI

def _write_inputs(tmp_path, store, n=500):
    cust, fb = _synthetic(n, seed=2)
    path = tmp_path / "customers.csv"
    cust.assign(churned=cust["churned"].map({1.0: "yes", 0.0: "no"})).to_csv(path, index=False)
    now = pd.Timestamp("2026-01-01").to_pydatetime()
    store.add_feedback([{"feedback_id": r.feedback_id, "content_hash": r.feedback_id, "customer_id": r.customer_id,
                         "created_at": r.created_at.to_pydatetime(), "nps_score": r.nps_score, "source": "survey",
                         "raw_text": "x", "normalised_text": "x"} for r in fb.itertuples()],
                       [{"feedback_id": r.feedback_id, "model_version": "gold-labels", "sentiment": r.sentiment,
                         "sentiment_probs": {}, "themes": r.themes, "theme_sentiment": r.theme_sentiment,
                         "is_complaint": r.is_complaint} for r in fb.itertuples()])
    return path, now


def test_score_churn_writes_store(db_url, tmp_path):
    store = Store.open(db_url)
    path, _ = _write_inputs(tmp_path, store)
    report = score_churn(store, path, "2025-12-31", n_seeds=2)
    assert report.metrics["feedback_input"].startswith("analysis:gold-labels")
    assert {"auc", "pr_auc", "top_decile_lift", "brier", "n", "baseline_nps_auc"} <= set(report.metrics)
    assert "oracle_auc" not in report.metrics
    assert report.drivers.iloc[0]["theme"] == "billing"
    assert store.count(churn_scores) == len(report.scores) == 500 and store.count(customers) == 500
    with store.engine.connect() as c:
        row = c.execute(select(churn_scores).where(churn_scores.c.customer_id == "K0000")).one()
    assert 0 <= row.score <= 1 and row.model_version == "churn-logit-1+gold-labels"
    assert isinstance(row.reasons, list)
    # the theme drivers are stored beside the scores, and the report reads exactly those
    lift = churn_lift(store, load_churn_snapshot(store))
    assert lift["theme"].tolist() == report.drivers["theme"].tolist()
    for column in ("n_with", "churned_with", "lift", "lift_lower", "lift_upper", "customers_lost"):
        np.testing.assert_allclose(lift[column].to_numpy(float), report.drivers[column].to_numpy(float), equal_nan=True)
    n_drivers = store.count(churn_drivers)
    score_churn(store, path, "2025-12-31", n_seeds=1)  # re-run: upsert, no dupes
    assert store.count(churn_scores) == 500 and store.count(churn_drivers) == n_drivers == len(report.drivers)
    json.dumps(report.summary(), allow_nan=False)


def test_cli_churn_json(tmp_path):
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    store = Store.open(db)
    path, _ = _write_inputs(tmp_path, store, n=300)
    runner = CliRunner()
    result = runner.invoke(main, ["churn", "--customers", str(path), "--as-of", "2025-12-31", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"auc", "pr_auc", "top_decile_lift", "brier", "n"} <= set(out) and out["scored"] == 300
    text = runner.invoke(main, ["churn", "--customers", str(path), "--db", db])
    assert text.exit_code == 0 and "AUC" in text.output and "driver" in text.output
    bad = runner.invoke(main, ["churn", "--customers", str(path), "--as-of", "yesterday-ish", "--db", db])
    assert bad.exit_code != 0 and "as-of" in bad.output


def test_no_labels_is_a_clear_error(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame({"customer_id": [f"x{i}" for i in range(60)], "orders": range(60)}).to_csv(path, index=False)
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    with pytest.raises(InputError, match="--churn-column"):
        score_churn(store, path)


# ------------------------------------------------------------------ public data: Telco

def test_telco_runs_as_is(shared_datasets, tmp_path):
    path = shared_datasets / "telco_churn.csv"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    store = Store.open(f"sqlite:///{tmp_path / 't.sqlite'}")
    report = score_churn(store, path, n_seeds=1)
    assert report.customers["columns"]["customer_id"] == "customerID"
    assert report.customers["columns"]["churned"] == "Churn"
    assert report.customers["rows_read"] == 7043
    assert report.metrics["auc"] >= 0.85  # seed 0, 80/20 split
    assert report.metrics["feedback_input"] == "none"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "cp1256"])
def test_customer_files_in_legacy_encodings_are_read(tmp_path, encoding):
    path = tmp_path / "customers.csv"
    path.write_bytes("customer_id,segment,churned\nC1,تجاري,1\nC2,أفراد,0\n".encode(encoding))
    load = read_customers(path)
    assert list(load.frame["customer_id"]) == ["C1", "C2"]
    assert "تجاري" in load.frame.to_string()


def test_score_churn_never_reads_the_simulator_truth(tmp_path):
    """The sample corpus's own customers.csv gets no simulator as-of, window or oracle: only `sada reproduce` hands those."""
    corpus = sample_dir()
    truth = load_truth(corpus)
    report = score_churn(Store.open(f"sqlite:///{tmp_path / 'a.sqlite'}"), corpus / "customers.csv", n_seeds=1)
    assert not any(k.startswith("oracle") for k in report.metrics)
    customers = pd.read_csv(corpus / "customers.csv", parse_dates=["churn_date", "last_activity_date", "signup_date"])
    latest = max(customers[c].max() for c in ("churn_date", "last_activity_date", "signup_date"))
    assert report.as_of == latest.normalize()  # derived from the file (no feedback in this store)
    explicit = score_churn(Store.open(f"sqlite:///{tmp_path / 'b.sqlite'}"), corpus / "customers.csv",
                           truth["window"]["end"], orders_since=truth["window"]["start"], n_seeds=1)
    assert explicit.as_of == pd.Timestamp(truth["window"]["end"])  # a caller that has a window hands it in
    # orders are counted since signup, not since the simulator's window start, unless handed in
    assert not np.allclose(report.scores["score"], explicit.scores["score"])
    with pytest.raises(InputError, match="found none"):  # no implicit fallback to the corpus's customers
        score_churn(Store.open(f"sqlite:///{tmp_path / 'c.sqlite'}"))


@pytest.mark.parametrize("customer_id", [
    "0551234567",  # a Saudi mobile as the customer number
    "٠٥٥١٢٣٤٥٦٧",  # the same, in Arabic-Indic digits as a form tool writes it
    "sara.ahmadi@example.ir",  # an e-mail as the customer id
])
def test_feedback_and_customer_files_pseudonymise_ids_alike(tmp_path, monkeypatch, customer_id):
    """`sada analyze` and the churn customer files use one keyed pseudonym (SADA_HOME's key): ids still join."""
    monkeypatch.setenv("SADA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SADA_PSEUDONYM_KEY", raising=False)
    path = tmp_path / "feedback.csv"
    pd.DataFrame({"id": ["f1"], "customer_id": [customer_id], "comment": ["التوصيل تأخر كثير"]}).to_csv(path, index=False)
    db = f"sqlite:///{tmp_path / 's.sqlite'}"
    result = CliRunner().invoke(main, ["analyze", "--input", str(path), "--db", db, "--no-classify", "--json"])
    assert result.exit_code == 0, result.output
    with Store.open(db).engine.connect() as conn:
        stored = conn.execute(select(feedback.c.customer_id)).scalar_one()
    raw = pd.DataFrame({"customer_id": [customer_id], "signup_date": ["2024-01-01"], "churned": ["0"]})
    loaded = validate_customers(raw)
    assert stored.startswith("pii-") and loaded.frame["customer_id"].tolist() == [stored]
    assert stored != "pii-" + hashlib.sha256(customer_id.encode()).hexdigest()[:20]  # not the unkeyed hash
    assert (tmp_path / "home" / "pseudonym.key").is_file()
