"""The labelling loop's rows: the items worth labelling, their detected themes pre-filled, as the workbook has them."""

from __future__ import annotations

import pytest

from sada.models.labelling import SHOWN_SCORE, labelling_rows, sample_pool

ITEMS = [  # written for this test
    ("ar-1", "ar", "الطلب وصل متأخر ساعتين والأكل بارد"),
    ("ar-2", "ar", "الأسعار غالية جدا مقارنة بالجودة"),
    ("ar-3", "ar", "التطبيق يعلق كل ما أفتح السلة"),
    ("fa-1", "fa", "پیک خیلی دیر رسید و غذا سرد بود"),
    ("fa-2", "fa", "قیمت‌ها نسبت به کیفیت خیلی بالاست"),
    ("fa-3", "fa", "پشتیبانی جواب تلفن را نمی‌دهد"),
]


@pytest.mark.slow
def test_rows_carry_the_detected_themes_and_the_scores_near_them() -> None:
    from sada.models.classifier import load_classifier

    classifier = load_classifier()
    items = [{"feedback_id": f, "language": lang, "raw_text": t} for f, lang, t in ITEMS]
    rows = labelling_rows(classifier, sample_pool(items, 5, seed=1), 3)
    assert len(rows) == 3 and len({r["feedback_id"] for r in rows}) == 3
    by_id = {r["feedback_id"]: r for r in rows}
    texts = [r["text"] for r in rows]
    predictions = classifier.predict(texts, [r["language"] for r in rows])
    for row, prediction in zip(rows, predictions):
        assert row["themes"] == [t for t in classifier.theme_ids if t in prediction.themes]  # the same detection
        assert all(score >= SHOWN_SCORE for score in row["scores"].values())
        assert set(row["themes"]) <= set(row["scores"])  # a detected theme's score is shown
    assert set(by_id) <= {f for f, _, _ in ITEMS}
