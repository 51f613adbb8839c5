"""Digits of the Arabic and Persian scripts: the one table that maps them to and from ASCII.

Customers type Arabic-Indic (``٠١٢``) or Persian (``۰۱۲``) digits, or both in one
phone number; the normaliser, the number/date parser, the survey reader and the PII
masks all read them as ASCII, and the report writes numbers back in the reader's script.

Example:
    >>> ascii_digits("۱۴۰۳/٠٥/12")
    '1403/05/12'
    >>> ascii_number("٣٫٥")
    '3.5'
    >>> localise_digits("2026-06", "fa")
    '۲۰۲۶-۰۶'
"""

from __future__ import annotations

__all__ = ["ARABIC_INDIC_DIGITS", "PERSIAN_DIGITS", "ascii_digits", "ascii_number", "localise_digits"]

ARABIC_INDIC_DIGITS = "٠١٢٣٤٥٦٧٨٩"
PERSIAN_DIGITS = "۰۱۲۳۴۵۶۷۸۹"
_ASCII = "0123456789"
_ARABIC_DECIMAL_SEPARATOR = "٫"

_TO_ASCII = str.maketrans(ARABIC_INDIC_DIGITS + PERSIAN_DIGITS, _ASCII * 2)
_NUMBER_TO_ASCII = str.maketrans(ARABIC_INDIC_DIGITS + PERSIAN_DIGITS + _ARABIC_DECIMAL_SEPARATOR, _ASCII * 2 + ".")
_FROM_ASCII = {"ar": str.maketrans(_ASCII, ARABIC_INDIC_DIGITS), "fa": str.maketrans(_ASCII, PERSIAN_DIGITS)}


def ascii_digits(text: str) -> str:
    """``text`` with every Arabic-Indic and Persian digit written as its ASCII digit.

    Example:
        >>> ascii_digits("٠٩١٢ ۳۴۵")
        '0912 345'
    """
    return text.translate(_TO_ASCII)


def ascii_number(text: str) -> str:
    """:func:`ascii_digits`, and the Arabic decimal separator ``٫`` read as ``.``: for parsing a number.

    Example:
        >>> float(ascii_number("۴٫۵"))
        4.5
    """
    return text.translate(_NUMBER_TO_ASCII)


def localise_digits(text: str, lang: str) -> str:
    """The ASCII digits of ``text`` in the script's digits (Arabic-Indic for ``ar``, Persian for ``fa``).

    Other languages keep ASCII digits.

    Example:
        >>> localise_digits("2026-06", "ar"), localise_digits("2026-06", "en")
        ('٢٠٢٦-٠٦', '2026-06')
    """
    table = _FROM_ASCII.get(lang)
    return text.translate(table) if table else text
