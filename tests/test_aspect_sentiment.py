"""Sentiment towards a theme or a target term: the focus rule, the trained head's arrays, and the classifier with
and without the head (the shipped model keeps the rule; batch invariance holds with a head)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sada.models.aspect_sentiment import (ARRAY_PREFIX, N_PROB_FEATURES, AspectSentimentHead, aspect_features,
                                          fit_aspect_head, term_focus)
from sada.models.heads import SENTIMENTS

# Our own reviews (never taken from a public dataset): one theme praised, another blamed.
MIXED = [
    ("غذا خیلی خوشمزه بود ولی پیک یک ساعت دیر رسید", "fa"),
    ("الأكل لذيذ جداً لكن التوصيل تأخر ساعتين", "ar"),
    ("قیمتش مناسبه، ولی کیفیت ساختش خیلی ضعیفه", "fa"),
    ("الموظف كان محترم بس الفاتورة فيها مبلغ زيادة", "ar"),
    ("بسته‌بندی تمیز بود اما محصول شکسته رسید", "fa"),
    ("سعر الباقة غالي، لكن الشبكة قوية والسرعة ممتازة", "ar"),
]
CLEAR = [
    ("پیک خیلی سریع رسید، ممنون", "fa"),
    ("التطبيق يعلق كل يوم ولا أقدر أدفع", "ar"),
    ("کیفیت محصول عالی بود", "fa"),
    ("خدمة العملاء سيئة وما حد يرد", "ar"),
]


def test_term_focus_reads_the_clauses_that_name_the_target() -> None:
    text = "دوربینش عالیه، صفحه نمایشش روشنه ولی باتریش زود تموم میشه"
    assert term_focus(text, "باتری") == "ولی باتریش زود تموم میشه"
    assert term_focus(text, "دوربین") == "دوربینش عالیه"
    assert term_focus(text, "قیمت") == text  # not named: the whole text
    assert term_focus(text, "") == text
    both = "الكاميرا ممتازة. البطارية ضعيفة. الكاميرا الأمامية متوسطة"
    assert term_focus(both, "الكاميرا") == "الكاميرا ممتازة الكاميرا الأمامية متوسطة"


def test_aspect_features_are_log_probabilities_flag_and_vector() -> None:
    p_all = np.array([[0.7, 0.2, 0.1], [0.0, 0.0, 1.0]])
    p_focus = np.array([[0.1, 0.1, 0.8], [0.0, 0.0, 1.0]])
    x = aspect_features(p_all, p_focus, np.array([True, False]))
    assert x.shape == (2, N_PROB_FEATURES)
    assert np.allclose(x[0, :3], np.log([0.7, 0.2, 0.1])) and np.allclose(x[0, 3:6], np.log([0.1, 0.1, 0.8]))
    assert x[1, 0] == pytest.approx(np.log(1e-6))  # clipped, never -inf
    assert x[:, 6].tolist() == [1.0, 0.0]
    with_vec = aspect_features(p_all, p_focus, np.array([1, 0]), np.ones((2, 4)))
    assert with_vec.shape == (2, N_PROB_FEATURES + 4)


def _focus_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows where the aspect's label is the focus's sentiment when the focus is a clause, else the overall."""
    rng = np.random.default_rng(seed)
    p_all = rng.dirichlet(np.ones(3) * 0.5, size=n)
    p_focus = rng.dirichlet(np.ones(3) * 0.5, size=n)
    part = rng.random(n) < 0.5
    p_focus[~part] = p_all[~part]
    y = np.where(part, p_focus.argmax(axis=1), p_all.argmax(axis=1))
    return p_all, p_focus, part, y


@pytest.mark.parametrize("dim", [0, 8], ids=["probabilities", "with a vector"])
def test_fitted_head_learns_to_follow_the_focus_and_round_trips(dim: int) -> None:
    p_all, p_focus, part, y = _focus_rows(600, seed=0)
    vec = np.random.default_rng(1).normal(size=(len(y), dim)) if dim else None
    head = fit_aspect_head(aspect_features(p_all, p_focus, part, vec), y, c=3.0)
    assert head.reads_vector == bool(dim)
    t_all, t_focus, t_part, t_y = _focus_rows(400, seed=2)
    t_vec = np.random.default_rng(3).normal(size=(len(t_y), dim)) if dim else None
    proba = head.predict_proba(t_all, t_focus, t_part, t_vec)
    assert proba.shape == (400, 3) and np.allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert (proba.argmax(axis=1) == t_y).mean() > 0.9
    follows_whole = (t_all.argmax(axis=1) == t_y).mean()
    assert (proba.argmax(axis=1) == t_y).mean() > follows_whole + 0.1  # it reads the clause, not only the whole
    arrays = head.to_arrays()
    assert all(k.startswith(ARRAY_PREFIX + ".") for k in arrays)
    again = AspectSentimentHead.from_arrays(arrays)
    assert np.allclose(again.predict_proba(t_all, t_focus, t_part, t_vec), proba, atol=1e-5)
    assert AspectSentimentHead.from_arrays({"sentiment.stack.weight": np.zeros((3, 6))}) is None
    assert head.predict_proba(t_all[:0], t_focus[:0], t_part[:0]).shape == (0, 3)


# --- the classifier (real encoder) -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped(cache: Path):
    from sada.models.classifier import DEFAULT_ARTIFACT, Classifier

    if not (DEFAULT_ARTIFACT / "config.json").is_file():
        pytest.skip("no committed default artifact in models/default")
    return Classifier.from_pretrained(cache_dir=cache)


def _rule_theme_sentiment(clf, text: str, lang: str, theme: str) -> str:
    """Today's rule written out: the overall sentiment, or for an item that is not clear-cut with two or more
    clauses, the sentiment of the clause where the theme scores highest."""
    from sada.models.aspect_sentiment import split_segments

    probs = clf.sentiment_proba([text], [lang])[0]
    segs = split_segments(text)
    if probs.max() >= clf.config.segment_threshold or len(segs) < 2:
        return SENTIMENTS[int(probs.argmax())]
    x_tfidf, x_emb = clf.features(segs, [lang] * len(segs))
    best = int(np.argmax(clf.themes.predict_proba(x_emb, x_tfidf)[:, clf.theme_ids.index(theme)]))
    return SENTIMENTS[int(clf._sentiment(x_tfidf, x_emb)[best].argmax())]


@pytest.mark.slow
def test_shipped_model_keeps_the_rule(shipped) -> None:
    assert shipped.aspect_sentiment is None
    texts, langs = [t for t, _ in MIXED + CLEAR], [lang for _, lang in MIXED + CLEAR]
    preds = shipped.predict(texts, langs)
    checked = 0
    for (text, lang), pred in zip(MIXED + CLEAR, preds):
        assert set(pred.theme_sentiment) == set(pred.themes)
        for theme, label in pred.theme_sentiment.items():
            assert label == _rule_theme_sentiment(shipped, text, lang, theme), (text, theme)
            checked += 1
    assert checked >= len(texts)
    # theme_sentiment_proba gives the same sentiment for a detected theme, and the overall one without a theme
    pairs = [(t, lang, th) for (t, lang), p in zip(MIXED + CLEAR, preds) for th in p.theme_sentiment]
    proba = shipped.theme_sentiment_proba([t for t, _, _ in pairs], [lang for _, lang, _ in pairs],
                                          [th for _, _, th in pairs])
    assert [SENTIMENTS[k] for k in proba.argmax(axis=1)] == [
        p.theme_sentiment[th] for (t, lang), p in zip(MIXED + CLEAR, preds) for th in p.theme_sentiment]
    overall = shipped.theme_sentiment_proba(texts, langs, [None] * len(texts))
    assert np.allclose(overall, shipped.sentiment_proba(texts, langs), atol=1e-6)


@pytest.fixture(scope="module")
def with_head(shipped):
    """The shipped classifier with a head fitted on our own sentences: the label of each (text, theme) pair is
    the sentiment its clause states."""
    from sada.models.classifier import Classifier

    labelled = [("غذا خیلی خوشمزه بود ولی پیک یک ساعت دیر رسید", "fa", "delivery", "negative"),
                ("غذا خیلی خوشمزه بود ولی پیک یک ساعت دیر رسید", "fa", "quality", "positive"),
                ("الأكل لذيذ جداً لكن التوصيل تأخر ساعتين", "ar", "delivery", "negative"),
                ("الأكل لذيذ جداً لكن التوصيل تأخر ساعتين", "ar", "quality", "positive"),
                ("قیمتش مناسبه، ولی کیفیت ساختش خیلی ضعیفه", "fa", "price", "positive"),
                ("قیمتش مناسبه، ولی کیفیت ساختش خیلی ضعیفه", "fa", "quality", "negative"),
                ("الموظف كان محترم بس الفاتورة فيها مبلغ زيادة", "ar", "service", "positive"),
                ("الموظف كان محترم بس الفاتورة فيها مبلغ زيادة", "ar", "billing", "negative"),
                ("پیک خیلی سریع رسید، ممنون", "fa", "delivery", "positive"),
                ("التطبيق يعلق كل يوم ولا أقدر أدفع", "ar", "app", "negative"),
                ("سفارش امروز تحویل شد", "fa", "delivery", "neutral"),
                ("كم سعر الباقة الشهرية؟", "ar", "price", "neutral")]
    texts, langs, themes = ([r[i] for r in labelled] for i in range(3))
    x_tfidf, x_emb = shipped.features(texts, langs)
    probs = shipped._sentiment(x_tfidf, x_emb)
    cols = np.asarray([shipped.theme_ids.index(t) for t in themes])
    p_focus, part, x_focus = shipped.theme_focus(texts, langs, np.arange(len(texts)), cols, probs, x_emb)
    assert part[:8].any() and not part[9:].any()  # mixed two-clause reviews read a clause; one-clause ones cannot
    y = np.asarray([SENTIMENTS.index(r[3]) for r in labelled])
    head = fit_aspect_head(aspect_features(probs, p_focus, part, x_focus), y, c=1.0)
    return Classifier(shipped.encoder, shipped.tfidf, shipped.sentiment, shipped.themes, shipped.config,
                      theme_tfidf=shipped.theme_tfidf, aspect_sentiment=head)


@pytest.mark.slow
def test_head_predictions_do_not_depend_on_the_batch(with_head) -> None:
    texts, langs = [t for t, _ in MIXED + CLEAR], [lang for _, lang in MIXED + CLEAR]
    together = with_head.predict(texts, langs)
    assert any(p.theme_sentiment for p in together)
    order = np.random.default_rng(5).permutation(len(texts))
    shuffled = with_head.predict([texts[i] for i in order], [langs[i] for i in order], batch_size=3)
    alone = [with_head.predict([t], [lang])[0] for t, lang in zip(texts, langs)]
    for k, i in enumerate(order):
        assert shuffled[k].theme_sentiment == together[i].theme_sentiment == alone[i].theme_sentiment, texts[i]
        assert shuffled[k].is_complaint == together[i].is_complaint
    targets = ["پیک", "التوصيل", "کیفیت", "الفاتورة", "بسته‌بندی", "الشبكة", "پیک", "التطبيق", "کیفیت", "خدمة"]
    both = with_head.aspect_sentiment_proba(texts, targets, langs)
    one = np.vstack([with_head.aspect_sentiment_proba([t], [tg], [lang]) for t, tg, lang in zip(texts, targets, langs)])
    assert np.allclose(both, one, atol=1e-4)


@pytest.mark.slow
def test_head_is_saved_in_the_artifact_and_loaded_when_present(with_head, shipped, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    from sada.models.classifier import Classifier

    out = with_head.save_pretrained(tmp_path / "artifact", "# card\n")
    assert any(k.startswith(ARRAY_PREFIX + ".") for k in load_file(str(out / "weights.safetensors")))
    loaded = Classifier.from_pretrained(out, encoder=shipped.encoder)
    assert loaded.aspect_sentiment is not None
    texts, langs = [t for t, _ in MIXED], [lang for _, lang in MIXED]
    assert [p.theme_sentiment for p in loaded.predict(texts, langs)] == [
        p.theme_sentiment for p in with_head.predict(texts, langs)]
    bare = shipped.save_pretrained(tmp_path / "bare", "# card\n")
    assert not any(k.startswith(ARRAY_PREFIX + ".") for k in load_file(str(bare / "weights.safetensors")))
    assert Classifier.from_pretrained(bare, encoder=shipped.encoder).aspect_sentiment is None
