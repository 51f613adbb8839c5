"""Language ID: ar / fa / mixed / other / unsupported, measured on real public data when present."""

from __future__ import annotations

import csv

import pytest

from pipeline.language import default_identifier, script_of


@pytest.fixture(scope="module")
def identify():
    return default_identifier()


@pytest.mark.parametrize(
    "text, language",
    [
        ("الخدمة ممتازة والتوصيل كان سريعا", "ar"),  # MSA
        ("والله الطلب تأخر وايد وما حد رد علينا", "ar"),  # Gulf
        ("الأكل وصل بارد ومش هطلب تاني", "ar"),  # Egyptian
        ("شو هالخدمة، صرلي ساعة ناطر", "ar"),  # Levantine
        ("التطبيق مزيان بزاف ولكن الدفع كيطيح", "ar"),  # Maghrebi
        ("خدمة سيئة", "ar"),  # two words; ة is Arabic-only
        ("سفارشم دیر رسید و غذا سرد بود", "fa"),  # formal-ish Persian
        ("خيلي بد بود، ديگه سفارش نميدم", "fa"),  # Persian typed with Arabic ي
        ("پشتیبانی جواب نمیده", "fa"),
        ("عالی بود", "fa"),
        ("great app but slow delivery", "other"),  # English
        ("👍👍👍", "other"),  # no letters at all
        ("Доставка была быстрой", "unsupported"),  # Cyrillic
        ("配送很快", "unsupported"),  # CJK
        ("التوصيل كان سريعا جدا والموظف محترم. ولی پشتیبانی اصلا جواب نمی‌دهد و خیلی بد است", "mixed"),
    ],
)
def test_languages(identify, text, language):
    assert identify(text).language == language


@pytest.mark.parametrize("text, script", [("سلام", "arabic"), ("hello", "latin"), ("123 😍", "none"), ("שלום", "other")])
def test_script_of(text, script):
    assert script_of(text) == script


@pytest.mark.parametrize(
    "filename",
    ["ar_elsahar_att.csv", "ar_elsahar_prod.csv", "ar_elsahar_res2.csv", "fa_parsabsa_test.csv",
     "fa_parsinlu_food_test.csv", "fa_snappfood_test.csv"],
)
def test_accuracy_on_public_datasets(identify, shared_datasets, filename):
    """>= 99% on the Arabic-script rows of each public set (its name starts with the language).

    Latin-script rows (English reviews in the Arabic sets, Finglish in SnappFood) are
    ``other`` by design and are reported in the issue note, not counted here.
    """
    path = shared_datasets / filename
    if not path.exists():
        pytest.skip(f"{path} not present")
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    guesses = [g for g in identify.predict(texts) if g.script == "arabic"]
    accuracy = sum(g.language == filename[:2] for g in guesses) / len(guesses)
    assert accuracy >= 0.99, f"{filename}: {accuracy:.4f}"
