"""Churn reasons in the interface language.

``sada churn`` stores each customer's reasons as data: a ``why_*`` key, its parameters, the feature
it came from and its contribution (:func:`sada.pipeline.churn.reason_texts`), plus the English sentence
for the command line. The report writes each reason from ``key`` and ``params`` with the labels of
:data:`sada.pipeline.report.i18n.STRINGS`: the theme's name, the digits, dates and counted nouns of the
interface language. Nothing is parsed back from text. A reason that has no words in the interface
language (an attribute without a ``feat_*`` label, a theme without a name) or that was stored before
reasons were data (no ``key``) is shown as stored, in English.

Example:
    >>> from sada.pipeline.report.i18n import Translator
    >>> stored = {"text": "2 complaints about billing and payments in 60 days", "key": "why_theme_recent",
    ...           "params": {"theme": "billing", "complaints": 2, "days": 60}, "feature": "complaint_billing"}
    >>> localise_reason(stored, Translator("ar"), {"billing": "الفواتير والمدفوعات"}).text
    'شكويان بخصوص الفواتير والمدفوعات خلال ٦٠ يومًا'
    >>> localise_reason({"text": "gave NPS 3 (detractor)", "key": "why_nps_detractor", "params": {"score": 3}},
    ...                 Translator("fa"), {})
    ShownReason(text='امتیاز ۳ در نظرسنجی NPS داد (منتقد)', translated=True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sada.pipeline.report.i18n import STRINGS, Translator

__all__ = ["ShownReason", "localise_reason", "reason_words"]


@dataclass(frozen=True)
class ShownReason:
    """A churn reason as the report shows it.

    Attributes:
        text: The sentence.
        translated: Whether it is in the interface language; if not, it is the stored English text.
    """

    text: str
    translated: bool


#: Parameters that are counts: name -> (counted noun of :meth:`Translator.count`, after an Arabic preposition).
_COUNTED: dict[str, tuple[str, bool]] = {
    "complaints": ("complaint", False), "comments": ("negative_comment", False), "items": ("feedback_item", False),
    "days": ("day", True), "months": ("month", True),
}

def _plain_number(token: str, t: Translator) -> str:
    """A stored number (``0.6``, ``24.782``, ``1.5e+06``) in ``t``'s digits, with the decimals it was stored with.

    Example:
        >>> [_plain_number(x, Translator("ar")) for x in ("0.6", "24.782", "3", "1.5e+06")]
        ['٠٫٦', '٢٤٫٧٨٢', '٣', '١٬٥٠٠٬٠٠٠']
    """
    mantissa, _, exponent = token.lower().partition("e")
    decimals = max(0, len(mantissa.partition(".")[2]) - int(exponent or 0))
    return t.number(float(token), decimals)


def _param(name: str, value: Any, t: Translator) -> str:
    """One parameter written in ``t``'s language: a count with its noun, a date, a number."""
    if name in _COUNTED:
        noun, oblique = _COUNTED[name]
        return t.count(int(value), noun, oblique=oblique)
    if name == "date":
        return t.date(value)
    if isinstance(value, (int, float)):
        return _plain_number(f"{value:g}", t)
    return str(value)


def _category(feature: str, value: str, t: Translator) -> str:
    """A categorical attribute's value: a feedback language's name, a known value's label, else as stored."""
    if feature == "language":
        return t.language(value)
    key = f"val_{feature}_{value}"
    return t.t(key) if key in STRINGS else value


def reason_words(key: str, params: dict[str, Any], t: Translator, names: dict[str, str]) -> str | None:
    """The one wording of a churn reason, in ``t``'s language; ``None`` when it has no words there.

    In English a theme without a name and an attribute without a label are written as their ids,
    so every reason has an English sentence (:func:`sada.pipeline.churn.reasons.reason_text`).
    """
    if key not in STRINGS:
        return None
    english = t.lang == "en"
    values: dict[str, str] = {}
    for name, value in params.items():
        if name == "theme":
            if not names.get(value) and not english:
                return None
            values[name] = names.get(value) or str(value)
        elif name == "feature":
            if f"feat_{value}" not in STRINGS and not english:
                return None
            values[name] = t.t(f"feat_{value}") if f"feat_{value}" in STRINGS else str(value)
        elif name == "value" and key == "why_category":
            values[name] = _category(str(params["feature"]), str(value), t)
        else:
            values[name] = _param(name, value, t)
    return t.t(key, **values)


def localise_reason(reason: dict[str, Any] | str, t: Translator, names: dict[str, str]) -> ShownReason:
    """One stored churn reason as the report shows it in ``t``'s language.

    Args:
        reason: A ``churn_scores.reasons`` entry: a ``{"text", "key", "params", ...}`` dict, or (from
            before reasons were data) a ``{"text", "feature"}`` dict or a plain string.
        t: The interface language.
        names: Theme id -> theme name in ``t``'s language.

    Returns:
        The :class:`ShownReason`: on English pages the stored text; on Arabic and Persian pages the
        reason written in that language from its key and parameters, or the stored English text
        (``translated=False``) when it has no words there.
    """
    if not isinstance(reason, dict):
        return ShownReason(str(reason), t.lang == "en")
    text = str(reason.get("text", ""))
    if t.lang == "en":
        return ShownReason(text, True)
    words = reason_words(str(reason.get("key") or ""), dict(reason.get("params") or {}), t, names)
    return ShownReason(text, False) if words is None else ShownReason(words, True)
