"""Read and validate customer records from CSV, Parquet or the store; nothing is lost.

Every row read ends up exactly once as *accepted*, *quarantined* (with a
machine-readable reason) or a *duplicate* of an identical row met earlier, and
:class:`CustomerLoad` says how many (``accepted + quarantined + duplicates ==
rows_read``). Columns are detected from common header names or given
explicitly; columns that are none of the known fields are kept as
*attributes* (behavioural features such as a contract type or monthly charges).

Known fields: ``customer_id`` (required), ``churned`` (0/1, yes/no, true/false),
``churn_date``, ``signup_date``, ``tenure_months``, ``segment``, ``orders``,
``spend``, ``last_activity``, ``crm_risk`` (the team's own churn score in [0, 1]).

Quarantine reasons: ``missing_customer_id``, ``unparseable_date``,
``invalid_number`` (not a number, or negative where a count or amount is
expected), ``unparseable_churn_flag``, ``crm_risk_out_of_range``,
``inconsistent_dates`` (churn before signup) and ``conflicting_duplicate``
(an id seen before with different content; the first one is kept).

Example:
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"Customer ID": ["a", "b", "", "a"], "Churn": ["Yes", "No", "No", "Yes"],
    ...                     "Contract": ["monthly", "yearly", "monthly", "monthly"]})
    >>> load = validate_customers(raw)
    >>> load.rows_read, len(load.frame), load.quarantined, load.duplicates
    (4, 2, 1, 1)
    >>> load.columns["churned"], load.attribute_columns
    ('Churn', ['Contract'])
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.errors import ColumnMappingError, InputError, UnsupportedFormatError
from sada.pipeline.ingest import header_key, open_text
from sada.pipeline.jsonable import jsonable
from sada.pipeline.pii import mask_pii as mask_text
from sada.pipeline.pii import pseudonymous_id
from sada.pipeline.validate import parse_date

__all__ = [
    "CUSTOMER_FIELDS",
    "QUARANTINE_REASONS",
    "CustomerLoad",
    "detect_customer_columns",
    "read_customers",
    "validate_customers",
    "load_customers_from_store",
    "save_customers",
]

logger = logging.getLogger(__name__)

#: Canonical customer fields; only ``customer_id`` is required.
CUSTOMER_FIELDS = ("customer_id", "churned", "churn_date", "signup_date", "tenure_months", "segment",
                   "orders", "spend", "last_activity", "crm_risk")

QUARANTINE_REASONS = {
    "missing_customer_id": "the customer id is empty",
    "unparseable_date": "a date field is present but is not a date",
    "invalid_number": "a count or amount is not a non-negative number",
    "unparseable_churn_flag": "the churn flag is not one of 1/0, yes/no, true/false",
    "crm_risk_out_of_range": "the CRM churn-risk score is not between 0 and 1",
    "inconsistent_dates": "the churn date is before the signup date",
    "conflicting_duplicate": "the customer id was seen earlier in the input with different content",
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("customerid", "customer", "clientid", "userid", "accountid", "subscriberid", "memberid",
                    "msisdn", "id", "رقمالعميل", "العميل", "شناسهمشتری", "کدمشتری", "مشتری"),
    "churned": ("churned", "churn", "exited", "attrition", "ischurned", "churnflag", "left", "lost",
                "churnlabel"),
    "churn_date": ("churndate", "churnedat", "cancellationdate", "canceldate", "enddate", "closedate"),
    "signup_date": ("signupdate", "signup", "joindate", "joined", "startdate", "createdat", "since",
                    "customersince", "registrationdate"),
    "tenure_months": ("tenuremonths", "tenure", "monthsactive", "tenureinmonths"),
    "segment": ("segment", "customersegment", "customertype", "tier"),
    "orders": ("orders", "norders", "ordercount", "transactions", "ntransactions", "frequency", "purchases"),
    "spend": ("spend", "totalspend", "revenue", "monetary", "amountspent", "totalrevenue"),
    "last_activity": ("lastactivity", "lastactivitydate", "lastseen", "lastorderdate", "lastpurchasedate",
                      "lastlogin", "lasttransactiondate"),
    "crm_risk": ("crmrisk", "riskscore", "churnscore", "churnrisk", "churnprobability", "crmchurnrisk"),
}

#: Attribute columns never used as features: aggregates of feedback over the whole
#: history would leak information from after the as-of date.
LEAKY_ATTRIBUTE_PATTERNS = (re.compile(r"^n_?feedback$"), re.compile(r"feedback_?count"),
                            re.compile(r"^n_?(complaints|reviews|tickets)$"))

_TRUE = {"1", "1.0", "yes", "y", "true", "t", "churned", "churn", "left", "lost", "exited", "نعم", "بله"}
_FALSE = {"0", "0.0", "no", "n", "false", "f", "stayed", "active", "retained", "لا", "خیر", "نه"}
_DATE_FIELDS = ("churn_date", "signup_date", "last_activity")
_NUMBER_FIELDS = ("tenure_months", "orders", "spend")


@dataclass
class CustomerLoad:
    """The outcome of reading one customer file.

    Attributes:
        frame: Accepted customers, one row each: the canonical fields (missing
            ones as NA) followed by the attribute columns.
        columns: Canonical field -> source column, for the fields found.
        attribute_columns: Other source columns, kept as behavioural attributes.
        excluded_columns: Attribute columns left out of the model (leaky or asked for).
        rows_read: Rows in the input.
        quarantine_rows: One dict per quarantined row: ``row_number``, ``reason``, ``detail``, ``fields``.
        duplicates: Rows identical to an earlier row.
        source: The file read (or ``"store"``).
    """

    frame: pd.DataFrame
    columns: dict[str, str]
    attribute_columns: list[str]
    excluded_columns: list[str] = field(default_factory=list)
    rows_read: int = 0
    quarantine_rows: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    source: str = ""

    @property
    def quarantined(self) -> int:
        return len(self.quarantine_rows)

    @property
    def quarantine_reasons(self) -> dict[str, int]:
        return dict(sorted(Counter(r["reason"] for r in self.quarantine_rows).items()))

    def summary(self) -> dict[str, Any]:
        """Counts for the run summary; ``accepted + quarantined + duplicates == rows_read``."""
        return {"rows_read": self.rows_read, "accepted": len(self.frame), "quarantined": self.quarantined,
                "duplicates": self.duplicates, "quarantine_reasons": self.quarantine_reasons,
                "columns": self.columns, "attribute_columns": self.attribute_columns,
                "excluded_columns": self.excluded_columns}


def detect_customer_columns(columns: list[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """Map canonical fields to source columns: explicit overrides first, then header aliases.

    Args:
        columns: The source header.
        overrides: Field -> column given by the user (e.g. from ``--id-column``).

    Returns:
        Field -> column for every field found.

    Raises:
        ColumnMappingError: An override names a missing column, or no customer id column exists.

    Example:
        >>> detect_customer_columns(["customerID", "tenure", "Churn", "MonthlyCharges"])
        {'customer_id': 'customerID', 'churned': 'Churn', 'tenure_months': 'tenure'}
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v}
    mapping: dict[str, str] = {}
    for fld, col in overrides.items():
        if fld not in CUSTOMER_FIELDS:
            raise ColumnMappingError(f"expected a field among {', '.join(CUSTOMER_FIELDS)}, found {fld!r}; "
                                     "check the column flags")
        if col not in columns:
            raise ColumnMappingError(f"expected a column named {col!r} for {fld}, found only "
                                     f"{', '.join(map(str, columns))}; check the spelling of the flag")
        mapping[fld] = col
    used = set(mapping.values())
    keys = {c: header_key(c) for c in columns}
    for fld in CUSTOMER_FIELDS:
        if fld in mapping:
            continue
        for alias in _ALIASES[fld]:
            hit = next((c for c in columns if keys[c] == alias and c not in used), None)
            if hit is not None:
                mapping[fld] = hit
                used.add(hit)
                break
    if "customer_id" not in mapping:
        raise ColumnMappingError(f"expected a customer id column (e.g. customer_id, customerID), found "
                                 f"{', '.join(map(str, columns))}; pass --id-column NAME")
    return {f: mapping[f] for f in CUSTOMER_FIELDS if f in mapping}


def read_customers(path: str | Path, *, id_column: str | None = None, churn_column: str | None = None,
                   columns: dict[str, str] | None = None, exclude: tuple[str, ...] = (),
                   dayfirst: bool = False, mask_pii: bool = True) -> CustomerLoad:
    """Read a customer file (``.csv``, ``.tsv``, ``.parquet``) and validate every row.

    Args:
        path: The file.
        id_column: Source column holding the customer id (default: detected).
        churn_column: Source column holding the churn flag (default: detected).
        columns: Further field -> column overrides.
        exclude: Attribute columns to leave out of the model.
        dayfirst: Read ambiguous dates such as 03/04/2025 as 3 April.

    Returns:
        The :class:`CustomerLoad`.

    Raises:
        InputError: The file cannot be read.
        UnsupportedFormatError: The suffix is not one of .csv, .tsv, .txt, .parquet.
        ColumnMappingError: No customer id column.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"expected a customer file at {path}, found nothing; check --customers")
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            with open_text(path) as handle:  # the same encoding detection as feedback files
                raw = pd.read_csv(handle, dtype=str, keep_default_na=False, sep="\t" if suffix == ".tsv" else ",")
            raw.columns = [str(c).lstrip("\ufeff") for c in raw.columns]
        elif suffix == ".xlsx":
            raw = pd.read_excel(path, dtype=str, keep_default_na=False)
        elif suffix == ".parquet":
            raw = pd.read_parquet(path)
            raw = raw.astype(object).where(raw.notna(), "").astype(str)
        else:
            raise UnsupportedFormatError(f"expected a customer file ending .csv, .tsv, .xlsx or .parquet, found "
                                         f"{path.name}; convert it to CSV or Parquet")
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, ValueError) as exc:
        if isinstance(exc, UnsupportedFormatError):
            raise
        raise InputError(f"expected a readable customer table in {path}, found an error "
                         f"({str(exc).splitlines()[0]}); check the file's format and encoding") from None
    overrides = dict(columns or {})
    if id_column:
        overrides["customer_id"] = id_column
    if churn_column:
        overrides["churned"] = churn_column
    load = validate_customers(raw, overrides, exclude=exclude, dayfirst=dayfirst, mask_pii=mask_pii)
    load.source = str(path)
    logger.info("read %d customer rows from %s: %d accepted, %d quarantined, %d duplicates",
                load.rows_read, path, len(load.frame), load.quarantined, load.duplicates)
    return load


def _parse_dates(values: pd.Series, dayfirst: bool) -> pd.Series:
    """Feedback's date rule (Solar Hijri, Hijri, year first, GMT+3), once per distinct value; NaT if not a date."""
    parsed = {text: parse_date(text, dayfirst) for text in values.unique() if text}
    return pd.to_datetime(values.map(parsed), errors="coerce")


def _parse_flag(values: pd.Series) -> pd.Series:
    low = values.str.strip().str.casefold()
    out = pd.Series(np.nan, index=values.index)
    out[low.isin(_TRUE)] = 1.0
    out[low.isin(_FALSE)] = 0.0
    return out


def validate_customers(raw: pd.DataFrame, overrides: dict[str, str] | None = None, *,
                       exclude: tuple[str, ...] = (), dayfirst: bool = False, mask_pii: bool = True) -> CustomerLoad:
    """Validate a table of raw customer rows (all values strings) into a :class:`CustomerLoad`.

    Args:
        raw: One row per input record, as read.
        overrides: Field -> column mapping given by the user.
        exclude: Attribute columns to leave out of the model.
        dayfirst: Read ambiguous dates day first.
        mask_pii: Customer ids holding a phone or e-mail become pseudonyms (as in feedback), and
            quarantined cells are masked.

    Returns:
        The accepted frame plus the quarantine rows and counts.
    """
    raw = raw.copy()
    raw.columns = [str(c) for c in raw.columns]
    raw = raw.astype(object).where(raw.notna(), "").astype(str)
    mapping = detect_customer_columns(list(raw.columns), overrides)
    n = len(raw)
    why = _Reasons(raw.index)
    out = pd.DataFrame(index=raw.index)
    cid = raw[mapping["customer_id"]].str.strip()
    if mask_pii:
        cid = cid.map(pseudonymous_id)
    out["customer_id"] = cid
    why.flag(cid.eq(""), "missing_customer_id", f"column {mapping['customer_id']} is empty")
    _known_fields(raw, mapping, out, why, dayfirst)
    attrs = [c for c in raw.columns if c not in mapping.values()]
    excluded = [c for c in attrs if c in exclude or any(p.search(c.casefold()) for p in LEAKY_ATTRIBUTE_PATTERNS)]
    _attributes(raw, attrs, out)
    dup_mask = _duplicates(raw, cid, why)
    quarantine_rows = [
        {"row_number": int(pos) + 2, "reason": why.reason[idx], "detail": why.detail[idx],
         "fields": {k: (mask_text(v) if mask_pii and isinstance(v, str) else v) for k, v in raw.loc[idx].items()}}
        for pos, idx in enumerate(raw.index) if why.reason[idx]
    ]
    keep = why.reason.eq("") & ~dup_mask
    frame = out[keep.to_numpy()].reset_index(drop=True)
    load = CustomerLoad(frame=frame, columns=mapping, attribute_columns=attrs, excluded_columns=excluded,
                        rows_read=n, quarantine_rows=quarantine_rows, duplicates=int(dup_mask.sum()))
    if len(frame) + load.quarantined + load.duplicates != n:  # pragma: no cover - a bug guard
        raise RuntimeError(f"customer row accounting is off, please report this as a bug: {load.summary()}")
    return load


class _Reasons:
    """Each row's first quarantine reason and its detail (``""``: none yet)."""

    def __init__(self, index: pd.Index) -> None:
        self.reason = pd.Series("", index=index, dtype=object)
        self.detail = pd.Series("", index=index, dtype=object)

    def flag(self, mask: pd.Series, why: str, what: str) -> None:
        new = mask & self.reason.eq("")
        self.reason[new] = why
        self.detail[new] = what


def _known_fields(raw: pd.DataFrame, mapping: dict[str, str], out: pd.DataFrame, why: _Reasons,
                  dayfirst: bool) -> None:
    """Parse the dates, counts, churn flag, CRM score and segment into ``out``; flag what does not parse."""
    for fld in _DATE_FIELDS:
        if fld in mapping:
            vals = raw[mapping[fld]].str.strip()
            parsed = _parse_dates(vals, dayfirst)
            why.flag(parsed.isna() & vals.ne(""), "unparseable_date", f"{mapping[fld]} is not a date")
            out[fld] = parsed
        else:
            out[fld] = pd.NaT
    for fld in _NUMBER_FIELDS:
        if fld in mapping:
            vals = raw[mapping[fld]].str.strip()
            num = pd.to_numeric(vals.str.replace(",", "", regex=False), errors="coerce")
            why.flag((num.isna() & vals.ne("")) | (num < 0), "invalid_number",
                     f"{mapping[fld]} is not a non-negative number")
            out[fld] = num.astype(float)
        else:
            out[fld] = np.nan
    out["churned"] = np.nan
    if "churned" in mapping:
        vals = raw[mapping["churned"]]
        parsed = _parse_flag(vals)
        why.flag(parsed.isna() & vals.str.strip().ne(""), "unparseable_churn_flag",
                 f"{mapping['churned']} is not a churn flag")
        out["churned"] = parsed
    if "churn_date" in mapping:  # a churn date without a flag means churned
        out.loc[out["churned"].isna() & out["churn_date"].notna(), "churned"] = 1.0
    out["crm_risk"] = np.nan
    if "crm_risk" in mapping:
        vals = raw[mapping["crm_risk"]].str.strip()
        num = pd.to_numeric(vals, errors="coerce")
        why.flag((num.isna() & vals.ne("")) | (num < 0) | (num > 1), "crm_risk_out_of_range",
                 f"{mapping['crm_risk']} is not a number between 0 and 1")
        out["crm_risk"] = num.astype(float)
    out["segment"] = raw[mapping["segment"]].str.strip().replace("", None) if "segment" in mapping else None
    why.flag(out["churn_date"].notna() & out["signup_date"].notna() & (out["churn_date"] < out["signup_date"]),
             "inconsistent_dates", "churn date before signup date")


def _attributes(raw: pd.DataFrame, attrs: list[str], out: pd.DataFrame) -> None:
    """Other columns into ``out``: numeric when 95 % of the present values are numbers, else text."""
    for col in attrs:
        vals = raw[col].str.strip()
        num = pd.to_numeric(vals.str.replace(",", "", regex=False), errors="coerce")
        present = vals.ne("")
        if present.any() and num[present].notna().mean() >= 0.95:
            out[col] = num.astype(float)  # a numeric attribute; stray non-numbers become NA
        else:
            out[col] = vals.replace("", None)


def _duplicates(raw: pd.DataFrame, cid: pd.Series, why: _Reasons) -> pd.Series:
    """Rows identical to an earlier row (returned); a changed row for a known id is quarantined instead."""
    ok = why.reason.eq("")
    row_key = pd.util.hash_pandas_object(raw, index=False) if len(raw) else pd.Series(dtype="uint64")
    first_seen: dict[str, Any] = {}
    dup_mask = pd.Series(False, index=raw.index)
    repeated = ok & cid.duplicated(keep=False)
    for idx in raw.index[repeated.to_numpy()]:
        key, content = cid[idx], row_key[idx]
        if key in first_seen:
            if first_seen[key] == content:
                dup_mask[idx] = True
            else:
                why.reason[idx] = "conflicting_duplicate"
                why.detail[idx] = f"customer id {key} appeared earlier with different values; the first was kept"
        else:
            first_seen[key] = content
    return dup_mask


def _masked_attribute(value: Any) -> Any:
    return mask_text(value) if isinstance(value, str) else value


def save_customers(store: Any, load: CustomerLoad, run_id: str | None = None) -> int:
    """Upsert the accepted customers into the store's ``customers`` table, and the quarantine rows.

    Attribute columns go into the ``attributes`` JSON column. Returns the rows written.
    """
    frame = load.frame
    rows = []
    for rec in frame.to_dict("records"):
        row = {"customer_id": rec["customer_id"]}
        for fld in ("signup_date", "churn_date", "last_activity"):
            row[fld] = None if pd.isna(rec[fld]) else pd.Timestamp(rec[fld]).to_pydatetime()
        for fld in ("tenure_months", "orders", "spend", "crm_risk"):
            row[fld] = jsonable(rec[fld])
        row["churned"] = None if pd.isna(rec["churned"]) else bool(rec["churned"])
        row["segment"] = rec["segment"] if isinstance(rec["segment"], str) else None
        row["attributes"] = {c: _masked_attribute(jsonable(rec[c])) for c in load.attribute_columns}
        rows.append(row)
    store.upsert_customers(rows)
    if run_id and load.quarantine_rows:
        store.add_quarantine(run_id, [{"source_file": load.source, **r,
                                       "fields": {k: str(v) for k, v in r["fields"].items()}}
                                      for r in load.quarantine_rows])
    return len(rows)


def load_customers_from_store(store: Any) -> CustomerLoad:
    """Read the store's ``customers`` table back as a :class:`CustomerLoad` (attributes expanded)."""
    rows = store.customer_rows()
    attrs: list[str] = []
    for r in rows:
        for k in (r.get("attributes") or {}):
            if k not in attrs and k not in CUSTOMER_FIELDS:
                attrs.append(k)
    records = []
    for r in rows:
        rec = {f: r.get(f) for f in CUSTOMER_FIELDS if f != "last_activity"}
        rec["last_activity"] = r.get("last_activity")
        rec["churned"] = np.nan if r.get("churned") is None else float(r["churned"])
        rec.update({a: (r.get("attributes") or {}).get(a) for a in attrs})
        records.append(rec)
    frame = pd.DataFrame(records, columns=[*CUSTOMER_FIELDS, *attrs])
    for fld in _DATE_FIELDS:
        frame[fld] = pd.to_datetime(frame[fld])
    for fld in (*_NUMBER_FIELDS, "crm_risk", "churned"):
        frame[fld] = pd.to_numeric(frame[fld], errors="coerce").astype(float)
    excluded = [a for a in attrs if any(p.search(a.casefold()) for p in LEAKY_ATTRIBUTE_PATTERNS)]
    return CustomerLoad(frame=frame, columns={f: f for f in CUSTOMER_FIELDS}, attribute_columns=attrs,
                        excluded_columns=excluded, rows_read=len(frame), source="store")
