"""Few-shot themes (``sada themes fit``): a new theme learns the words of a team's labelled texts, not only
the few its taxonomy entry lists, and the fit's method is part of the fitted model version."""

from __future__ import annotations

import numpy as np
import pytest

from sada.models.classifier import Classifier
from sada.models.few_shot import FEW_SHOT_METHOD, FIT_LEX_WEIGHT, fit_themes, fitted_model_version
from sada.models.heads import sigmoid
from sada.pipeline.taxonomy import Taxonomy, Theme

#: A theme the shipped model was never trained on; its entry never says "garage" (كراج / گاراژ).
PARKING = Theme("parking", {"ar": "مواقف السيارات", "fa": "پارکینگ", "en": "Parking"},
                seeds={"ar": ["ما في مواقف", "ما لقيت مكان أوقف السيارة"], "fa": ["جای پارک پیدا نکردم"]})
DELIVERY = Theme("delivery", {"en": "Delivery"})  # a shipped id
#: This project's own writing: for this team "parking" is its garage (كراج / گاراژ); street parking is not a
#: complaint of theirs, though the file's seeds say "no parking spaces".
LABELLED = [
    ("الكراج دايما مليان وما في مكان", "ar", "parking"), ("كراج الفرع مسكر من أسبوع", "ar", "parking"),
    ("ما في كراج قريب من المطعم", "ar", "parking"), ("وقفت بعيد لأن الكراج فل", "ar", "parking"),
    ("باب الكراج خربان", "ar", "parking"), ("گاراژ فروشگاه همیشه پره", "fa", "parking"),
    ("گاراژ شعبه بسته بود", "fa", "parking"), ("در گاراژ باز نمیشد", "fa", "parking"),
    ("المواقف بالشارع مجانية", "ar", ""), ("وقفت السيارة بالشارع عادي", "ar", ""),
    ("جای پارک کنار خیابون زیاده", "fa", ""), ("تو خیابون راحت پارک کردم", "fa", ""),
    ("الطلب تأخر ساعتين", "ar", "delivery"), ("پیک خیلی دیر رسید", "fa", "delivery"),
    ("الأكل وصل بارد ومتأخر", "ar", "delivery"), ("سفارشم یک ساعت دیر اومد", "fa", "delivery"),
    ("الموظف كان محترم", "ar", ""), ("غذا خیلی خوشمزه بود", "fa", ""), ("الأسعار مناسبة", "ar", ""),
    ("کیفیت غذا عالی بود", "fa", ""), ("التطبيق سهل", "ar", ""), ("پشتیبانی جواب نداد", "fa", ""),
    ("كراج المبنى ما فيه مكان لسيارتي", "ar", "parking"), ("دخلت الكراج ودرت فيه ربع ساعة", "ar", "parking"),
    ("گاراژ ساختمون جای خالی نداشت", "fa", "parking"), ("نگهبان گاراژ نذاشت وارد بشم", "fa", "parking"),
]


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return Classifier.from_pretrained()


def _lexical_probability(classifier: Classifier, texts: list[str], languages: list[str]) -> np.ndarray:
    """The theme head's lexical part (TF-IDF) per text and theme."""
    x_tfidf, _ = classifier.features(texts, languages)
    head = classifier.themes
    assert head is not None and head.lexical is not None
    return sigmoid(head.lexical.logits(x_tfidf))


@pytest.mark.slow
@pytest.mark.parametrize("language, text", [("ar", "الكراج صغير ويزدحم"), ("fa", "گاراژ کوچیکه و جا نداره")])
def test_a_fitted_theme_learns_the_words_of_its_labelled_texts(shipped, language, text):
    """The labelled texts' words score better out of fold than the seeds' here, so they replace them."""
    taxonomy = Taxonomy((PARKING, DELIVERY), "mine.yaml")
    texts, languages, labels = (list(c) for c in zip(*LABELLED))
    result = fit_themes(shipped, taxonomy, texts, languages, labels)
    assert result.fitted[0] == "parking"
    j = taxonomy.ids.index("parking")
    before = _lexical_probability(shipped.with_taxonomy(taxonomy), [text], [language])[0, j]
    after = _lexical_probability(result.classifier, [text], [language])[0, j]
    assert after > before + 0.1, (before, after)  # "garage" is evidence now; the seeds never had it
    assert result.classifier.themes.lex_weight[j] == pytest.approx(FIT_LEX_WEIGHT)
    unrelated = _lexical_probability(result.classifier, ["الأكل كان لذيذ"], ["ar"])[0, j]
    assert unrelated < after


def test_the_fit_method_is_part_of_the_fitted_model_version():
    version = fitted_model_version("m+zs2+themes-c8c6d9a30eeb", ["late"], ["delivery"])
    assert f"+fit{FEW_SHOT_METHOD}-" in version and version.endswith("+themes-c8c6d9a30eeb")
    assert fitted_model_version(version, ["late"], ["delivery"]) == version  # fitting again replaces, never stacks
    older = version.replace(f"+fit{FEW_SHOT_METHOD}-", "+fit-")  # the same labels fitted by method 1
    assert older != version and fitted_model_version(older, ["late"], ["delivery"]) == version


@pytest.mark.slow
def test_a_fitted_artifact_keeps_the_plain_encoders_evidence(shipped, tmp_path):
    """A fit keeps the zero-shot score it blends with (both encoders): saved and loaded again, the artifact reads
    the plain vectors too, and its scores are the fitted classifier's, for a fitted theme and a zero-shot one."""
    valet = Theme("valet", {"ar": "خدمة صف السيارات", "en": "Valet parking"}, seeds={"ar": ["الفاليه تأخر بالسيارة"]})
    taxonomy = Taxonomy((PARKING, DELIVERY, valet), "mine.yaml")
    texts, languages, labels = (list(c) for c in zip(*LABELLED))
    result = fit_themes(shipped, taxonomy, texts, languages, labels)
    fitted = result.classifier
    assert result.fitted == ["parking"] and "valet" in result.zero_shot
    assert fitted.reads_plain and fitted.themes.plain.columns.tolist() == [0, 2]  # the two themes new to the model
    loaded = Classifier.from_pretrained(fitted.save_pretrained(tmp_path / "mine"))
    assert loaded.reads_plain and loaded.encoder_version == fitted.encoder_version != shipped.encoder_version
    probe = ["الكراج صغير ويزدحم", "الفاليه خدش سيارتي", "پیک خیلی دیر رسید"]
    x_tfidf, x = fitted.features(probe, ["ar", "ar", "fa"])
    again_tfidf, again = loaded.features(probe, ["ar", "ar", "fa"])
    assert x.shape[1] == 2 * fitted.encoder.dim and np.array_equal(x, again)
    scores = fitted.themes.predict_proba(x, x_tfidf)
    assert np.abs(scores - loaded.themes.predict_proba(again, again_tfidf)).max() < 5e-3
    wifi = Theme("wifi", {"ar": "الواي فاي", "en": "Wi-Fi"})  # the team adds a theme after the fit
    edited = fitted.with_taxonomy(Taxonomy((PARKING, DELIVERY, valet, wifi), "edited.yaml"))
    assert edited.themes.plain.columns.tolist() == [0, 2, 3]  # the fitted and zero-shot themes keep their evidence
    edited_tfidf, edited_x = edited.features(probe, ["ar", "ar", "fa"])
    assert np.array_equal(edited_x, x)
    assert np.abs(edited.themes.predict_proba(x, edited_tfidf)[:, :3] - scores).max() < 1e-6
