"""PII masking on real-looking Arabic and Persian sentences (pipeline/pii.py).

Every value of tests/pii_cases.PII_CASES is embedded in Arabic and Persian
sentences, glued to the word before or after it and spaced, and must come out
as its placeholder with the rest of the sentence untouched; tests/pii_cases.find_pii,
which shares no code with the masker, must find nothing left. The NOT_PII
texts (dates, times, prices, order numbers, ratings, years, percentages) must
come out unchanged, and masking twice must equal masking once.
"""

from __future__ import annotations

import re

import pytest

from sada.pipeline.normalise import Normaliser
from sada.pipeline.normalise import mask_pii as mask_pii_from_normalise
from sada.pipeline.pii import PLACEHOLDERS, mask_pii
try:
    from tests.pii_cases import NOT_PII, PII_CASES, PLACEHOLDER_OF, find_pii
except ModuleNotFoundError:  # bare `pytest` puts tests/ on sys.path, not the repository root
    from pii_cases import NOT_PII, PII_CASES, PLACEHOLDER_OF, find_pii

# (template, language, what the edge is); "{}" is where the value goes
TEMPLATES = [
    ("جوالي{} اتصلوا بي", "ar"),  # glued to the word before (Arabic)
    ("رقمي {} اتصلوا بي", "ar"),  # spaced
    ("ارسلوا التفاصيل على{} بسرعة", "ar"),  # glued after "على"
    ("بياناتي: {}، شكرا", "ar"),  # colon before, Arabic comma after
    ("تواصلوا معي ({}) اليوم", "ar"),  # in brackets
    ("{}اتصلوا", "ar"),  # glued to the word after
    ("طلبت يوم 2025-03-07 الساعة 14:30 وبياناتي {} والمبلغ 1,250,000 ريال", "ar"),  # beside non-PII numbers
    ("شمارم{} هست", "fa"),  # glued to the word before (Persian)
    ("لطفا به {} پیام بدید", "fa"),  # spaced
    ("اطلاعاتم «{}» است", "fa"),  # Persian quotation marks
    ("{}لطفا پیگیری کنید", "fa"),  # glued to the word after
    ("سفارش ۱۴۰۳/۰۵/۱۲ ثبت شد و اطلاعاتم {} است؛ مبلغ ۱۵۰۰۰۰ تومان", "fa"),  # beside non-PII numbers
    ("پیام داده بودم:\n{}\nجواب ندادید", "fa"),  # on its own line
]

_ARABIC_LETTER_BEFORE = re.compile(r"[\u0600-\u06ff]\{\}")
_ARABIC_LOCAL_PART = re.compile(r"^[\u0600-\u06ff]")


def _embedded():
    for i, (value, kind) in enumerate(PII_CASES):
        for j, (template, language) in enumerate(TEMPLATES):
            yield pytest.param(value, kind, template, id=f"{kind}{i}-{language}{j}")


def _expected(value: str, kind: str, template: str) -> str:
    placeholder = PLACEHOLDER_OF[kind]
    if kind == "email" and _ARABIC_LOCAL_PART.match(value) and _ARABIC_LETTER_BEFORE.search(template):
        # an Arabic-script local part glued to an Arabic word cannot be told apart from it:
        # the glued word goes into the mask with the address (جواليعلي@example.com -> [EMAIL])
        head = template[: template.index("{}")]
        word = re.search(r"[\u0600-\u06ff]+$", head).group()
        return template.replace(word + "{}", placeholder)
    return template.replace("{}", placeholder)


def test_pii_cases_are_detectable():
    """The shared cases are real PII to find_pii (else the checks below could not fail)."""
    assert len(PII_CASES) >= 50 and {kind for _, kind in PII_CASES} == set(PLACEHOLDER_OF)
    undetected = [value for value, _ in PII_CASES if not find_pii(value)]
    assert undetected == []
    for template, _ in TEMPLATES:
        assert find_pii(template.replace("{}", "")) == [], template  # the sentences alone are clean


@pytest.mark.parametrize("value, kind", PII_CASES)
def test_each_value_alone_becomes_its_placeholder(value, kind):
    assert mask_pii(value) == PLACEHOLDER_OF[kind]


@pytest.mark.parametrize("value, kind, template", list(_embedded()))
def test_pii_in_sentences_is_masked(value, kind, template):
    text = template.replace("{}", value)
    masked = mask_pii(text)
    assert find_pii(masked) == []
    assert masked == _expected(value, kind, template)


@pytest.mark.parametrize("text, why", NOT_PII, ids=[why for _, why in NOT_PII])
def test_not_pii_is_left_unchanged(text, why):
    assert mask_pii(text) == text
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "raw, expected",
    [
        # glued phone and e-mail in one Arabic sentence; today's regexes gave 'ايميليali@[URL]'
        ("جوالي٠٥٥١٢٣٤٥٦٧ وايميليali@example.com", "جوالي[PHONE] وايميلي[EMAIL]"),
        # glued Persian-digit phone and a Persian-digit sheba with IR
        ("شمارم۰۹۱۲۳۴۵۶۷۸۹ شبام IR۰۶۲۹۶۰۰۰۰۰۰۰۱۰۰۳۲۴۲۰۰۰۰۱", "شمارم[PHONE] شبام [IBAN]"),
        # a date right after an IBAN is given back, not swallowed by the IBAN's digit groups
        ("شبا IR06 2960 0000 0010 0324 2000 01 2025-03-07", "شبا [IBAN] 2025-03-07"),
        # a date and a phone joined by one space: the date stays, the phone goes
        ("2025-03-07 09121234567 تماس گرفتم", "2025-03-07 [PHONE] تماس گرفتم"),
        ("وصل 07-03-2025 اتصل 0501234567", "وصل 07-03-2025 اتصل [PHONE]"),
        # an Arabic local part after a space: the word before is kept
        ("ايميلي علي@example.com", "ايميلي [EMAIL]"),
        # an e-mail glued to the word after it
        ("ali@example.comلطفا جواب بدید", "[EMAIL]لطفا جواب بدید"),
        # a URL glued to the word before it
        ("سایتwww.digikala.com/p/123 خرابه", "سایت[URL] خرابه"),
        # a long number after a currency-less context is a phone; a leading 0 is never an amount
        ("شماره ۰۹۱۲۳۴۵۶۷۸۹ تومان", "شماره [PHONE] تومان"),
        # an 8-digit amount with a currency stays; the same number bare is a (Gulf-length) phone
        ("مبلغ 12500000 ریال و شماره 12500000", "مبلغ 12500000 ریال و شماره [PHONE]"),
        # a card glued in Persian, an IBAN with a bank code in letters
        ("کارتم۶۰۳۷۹۹۷۵۱۲۳۴۵۶۷۸ و KW81CBKU0000000000001234560101", "کارتم[CARD] و [IBAN]"),
        # 16 digits with a leading 00 is an international phone, not a card
        ("اتصل 0096655123456789", "اتصل [PHONE]"),
        # several phones separated by Arabic "و"
        ("0551234567 و 0561234567", "[PHONE] و [PHONE]"),
        # numeric spreadsheet cells that reach quarantine fields as float text
        ("966551234567.0", "[PHONE]"),
        ("6037997512345678.0", "[CARD]"),
        ("9.66551234567e+11", "[PHONE]e+11"),
        # a phone written with two spaces, and one with en dashes
        ("شماره ۰۹۱۲  ۳۴۵ ۶۷۸۹ است", "شماره [PHONE] است"),
        ("رقمي 055–123–4567", "رقمي [PHONE]"),
    ],
)
def test_masking_examples(raw, expected):
    assert mask_pii(raw) == expected


def _idempotence_texts():
    for value, _ in PII_CASES[::3]:
        for template, _ in TEMPLATES:
            yield template.replace("{}", value)
    yield from (text for text, _ in NOT_PII)


@pytest.mark.parametrize("text", list(_idempotence_texts()))
def test_masking_twice_equals_masking_once(text):
    once = mask_pii(text)
    assert mask_pii(once) == once


def test_normalise_re_exports_the_same_function():
    assert mask_pii_from_normalise is mask_pii
    assert set(PLACEHOLDERS) == {"[URL]", "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[NATIONAL_ID]"}


@pytest.mark.parametrize(
    "raw, language",
    [("جوالي٠٥٥١٢٣٤٥٦٧ ارجو الاتصال", "ar"), ("شمارم۰۹۱۲۳۴۵۶۷۸۹ لطفا زنگ بزنید", "fa"),
     ("شبام IR062960000000100324200001 و ایمیلم sara@example.ir", "fa"),
     ("رقم هويتي 1012345672 ارجو التحقق", "ar"), ("کد ملی من ۰۰۱۲۳۴۵۶۷۹ است", "fa")],
)
def test_placeholders_survive_the_normaliser(raw, language):
    text = Normaliser()(raw, language).text
    assert find_pii(text) == []
    assert "[PHONE]" in text or "[IBAN]" in text or " [NATIONAL_ID] " in text  # whole, not [ NATIONAL _ ID ]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("رقم هويتي 1012345672", "رقم هويتي [NATIONAL_ID]"),  # Saudi citizen, Luhn check digit right
        ("رقم هويتي 1012345678", "رقم هويتي [PHONE]"),  # same shape, check digit wrong: masked, not named an id
        ("اقامتي2056789122", "اقامتي[NATIONAL_ID]"),  # a residence number glued to the word
        ("الهوية الإماراتية ٧٨٤-١٩٨٥-١٢٣٤٥٦٧-٣", "الهوية الإماراتية [NATIONAL_ID]"),
        ("کد ملی ۰۰۱۲۳۴۵۶۷۹ و موبایل ۰۹۱۲۳۴۵۶۷۸۹", "کد ملی [NATIONAL_ID] و موبایل [PHONE]"),
        ("کد ملی ۰۰۱۲۳۴۵۶۷۸", "کد ملی [PHONE]"),  # a wrong check digit: still masked
        ("کدملیم1111111111", "کدملیم[PHONE]"),  # ten equal digits pass the mod-11 sum but are no code
        # Gulf mobiles whose digits happen to pass the Iranian check stay phones
        ("جوالي 0551234563", "جوالي [PHONE]"),
        # phone groupings are phones even when the digits pass a check
        ("رقمي 101 234 5672", "رقمي [PHONE]"),
        ("+966 1012345672", "[PHONE]"),  # an international prefix makes it a phone
        # a 10-digit amount stays an amount
        ("المبلغ 1012345672 ريال", "المبلغ 1012345672 ريال"),
    ],
)
def test_national_ids_are_named(raw, expected):
    assert mask_pii(raw) == expected


# ---------------------------------------------------------------- keyed pseudonyms

PHONE = "0551234567"


def test_a_pseudonym_cannot_be_matched_to_its_phone_number_by_hashing(tmp_path, monkeypatch):
    """The attack an unkeyed hash allowed: hash every number of the plan and look the pseudonym up."""
    import hashlib
    import hmac
    import stat

    from sada.pipeline.pii import pseudonymous_id

    monkeypatch.setenv("SADA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SADA_PSEUDONYM_KEY", raising=False)
    pseudonym = pseudonymous_id(PHONE)
    assert pseudonym.startswith("pii-") and len(pseudonym) == 24

    # without the key: no number of the plan (here 10,000 of it, the phone among them) hashes to it
    plan = [f"055123{n:04d}" for n in range(10_000)]
    assert PHONE in plan
    for digest in (hashlib.sha256, hashlib.sha1, hashlib.md5):
        assert not {"pii-" + digest(n.encode()).hexdigest()[:20] for n in plan} & {pseudonym}
    # with another key: no match either
    other = b"0123456789abcdef0123456789abcdef"
    assert "pii-" + hmac.new(other, PHONE.encode(), hashlib.sha256).hexdigest()[:20] != pseudonym
    assert pseudonymous_id(PHONE, other) != pseudonym
    # with the key (from the file made on first use, mode 0600): the pseudonym is HMAC-SHA-256 of the number
    key_file = tmp_path / "home" / "pseudonym.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip().encode()
    assert len(bytes.fromhex(key.decode())) == 32  # secrets.token_bytes(32), written as hex
    assert "pii-" + hmac.new(key, PHONE.encode(), hashlib.sha256).hexdigest()[:20] == pseudonym


def test_the_key_is_made_once_and_kept(tmp_path, monkeypatch):
    from sada.pipeline.pii import pseudonymous_id

    monkeypatch.delenv("SADA_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("SADA_HOME", str(tmp_path / "a"))
    first = pseudonymous_id(PHONE)
    key = (tmp_path / "a" / "pseudonym.key").read_bytes()
    assert pseudonymous_id(PHONE) == first and (tmp_path / "a" / "pseudonym.key").read_bytes() == key
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["pseudonym.key"]  # no temporary file left
    # another SADA_HOME is another key: the same number gets another pseudonym (what rotation does)
    monkeypatch.setenv("SADA_HOME", str(tmp_path / "b"))
    assert pseudonymous_id(PHONE) != first
    # the key given in the environment wins and writes nothing; the file's key in it gives the same pseudonyms
    monkeypatch.setenv("SADA_HOME", str(tmp_path / "c"))
    monkeypatch.setenv("SADA_PSEUDONYM_KEY", key.decode())
    assert pseudonymous_id(PHONE) == first and not (tmp_path / "c").exists()


def test_pseudonyms_are_stable_and_leave_plain_ids_alone(tmp_path, monkeypatch):
    from sada.pipeline.pii import pseudonymous_id

    monkeypatch.setenv("SADA_PSEUDONYM_KEY", "a test key of more than sixteen characters")
    assert pseudonymous_id("cust-4821") == "cust-4821"  # no personal data: unchanged
    for value in (PHONE, "٠٥٥١٢٣٤٥٦٧", "sara@example.ir", "1012345672"):  # phone, e-mail, national id
        pseudonym = pseudonymous_id(value)
        assert pseudonym.startswith("pii-") and pseudonymous_id(value) == pseudonym
        assert pseudonymous_id(pseudonym) == pseudonym  # a pseudonym given again is not hashed again
    assert pseudonymous_id(PHONE) != pseudonymous_id("٠٥٥١٢٣٤٥٦٧")  # the value as written, as before


@pytest.mark.parametrize("value", ["short", "   fifteen chars   "])
def test_a_short_key_is_refused(monkeypatch, value):
    from sada.pipeline.errors import ConfigError
    from sada.pipeline.pii import pseudonymous_id

    monkeypatch.setenv("SADA_PSEUDONYM_KEY", value)
    with pytest.raises(ConfigError, match="SADA_PSEUDONYM_KEY must be at least 16 characters") as info:
        pseudonymous_id(PHONE)
    assert "\n" not in str(info.value)


def test_an_unwritable_home_is_a_one_line_error(tmp_path, monkeypatch):
    from sada.pipeline.errors import ConfigError
    from sada.pipeline.pii import pseudonymous_id

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.delenv("SADA_PSEUDONYM_KEY", raising=False)
    monkeypatch.setenv("SADA_HOME", str(blocker / "home"))
    with pytest.raises(ConfigError, match="cannot read or create the pseudonym key") as info:
        pseudonymous_id(PHONE)
    assert "\n" not in str(info.value)


def test_tests_never_write_into_the_real_home():
    import os
    from pathlib import Path

    assert Path(os.environ["SADA_HOME"]).resolve() != (Path.home() / ".sada").resolve()
