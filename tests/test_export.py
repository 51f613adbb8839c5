"""`sada export`: every stored item with its newest result, written in each format and read back."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

import sada
from sada.models.few_shot import read_examples
from sada.pipeline.errors import InputError
from sada.pipeline.export import ITEM_COLUMNS, ExportFilter, export_items, export_quarantine
from sada.pipeline.store import Store, feedback
from sada.pipeline.taxonomy import format_theme_cell, parse_theme_cell

SADA = [sys.executable, "-m", "sada.cli"]

ROWS = [  # id, text, date
    ("ar-1", "التوصيل تأخر ساعتين والأكل وصل بارد", "2026-03-02"),
    ("fa-1", "پیک خیلی دیر رسید و غذا سرد بود", "2026-03-20"),
    ("ar-2", "الأسعار غالية جدا مقارنة بالمطاعم الثانية", "2026-04-05"),
    ("fa-2", "قیمت‌ها خیلی بالاست", ""),               # undated: counts when Sada received it
    ("ar-3", "", "2026-03-03"),                         # empty text: quarantined
]


def _result(fid: str, version: str, themes: dict[str, float], sentiment: str = "negative") -> dict:
    probs = {"negative": 0.8, "neutral": 0.15, "positive": 0.05} if sentiment == "negative" else \
        {"negative": 0.05, "neutral": 0.15, "positive": 0.8}
    return {"feedback_id": fid, "model_version": version, "sentiment": sentiment, "sentiment_probs": probs,
            "themes": themes, "theme_sentiment": {t: sentiment for t in themes}, "is_complaint": sentiment == "negative"}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """The rows analysed without a classifier, then results added as a classifier and a re-theming would."""
    path = tmp_path / "feedback.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("id", "text", "date"), *ROWS])
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    summary = sada.analyze([str(path)], store, sada.load_settings())
    assert (summary.analysed, summary.quarantined) == (4, 1)
    store.add_analyses([_result("ar-1", "m1", {"delivery": 0.9}), _result("fa-1", "m1", {"delivery": 0.7}),
                        _result("ar-2", "m1", {"price": 0.95}, "positive")])
    # a later analysis of ar-1 (another taxonomy): the export shows this one, strongest theme first
    store.add_analyses([_result("ar-1", "m2", {"quality": 0.6, "delivery": 0.97})])
    return store


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs for Arabic
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if path.suffix == ".xlsx":
        sheet = load_workbook(path).active
        assert sheet.sheet_view.rightToLeft and sheet.freeze_panes == "A2"
        return pd.read_excel(path, dtype=str).fillna("")
    if path.suffix == ".jsonl":
        frame = pd.DataFrame([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()])
    else:
        frame = pd.read_parquet(path)
    return frame.astype(object).where(frame.notna(), "").astype(str)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".jsonl", ".parquet"])
def test_every_item_with_its_newest_result_round_trips(store, tmp_path, suffix):
    out = tmp_path / f"items{suffix}"
    assert export_items(store, out) == store.count(feedback) == 4
    assert not list(tmp_path.glob("*.part"))
    frame = _read(out).set_index("feedback_id")
    assert list(frame.reset_index().columns) == list(ITEM_COLUMNS)
    assert sorted(frame.index) == ["ar-1", "ar-2", "fa-1", "fa-2"]
    assert frame.loc["ar-1", "themes"] == "delivery;quality"        # newest analysis (m2), strongest first
    assert frame.loc["ar-1", "model_version"] == "m2"
    assert frame.loc["ar-1", "theme_sentiment"] == "quality:negative;delivery:negative"
    assert frame.loc["ar-2", "sentiment"] == "positive" and frame.loc["ar-2", "themes"] == "price"
    assert frame.loc["fa-1", "text"] == ROWS[1][1] and frame.loc["fa-1", "language"] == "fa"
    assert frame.loc["fa-2", "sentiment"] == "" and frame.loc["fa-2", "themes"] == ""  # stored, never classified
    assert str(frame.loc["ar-1", "is_complaint"]).lower() == "true"


def test_dates_filter_by_the_report_date_and_undated_items_count_when_received(store, tmp_path):
    march = ExportFilter(since=pd.Timestamp("2026-03-01"), until=pd.Timestamp("2026-03-20"))
    assert export_items(store, tmp_path / "march.csv", march) == 2  # until includes its whole day
    assert set(_read(tmp_path / "march.csv")["feedback_id"]) == {"ar-1", "fa-1"}
    received = pd.Timestamp.now().normalize()
    assert export_items(store, tmp_path / "today.csv", ExportFilter(since=received)) == 1  # fa-2, no date


def test_the_store_pages_by_date_in_its_query_and_rethemes_analysed_items_only(store):
    march = store.items_page(dated_from=pd.Timestamp("2026-03-01"), dated_before=pd.Timestamp("2026-03-21"))
    assert [r["feedback_id"] for r in march] == ["ar-1", "fa-1"]
    assert store.items_page(after="ar-1", limit=1, dated_from=pd.Timestamp("2026-03-01"))[0]["feedback_id"] == "ar-2"
    assert ExportFilter(until=pd.Timestamp("2026-03-20 18:00")).before == pd.Timestamp("2026-03-21")
    # the same paged query, joined to the vectors and to analysed items only (fa-2 was never classified)
    rows = store.items_to_retheme()
    assert [r["feedback_id"] for r in rows] == ["ar-1", "ar-2", "fa-1"]
    assert rows[0]["model_version"] == "m2" and rows[0]["vector"] is None and "normalised_text" in rows[0]
    assert [r["feedback_id"] for r in store.items_to_retheme(after="ar-2", limit=5)] == ["fa-1"]


def test_quarantined_rows_are_exported_with_their_reason(store, tmp_path):
    assert export_quarantine(store, tmp_path / "q.jsonl") == 1
    (row,) = [json.loads(line) for line in (tmp_path / "q.jsonl").read_text(encoding="utf-8").splitlines()]
    assert row["reason"] == "empty_text" and row["row_number"] == 5 and row["source_file"].endswith("feedback.csv")


def test_an_export_goes_back_into_themes_fit_as_labels(store, tmp_path):
    export_items(store, tmp_path / "items.xlsx")
    labels = read_examples(tmp_path / "items.xlsx").set_index("feedback_id")
    assert labels.loc["ar-1", "themes"] == "delivery;quality" and labels.loc["ar-1", "text"] == ROWS[0][1]
    assert parse_theme_cell(labels.loc["ar-1", "themes"]) == ["delivery", "quality"]
    assert parse_theme_cell(labels.loc["fa-2", "themes"]) == []  # never classified: an empty cell, no themes


@pytest.mark.parametrize("ids", [["delivery"], ["delivery", "price"], []])
def test_a_labelling_workbook_cell_reads_back_as_its_theme_ids(tmp_path, ids):
    from sada.models.labelling import write_labelling_workbook
    from sada.pipeline.taxonomy import load_taxonomy

    rows = [{"feedback_id": "ar-1", "language": "ar", "text": ROWS[0][1], "themes": ids, "scores": {"delivery": 0.7}}]
    write_labelling_workbook(tmp_path / "label.xlsx", rows, load_taxonomy())
    cell = read_examples(tmp_path / "label.xlsx")["themes"].iloc[0]
    assert cell == format_theme_cell(ids) and parse_theme_cell(cell) == ids


@pytest.mark.parametrize("name", ["items.txt", "items", "items.xls"])
def test_unknown_format_is_refused_before_anything_is_written(store, tmp_path, name):
    with pytest.raises(InputError, match=r"expected an output file ending in \.csv, \.xlsx"):
        export_items(store, tmp_path / name)
    assert list(tmp_path.glob("items*")) == []


def test_cli_exports_one_run_and_refuses_a_bad_date(store, tmp_path):
    url = str(store.engine.url)
    (run_id,) = {r["run_id"] for r in store.feedback_rows(["run_id"])}
    result = subprocess.run([*SADA, "export", "--db", url, "--out", str(tmp_path / "x.csv"), "--run", run_id,
                             "--quarantined", str(tmp_path / "q.csv"), "--json"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"out": str(tmp_path / "x.csv"), "rows": 4,
                                         "quarantined": str(tmp_path / "q.csv"), "quarantined_rows": 1}
    other = subprocess.run([*SADA, "export", "--db", url, "--out", str(tmp_path / "y.csv"), "--run", "no-such-run"],
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 0 and len(_read(tmp_path / "y.csv")) == 0
    bad = subprocess.run([*SADA, "export", "--db", url, "--out", str(tmp_path / "z.csv"), "--since", "soon"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "expected a date for --since such as 2026-03-01, found 'soon'" in bad.stderr
