"""Classifier heads, artifact round trips, zero-shot themes, evaluation and the CLI (real encoder)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

# Our own labelled sentences (never taken from a public dataset).
LABELLED = [
    ("الطلب وصل متأخر أسبوع كامل", "ar", "negative", ["delivery"]),
    ("المندوب ما رد على الجوال والشحنة ضاعت", "ar", "negative", ["delivery"]),
    ("السعر غالي جداً مقارنة بالجودة", "ar", "negative", ["price"]),
    ("الإنترنت يقطع كل ساعة وما في تغطية", "ar", "negative", ["network"]),
    ("خدمة العملاء سيئة وما حد يرد", "ar", "negative", ["service"]),
    ("المنتج وصل مكسور والتغليف رديء", "ar", "negative", ["packaging", "quality"]),
    ("خصموا مبلغ من الفاتورة بدون سبب", "ar", "negative", ["billing"]),
    ("التطبيق يعلق ولا أقدر أدفع", "ar", "negative", ["app"]),
    ("سفارشم یک هفته دیر رسید", "fa", "negative", ["delivery"]),
    ("پیک اصلا زنگ نزد و بسته گم شد", "fa", "negative", ["delivery"]),
    ("قیمت‌ها خیلی گرونه و ارزش نداره", "fa", "negative", ["price"]),
    ("اینترنت مدام قطع میشه و آنتن نمیده", "fa", "negative", ["network"]),
    ("پشتیبانی جواب نمیده و بی‌ادب بودن", "fa", "negative", ["service"]),
    ("قبض این ماه اشتباه حساب شده", "fa", "negative", ["billing"]),
    ("التوصيل سريع والمنتج ممتاز", "ar", "positive", ["delivery", "quality"]),
    ("الموظف كان محترم وحل مشكلتي بسرعة", "ar", "positive", ["service"]),
    ("السعر مناسب والعرض حلو", "ar", "positive", ["price"]),
    ("الشبكة قوية والسرعة ممتازة", "ar", "positive", ["network", "speed"]),
    ("التطبيق سهل وسريع", "ar", "positive", ["app"]),
    ("جودة عالية وأنصح فيه", "ar", "positive", ["quality"]),
    ("ارسال خیلی سریع بود، ممنون", "fa", "positive", ["delivery"]),
    ("کیفیت محصول عالی بود", "fa", "positive", ["quality"]),
    ("پشتیبانی خیلی مودب و سریع جواب داد", "fa", "positive", ["service"]),
    ("قیمتش مناسب بود و تخفیف خوبی داشت", "fa", "positive", ["price"]),
    ("اپلیکیشن جدید خیلی راحته", "fa", "positive", ["app"]),
    ("سرعت اینترنت عالی شده", "fa", "positive", ["network", "speed"]),
    ("بسته‌بندی تمیز و مرتب بود", "fa", "positive", ["packaging"]),
    ("طلبت شريحة جديدة", "ar", "neutral", []),
    ("متى يفتح الفرع يوم الجمعة؟", "ar", "neutral", []),
    ("أبغى أغير الباقة للشهر الجاي", "ar", "neutral", []),
    ("وصلني الطلب اليوم", "ar", "neutral", ["delivery"]),
    ("كم سعر الباقة الشهرية؟", "ar", "neutral", ["price"]),
    ("ساعت کاری شعبه چنده؟", "fa", "neutral", []),
    ("می‌خوام بسته اینترنتم رو عوض کنم", "fa", "neutral", []),
    ("سفارش امروز تحویل شد", "fa", "neutral", ["delivery"]),
    ("قیمت این گوشی چنده؟", "fa", "neutral", ["price"]),
    ("شماره پیگیری رو برام بفرستید", "fa", "neutral", []),
    ("برنامه را به‌روزرسانی کردم", "fa", "neutral", ["app"]),
]


@pytest.fixture(scope="module")
def encoder(cache: Path):
    from sada.models.encoder import Encoder

    return Encoder.from_pretrained(None, cache_dir=cache)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "mine.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, (text, lang, label, themes) in enumerate(LABELLED):
            row = {"id": f"t{i}", "text": text, "language": lang, "label": label, "themes": themes}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(encoder, data_file: Path, cache: Path):
    from sada.models.training import train

    return train(data_files=[data_file], corpus=None, encoder=encoder, cache_dir=cache, seed=7)


def test_predict_returns_complete_predictions(trained) -> None:
    clf = trained.classifier
    preds = clf.predict(["الطلب تأخر أسبوعين وما حد رد علي", "غذا عالی بود، ممنون"], ["ar", "fa"])
    assert [p.sentiment for p in preds] == ["negative", "positive"]
    for p in preds:
        assert set(p.sentiment_probs) == {"negative", "neutral", "positive"}
        assert abs(sum(p.sentiment_probs.values()) - 1) < 1e-3
        assert set(p.theme_sentiment) == set(p.themes)
        assert p.model_version == clf.model_version and p.model_version.startswith("sada-")
    assert preds[0].is_complaint and not preds[1].is_complaint
    assert "delivery" in preds[0].themes


def test_predict_empty_and_mismatched_inputs(trained) -> None:
    from sada.pipeline.errors import InputError

    clf = trained.classifier
    assert clf.predict([], []) == []
    with pytest.raises(InputError):
        clf.predict(["نص"], [])


def test_training_is_deterministic(encoder, data_file: Path, cache: Path, trained) -> None:
    from sada.models.training import train

    again = train(data_files=[data_file], corpus=None, encoder=encoder, cache_dir=cache, seed=7)
    a, b = trained.classifier, again.classifier
    assert np.array_equal(a.sentiment.stack.weight, b.sentiment.stack.weight)
    assert np.array_equal(a.themes.supervised.weight, b.themes.supervised.weight)


def test_save_and_load_round_trip_without_pickle(trained, encoder, tmp_path: Path) -> None:
    from sada.models.classifier import Classifier

    clf = trained.classifier
    out = clf.save_pretrained(tmp_path / "artifact", "# card\n")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "vocab.json", "weights.safetensors"]
    loaded = Classifier.from_pretrained(out, encoder=encoder)
    written = (out / "config.json").read_text(encoding="utf-8")
    assert loaded.config == clf.config and loaded.config.to_json() == written  # the same bytes again
    assert list(json.loads(written))[:7] == ["model_name", "labels", "tfidf_input", "encoder_input", "quantize",
                                             "seed", "encoder"]  # the order sada train has always written
    assert list(json.loads(written))[-4:] == ["trained", "training_data", "training_classes", "theme_ids"]
    texts, langs = ["الشبكة ضعيفة جداً", "ارسال سریع بود ولی غذا سرد بود"], ["ar", "fa"]
    again, first = loaded.predict(texts, langs), clf.predict(texts, langs)
    assert again == first  # every field but the vector, which is compared on its own
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(again, first))


def test_missing_artifact_is_a_clear_error(tmp_path: Path) -> None:
    from sada.models.classifier import Classifier
    from sada.pipeline.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="no classifier artifact"):
        Classifier.from_pretrained(tmp_path / "nowhere")


def test_new_theme_works_zero_shot(encoder, cache: Path) -> None:
    from sada.models.theme_training import build_theme_head
    from sada.pipeline.taxonomy import Theme

    themes = [
        Theme("delivery", {"ar": "التوصيل", "fa": "ارسال", "en": "Delivery"},
              {"ar": "تأخر الطلب", "fa": "تأخیر سفارش", "en": "late orders"},
              {"ar": ["الطلب تأخر"], "fa": ["سفارش دیر رسید"], "en": ["late delivery"]}),
        Theme("parking", {"ar": "مواقف السيارات", "fa": "پارکینگ", "en": "Parking"},
              {"ar": "لا توجد مواقف عند الفرع", "fa": "جای پارک نزدیک شعبه نیست", "en": "No parking near the branch"},
              {"ar": ["ما في مواقف", "المواقف زحمة"], "fa": ["جای پارک پیدا نکردم", "پارکینگ نداره"],
               "en": ["no parking spaces"]}),
    ]
    head = build_theme_head(encoder, themes, cache_dir=cache)
    x = encoder.encode(["ما لقيت موقف للسيارة عند الفرع ودرت ساعة", "جای پارک جلوی فروشگاه نبود"])
    p = head.predict_proba(x)
    assert (p.argmax(axis=1) == 1).all()


def test_labelled_examples_change_theme_scores(trained) -> None:
    head = trained.classifier.themes
    assert head.supervised is not None and head.sup_weight.max() > 0


def test_evaluate_two_class_file(trained, tmp_path: Path) -> None:
    from sada.models.evaluation import evaluate_file

    path = tmp_path / "two.csv"
    path.write_text("id,text,label\n1,الخدمة ممتازة وسريعة,positive\n2,أسوأ تجربة والطلب ما وصل,negative\n"
                    "3,سفارش خیلی دیر رسید و سرد بود,negative\n4,همه چیز عالی بود,positive\n", encoding="utf-8")
    res = evaluate_file(trained.classifier, path)
    assert set(res["per_class_f1"]) == {"negative", "positive"}
    assert res["n"] == 4 and res["accuracy"] >= 0.75 and res["items_per_second"] > 0


def test_cli_evaluate_json(trained, cache: Path, tmp_path: Path, monkeypatch) -> None:
    from click.testing import CliRunner

    from sada.cli import main

    trained.classifier.save_pretrained(tmp_path / "artifact")
    data = tmp_path / "eval.csv"
    data.write_text("id,text,label\n1,التوصيل سريع والمنتج ممتاز,positive\n2,پیک خیلی دیر اومد,negative\n",
                    encoding="utf-8")
    monkeypatch.setenv("SADA_CACHE_DIR", str(cache))
    result = CliRunner().invoke(main, ["evaluate", "--data", str(data), "--model", str(tmp_path / "artifact"),
                                       "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {"accuracy", "macro_f1", "n", "items_per_second"} <= set(out) and out["n"] == 2


@pytest.mark.parametrize("args, expect", [
    (["--datasets", "{tmp}"], 0),                         # every public test set of the folder (here: the held-out fifth)
    ([], 2),                                              # neither --data nor --datasets: a usage error
    (["--datasets", "{tmp}", "--data", "{tmp}/x.csv"], 2),  # both: a usage error
])
def test_cli_evaluate_datasets(trained, cache: Path, tmp_path: Path, monkeypatch, args: list[str], expect: int) -> None:
    import pandas as pd
    from click.testing import CliRunner

    from sada.cli import main
    from sada.models.data import ARSARCASM
    from sada.models.evaluation import HELD_OUT_NAME

    trained.classifier.save_pretrained(tmp_path / "artifact")
    rows = [(f"arsarcasm-training-{i}", t, label) for i, (t, lang, label, _) in enumerate(LABELLED) if lang == "ar"]
    pd.DataFrame(rows, columns=["id", "text", "label"]).to_csv(tmp_path / ARSARCASM, index=False)
    monkeypatch.setenv("SADA_CACHE_DIR", str(cache))
    result = CliRunner().invoke(main, ["evaluate", "--model", str(tmp_path / "artifact"), "--json",
                                       *[a.format(tmp=tmp_path) for a in args]])
    assert result.exit_code == expect, result.output
    if expect == 0:
        assert [r["file"] for r in json.loads(result.output)] == [HELD_OUT_NAME]
    else:
        assert "expected --data FILE or --datasets DIR" in result.output


def test_default_artifact_on_shared_snappfood(cache: Path, shared_datasets: Path) -> None:
    from sada.models.classifier import DEFAULT_ARTIFACT, Classifier
    from sada.models.evaluation import evaluate_file

    root = shared_datasets
    if not (root / "fa_snappfood_test.csv").is_file():
        pytest.skip("../shared/datasets/fa_snappfood_test.csv is not available (fresh clone)")
    if not (DEFAULT_ARTIFACT / "config.json").is_file():
        pytest.skip("no committed default artifact in models/default")
    import pandas as pd

    sample = pd.read_csv(root / "fa_snappfood_test.csv").sample(n=200, random_state=0)
    path = Path(str(cache)) / "snappfood_sample.csv"
    sample.to_csv(path, index=False)
    res = evaluate_file(Classifier.from_pretrained(cache_dir=cache), path)
    assert res["accuracy"] >= 0.8


# Our own reviews of very different lengths (1 to ~60 tokens), Arabic and Persian, to mix into batches.
MIXED_LENGTHS = [
    "زفت",
    "عالی بود",
    "الطلب وصل بارد والمندوب تأخر ساعة كاملة عن الموعد",
    "پیک خیلی مودب بود ولی غذا سرد رسید و نوشابه هم نداشت",
    "الموظفين في الفرع محترمين بس الزحمة كبيرة والمكان ضيق ومافي مواقف للسيارات أبداً، انتظرت ساعة "
    "كاملة عشان أحدث بياناتي والتطبيق ما يشتغل من أسبوع",
    "قیمت بسته‌های اینترنت هر ماه بالاتر میره، آنتن‌دهی تو خونه ضعیفه و پشتیبانی هم جواب درستی نمیده. "
    "اگه همین‌طوری پیش بره اپراتورم رو عوض می‌کنم",
    "سؤال: هل عندكم جلسات عائلية؟",
    "اپ بانک بعد از آپدیت باز نمیشه 😡😡",
]


def _shuffled_predictions(clf, texts: list[str], langs: list[str], batch_size: int, seed: int) -> list:
    """Predictions for ``texts`` classified in a shuffled order with ``batch_size``, back in input order."""
    order = np.random.default_rng(seed).permutation(len(texts))
    preds = clf.predict([texts[i] for i in order], [langs[i] for i in order], batch_size=batch_size)
    out = [None] * len(texts)
    for k, i in enumerate(order):
        out[i] = preds[k]
    return out


#: A theme the shipped model was never trained on (this project's own writing): zero-shot, read by both encoders.
VALET = {"id": "valet", "names": {"ar": "خدمة صف السيارات", "fa": "پارک خودرو توسط کارکنان", "en": "Valet parking"},
         "seeds": {"ar": ["الفاليه تأخر بالسيارة", "موظف المواقف خدش السيارة"], "fa": ["ماشینمو دیر آوردن"]}}


@pytest.mark.parametrize("zero_shot", [False, True], ids=["shipped themes", "a zero-shot theme"])
def test_predictions_do_not_depend_on_batch_neighbours(cache: Path, tmp_path: Path, zero_shot: bool) -> None:
    """The shipped model (precision as its config says): same item, same result, whatever its batch; with the
    shipped themes it reads its fine-tuned vectors only, and with a zero-shot theme the plain encoder's too."""
    import yaml

    from sada.models.classifier import DEFAULT_ARTIFACT, Classifier
    from sada.pipeline.taxonomy import default_taxonomy_path, load_taxonomy

    if not (DEFAULT_ARTIFACT / "config.json").is_file():
        pytest.skip("no committed default artifact in models/default")
    clf = Classifier.from_pretrained(cache_dir=cache)
    if zero_shot:
        shipped = yaml.safe_load(default_taxonomy_path().read_text(encoding="utf-8"))["themes"]
        themes = tmp_path / "themes.yaml"
        themes.write_text(yaml.safe_dump({"themes": [*shipped, VALET]}, allow_unicode=True), encoding="utf-8")
        clf = clf.with_taxonomy(load_taxonomy(themes))
    assert clf.reads_plain == zero_shot
    texts = [t for t, *_ in LABELLED] + MIXED_LENGTHS
    langs = [lang for _, lang, *_ in LABELLED] + ["ar", "ar", "ar", "fa", "ar", "fa", "ar", "fa"]
    reference = clf.predict(texts, langs)
    assert len(reference[0].vector) == clf.encoder.dim * (2 if zero_shot else 1)
    for batch_size, seed in ((5, 1), (1, 2), (64, 3)):
        again = _shuffled_predictions(clf, texts, langs, batch_size, seed)
        for text, a, b in zip(texts, reference, again):
            assert a.sentiment == b.sentiment, (batch_size, text)
            assert set(a.themes) == set(b.themes), (batch_size, text)
            assert a.theme_sentiment == b.theme_sentiment and a.is_complaint == b.is_complaint, (batch_size, text)
            for label, p in a.sentiment_probs.items():
                assert abs(p - b.sentiment_probs[label]) <= 1e-4, (batch_size, text, label)
            for theme, p in a.themes.items():
                assert abs(p - b.themes[theme]) <= 1e-4, (batch_size, text, theme)


def test_int8_encoder_is_row_wise_and_close_to_fp32(encoder, cache: Path) -> None:
    """Per-row int8: a text's vector is the same alone or in any batch, and close to fp32."""
    from sada.models.encoder import Encoder

    int8 = Encoder.from_pretrained(None, cache_dir=cache, quantize=True)
    texts = [t for t, *_ in LABELLED] + MIXED_LENGTHS
    together = int8.encode(texts, batch_size=16)
    alone = np.stack([int8.encode([t])[0] for t in texts])
    assert np.abs(together - alone).max() <= 1e-6
    cos = (together * encoder.encode(texts)).sum(axis=1)
    assert cos.min() >= 0.995, cos.min()


def test_thresholds_are_chosen_per_theme_on_held_out_predictions() -> None:
    from sada.models.metrics import theme_prf
    from sada.models.thresholds import choose_thresholds

    rng = np.random.default_rng(0)
    n = 400
    truth = np.zeros((n, 3), dtype=int)
    truth[:100, 0] = 1   # theme a: positives score 0.30-0.40, negatives 0.00-0.20
    truth[:60, 1] = 1    # theme b: positives score 0.80-0.95, negatives 0.00-0.70
    truth[:3, 2] = 1     # theme c: too few positives for a threshold of its own
    probs = np.zeros((n, 3))
    probs[:, 0] = np.where(truth[:, 0] == 1, rng.uniform(0.30, 0.40, n), rng.uniform(0.0, 0.20, n))
    probs[:, 1] = np.where(truth[:, 1] == 1, rng.uniform(0.80, 0.95, n), rng.uniform(0.0, 0.70, n))
    probs[:, 2] = rng.uniform(0, 1, n)
    mask = np.ones_like(truth, dtype=bool)
    mask[200:, 1] = False  # theme b judged on half the items only
    thresholds, info = choose_thresholds(probs, truth, mask, ["a", "b", "c"])
    assert 0.20 < thresholds["a"] <= 0.30 and 0.70 < thresholds["b"] <= 0.80
    assert info["themes"]["c"]["source"] == "pooled" and thresholds["c"] == info["pooled_threshold"]
    assert info["themes"]["b"]["held_out_known"] == 200
    cut = np.array([thresholds[t] for t in "abc"])
    prf = theme_prf(probs >= cut, truth, mask, ["a", "b", "c"])
    assert prf["a"]["f1"] == 1.0 and prf["b"]["f1"] == 1.0 and prf["a"]["support"] == 100


def test_config_thresholds_decide_detection(trained) -> None:
    clf = trained.classifier
    text, lang = "الطلب تأخر أسبوعين وما حد رد علي", "ar"
    assert "delivery" in clf.predict([text], [lang])[0].themes
    saved = clf.config
    try:
        clf.config = replace(saved, theme_thresholds={"delivery": 1.01})
        assert "delivery" not in clf.predict([text], [lang])[0].themes
        assert clf.theme_thresholds[clf.theme_ids.index("delivery")] == np.float32(1.01)
    finally:
        clf.config = saved


def test_evaluate_themes_reports_precision_and_recall(trained, tmp_path: Path) -> None:
    from sada.models.evaluation import evaluate_file

    path = tmp_path / "themes.csv"
    path.write_text("id,text,label,themes\n1,الطلب تأخر أسبوعين وما حد رد علي,negative,delivery:negative\n"
                    "2,قیمت‌ها خیلی گرونه و ارزش نداره,negative,price\n3,شكراً,positive,\n", encoding="utf-8")
    res = evaluate_file(trained.classifier, path, "themes")
    assert res["n"] == 3 and set(res["per_theme"]) == {"delivery", "price"}
    for theme in ("delivery", "price"):
        row = res["per_theme"][theme]
        assert {"precision", "recall", "f1", "support"} <= set(row) and row["support"] == 1
        assert row["recall"] == 1.0, (theme, row)
    assert 0 < res["micro_precision"] <= 1 and res["micro_recall"] == 1.0


def test_finetune_overlay_round_trip(data_file: Path, cache: Path, tmp_path: Path) -> None:
    from safetensors import safe_open

    from sada.models.classifier import Classifier
    from sada.models.finetune import OVERLAY_FILE, finetune_encoder
    from sada.models.training import train

    out = tmp_path / "tuned"
    enc, _, info = finetune_encoder(data_files=[data_file], corpus=None, seed=1, epochs=1,
                                    encoder_path=None, out=out, max_steps=2, batch_size=8, top_layers=1,
                                    cache_dir=cache)
    assert (out / OVERLAY_FILE).stat().st_size < 4_000_000
    with safe_open(str(out / OVERLAY_FILE), framework="numpy") as f:
        keys = list(f.keys())
    # only the top layer (11 of e5-small's 0-11) is trained and shipped
    assert keys and all(k.startswith("encoder.layer.11.") for k in keys), keys[:3]
    assert info["steps"] == 2 and info["top_layers"] == 1 and info["rows"] <= len(LABELLED)
    result = train(data_files=[data_file], corpus=None, encoder=enc, cache_dir=cache)
    clf = result.classifier
    assert clf.config.finetune.as_dict() == info  # the facts travel inside the overlay
    clf.save_pretrained(out)
    loaded = Classifier.from_pretrained(out, cache_dir=cache, quantize=False)  # as trained, fp32
    assert loaded.encoder.overlay is not None and loaded.encoder.sha256 == enc.sha256
    texts = ["الخدمة ممتازة", "پیک دیر اومد"]
    a = clf.sentiment_proba(texts, ["ar", "fa"])
    b = loaded.sentiment_proba(texts, ["ar", "fa"])
    assert np.allclose(a, b, atol=1e-3)


def test_two_class_sources_do_not_teach_never_neutral() -> None:
    """Partial labels: rows of a two-class source train polarity only, never "not neutral"."""
    from sada.models.heads import SENTIMENTS
    from sada.models.sentiment_training import fit_sentiment_head

    rng = np.random.default_rng(0)
    neg, neu, pos = (SENTIMENTS.index(s) for s in ("negative", "neutral", "positive"))
    # 3-class source: neutral rows near 0 on feature 1, polar rows far from it (sign of feature 0)
    n = 300
    x3 = np.column_stack([rng.choice([-1.0, 1.0], n), rng.normal(0, 0.3, n)])
    y3 = np.where(rng.random(n) < 0.4, neu, np.where(x3[:, 0] > 0, pos, neg))
    x3[y3 == neu, 0] = rng.normal(0, 0.1, (y3 == neu).sum())
    x3[y3 != neu, 1] += 3.0
    # 2-class source: the same neutral-looking region, but labelled only positive/negative
    m = 600
    x2 = np.column_stack([rng.normal(0, 0.1, m), rng.normal(0, 0.3, m)])
    y2 = np.where(x2[:, 0] > 0, pos, neg)
    x = np.vstack([x3, x2])
    y = np.concatenate([y3, y2])
    full = np.concatenate([np.ones(n, bool), np.zeros(m, bool)])
    probe = np.array([[0.0, 0.0], [1.0, 3.0], [-1.0, 3.0]])  # neutral-looking, clearly positive, clearly negative

    fit = fit_sentiment_head(None, x, y, full=full, seed=0)
    partial = fit.head.predict_proba(None, probe)
    naive = fit_sentiment_head(None, x, y, seed=0).head.predict_proba(None, probe)  # every row taken as 3-class
    assert partial[0].argmax() == neu and partial[0, neu] > 0.6, partial[0]
    assert naive[0, neu] < partial[0, neu] - 0.2, (naive[0], partial[0])
    assert partial[1].argmax() == pos and partial[2].argmax() == neg


def test_shared_evaluation_scores_the_held_out_fifth(trained, tmp_path: Path) -> None:
    """evaluate_shared adds ArSarcasm's held-out rows as a 3-class test set, and only those rows."""
    import pandas as pd

    from sada.models.data import ARSARCASM, held_out
    from sada.models.evaluation import HELD_OUT_NAME, evaluate_shared

    rows = [(f"arsarcasm-training-{i}", text, label) for i, (text, lang, label, _) in enumerate(LABELLED)
            if lang == "ar"]
    pd.DataFrame(rows, columns=["id", "text", "label"]).to_csv(tmp_path / ARSARCASM, index=False)
    expected = sum(held_out(i) for i, _, _ in rows)
    assert 0 < expected < len(rows)
    table = evaluate_shared(trained.classifier, tmp_path, int8_too=False)
    assert [r["file"] for r in table] == [HELD_OUT_NAME]
    assert table[0]["n"] == expected and table[0]["task"] == "sentiment"
    assert 0.0 <= table[0]["macro_f1"] <= 1.0 and "baseline_macro_f1" in table[0]


@pytest.mark.parametrize("informative, expect_lexical", [
    (True, True),    # a keyword column names the theme: the lexical head earns a weight
    (False, False),  # the TF-IDF features say nothing: the weight stays 0
])
def test_lexical_theme_weight_is_chosen_on_held_out_predictions(encoder, cache: Path, informative: bool,
                                                                expect_lexical: bool) -> None:
    import scipy.sparse as sp

    from sada.models.theme_training import LEXICAL_WEIGHTS, build_theme_head, calibrate_theme_thresholds
    from sada.pipeline.taxonomy import load_taxonomy

    themes = list(load_taxonomy().themes)
    ids = [t.id for t in themes]
    j = ids.index("billing")
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=(n, encoder.dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # vectors that carry no theme at all
    y = np.zeros((n, len(ids)), dtype=np.int64)
    y[:90, j] = 1
    mask = np.zeros_like(y, dtype=bool)
    mask[:, j] = True
    keyword = y[:, j].astype(float) if informative else np.zeros(n)
    x_tfidf = sp.csr_matrix(np.column_stack([keyword, rng.random((n, 3)) * 0.01]))
    head = build_theme_head(encoder, themes, x, y, mask, seed=0, cache_dir=cache, x_tfidf=x_tfidf)
    cal = calibrate_theme_thresholds(encoder, themes, head, x, y, mask, np.array(["mine"] * n), None, seed=0,
                                     cache_dir=cache, x_tfidf=x_tfidf)
    chosen = cal.calibration["lexical_weight"]
    assert chosen in LEXICAL_WEIGHTS and set(cal.calibration["lexical_weight_scores"]) == {str(w) for w in LEXICAL_WEIGHTS}
    if expect_lexical:
        assert chosen > 0 and cal.cross_validated["mine"]["billing"]["f1"] >= 0.95
        assert cal.head.lex_weight[j] == chosen and cal.head.lex_weight[ids.index("app")] == 0  # app has no labels
    else:
        assert chosen == 0.0 and not cal.head.lex_weight.any()
    assert np.array_equal(cal.head.threshold, np.asarray([cal.thresholds[t] for t in ids], dtype=np.float32))
    assert head.threshold.tolist() == [0.5] * len(ids)  # the head given is left as it was


def test_lexical_theme_head_round_trips(trained, tmp_path: Path) -> None:
    from sada.models.classifier import Classifier

    clf = trained.classifier
    assert clf.themes.lexical is not None and clf.themes.lex_weight.any()
    clf.save_pretrained(tmp_path / "artifact")
    loaded = Classifier.from_pretrained(tmp_path / "artifact", encoder=clf.encoder)
    assert np.array_equal(loaded.themes.lex_weight, clf.themes.lex_weight)
    assert np.array_equal(loaded.themes.lexical.weight, clf.themes.lexical.weight)
    texts, langs = ["قبض این ماه اشتباه حساب شده", "خصموا مبلغ من الفاتورة بدون سبب"], ["fa", "ar"]
    a, b = clf.predict(texts, langs), loaded.predict(texts, langs)
    assert [p.themes for p in a] == [p.themes for p in b]


# Our own sentences with a sentiment and no theme labels (a sentiment-only source).
SENTIMENT_ONLY = [("المطعم نظيف والأكل لذيذ", "ar", "positive"), ("الجهاز يسخن بسرعة وصوته عالي", "ar", "negative"),
                  ("گوشی سبک است و باتری خوبی دارد", "fa", "positive"), ("متاسفانه پورت یو اس بی ندارد", "fa", "negative"),
                  ("الفندق قريب من المحطة", "ar", "neutral"), ("این لپ تاپ دو رنگ دارد", "fa", "neutral")] * 3


def test_sentiment_rows_do_not_move_theme_scores(trained, encoder, cache: Path, data_file: Path, tmp_path: Path) -> None:
    """With ``own_theme_vocabulary`` the theme heads read their own TF-IDF vocabulary, fitted on the theme-labelled rows: rows with a sentiment
    and no theme labels change the sentiment head, not one theme score; the artifact keeps both vocabularies."""
    from sada.models.classifier import Classifier
    from sada.models.training import train

    extra = tmp_path / "sentiment_only.jsonl"
    extra.write_text("".join(json.dumps({"id": f"s{i}", "text": f"{t} {i}", "language": lang, "label": label},
                                        ensure_ascii=False) + "\n" for i, (t, lang, label) in enumerate(SENTIMENT_ONLY)),
                     encoding="utf-8")
    assert trained.classifier.theme_tfidf is None  # the default: one vocabulary, as the shipped model
    clf = train(data_files=[data_file], corpus=None, encoder=encoder, cache_dir=cache, seed=7,
                own_theme_vocabulary=True).classifier
    more = train(data_files=[data_file, extra], corpus=None, encoder=encoder, cache_dir=cache, seed=7,
                 own_theme_vocabulary=True).classifier
    assert more.config.training_options.theme_vocabulary == "own"
    assert more.tfidf.n_features > clf.tfidf.n_features                  # the sentiment vocabulary grew
    assert more.theme_tfidf.n_features == clf.theme_tfidf.n_features < more.tfidf.n_features
    texts, langs = [t for t, *_ in LABELLED[:8]] + ["الجهاز يسخن والخدمة سيئة"], ["ar"] * 9
    def scores(c: Classifier) -> np.ndarray:
        x_tfidf, x = c.features(texts, langs)
        return c.themes.predict_proba(x, x_tfidf)

    assert np.array_equal(scores(clf), scores(more)) and np.array_equal(clf.theme_thresholds, more.theme_thresholds)
    assert not np.allclose(clf.sentiment_proba(texts, langs), more.sentiment_proba(texts, langs))
    more.save_pretrained(tmp_path / "artifact")
    assert (tmp_path / "artifact" / "vocab_themes.json").is_file()
    loaded = Classifier.from_pretrained(tmp_path / "artifact", encoder=encoder)
    assert loaded.theme_tfidf.n_features == more.theme_tfidf.n_features
    # the weights are stored as float32 (the trained heads hold float64): probabilities agree to about 1e-4
    assert np.allclose(scores(loaded), scores(more), atol=1e-3)
    detected = [sorted(p.themes) for p in loaded.predict(texts, langs)]
    assert detected == [sorted(p.themes) for p in more.predict(texts, langs)]


def test_an_artifact_with_one_vocabulary_still_loads_and_detects_themes(cache: Path) -> None:
    """Artifacts written before the theme heads had their own vocabulary (the default model, custom ones from
    sada themes fit) keep reading the one vocabulary for both."""
    from sada.models.classifier import Classifier

    clf = Classifier.from_pretrained(None)
    assert clf.theme_tfidf is None and clf.themes_tfidf is clf.tfidf
    assert clf.themes.lexical.weight.shape[1] == clf.tfidf.n_features
    found = clf.predict(["پیک خیلی دیر رسید و غذا سرد بود"], ["fa"])[0]
    assert "delivery" in found.themes


def test_sentence_probe_is_scored_and_written_into_the_model_card(trained) -> None:
    """The checkout's sentence probe is a 3-class test set of the model card (never a training file)."""
    import pandas as pd

    from sada.models.evaluation import evaluate_sentence_probe
    from sada.models.model_card import model_card

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "sentence_probe.csv"
    probe = pd.read_csv(path)
    assert evaluate_sentence_probe(trained.classifier, None) == []  # no probe given: none scored
    rows = evaluate_sentence_probe(trained.classifier, path)
    assert len(rows) == 1 and rows[0]["file"] == "sentence probe" and rows[0]["n"] == len(probe)
    assert set(rows[0]["per_class_f1"]) == {"negative", "neutral", "positive"}
    card = model_card(trained.config, trained.oof, [], [], rows)
    assert f"## Sentence probe ({path}, never trained on" in card and f"n {len(probe)}." in card


@pytest.mark.parametrize("card, sha, kept", [
    # the benchmark's section survives a retrain of the heads on the same encoder
    ("# m\n\n## Limits\n\n- x\n\n## Speed, memory\n\n| a | 153.9 |\n", "e5", "## Speed, memory\n\n| a | 153.9 |\n"),
    # another encoder: its speed was never measured, so the old figures go
    ("# m\n\n## Speed, memory\n\n| a | 153.9 |\n", "other", ""),
    # a card without a speed section keeps none
    ("# m\n\n## Limits\n\n- x\n", "e5", ""),
])
def test_speed_section_is_kept_only_for_the_same_encoder(tmp_path: Path, card: str, sha: str, kept: str) -> None:
    from sada.models.model_card import measured_speed_section

    (tmp_path / "README.md").write_text(card, encoding="utf-8")
    (tmp_path / "config.json").write_text(json.dumps({"encoder": {"sha256": "e5"}}), encoding="utf-8")
    assert measured_speed_section(tmp_path, sha) == kept
    assert measured_speed_section(tmp_path / "missing", "e5") == ""
