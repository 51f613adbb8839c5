"""Normalisation by language: camel-tools for Arabic, hazm for Persian, shared extras for both."""

from __future__ import annotations

import pytest

from sada.pipeline.normalise import Normaliser, extract_cues, mask_pii, reduce_elongation


@pytest.fixture(scope="module")
def normaliser() -> Normaliser:
    return Normaliser()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("الخدمةُ ممتازةٌ", "الخدمه ممتازه"),  # diacritics removed, teh marbuta normalised
        ("أفضل إنترنت آمن", "افضل انترنت امن"),  # alef variants
        ("على مستوى", "علي مستوي"),  # alef maksura
        ("جمييييل جداااا", "جميل جدا"),  # elongation
        ("مـمـتـاز", "ممتاز"),  # tatweel
        ("سعر ٣٤٥ ريال", "سعر 345 ريال"),  # Arabic-Indic digits
        ("ممتاز 😍👍", "ممتاز 😍 👍"),  # emoji survive arclean
        ("الـ app ما يشتغل", "ال app ما يشتغل"),  # Latin code-switching stays readable
    ],
)
def test_arabic(normaliser, raw, expected):
    assert normaliser(raw, "ar").text == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("كيفيت خوب بود", "کیفیت خوب بود"),  # Arabic ك typed by a Persian user
        ("مي شه", "می\u200cشه"),  # separated mi- prefix joined with ZWNJ
        ("كتاب ها", "کتاب\u200cها"),  # plural suffix joined with ZWNJ
        ("عاااالی بود", "عالی بود"),  # elongation
        ("قیمت ۱۲۰ هزار", "قیمت 120 هزار"),  # Persian digits
        ("خوب بود!!!", "خوب بود !!!"),  # punctuation separated, kept
    ],
)
def test_persian(normaliser, raw, expected):
    assert normaliser(raw, "fa").text == expected


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_persian_letters_survive_in_both_routes_only_when_routed_right(normaliser, language):
    text = normaliser("پیک گرم رسید", language).text
    if language == "fa":
        assert text == "پیک گرم رسید"
    else:  # the Arabic route would damage Persian: this is why routing happens first
        assert "پ" not in text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("راسلوني على test.user@example.com", "راسلوني على [EMAIL]"),
        ("اتصل ٠٥٥١٢٣٤٥٦٧", "اتصل [PHONE]"),
        ("شماره من 0912 345 6789 است", "شماره من [PHONE] است"),
        ("كارت ۶۰۳۷-۹۹۷۵-۱۲۳۴-۵۶۷۸ مسدود شد", "كارت [CARD] مسدود شد"),
        ("سایت www.shop.example.com/item/12 باز نمیشه", "سایت [URL] باز نمیشه"),
        ("IBAN SA0380000000608010167519 please", "IBAN [IBAN] please"),
        ("سفارش ۲ تا پیتزا ساعت ۸", "سفارش ۲ تا پیتزا ساعت ۸"),  # small numbers are not PII
        ("طلبت يوم 2025-03-04 ولم يصل", "طلبت يوم 2025-03-04 ولم يصل"),  # an ISO date is not a phone
        ("سفارش ۱۴۰۳-۰۵-۱۲ ثبت شد", "سفارش ۱۴۰۳-۰۵-۱۲ ثبت شد"),  # nor a Solar Hijri date in Persian digits
        ("وصل 07-03-2025 اتصل 0501234567", "وصل 07-03-2025 اتصل [PHONE]"),  # day-first date, then a phone
        ("رقمي 0912-345-6789", "رقمي [PHONE]"),  # dashes in a phone's own grouping still mask
    ],
)
def test_pii_masking(raw, expected):
    assert mask_pii(raw) == expected


@pytest.mark.parametrize("language", ["ar", "fa"])
def test_masked_placeholders_survive_normalisation(normaliser, language):
    assert "[EMAIL]" in normaliser("ایمیل a@b.com لطفا", language).text
    assert "a@b.com" not in normaliser("ایمیل a@b.com لطفا", language).text


def test_pii_masking_can_be_turned_off():
    assert "a@b.com" in Normaliser(mask_pii=False)("ایمیل a@b.com", "fa").text.replace(" ", "")


def test_cues_are_taken_before_normalising(normaliser):
    result = normaliser("زفففت!!! 😡😡", "ar")
    assert result.cues.emoji == ("😡", "😡")
    assert result.cues.elongations == 1 and result.cues.exclamation_runs == 1
    assert extract_cues("ok").as_dict() == {"emoji": [], "elongations": 0, "exclamation_runs": 0, "question_runs": 0}


def test_elongation_keeps_latin_doubles():
    assert reduce_elongation("good soooo") == "good soo"


def test_load_builds_hazm_once_for_the_process():
    # a long job loads hazm's word lists before its first batch (Normaliser.load), and every
    # Normaliser of the process then shares them instead of reading them again
    from sada.pipeline import normalise

    loaded = Normaliser(mask_pii=False).load()
    assert normalise._hazm_tokenizer.cache_info().currsize == 1
    assert normalise._hazm_normalizer.cache_info().currsize == 1
    hits = normalise._hazm_tokenizer.cache_info().hits
    assert loaded("سلام، خیلی خوب بود", "fa").text == Normaliser()("سلام، خیلی خوب بود", "fa").text
    assert normalise._hazm_tokenizer.cache_info().hits > hits
