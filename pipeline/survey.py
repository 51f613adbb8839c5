"""Survey-tool and spreadsheet layouts: where the header is, which rows are metadata, which column is which.

Exports from survey tools are not plain tables. Qualtrics writes three header
rows (column ids, question texts, ``{"ImportId": ...}`` JSON); SurveyMonkey two
(questions, then each column's sub-answer); Google Forms, Microsoft Forms and
Typeform one row of question texts; spreadsheets often carry a title and a blank
row above the header. These functions look at a file's first rows and say which
row is the header, how many metadata rows to skip, and, when header names do not
say it, which column holds the NPS answer and which the customer's own words.
They are pure: :mod:`sada.pipeline.ingest` reads the files and calls them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sada.pipeline.digits import ascii_digits
from sada.pipeline.nps import is_nps_answer

__all__ = [
    "SurveyLayout",
    "clean_header",
    "detect_layout",
    "find_header_row",
    "guess_columns",
    "is_free_text",
    "nps_values",
]

#: Bidi controls and zero-width characters that spreadsheets and RTL editors leave around header names.
#: ZWNJ (U+200C) is left alone inside names: Persian spells words with it (``می‌خواهم``).
_INVISIBLE = re.compile("[\u200b\u200d\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_EDGE_ZWNJ = re.compile(r"^[\s\u200c]+|[\s\u200c]+$")


def clean_header(name: object) -> str:
    """A header cell as a column name: no bidi or zero-width marks, no surrounding spaces.

    Example:
        >>> clean_header("\u200fالنص\u200f"), clean_header(" \ufeffNPS "), clean_header("نظر\u200cها")
        ('النص', 'NPS', 'نظر\u200cها')
    """
    return _EDGE_ZWNJ.sub("", _INVISIBLE.sub("", str(name)))


# --------------------------------------------------------------------------- header row

#: Column names survey tools write for their own metadata (after :func:`_key`), beyond Sada's field aliases.
TOOL_COLUMNS: dict[str, frozenset[str]] = {
    "qualtrics": frozenset({"startdate", "enddate", "status", "ipaddress", "progress", "durationinseconds",
                            "finished", "recordeddate", "responseid", "distributionchannel", "userlanguage",
                            "externalreference", "locationlatitude", "locationlongitude"}),
    "surveymonkey": frozenset({"respondentid", "collectorid", "startdate", "enddate", "ipaddress",
                               "emailaddress", "firstname", "lastname", "customdata1"}),
    "google_forms": frozenset({"timestamp", "emailaddress", "score", "الطابعالزمني", "مهرزمانی", "زمانثبت"}),
    "microsoft_forms": frozenset({"id", "starttime", "completiontime", "email", "name", "lastmodifiedtime"}),
    "typeform": frozenset({"#", "startdateutc", "submitdateutc", "stagedateutc", "networkid", "tags", "ending"}),
}
_TOOL_NAMES = frozenset().union(*TOOL_COLUMNS.values())
_KEY_JUNK = re.compile(r"[\s_\-.:/()\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+")


def _key(name: object) -> str:
    return _KEY_JUNK.sub("", str(name)).casefold()


def _filled(row: Sequence[object]) -> int:
    return sum(1 for v in row if v is not None and str(v).strip() != "")


def find_header_row(rows: Sequence[Sequence[object]], known: Iterable[str] = ()) -> int:
    """Index of the header among a table's first non-blank rows (title rows above it are skipped).

    The header is the first row holding a recognised column name (``known`` keys,
    survey-tool columns or an NPS/comment question) in at least two cells (one for a
    one-column table), when every row above it is narrower. Without such a row,
    leading rows of a single cell are titles when a later row has three or more.

    Example:
        >>> find_header_row([["Customer feedback, March"], ["id", "النص", "NPS"], ["1", "ممتاز", "9"]])
        1
        >>> find_header_row([["id", "text"], ["1", "ممتاز"]])
        0
    """
    names = frozenset(known) | _TOOL_NAMES
    widths = [_filled(r) for r in rows]
    if not rows:
        return 0
    for i, row in enumerate(rows):
        recognised = any(isinstance(v, str) and (_key(v) in names or _is_question(v)) for v in row)
        if recognised and (widths[i] >= 2 or max(widths) == 1):
            return i if all(w < widths[i] for w in widths[:i]) else 0
    widest = max(widths)
    i = 0
    while i < len(rows) - 1 and widths[i] == 1 and widest >= 3:
        i += 1
    return i


# --------------------------------------------------------------------------- survey tools


@dataclass(frozen=True)
class SurveyLayout:
    """What a survey tool's export looks like below its header row.

    ``tool`` is ``qualtrics``, ``surveymonkey``, ``google_forms``, ``microsoft_forms``,
    ``typeform`` or None; ``meta_rows`` rows after the header are metadata, not responses;
    ``header`` is the header to use (SurveyMonkey's merges question and sub-answer);
    ``questions`` maps a column to its question text where that is not the column name.
    """

    tool: str | None
    meta_rows: int
    header: list[str]
    questions: dict[str, str] = field(default_factory=dict)


_IMPORT_ID = re.compile(r'^\s*\{\s*"ImportId"\s*:')
#: SurveyMonkey's second header row: the answer a column holds for its question.
_MONKEY_SUBS = frozenset({"response", "openendedresponse", "otherpleasespecify"})
_GOOGLE_FIRST = frozenset({"timestamp", "الطابعالزمني", "مهرزمانی", "زمانثبت", "marcatemporal", "horodateur"})


def detect_layout(header: Sequence[str], following: Sequence[Sequence[object]]) -> SurveyLayout:
    """The survey tool that wrote a table, from its header and the (up to three) rows after it.

    Example:
        >>> layout = detect_layout(["ResponseId", "Q1", "Q2"], [
        ...     ["Response ID", "How likely are you to recommend us?", "Why?"],
        ...     ['{"ImportId":"_recordId"}', '{"ImportId":"QID1"}', '{"ImportId":"QID2_TEXT"}'],
        ...     ["R_1", "9", "عالی بود"]])
        >>> layout.tool, layout.meta_rows, layout.questions["Q2"]
        ('qualtrics', 2, 'Why?')
    """
    header = list(header)
    keys = {_key(h) for h in header}
    for depth, row in enumerate(following[:2]):
        cells = [str(v) for v in row if v is not None and str(v).strip()]
        if cells and sum(bool(_IMPORT_ID.match(c)) for c in cells) * 2 >= len(cells):
            questions = {}
            if depth == 1:  # row 2 holds the question texts
                questions = {h: str(q).strip() for h, q in zip(header, following[0]) if q not in (None, "")}
            return SurveyLayout("qualtrics", depth + 1, header, questions)
    if following and _looks_like_monkey(header, keys, following[0]):
        return _monkey_layout(header, following[0])
    if header and _key(header[0]) in _GOOGLE_FIRST:
        return SurveyLayout("google_forms", 0, header)
    if {"starttime", "completiontime"} <= keys:
        return SurveyLayout("microsoft_forms", 0, header)
    if (header and header[0].strip() == "#") or {"submitdateutc", "networkid"} & keys:
        return SurveyLayout("typeform", 0, header)
    return SurveyLayout(None, 0, header)


def _looks_like_monkey(header: Sequence[str], keys: set[str], second: Sequence[object]) -> bool:
    subs = [_key(v) for v in second if v not in (None, "")]
    if not subs:
        return False
    if {"respondentid", "collectorid"} & keys and any(s in _MONKEY_SUBS for s in subs):
        return True
    # without the metadata columns: a row of sub-answers whose first cell is blank
    return bool(second) and second[0] in (None, "") and any(s in _MONKEY_SUBS for s in subs) \
        and not any(nps_values([v]) for v in second if v not in (None, ""))


def _monkey_layout(header: Sequence[str], second: Sequence[object]) -> SurveyLayout:
    """SurveyMonkey's two header rows as one: a question spanning several columns names each by its sub-answer."""
    spans: list[str] = []
    question = ""
    for name in header:
        question = name if str(name).strip() and not re.fullmatch(r"column\d+|\.\d+|", str(name)) else question
        spans.append(question)
    merged = []
    for i, (name, question) in enumerate(zip(header, spans)):
        sub = str(second[i]).strip() if i < len(second) and second[i] not in (None, "") else ""
        alone = spans.count(question) == 1
        merged.append(question if not sub or (alone and _key(sub) in _MONKEY_SUBS) else
                      f"{question} - {sub}" if question else sub)
    questions = {m: q for m, q in zip(merged, spans) if q}
    return SurveyLayout("surveymonkey", 1, merged, questions)


# --------------------------------------------------------------------------- columns by meaning

#: Questions asking how likely the customer is to recommend (en, ar, fa).
_NPS_QUESTION = re.compile(
    r"recommend|net\s*promoter|\bnps\b|likely.{0,60}\b(friend|colleague)"
    r"|توصي|توصية|ترشيح|ترشح|تنصح|ينصح|تقترح"
    r"|پیشنهاد|توصیه|معرفی",
    re.IGNORECASE)
#: Questions asking for the customer's own words (en, ar, fa).
_TEXT_QUESTION = re.compile(
    r"\bwhy\b|\breason|tell us|comment|feedback|anything else|describe|explain|suggest|improve"
    r"|what (could|can|should|would|did|do)|please share|your experience|opinion|thoughts|in your own words"
    r"|لماذا|السبب|سبب|أخبرنا|اخبرنا|ملاحظات|ملاحظة|اقتراح|تعليق|رأيك|رايك|شاركنا|اشرح|صف |تجربتك|حدثنا"
    r"|چرا|دلیل|توضیح|نظر|پیشنهاد|بگویید|بنویسید|تجربه|انتقاد",
    re.IGNORECASE)
_ARABIC_LETTER = re.compile("[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff]")
_ARABIC_WORD = re.compile("[\u0620-\u064a\u066e-\u06d3\u06fa-\u06ff]{2,}")


def _is_question(value: str) -> bool:
    return bool(_NPS_QUESTION.search(value) or _TEXT_QUESTION.search(value))


def nps_values(values: Iterable[object]) -> bool:
    """True when at least 80% of the non-blank values (and at least one) are whole numbers from 0 to 10.

    Example:
        >>> nps_values(["9", "۱۰", "", None, 0]), nps_values(["Promoter", "Detractor"]), nps_values(["4.5", "3"])
        (True, False, False)
    """
    seen = good = 0
    for value in values:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        seen += 1
        text = ascii_digits(str(value).strip())
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        good += text.isdigit() and is_nps_answer(int(text))
    return seen > 0 and good >= 0.8 * seen


def is_free_text(value: object) -> bool:
    """A cell that reads as a customer's own words in Arabic script: two or more words, not a number or code."""
    return isinstance(value, str) and len(_ARABIC_WORD.findall(value)) >= 2


def _arabic_text_score(values: Iterable[object]) -> int:
    return sum(len(_ARABIC_LETTER.findall(v)) for v in values if is_free_text(v))


def guess_columns(
    header: Sequence[str],
    questions: Mapping[str, str],
    sample: Sequence[Mapping[str, object]],
    resolved: Mapping[str, str],
) -> dict[str, str]:
    """``nps_score`` and ``text`` columns found by meaning, for the fields ``resolved`` lacks.

    NPS: the first free column whose header or question asks about recommending
    (en/ar/fa) and whose sampled values are 0-10. Text: among columns whose header or
    question asks for comments, the one with the most Arabic-script free text; when
    none does, the column with the most Arabic-script free text at all.

    Example:
        >>> guess_columns(["Timestamp", "How likely are you to recommend us? (0-10)", "Tell us more"], {},
        ...               [{"Timestamp": "2025/01/05", "How likely are you to recommend us? (0-10)": "9",
        ...                 "Tell us more": "التوصيل كان سريع جدا"}], {"created_at": "Timestamp"})
        {'nps_score': 'How likely are you to recommend us? (0-10)', 'text': 'Tell us more'}
    """
    taken = set(resolved.values())
    found: dict[str, str] = {}
    column_values = {h: [record.get(h) for record in sample] for h in header}

    def asks(column: str, pattern: re.Pattern[str]) -> bool:
        return bool(pattern.search(str(column)) or pattern.search(questions.get(column, "")))

    if "nps_score" not in resolved:
        for column in header:
            if column not in taken and asks(column, _NPS_QUESTION) and nps_values(column_values[column]):
                found["nps_score"] = column
                taken.add(column)
                break
    if "text" not in resolved:
        free = [h for h in header if h not in taken and _arabic_text_score(column_values[h]) > 0]
        asked = [h for h in free if asks(h, _TEXT_QUESTION)]
        pool = asked or free
        if pool:
            found["text"] = max(pool, key=lambda h: _arabic_text_score(column_values[h]))
    return found

