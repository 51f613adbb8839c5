"""Progress on stderr for long commands (issue 22, item 6): a bar on a terminal, plain lines elsewhere, stdout clean."""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from rich.console import Console

import sada.progress
from sada.cli import main
from sada.progress import RowProgress, encoder_progress, plain_line


@pytest.mark.parametrize("done, total, seconds, expected", [
    (12000, 100000, 10.0, "x: 12,000 of about 100,000 rows (1,200 rows/s, about 1 min 13 s left)"),
    (500, None, 5.0, "x: 500 rows (100 rows/s)"),  # a JSON file: no estimate, no time left
    (0, 10, 0.0, "x: 0 of about 10 rows"),  # nothing done yet: no rate to divide by
    (120, 100, 1.0, "x: 120 of about 100 rows (120 rows/s)"),  # the estimate was low: no negative time
    (3600, 7200, 1.0, "x: 3,600 of about 7,200 rows (3,600 rows/s, about 1 s left)"),
])
def test_plain_line(done, total, seconds, expected):
    assert plain_line("x", done, total, seconds) == expected


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    with RowProgress(Console(file=out, force_terminal=False, width=200), interval=0) as progress:
        task = progress.task("analysing a.csv", total=1000)
        progress.advance(task, 512)
        progress.advance(task, 488)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("analysing a.csv: 512 of about 1,000 rows (")
    assert "\x1b" not in out.getvalue()  # no terminal control codes in a log file


def test_plain_lines_are_periodic_not_per_batch():
    out = io.StringIO()
    with RowProgress(Console(file=out, force_terminal=False), interval=3600) as progress:
        task = progress.task("analysing", total=None)
        for _ in range(100):
            progress.advance(task, 512)
    assert out.getvalue() == ""  # a fast run adds nothing to its log


def test_a_bar_on_a_terminal():
    out = io.StringIO()
    with RowProgress(Console(file=out, force_terminal=True, width=160)) as progress:
        assert progress.terminal
        task = progress.task("analysing a.csv", total=1000)
        progress.advance(task, 400)
        progress._bar.refresh()
    assert "analysing a.csv" in out.getvalue() and "400/1000" in out.getvalue()


def test_encoder_progress_counts_texts_and_restores_the_encoder():
    from sada.models.encoder import Encoder

    original = Encoder.batches
    encoder = object.__new__(Encoder)  # batches() needs only these two attributes
    encoder.max_length, encoder.pad_id = 32, 0
    ids = [[1] * n for n in (3, 9, 4, 20, 5)]
    out = io.StringIO()
    with RowProgress(Console(file=out, force_terminal=False, width=200), interval=0) as progress:
        with encoder_progress(progress, "scoring"):
            batches = list(Encoder.batches(encoder, ids, 2))
    assert Encoder.batches is original
    assert sorted(i for idx, _, _ in batches for i in idx) == [0, 1, 2, 3, 4]  # same batches, only counted
    assert [len(idx) for idx, _, _ in batches] == [len(idx) for idx, _, _ in original(encoder, ids, 2)]
    assert out.getvalue().splitlines()[-1].startswith("scoring 5 texts: 5 of about 5 texts")


def test_analyze_json_keeps_stdout_one_object_and_reports_progress_on_stderr(tmp_path, monkeypatch):
    monkeypatch.setattr(sada.progress, "PLAIN_INTERVAL", 0.0)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.csv").write_text("id,text\n1,الخدمة ممتازة جدا\n2,التطبيق يعلق دائما\n", encoding="utf-8")
    (folder / "b.csv").write_text("id,متن\n3,پیک دیر رسید\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["analyze", "--json", "--no-classify", "--db",
                                       f"sqlite:///{tmp_path / 's.sqlite'}", "--input", str(folder)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # one JSON object, nothing else
    assert summary["rows_read"] == 3 and summary["header_rows"] == 0
    assert "analysing: 3 of about 3 rows" in result.stderr
    assert f"{folder / 'a.csv'}: 2 of about 2 rows" in result.stderr  # per file when a folder is read
    assert f"{folder / 'b.csv'}: 1 of about 1 rows" in result.stderr
