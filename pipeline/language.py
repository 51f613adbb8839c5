"""Language identification for Arabic-script feedback: ar, fa, mixed or other.

Arabic and Persian share a script, so the script alone says little. Persian
has letters Arabic lacks (پ چ ژ گ and its own ی/ک), Arabic has ة and ى and
its own ي/ك, and each has frequent function words; a character n-gram naive
Bayes model trained on the sample corpus weighs all of these at once (its
char_wb n-grams include single letters and short words). Latin-script text
(English, Arabizi, Finglish) and text without letters are ``other``; text
mostly in another script (Cyrillic, CJK, ...) is ``unsupported``. A text
whose sentences are confidently Arabic and confidently Persian is ``mixed``.

Example:
    >>> identifier = LanguageIdentifier.train(
    ...     ["الخدمة ممتازة جدا", "التوصيل كان متأخرا", "خیلی عالی بود", "پشتیبانی جواب نمی‌دهد"],
    ...     ["ar", "ar", "fa", "fa"])
    >>> identifier("الطلب وصل متأخر").language
    'ar'
    >>> identifier("سفارش دیر رسید").language
    'fa'
    >>> identifier("great service 👍").language
    'other'
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.naive_bayes import MultinomialNB

from pipeline.errors import CorpusError

__all__ = ["LANGUAGES", "LanguageGuess", "LanguageIdentifier", "default_identifier", "script_of"]

logger = logging.getLogger(__name__)

LANGUAGES = ("ar", "fa", "mixed", "other")

_SEGMENTS = re.compile(r"[.!?؟\n،,;؛]+")
_NOT_ARABIC_LETTER = re.compile(r"[^\u0621-\u063a\u0641-\u064a\u066e-\u06d3\u06fa-\u06ff\s]+")
_MIXED_MIN_LETTERS = 15
_MIXED_MIN_CONFIDENCE = 0.99


def _letters_only(text: str) -> str:
    """Arabic-script letters and spaces: punctuation runs, digits and Latin say nothing here."""
    return " ".join(_NOT_ARABIC_LETTER.sub(" ", text).split())


def script_of(text: str) -> str:
    """The dominant script of ``text``: arabic, latin, none or other.

    Example:
        >>> script_of("سلام hello world"), script_of("😍👍 123"), script_of("Привет")
        ('latin', 'none', 'other')
    """
    arabic = latin = other = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if "\u0600" <= ch <= "\u06ff" or "\u0750" <= ch <= "\u077f" or "\ufb50" <= ch <= "\ufefc":
            arabic += 1
        elif ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
            latin += 1
        else:
            other += 1
    if arabic == latin == other == 0:
        return "none"
    best = max(arabic, latin, other)
    return "arabic" if arabic == best else "latin" if latin == best else "other"


@dataclass(frozen=True)
class LanguageGuess:
    """A language (ar, fa, mixed, other or unsupported) and the model's confidence."""

    language: str
    confidence: float
    script: str


class LanguageIdentifier:
    """Character n-gram naive Bayes over Arabic-script text, with script rules around it.

    Build it with :meth:`train` (or :func:`default_identifier`, trained on the
    sample corpus once per process) and call it on texts.
    """

    def __init__(self, vectorizer: CountVectorizer, model: MultinomialNB) -> None:
        self._vectorizer = vectorizer
        self._model = model
        self._classes = list(model.classes_)

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], alpha: float = 0.1) -> LanguageIdentifier:
        """Fit on Arabic-script texts labelled ``ar`` or ``fa`` (other rows are ignored)."""
        pairs = [(t, y) for t, y in zip(texts, labels) if y in ("ar", "fa") and script_of(t) == "arabic"]
        if {y for _, y in pairs} != {"ar", "fa"}:
            raise CorpusError("language ID needs Arabic-script training texts labelled both 'ar' and 'fa', found "
                              f"{sorted({y for _, y in pairs})}")
        vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=False, min_df=1)
        features = vectorizer.fit_transform([_letters_only(t) for t, _ in pairs])
        model = MultinomialNB(alpha=alpha, fit_prior=False).fit(features, [y for _, y in pairs])
        return cls(vectorizer, model)

    def __call__(self, text: str) -> LanguageGuess:
        return self.predict([text])[0]

    def predict(self, texts: Sequence[str]) -> list[LanguageGuess]:
        """Guess the language of many texts at once."""
        guesses: list[LanguageGuess | None] = [None] * len(texts)
        arabic_idx = []
        for i, text in enumerate(texts):
            script = script_of(text)
            if script == "arabic":
                arabic_idx.append(i)
            elif script == "other":
                guesses[i] = LanguageGuess("unsupported", 1.0, script)
            else:
                guesses[i] = LanguageGuess("other", 1.0, script)
        if arabic_idx:
            probs = self._probabilities([texts[i] for i in arabic_idx])
            mixed = self._mixed([texts[i] for i in arabic_idx])
            for i, row, is_mixed in zip(arabic_idx, probs, mixed):
                best = int(np.argmax(row))
                language = "mixed" if is_mixed else str(self._classes[best])
                guesses[i] = LanguageGuess(language, float(row[best]), "arabic")
        return guesses  # type: ignore[return-value]

    def _probabilities(self, texts: Sequence[str]) -> np.ndarray:
        return self._model.predict_proba(self._vectorizer.transform([_letters_only(t) for t in texts]))

    def _mixed(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text has a confidently Arabic and a confidently Persian sentence (one model call)."""
        owners, segments = [], []
        for n, text in enumerate(texts):
            parts = [s for s in _SEGMENTS.split(text) if len(_letters_only(s).replace(" ", "")) >= _MIXED_MIN_LETTERS]
            if len(parts) >= 2:
                owners.extend([n] * len(parts))
                segments.extend(parts)
        found: dict[int, set[str]] = {}
        if segments:
            for n, p in zip(owners, self._probabilities(segments)):
                if p.max() >= _MIXED_MIN_CONFIDENCE:
                    found.setdefault(n, set()).add(str(self._classes[int(np.argmax(p))]))
        return [found.get(n) == {"ar", "fa"} for n in range(len(texts))]


@lru_cache(maxsize=4)
def default_identifier(corpus_dir: Path | None = None) -> LanguageIdentifier:
    """An identifier trained on the sample corpus's texts (once per process and corpus)."""
    from pipeline.corpus import load_feedback

    frame = load_feedback(corpus_dir=corpus_dir) if corpus_dir else load_feedback()
    logger.info("training language ID on %d corpus texts", len(frame))
    return LanguageIdentifier.train(frame["text"].tolist(), frame["language"].tolist())
