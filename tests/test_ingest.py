"""Reading feedback files: formats, encodings, line endings, column mapping, broken files."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pandas as pd
import pytest

from sada.pipeline.errors import ColumnMappingError, InputError
from sada.pipeline.ingest import ColumnMapping, detect_encoding, expand_inputs, read_file, read_inputs

ROWS = [
    {"id": "a1", "comment": "الخدمة ممتازة والتوصيل سريع", "nps": 9},
    {"id": "a2", "comment": "پشتیبانی اصلا جواب نمی‌دهد، خیلی بد", "nps": 2},
    {"id": "a3", "comment": 'قال لي "انتظر" ثم\nأغلق الخط, بدون حل', "nps": 4},  # quotes, comma and newline inside
]


def _write(frame: pd.DataFrame, path: Path) -> Path:
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".xlsx", ".parquet"])
def test_every_format_round_trips_text_and_fields(tmp_path, suffix):
    path = _write(pd.DataFrame(ROWS), tmp_path / f"feedback{suffix}")
    rows = list(read_file(path))
    assert [r.fields["text"] for r in rows] == [r["comment"] for r in ROWS]
    assert [str(r.fields["feedback_id"]) for r in rows] == ["a1", "a2", "a3"]
    assert [int(r.fields["nps_score"]) for r in rows] == [9, 2, 4]
    assert [r.row_number for r in rows] == [1, 2, 3]


@pytest.mark.parametrize(
    "encoding, expected",
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8-sig"),  # Excel's "CSV UTF-8" adds a BOM
        ("utf-16", "utf-16"),  # with BOM, as Excel's "Unicode text" writes it
        ("utf-16-le", "utf-16-le"),  # no BOM
        ("cp1256", "cp1256"),  # Windows Arabic code page, common in older exports
    ],
)
def test_encodings_are_detected_and_decoded(tmp_path, encoding, expected):
    text = "id,text\n1,الخدمة ممتازة جدا والموظفين محترمين\n2,خیلی عالی بود ممنون\n"
    if encoding == "cp1256":
        text = "id,text\n1,الخدمة ممتازة جدا والموظفين محترمين\n2,التوصيل تأخر يومين\n"  # cp1256 has no Persian گ/ی
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode(encoding))
    assert detect_encoding(path.read_bytes()) == expected
    rows = list(read_file(path))
    assert [r.fields["text"] for r in rows] == [line.split(",", 1)[1] for line in text.splitlines()[1:]]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_are_normalised(tmp_path, newline):
    path = tmp_path / "f.csv"
    path.write_bytes(newline.join(["id,text", '1,"سطر أول' + newline + 'سطر ثان"', "2,عادي", ""]).encode())
    rows = list(read_file(path))
    assert [r.fields["text"] for r in rows] == ["سطر أول\nسطر ثان", "عادي"]


def test_one_bad_byte_quarantines_only_its_row(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes("id,text\n1,سلام\n".encode() + b"2,bad \xff\xfe byte\n" + "3,مرحبا\n".encode())
    rows = list(read_file(path))
    assert len(rows) == 3
    assert "\udcff" in rows[1].fields["text"]  # kept as an escape; validation quarantines it
    assert rows[2].fields["text"] == "مرحبا"


@pytest.mark.parametrize(
    "header, expected",
    [
        (["Comment", "Customer ID", "Date", "NPS"], {"text": "Comment", "customer_id": "Customer ID",
                                                    "created_at": "Date", "nps_score": "NPS"}),
        (["النص", "رقم العميل", "التاريخ"], {"text": "النص", "customer_id": "رقم العميل", "created_at": "التاريخ"}),
        (["متن", "کد مشتری", "تاریخ", "امتیاز"], {"text": "متن", "customer_id": "کد مشتری", "created_at": "تاریخ",
                                              "rating": "امتیاز"}),
        (["review_text", "stars", "platform"], {"text": "review_text", "rating": "stars", "channel": "platform"}),
    ],
)
def test_common_headers_are_detected(header, expected):
    assert ColumnMapping().resolve(header) == expected


def test_explicit_mapping_wins_and_bad_mappings_explain_themselves():
    assert ColumnMapping.parse(["text=body2"]).resolve(["body", "body2"])["text"] == "body2"
    with pytest.raises(ColumnMappingError, match="expected a column named 'nope'"):
        ColumnMapping.parse(["text=nope"]).resolve(["body"])
    with pytest.raises(ColumnMappingError, match="expected --map FIELD=COLUMN"):
        ColumnMapping.parse(["text"])
    with pytest.raises(ColumnMappingError, match="unknown field"):
        ColumnMapping.parse(["colour=body"])


def test_file_without_text_column_quarantines_each_row(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,amount\n1,20\n2,30\n", encoding="utf-8")
    rows = list(read_file(path))
    assert [(r.row_number, r.error) for r in rows] == [(1, "missing_text_column"), (2, "missing_text_column")]


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "unreadable_file"),  # corrupt Excel file
        ("broken.parquet", b"PAR1 garbage", "unreadable_file"),  # corrupt Parquet file
        ("notes.docx", b"whatever", "unsupported_format"),  # a format Sada does not read
    ],
)
def test_unreadable_files_yield_one_row_with_the_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    rows = list(read_file(path))
    assert len(rows) == 1 and rows[0].error == reason and rows[0].detail


def test_bad_json_lines_are_rows_of_their_own(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_text('{"text": "ممتاز"}\n{"text": broken\n[1, 2]\n\n{"text": "عالی"}\n', encoding="utf-8")
    rows = list(read_file(path))
    assert [r.error for r in rows] == [None, "malformed_record", "malformed_record", None]


def test_csv_rows_with_too_many_fields_are_malformed(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,text\n1,خوب\n2,بد,اضافه,بیشتر\n", encoding="utf-8")
    assert [r.error for r in read_file(path)] == [None, "malformed_record"]


def test_folders_are_expanded_and_missing_paths_are_clear_errors(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl").write_text(json.dumps({"text": "عالی"}) + "\n", encoding="utf-8")
    (tmp_path / "a.csv").write_text("text\nممتاز\n", encoding="utf-8")
    (tmp_path / "readme.txt").write_text("not feedback", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")  # hidden entries are not inputs
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.csv", "readme.txt", "b.jsonl"]
    rows = list(read_inputs([tmp_path]))  # the .txt file is counted, not skipped
    assert [r.error for r in rows] == [None, "unsupported_format", None]
    with pytest.raises(InputError, match="does not exist"):
        expand_inputs([tmp_path / "missing.csv"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="found none"):
        expand_inputs([tmp_path / "empty"])


def test_bom_in_header_does_not_hide_the_text_column(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(codecs.BOM_UTF8 + "text,id\nعالی,1\n".encode())
    assert [r.fields.get("text") for r in read_file(path)] == ["عالی"]


@pytest.mark.parametrize(
    "body, errors",
    [
        # the quote never closes: it would swallow every line to the end of the file
        ('q1,"الخدمة ممتازة,\nq2,سفارش دیر رسید,\nq3,عالی بود,\n', ["malformed_record", None, None]),
        # the quote would close at the next row's opening quote; that row is well formed on its own
        ('q1,"الخدمة ممتازة,\nq2,"سفارش دیر رسید",\nq3,عالی بود,\n', ["malformed_record", None, None]),
        # a quoted field may hold a line break: one record, not a broken one
        ('q1,"الخدمة ممتازة\nوالتوصيل سريع",\nq2,عالی بود,\n', [None, None]),
    ],
)
def test_an_unbalanced_quote_costs_only_its_own_line(tmp_path, body, errors):
    path = tmp_path / "f.csv"
    path.write_text("id,text,nps\n" + body, encoding="utf-8")
    assert [r.error for r in read_file(path)] == errors
