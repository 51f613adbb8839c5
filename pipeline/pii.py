"""Mask personal data in Arabic and Persian feedback before anything is stored.

``mask_pii`` replaces e-mail addresses, URLs, IBANs (Iranian sheba numbers
included), payment-card numbers, national id numbers and phone numbers with
``[EMAIL]``, ``[URL]``, ``[IBAN]``, ``[CARD]``, ``[NATIONAL_ID]`` and ``[PHONE]``.
National ids are Saudi (10 digits from 1 or 2 with a Luhn check digit: citizens
and residents), Emirati (``784-YYYY-NNNNNNN-N``) and Iranian (code melli: 10
digits with its mod-11 check digit, not a Gulf mobile's 05); a 10-digit number
failing its check stays ``[PHONE]``, so a phone number is never named an id by a
shape alone. It reads ASCII,
Arabic-Indic (٠-٩) and Persian (۰-۹) digits alike, finds values glued to
the word before them (``جوالي٠٥٥...``, ``شبامIR...``, ``ايميليali@...``) and
the usual groupings (``(055) 123-4567``, ``055.123.4567``, ``+966 55 123 4567``,
``00989121234567``, cards and shebas in groups of four).

Hand-written patterns rather than the ``phonenumbers`` library: its matcher
takes one region per pass, so covering SA, AE, EG, IR, JO, KW, QA, BH and IQ
means nine passes over every text (about 2,600 short texts/s on one core
measured here, against a budget of 5,000); its ``VALID`` leniency drops
numbers outside today's numbering plans (typos, invented or foreign numbers
are still personal data), and its ``POSSIBLE`` leniency reads ``2025-03-07``
as a phone number. Masking wants recall with a few well-defined exceptions,
which a digit-count rule gives directly.

What is left alone, on purpose: numbers of fewer than 8 digits (order
numbers, prices, ``10/10``, years, ``٪۹۵``), dates (``2025-03-07``,
``1403/05/12``, ``07.03.2025``), times (``14:30``), year ranges
(``2020-2025``), decimal fractions (``0.873456123``), amounts with thousands separators (``1,250,000``,
``۱٬۲۵۰٬۰۰۰``) and long amounts followed by a currency or a percent sign
(``12500000 ریال``).

Example:
    >>> mask_pii("جوالي٠٥٥١٢٣٤٥٦٧ وطلبي رقم ٤٥٦٧٨٩")
    'جوالي[PHONE] وطلبي رقم ٤٥٦٧٨٩'
    >>> mask_pii("شمارم۰۹۱۲۳۴۵۶۷۸۹ و شبام IR۰۶۲۹۶۰۰۰۰۰۰۰۱۰۰۳۲۴۲۰۰۰۰۱")
    'شمارم[PHONE] و شبام [IBAN]'
    >>> mask_pii("ايميليali.hassan@example.com وبطاقتي 4111 1111 1111 1111")
    'ايميلي[EMAIL] وبطاقتي [CARD]'
    >>> mask_pii("سفارش ۱۴۰۳/۰۵/۱۲ به مبلغ ۱۵۰۰۰۰ تومان، امتیاز 10/10")
    'سفارش ۱۴۰۳/۰۵/۱۲ به مبلغ ۱۵۰۰۰۰ تومان، امتیاز 10/10'
    >>> mask_pii("هويتي 1012345672 والإماراتية 784-1985-1234567-3 وکد ملی ۰۰۱۲۳۴۵۶۷۹")
    'هويتي [NATIONAL_ID] والإماراتية [NATIONAL_ID] وکد ملی [NATIONAL_ID]'
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path

from sada.pipeline.config import load_settings
from sada.pipeline.digits import ascii_digits
from sada.pipeline.errors import ConfigError

__all__ = ["KEY_ENV", "KEY_FILE", "PLACEHOLDERS", "mask_pii", "pseudonym_key", "pseudonymous_id"]

logger = logging.getLogger(__name__)

PLACEHOLDERS = ("[URL]", "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[NATIONAL_ID]")

# ---------------------------------------------------------------- tables, built once

_DC = "0-9\u0660-\u0669\u06f0-\u06f9"  # digit class body: ASCII, Arabic-Indic, Persian
_D = f"[{_DC}]"
_ARABIC_LETTERS = "\u0621-\u064a\u066e-\u06d3\u06fa-\u06ff"
_HAS_DIGIT = re.compile(_D)

# E-mail: the domain is matched from the "@", then the local part is read
# backwards from it: Latin (ali.hassan+shop) up to the first other character,
# so a word glued in front stays outside the mask (ايميليali@x.com ->
# ايميلي[EMAIL]), else Arabic script (علي@x.com). The domain's last label may
# run into a glued word (example.comIR06...): the rest is masked by the passes
# after. E-mails go first: the URL pattern would otherwise eat the domain (ali@[URL]).
_EMAIL_AT = re.compile(r"@(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,24}")
_LATIN_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
                         "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹")
_ARABIC_LOCAL = re.compile(rf"[{_ARABIC_LETTERS}{_DC}._\-]")
_TLDS = "com|net|org|info|biz|ir|sa|ae|eg|jo|kw|qa|bh|om|iq|io|me|app|co|shop|store|online"
_URL = re.compile(
    r"(?i)(?:https?://|(?<![a-z0-9@])www\.)[^\s<>\"']+"
    rf"|(?<![a-z0-9.@\-])(?:[a-z0-9\-]+\.)+(?:{_TLDS})(?![a-z0-9\-])(?:/[^\s<>\"']*)?"
)

# IBAN: country code (any case, glued to a word or not), two check digits, an
# optional bank code of letters (KW, QA, JO, BH), then 10-32 digits, alone or
# grouped by spaces or hyphens, and any capitals or digits glued after them (QA).
# A match longer than its country's IBAN gives back the excess (a date or a
# number written after the IBAN). A bare sheba (24 digits, no IR) is caught by
# the number rules below (20 digits or more -> [IBAN]).
_IBAN_LENGTHS = {
    "IR": 26, "SA": 24, "AE": 23, "EG": 29, "JO": 30, "KW": 30, "QA": 29, "BH": 22, "LB": 28, "TR": 26,
    "IQ": 23, "OM": 23, "PS": 29, "LY": 25, "TN": 24, "MR": 27, "AZ": 28, "GE": 22, "PK": 24,
}
_IBAN = re.compile(
    rf"(?i)(?<![a-z0-9])(?:{'|'.join(_IBAN_LENGTHS)})[ \-]?{_D}{{2}}(?:[ \-]?[a-z]){{0,4}}"
    rf"(?:[ \-]?{_D}){{10,32}}(?-i:[A-Z0-9]*)"
)
_ALNUM = re.compile(rf"[A-Za-z{_DC}]")


def _mask_iban(match: re.Match[str]) -> str:
    value = match.group()
    length = _IBAN_LENGTHS[value[:2].upper()]
    chars = list(_ALNUM.finditer(value))
    if len(chars) <= length:
        return "[IBAN]"
    return "[IBAN]" + value[chars[length - 1].end():]


# Numbers: a maximal run of digit groups joined by one or two separators (space,
# no-break space, hyphen, dot, parentheses around an area code), optionally after
# "+". Each run is then classified as a whole by _classify_number.
_SPACE_CHARS = " \u00a0\u2009\u202f"
_GROUP = rf"(?:\({_D}+\)(?=[{_SPACE_CHARS}.\-\u2010-\u2013]?[{_DC}(])|{_D}+)"  # (055) only before more digits
_SEP = rf"[{_SPACE_CHARS}.\-\u2010-\u2013]"  # space, dot or hyphen; at most two between groups
_NUMBER = re.compile(rf"(?<![{_DC}])(?:\+[{_SPACE_CHARS}]?)?{_GROUP}(?:{_SEP}{{0,2}}{_GROUP})*")
_SPACE_SPLIT = re.compile(f"([{_SPACE_CHARS}]+)")
_NON_DIGIT = re.compile(r"\D+")
# Date-shaped chunks (checked on ASCII digits): y-m-d, d-m-y, d-m-yy with one separator kind.
_DATE_SEP = r"[-./\u2010-\u2013]"
_DATE = re.compile(
    rf"(\d{{4}})({_DATE_SEP})(\d{{1,2}})\2(\d{{1,2}})|(\d{{1,2}})({_DATE_SEP})(\d{{1,2}})\6(\d{{2}}|\d{{4}})"
)
# A decimal fraction (0.873456123, 3.14159265): one dot, at most three digits before it.
_DECIMAL = re.compile(r"(?:0|[1-9]\d{0,2})\.\d+")
_EXPONENT = re.compile(r"[eE][+-]?\d")  # 9.66551234567e+11 is a number written as a float: not a decimal
_YEAR_RANGE = re.compile(r"(?:1[34]|19|20)\d\d-(?:1[34]|19|20)\d\d")
_YEAR = re.compile(r"(?:1[34]|19|20)\d\d")
# What makes a long number an amount rather than a phone: a currency or a percent sign right
# after it (a percent sign before the next number, " ٪۹۵", does not count).
_UNITS = (
    "درصد", "بالمئة", "بالمائة", "تومان", "تومن", "ریال", "ريال", "درهم", "دينار", "دینار", "جنيه", "جنیه", "ليرة",
    "لیر", "دولار", "دلار", "يورو", "یورو", "هزار", "ألف", "الف", "مليون", "میلیون", "مليار", "میلیارد",
    "ر.س", "د.إ", "$", "€", "sar", "aed", "irr", "irt", "egp", "usd", "eur", "toman", "rial",
)
_AMOUNT_AFTER = re.compile(
    rf"(?i)[\u00a0 \u200c]?(?:[%٪](?![{_DC}])|{'|'.join(re.escape(unit) for unit in _UNITS)})"
)


def _mask_emails(text: str) -> str:
    out: list[str] = []
    done = 0  # text[:done] is already written to out
    for match in _EMAIL_AT.finditer(text):
        at = start = match.start()
        while start > done and text[start - 1] in _LATIN_LOCAL:
            start -= 1
        if start == at:
            while start > done and _ARABIC_LOCAL.match(text, start - 1):
                start -= 1
        if start == at:
            continue  # no local part: a mention or a bare domain
        out += (text[done:start], "[EMAIL]")
        done = match.end()
    return "".join(out) + text[done:] if out else text


def _plausible_year(year: str) -> bool:
    return len(year) == 2 or 1300 <= int(year) <= 1500 or 1900 <= int(year) <= 2100


def _is_date(chunk: str) -> bool:
    """A date in one chunk: 2025-03-07, 1403.05.12, 07-03-2025 (day and month either way)."""
    m = _DATE.fullmatch(chunk)
    if m is None:
        return False
    if m.group(1):
        year, a, b = m.group(1), int(m.group(3)), int(m.group(4))
        return _plausible_year(year) and 1 <= a <= 12 and 1 <= b <= 31
    a, b, year = int(m.group(5)), int(m.group(7)), m.group(8)
    return _plausible_year(year) and ((1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31))


def _is_protected(chunk: str) -> bool:
    return _is_date(chunk) or _YEAR_RANGE.fullmatch(chunk) is not None


# National ids: how they are written (one run of digits; Emirati ids and Iranian codes also in their groups).
_EMIRATI_ID = re.compile(r"784[ \-]?(?:19|20)\d\d[ \-]?\d{7}[ \-]?\d")
_MELLI_GROUPS = re.compile(r"\d{3}-\d{6}-\d")


def _luhn(digits: str) -> bool:
    """The Luhn check (Saudi national and residence ids, cards)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _code_melli(digits: str) -> bool:
    """An Iranian national code: 10 digits whose last is the mod-11 check digit of the nine before it.

    Example:
        >>> _code_melli("0012345679"), _code_melli("0012345678"), _code_melli("1111111111")
        (True, False, False)
    """
    if len(digits) != 10 or len(set(digits)) == 1:
        return False
    rest = sum(int(d) * (10 - i) for i, d in enumerate(digits[:9])) % 11
    return int(digits[9]) == (rest if rest < 2 else 11 - rest)


def _national_id(run: str, digits: str) -> bool:
    """A Saudi, Emirati or Iranian national id number, by its shape and check digit.

    Example:
        >>> _national_id("1012345672", "1012345672"), _national_id("1012345678", "1012345678")
        (True, False)
        >>> _national_id("784-1985-1234567-3", "784198512345673"), _national_id("0551234563", "0551234563")
        (True, False)
    """
    if len(digits) == 15:
        return _EMIRATI_ID.fullmatch(run) is not None
    if len(digits) != 10 or (run != digits and _MELLI_GROUPS.fullmatch(run) is None):
        return False  # a 10-digit number in phone groups (055 123 4567) is a phone
    if digits[0] in "12" and _luhn(digits):
        return True  # Saudi: 1 citizens, 2 residents
    return not digits.startswith("05") and _code_melli(digits)  # 05...: a Gulf mobile, whatever its digits


def _placeholder(run: str, followed_by_amount: bool) -> str | None:
    """The placeholder for one run of digit groups (ASCII digits), or None to leave it."""
    if run.endswith(".0") and run.count(".") == 1:
        run = run[:-2]  # 966551234567.0: a number cell read as a float
    digits = _NON_DIGIT.sub("", run)
    n = len(digits)
    if n < 8:
        return None
    if n >= 20:
        return "[IBAN]"  # bare sheba (24 digits) or account number
    international = run.lstrip("(").startswith("+")
    amount = followed_by_amount and digits[0] != "0" and n <= 12
    if not international and not amount and _national_id(run, digits):
        return "[NATIONAL_ID]"
    if international or digits.startswith("00"):
        return "[PHONE]"
    if digits[0] != "0":
        if followed_by_amount and n <= 12:
            return None  # 12500000 ریال, 15000000 %
        chunks = _SPACE_SPLIT.split(run)[::2]
        if all(_YEAR.fullmatch(c) for c in chunks):
            return None  # 1402 1403
        if n >= 13:
            return "[CARD]"
    return "[PHONE]"


def _classify_number(match: re.Match[str]) -> str:
    span = match.group()
    if len(span) < 8:
        return span
    ascii_span = ascii_digits(span)
    if len(_NON_DIGIT.sub("", ascii_span)) < 8:
        return span
    if _DECIMAL.fullmatch(ascii_span) and not _EXPONENT.match(match.string, match.end()):
        return span
    amount = _AMOUNT_AFTER.match(match.string, match.end()) is not None
    parts = _SPACE_SPLIT.split(span)  # chunk, space, chunk, ...
    ascii_parts = _SPACE_SPLIT.split(ascii_span)
    protected = [i % 2 == 0 and _is_protected(p) for i, p in enumerate(ascii_parts)]
    if not any(protected):
        placeholder = _placeholder(ascii_span, amount)
        return span if placeholder is None else placeholder
    # A date (or year range) inside the run stays; the runs around it are classified on their own.
    segments: list[tuple[int, int, bool]] = []  # (first part, end part, protected), chunks at even indices
    for i in range(0, len(parts), 2):
        if protected[i] or not segments or segments[-1][2]:
            segments.append((i, i + 1, protected[i]))
        else:
            segments[-1] = (segments[-1][0], i + 1, False)
    out: list[str] = []
    for first, end, is_protected in segments:
        if first:
            out.append(parts[first - 1])  # the space before this segment
        run = "".join(parts[first:end])
        if not is_protected:
            placeholder = _placeholder("".join(ascii_parts[first:end]), amount and end == len(parts))
            run = run if placeholder is None else placeholder
        out.append(run)
    return "".join(out)


def mask_pii(text: str) -> str:
    """Replace URLs, e-mails, IBANs, card and phone numbers with placeholders.

    Example:
        >>> mask_pii("اتصل على ٠٥٥١٢٣٤٥٦٧ أو test@example.com")
        'اتصل على [PHONE] أو [EMAIL]'
        >>> mask_pii("رقمي (055) 123-4567 او +966 55 123 4567")
        'رقمي [PHONE] او [PHONE]'
        >>> mask_pii("حسابيsa0380000000608010167519 وكرتم ۶۰۳۷ ۹۹۷۵ ۱۲۳۴ ۵۶۷۸")
        'حسابي[IBAN] وكرتم [CARD]'
        >>> mask_pii("سفارش ۳ تا پیتزا")
        'سفارش ۳ تا پیتزا'
        >>> mask_pii("طلبت يوم 2025-03-04 ولم يصل")
        'طلبت يوم 2025-03-04 ولم يصل'
    """
    if "@" in text:
        text = _mask_emails(text)
    if "." in text:
        text = _URL.sub("[URL]", text)
    if _HAS_DIGIT.search(text) is None:
        return text
    text = _IBAN.sub(_mask_iban, text)
    return _NUMBER.sub(_classify_number, text)


#: The environment variable that gives the pseudonym key, and the key file under SADA_HOME otherwise.
KEY_ENV = "SADA_PSEUDONYM_KEY"
KEY_FILE = "pseudonym.key"
_MIN_KEY_CHARS = 16
_PSEUDONYM = re.compile(r"pii-[0-9a-f]{20}")


def pseudonym_key() -> bytes:
    """The secret key of customer-id pseudonyms: ``SADA_PSEUDONYM_KEY``, else ``$SADA_HOME/pseudonym.key``.

    The file is created on first use (32 random bytes, written as hex, mode 0600, in a folder of
    mode 0700) and read from then on; ``sada analyze``, ``sada churn`` and the report all use it,
    so the same customer gets the same pseudonym everywhere. It lives outside the store: whoever
    has the store but not the key cannot test phone numbers against the pseudonyms.

    Raises:
        ConfigError: the key given is shorter than 16 characters, or the key file cannot be read or written.
    """
    return _key(os.environ.get(KEY_ENV), os.environ.get("SADA_HOME"))


@lru_cache(maxsize=8)
def _key(given: str | None, home_variable: str | None) -> bytes:
    """The key for these values of SADA_PSEUDONYM_KEY and SADA_HOME (read once per process and setting)."""
    if given is not None:
        if len(given.strip()) < _MIN_KEY_CHARS:
            raise ConfigError(f"{KEY_ENV} must be at least {_MIN_KEY_CHARS} characters (a random secret, e.g. "
                              "`python -c 'import secrets; print(secrets.token_hex(32))'`), found "
                              f"{len(given.strip())}")
        return given.strip().encode("utf-8")

    return _key_file(load_settings().home / KEY_FILE)


def _key_file(path: Path) -> bytes:
    """Read the key file, creating it first if absent (atomically: two processes end up with one key)."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fresh = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_bytes(32).hex() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(fresh, path)  # fails if another process made the key first: theirs is kept
                logger.info("created the pseudonym key %s", path)
            except FileExistsError:
                pass
            finally:
                fresh.unlink()
        if path.stat().st_mode & 0o077:
            logger.warning("%s is readable by other users; chmod 600 it", path)
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read or create the pseudonym key {path}: {exc.strerror or exc}; "
                          f"set SADA_HOME to a writable folder or give the key in {KEY_ENV}") from None
    if len(key) < _MIN_KEY_CHARS:
        raise ConfigError(f"the pseudonym key {path} is shorter than {_MIN_KEY_CHARS} characters; restore it from "
                          "a backup (a new key makes new pseudonyms)")
    return key.encode("utf-8")


def pseudonymous_id(value: str, key: bytes | None = None) -> str:
    """An identifier with personal data in it (a phone, an e-mail) as a keyed pseudonym; others unchanged.

    Customer ids are join keys: masking a phone-number id to ``[PHONE]`` would
    merge every such customer into one. The pseudonym is ``pii-`` plus 20 hex
    digits of the value's HMAC-SHA-256 under :func:`pseudonym_key` (or ``key``),
    so the same customer gets the same id in feedback and in customer files,
    the number itself is not stored, and without the key nobody can find which
    number a pseudonym stands for by hashing every number of a numbering plan.
    A pseudonym given again is returned as it is.

    Example:
        >>> key = b"an example key, not a real secret"
        >>> pseudonymous_id("cust-4821", key)
        'cust-4821'
        >>> a = pseudonymous_id("٠٥٥١٢٣٤٥٦٧", key)
        >>> a.startswith("pii-"), a == pseudonymous_id("٠٥٥١٢٣٤٥٦٧", key), len(a), pseudonymous_id(a, key) == a
        (True, True, 24, True)
        >>> a == pseudonymous_id("٠٥٥١٢٣٤٥٦٧", b"another key, not a real secret")
        False
    """
    if mask_pii(value) == value or _PSEUDONYM.fullmatch(value):
        return value
    digest = hmac.new(key if key is not None else pseudonym_key(), value.encode("utf-8", "surrogatepass"),
                      hashlib.sha256)
    return "pii-" + digest.hexdigest()[:20]
