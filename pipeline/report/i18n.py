"""Interface language of the report: labels, headings, number and date formatting, page direction.

Three interface languages: English (``en``), Arabic (``ar``) and Persian (``fa``).
Arabic uses Arabic-Indic digits (٠-٩), Persian uses Persian digits (۰-۹); both use
the Arabic decimal (٫) and thousands (٬) separators and the Arabic percent sign (٪),
and the page is laid out right to left.

Counted nouns agree with their number (:meth:`Translator.count`): English singular
or plural; Arabic by the number's last two digits (one and two without the
numeral, a plural for 3-10, a singular after 11-99 and after hundreds); Persian
keeps the singular after any number.

Example:
    >>> t = Translator("fa")
    >>> t.number(1234.5, 1), t.percent(0.25), t.dir
    ('۱٬۲۳۴٫۵', '۲۵٪', 'rtl')
    >>> Translator("en").delta(-0.031, "pp"), Translator("fa").unit("pp")
    ('−3.1', 'واحد')
    >>> [Translator("ar").count(n, "complaint") for n in (1, 2, 3, 11)]
    ['شكوى واحدة', 'شكويان', '٣ شكاوى', '١١ شكوى']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sada.pipeline.digits import localise_digits  # re-exported: the report's digits
from sada.pipeline.errors import ConfigError

__all__ = ["INTERFACE_LANGUAGES", "STRINGS", "Translator", "arabic_plural_form", "localise_digits",
           "quote_direction"]

#: Interface languages the report can be written in.
INTERFACE_LANGUAGES: tuple[str, ...] = ("en", "ar", "fa")

_MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "ar": ["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر",
           "ديسمبر"],
    "fa": ["ژانویه", "فوریه", "مارس", "آوریل", "مه", "ژوئن", "ژوئیه", "اوت", "سپتامبر", "اکتبر", "نوامبر", "دسامبر"],
}

#: Counted nouns (:meth:`Translator.count`): noun -> (en (singular, plural),
#: ar (one, two, two after a preposition, 3-10, 11-99, other: 0, 100, 101, 102, ...), fa (singular,)).
#: Arabic one and two are whole phrases (no numeral); the other forms follow the numeral.
_NOUNS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "complaint": (("complaint", "complaints"),
                  ("شكوى واحدة", "شكويان", "شكويين", "شكاوى", "شكوى", "شكوى"), ("شکایت",)),
    "answer": (("answer", "answers"), ("إجابة واحدة", "إجابتان", "إجابتين", "إجابات", "إجابة", "إجابة"), ("پاسخ",)),
    "classified_item": (("classified item", "classified items"),
                        ("عنصر مصنَّف واحد", "عنصران مصنَّفان", "عنصرين مصنَّفين", "عناصر مصنَّفة", "عنصرًا مصنَّفًا",
                         "عنصر مصنَّف"), ("مورد طبقه‌بندی‌شده",)),
    "negative_comment": (("negative comment", "negative comments"),
                         ("تعليق سلبي واحد", "تعليقان سلبيان", "تعليقين سلبيين", "تعليقات سلبية", "تعليقًا سلبيًا",
                          "تعليق سلبي"), ("نظر منفی",)),
    "feedback_item": (("feedback item", "feedback items"),
                      ("ملاحظة واحدة", "ملاحظتان", "ملاحظتين", "ملاحظات", "ملاحظة", "ملاحظة"), ("بازخورد",)),
    "day": (("day", "days"), ("يوم واحد", "يومان", "يومين", "أيام", "يومًا", "يوم"), ("روز",)),
    "month": (("month", "months"), ("شهر واحد", "شهران", "شهرين", "أشهر", "شهرًا", "شهر"), ("ماه",)),
}

#: key -> (en, ar, fa). ``{name}`` placeholders are filled by :meth:`Translator.t`.
STRINGS: dict[str, tuple[str, str, str]] = {
    "title": ("Customer experience report", "تقرير تجربة العملاء", "گزارش تجربه مشتری"),
    "subtitle": ("{period}, compared with {previous}", "{period} مقارنةً بـ{previous}",
                 "{period} در مقایسه با {previous}"),
    "generated": ("Generated {date} from the store: {items} feedback items; classifier {models}.",
                  "أُنشئ في {date} من قاعدة البيانات: {items} من عناصر الملاحظات؛ المصنِّف {models}.",
                  "ساخته‌شده در {date} از پایگاه داده: {items} مورد بازخورد؛ طبقه‌بند {models}."),
    "no_classifier": ("none", "لا يوجد", "ندارد"),
    "nav": ("Contents", "المحتويات", "فهرست"),
    # headline
    "sec_headline": ("At a glance", "نظرة سريعة", "نگاه کلی"),
    "items": ("Items analysed", "العناصر المحلَّلة", "موارد تحلیل‌شده"),
    "sentiment_mix": ("Sentiment mix", "توزيع المشاعر", "ترکیب احساسات"),
    "nps": ("NPS", "صافي نقاط الترويج (NPS)", "شاخص خالص ترویج (NPS)"),
    "complaint_rate": ("Complaint rate", "نسبة الشكاوى", "نرخ شکایت"),
    "at_risk": ("Customers at risk", "عملاء معرَّضون للمغادرة", "مشتریان در خطر ریزش"),
    "vs_previous": ("vs previous period", "مقارنة بالفترة السابقة", "نسبت به دوره قبل"),
    "no_previous": ("no data for the previous period", "لا بيانات للفترة السابقة", "برای دوره قبل داده‌ای نیست"),
    "of_classified": ("of {items}", "من {items}", "از {items}"),
    "high_band": ("band high, as of {date}", "مستوى خطر مرتفع، حتى {date}", "سطح ریسک بالا، تا {date}"),
    "pp": ("pp", "نقطة", "واحد"),
    # sentiments, NPS groups
    "negative": ("Negative", "سلبي", "منفی"),
    "neutral": ("Neutral", "محايد", "خنثی"),
    "positive": ("Positive", "إيجابي", "مثبت"),
    "promoters": ("Promoters", "المروِّجون", "مروجان"),
    "passives": ("Passives", "المحايدون", "بی‌تفاوت‌ها"),
    "detractors": ("Detractors", "المنتقدون", "منتقدان"),
    # languages, channels
    "lang_ar": ("Arabic", "العربية", "عربی"),
    "lang_fa": ("Persian", "الفارسية", "فارسی"),
    "lang_mixed": ("Mixed", "مختلط", "مختلط"),
    "lang_other": ("Other", "أخرى", "سایر"),
    "lang_ar-Latn": ("Arabizi (Latin script)", "العربيزي (بحروف لاتينية)", "عربی با حروف لاتین"),
    "lang_fa-Latn": ("Finglish (Latin script)", "الفارسية بحروف لاتينية", "فینگلیش"),
    "ch_app": ("App", "التطبيق", "اپلیکیشن"),
    "ch_web": ("Web", "الموقع", "وب‌سایت"),
    "ch_call_center": ("Call centre", "مركز الاتصال", "مرکز تماس"),
    "ch_store": ("Store", "الفرع", "فروشگاه"),
    "ch_unknown": ("Unknown channel", "قناة غير معروفة", "کانال نامشخص"),
    "all": ("All", "الكل", "همه"),
    # charts
    "sec_sentiment": ("Sentiment over time, per language", "المشاعر عبر الزمن حسب اللغة",
                      "احساسات در طول زمان به تفکیک زبان"),
    "month": ("Month", "الشهر", "ماه"),
    "count": ("Items", "عدد العناصر", "تعداد موارد"),
    "sec_themes": ("Themes: how often they come up and how customers feel", "المواضيع: تكرارها وشعور العملاء تجاهها",
                   "موضوع‌ها: چقدر تکرار می‌شوند و مشتریان چه حسی دارند"),
    "themes_note": ("Mentions in the period, by theme-level sentiment; most negative first: what hurts most.",
                    "الإشارات خلال الفترة حسب المشاعر تجاه كل موضوع؛ الأكثر سلبية أولًا: ما يؤلم أكثر.",
                    "اشاره‌ها در این دوره بر اساس احساس نسبت به هر موضوع؛ منفی‌ترین اول: آنچه بیشتر آزار می‌دهد."),
    "mentions": ("Mentions", "الإشارات", "اشاره‌ها"),
    "sec_lift": ("Theme-to-churn lift (95% confidence interval)", "أثر كل موضوع على المغادرة (فاصل ثقة ٩٥٪)",
                 "اثر هر موضوع بر ریزش (بازه اطمینان ۹۵٪)"),
    "lift_note": ("Churn rate of customers who complained about the theme divided by that of customers who did "
                  "not; 1 means no difference.",
                  "معدل مغادرة من اشتكوا من الموضوع مقسومًا على معدل من لم يشتكوا؛ القيمة ١ تعني لا فرق.",
                  "نرخ ریزش مشتریانی که از این موضوع شکایت کرده‌اند تقسیم بر نرخ ریزش بقیه؛ ۱ یعنی بی‌تفاوت."),
    "lift_axis": ("Churn lift (risk ratio, log scale)", "نسبة خطر المغادرة (مقياس لوغاريتمي)",
                  "نسبت ریسک ریزش (مقیاس لگاریتمی)"),
    "sec_churn": ("Churn risk: distribution and segments", "خطر المغادرة: التوزيع والشرائح",
                  "ریسک ریزش: توزیع و بخش‌ها"),
    "score_axis": ("Churn risk score", "درجة خطر المغادرة", "امتیاز ریسک ریزش"),
    "customers": ("Customers", "العملاء", "مشتریان"),
    "segment": ("Segment", "الشريحة", "بخش"),
    "band_low": ("Low", "منخفض", "پایین"),
    "band_medium": ("Medium", "متوسط", "متوسط"),
    "band_high": ("High", "مرتفع", "بالا"),
    "seg_churned": ("Churned", "غادروا", "ریزش‌کرده"),
    "seg_at risk": ("At risk", "معرَّضون للخطر", "در خطر"),
    "seg_new": ("New", "جدد", "جدید"),
    "seg_loyal": ("Loyal", "أوفياء", "وفادار"),
    "sec_nps": ("NPS trend", "اتجاه صافي نقاط الترويج", "روند شاخص خالص ترویج"),
    # spikes
    "sec_spikes": ("Spike alerts", "تنبيهات الارتفاع المفاجئ", "هشدارهای جهش"),
    "spikes_note": ("Themes whose complaints this period are more than {z} standard deviations above their "
                    "trailing {n}-period baseline, per language and channel.",
                    "مواضيع تجاوزت شكاواها هذه الفترة متوسطها في الفترات الـ{n} السابقة بأكثر من {z} انحراف معياري، "
                    "حسب اللغة والقناة.",
                    "موضوع‌هایی که شکایت‌هایشان در این دوره بیش از {z} انحراف معیار بالاتر از میانگین {n} دوره قبل "
                    "است، به تفکیک زبان و کانال."),
    "spike_line": ("{complaints} about {theme} in {language} via {channel}; usually {mean} ± {sd}",
                   "{complaints} بخصوص {theme} باللغة {language} عبر {channel}؛ المعتاد {mean} ± {sd}",
                   "{complaints} درباره {theme} به زبان {language} از طریق {channel}؛ معمولاً {mean} ± {sd}"),
    "no_spikes": ("No theme's complaint volume is unusually high this period.",
                  "لا يوجد ارتفاع غير معتاد في شكاوى أي موضوع خلال هذه الفترة.",
                  "در این دوره حجم شکایت هیچ موضوعی به‌طور غیرعادی بالا نیست."),
    "no_baseline": ("Not enough history before this period for a baseline.",
                    "لا يوجد تاريخ كافٍ قبل هذه الفترة لحساب خط الأساس.",
                    "سابقه کافی پیش از این دوره برای محاسبه خط پایه وجود ندارد."),
    # candidate themes (discovery)
    "sec_candidates": ("Complaints no theme covers", "شكاوى لا يغطيها أي موضوع", "شکایت‌هایی که هیچ موضوعی پوشش نمی‌دهد"),
    "candidates_note": ("Complaints with no theme (or only \"other\"), grouped by what they are about: candidates "
                        "for new themes. Add one with `sada themes discover --stub FILE`.",
                        "شكاوى بلا موضوع (أو \"أخرى\" فقط) مجمّعة حسب ما تتحدث عنه: مرشّحة لتكون مواضيع جديدة. "
                        "أضف أحدها عبر `sada themes discover --stub FILE`.",
                        "شکایت‌های بدون موضوع (یا فقط «سایر») که بر اساس محتوایشان گروه‌بندی شده‌اند: نامزد موضوع‌های "
                        "جدید. با `sada themes discover --stub FILE` یکی را اضافه کنید."),
    "candidate_line": ("{complaints} ({share} of the uncovered ones)", "{complaints} ({share} من غير المغطاة)",
                       "{complaints} ({share} از موارد پوشش‌داده‌نشده)"),
    "no_candidates": ("No group of uncovered complaints is large enough to suggest a theme.",
                      "لا توجد مجموعة من الشكاوى غير المغطاة كبيرة بما يكفي لاقتراح موضوع.",
                      "هیچ گروهی از شکایت‌های پوشش‌داده‌نشده آن‌قدر بزرگ نیست که موضوعی پیشنهاد شود."),
    # tables
    "sec_at_risk": ("Top at-risk customers", "العملاء الأكثر عرضة للمغادرة", "مشتریان با بیشترین ریسک ریزش"),
    "customer": ("Customer", "العميل", "مشتری"),
    "score": ("Risk", "الخطر", "ریسک"),
    "band": ("Band", "المستوى", "سطح"),
    "reasons": ("Why", "الأسباب", "دلایل"),
    # churn reasons (sada.pipeline.report.reasons); counts ({complaints}, {days}, ...) come from Translator.count
    "why_theme_recent": ("{complaints} about {theme} in {days}", "{complaints} بخصوص {theme} خلال {days}",
                         "{complaints} درباره {theme} در {days} گذشته"),
    "why_theme_last": ("{complaints} about {theme} (last on {date})", "{complaints} بخصوص {theme} (آخر شكوى في {date})",
                       "{complaints} درباره {theme} (آخرین شکایت در {date})"),
    "why_theme": ("{complaints} about {theme}", "{complaints} بخصوص {theme}", "{complaints} درباره {theme}"),
    "why_nps_fell": ("NPS fell from {first} to {latest}", "انخفضت درجة NPS من {first} إلى {latest}",
                     "امتیاز NPS از {first} به {latest} کاهش یافت"),
    "why_nps_detractor": ("gave NPS {score} (detractor)", "أعطى درجة {score} في استبيان NPS (من المنتقدين)",
                          "امتیاز {score} در نظرسنجی NPS داد (منتقد)"),
    "why_nps": ("gave NPS {score}", "أعطى درجة {score} في استبيان NPS", "امتیاز {score} در نظرسنجی NPS داد"),
    "why_nps_never": ("never answered an NPS survey", "لم يُجب قط عن استبيان NPS", "هرگز به نظرسنجی NPS پاسخ نداده"),
    "why_turned_negative": ("latest feedback turned negative", "آخر ملاحظاته كانت سلبية", "آخرین بازخوردش منفی بود"),
    "why_negative_comments": ("{comments}", "{comments}", "{comments}"),
    "why_no_positive": ("no positive feedback", "لا ملاحظات إيجابية", "بدون بازخورد مثبت"),
    "why_complaints_recent": ("{complaints} in {days}", "{complaints} خلال {days}", "{complaints} در {days} گذشته"),
    "why_complaints": ("{complaints}", "{complaints}", "{complaints}"),
    "why_unanswered": ("{complaints} with no positive follow-up", "{complaints} دون متابعة إيجابية بعدها",
                       "{complaints} بدون بازخورد مثبت پس از آن"),
    "why_feedback_items": ("{items}", "{items}", "{items}"),
    "why_tenure_short": ("customer for only {months}", "عميل منذ {months} فقط", "مدت مشتری بودن: فقط {months}"),
    "why_tenure": ("customer for {months}", "عميل منذ {months}", "مدت مشتری بودن: {months}"),
    "why_recency": ("no activity for {days}", "لا نشاط منذ {days}", "{days} بدون فعالیت"),
    "why_orders": ("low activity: {rate} orders a month", "نشاط منخفض: {rate} طلب شهريًا",
                   "فعالیت کم: {rate} سفارش در ماه"),
    "why_category": ("{feature}: {value}", "{feature}: {value}", "{feature}: {value}"),
    "why_value": ("{feature} {value}", "{feature}: {value}", "{feature}: {value}"),
    "why_value_high": ("{feature} {value} (high)", "{feature}: {value} (مرتفع)", "{feature}: {value} (بالا)"),
    "why_value_low": ("{feature} {value} (low)", "{feature}: {value} (منخفض)", "{feature}: {value} (پایین)"),
    "why_missing": ("{feature} missing", "{feature}: غير معروف", "{feature}: نامشخص"),
    # customer attributes named in churn reasons (the sample corpus's customers.csv), and their values
    "feat_plan": ("plan", "الباقة", "طرح"),
    "feat_domain": ("domain", "القطاع", "حوزه"),
    "feat_segment": ("segment", "فئة العميل", "نوع مشتری"),
    "feat_language": ("language", "اللغة", "زبان"),
    "feat_spend_per_order": ("spend_per_order", "متوسط قيمة الطلب", "میانگین مبلغ سفارش"),
    "feat_spend": ("spend", "إجمالي الإنفاق", "مجموع خرید"),
    "val_plan_basic": ("basic", "أساسية", "پایه"),
    "val_plan_standard": ("standard", "قياسية", "استاندارد"),
    "val_plan_premium": ("premium", "مميزة", "ویژه"),
    "val_domain_banking": ("banking", "الخدمات المصرفية", "بانکداری"),
    "val_domain_ecommerce": ("ecommerce", "التجارة الإلكترونية", "تجارت الکترونیک"),
    "val_domain_restaurants": ("restaurants", "المطاعم", "رستوران"),
    "val_domain_telecom": ("telecom", "الاتصالات", "مخابرات"),
    "val_segment_consumer": ("consumer", "أفراد", "حقیقی"),
    "val_segment_business": ("business", "شركات", "حقوقی"),
    "sec_quotes": ("What customers said, per theme", "ماذا قال العملاء، حسب الموضوع", "مشتریان چه گفتند، به تفکیک موضوع"),
    "quotes_note": ("Customer text as written, personal data masked.", "نص العميل كما كتبه، مع إخفاء البيانات الشخصية.",
                    "متن مشتری همان‌طور که نوشته، با پوشاندن اطلاعات شخصی."),
    # empty states
    "empty_analysis": ("No classifier results in the store for this period: run `sada analyze` with a classifier.",
                       "لا توجد نتائج تصنيف لهذه الفترة في قاعدة البيانات: شغّل ‎`sada analyze`‎ مع مصنِّف.",
                       "برای این دوره نتیجه طبقه‌بندی در پایگاه داده نیست: ‎`sada analyze`‎ را با طبقه‌بند اجرا کنید."),
    "empty_churn": ("No churn scores in the store yet: run `sada churn`.",
                    "لا توجد درجات خطر المغادرة بعد: شغّل ‎`sada churn`‎.",
                    "هنوز امتیاز ریسک ریزش در پایگاه داده نیست: ‎`sada churn`‎ را اجرا کنید."),
    "empty_lift": ("Lift needs customers with known churn outcomes and classified feedback in the store.",
                   "يحتاج حساب الأثر إلى عملاء معروفة حالة مغادرتهم وملاحظات مصنَّفة.",
                   "محاسبه اثر به مشتریانی با وضعیت ریزش معلوم و بازخورد طبقه‌بندی‌شده نیاز دارد."),
    "empty_nps": ("No NPS answers in the store.", "لا توجد إجابات NPS في قاعدة البيانات.",
                  "پاسخ NPS در پایگاه داده نیست."),
    "footer": ("One self-contained file: charts drawn with Plotly, embedded; nothing is fetched from the network. "
               "Customer text is escaped and shown with personal data masked.",
               "ملف واحد مكتفٍ بذاته: الرسوم البيانية مرسومة بـPlotly ومضمّنة؛ لا يُجلب شيء من الشبكة. "
               "نصوص العملاء معروضة بأمان مع إخفاء البيانات الشخصية.",
               "یک فایل خودبسنده: نمودارها با Plotly کشیده و درون فایل جاسازی شده‌اند؛ چیزی از شبکه دریافت نمی‌شود. "
               "متن مشتریان به‌صورت امن و با پوشاندن اطلاعات شخصی نمایش داده می‌شود."),
    "period_quarter": ("Q{q} {year}", "الربع {q} من {year}", "فصل {q} سال {year}"),
    "period_week": ("week {week} of {year}", "الأسبوع {week} من {year}", "هفته {week} سال {year}"),
    "period_year": ("{year}", "عام {year}", "سال {year}"),
    "period_range": ("{start} to {end}", "من {start} إلى {end}", "از {start} تا {end}"),
}

_INDEX = {"en": 0, "ar": 1, "fa": 2}


def arabic_plural_form(n: int) -> int:
    """Which Arabic form of a counted noun follows ``n``: an index into the Arabic forms of :data:`_NOUNS`.

    ``0``: one (``شكوى واحدة``), ``1``: two (``شكويان``; ``2`` after a preposition), ``3``: 3-10
    (``شكاوى``), ``4``: 11-99 (``شكوى``), ``5``: other (0, 100, 101, 102, ...). Numbers above 100
    follow their last two digits (103: ``شكاوى``, 111: ``شكوى``).

    Example:
        >>> [arabic_plural_form(n) for n in (1, 2, 3, 10, 11, 99, 100, 102, 103, 0)]
        [0, 1, 3, 3, 4, 4, 5, 5, 3, 5]
    """
    n = abs(int(n))
    if n in (1, 2):
        return n - 1
    if 3 <= n % 100 <= 10:
        return 3
    if 11 <= n % 100 <= 99:
        return 4
    return 5


def quote_direction(language: str | None) -> str:
    """``dir`` attribute for a customer text of stored language ``language`` (ar/fa/mixed: rtl, else auto)."""
    return "rtl" if language in ("ar", "fa", "mixed") else "auto"


@dataclass(frozen=True)
class Translator:
    """Labels and number formats of one interface language.

    Attributes:
        lang: ``en``, ``ar`` or ``fa``.
    """

    lang: str = "en"

    def __post_init__(self) -> None:
        if self.lang not in _INDEX:
            raise ConfigError(f"expected the report language to be one of en, ar, fa, found {self.lang!r}; "
                              "pass --lang en|ar|fa")

    @property
    def dir(self) -> str:
        """Page direction: ``rtl`` for Arabic and Persian, else ``ltr``."""
        return "ltr" if self.lang == "en" else "rtl"

    def t(self, key: str, **values: Any) -> str:
        """The label ``key`` in this language with ``values`` filled in (missing keys fall back to the key)."""
        entry = STRINGS.get(key)
        text = entry[_INDEX[self.lang]] if entry else key
        return text.format(**values) if values else text

    def digits(self, text: str) -> str:
        """``text`` with its digits in this language's script."""
        return localise_digits(text, self.lang)

    def _separators(self, text: str) -> str:
        if self.lang == "en":
            return text
        return self.digits(text.replace(",", "\u066c").replace(".", "\u066b"))

    def number(self, value: Any, decimals: int = 0) -> str:
        """A number with thousands separators; ``–`` for missing values."""
        if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
            return "–"
        return self._separators(f"{float(value):,.{decimals}f}")

    def percent(self, share: Any, decimals: int = 0) -> str:
        """A share (0..1) as a percentage, e.g. ``25%`` / ``٢٥٪``."""
        if share is None or pd.isna(share):
            return "–"
        text = self.number(100 * float(share), decimals)
        return text + ("%" if self.lang == "en" else "\u066a")

    def delta(self, value: Any, unit: str = "", decimals: int = 1) -> str:
        """A signed change without its unit: ``+12``, ``−3.1`` (``unit="pp"``: a share difference times 100).

        The unit (:meth:`unit`) is written outside the number so that the number alone
        can be isolated left to right in a right-to-left page.
        """
        if value is None or pd.isna(value):
            return "–"
        v = float(value) * (100 if unit == "pp" else 1)
        sign = "+" if v > 0 else "\u2212" if v < 0 else "±"
        body = self.number(abs(v), decimals if unit == "pp" or v % 1 else 0)
        return f"{sign}{body}"

    def count(self, n: int, noun: str, oblique: bool = False) -> str:
        """``n`` of a counted noun of :data:`_NOUNS`, in agreement: ``3 complaints``, ``٣ شكاوى``, ``۳ شکایت``.

        Args:
            n: How many (a whole number).
            noun: A key of :data:`_NOUNS`, e.g. ``complaint``.
            oblique: The count follows an Arabic preposition (``خلال يومين``, not ``خلال يومان``).

        Returns:
            The number in this language's digits with the noun, or the Arabic phrase for one and two.
        """
        en, ar, fa = _NOUNS[noun]
        n = int(n)
        if self.lang == "ar":
            form = arabic_plural_form(n)
            form = 2 if form == 1 and oblique else form
            return ar[form] if form < 3 else f"{self.number(n)} {ar[form]}"
        word = fa[0] if self.lang == "fa" else en[0] if n == 1 else en[1]
        return f"{self.number(n)} {word}"

    def unit(self, unit: str) -> str:
        """The label of a delta's unit (``pp``: percentage points), or ``""``."""
        return self.t("pp") if unit == "pp" else ""

    def month(self, when: pd.Timestamp) -> str:
        """``June 2026`` / ``يونيو ٢٠٢٦`` / ``ژوئن ۲۰۲۶``."""
        return f"{_MONTHS[self.lang][when.month - 1]} {self.digits(str(when.year))}"

    def date(self, when: Any) -> str:
        """A date, year first: ``2026-06-30``, ``٢٠٢٦/٠٦/٣٠``, ``۲۰۲۶/۰۶/۳۰``.

        Arabic and Persian use ``/``: a slash between digits keeps them one left-to-right
        number in right-to-left text, where a hyphen between Arabic-Indic digits would
        let the bidi algorithm reverse the parts.
        """
        if when is None or pd.isna(when):
            return "–"
        return self.digits(pd.Timestamp(when).strftime("%Y-%m-%d" if self.lang == "en" else "%Y/%m/%d"))

    def month_key(self, key: str) -> str:
        """A ``YYYY-MM`` key for chart axes: ``2026-06``, ``٢٠٢٦/٠٦``, ``۲۰۲۶/۰۶``."""
        return key if self.lang == "en" else self.digits(key.replace("-", "/"))

    def language(self, code: str | None) -> str:
        """Display name of a feedback language code."""
        return self.t(f"lang_{code}") if f"lang_{code}" in STRINGS else str(code)

    def channel(self, code: str | None) -> str:
        """Display name of a channel (unknown channels are shown as stored)."""
        if not code or code == "(none)":
            return self.t("ch_unknown")
        return self.t(f"ch_{code}") if f"ch_{code}" in STRINGS else str(code)

    def band(self, code: str | None) -> str:
        """Display name of a churn risk band."""
        return self.t(f"band_{code}") if f"band_{code}" in STRINGS else str(code)

    def segment(self, code: str | None) -> str:
        """Display name of a churn playbook segment."""
        return self.t(f"seg_{code}") if f"seg_{code}" in STRINGS else str(code)
