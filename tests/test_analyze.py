"""End to end through `sada analyze`: counts add up, re-runs add nothing, both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sada.cli import main
from sada.pipeline.store import Store, analysis, feedback, quarantine

# A deliberately messy export: one row per bad-input class, plus good ones in both languages.
MESSY_ROWS = [
    ("m1", "الخدمة ممتازة والتوصيل سريع 😍", "c1", "2025-01-05", "9"),
    ("m2", "پشتیبانی اصلا جواب نمیده، خیلی بد بود!!!", "c2", "05/01/2025", "2"),
    ("m3", "", "c3", "2025-01-05", ""),  # empty text
    ("m4", "التطبيق يعلق كل مرة", "c4", "not a date", ""),  # unparseable date
    ("m5", "عالی بود", "c5", "2025-01-06", "12"),  # NPS out of range
    ("m6", "x" * 6000, "c6", "2025-01-06", ""),  # too long
    ("m7", "Доставка была быстрой", "c7", "2025-01-06", ""),  # unsupported language
    ("m8", 'قال "سنتصل بك"\nولم يتصل, أبدا', "c8", "2025-01-07", "3"),  # quotes, comma, newline
    ("m1", "الخدمة ممتازة والتوصيل سريع 😍", "c1", "2025-01-05", "9"),  # duplicate of m1
    ("m9", "great app, call me on 0912 345 6789", "c9", "2025-01-08", "10"),  # Latin, with a phone number
]


def write_messy_csv(path: Path) -> Path:
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Review ID", "Comment", "Customer", "Date", "NPS"])
        writer.writerows(MESSY_ROWS)
    with path.open("ab") as handle:
        handle.write(b'm10,"bad \xff\xfe bytes",c10,2025-01-09,5\n')  # undecodable bytes
    return path


def _analyze(*args: str) -> dict:
    result = CliRunner().invoke(main, ["analyze", *args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # stderr carries the progress lines of a slow run


@pytest.mark.slow
def test_messy_file_counts_add_up_and_rerun_adds_nothing(tmp_path, db_url):
    path = write_messy_csv(tmp_path / "messy.csv")
    first = _analyze("--input", str(path), "--db", db_url)
    assert first["rows_read"] == 11
    assert first["quarantine_reasons"] == {"empty_text": 1, "nps_out_of_range": 1, "text_too_long": 1,
                                           "undecodable_bytes": 1, "unparseable_date": 1,
                                           "unsupported_language": 1}
    assert (first["analysed"], first["quarantined"], first["duplicates"]) == (4, 6, 1)
    assert first["languages"] == {"ar": 2, "fa": 1, "mixed": 0, "other": 1, "ar-Latn": 0, "fa-Latn": 0}

    second = _analyze("--input", str(path), "--db", db_url)
    assert (second["rows_read"], second["analysed"], second["duplicates"], second["quarantined"]) == (11, 0, 5, 6)

    store = Store.open(db_url)
    assert store.count(feedback) == 4
    assert store.count(analysis) == 4  # each analysed item has its classifier result
    assert first["model_version"].startswith("sada-")
    assert store.count(quarantine) == 6  # the second run counts its rejections but does not store them twice


def test_quarantined_rows_keep_their_fields_and_dates_stay_readable(tmp_path):
    import sqlalchemy as sa

    path = write_messy_csv(tmp_path / "messy.csv")
    url = f"sqlite:///{tmp_path / 'q.sqlite'}"
    _analyze("--input", str(path), "--db", url, "--no-classify")
    with Store.open(url).engine.connect() as conn:
        rows = {r.reason: r.fields for r in conn.execute(sa.select(quarantine.c.reason, quarantine.c.fields))}
    # rejected after language ID: the whole input row is kept, not just the text
    assert rows["unsupported_language"]["customer_id"] == "c7"
    assert rows["unsupported_language"]["created_at"] == "2025-01-06"
    # PII masking must not turn a date into [PHONE]: the row could not be fixed and re-sent otherwise
    assert rows["nps_out_of_range"]["created_at"] == "2025-01-06"


def test_no_classify_stores_items_without_results(tmp_path):
    path = write_messy_csv(tmp_path / "messy.csv")
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    summary = _analyze("--input", str(path), "--db", url, "--no-classify")
    assert summary["analysed"] == 4 and summary["model_version"] is None
    assert Store.open(url).count(analysis) == 0


def test_missing_model_is_a_one_line_error(tmp_path):
    path = write_messy_csv(tmp_path / "messy.csv")
    result = CliRunner().invoke(main, ["analyze", "--input", str(path), "--model", str(tmp_path / "nope")])
    assert result.exit_code != 0 and str(tmp_path / "nope") in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_pii_is_masked_in_the_store_by_default(tmp_path, db_url):
    path = write_messy_csv(tmp_path / "messy.csv")
    _analyze("--input", str(path), "--db", db_url)
    with Store.open(db_url).engine.connect() as c:
        texts = [r.raw_text + " " + r.normalised_text for r in c.execute(feedback.select())]
    assert not any("0912" in t for t in texts)
    assert any("[PHONE]" in t for t in texts)


@pytest.mark.slow
def test_folder_of_mixed_formats(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_messy_csv(folder / "a.csv")
    (folder / "b.jsonl").write_text(
        json.dumps({"text": "سفارش دیر رسید", "nps": 4}, ensure_ascii=False) + "\n{oops\n", encoding="utf-8")
    (folder / "c.xlsx").write_bytes(b"PK\x03\x04 corrupt")
    summary = _analyze("--input", str(folder), "--db", f"sqlite:///{tmp_path / 's.sqlite'}")
    assert summary["rows_read"] == 11 + 2 + 1
    assert summary["analysed"] + summary["quarantined"] + summary["duplicates"] == summary["rows_read"]
    assert summary["quarantine_reasons"]["malformed_record"] == 1
    assert summary["quarantine_reasons"]["unreadable_file"] == 1


@pytest.mark.parametrize(
    "args, message",
    [
        (["analyze", "--input", "/nonexistent/file.csv"], "does not exist"),
        (["analyze", "--input", "{tmp}", "--db", "mysql://x/y"], "SADA_DATABASE_URL"),
        (["analyze", "--input", "{tmp}", "--map", "text"], "expected --map FIELD=COLUMN"),
    ],
)
def test_failures_are_one_line_errors_with_nonzero_exit(tmp_path, args, message):
    (tmp_path / "a.csv").write_text("text\nعالی\n", encoding="utf-8")
    args = [a.replace("{tmp}", str(tmp_path / "a.csv")) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [[], ["analyze"], ["run"]])
def test_help_is_available_everywhere(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


# analyze_texts: the public in-memory API (no files, no store)
IN_MEMORY = [
    ("الخدمة ممتازة والتوصيل سريع 😍", "ar", None),
    ("پشتیبانی اصلا جواب نمیده، خیلی بد بود!!!", "fa", None),
    ("   ", None, "empty_text"),  # blank text: an error for this item only
    (None, None, "not_text"),  # not a string at all
    ("Доставка была быстрой", "unsupported", "unsupported_language"),  # Cyrillic
    ("great app, call me on 0912 345 6789", "other", None),  # Latin, phone masked in the output
]


@pytest.mark.slow
def test_analyze_texts_gives_what_a_stored_run_stores(tmp_path):
    from sada import analyze_texts

    rows = analyze_texts([text for text, _, _ in IN_MEMORY])
    assert [(r["language"], r["error"]) for r in rows] == [(lang, err) for _, lang, err in IN_MEMORY]
    assert "0912" not in rows[5]["text"] and "[PHONE]" in rows[5]["normalised_text"]
    assert all(("sentiment" in r) == (r["error"] is None) for r in rows)

    path = write_messy_csv(tmp_path / "messy.csv")
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    _analyze("--input", str(path), "--db", url)
    with Store.open(url).engine.connect() as c:
        stored = {r.raw_text: r for r in c.execute(feedback.join(analysis).select())}
    for row in (rows[0], rows[1]):  # the same texts are in the messy file
        match = stored[row["text"]]
        assert (match.language, match.normalised_text, match.sentiment) == (
            row["language"], row["normalised_text"], row["sentiment"])
        probs = json.loads(match.sentiment_probs) if isinstance(match.sentiment_probs, str) else match.sentiment_probs
        assert probs == pytest.approx(row["sentiment_probs"], abs=1e-6)


@pytest.mark.parametrize("text, language", [
    ("التطبيق يعلق كل مرة أفتح الفاتورة", "ar"),
    ("اپلیکیشن موقع پرداخت قبض هنگ می‌کنه", "fa"),
])
def test_analyze_texts_without_a_model(text, language):
    from sada import analyze_texts

    (row,) = analyze_texts([text], classify=False)
    assert row["language"] == language and row["error"] is None and row["normalised_text"]
    assert "sentiment" not in row


@pytest.mark.slow
@pytest.mark.parametrize("language", ["ar", "fa"])
def test_the_pipeline_normalises_each_text_once_and_the_model_sees_the_same_input(language):
    """Passing the pipeline's normalised texts gives exactly the predictions of normalising inside the model."""
    from sada.corpus import sample_dir
    from sada.models.classifier import load_classifier
    from sada.pipeline.corpus import load_feedback
    from sada.pipeline.normalise import Normaliser

    corpus = load_feedback(sample_dir(), "test")
    texts = corpus[corpus["language"] == language]["text"].head(40).tolist()
    languages = [language] * len(texts)
    normaliser = Normaliser()
    assert normaliser.is_default and not Normaliser(mask_pii=False).is_default
    classifier = load_classifier()
    inside = classifier.predict(texts, languages)
    given = classifier.predict(texts, languages, normalised=[normaliser(t, language).text for t in texts])
    assert [(p.sentiment, p.themes, p.theme_sentiment) for p in inside] == [
        (p.sentiment, p.themes, p.theme_sentiment) for p in given]
    for a, b in zip(inside, given):
        assert a.sentiment_probs == pytest.approx(b.sentiment_probs, abs=1e-9)
    # and the argument is really used: other "normalised" texts move the TF-IDF view's probabilities
    other = classifier.predict(texts, languages, normalised=[""] * len(texts))
    assert any(a.sentiment_probs != pytest.approx(b.sentiment_probs, abs=1e-6) for a, b in zip(inside, other))
