"""Language ID: ar / fa / mixed / other / unsupported, measured on real public data when present.

Also the Arabic-script languages Sada identifies but does not analyse (ur, ckb, kmr, ps, sd, ug,
bal) and Latin-script Arabic and Persian (ar-Latn, fa-Latn), measured on tests/data/language_id_sentences.csv:
customer-feedback sentences written for this project (not taken from any dataset).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from sada.corpus import sample_dir
from sada.pipeline.corpus import load_feedback
from sada.pipeline.language import (LANGUAGES, OTHER_ARABIC_SCRIPT, ROMANISED, default_identifier, romanised,
                                    script_of, unsupported_detail)

SENTENCES = Path(__file__).resolve().parent / "data" / "language_id_sentences.csv"


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
        # other Arabic-script languages: their own letters and function words
        ("ڈیلیوری بہت دیر سے ہوئی اور کھانا ٹھنڈا تھا", "ur"),  # the Urdu: was fa, and positive
        ("بہت اچھا", "ur"),  # two words, no letter Persian lacks but ہ and ھ; بہت is Urdu's "very"
        ("میرا آرڈر ابهی تک نهیں پہنچا", "ur"),  # Urdu typed with Persian heh (ه for ہ/ھ)
        ("گەیاندن زۆر دواکەوت", "ckb"),  # the Sorani
        ("زۆر باشە", "ckb"),
        ("خواړه ډېر ناوخته راورسېدل", "ps"),  # the Pashto
        ("اپلیکېشن بیا بیا بندېږي", "ps"),  # ې is Pashto's and Uyghur's: ږ and the tie rule say Pashto
        ("خزمەتا هەوە گەلەک باشە", "kmr"),  # Kurmanji (Badini): گەلەک, not Sorani زۆر
        ("توهان جي سروس ڏاڍي سٺي آهي", "sd"),
        ("يەتكۈزۈش بەك كېچىكىپ كەتتى", "ug"),  # the Uyghur was ar
        ("منی آرڈر تان اَنگت نہ رسِتگ", "bal"),  # Urdu letters, Balochi words (منی, diacritics dropped)
        ("موتر ما ناوقت رسید و غذا سرد بود", "fa"),  # Dari is Persian
        ("فعلا کە تازە بدستم رسیدە", "fa"),  # Persian typed on a Kurdish keyboard: ە alone is not Sorani
        ("وهل خيركم من يقتل فيے حرب عقيدية فيے اليمن", "ar"),  # a decorative ے in an Arabic tweet
        ("ڤيديو الشرح ما اشتغل عندي", "ar"),  # Arabic writes ڤ in loanwords
        # Latin script: Arabizi and Finglish get their codes, English and others stay other
        ("el delivery kan moteakhar gedan", "ar-Latn"),  # the Arabizi
        ("ma7ad rad 3alaya fel support", "ar-Latn"),  # digits for ح and ع
        ("peyk kheili dir resid", "fa-Latn"),  # the Finglish
        ("kheyli bad bood", "fa-Latn"),  # "bad" is Persian here, and English is not counted by it
        ("man, this app is so bad", "other"),  # English "man" and "bad"
        ("El servicio fue muy lento", "other"),  # Spanish "el": one word is not enough
        ("upgraded from battlefield3 to crysis3", "other"),  # game names ending in a digit are not Arabizi
    ],
)
def test_languages(identify, text, language):
    assert identify(text).language == language


@pytest.mark.parametrize("text, script", [("سلام", "arabic"), ("hello", "latin"), ("123 😍", "none"), ("שלום", "other")])
def test_script_of(text, script):
    assert script_of(text) == script


def _shared_texts(shared_datasets, filename: str) -> list[str]:
    """The ``text`` column of a public set in ../shared/datasets (the test skips when it is absent)."""
    path = shared_datasets / filename
    if not path.exists():
        pytest.skip(f"{path} not present")
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


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
    texts = _shared_texts(shared_datasets, filename)
    texts = [t for t in texts if ARABIC_LETTER.search(t)]
    guesses = identify.predict(texts)
    accuracy = sum(g.language == filename[:2] for g in guesses) / len(guesses)
    assert accuracy >= 0.99, f"{filename}: {accuracy:.4f}"


def test_the_shipped_model_is_what_the_corpus_trains(identify):
    """The files in pipeline/language_id are current: rebuild them with
    `python -m sada.pipeline.language --corpus-dir corpus`."""
    import numpy as np

    from sada.pipeline.language import train_on_corpus

    fresh, _ = train_on_corpus(sample_dir())
    assert fresh._ngrams == identify._ngrams and fresh._classes == identify._classes
    np.testing.assert_allclose(fresh._log_probs, identify._log_probs, rtol=0, atol=1e-12)
    texts = load_feedback(sample_dir())["text"].tolist()
    assert [g.language for g in fresh.predict(texts)] == [g.language for g in identify.predict(texts)]


def test_rebuilding_names_its_corpus(tmp_path, capsys):
    """`python -m sada.pipeline.language` has no default corpus: the lowest layer never looks it up."""
    from sada.pipeline.language import main

    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "lid")])
    assert "--corpus-dir" in capsys.readouterr().err and not (tmp_path / "lid").exists()


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


def _sentences() -> list[dict[str, str]]:
    with SENTENCES.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


#: The least accuracy per language on tests/data/language_id_sentences.csv (measured: ur 32/32, ckb 30/30,
#: ps 28/30, kmr 10/14, sd 10/12, ug 12/12, bal 7/10; ar, fa, ar-Latn, fa-Latn and other all right).
#: The rarer languages rest on fewer, non-native sentences and lose short texts without their letters.
FLOORS = {"ur": 0.95, "ckb": 0.95, "ps": 0.9, "kmr": 0.6, "sd": 0.75, "ug": 0.9, "bal": 0.6,
          "ar": 1.0, "fa": 1.0, "ar-Latn": 0.95, "fa-Latn": 0.95, "other": 1.0}


def test_the_sentence_set_covers_every_language():
    sizes = Counter(row["language"] for row in _sentences())
    assert set(sizes) == set(FLOORS)
    assert min(sizes["ur"], sizes["ckb"], sizes["ps"], sizes["ar-Latn"], sizes["fa-Latn"]) >= 25
    assert min(sizes[code] for code in ("kmr", "sd", "ug", "bal")) >= 10


@pytest.mark.parametrize("language", sorted(FLOORS))
def test_accuracy_per_language_on_the_sentence_set(identify, language):
    texts = [row["text"] for row in _sentences() if row["language"] == language]
    guesses = [g.language for g in identify.predict(texts)]
    accuracy = sum(g == language for g in guesses) / len(texts)
    assert accuracy >= FLOORS[language], f"{language}: {accuracy:.3f} of {len(texts)}: {Counter(guesses)}"
    if language in OTHER_ARABIC_SCRIPT:  # a miss may fall back to Persian, never to another of them
        assert not set(guesses) & (set(OTHER_ARABIC_SCRIPT) - {language, "ckb", "kmr"})


@pytest.mark.parametrize("variety, code", [("arabizi", "ar-Latn"), ("finglish", "fa-Latn")])
def test_the_corpus_arabizi_and_finglish_are_found(identify, variety, code):
    """The corpus's Latin-script items (labelled ar/fa with their variety): >= 90% get the romanised code."""
    frame = load_feedback(sample_dir())
    texts = frame[frame["variety"] == variety]["text"].tolist()
    guesses = [g.language for g in identify.predict(texts)]
    assert len(texts) >= 50
    assert sum(g == code for g in guesses) / len(texts) >= 0.9, Counter(guesses)
    assert set(guesses) <= {code, "other"}  # a miss stays other, never the other language


@pytest.mark.parametrize("filename", ["ar_elsahar_att.csv", "ar_elsahar_prod.csv", "ar_elsahar_res2.csv"])
def test_english_reviews_in_the_public_sets_stay_other(identify, shared_datasets, filename):
    """The Latin-only rows of the Arabic review sets are English (and one Italian review): none is Arabizi."""
    texts = _shared_texts(shared_datasets, filename)
    latin = [t for t in texts if not ARABIC_LETTER.search(t) and re.search("[A-Za-z]", t)]
    assert latin and {g.language for g in identify.predict(latin)} == {"other"}


def test_romanised_needs_more_than_english_function_words():
    assert romanised("the order came after 2 hours ya3ni msh") is None  # as much English as Arabizi
    assert romanised("Il locale al centro al mare al sole al lago e poi si cena in un posto bello") is None
    assert romanised("shukran") == "ar-Latn" and romanised("mamnoon") == "fa-Latn"  # a one-word text


def test_codes_the_pipeline_analyses_and_quarantines():
    assert set(ROMANISED) <= set(LANGUAGES) and not set(OTHER_ARABIC_SCRIPT) & set(LANGUAGES)
    for code, name in OTHER_ARABIC_SCRIPT.items():
        assert unsupported_detail(code).startswith(f"{name} ({code}):")
    assert all(unsupported_detail(code) is None for code in LANGUAGES)


def test_other_arabic_script_languages_are_quarantined_with_the_language_named(tmp_path):
    """Through `sada analyze`: Urdu and Pashto are quarantined naming the language, Arabizi and Finglish counted."""
    import json

    from click.testing import CliRunner

    from sada.cli import main
    from sada.pipeline.store import Store, quarantine

    path = tmp_path / "mixed.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "comment"])
        writer.writerows([("u1", "ڈیلیوری بہت دیر سے ہوئی اور کھانا ٹھنڈا تھا"), ("p1", "خواړه ډېر ناوخته راورسېدل او سړه وو"),
                          ("a1", "el delivery kan moteakhar gedan"), ("f1", "peyk kheili dir resid"),
                          ("e1", "great app but slow delivery"), ("r1", "التوصيل تأخر كثير")])
    db = f"sqlite:///{tmp_path / 'sada.sqlite'}"
    result = CliRunner().invoke(main, ["analyze", "--input", str(path), "--db", db, "--no-classify", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["quarantine_reasons"] == {"unsupported_language": 2}
    assert summary["languages"] == {"ar": 1, "fa": 0, "mixed": 0, "other": 1, "ar-Latn": 1, "fa-Latn": 1}
    with Store.open(db).engine.connect() as conn:
        details = sorted(row.detail for row in conn.execute(quarantine.select()))
    assert details[0].startswith("Pashto (ps):") and details[1].startswith("Urdu (ur):")


def test_analyze_texts_names_the_language_it_does_not_analyse():
    from sada.pipeline.analyze import analyze_texts

    rows = analyze_texts(["ڈیلیوری بہت دیر سے ہوئی", "peyk kheili dir resid"], None)
    assert [(r["language"], r["error"]) for r in rows] == [("ur", "unsupported_language"), ("fa-Latn", None)]
