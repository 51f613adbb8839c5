"""Which source column feeds each canonical field: known header names (en/ar/fa), ``--map``, survey tools.

Example:
    >>> resolve_columns(ColumnMapping(), ["Customer ID", "نظر", "NPS"])
    {'text': 'نظر', 'customer_id': 'Customer ID', 'nps_score': 'NPS'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sada.pipeline.errors import ColumnMappingError, DuplicateColumnError
from sada.pipeline.survey import guess_columns

__all__ = ["FIELDS", "KNOWN_NAMES", "ColumnMapping", "header_key", "resolve_columns", "unique_header"]

#: Canonical fields a feedback row can carry. Only ``text`` is required.
FIELDS = ("text", "feedback_id", "customer_id", "created_at", "source", "rating", "nps_score", "channel")


#: Header names recognised for each field, compared after :func:`header_key`.
_ALIASES: dict[str, tuple[str, ...]] = {
    "text": (
        "text", "comment", "comments", "review", "reviewtext", "body", "message", "feedback",
        "feedbacktext", "content", "verbatim", "answer", "response", "remarks", "opinion",
        "النص", "التعليق", "تعليق", "المراجعة", "الرأي", "الملاحظات", "متن", "نظر", "دیدگاه",
        "پیام", "توضیحات", "بازخورد",
    ),
    "feedback_id": (
        "feedbackid", "id", "reviewid", "commentid", "responseid", "ticketid", "itemid", "messageid",
        "respondentid",
    ),
    "customer_id": (
        "customerid", "customer", "clientid", "userid", "accountid", "subscriberid", "memberid",
        "customernumber", "customerno", "رقمالعميل", "العميل", "رقمالزبون", "شناسهمشتری", "کدمشتری",
        "شمارهمشتری", "مشتری",
    ),
    "created_at": (
        "createdat", "date", "timestamp", "time", "created", "submittedat", "datetime", "reviewdate",
        "submitted", "التاريخ", "تاريخ", "تاریخ", "زمان",
    ),
    "source": ("source", "sourcetype", "type", "kind", "feedbacktype", "المصدر", "منبع"),
    "rating": ("rating", "stars", "starrating", "score5", "التقييم", "امتیاز"),
    "nps_score": ("npsscore", "nps", "likelihoodtorecommend", "recommendscore", "ltr", "npsrating"),
    "channel": ("channel", "platform", "store", "medium", "القناة", "کانال"),
}


_HEADER_JUNK = re.compile(r"[\s_\-.:/()\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+")


#: Every alias, for telling a header row from the title rows above it.
KNOWN_NAMES = frozenset(alias for aliases in _ALIASES.values() for alias in aliases)


#: Survey tools' own columns for a field (header keys), used when header names gave none.
_TOOL_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "qualtrics": {"created_at": ("recordeddate", "enddate")},
    "surveymonkey": {"created_at": ("enddate", "startdate")},
    "google_forms": {"created_at": ("timestamp", "الطابعالزمني", "مهرزمانی")},
    "microsoft_forms": {"created_at": ("completiontime",)},
    "typeform": {"feedback_id": ("#",), "created_at": ("submitdateutc",)},
}


def header_key(name: object) -> str:
    """A header name as compared with known names: no spaces, separators, bidi or zero-width marks; case-folded.

    Example:
        >>> header_key("Customer_ID"), header_key("شناسه مشتری"), header_key("\ufeffNPS Score")
        ('customerid', 'شناسهمشتری', 'npsscore')
    """
    return _HEADER_JUNK.sub("", str(name)).casefold()


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column feeds each canonical field.

    Explicit names win; fields left out are auto-detected from common header
    names (English, Arabic and Persian).

    Example:
        >>> ColumnMapping.parse(["text=comment_body"]).resolve(["id", "comment_body", "NPS"])
        {'text': 'comment_body', 'feedback_id': 'id', 'nps_score': 'NPS'}
    """

    explicit: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.explicit) - set(FIELDS))
        if unknown:
            raise ColumnMappingError(
                f"unknown field(s) {unknown} in the column mapping; expected some of {list(FIELDS)}"
            )

    @classmethod
    def parse(cls, pairs: Iterable[str]) -> ColumnMapping:
        """Build a mapping from ``field=column`` strings (the CLI's ``--map``)."""
        explicit = {}
        for pair in pairs:
            name, sep, column = pair.partition("=")
            if not sep or not name.strip() or not column.strip():
                raise ColumnMappingError(f"expected --map FIELD=COLUMN, found {pair!r}")
            explicit[name.strip()] = column.strip()
        return cls(explicit)

    def resolve(self, header: list[str]) -> dict[str, str]:
        """Map canonical field -> column name for one file's header.

        Raises:
            ColumnMappingError: an explicitly mapped column is not in ``header``.
        """
        present = {str(h) for h in header}
        resolved: dict[str, str] = {}
        for name, column in self.explicit.items():
            if column not in present:
                raise ColumnMappingError(
                    f"--map {name}={column}: expected a column named {column!r}, "
                    f"found columns {sorted(present)}; fix the mapping or the file's header"
                )
            resolved[name] = column
        keys = {header_key(h): str(h) for h in reversed(header)}
        taken = set(resolved.values())
        for name in FIELDS:
            if name in resolved:
                continue
            for alias in _ALIASES[name]:
                column = keys.get(alias)
                if column is not None and column not in taken:
                    resolved[name] = column
                    taken.add(column)
                    break
        return resolved


def resolve_columns(
    mapping: ColumnMapping, header: list[str], questions: Mapping[str, str] | None = None,
    sample: Sequence[Mapping[str, object]] = (), tool: str | None = None,
) -> dict[str, str] | ColumnMappingError:
    """The columns of a header: ``--map`` first, then known header names, the survey tool's own
    columns, and last the NPS and text columns found by question and content."""
    try:
        columns = mapping.resolve(header)
    except ColumnMappingError as exc:
        return exc
    columns.update(_tool_columns(tool, header, columns, mapping))
    columns.update(guess_columns(header, questions or {}, sample, columns))
    for name, column in columns.items():
        if name not in mapping.explicit and f"{column}{_DUPLICATE_MARK}2" in header:
            return DuplicateColumnError(
                f"expected one column named {column!r} for {name}, found {header.count(column) + 1} "
                f"(read as {column!r}, {column + _DUPLICATE_MARK + '2'!r}, ...); rename one in the file or "
                f"pick one with --map {name}=COLUMN")
    return columns


def _tool_columns(tool: str | None, header: list[str], columns: dict[str, str],
                  mapping: ColumnMapping) -> dict[str, str]:
    """Fields a survey tool's metadata columns give (its response id, its submission time).

    Microsoft Forms' ``ID`` counts responses from 1 in every form, so it is not used as
    an id (two forms would collide); the item id is then a hash of time and text.
    """
    if tool == "microsoft_forms" and "feedback_id" not in mapping.explicit \
            and header_key(columns.get("feedback_id", "")) == "id":
        del columns["feedback_id"]
    keys = {header_key(h): h for h in reversed(header)}
    taken = set(columns.values())
    found = {}
    for name, wanted in _TOOL_FIELDS.get(tool or "", {}).items():
        column = next((keys[k] for k in wanted if k in keys and keys[k] not in taken), None)
        if name not in columns and column is not None:
            found[name] = column
            taken.add(column)
    return found


#: Repeated header names are read as ``name``, ``name.2``, ``name.3`` so no column overwrites another.
_DUPLICATE_MARK = "."


def unique_header(header: list[str]) -> list[str]:
    """Header names made unique: the second ``text`` becomes ``text.2``.

    Example:
        >>> unique_header(["id", "متن", "متن", "id"])
        ['id', 'متن', 'متن.2', 'id.2']
    """
    seen: dict[str, int] = {}
    unique = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}{_DUPLICATE_MARK}{seen[name]}")
    return unique
