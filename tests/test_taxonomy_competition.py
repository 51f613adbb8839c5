"""Competition: a zero-shot theme (one the classifier has no labelled example of) is detected on an item only
where it scores near the item's best theme (``ThemeHead.compete``, models/taxonomy_head.py), so a theme the
team only named does not fire on every item that is about something else; trained themes are untouched, and
a saved artifact decides as the classifier it was saved from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sada.models.heads import ThemeHead
from sada.models.taxonomy_head import COMPETE_RATIO
from sada.pipeline.taxonomy import Taxonomy, Theme

#: A theme the shipped model was never trained on (this project's own writing), and a shipped one.
PARKING = Theme("parking", {"ar": "مواقف السيارات", "fa": "پارکینگ", "en": "Parking"},
                {"ar": "لا توجد مواقف للسيارات قرب الفرع", "fa": "جای پارک نزدیک شعبه نیست"},
                {"ar": ["ما في مواقف", "ما لقيت مكان أوقف السيارة"],
                 "fa": ["جای پارک پیدا نکردم", "پارکینگ نداره"]})
DELIVERY = Theme("delivery", {"en": "Delivery"})


def _head(ratio: float = 0.8) -> ThemeHead:
    """Two columns: a trained theme (0) and a zero-shot one (1) that competes."""
    return ThemeHead(["delivery", "parking"], np.eye(2, dtype=np.float32), np.arange(2),
                     threshold=np.asarray([0.45, 0.5], np.float32), competing=np.asarray([1]), compete_ratio=ratio)


def test_a_zero_shot_theme_loses_to_a_strong_theme_and_fires_alone():
    p = np.asarray([[0.95, 0.60],    # a strong trained theme on the item: the zero-shot one loses
                    [0.20, 0.60],    # alone on the item: it fires
                    [0.95, 0.90],    # near the best: it fires too
                    [0.30, 0.40]])   # below its threshold anyway: stays below
    head = _head()
    out = head.compete(p)
    detected = out >= head.threshold[None, :]
    assert detected[:, 1].tolist() == [False, True, True, False]
    assert np.array_equal(out[:, 0], p[:, 0])  # the trained column is never touched
    assert out[1, 1] == p[1, 1] and out[2, 1] == p[2, 1]  # a column that wins keeps its probability
    assert out[0, 1] < head.threshold[1] and out[0, 1] <= p[0, 1]
    # per item: the same rows in other batches, alone or reversed, decide the same
    assert all(np.array_equal(head.compete(p[i:i + 1])[0], out[i]) for i in range(len(p)))
    assert np.array_equal(head.compete(p[::-1]), out[::-1])
    assert np.array_equal(head.compete(p, 0.0), p)  # ratio 0: no competition


def test_a_losing_column_keeps_its_order_between_items():
    """Suppressed scores still rank items (the labelling sheet picks uncertain items by them)."""
    p = np.asarray([[0.95, 0.40], [0.95, 0.55], [0.95, 0.70]])
    out = _head().compete(p)[:, 1]
    assert (out < 0.5).all() and out[0] < out[1] < out[2]


def test_competition_is_stored_with_the_head_and_absent_from_trained_heads():
    head = _head(float(np.float32(0.7)))
    arrays = head.to_arrays()
    again = ThemeHead.from_arrays(arrays, head.theme_ids)
    assert again.competing.tolist() == [1] and again.compete_ratio == head.compete_ratio
    p = np.asarray([[0.9, 0.6], [0.9, 0.65], [0.2, 0.6]])
    assert np.array_equal(again.compete(p), head.compete(p))
    trained = ThemeHead(["delivery"], np.eye(1, dtype=np.float32), np.zeros(1, np.int64))
    assert not any("compet" in k for k in trained.to_arrays())  # heads saved before the rule load as they were
    assert len(ThemeHead.from_arrays(trained.to_arrays(), ["delivery"]).competing) == 0


@pytest.mark.slow
def test_an_adapted_classifier_competes_only_on_new_themes_and_saves_it(tmp_path: Path):
    from sada.models.classifier import Classifier, load_classifier
    from sada.pipeline.taxonomy import default_taxonomy_path

    shipped = load_classifier(themes=default_taxonomy_path())
    assert len(shipped.themes.competing) == 0  # the shipped themes never compete
    mine = shipped.with_taxonomy(Taxonomy((PARKING, DELIVERY), "mine.yaml"))
    assert mine.themes.competing.tolist() == [0] and mine.themes.compete_ratio == pytest.approx(COMPETE_RATIO)
    texts = ["ما لقيت موقف للسيارة عند الفرع ودرت نص ساعة", "الطلب تأخر ساعتين ووصل بارد",
             "جای پارک جلوی رستوران نبود", "پیک خیلی دیر رسید و غذا سرد بود", "المندوب تأخر لأنه ما لقى موقف"]
    languages = ["ar", "ar", "fa", "fa", "ar"]
    x_tfidf, x = mine.features(texts, languages)
    before = mine.themes.combine(*mine.themes.parts(x, x_tfidf))
    after = mine.themes.predict_proba(x, x_tfidf)
    assert np.array_equal(after[:, 1], before[:, 1])  # delivery: the shipped head's scores
    predicted = mine.predict(texts, languages)
    for i, prediction in enumerate(predicted):
        assert ("parking" in prediction.themes) == bool(after[i, 0] >= mine.theme_thresholds[0])
        assert ("delivery" in prediction.themes) == bool(before[i, 1] >= mine.theme_thresholds[1])
    assert "parking" in predicted[0].themes and "parking" in predicted[2].themes
    loaded = Classifier.from_pretrained(mine.save_pretrained(tmp_path / "mine"))
    assert loaded.themes.competing.tolist() == [0]
    assert loaded.themes.compete_ratio == mine.themes.compete_ratio
    assert [set(p.themes) for p in loaded.predict(texts, languages)] == [set(p.themes) for p in predicted]
