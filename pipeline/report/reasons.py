"""Churn reasons in the interface language.

``sada churn`` stores each customer's reasons as English sentences, each with the feature it came
from (:func:`pipeline.churn.reason_texts`: ``{"text": "2 complaints about billing and payments in 60
days", "feature": "complaint_billing", "contribution": 0.4}``). The counts, scores and dates are only
in the text, so a reason is read back with the English sentence its feature writes (:data:`_RULES`,
the sentences of ``pipeline.churn._reason``) and written again with the report's labels
(``why_*``, ``feat_*`` and ``val_*`` in :data:`pipeline.report.i18n.STRINGS`): the theme's name,
the digits, dates and counted nouns of the interface language. A reason that cannot be read back
(no sentence for its feature, a text that does not match it, a plain string without a feature, a
theme without a name) is shown as stored, in English.

Example:
    >>> from pipeline.report.i18n import Translator
    >>> stored = {"text": "2 complaints about billing and payments in 60 days", "feature": "complaint_billing"}
    >>> localise_reason(stored, Translator("ar"), {"billing": "الفواتير والمدفوعات"}).text
    'شكويان بخصوص الفواتير والمدفوعات خلال ٦٠ يومًا'
    >>> localise_reason({"text": "gave NPS 3 (detractor)", "feature": "nps_detractor"}, Translator("fa"), {})
    ShownReason(text='امتیاز ۳ در نظرسنجی NPS داد (منتقد)', translated=True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipeline.report.i18n import STRINGS, Translator

__all__ = ["ShownReason", "localise_reason"]


@dataclass(frozen=True)
class ShownReason:
    """A churn reason as the report shows it.

    Attributes:
        text: The sentence.
        translated: Whether it is in the interface language; if not, it is the stored English text.
    """

    text: str
    translated: bool


@dataclass(frozen=True)
class _Rule:
    """One English sentence of ``sada churn`` and the label that says it in the interface language.

    Attributes:
        key: The ``why_*`` key of :data:`pipeline.report.i18n.STRINGS`.
        pattern: The stored English sentence; its named groups are the label's placeholders.
        features: Features that write it; one ending in ``_`` is a prefix (``complaint_``: one per theme).
    """

    key: str
    pattern: re.Pattern[str]
    features: tuple[str, ...]


def _rule(key: str, pattern: str, *features: str) -> _Rule:
    return _Rule(key, re.compile(pattern), features)


_THEME = "complaint_"
_NPS = ("nps_change", "nps_latest_centered", "nps_detractor", "nps_promoter", "has_nps")
_SENTIMENT = ("n_negative", "any_negative", "sentiment_mean", "sentiment_trend")
_COMPLAINTS = ("n_complaints", "complaints_recent")

#: The sentences of ``pipeline.churn._reason``, per feature; the first that matches is used.
_RULES: tuple[_Rule, ...] = (
    _rule("why_theme_recent", r"(?P<complaints>\d+) complaints? about .+ in (?P<days>\d+) days", _THEME),
    _rule("why_theme_last", r"(?P<complaints>\d+) complaints? about .+ \(last on (?P<date>\d{4}-\d\d-\d\d)\)", _THEME),
    _rule("why_theme", r"(?P<complaints>\d+) complaints? about .+", _THEME),
    _rule("why_nps_fell", r"NPS fell from (?P<first>\d+) to (?P<latest>\d+)", *_NPS),
    _rule("why_nps_detractor", r"gave NPS (?P<score>\d+) \(detractor\)", *_NPS),
    _rule("why_nps", r"gave NPS (?P<score>\d+)", *_NPS),
    _rule("why_nps_never", r"never answered an NPS survey", *_NPS),
    _rule("why_turned_negative", r"latest feedback turned negative", *_SENTIMENT),
    _rule("why_negative_comments", r"(?P<comments>\d+) negative comments?", *_SENTIMENT),
    _rule("why_no_positive", r"no positive feedback", *_SENTIMENT, "any_positive", "n_positive"),
    _rule("why_complaints_recent", r"(?P<complaints>\d+) complaints? in (?P<days>\d+) days", *_COMPLAINTS),
    _rule("why_complaints", r"(?P<complaints>\d+) complaints?", *_COMPLAINTS),
    _rule("why_unanswered", r"(?P<complaints>\d+) complaints? with no positive follow-up", "unanswered_complaints"),
    _rule("why_feedback_items", r"(?P<items>\d+) feedback items?", "n_feedback"),
    _rule("why_tenure_short", r"customer for only (?P<months>\d+) months", "tenure_months"),
    _rule("why_tenure", r"customer for (?P<months>\d+) months", "tenure_months"),
    _rule("why_recency", r"no activity for (?P<days>\d+) days", "recency_days"),
    _rule("why_orders", r"low activity: (?P<rate>\d+(?:\.\d+)?) orders a month", "orders_per_month"),
)

#: Named groups that are counts: group -> (counted noun of :meth:`Translator.count`, after an Arabic preposition).
_COUNTED: dict[str, tuple[str, bool]] = {
    "complaints": ("complaint", False), "comments": ("negative_comment", False), "items": ("feedback_item", False),
    "days": ("day", True), "months": ("month", True),
}

#: A customer attribute's value as ``sada churn`` writes it (``%g``), with "(high)"/"(low)" against the median.
_NUMBER = r"(?P<value>-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)(?: \((?P<side>high|low)\))?"


def _plain_number(token: str, t: Translator) -> str:
    """A stored number (``0.6``, ``24.782``, ``1.5e+06``) in ``t``'s digits, with the decimals it was stored with.

    Example:
        >>> [_plain_number(x, Translator("ar")) for x in ("0.6", "24.782", "3", "1.5e+06")]
        ['٠٫٦', '٢٤٫٧٨٢', '٣', '١٬٥٠٠٬٠٠٠']
    """
    mantissa, _, exponent = token.lower().partition("e")
    decimals = max(0, len(mantissa.partition(".")[2]) - int(exponent or 0))
    return t.number(float(token), decimals)


def _value(group: str, token: str, t: Translator) -> str:
    """The value of one named group, written in ``t``'s language (a count with its noun, a date, a number)."""
    if group in _COUNTED:
        noun, oblique = _COUNTED[group]
        return t.count(int(token), noun, oblique=oblique)
    if group == "date":
        return t.date(token)
    return _plain_number(token, t)


def _writes(rule: _Rule, feature: str) -> bool:
    return any(feature.startswith(f) if f.endswith("_") else feature == f for f in rule.features)


def _category(feature: str, value: str, t: Translator) -> str:
    """A categorical attribute's value: a feedback language's name, a known value's label, else as stored."""
    if feature == "language":
        return t.language(value)
    key = f"val_{feature}_{value}"
    return t.t(key) if key in STRINGS else value


def _attribute(feature: str, text: str, t: Translator) -> str | None:
    """A reason about a customer attribute with a ``feat_*`` label (``plan: basic``, ``spend 24.8 (high)``)."""
    if f"feat_{feature}" not in STRINGS:
        return None
    label, name = t.t(f"feat_{feature}"), re.escape(feature)
    if m := re.fullmatch(rf"{name}: (?P<value>.+)", text):
        return t.t("why_category", feature=label, value=_category(feature, m["value"], t))
    if m := re.fullmatch(rf"{name} {_NUMBER}", text):
        key = f"why_value_{m['side']}" if m["side"] else "why_value"
        return t.t(key, feature=label, value=_plain_number(m["value"], t))
    if text == f"{feature} missing":
        return t.t("why_missing", feature=label)
    return None


def _rewrite(text: str, feature: str, t: Translator, names: dict[str, str]) -> str | None:
    """``text`` (written for ``feature``) in ``t``'s language, or ``None`` when it cannot be read back."""
    if not feature:
        return None
    for rule in _RULES:
        m = rule.pattern.fullmatch(text) if _writes(rule, feature) else None
        if m is None:
            continue
        values = {group: _value(group, token, t) for group, token in m.groupdict().items()}
        if feature.startswith(_THEME):
            theme = names.get(feature.removeprefix(_THEME))
            if not theme:
                return None
            values["theme"] = theme
        return t.t(rule.key, **values)
    return _attribute(feature, text, t)


def localise_reason(reason: dict[str, Any] | str, t: Translator, names: dict[str, str]) -> ShownReason:
    """One stored churn reason as the report shows it in ``t``'s language.

    Args:
        reason: A ``churn_scores.reasons`` entry: a ``{"text", "feature", ...}`` dict or a plain string.
        t: The interface language.
        names: Theme id -> theme name in ``t``'s language.

    Returns:
        The :class:`ShownReason`: on English pages the stored text; on Arabic and Persian pages the
        reason written in that language, or the stored English text (``translated=False``) when
        it cannot be read back.
    """
    text, feature = ((str(reason.get("text", "")), str(reason.get("feature") or "")) if isinstance(reason, dict)
                     else (str(reason), ""))
    if t.lang == "en":
        return ShownReason(text, True)
    words = _rewrite(text, feature, t, names)
    return ShownReason(text, False) if words is None else ShownReason(words, True)
