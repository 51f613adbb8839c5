"""The CX report (issue 7): numbers, spike alerts, escaping, and the page in headless Chromium.

The store fixture holds hand-written Arabic and Persian reviews (some carrying
``<script>``, HTML tags, bidi control characters and phone numbers), analysis rows
of model version ``test-fixture``, customers and two churn-score snapshots.
Browser tests open the written file in headless Chromium (Debian packages
``chromium`` and ``chromium-driver``) and skip with the reason when either is absent.
Screenshots: one PNG per interface language under pytest's tmp path, copied to
``out/report-screenshots/`` (git-ignored).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sada.pipeline.taxonomy import load_taxonomy
from sada.pipeline.errors import ConfigError
from sada.pipeline.normalise import mask_pii
from sada.pipeline.report import build_report, charts, detect_spikes, parse_period
from sada.pipeline.report.data import load_feedback
from sada.pipeline.report.i18n import Translator
from sada.pipeline.report.reasons import localise_reason
from sada.pipeline.store import Store, churn_scores, customers

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PERIOD = "2026-06"

XSS_SCRIPT = "<script>window.__sadaPwned = 1</script> التطبيق يعلق كل مرة أفتح الطلب، التوصيل متأخر"
XSS_IMG = 'الطلب ما وصل <img src=x onerror="window.__sadaPwned = 2"> والمندوب ما يرد'
XSS_BREAK = '"></p></td></tr></table><h1 id="broken">BROKEN</h1><p> مرسوله سه روز دیر رسید'
BIDI_RLO = "\u202eالشحنة تأخرت 5 أيام order #12345 ولم يتصل أحد"
BIDI_ISOLATE = "\u2067پیک دیر اومد و\u2069 tracking code کار نمی‌کنه \u202d123\u202c"
PHONE = "0551234567"
LONG = "ب" * 700

# (text, language, channel, month, day, customer, sentiment, {theme: theme-level sentiment}, nps)
_BASE = [
    ("التوصيل تأخر يومين والمندوب ما رد على الجوال", "ar", "app", "delivery", "negative"),
    ("الأسعار غالية مقارنة بالمنافسين", "ar", "web", "price", "negative"),
    ("خدمة العملاء ممتازة وحلوا مشكلتي بسرعة", "ar", "call_center", "service", "positive"),
    ("سفارش دیر رسید و پشتیبانی جواب نداد", "fa", "app", "delivery", "negative"),
    ("کیفیت غذا عالی بود، ممنون", "fa", "web", "quality", "positive"),
    ("قیمت‌ها خیلی بالا رفته", "fa", "store", "price", "negative"),
]
_JUNE = [
    (XSS_SCRIPT, "ar", "app", "delivery", "negative"),
    (XSS_IMG, "ar", "app", "delivery", "negative"),
    (BIDI_RLO, "ar", "app", "delivery", "negative"),
    (f"اتصلت على {PHONE} ثلاث مرات والشحنة ما وصلت", "ar", "app", "delivery", "negative"),
    ("وصل الطلب لعنوان غلط للمرة الثانية", "ar", "app", "delivery", "negative"),
    (XSS_BREAK, "fa", "app", "quality", "negative"),
    (BIDI_ISOLATE, "fa", "web", "app", "negative"),
    ("اپلیکیشن جدید خیلی سریع‌تره، دمتون گرم 👏", "fa", "app", "app", "positive"),
    (LONG, "ar", "web", "quality", "negative"),
    ("الأكل وصل حار وطعمه رائع", "ar", "store", "quality", "positive"),
]
MONTHS = ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]


def _fixture_rows() -> list[dict]:
    rows = []
    for m, month in enumerate(MONTHS):
        for i, (text, lang, channel, theme, sent) in enumerate(_BASE):
            rows.append(dict(text=f"{text} ({m + 1})", language=lang, channel=channel, theme=theme, sentiment=sent,
                             created_at=datetime.fromisoformat(f"{month}-{3 + 4 * i:02d}T10:00:00"),
                             customer=f"C{(m * 6 + i) % 24:03d}", nps=2 if sent == "negative" else 9))
        if m % 2:  # a little delivery noise in the baseline
            rows.append(dict(text=f"المندوب تأخر شوي ({m})", language="ar", channel="app", theme="delivery",
                             sentiment="negative", created_at=datetime.fromisoformat(f"{month}-27T09:00:00"),
                             customer="C030", nps=5))
    for i, (text, lang, channel, theme, sent) in enumerate(_JUNE):
        rows.append(dict(text=text, language=lang, channel=channel, theme=theme, sentiment=sent,
                         created_at=datetime(2026, 6, 2 + 2 * i, 12), customer=f"C{i % 24:03d}",
                         nps=1 if sent == "negative" else 10))
    return rows


def build_fixture_store(url: str) -> Store:
    """A store with hand-written items, ``test-fixture`` analysis rows, customers and churn scores."""
    store = Store.open(url)
    items, results = [], []
    for n, r in enumerate(_fixture_rows()):
        fid = f"fx-{n:03d}"
        raw = mask_pii(r["text"])
        items.append({"feedback_id": fid, "content_hash": f"h{n}", "source": "survey", "channel": r["channel"],
                      "customer_id": r["customer"], "created_at": r["created_at"], "nps_score": r["nps"],
                      "language": r["language"], "language_confidence": 0.99, "raw_text": raw,
                      "normalised_text": raw, "cues": {}, "run_id": None})
        sent = r["sentiment"]
        results.append({"feedback_id": fid, "model_version": "test-fixture", "sentiment": sent,
                        "sentiment_probs": {s: 0.8 if s == sent else 0.1 for s in ("negative", "neutral", "positive")},
                        "themes": {r["theme"]: 0.95}, "theme_sentiment": {r["theme"]: sent},
                        "is_complaint": sent == "negative"})
    store.add_feedback(items, results)
    custs, scores = [], []
    for i in range(32):
        cid = f"C{i:03d}"
        churned = i % 3 == 0
        custs.append({"customer_id": cid, "signup_date": datetime(2024, 1 + i % 12, 1), "segment": "consumer",
                      "orders": 10.0 + i, "spend": 100.0 * (i + 1), "last_activity": datetime(2026, 6, 1),
                      "churned": churned, "churn_date": datetime(2026, 6, 20) if churned else None,
                      "attributes": {}})
        for as_of, bump in ((datetime(2026, 5, 31), 0.0), (datetime(2026, 6, 30), 0.1)):
            score = min(0.99, 0.05 + 0.027 * i + bump)
            band = "low" if score < 0.15 else "medium" if score < 0.35 else "high"
            segment = "churned" if churned and bump else "at risk" if band == "high" else "loyal"
            reasons = [{"text": "3 complaints about Delivery and logistics in 60 days", "key": "why_theme_recent",
                        "params": {"theme": "delivery", "complaints": 3, "days": 60}, "feature": "complaint_delivery",
                        "contribution": 0.9}, "NPS fell from 9 to 2"]  # dicts (as `sada churn` writes) or old strings
            if i == 31:
                reasons.append("<script>window.__sadaPwned = 4</script> شكوى حول التوصيل")
            scores.append({"customer_id": cid, "as_of": as_of, "model_version": "test-fixture", "score": score,
                           "band": band, "segment": segment, "reasons": reasons})
    with store.engine.begin() as c:
        c.execute(customers.insert(), custs)
        c.execute(churn_scores.insert(), scores)
    # the theme drivers a churn run stores beside its scores, from the real feature builder
    from sada.pipeline.churn.customers import load_customers_from_store
    from sada.pipeline.churn.drivers import theme_drivers
    from sada.pipeline.churn.features import FeatureConfig, build_features, load_feedback_signals

    load = load_customers_from_store(store)
    features = build_features(load.frame, load_feedback_signals(store), "2026-06-30", FeatureConfig(),
                              load.attribute_columns)
    drivers = theme_drivers(features.X, features.info, features.themes)
    store.add_churn_drivers([{"run_id": None, "as_of": datetime(2026, 6, 30), "model_version": "test-fixture",
                              "theme": row.pop("theme"), "stats": row} for row in drivers.to_dict("records")])
    return store


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return build_fixture_store(f"sqlite:///{tmp_path_factory.mktemp('report-db') / 'sada.sqlite'}")


# ------------------------------------------------------------------------------- units


def test_periods_parse_and_step_back():
    assert parse_period("2026-06").previous().key == "2026-05"
    assert parse_period("2026-01").previous().key == "2025-12"
    assert parse_period("2026-W01").previous().key == "2025-W52"
    assert parse_period(None, pd.Timestamp("2026-06-17 10:00")).key == "2026-06"
    assert parse_period("last-7d", pd.Timestamp("2026-06-17")).key == "2026-06-11..2026-06-17"
    assert [p.key for p in parse_period("2026-Q2").trailing(2)] == ["2025-Q4", "2026-Q1"]
    with pytest.raises(ConfigError, match="--period"):
        parse_period("June")


def test_interface_languages_format_numbers_in_their_own_digits():
    assert Translator("en").number(12345.67, 1) == "12,345.7"
    assert Translator("ar").number(12345.67, 1) == "١٢٬٣٤٥٫٧"
    assert Translator("fa").percent(0.5) == "۵۰٪"
    assert Translator("ar").dir == "rtl" and Translator("en").dir == "ltr"
    when = pd.Timestamp("2026-06-30")
    assert [Translator(x).date(when) for x in ("en", "ar", "fa")] == ["2026-06-30", "٢٠٢٦/٠٦/٣٠", "۲۰۲۶/۰۶/۳۰"]
    assert Translator("fa").delta(-0.052, "pp") == "\u2212۵٫۲" and Translator("fa").unit("pp") == "واحد"
    with pytest.raises(ConfigError, match="en, ar, fa"):
        Translator("de")


@pytest.mark.parametrize("lang, counts", [
    ("en", {1: "1 complaint", 2: "2 complaints", 3: "3 complaints", 11: "11 complaints", 1200: "1,200 complaints"}),
    ("ar", {1: "شكوى واحدة", 2: "شكويان", 3: "٣ شكاوى", 7: "٧ شكاوى", 10: "١٠ شكاوى", 11: "١١ شكوى", 99: "٩٩ شكوى",
            100: "١٠٠ شكوى", 102: "١٠٢ شكوى", 103: "١٠٣ شكاوى", 111: "١١١ شكوى", 1200: "١٬٢٠٠ شكوى"}),
    ("fa", {1: "۱ شکایت", 2: "۲ شکایت", 7: "۷ شکایت", 11: "۱۱ شکایت", 1200: "۱٬۲۰۰ شکایت"}),
])
def test_counted_nouns_agree_with_their_number(lang, counts):
    t = Translator(lang)
    assert {n: t.count(n, "complaint") for n in counts} == counts


def test_arabic_counts_after_a_preposition_take_the_oblique_dual():
    t = Translator("ar")
    assert [t.count(n, "day", oblique=True) for n in (1, 2, 5, 60)] == ["يوم واحد", "يومين", "٥ أيام", "٦٠ يومًا"]
    assert [t.count(n, "negative_comment") for n in (2, 4, 25)] == ["تعليقان سلبيان", "٤ تعليقات سلبية",
                                                                   "٢٥ تعليقًا سلبيًا"]


# as `sada churn` stores them (churn_scores.reasons): the reason as data, the English text, the feature
def _stored(key: str, source: str, contribution: float, **params) -> dict:
    from sada.pipeline.churn import reason_text

    names = {th.id: th.name("en") for th in load_taxonomy().themes}
    return {"text": reason_text(key, params, names), "key": key, "params": params, "feature": source,
            "contribution": contribution}


STORED_REASONS = [
    _stored("why_nps_detractor", "nps_latest_centered", 0.523, score=1),
    _stored("why_theme_last", "complaint_billing", 0.395, theme="billing", complaints=1, date="2025-11-11"),
    _stored("why_negative_comments", "sentiment_mean", 0.385, comments=5),
    _stored("why_nps_fell", "nps_change", 0.311, first=2, latest=0),
    _stored("why_theme_recent", "complaint_refunds", 0.3, theme="refunds", complaints=2, days=60),
    _stored("why_orders", "orders_per_month", 0.172, rate=0.6),
    _stored("why_category", "plan", 0.24, feature="plan", value="basic"),
    _stored("why_tenure_short", "tenure_months", 0.188, months=16),
    _stored("why_value_high", "spend_per_order", 0.101, feature="spend_per_order", value=24.782),
    _stored("why_category", "loyalty_tier", 0.09, feature="loyalty_tier", value="gold"),  # no words for this one
    {"text": "NPS fell from 9 to 2", "feature": "nps_change"},  # stored before reasons were data: no key
    "NPS fell from 9 to 2",  # an old plain-string reason: no feature recorded
]
SHOWN_REASONS = {
    "en": ["gave NPS 1 (detractor)", "1 complaint about billing and payments (last on 2025-11-11)",
           "5 negative comments", "NPS fell from 2 to 0", "2 complaints about refunds and returns in 60 days",
           "low activity: 0.6 orders a month", "plan: basic", "customer for only 16 months",
           "spend_per_order 24.782 (high)", "loyalty_tier: gold", "NPS fell from 9 to 2", "NPS fell from 9 to 2"],
    "ar": ["أعطى درجة ١ في استبيان NPS (من المنتقدين)",
           "شكوى واحدة بخصوص الفواتير والمدفوعات (آخر شكوى في ٢٠٢٥/١١/١١)",
           "٥ تعليقات سلبية",
           "انخفضت درجة NPS من ٢ إلى ٠",
           "شكويان بخصوص الاسترجاع والإرجاع خلال ٦٠ يومًا",
           "نشاط منخفض: ٠٫٦ طلب شهريًا",
           "الباقة: أساسية",
           "عميل منذ ١٦ شهرًا فقط",
           "متوسط قيمة الطلب: ٢٤٫٧٨٢ (مرتفع)",
           "loyalty_tier: gold",
           "NPS fell from 9 to 2",
           "NPS fell from 9 to 2"],
    "fa": ["امتیاز ۱ در نظرسنجی NPS داد (منتقد)",
           "۱ شکایت درباره صورتحساب و پرداخت (آخرین شکایت در ۲۰۲۵/۱۱/۱۱)",
           "۵ نظر منفی",
           "امتیاز NPS از ۲ به ۰ کاهش یافت",
           "۲ شکایت درباره بازگشت وجه و مرجوعی در ۶۰ روز گذشته",
           "فعالیت کم: ۰٫۶ سفارش در ماه",
           "طرح: پایه",
           "مدت مشتری بودن: فقط ۱۶ ماه",
           "میانگین مبلغ سفارش: ۲۴٫۷۸۲ (بالا)",
           "loyalty_tier: gold",
           "NPS fell from 9 to 2",
           "NPS fell from 9 to 2"],
}


@pytest.mark.parametrize("lang", ["en", "ar", "fa"])
def test_churn_reasons_are_shown_in_the_interface_language(lang):
    names = {th.id: th.name(lang) for th in load_taxonomy().themes}
    shown = [localise_reason(r, Translator(lang), names) for r in STORED_REASONS]
    assert [r.text for r in shown] == SHOWN_REASONS[lang]
    # what has no words in Arabic or Persian stays in English (and is isolated on the page)
    assert [r.translated for r in shown] == [True] * 9 + [lang == "en"] * 3


@pytest.mark.parametrize("lang", ["ar", "fa"])
def test_every_kind_of_reason_sada_churn_writes_is_translated(lang):
    from sada.pipeline.churn.reasons import reason_of as _reason, reason_text

    last = pd.Timestamp("2026-03-16")
    cases = [  # (feature, the customer's info row, their feature values)
        ("complaint_delivery", {"ev_recent_delivery": 3, "ev_total_delivery": 4}, {}),
        ("complaint_delivery", {"ev_recent_delivery": 0, "ev_total_delivery": 2, "ev_last_delivery": last}, {}),
        ("complaint_delivery", {"ev_recent_delivery": 0, "ev_total_delivery": 1}, {}),
        ("nps_change", {"nps_first": 9, "nps_latest": 3}, {}),
        ("nps_detractor", {"nps_first": 2, "nps_latest": 4}, {}),
        ("nps_promoter", {"nps_first": 9, "nps_latest": 9}, {}),
        ("has_nps", {}, {}),
        ("sentiment_trend", {"last_sentiment": -1, "n_negative": 1}, {}),
        ("sentiment_mean", {"n_negative": 4}, {}),
        ("any_negative", {"n_negative": 0}, {}),
        ("n_complaints", {"complaints_recent": 2, "n_complaints": 5}, {}),
        ("complaints_recent", {"complaints_recent": 0, "n_complaints": 12}, {}),
        ("unanswered_complaints", {"unanswered_complaints": 2}, {}),
        ("any_positive", {}, {}),
        ("n_feedback", {"n_feedback": 1}, {}),
        ("tenure_months", {"tenure_months": 2.2}, {}),
        ("tenure_months", {"tenure_months": 40.0}, {}),
        ("recency_days", {"recency_days": 45.0}, {}),
        ("orders_per_month", {"orders_per_month": 0.64}, {}),
        ("plan", {}, {"plan": "premium"}),
        ("domain", {}, {"domain": "telecom"}),
        ("segment", {}, {"segment": "business"}),
        ("language", {}, {"language": "fa"}),
        ("spend_per_order", {}, {"spend_per_order": 12.5}),
        ("spend_per_order", {}, {"spend_per_order": None}),
    ]
    en_names = {th.id: th.name("en") for th in load_taxonomy().themes}
    names = {th.id: th.name(lang) for th in load_taxonomy().themes}
    t = Translator(lang)
    for feature, row, x in cases:
        said = _reason(feature, row, x, {"spend_per_order": 20.0}, 60)
        stored = {"text": reason_text(**said, names=en_names), **said, "feature": feature}
        shown = localise_reason(stored, t, names)
        assert shown.translated, stored
        assert not re.search(r"[A-Za-z0-9]", shown.text.replace("NPS", "")), (stored, shown.text)


def test_spike_is_found_per_theme_language_and_channel(fixture_store):
    fb = load_feedback(fixture_store)
    spikes, history = detect_spikes(fb, parse_period(PERIOD))
    assert history == 6
    keys = {(s["theme"], s["language"], s["channel"]) for s in spikes}
    assert keys == {("delivery", "ar", "app")}
    spike = spikes[0]
    assert spike["count"] == 5 and spike["baseline_counts"] == [1, 2, 1, 2, 1, 2]
    assert spike["count"] > spike["baseline_mean"] + 2 * max(spike["baseline_sd"], 1.0)
    assert len(spike["examples"]) == 2 and all("\u202e" not in q["text"] for q in spike["examples"])
    # no history, no alert: the first month of data cannot spike
    assert detect_spikes(fb, parse_period("2025-12"))[0] == []


def _figure_data(snippet: str) -> list[dict]:
    """The traces of a chart snippet, as Plotly.newPlot receives them."""
    start = snippet.index("[", snippet.index("Plotly.newPlot("))
    return json.JSONDecoder().raw_decode(snippet, start)[0]


@pytest.mark.parametrize("lang", ["en", "ar", "fa"])
def test_nps_chart_leaves_gaps_between_months_with_answers(lang):
    t = Translator(lang)
    months = [f"2025-{m:02d}" for m in range(1, 9)]
    rows = [(m, "all", 10.0 * i, 40) for i, m in enumerate(months)]
    # Persian answers every month; "other" in January, April (2 answers: too few) and August only
    rows += [(m, "fa", -5.0 * i, 20) for i, m in enumerate(months)]
    rows += [("2025-01", "other", 50.0, 4), ("2025-04", "other", 0.0, 2), ("2025-08", "other", -50.0, 3)]
    table = pd.DataFrame(rows, columns=["month", "language", "nps", "n"])
    traces = {tr["name"]: tr for tr in _figure_data(charts.nps_chart(table, t))}
    other = traces[t.language("other")]
    assert other["y"] == [50.0, None, None, None, None, None, None, -50.0]
    assert not other.get("connectgaps"), "a line drawn across seven months without answers"
    assert traces[t.language("fa")]["y"] == [-5.0 * i for i in range(8)]


# ------------------------------------------------------------------------------- the file


def test_report_reads_the_store_on_sqlite_and_postgresql(db_url, tmp_path):
    store = build_fixture_store(db_url)
    result = build_report(store, out=tmp_path / "r.html", period=PERIOD, lang="en")
    html = result.path.read_text(encoding="utf-8")
    cur, delta = result.headline["current"], result.headline["delta"]
    assert (result.period, result.previous_period) == ("2026-06", "2026-05")
    assert cur["items"] == 10 and cur["by_language"] == {"ar": 7, "fa": 3, "mixed": 0, "other": 0, "ar-Latn": 0, "fa-Latn": 0}
    assert cur["complaint_rate"] == pytest.approx(0.8) and delta["items"] == 10 - 7
    assert cur["nps"]["n"] == 10 and cur["nps"]["nps"] == pytest.approx(-60.0)
    assert cur["at_risk"] == 16 and delta["at_risk"] == 16 - 20
    assert all(result.sections.values()), result.sections
    assert [(s["theme"], s["language"], s["channel"]) for s in result.spikes] == [("delivery", "ar", "app")]
    # escaped, masked, isolated, self-contained
    assert "&lt;script&gt;window.__sadaPwned = 1&lt;/script&gt;" in html
    assert "<script>window.__sadaPwned" not in html and "<img src=x" not in html
    assert '<h1 id="broken">' not in html
    assert PHONE not in html and "[PHONE]" in html
    assert "\u202e" not in html and "\u2067" not in html
    assert html.count("<script") == html.count("<script nonce=")
    assert "<link" not in html and 'src="http' not in html and "@import" not in html
    assert html.count("plotly.js v") >= 1 and html.count("Plotly.newPlot(") == 6
    assert json.dumps(result.as_dict(), ensure_ascii=False)


@pytest.mark.parametrize("lang, spike, reason", [
    ("en", "5 complaints about Delivery and logistics in Arabic via App",
     "3 complaints about Delivery and logistics in 60 days"),
    ("ar", "٥ شكاوى بخصوص التوصيل والشحن باللغة العربية عبر التطبيق", "٣ شكاوى بخصوص التوصيل والشحن خلال ٦٠ يومًا"),
    ("fa", "۵ شکایت درباره ارسال و تحویل به زبان عربی از طریق اپلیکیشن",
     "۳ شکایت درباره ارسال و تحویل در ۶۰ روز گذشته"),
])
def test_report_counts_and_reasons_read_in_the_interface_language(fixture_store, tmp_path, lang, spike, reason):
    html = build_report(fixture_store, out=tmp_path / f"{lang}.html", period=PERIOD, lang=lang).path.read_text(
        encoding="utf-8")
    assert f'<div class="head">{spike}' in html
    assert f'<li dir="{"ltr" if lang == "en" else "rtl"}">{reason}</li>' in html
    # a reason with no words in the interface language stays in English, isolated from the line around it
    stored = "NPS fell from 9 to 2"
    assert (f'<li dir="ltr">{stored}</li>' if lang == "en" else f'<li dir="rtl"><bdi>{stored}</bdi></li>') in html


def test_report_on_an_empty_store_says_what_is_missing(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    result = build_report(store, out=tmp_path / "empty.html", period=PERIOD, lang="fa")
    html = result.path.read_text(encoding="utf-8")
    assert not any(result.sections.values()) and result.spikes == []
    assert "sada churn" in html and 'dir="rtl"' in html


def test_undated_items_count_in_the_month_they_were_received(tmp_path):
    # an export without a date column: the report still has this month's items, with their results
    store = Store.open(f"sqlite:///{tmp_path / 'undated.sqlite'}")
    texts = [("التوصيل تأخر ساعتين والأكل وصل بارد", "ar", "negative"), ("غذا خیلی خوشمزه بود", "fa", "positive")]
    store.add_feedback(
        [{"feedback_id": f"u{i}", "content_hash": f"h{i}", "source": "review", "channel": "app", "customer_id": None,
          "created_at": None, "nps_score": None, "language": lang, "language_confidence": 0.99, "raw_text": text,
          "normalised_text": text, "cues": {}, "run_id": None} for i, (text, lang, _) in enumerate(texts)],
        [{"feedback_id": f"u{i}", "model_version": "test-fixture", "sentiment": sent,
          "sentiment_probs": {s: 0.8 if s == sent else 0.1 for s in ("negative", "neutral", "positive")},
          "themes": {}, "theme_sentiment": {}, "is_complaint": sent == "negative"} for i, (_, _, sent) in enumerate(texts)])
    result = build_report(store, out=tmp_path / "undated.html", lang="en")
    assert result.period == datetime.now().strftime("%Y-%m")
    assert result.headline["current"]["items"] == 2
    assert result.headline["current"]["complaint_rate"] == pytest.approx(0.5)
    assert "test-fixture" in result.path.read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "ar", "fa"])
def test_candidate_themes_get_their_own_section(fixture_store, tmp_path, lang):
    from sada.pipeline.discovery import Candidate

    parking = Candidate("candidate_1", 12, 0.4, {"ar": 7, "fa": 5}, {"ar": ["مواقف", "ما في موقف"], "fa": ["جای پارک"]},
                        {"ar": ["ما لقيت موقف عند الفرع، اتصلوا على 0501234567"], "fa": ["جای پارک نبود"]},
                        {"2026-05": 4, "2026-06": 8})
    html = build_report(fixture_store, out=tmp_path / "c.html", period=PERIOD, lang=lang,
                        candidates=[parking]).path.read_text(encoding="utf-8")
    section = html[html.index('<section id="candidates">'):html.index('<section id="quotes">')]
    assert 'data-candidate="candidate_1"' in section and "<bdi>ما في موقف</bdi>" in section
    assert 'dir="rtl" lang="fa">جای پارک نبود</p>' in section
    assert "0501234567" not in section  # quotes are masked in the report whatever the store holds
    empty = build_report(fixture_store, out=tmp_path / "e.html", period=PERIOD, lang=lang, candidates=[])
    assert '<section id="candidates">' in empty.path.read_text(encoding="utf-8")
    none = build_report(fixture_store, out=tmp_path / "n.html", period=PERIOD, lang=lang)
    assert '<section id="candidates">' not in none.path.read_text(encoding="utf-8")


def test_sada_report_command_writes_the_file(fixture_store, tmp_path):
    from click.testing import CliRunner

    from sada.cli import main

    out = tmp_path / "cli" / "report.html"
    res = CliRunner().invoke(main, ["report", "--db", str(fixture_store.engine.url), "--out", str(out),
                                    "--period", PERIOD, "--lang", "ar", "--json", "--no-discover"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["path"] == str(out) and out.is_file()
    assert summary["spikes"][0]["theme"] == "delivery"
    bad = CliRunner().invoke(main, ["report", "--db", str(fixture_store.engine.url), "--period", "June"])
    assert bad.exit_code != 0 and "--period" in bad.output


# ------------------------------------------------------------------------------- in the browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Chromium driven through chromedriver, with no background networking."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Chromium not found: install the Debian packages 'chromium' and 'chromium-driver' "
                    "(.ci/run does) to run the browser tests")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed: pip install -e '.[test]'")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                "--disable-default-apps", "--disable-extensions", "--window-size=1280,900", "--hide-scrollbars",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


_CHART_STATE = """
return Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  id: gd.id,
  svg: gd.querySelectorAll('svg.main-svg').length,
  traces: gd.querySelectorAll('g.trace').length,
  points: (gd.calcdata || []).reduce((n, trace) => n + trace.filter(p => p && (p.y !== undefined || p.x !== undefined
           || p.s !== undefined)).length, 0),
  height: gd.getBoundingClientRect().height,
  fits: gd.querySelector('svg.main-svg').getBoundingClientRect().width
        <= gd.closest('.chart').getBoundingClientRect().width + 1,
  titleGap: (() => {  // pixels between the y-axis title and the left edge of the y tick labels
    const title = gd.querySelector('.g-ytitle text');
    const ticks = Array.from(gd.querySelectorAll('.subplot.xy .yaxislayer-above .ytick text'));
    return title && ticks.length ? Math.min(...ticks.map(x => x.getBoundingClientRect().left))
                                   - title.getBoundingClientRect().right : null;
  })(),
}));
"""

_PAGE_STATE = """
const dir = el => getComputedStyle(el).direction;
const quotes = Array.from(document.querySelectorAll('.quote'));
const table = document.getElementById('at-risk');
return {
  pageDir: dir(document.documentElement),
  headingDir: dir(document.querySelector('h1')),
  h1: document.querySelectorAll('h1').length,
  pwned: typeof window.__sadaPwned,
  imgs: document.querySelectorAll('body img, iframe, object, embed').length,
  quotes: quotes.map(q => ({lang: q.lang, dir: dir(q), bidi: getComputedStyle(q).unicodeBidi,
                            font: getComputedStyle(q).fontFamily, text: q.textContent,
                            overflow: q.scrollWidth > q.clientWidth + 1,
                            width: q.getBoundingClientRect().width,
                            parent: q.parentElement.getBoundingClientRect().width})),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
  table: table ? [table.getBoundingClientRect().left, table.getBoundingClientRect().right] : null,
  reasons: table ? table.textContent : '',
  reasonLines: table ? Array.from(table.querySelectorAll('td li')).map(li => {
    const list = li.parentElement.getBoundingClientRect(), line = li.getBoundingClientRect();
    return {dir: dir(li), display: getComputedStyle(li).display, bullet: getComputedStyle(li).listStyleType,
            room: dir(li) === 'rtl' ? list.right - line.right : line.left - list.left};  // where the bullet goes
  }) : [],
  resources: performance.getEntriesByType('resource').map(e => e.name),
  kpi: document.querySelector('[data-kpi="items"] .value').textContent,
};
"""


@pytest.mark.parametrize("lang", ["en", "ar", "fa"])
def test_report_in_headless_chromium(browser, fixture_store, tmp_path_factory, lang):
    from selenium.webdriver.support.ui import WebDriverWait

    folder = tmp_path_factory.mktemp(f"report-{lang}")
    result = build_report(fixture_store, out=folder / f"report-{lang}.html", period=PERIOD, lang=lang)
    browser.get_log("performance")  # drop what earlier pages logged
    browser.get(result.path.resolve().as_uri())
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(
        "const g = document.querySelectorAll('.js-plotly-plot');"
        "return g.length >= 6 && Array.from(g).every(x => x._fullLayout && x.querySelector('svg.main-svg'));"))

    # the charts rendered, with data
    charts = {c["id"]: c for c in browser.execute_script(_CHART_STATE)}
    assert set(charts) == {"chart-sentiment", "chart-nps", "chart-themes", "chart-lift", "chart-risk",
                           "chart-segments"}
    for chart in charts.values():
        assert chart["svg"] >= 1 and chart["traces"] >= 1 and chart["points"] > 0 and chart["height"] > 200, chart
        assert chart["fits"], f"{chart['id']} is wider than its box"  # drawn before the layout settled
    # y-axis titles sit clear of the tick labels, in every interface language
    titled = {k: c["titleGap"] for k, c in charts.items() if c["titleGap"] is not None}
    assert set(titled) == {"chart-sentiment", "chart-nps", "chart-risk", "chart-segments"}
    assert all(gap >= 3 for gap in titled.values()), titled

    state = browser.execute_script(_PAGE_STATE)
    # direction: the page flips for Arabic and Persian; customer quotes are always right to left and isolated
    expected = "ltr" if lang == "en" else "rtl"
    assert state["pageDir"] == expected and state["headingDir"] == expected
    rtl_quotes = [q for q in state["quotes"] if q["lang"] in ("ar", "fa")]
    assert len(rtl_quotes) >= 8
    assert all(q["dir"] == "rtl" and q["bidi"] == "isolate" for q in rtl_quotes), rtl_quotes
    assert all("Naskh" in q["font"] or "Vazirmatn" in q["font"] for q in rtl_quotes)
    # untrusted text: shown as text, never run; bidi controls gone; layout holds
    texts = " ".join(q["text"] for q in state["quotes"])
    assert "<script>window.__sadaPwned = 1</script>" in texts and '<img src=x onerror=' in texts
    assert "BROKEN" in texts and state["h1"] == 1
    assert state["pwned"] == "undefined" and state["imgs"] == 0
    assert "\u202e" not in texts and "\u2067" not in texts
    assert "<script>window.__sadaPwned = 4</script>" in state["reasons"]
    assert {"en": "3 complaints about Delivery and logistics in 60 days",
            "ar": "٣ شكاوى بخصوص التوصيل والشحن خلال ٦٠ يومًا",
            "fa": "۳ شکایت درباره ارسال و تحویل در ۶۰ روز گذشته"}[lang] in state["reasons"]
    assert "'feature'" not in state["reasons"]
    # each reason is a bulleted line in the page's direction, its bullet inside the list on the line's start side
    assert len(state["reasonLines"]) >= 15
    assert all(x["dir"] == expected and x["display"] == "list-item" and x["bullet"] == "disc" and x["room"] >= 10
               for x in state["reasonLines"]), state["reasonLines"]
    assert state["scrollWidth"] <= state["innerWidth"], "the page scrolls sideways"
    assert state["table"][0] >= 0 and state["table"][1] <= state["innerWidth"]
    assert not any(q["overflow"] or q["width"] > q["parent"] + 1 for q in state["quotes"])
    # digits of the interface language
    assert state["kpi"] == {"en": "10", "ar": "١٠", "fa": "۱۰"}[lang]
    # nothing fetched: every request of the page is the file itself or inline data, and nothing
    # (the browser's own start page included) went to the network
    uri = result.path.resolve().as_uri()
    requests = [json.loads(e["message"])["message"]["params"] for e in browser.get_log("performance")
                if '"Network.requestWillBeSent"' in e["message"]]
    page = [r["request"]["url"] for r in requests if r.get("documentURL") == uri] + state["resources"]
    assert uri in page
    assert all(u.startswith(("file://", "data:", "blob:")) for u in page), page
    network = [r["request"]["url"] for r in requests if r["request"]["url"].startswith(("http", "ws", "ftp"))]
    assert network == [], network
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors

    # one full-page screenshot per interface language
    height = browser.execute_script("return document.documentElement.scrollHeight")
    shot = browser.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1}})
    png = folder / f"report-{lang}.png"
    png.write_bytes(base64.b64decode(shot["data"]))
    assert png.stat().st_size > 50_000
    keep = REPO / "out" / "report-screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, keep / png.name)
