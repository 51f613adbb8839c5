"""Normalise feedback text by language: camel-tools for Arabic, hazm for Persian.

The libraries do the language work; this module routes each text to the right
one and adds what they don't cover: PII masking, elongation, emoji and
punctuation cues kept as signal, ASCII digits everywhere. Cues are taken from
the raw text *before* normalising because camel-tools' ``arclean`` deletes
emoji and hazm shortens elongations. The Arabic normaliser is never run on
Persian, nor the reverse (``arclean`` would turn ک into ك and پ into ب).

Example:
    >>> normaliser = Normaliser()
    >>> normaliser("الخدمةُ ممتازة جداااا 😍", "ar").text
    'الخدمه ممتازه جدا 😍'
    >>> normaliser("خيلي عاااالی بود، مي شه دوباره سفارش داد", "fa").text
    'خیلی عالی بود ، می\u200cشه دوباره سفارش داد'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import emoji
from camel_tools.tokenizers.word import simple_word_tokenize
from camel_tools.utils.charmap import CharMapper
from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import normalize_alef_ar, normalize_alef_maksura_ar, normalize_teh_marbuta_ar

from sada.pipeline.digits import ascii_digits
from sada.pipeline.pii import mask_pii  # re-exported: PII masking lives in pipeline/pii.py

__all__ = ["Cues", "NormalisedText", "Normaliser", "extract_cues", "mask_pii", "reduce_elongation"]

# ---------------------------------------------------------------- tables, built once

_ARABIC_LETTER = "\u0621-\u064a\u066e-\u06d3\u06fa-\u06ff"
_ELONGATED_AR = re.compile(rf"([{_ARABIC_LETTER}])\1{{2,}}")
_ELONGATED_LATIN = re.compile(r"([A-Za-z])\1{2,}")
_TATWEEL = re.compile("\u0640+")
_EXCLAIM = re.compile(r"[!！]{2,}")
_QUESTION = re.compile(r"[?؟]{2,}")
_PLACEHOLDER = re.compile(r"\[\s*(URL|EMAIL|PHONE|CARD|IBAN|NATIONAL)(\s*_\s*ID)?\s*\]")
_SPACES = re.compile(r"\s+")


def reduce_elongation(text: str) -> str:
    """Collapse letter runs: Arabic script to one letter, Latin to two; drop tatweel.

    Example:
        >>> reduce_elongation("جمييييل ومـــمتاز soooo good")
        'جميل وممتاز soo good'
    """
    text = _TATWEEL.sub("", text)
    text = _ELONGATED_AR.sub(r"\1", text)
    return _ELONGATED_LATIN.sub(r"\1\1", text)


@dataclass(frozen=True)
class Cues:
    """Signals in the raw text that normalisation would erase."""

    emoji: tuple[str, ...] = ()
    elongations: int = 0
    exclamation_runs: int = 0
    question_runs: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "emoji": list(self.emoji),
            "elongations": self.elongations,
            "exclamation_runs": self.exclamation_runs,
            "question_runs": self.question_runs,
        }


def extract_cues(text: str) -> Cues:
    """Emoji, elongations and !!!/??? runs of a raw text.

    Example:
        >>> extract_cues("زفت!!! 😡😡 خيييير؟؟").as_dict()
        {'emoji': ['😡', '😡'], 'elongations': 1, 'exclamation_runs': 1, 'question_runs': 1}
    """
    return Cues(
        emoji=tuple(e["emoji"] for e in emoji.emoji_list(text)),
        elongations=len(_ELONGATED_AR.findall(text)) + len(_ELONGATED_LATIN.findall(text)),
        exclamation_runs=len(_EXCLAIM.findall(text)),
        question_runs=len(_QUESTION.findall(text)),
    )


@dataclass(frozen=True)
class NormalisedText:
    """The normalised text (tokens joined by spaces), its tokens and the cues."""

    text: str
    tokens: tuple[str, ...]
    cues: Cues = field(default_factory=Cues)


def _rejoin_placeholder(match: re.Match[str]) -> str:
    """A placeholder the tokenizers split (``[ NATIONAL _ ID ]``) written whole again."""
    return f"[{match.group(1)}{'_ID' if match.group(2) else ''}]"


# hazm's objects are built once per process, not once per Normaliser (each analyze() builds one):
# WordTokenizer loads its word lists in about 1 s (measured: 2.6 s per Normaliser on a loaded 2-core box).
@lru_cache(maxsize=1)
def _hazm_normalizer():
    from hazm import Normalizer

    return Normalizer(persian_numbers=False)


@lru_cache(maxsize=1)
def _hazm_tokenizer():
    from hazm import WordTokenizer

    return WordTokenizer(separate_emoji=True)


class Normaliser:
    """Route texts to camel-tools (ar) or hazm (fa); one flag per extra step.

    Build it once and reuse it: hazm's WordTokenizer takes about half a second
    to build, then tokenises thousands of items a second.

    Args:
        mask_pii: replace URLs, e-mails, phone, card and IBAN numbers with placeholders.
        reduce_elongation: collapse repeated letters and tatweel.
        ascii_digits: write Arabic-Indic and Persian digits as 0-9.
    """

    def __init__(self, mask_pii: bool = True, reduce_elongation: bool = True, ascii_digits: bool = True) -> None:
        self.mask_pii = mask_pii
        self.reduce_elongation = reduce_elongation
        self.ascii_digits = ascii_digits

    @property
    def is_default(self) -> bool:
        """Whether every step is on, as for the classifier's training texts (its output can then feed the model)."""
        return self.mask_pii and self.reduce_elongation and self.ascii_digits

    # The library objects are built on first use, not at import or construction; hazm is imported
    # here too: it takes 1.8 s to import (measured), and Arabic-only runs never need it.
    @cached_property
    def _arclean(self):
        return CharMapper.builtin_mapper("arclean")

    @property
    def _hazm_normalizer(self):
        return _hazm_normalizer()

    @property
    def _hazm_tokenizer(self):
        return _hazm_tokenizer()

    def load(self) -> Normaliser:
        """Build the libraries' objects now instead of on the first text of each language; returns ``self``.

        hazm's word lists take about 2.7 s to read (measured on 2 cores), once per process. A long-running
        job calls this while it loads its model, so its first batch does not pay for them.
        """
        self._arclean  # noqa: B018 - cached_property: built here
        _hazm_normalizer()
        _hazm_tokenizer()
        return self

    def __call__(self, text: str, language: str) -> NormalisedText:
        """Normalise one raw text whose language is ``ar``, ``fa``, ``mixed`` or ``other``."""
        cues = extract_cues(text)
        if self.mask_pii:
            text = mask_pii(text)
        if self.reduce_elongation:
            text = reduce_elongation(text)
        if language == "ar":
            tokens = self._arabic_tokens(text)
        elif language == "fa":
            tokens = self._persian_tokens(text)
        else:  # mixed or Latin script: shared steps only, never one language's rules on the other
            tokens = simple_word_tokenize(text)
        joined = _PLACEHOLDER.sub(_rejoin_placeholder, " ".join(tokens))
        if self.ascii_digits:
            joined = ascii_digits(joined)
        joined = _SPACES.sub(" ", joined).strip()
        return NormalisedText(joined, tuple(joined.split(" ")) if joined else (), cues)

    def _arabic_tokens(self, text: str) -> list[str]:
        tokens = []
        for token in simple_word_tokenize(text):
            # arclean deletes what is outside its map (emoji included): apply it to Arabic tokens only
            if any("\u0600" <= ch <= "\u06ff" for ch in token):
                token = self._arclean(token)
                token = normalize_teh_marbuta_ar(normalize_alef_maksura_ar(normalize_alef_ar(dediac_ar(token))))
            if token.strip():
                tokens.append(token)
        return tokens

    def _persian_tokens(self, text: str) -> list[str]:
        return self._hazm_tokenizer.tokenize(self._hazm_normalizer.normalize(text))
