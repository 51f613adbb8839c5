"""Language ID: ar / fa / mixed / other / unsupported, measured on real public data when present."""

from __future__ import annotations

import csv
import re

import pytest

from sada.pipeline.language import default_identifier, script_of


ARABIC_LETTER = re.compile("[\u0621-\u064a\u0671-\u06d3\u06fa-\u06ff]")


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
        # Latin letters of URLs, mentions, e-mails and hashtags say nothing about the language
        ("محد صاح https://t.co/AbCdEfGhIj", "ar"),
        ("@someone_here @another_user والله ما قصرت", "ar"),
        ("راسلتهم على support@example.com ولا رد", "ar"),
        ("اقوى واحد والله #MannequinChallenge", "ar"),
        ("سفارش دیر رسید https://snapp.example/order/12345", "fa"),
        # laughter and elongation are written alike in both languages: they must not make Arabic Persian
        ("ههههههههه والله ما توقعت", "ar"),
        ("جمييييييل جدا يا جماعة", "ar"),
        ("خیلیییییی خوب بود هههه", "fa"),
        ("#خدمة_سيئة", "ar"),  # only a hashtag: its words are all there is
    ],
)
def test_languages(identify, text, language):
    assert identify(text).language == language


@pytest.mark.parametrize("text, script", [("سلام", "arabic"), ("hello", "latin"), ("123 😍", "none"), ("שלום", "other")])
def test_script_of(text, script):
    assert script_of(text) == script


@pytest.mark.parametrize(
    "filename",
    ["ar_arsarcasm_train.csv", "ar_elsahar_att.csv", "ar_elsahar_prod.csv", "ar_elsahar_res2.csv",
     "fa_parsabsa_test.csv", "fa_parsinlu_food_test.csv", "fa_snappfood_test.csv"],
)
def test_accuracy_on_public_datasets(identify, shared_datasets, filename):
    """>= 99% on the rows with any Arabic-script letter of each public set (its name starts with the language).

    Rows without one (English reviews in the Arabic sets, Finglish in SnappFood) are
    ``other`` by design and are reported in the issue note, not counted here. Tweets
    (ar_arsarcasm_train) carry URLs, mentions and Latin hashtags that must not count.
    """
    path = shared_datasets / filename
    if not path.exists():
        pytest.skip(f"{path} not present")
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    texts = [t for t in texts if ARABIC_LETTER.search(t)]
    guesses = identify.predict(texts)
    accuracy = sum(g.language == filename[:2] for g in guesses) / len(guesses)
    assert accuracy >= 0.99, f"{filename}: {accuracy:.4f}"


def test_the_shipped_model_is_what_the_corpus_trains(identify):
    """The files in pipeline/language_id are current: rebuild them with `python -m sada.pipeline.language`."""
    import numpy as np

    from sada.pipeline.corpus import load_feedback
    from sada.pipeline.language import train_on_corpus

    fresh, _ = train_on_corpus()
    assert fresh._ngrams == identify._ngrams and fresh._classes == identify._classes
    np.testing.assert_allclose(fresh._log_probs, identify._log_probs, rtol=0, atol=1e-12)
    texts = load_feedback()["text"].tolist()
    assert [g.language for g in fresh.predict(texts)] == [g.language for g in identify.predict(texts)]


def test_save_and_load_round_trip(tmp_path):
    from sada.pipeline.language import LanguageIdentifier

    trained = LanguageIdentifier.train(["الخدمة ممتازة جدا", "التوصيل كان متأخرا", "خیلی عالی بود", "پشتیبانی جواب نمی‌دهد"],
                                       ["ar", "ar", "fa", "fa"])
    trained.save_pretrained(tmp_path / "lid")
    loaded = LanguageIdentifier.from_pretrained(tmp_path / "lid")
    texts = ["الطلب وصل متأخر", "سفارش دیر رسید", "great 👍"]
    assert loaded.predict(texts) == trained.predict(texts)
    with pytest.raises(LookupError, match="missing"):
        LanguageIdentifier.from_pretrained(tmp_path / "nothing")
