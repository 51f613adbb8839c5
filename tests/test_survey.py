"""Survey-tool exports, workbooks and JSON files as CX teams receive them (issue 22, items 1 and 2).

Each survey tool's layout is built from its documented export format with invented
responses. Every test checks that no metadata row (question texts, ImportId JSON,
sub-answer labels, title rows) is analysed or quarantined, and that every response
is accounted for.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from sada.cli import main
from sada.pipeline.ingest import read_file
from sada.pipeline.store import Store, feedback, quarantine
from sada.pipeline.survey import clean_header, detect_layout, find_header_row, guess_columns, nps_values

# Invented answers, per language: (NPS score, free-text answer).
ANSWERS = {
    "ar": [("9", "التوصيل كان سريع والمندوب محترم جدا"),
           ("3", "التطبيق يعلق كل ما أحاول أدفع الفاتورة"),
           ("10", "خدمة العملاء ردوا علي خلال دقيقتين وحلوا المشكلة"),
           ("6", "الأسعار ارتفعت كثير هالشهر بدون أي تحسين")],
    "fa": [("9", "پیک خیلی سریع رسید و غذا هنوز داغ بود"),
           ("2", "اپلیکیشن موقع پرداخت قبض هنگ می‌کند"),
           ("10", "پشتیبانی در کمتر از پنج دقیقه مشکل را حل کرد"),
           ("5", "قیمت‌ها این ماه بالا رفته ولی کیفیت همان است")],
}
QUESTIONS = {  # (NPS question, open question) as each language's survey would ask them
    "en": ("How likely are you to recommend Sada Mobile to a friend or colleague?",
           "What is the main reason for your score?"),
    "ar": ("ما مدى احتمال أن توصي بخدمتنا لصديق أو زميل؟", "ما السبب الرئيسي لتقييمك؟"),
    "fa": ("چقدر احتمال دارد ما را به دوستان خود پیشنهاد کنید؟", "دلیل اصلی امتیاز شما چیست؟"),
}


def _csv(path: Path, rows: list[list[object]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def _xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


# --------------------------------------------------------------------------- survey tools


def qualtrics(folder: Path, lang: str) -> Path:
    """Qualtrics CSV: column ids, question texts, then {"ImportId": ...} JSON (the 'legacy=false' export)."""
    nps_q, open_q = QUESTIONS[lang]
    ids = ["StartDate", "EndDate", "Status", "Progress", "Duration (in seconds)", "Finished", "RecordedDate",
           "ResponseId", "DistributionChannel", "UserLanguage", "Q1_NPS_GROUP", "Q1", "Q2"]
    texts = ["Start Date", "End Date", "Response Type", "Progress", "Duration (in seconds)", "Finished",
             "Recorded Date", "Response ID", "Distribution Channel", "User Language", f"{nps_q} - Group", nps_q,
             open_q]
    imports = [json.dumps(d) for d in (
        {"ImportId": "startDate", "timeZone": "Asia/Riyadh"}, {"ImportId": "endDate", "timeZone": "Asia/Riyadh"},
        {"ImportId": "status"}, {"ImportId": "progress"}, {"ImportId": "duration"}, {"ImportId": "finished"},
        {"ImportId": "recordedDate", "timeZone": "Asia/Riyadh"}, {"ImportId": "_recordId"},
        {"ImportId": "distributionChannel"}, {"ImportId": "userLanguage"}, {"ImportId": "QID1_NPS_GROUP"},
        {"ImportId": "QID1"}, {"ImportId": "QID2_TEXT"})]
    group = lambda s: "Promoter" if int(s) >= 9 else "Passive" if int(s) >= 7 else "Detractor"  # noqa: E731
    rows = [["2025-03-02 10:0%d:00" % i, "2025-03-02 10:1%d:00" % i, "IP Address", "100", "600", "True",
             "2025-03-02 10:1%d:05" % i, f"R_{lang}{i}xYz", "anonymous", lang.upper(), group(score), score, text]
            for i, (score, text) in enumerate(ANSWERS[lang])]
    return _csv(folder / "qualtrics.csv", [ids, texts, imports, *rows])


def surveymonkey(folder: Path, lang: str) -> Path:
    """SurveyMonkey 'all responses' CSV: questions, then each column's sub-answer; a question can span columns."""
    nps_q, open_q = QUESTIONS[lang]
    header = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address",
              "First Name", "Last Name", "Custom Data 1", nps_q, "Which services did you use?", "", open_q]
    subs = ["", "", "", "", "", "", "", "", "", "Response", "Delivery", "Payment", "Open-Ended Response"]
    rows = [[f"11430000{i}", "40000123", "03/02/2025 10:01:12 AM", "03/02/2025 10:04:40 AM", "", "", "", "",
             "", score, "Delivery" if i % 2 else "", "Payment", text] for i, (score, text) in enumerate(ANSWERS[lang])]
    return _csv(folder / "surveymonkey.csv", [header, subs, *rows])


def google_forms(folder: Path, lang: str) -> Path:
    """Google Forms responses CSV: a timestamp, then each question's text as its header."""
    header = {"ar": ["الطابع الزمني", "ما مدى احتمال أن ترشحنا لصديق؟ (0-10)", "أخبرنا بالمزيد", "رقم العميل"],
              "fa": ["مهر زمانی", "چقدر احتمال دارد ما را به دوستانتان معرفی کنید؟ (۰ تا ۱۰)", "بیشتر برایمان بنویسید",
                     "شماره مشتری"]}[lang]
    rows = [[f"2025-03-0{i + 1} 10:01:12", score, text, f"C-10{i}"] for i, (score, text) in enumerate(ANSWERS[lang])]
    return _csv(folder / "google_forms.csv", [header, *rows])


def google_forms_english(folder: Path, lang: str) -> Path:
    """The issue's own example: English questions, customers answering in Arabic or Persian."""
    header = ["Timestamp", "How likely is it that you would recommend us to a friend? (0-10)", "Tell us more",
              "Customer number"]
    rows = [[f"2025-03-0{i + 1} 10:01:12", score, text, f"C-20{i}"] for i, (score, text) in enumerate(ANSWERS[lang])]
    return _csv(folder / "google_forms_en.csv", [header, *rows])


def microsoft_forms(folder: Path, lang: str) -> Path:
    """Microsoft Forms 'Open results in Excel' workbook: ID, times, respondent, then the questions."""
    nps_q, open_q = QUESTIONS[lang]
    header = ["ID", "Start time", "Completion time", "Email", "Name", nps_q, open_q]
    rows = [[i + 1, datetime(2025, 3, 2, 10, i), datetime(2025, 3, 2, 10, i + 5), "anonymous", None, int(score),
             text] for i, (score, text) in enumerate(ANSWERS[lang])]
    return _xlsx(folder / "microsoft_forms.xlsx", {"Sheet1": [header, *rows]})


def typeform(folder: Path, lang: str) -> Path:
    """Typeform responses CSV: '#' (the response token), the questions, then its own dates and network id."""
    nps_q, open_q = QUESTIONS[lang]
    header = ["#", nps_q, open_q, "Start Date (UTC)", "Submit Date (UTC)", "Network ID"]
    rows = [[f"t0k3n{lang}{i}abcdef", score, text, "2025-03-02 10:01:00", f"2025-03-02 10:0{i + 2}:00", "9f8e7d6c"]
            for i, (score, text) in enumerate(ANSWERS[lang])]
    return _csv(folder / "typeform.csv", [header, *rows])


def unnamed_columns(folder: Path, lang: str) -> Path:
    """No header names anything: the text column is the one holding Arabic-script free text."""
    rows = [[f"ref-{i}", "web", text, score] for i, (score, text) in enumerate(ANSWERS[lang])]
    return _csv(folder / "export.csv", [["ref", "col_a", "col_b", "col_c"], *rows])


SURVEYS = [
    # tool builder, header rows skipped, expected columns (nps and text; ids and dates where the tool has them)
    (qualtrics, 2, {"text": "Q2", "nps_score": "Q1", "feedback_id": "ResponseId", "created_at": "RecordedDate"}),
    (surveymonkey, 1, {"text": "{open}", "nps_score": "{nps}", "feedback_id": "Respondent ID",
                       "created_at": "End Date"}),
    (google_forms, 0, {"text": "{2}", "nps_score": "{1}", "created_at": "{0}", "customer_id": "{3}"}),
    (google_forms_english, 0, {"text": "Tell us more", "customer_id": "Customer number", "created_at": "Timestamp",
                               "nps_score": "How likely is it that you would recommend us to a friend? (0-10)"}),
    # Microsoft Forms' ID counts from 1 in every form: not an id, so two forms never collide
    (microsoft_forms, 0, {"text": "{open}", "nps_score": "{nps}", "created_at": "Completion time"}),
    (typeform, 0, {"text": "{open}", "nps_score": "{nps}", "feedback_id": "#", "created_at": "Submit Date (UTC)"}),
    (unnamed_columns, 0, {"text": "col_b"}),  # found by content, the ref column is not text
]


def _expected(columns: dict[str, str], path: Path) -> dict[str, str]:
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8")))) if path.suffix == ".csv" else []
    nps_q, open_q = QUESTIONS[_lang_of(path)]
    out = {}
    for name, value in columns.items():
        if value.startswith("{") and value[1:-1].isdigit():
            value = header[int(value[1:-1])]
        out[name] = value.replace("{open}", open_q).replace("{nps}", nps_q)
    return out


def _lang_of(path: Path) -> str:
    return path.parent.name


def _analyse(tmp_path: Path, *args: str) -> dict:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    result = CliRunner().invoke(main, ["analyze", "--json", "--no-classify", "--db", url, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _stored_texts(tmp_path: Path) -> list[str]:
    with Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}").engine.connect() as conn:
        return [row.raw_text for row in conn.execute(feedback.select())]


def _quarantined(tmp_path: Path) -> list[tuple[str, dict]]:
    with Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}").engine.connect() as conn:
        return [(row.reason, row.fields) for row in conn.execute(quarantine.select())]


@pytest.mark.parametrize("lang", ["ar", "fa"])
@pytest.mark.parametrize("build, header_rows, columns", SURVEYS, ids=lambda v: getattr(v, "__name__", None))
def test_survey_exports_analyse_every_response_and_no_metadata_row(tmp_path, lang, build, header_rows, columns):
    folder = tmp_path / lang
    folder.mkdir()
    path = build(folder, lang)
    summary = _analyse(tmp_path, "--input", str(path))
    answers = [text for _, text in ANSWERS[lang]]
    assert summary["rows_read"] == len(answers)  # responses only: metadata rows are not rows
    assert (summary["analysed"], summary["quarantined"], summary["duplicates"]) == (len(answers), 0, 0)
    assert summary["header_rows"] == header_rows
    assert summary["columns"] == _expected(columns, path)
    assert sorted(_stored_texts(tmp_path)) == sorted(answers)  # no question text, ImportId or sub-answer stored
    assert _quarantined(tmp_path) == []


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_nps_scores_come_from_the_recommend_question(tmp_path, lang):
    folder = tmp_path / lang
    folder.mkdir()
    rows = list(read_file(qualtrics(folder, lang)))
    assert [int(r.fields["nps_score"]) for r in rows] == [int(score) for score, _ in ANSWERS[lang]]
    assert {r.layout.tool for r in rows} == {"qualtrics"} and rows[0].row_number == 1


def test_map_still_wins_over_detection(tmp_path):
    folder = tmp_path / "ar"
    folder.mkdir()
    path = qualtrics(folder, "ar")
    summary = _analyse(tmp_path, "--input", str(path), "--map", "text=Q1_NPS_GROUP", "--map", "nps_score=Q1")
    assert summary["columns"]["text"] == "Q1_NPS_GROUP" and summary["header_rows"] == 2
    assert summary["rows_read"] == 4 and summary["languages"]["other"] == 4  # "Promoter" etc. are Latin


def test_plain_summary_prints_the_chosen_columns(tmp_path):
    folder = tmp_path / "fa"
    folder.mkdir()
    path = qualtrics(folder, "fa")
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    result = CliRunner().invoke(main, ["analyze", "--no-classify", "--db", url, "--input", str(path)])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if line.startswith("columns"))
    assert json.loads(line.removeprefix("columns")) == {"text": "Q2", "feedback_id": "ResponseId",
                                                        "created_at": "RecordedDate", "nps_score": "Q1"}
    assert "header rows  2" in result.stdout


def test_a_folder_of_exports_reports_each_files_columns(tmp_path):
    folder = tmp_path / "ar"
    folder.mkdir()
    qualtrics(folder, "ar")
    typeform(folder, "ar")
    summary = _analyse(tmp_path, "--input", str(folder))
    assert summary["rows_read"] == 4 + 4 and summary["header_rows"] == 2
    assert (summary["analysed"], summary["duplicates"]) == (8, 0)  # each tool's own response id
    assert summary["columns"]["text"] == ["Q2", QUESTIONS["ar"][1]]  # the files differ: both named


# --------------------------------------------------------------------------- workbooks, headers, JSON


def test_xlsx_whose_first_sheet_is_a_summary_reads_the_data_sheet(tmp_path):
    path = _xlsx(tmp_path / "book.xlsx", {
        "Summary": [["ملخص الاستبيان"], ["عدد الردود", 4], ["NPS", 25]],
        "Responses": [["id", "النص", "NPS"], *[[f"r{i}", t, int(s)] for i, (s, t) in enumerate(ANSWERS["ar"])]],
    })
    summary = _analyse(tmp_path, "--input", str(path))
    assert (summary["rows_read"], summary["analysed"], summary["quarantined"]) == (4, 4, 0)
    assert summary["sheets"] == {str(path): ["Responses"]}
    assert sorted(_stored_texts(tmp_path)) == sorted(t for _, t in ANSWERS["ar"])


@pytest.mark.parametrize("sheet, rows_read, analysed, sheets", [
    ("Summary", 2, 0, ["Summary"]),  # by name: the summary's two rows have no text column
    ("2", 4, 4, ["Responses"]),  # by number, counted from 1
    ("all", 6, 4, ["Summary", "Responses"]),  # every sheet, each row labelled file#sheet
])
def test_sheet_option_picks_sheets(tmp_path, sheet, rows_read, analysed, sheets):
    path = _xlsx(tmp_path / "book.xlsx", {
        "Summary": [["الملخص"], ["الردود", 4], ["المتوسط", 7]],
        "Responses": [["id", "متن", "NPS"], *[[f"r{i}", t, int(s)] for i, (s, t) in enumerate(ANSWERS["fa"])]],
    })
    summary = _analyse(tmp_path, "--input", str(path), "--sheet", sheet)
    assert (summary["rows_read"], summary["analysed"]) == (rows_read, analysed)
    assert summary["analysed"] + summary["quarantined"] + summary["duplicates"] == summary["rows_read"]
    assert summary["sheets"] == {str(path): sheets}
    assert set(summary["quarantine_reasons"]) <= {"missing_text_column"}


def test_a_missing_sheet_is_one_quarantined_row_naming_the_sheets(tmp_path):
    path = _xlsx(tmp_path / "book.xlsx", {"Responses": [["النص"], ["الخدمة ممتازة جدا"]]})
    rows = list(read_file(path, sheet="Feedback"))
    assert [(r.error, r.row_number) for r in rows] == [("unreadable_file", 0)]
    assert "Feedback" in rows[0].detail and "Responses" in rows[0].detail


def test_sheet_zero_is_a_one_line_error(tmp_path):
    path = _xlsx(tmp_path / "book.xlsx", {"Responses": [["النص"], ["الخدمة ممتازة جدا"]]})
    result = CliRunner().invoke(main, ["analyze", "--no-classify", "--db", f"sqlite:///{tmp_path / 's.db'}",
                                       "--input", str(path), "--sheet", "0"])
    assert result.exit_code != 0 and "number from 1" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_xlsx_with_a_title_row_and_a_blank_row_above_the_header(tmp_path, lang):
    title = {"ar": "تقرير ملاحظات العملاء - مارس 2025", "fa": "گزارش بازخورد مشتریان - اسفند ۱۴۰۳"}[lang]
    text_header = {"ar": "التعليق", "fa": "نظر"}[lang]
    path = _xlsx(tmp_path / "report.xlsx", {"Sheet1": [
        [title], [], ["رقم" if lang == "ar" else "شناسه", text_header, "NPS"],
        *[[i, t, int(s)] for i, (s, t) in enumerate(ANSWERS[lang])]]})
    summary = _analyse(tmp_path, "--input", str(path))
    assert (summary["rows_read"], summary["analysed"], summary["header_rows"]) == (4, 4, 1)
    assert summary["columns"]["text"] == text_header
    assert title not in _stored_texts(tmp_path)


@pytest.mark.parametrize("header, expected", [
    (["\u200fالنص\u200f", "رقم العميل"], "النص"),  # right-to-left marks around the name (Excel, RTL editors)
    (["\u202bالنص\u202c", "id"], "النص"),  # an embedding pushed and popped around it
    (["\u2067متن\u2069", "id"], "متن"),  # an isolate, as newer editors write
    (["\u200bالنص", "id"], "النص"),  # a zero-width space
])
def test_bidi_and_zero_width_marks_are_stripped_from_header_names(tmp_path, header, expected):
    path = _csv(tmp_path / "marks.csv", [header, ["الخدمة ممتازة جدا", "c1"], ["پیک دیر رسید", "c2"]])
    rows = list(read_file(path))
    assert [r.fields.get("text") for r in rows] == ["الخدمة ممتازة جدا", "پیک دیر رسید"]
    assert rows[0].layout.columns["text"] == expected
    mapped = list(read_file(path, __import__("sada.pipeline.ingest", fromlist=["x"]).ColumnMapping.parse(
        [f"text={expected}"])))  # --map uses the clean name
    assert [r.error for r in mapped] == [None, None]


def test_csv_header_with_rtl_marks_through_analyze(tmp_path):
    path = _csv(tmp_path / "marks.csv", [["\u200fرقم\u200f", "\u200fالنص\u200f"],
                                         ["1", "الخدمة ممتازة جدا"], ["2", "التطبيق بطيء"]])
    summary = _analyse(tmp_path, "--input", str(path))
    assert (summary["rows_read"], summary["analysed"], summary["columns"]["text"]) == (2, 2, "النص")


JSON_RECORDS = [{"id": f"j{i}", "comment": t, "nps": int(s)} for i, (s, t) in enumerate(ANSWERS["ar"])]


@pytest.mark.parametrize("document", [
    JSON_RECORDS,  # an array of objects
    {"results": JSON_RECORDS, "count": 4, "next": None},  # an API page: one list of records
    {"meta": {"page": 1, "total": 4}, "data": JSON_RECORDS},  # metadata object beside the list
], ids=["array", "object-with-list", "object-with-meta"])
def test_json_files_of_records_are_read(tmp_path, document):
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    summary = _analyse(tmp_path, "--input", str(path))
    assert (summary["rows_read"], summary["analysed"], summary["quarantined"]) == (4, 4, 0)
    assert summary["columns"] == {"text": "comment", "feedback_id": "id", "nps_score": "nps"}


@pytest.mark.parametrize("document, errors", [
    ([{"text": "عالی بود"}, "just a string", {"text": "سيء", "text ": 1}], [None, "malformed_record", None]),
    ('[{"text": "عالی"}, {"text": "a", "text": "b"}]', [None, "malformed_record"]),  # a repeated key
    ({"a": [{"text": "عالی"}], "b": [{"text": "خوب"}]}, ["unreadable_file"]),  # two lists: which one?
    ({"text": "الخدمة ممتازة", "id": "x1"}, [None]),  # one flat object: one record
    ("[{\"text\": \"عالی\"", ["unreadable_file"]),  # truncated: one row naming the problem
])
def test_json_files_that_are_not_plain_records(tmp_path, document, errors):
    path = tmp_path / "odd.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document, ensure_ascii=False),
                    encoding="utf-8")
    rows = list(read_file(path))
    assert [r.error for r in rows] == errors
    assert all(r.detail for r in rows if r.error)


# --------------------------------------------------------------------------- the pure functions


@pytest.mark.parametrize("rows, expected", [
    ([["id", "text"], ["1", "عالی"]], 0),  # a plain table: the first row
    ([["Feedback export"], ["id", "text"], ["1", "عالی"]], 1),  # one title row
    ([["تقرير", None], ["شناسه", "متن", "امتیاز"], ["1", "عالی", 9]], 1),  # title with an empty cell
    ([["Report", "March"], ["Region", "North"], ["id", "comment", "nps"], ["1", "x", 9]], 2),  # two-cell titles
    ([["a", "b", "c"], ["1", "2", "3"]], 0),  # nothing recognised, nothing narrower: the first row
    ([["Customer survey"], ["a", "b", "c"], ["1", "2", "3"]], 1),  # unknown names below a one-cell title
    ([["text"], ["comment"], ["nps"]], 0),  # a one-column table whose values look like names
])
def test_find_header_row(rows, expected):
    from sada.pipeline.ingest.columns import KNOWN_NAMES

    assert find_header_row(rows, KNOWN_NAMES) == expected


@pytest.mark.parametrize("values, expected", [
    (["9", "10", "0", ""], True),
    (["۹", "۱۰", "٣"], True),  # Persian and Arabic-Indic digits
    ([9.0, 7.0], True),  # numbers from a workbook
    (["Promoter", "Detractor"], False),  # Qualtrics' NPS group column
    (["11", "12", "4"], False),  # a 0-20 scale is not NPS
    (["", None], False),  # nothing answered: nothing to go by
])
def test_nps_values(values, expected):
    assert nps_values(values) is expected


@pytest.mark.parametrize("header, sample, expected", [
    # the open question found by its wording (en, ar, fa), the NPS question by its wording and 0-10 values
    (["Q_rec", "Q_why"], [{"Q_rec": "8", "Q_why": "التوصيل تأخر كثير"}], {"text": "Q_why"}),
    (["ما مدى احتمال أن توصي بنا؟", "لماذا؟"], [{"ما مدى احتمال أن توصي بنا؟": "7", "لماذا؟": "الخدمة بطيئة شوي"}],
     {"nps_score": "ما مدى احتمال أن توصي بنا؟", "text": "لماذا؟"}),
    (["چقدر ما را پیشنهاد می‌کنید؟", "چرا؟"], [{"چقدر ما را پیشنهاد می‌کنید؟": "۸", "چرا؟": "پیک دیر رسید"}],
     {"nps_score": "چقدر ما را پیشنهاد می‌کنید؟", "text": "چرا؟"}),
    # a suggestions question in Persian also says پیشنهاد: its answers are words, not 0-10
    (["پیشنهادات شما"], [{"پیشنهادات شما": "ارسال رایگان داشته باشید"}], {"text": "پیشنهادات شما"}),
    # no Arabic-script text anywhere: no text column is invented
    (["a", "b"], [{"a": "1", "b": "hello there"}], {}),
])
def test_guess_columns(header, sample, expected):
    assert guess_columns(header, {}, sample, {}) == expected


def test_detect_layout_recognises_each_tool():
    assert detect_layout(["Timestamp", "Q"], []).tool == "google_forms"
    assert detect_layout(["ID", "Start time", "Completion time", "Q"], []).tool == "microsoft_forms"
    assert detect_layout(["#", "Q", "Submit Date (UTC)"], []).tool == "typeform"
    # a question answered in one column keeps its name; one spanning columns names each by its sub-answer
    monkey = detect_layout(["Respondent ID", "Q1", "Q2", "", "Q3"],
                           [["", "Response", "Delivery", "Payment", "Open-Ended Response"]])
    assert (monkey.tool, monkey.meta_rows) == ("surveymonkey", 1)
    assert monkey.header == ["Respondent ID", "Q1", "Q2 - Delivery", "Q2 - Payment", "Q3"]
    plain = detect_layout(["id", "text"], [["1", "Response"]])  # a data row, not SurveyMonkey's sub-answers
    assert (plain.tool, plain.meta_rows) == (None, 0)


@pytest.mark.parametrize("name, expected", [
    ("\u200fالنص\u200f", "النص"),
    ("\ufeff text ", "text"),
    ("\u200cنظر\u200c", "نظر"),  # ZWNJ at the edges goes, inside a word it stays
    ("نظر\u200cها", "نظر\u200cها"),
])
def test_clean_header(name, expected):
    assert clean_header(name) == expected
