"""Issue 12's hostile inputs through `sada analyze` on SQLite and PostgreSQL: no traceback, every record counted.

The cases and their true record counts live in tests/hostile_cases.py (also
used by benchmarks/hostile_inputs.py for the before/after table). Below the
generic check come the named regressions, one per case, checking what was
stored, not only the counts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from sada.cli import main
from sada.pipeline.store import Store, feedback, quarantine, runs
from tests.hostile_cases import CASES, TEXTS, Case, csv_bytes


def _run(db_url: str, inputs: list[Path], *args: str):
    command = ["analyze", "--json", "--no-classify", "--db", db_url, *args]
    for path in inputs:
        command += ["--input", str(path)]
    return CliRunner().invoke(main, command)


def _analyse(db_url: str, inputs: list[Path], *args: str) -> dict:
    result = _run(db_url, inputs, *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _build(case: Case, tmp_path: Path) -> list[Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    return case.build(folder)


@pytest.fixture
def unlock(tmp_path):
    yield
    for path in tmp_path.rglob("*"):  # let pytest clean up folders a case locked
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_record_is_accounted_for(case, db_url, tmp_path, unlock):
    inputs = _build(case, tmp_path)
    if case.expect_error:
        result = _run(db_url, inputs, *case.args)
        assert result.exit_code == 1
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
        return
    summary = _analyse(db_url, inputs, *case.args)
    assert summary["rows_read"] == case.records
    assert summary["analysed"] + summary["quarantined"] + summary["duplicates"] == summary["rows_read"]
    if case.analysed is not None:
        assert summary["analysed"] == case.analysed
    for reason, at_least in case.reasons.items():
        assert summary["quarantine_reasons"].get(reason, 0) >= at_least, summary["quarantine_reasons"]
    store = Store.open(db_url)
    assert store.count(feedback) == summary["analysed"] - summary["superseded"]
    assert store.count(quarantine) == summary["quarantined"]
    again = _analyse(db_url, inputs, *case.args)  # a second run adds nothing
    assert (again["analysed"], again["quarantined"] + again["duplicates"]) == (0, case.records)


def test_bad_cells_are_quarantined_with_their_reason(tmp_path, db_url):
    case = _case("nps_infinity_and_bad_dates")
    _analyse(db_url, _build(case, tmp_path))
    reasons = _quarantine_by_row(db_url)
    assert reasons == {1: "nps_out_of_range", 2: "unparseable_date", 3: "unparseable_date",
                       4: "nps_out_of_range", 5: "unparseable_date"}


def test_lone_surrogates_in_text_or_customer_id_are_quarantined(tmp_path, db_url):
    _analyse(db_url, _build(_case("lone_surrogates_jsonl"), tmp_path))
    assert _quarantine_by_row(db_url) == {1: "undecodable_bytes", 2: "undecodable_bytes"}


def test_nul_bytes_and_long_channels_are_quarantined_not_refused(tmp_path, db_url):
    _analyse(db_url, _build(_case("postgres_nul_and_long_channel"), tmp_path))
    assert _quarantine_by_row(db_url) == {1: "invalid_characters", 2: "field_too_long", 3: "invalid_characters"}
    with Store.open(db_url).engine.connect() as c:
        details = [json.dumps(f) for f in c.execute(select(quarantine.c.fields)).scalars()]
    assert all("\x00" not in d for d in details)


def test_a_value_the_database_refuses_quarantines_only_its_row(db_url):
    store = Store.open(db_url)
    good = {"feedback_id": "ok", "content_hash": "h1", "raw_text": TEXTS[0], "normalised_text": TEXTS[0],
            "language": "ar", "source": "review"}
    bad = {**good, "feedback_id": "bad", "content_hash": "h2", "channel": "c" * 100}  # wider than the column
    written, refused = store.add_feedback_or_refuse([good, bad])
    if store.engine.dialect.name == "sqlite":  # SQLite stores any length: nothing to refuse
        assert written == {"ok", "bad"} and refused == []
    else:
        assert written == {"ok"} and [r["feedback_id"] for r in refused] == ["bad"]
        assert "too long" in refused[0]["error"]


def test_an_unbalanced_quote_swallows_no_rows(tmp_path, db_url):
    _analyse(db_url, _build(_case("unbalanced_quote"), tmp_path))
    with Store.open(db_url).engine.connect() as c:
        ids = sorted(c.execute(select(feedback.c.feedback_id)).scalars())
        texts = list(c.execute(select(feedback.c.raw_text)).scalars())
        (fields,) = c.execute(select(quarantine.c.fields)).scalars()
    assert ids == sorted(f"q{i}" for i in range(1, 11) if i != 3)
    assert not any("\n" in t for t in texts)  # no row's text holds other rows
    assert fields["line"].startswith('q3,"')  # the broken line itself is kept


def test_long_ids_that_share_a_prefix_stay_two_items(tmp_path, db_url):
    summary = _analyse(db_url, _build(_case("long_ids_collide"), tmp_path))
    with Store.open(db_url).engine.connect() as c:
        ids = list(c.execute(select(feedback.c.feedback_id)).scalars())
    assert summary["duplicates"] == 0 and len(set(ids)) == 2 and all(len(i) <= 80 for i in ids)


def test_the_same_id_twice_in_one_run_keeps_the_newer_row(tmp_path, db_url):
    summary = _analyse(db_url, _build(_case("same_id_twice_in_run"), tmp_path))
    with Store.open(db_url).engine.connect() as c:
        text = c.execute(select(feedback.c.raw_text).where(feedback.c.feedback_id == "dup-1")).scalar_one()
    assert text == TEXTS[1] and summary["duplicates"] == 0  # as a later run would: the newer content wins


def test_a_repeated_header_name_is_not_silently_merged(tmp_path, db_url):
    inputs = _build(_case("duplicate_header"), tmp_path)
    _analyse(db_url, inputs)
    assert set(_quarantine_by_row(db_url).values()) == {"duplicate_column"}
    # picking one of the two columns explicitly reads the file
    chosen = _analyse(f"sqlite:///{tmp_path / 'other.sqlite'}", inputs, "--map", "text=text.2")
    assert chosen["analysed"] == 3


def test_a_corrupt_parquet_row_group_is_counted_row_by_row(tmp_path, db_url):
    summary = _analyse(db_url, _build(_case("corrupt_parquet_middle"), tmp_path))
    assert summary["quarantine_reasons"] == {"unreadable_rows": 4096}  # exactly the middle row group
    assert summary["analysed"] == 10_000 - 4096


def test_folder_entries_that_cannot_be_read_are_counted(tmp_path, db_url, unlock):
    summary = _analyse(db_url, _build(_case("odd_folder"), tmp_path))
    with Store.open(db_url).engine.connect() as c:
        quarantined = dict(c.execute(select(quarantine.c.source_file, quarantine.c.reason)).all())
    names = {Path(k).name: v for k, v in quarantined.items()}
    assert names["notes.txt"] == names["old.xls"] == "unsupported_format"
    assert names["loop"] == "unreadable_file"  # the symlink loop
    assert ("gone.csv" if os.geteuid() == 0 else "locked") in names
    assert summary["analysed"] == 4  # good.csv and the gzip-compressed packed.csv.gz


def test_utf8_lines_in_a_windows_1256_file_are_decoded_not_mangled(tmp_path, db_url):
    _analyse(db_url, _build(_case("cp1256_with_utf8_lines"), tmp_path))
    with Store.open(db_url).engine.connect() as c:
        rows = dict(c.execute(select(feedback.c.feedback_id, feedback.c.raw_text)).all())
        languages = dict(c.execute(select(feedback.c.feedback_id, feedback.c.language)).all())
    assert rows["m8"] == "سفارش خیلی دیر رسید" and languages["m8"] == "fa"
    assert rows["m9"] == "المنتج ممتاز جدا" and rows["m0"] == "الخدمة ممتازة والتوصيل سريع"


def test_an_oversized_field_is_stored_as_a_bounded_prefix_with_length_and_hash(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    _analyse(url, _build(_case("oversized_field"), tmp_path))
    with Store.open(url).engine.connect() as c:
        (fields,) = c.execute(select(quarantine.c.fields)).scalars()
    assert len(fields["text"]) < 3000 and "12000000 characters, sha256 " in fields["text"]
    assert (tmp_path / "s.sqlite").stat().st_size < 2_000_000  # not the 12 MB cell


def test_an_unknown_encoding_is_a_one_line_error_that_creates_nothing(tmp_path):
    inputs = _build(_case("bogus_encoding"), tmp_path)
    result = _run(f"sqlite:///{tmp_path / 'new.sqlite'}", inputs, "--encoding", "bogus")
    assert result.exit_code == 1 and "unknown encoding 'bogus'" in result.output
    assert not (tmp_path / "new.sqlite").exists()


def test_a_file_that_is_not_a_database_is_a_one_line_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    data = tmp_path / "a.csv"
    data.write_bytes(csv_bytes(["id", "text"], [["1", TEXTS[0]]]))
    result = _run(f"sqlite:///{tmp_path / 'notes.txt'}", [data])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip().splitlines() == [result.output.strip()] and "not a database" in result.output


def test_report_on_a_mistyped_store_path_creates_no_store(tmp_path):
    result = CliRunner().invoke(main, ["report", "--db", f"sqlite:///{tmp_path / 'tpyo.sqlite'}",
                                       "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "found no such file" in result.output
    assert not (tmp_path / "tpyo.sqlite").exists()


def test_the_same_file_by_relative_and_absolute_path_is_quarantined_once(tmp_path, monkeypatch):
    data = tmp_path / "a.csv"
    data.write_bytes(csv_bytes(["id", "text", "nps"], [["1", TEXTS[0], "42"], ["2", TEXTS[1], "3"]]))
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    monkeypatch.chdir(tmp_path)
    _analyse(url, [Path("a.csv")])
    _analyse(url, [data.resolve()])
    assert Store.open(url).count(quarantine) == 1


def test_a_killed_run_is_marked_interrupted_on_the_next_start(tmp_path, db_url):
    import subprocess
    import sys

    store = Store.open(db_url)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed = store.start_run("analyze")
    with store.engine.begin() as c:  # as if the child process had started the run
        c.execute(runs.update().where(runs.c.run_id == killed).values(pid=child.pid))
    child.kill()
    child.wait()
    alive = store.start_run("analyze")  # this process: still running
    store.start_run("analyze")
    with store.engine.connect() as c:
        status = dict(c.execute(select(runs.c.run_id, runs.c.status)).all())
    assert status[killed] == "interrupted" and status[alive] == "running"


def _case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def _quarantine_by_row(db_url: str) -> dict[int, str]:
    with Store.open(db_url).engine.connect() as c:
        return dict(c.execute(select(quarantine.c.row_number, quarantine.c.reason)).all())



@pytest.mark.slow
def test_report_quotes_are_masked_even_when_the_store_is_not(tmp_path):
    """With --no-mask-pii the store keeps raw text, but the report (which travels further) masks its quotes."""
    from sada.pipeline.report import build_report
    from tests.pii_cases import PII_CASES

    phones = [v for v, _ in PII_CASES]  # every kind: phones, e-mails, IBANs, cards
    rows = [[f"p{i}", "2026-05-1{}".format(i % 9), f"التوصيل متأخر جدا والمندوب لم يرد، راسلوني على {phone}"]
            for i, phone in enumerate(phones)]
    rows += [[f"f{i}", "2026-05-1{}".format(i % 9), f"سفارش خیلی دیر رسید و غذا سرد بود، شمارم {phone}"]
             for i, phone in enumerate(phones)]
    data = tmp_path / "pii.csv"
    data.write_bytes(csv_bytes(["id", "date", "text"], rows))
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    result = CliRunner().invoke(main, ["analyze", "--json", "--no-mask-pii", "--db", url, "--input", str(data)])
    assert result.exit_code == 0, result.output
    store = Store.open(url)
    with store.engine.connect() as c:
        stored = " ".join(c.execute(select(feedback.c.raw_text)).scalars())
    assert all(phone in stored for phone in phones)  # the store really holds them
    html = build_report(store, out=tmp_path / "r.html").path.read_text(encoding="utf-8")
    assert "التوصيل متأخر" in html or "سفارش خیلی دیر" in html  # the quotes are in the report
    assert [phone for phone in phones if phone in html] == []
    assert "[PHONE]" in html or "[EMAIL]" in html or "[IBAN]" in html or "[CARD]" in html  # masked, not dropped
