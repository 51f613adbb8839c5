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

import json
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

from sada.pipeline.errors import CorpusError, ModelNotFoundError

__all__ = ["DEFAULT_MODEL_DIR", "LANGUAGES", "LanguageGuess", "LanguageIdentifier", "default_identifier", "script_of",
           "train_on_corpus"]

logger = logging.getLogger(__name__)

LANGUAGES = ("ar", "fa", "mixed", "other")

_SEGMENTS = re.compile(r"[.!?؟\n،,;؛]+")
_NOT_ARABIC_LETTER = re.compile(r"[^\u0621-\u063a\u0641-\u064a\u066e-\u06d3\u06fa-\u06ff\s]+")
#: URLs, e-mail addresses and @mentions carry Latin letters that say nothing about the writer's language.
_NOT_LANGUAGE = re.compile(r"(?i)(?:https?://|www\.)\S+|\S+@\S+\.\S+|@\w+|\[(?:URL|EMAIL|PHONE|CARD|IBAN)\]")
#: Laughter (ههههه, خخخخ) is written alike in Arabic and Persian; elongation (جمييييل) repeats one letter.
_HASHTAG = re.compile(r"#\w+")
_LAUGHTER = re.compile(r"\b(?:ه{2,}|(?:ها){2,}|خ{3,}|ع{3,})\b")
_ELONGATION = re.compile(r"(.)\1{2,}")
NGRAM_RANGE = (1, 4)
_MIXED_MIN_LETTERS = 15
_MIXED_MIN_CONFIDENCE = 0.99


def _letters_only(text: str) -> str:
    """Arabic-script letters and spaces: URLs, mentions, punctuation, digits, Latin and laughter say nothing here.

    Example:
        >>> _letters_only("جمييييييل ههههههه @ali_88 https://t.co/x1")
        'جميل'
    """
    text = _LAUGHTER.sub(" ", _NOT_LANGUAGE.sub(" ", text))
    text = _ELONGATION.sub(r"\1", _NOT_ARABIC_LETTER.sub(" ", text))
    return " ".join(text.split())


def script_of(text: str) -> str:
    """The dominant script of ``text``: arabic, latin, none or other.

    URLs, e-mail addresses, @mentions and hashtags are left out first
    (hashtags count only when the text has no other letters).

    Example:
        >>> script_of("سلام hello world"), script_of("😍👍 123"), script_of("Привет")
        ('latin', 'none', 'other')
        >>> script_of("محد صاح @someone https://t.co/AbCdEfGh #MannequinChallenge"), script_of("#خدمة_سيئة")
        ('arabic', 'arabic')
    """
    return _dominant_script(_letter_counts(text))


def _dominant_script(counts: tuple[int, int, int]) -> str:
    if counts == (0, 0, 0):
        return "none"
    arabic, latin, other = counts
    best = max(counts)
    return "arabic" if arabic == best else "latin" if latin == best else "other"


def _letter_counts(text: str) -> tuple[int, int, int]:
    """Arabic-script, Latin and other letters, after URLs, e-mails, mentions and (if others remain) hashtags."""
    text = _NOT_LANGUAGE.sub(" ", text)
    without_tags = _HASHTAG.sub(" ", text)
    if any(ch.isalpha() for ch in without_tags):
        text = without_tags
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
    return arabic, latin, other


#: A Latin-majority text with at least this many Arabic-script letters, and this share of its letters,
#: is Arabic or Persian quoting product names ("إيجابيات و سلبيات Sandisk Cruzer Blade").
_MIN_ARABIC_LETTERS = 8
_MIN_ARABIC_SHARE = 0.25


def _writes_arabic_script(counts: tuple[int, int, int]) -> bool:
    """Whether the writer's own words are in Arabic script (the dominant script, or enough of it).

    Example:
        >>> [_writes_arabic_script(_letter_counts(t)) for t in ("- إيجابيات و سلبيات Sandisk Cruzer", "great app شكرا")]
        [True, False]
    """
    arabic, latin, other = counts
    if arabic and arabic >= max(latin, other):
        return True
    return arabic >= _MIN_ARABIC_LETTERS and arabic >= _MIN_ARABIC_SHARE * (arabic + latin + other)


@dataclass(frozen=True)
class LanguageGuess:
    """A language (ar, fa, mixed, other or unsupported) and the model's confidence."""

    language: str
    confidence: float
    script: str


class LanguageIdentifier:
    """Character n-gram naive Bayes over Arabic-script text, with script rules around it.

    Build it with :meth:`train`, load a saved one with :meth:`from_pretrained`
    (:func:`default_identifier` loads the one shipped in ``pipeline/language_id``),
    and call it on texts.

    Args:
        ngrams: The character n-grams (the vectorizer's vocabulary), in column order.
        classes: The languages, in row order of ``log_probs``.
        log_probs: log P(n-gram | language), one row per class.
    """

    def __init__(self, ngrams: Sequence[str], classes: Sequence[str], log_probs: np.ndarray) -> None:
        self._vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=False,
                                           vocabulary=list(ngrams))
        self._classes = list(classes)
        self._log_probs = np.asarray(log_probs, dtype=np.float64)

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], alpha: float = 0.1) -> LanguageIdentifier:
        """Fit on Arabic-script texts labelled ``ar`` or ``fa`` (other rows are ignored)."""
        pairs = [(t, y) for t, y in zip(texts, labels) if y in ("ar", "fa") and script_of(t) == "arabic"]
        if {y for _, y in pairs} != {"ar", "fa"}:
            raise CorpusError("language ID needs Arabic-script training texts labelled both 'ar' and 'fa', found "
                              f"{sorted({y for _, y in pairs})}")
        vectorizer = CountVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=False, min_df=1)
        features = vectorizer.fit_transform([_letters_only(t) for t, _ in pairs])
        model = MultinomialNB(alpha=alpha, fit_prior=False).fit(features, [y for _, y in pairs])
        return cls(vectorizer.get_feature_names_out().tolist(), [str(c) for c in model.classes_],
                   model.feature_log_prob_)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> LanguageIdentifier:
        """Load an identifier saved by :meth:`save_pretrained`.

        Raises:
            ModelNotFoundError: the folder or one of its files is missing.
        """
        from safetensors.numpy import load_file

        directory = Path(directory)
        files = [directory / name for name in ("config.json", "vocab.json", "weights.safetensors")]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ModelNotFoundError(f"expected a language-ID model in {directory}, missing {missing}; "
                                     "rebuild it with `python -m sada.pipeline.language --out DIR`")
        config = json.loads(files[0].read_text(encoding="utf-8"))
        ngrams = json.loads(files[1].read_text(encoding="utf-8"))
        return cls(ngrams, config["classes"], load_file(str(files[2]))["log_probs"])

    def save_pretrained(self, directory: str | Path, trained_on: dict[str, int] | None = None) -> None:
        """Write ``config.json``, ``vocab.json`` and ``weights.safetensors`` (no pickle) into ``directory``."""
        from safetensors.numpy import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"model": "character n-gram multinomial naive Bayes (uniform prior)", "classes": self._classes,
                  "analyzer": "char_wb", "ngram_range": list(NGRAM_RANGE), "features": len(self._ngrams),
                  "input": "Arabic-script letters only (sada.pipeline.language._letters_only)",
                  "trained_on": trained_on or {}}
        (directory / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
        (directory / "vocab.json").write_text(json.dumps(self._ngrams, ensure_ascii=False) + "\n", encoding="utf-8")
        save_file({"log_probs": np.ascontiguousarray(self._log_probs)}, str(directory / "weights.safetensors"))

    @property
    def _ngrams(self) -> list[str]:
        return list(self._vectorizer.vocabulary)

    def __call__(self, text: str) -> LanguageGuess:
        return self.predict([text])[0]

    def predict(self, texts: Sequence[str]) -> list[LanguageGuess]:
        """Guess the language of many texts at once."""
        guesses: list[LanguageGuess | None] = [None] * len(texts)
        arabic_idx = []
        for i, text in enumerate(texts):
            counts = _letter_counts(text)  # once per text: both rules read the same counts
            script = "arabic" if _writes_arabic_script(counts) else _dominant_script(counts)
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
        """P(language | text) under the naive Bayes model with a uniform prior."""
        counts = self._vectorizer.transform([_letters_only(t) for t in texts])
        joint = np.asarray(counts @ self._log_probs.T)
        joint -= joint.max(axis=1, keepdims=True)
        probs = np.exp(joint)
        return probs / probs.sum(axis=1, keepdims=True)

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


#: The identifier shipped with Sada, trained on the sample corpus (rebuild: ``python -m sada.pipeline.language``).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "language_id"


@lru_cache(maxsize=4)
def default_identifier(model_dir: Path | None = None) -> LanguageIdentifier:
    """The shipped identifier (or the one saved in ``model_dir``), loaded once per process."""
    return LanguageIdentifier.from_pretrained(model_dir or DEFAULT_MODEL_DIR)


def train_on_corpus(corpus_dir: Path | None = None) -> tuple[LanguageIdentifier, dict[str, int]]:
    """An identifier trained on the sample corpus's texts, and how many texts per language it saw."""
    from sada.pipeline.corpus import load_feedback

    frame = load_feedback(corpus_dir=corpus_dir) if corpus_dir else load_feedback()
    logger.info("training language ID on %d corpus texts", len(frame))
    counts = {str(k): int(v) for k, v in frame["language"].value_counts().sort_index().items()}
    return LanguageIdentifier.train(frame["text"].tolist(), frame["language"].tolist()), counts


def main(argv: Sequence[str] | None = None) -> None:
    """Rebuild the shipped language-ID model from the sample corpus."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="Folder to write the model into.")
    parser.add_argument("--corpus-dir", type=Path, default=None, help="Corpus folder (default: corpus/).")
    args = parser.parse_args(argv)
    identifier, counts = train_on_corpus(args.corpus_dir)
    identifier.save_pretrained(args.out, trained_on={f"corpus/feedback.csv ({k})": v for k, v in counts.items()})
    print(f"wrote {args.out} ({len(identifier._ngrams)} n-grams)")


if __name__ == "__main__":
    main()
