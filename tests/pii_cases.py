"""Shared PII test data and an independent PII detector.

``PII_CASES`` lists synthetic personal values (every number invented or a
published specimen: the IBAN registry's example IBANs, the card networks'
test numbers) in the forms customers write them: ASCII, Arabic-Indic and
Persian digits; spaced, dashed, dotted, bracketed; with ``+`` or ``00``;
lowercase country codes; IBANs in groups of four or bare. ``NOT_PII`` lists
texts that look numeric but hold no personal data (dates, times, prices,
order numbers, ratings, years, percentages) and must come out of masking
unchanged.

``find_pii`` reports what looks like PII in a string. It shares no code with
``pipeline.pii`` and is deliberately blunter, so that a test using it can catch
what the masker misses:

- any run of 9 or more digits (ASCII, Arabic-Indic or Persian) once the
  separators `` -.()`` (and no-break spaces) between them are ignored,
- anything of the form ``x@y.tld``,
- anything IBAN-like: two letters, two digits, an optional four-letter bank
  code, then 10 or more digits.

Before looking it blanks what is plainly not PII and would otherwise join
into long digit runs: dates (``2025-03-07``, ``07.03.2025``, ``1403/05/12``),
times (``10:15:00.123``, ``+03:00``), decimals (``0.30102999566``), UUIDs and
lowercase hex digests of 16 or more characters (stored ids and hashes).
It over-reports by design: an amount of 9 or more digits (``125000000 ریال``)
or a list of years (``1400 1401 1402``) is reported although masking leaves
it, so texts meant to hold no PII should keep amounts under 9 digits or write
them with thousands separators (``125,000,000``).

Import it as ``from tests.pii_cases import PII_CASES, NOT_PII, find_pii``
(tests/ is a namespace package: run pytest as ``python -m pytest`` from the
repository root, as ``make test`` does).

Example:
    >>> find_pii("جوالي٠٥٥١٢٣٤٥٦٧ و ايميلي ali@example.com")
    ['٠٥٥١٢٣٤٥٦٧', 'ali@example.com']
    >>> find_pii("شبام IR06 2960 0000 0010 0324 2000 01")
    ['IR06 2960 0000 0010 0324 2000 01']
    >>> find_pii("طلبت يوم 2025-03-07 10:15:00 بمبلغ 1,250,000 ريال وتقييمي 10/10")
    []
    >>> find_pii("جوالي[PHONE] وايميلي[EMAIL]")
    []
"""

from __future__ import annotations

import re

__all__ = ["KINDS", "NOT_PII", "PII_CASES", "PLACEHOLDER_OF", "find_pii"]

KINDS = ("phone", "email", "iban", "card", "national_id")
PLACEHOLDER_OF = {"phone": "[PHONE]", "email": "[EMAIL]", "iban": "[IBAN]", "card": "[CARD]",
                  "national_id": "[NATIONAL_ID]"}

# (value, kind). Sentences embedding them (glued to a word and spaced) are built in tests/test_pii.py.
PII_CASES: list[tuple[str, str]] = [
    # ---- phones: Saudi / Gulf mobiles, local form
    ("0551234567", "phone"),
    ("٠٥٥١٢٣٤٥٦٧", "phone"),  # Arabic-Indic digits
    ("٠٥٠ ١٢٣ ٤٥٦٧", "phone"),  # Arabic-Indic, spaced
    ("(055) 123-4567", "phone"),  # bracketed area code, dash
    ("055.123.4567", "phone"),  # dotted
    ("055-123-4567", "phone"),
    ("٠٥٥-١٢٣-٤٥٦٧", "phone"),
    # ---- phones: international
    ("+966 55 123 4567", "phone"),
    ("+966551234567", "phone"),
    ("00966551234567", "phone"),
    ("+٩٦٦ ٥٥ ١٢٣ ٤٥٦٧", "phone"),  # Arabic-Indic after +
    ("+971 50 123 4567", "phone"),  # UAE
    ("+20 100 123 4567", "phone"),  # Egypt
    ("01001234567", "phone"),  # Egyptian mobile, local
    ("+962 79 123 4567", "phone"),  # Jordan
    ("+965 9876 5432", "phone"),  # Kuwait (8-digit national number)
    ("+974 3312 3456", "phone"),  # Qatar
    ("+973 3612 3456", "phone"),  # Bahrain
    ("+964 770 123 4567", "phone"),  # Iraq
    # ---- phones: Iran
    ("09123456789", "phone"),
    ("۰۹۱۲۳۴۵۶۷۸۹", "phone"),  # Persian digits
    ("0912 345 6789", "phone"),
    ("۰۹۱۲ ۳۴۵ ۶۷۸۹", "phone"),
    ("۰۹۱۲-۳۴۵-۶۷۸۹", "phone"),
    ("0912 123 45 67", "phone"),  # 4-3-2-2 grouping
    ("00989121234567", "phone"),
    ("+98-912-123-4567", "phone"),
    ("+98 912 123 4567", "phone"),
    ("+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷", "phone"),
    ("0098 912 123 4567", "phone"),
    ("021-88887777", "phone"),  # Tehran landline
    ("(021) 8888 7777", "phone"),
    ("۰۲۱ ۸۸۸۸ ۷۷۷۷", "phone"),
    # ---- e-mails
    ("ali.hassan@example.com", "email"),
    ("Sara.Ahmadi+shop@mail.example.ir", "email"),
    ("reza_1370@example.co", "email"),
    ("user123@mail.example.sa", "email"),
    ("علي@example.com", "email"),  # Arabic local part
    ("محمد.رضا@example.ir", "email"),  # Persian local part with a dot
    # ---- IBANs (IR: sheba)
    ("IR062960000000100324200001", "iban"),
    ("ir062960000000100324200001", "iban"),  # lowercase country code
    ("IR06 2960 0000 0010 0324 2000 01", "iban"),  # groups of four
    ("IR۰۶۲۹۶۰۰۰۰۰۰۰۱۰۰۳۲۴۲۰۰۰۰۱", "iban"),  # Persian digits
    ("IR۰۶ ۲۹۶۰ ۰۰۰۰ ۰۰۱۰ ۰۳۲۴ ۲۰۰۰ ۰۱", "iban"),
    ("062960000000100324200001", "iban"),  # bare 24-digit sheba, no IR
    ("۰۶۲۹۶۰۰۰۰۰۰۰۱۰۰۳۲۴۲۰۰۰۰۱", "iban"),  # bare sheba, Persian digits
    ("0629 6000 0000 1003 2420 0001", "iban"),  # bare sheba in groups of four
    ("SA0380000000608010167519", "iban"),
    ("sa03 8000 0000 6080 1016 7519", "iban"),  # lowercase, spaced
    ("SA٠٣٨٠٠٠٠٠٠٠٦٠٨٠١٠١٦٧٥١٩", "iban"),  # Arabic-Indic digits
    ("AE070331234567890123456", "iban"),
    ("EG380019000500000000263180002", "iban"),
    ("KW81CBKU0000000000001234560101", "iban"),  # bank code in letters
    ("JO94 CBJO 0010 0000 0000 0131 0003 02", "iban"),
    ("TR330006100519786457841326", "iban"),
    # ---- payment cards
    ("6037997512345678", "card"),
    ("6037-9975-1234-5678", "card"),
    ("6037 9975 1234 5678", "card"),
    ("۶۰۳۷ ۹۹۷۵ ۱۲۳۴ ۵۶۷۸", "card"),  # Persian digits, groups of four
    ("۶۰۳۷۹۹۷۵۱۲۳۴۵۶۷۸", "card"),
    ("۶۰۳۷-۹۹۷۵-۱۲۳۴-۵۶۷۸", "card"),
    ("٤١١١ ١١١١ ١١١١ ١١١١", "card"),  # Arabic-Indic digits
    ("4111-1111-1111-1111", "card"),
    ("5022 2910 1234 5678", "card"),
    ("3782 822463 10005", "card"),  # 15-digit, 4-6-5
    ("5105105105105100", "card"),
    # ---- national ids: Saudi (1 citizens, 2 residents; Luhn check digit), Emirati, Iranian code melli
    ("1012345672", "national_id"),
    ("٢٠٥٦٧٨٩١٢٢", "national_id"),  # a residence (iqama) number in Arabic-Indic digits
    ("784-1985-1234567-3", "national_id"),  # Emirati, as printed on the card
    ("784198512345673", "national_id"),  # Emirati, one run (was [CARD])
    ("٧٨٤ ١٩٨٥ ١٢٣٤٥٦٧ ٣", "national_id"),  # Emirati, spaced, Arabic-Indic
    ("0012345679", "national_id"),  # code melli from Tehran (00...): not an international prefix
    ("۰۰۸۴۵۷۵۹۴۸", "national_id"),  # code melli in Persian digits
    ("001-234567-9", "national_id"),  # code melli in its printed groups
    ("4993708998", "national_id"),
]

# (text, why it is not PII): masking must leave each unchanged, find_pii must find nothing.
NOT_PII: list[tuple[str, str]] = [
    ("طلبت يوم 2025-03-07 ولم يصل", "ISO date"),
    ("طلبت يوم ٢٠٢٥-٠٣-٠٧ ولم يصل", "ISO date, Arabic-Indic digits"),
    ("وصلني بتاريخ 07.03.2025 متأخر", "dotted day-first date"),
    ("وصلني بتاريخ 07-03-2025 و 2025/03/07", "dashed and slashed dates"),
    ("سفارش ۱۴۰۳/۰۵/۱۲ ثبت شد", "Solar Hijri date, Persian digits"),
    ("سفارش 1403-05-12 ثبت شد", "Solar Hijri date, dashed"),
    ("تاريخ الطلب ١٤٤٦-٠٢-٠٧", "Hijri date"),
    ("created 2025-03-07T10:15:00+03:00", "ISO timestamp"),
    ("الساعة 14:30 وصل المندوب", "time"),
    ("ساعت ۱۰:۳۰ تا ۱۲:۴۵ منتظر بودم", "time range, Persian digits"),
    ("قیمتش ۱۵۰۰۰۰ تومان بود", "price, 6 digits"),
    ("سعره 120 ريال فقط", "small price"),
    ("دفعت 1,250,000 ريال", "amount with thousands commas"),
    ("پرداخت ۱٬۲۵۰٬۰۰۰ تومان", "amount with the Arabic thousands separator"),
    ("مبلغ 12500000 ریال کسر شد", "8-digit amount followed by a currency"),
    ("مبلغ ۱۲۵۰۰۰۰۰ ریال کسر شد", "same, Persian digits"),
    ("کسر ۱۲.۵۰۰.۰۰۰ تومان", "dotted thousands with a currency"),
    ("رقم الطلب 123456 ولم يصل", "6-digit order number"),
    ("شماره سفارش ۴۵۶۷۸۹ هست", "6-digit order number, Persian digits"),
    ("كود الخصم 1234567", "7-digit code, shorter than any phone"),
    ("تقييمي 10/10 والخدمة 5/5", "ratings"),
    ("از سال 1399 مشتری هستم، سال ۱۴۰۲ بدتر شد", "years"),
    ("من 2020-2025 وأنا عميل", "year range"),
    ("٪۹۵ راضی هستم و 100% پیشنهاد می‌کنم", "percentages"),
    ("نسبة الرضا 99.5% والتوصيل 3.5 ساعات", "decimals"),
    ("سفارش ۳ تا پیتزا ساعت ۸", "small counts"),
    ("دقة النموذج 0.873456123 حسب التقرير", "a decimal fraction with many digits"),
    ("نسخه 2.3.1 اپ کرش می‌کند", "version number"),
    ("تويتر @stc_ksa ما يرد", "mention, not an e-mail"),
    ("جوالي[PHONE] وايميلي[EMAIL] وحسابي[IBAN] وبطاقتي[CARD] والموقع [URL]", "placeholders"),
    ("طلبت 3 مرات يوم 2025-03-07 الساعة 14:30 بمبلغ 1,250,000 ريال وتقييمي 10/10", "all of them together"),
]

# ---------------------------------------------------------------- the independent detector

_TO_ASCII = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# blanked before looking (ASCII digits): ids, hashes, dates, times, decimals
_NOT_PII = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?<![0-9A-Za-z])(?=[0-9a-f]*[a-f])[0-9a-f]{16,}(?![0-9A-Za-z])"
    r"|(?<![0-9])(?:[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{4})(?![0-9])"
    r"|(?<![0-9])[0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?(?:\.[0-9]+)?(?![0-9])"
    r"|(?<![0-9.\-])(?<![0-9][ (\u00a0])(?:0|[1-9][0-9]{0,2})\.[0-9]+(?![0-9.\-])(?![ )\u00a0][0-9])"
)
_DIGIT_RUN = re.compile(r"[0-9](?:[ \u00a0\-.()]*[0-9]){8,}")
_EMAIL_LIKE = re.compile(r"[^\s@<>\"'()\[\]]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_IBAN_LIKE = re.compile(r"(?<![A-Za-z])[A-Za-z]{2}[ \-]?[0-9]{2}(?:[ \-]?[A-Za-z]{4})?(?:[ \-]?[0-9]){10,}")


def find_pii(text: str) -> list[str]:
    """Every substring of ``text`` that looks like a phone, card, IBAN or e-mail, in order."""
    ascii_text = text.translate(_TO_ASCII)  # one character for one: offsets stay those of ``text``
    blanked = _NOT_PII.sub(lambda m: "#" * len(m.group()), ascii_text)
    spans = []
    for pattern in (_EMAIL_LIKE, _IBAN_LIKE, _DIGIT_RUN):
        for m in pattern.finditer(blanked):
            if not any(s <= m.start() < e or m.start() <= s < m.end() for s, e in spans):
                spans.append((m.start(), m.end()))
    return [text[s:e] for s, e in sorted(spans)]
