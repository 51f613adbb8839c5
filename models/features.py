"""TF-IDF text features (word and character n-grams) stored without pickle.

scikit-learn's vectorisers are rebuilt from a JSON vocabulary and a float32
IDF array, so the artifact holds only data (``vocab.json`` + safetensors),
never code.

Example:
    >>> tf = TfidfFeatures(max_word=50, max_char=200, min_df=1).fit(["الخدمة ممتازة", "خدمة سيئة جدا"])
    >>> tf.transform(["الخدمة سيئة"]).shape[0]
    1
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["TfidfFeatures"]

logger = logging.getLogger(__name__)


def _word_vectorizer(max_features: int | None, min_df: int = 2) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="word",
        ngram_range=(1, 2),
        token_pattern=r"(?u)\b\w+\b",
        min_df=min_df,
        max_features=max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )


def _char_vectorizer(max_features: int | None, min_df: int = 2) -> TfidfVectorizer:
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=min_df,
        max_features=max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )


class TfidfFeatures:
    """Word (1-2) and char_wb (2-5) TF-IDF, L2-normalised per view, concatenated.

    Args:
        max_word: Word n-gram vocabulary cap.
        max_char: Character n-gram vocabulary cap.
        min_df: Minimum document frequency of a kept n-gram.
    """

    def __init__(self, max_word: int | None = 40000, max_char: int | None = 80000, min_df: int = 2) -> None:
        self.max_word = max_word
        self.max_char = max_char
        self.word = _word_vectorizer(max_word, min_df)
        self.char = _char_vectorizer(max_char, min_df)

    def fit(self, texts: list[str]) -> "TfidfFeatures":
        """Learn vocabularies and IDF weights from ``texts``."""
        self.word.fit(texts)
        self.char.fit(texts)
        logger.info("tfidf: %d word, %d char features", len(self.word.vocabulary_), len(self.char.vocabulary_))
        return self

    @property
    def n_features(self) -> int:
        """Total number of columns."""
        return len(self.word.vocabulary_) + len(self.char.vocabulary_)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Sparse ``(n, n_features)`` float32 matrix."""
        return sp.hstack([self.word.transform(texts), self.char.transform(texts)], format="csr")

    # ------------------------------------------------------------------ persistence
    def to_state(self, prefix: str = "tfidf") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-able vocabularies and the IDF arrays (named ``<prefix>.word.idf`` and ``<prefix>.char.idf``)."""
        vocab = {}
        arrays = {}
        for name, vec in (("word", self.word), ("char", self.char)):
            terms = [""] * len(vec.vocabulary_)
            for term, idx in vec.vocabulary_.items():
                terms[idx] = term
            vocab[name] = terms
            arrays[f"{prefix}.{name}.idf"] = vec.idf_.astype(np.float32)
        vocab["max_word"] = self.max_word
        vocab["max_char"] = self.max_char
        return vocab, arrays

    @classmethod
    def from_state(cls, vocab: dict[str, Any], arrays: dict[str, np.ndarray], prefix: str = "tfidf") -> "TfidfFeatures":
        """Rebuild fitted vectorisers from :meth:`to_state` output (written with the same ``prefix``)."""
        self = cls(int(vocab.get("max_word", 0)) or None, int(vocab.get("max_char", 0)) or None)
        for name, vec in (("word", self.word), ("char", self.char)):
            terms = vocab[name]
            vec.vocabulary_ = {t: i for i, t in enumerate(terms)}
            vec.fixed_vocabulary_ = True
            vec.idf_ = np.asarray(arrays[f"{prefix}.{name}.idf"], dtype=np.float64)
        return self
