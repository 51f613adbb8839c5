"""Complaints no theme covers, grouped into candidate themes a team can name and add to its taxonomy.

The uncovered complaints (a complaint whose newest analysis found no theme, or only ``other``) are
clustered with k-means on their vectors from the general-purpose encoder (:func:`discover`; the
classifier's fine-tuned encoder is shaped by sentiment and the shipped themes, so topics outside them
separate less well there: measured on a planted group of parking complaints, its vectors spread them
over three groups where the general-purpose ones gave two groups of one language each); each group of at least
``min_size`` items becomes a candidate with its size, its key phrases per language (the words and word
pairs most particular to it, TF-IDF against the other uncovered complaints), the quotes nearest its
centre per language (PII masked) and its count per month. :func:`candidate_stub` writes one as a
taxonomy entry to edit.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any, Sequence

import hazm
import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import TfidfVectorizer

from sada.pipeline.classify import as_dict
from sada.pipeline.pii import mask_pii

__all__ = ["Candidate", "candidate_stub", "discover", "uncovered_complaints"]

logger = logging.getLogger(__name__)

MAX_CLUSTERS = 12
PHRASES = 6
QUOTES = 3


@dataclass
class Candidate:
    """A group of uncovered complaints that may deserve a theme of its own."""

    id: str
    size: int
    share: float                                   # of the uncovered complaints
    languages: dict[str, int]
    key_phrases: dict[str, list[str]]              # per language
    quotes: dict[str, list[str]]                   # per language, nearest the centre, PII masked
    by_month: dict[str, int] = field(default_factory=dict)
    members: list[int] = field(default_factory=list)  # indices into the items given to :func:`discover`

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "members"}


def uncovered_complaints(store: Any) -> tuple[list[dict[str, Any]], int]:
    """The stored complaints whose newest analysis found no theme or only ``other``, and how many complaints
    there are in all."""
    complaints = store.complaints()
    return [r for r in complaints if set(as_dict(r["themes"])) <= {"other"}], len(complaints)


def _clusters(vectors: np.ndarray, min_size: int, seed: int) -> np.ndarray:
    """k-means on the vectors centred on their mean: what all complaints share (being a complaint, the
    language) is taken out, so what they are about decides the groups."""
    centred = vectors - vectors.mean(axis=0, keepdims=True)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True) + 1e-9
    k = int(min(MAX_CLUSTERS, max(2, len(vectors) // (2 * min_size))))
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(centred)


_WORD = re.compile(r"(?u)\b\w{3,}\b")  # the key phrases' tokens


@lru_cache(maxsize=1)
def _stop_words() -> list[str]:
    """hazm's Persian stop words (the Arabic function words are short or frequent enough to drop anyway)."""
    words = set(hazm.stopwords_list())
    return sorted(words | {token for w in words for token in _WORD.findall(w)})


def _key_phrases(texts: Sequence[str], member: np.ndarray) -> list[str]:
    """The words and word pairs most particular to the members, against the other texts."""
    if member.all() or not member.any():
        return []
    try:  # words of 3+ letters in at most a quarter of the texts: function words say nothing of a topic
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_df=0.25, sublinear_tf=True,
                                token_pattern=_WORD.pattern, stop_words=_stop_words())
        x = tfidf.fit_transform(texts)
    except ValueError:  # every term is too rare
        return []
    lift = np.asarray(x[member].mean(axis=0)).ravel() - np.asarray(x[~member].mean(axis=0)).ravel()
    terms = tfidf.get_feature_names_out()
    return [str(terms[i]) for i in np.argsort(-lift)[:PHRASES] if lift[i] > 0]


def discover(items: Sequence[dict[str, Any]], vectors: np.ndarray, min_size: int = 5,
             seed: int = 0) -> list[Candidate]:
    """Candidate themes among uncovered complaints, largest first.

    Args:
        items: One dict per complaint with ``language``, ``raw_text``, ``normalised_text`` and
            ``created_at`` (a datetime or None).
        vectors: Their unit vectors from the general-purpose encoder, ``(n, dim)``, in the same order.
        min_size: Smallest group reported.
        seed: Seed of k-means.
    """
    if len(items) < max(2 * min_size, 4):
        return []
    labels = _clusters(vectors, min_size, seed)
    sizes = Counter(labels.tolist())
    candidates = []
    for rank, (label, size) in enumerate(sorted(((c, n) for c, n in sizes.items() if n >= min_size),
                                                key=lambda cn: (-cn[1], cn[0])), start=1):
        member = labels == label
        centre = vectors[member].mean(axis=0)
        closeness = vectors @ centre
        phrases, quotes = {}, {}
        languages = Counter(items[i]["language"] for i in np.flatnonzero(member))
        for language in sorted(languages):
            same = np.asarray([it["language"] == language for it in items])
            phrases[language] = _key_phrases([it["normalised_text"] for it in items if it["language"] == language],
                                             member[same])
            nearest = [i for i in np.argsort(-closeness) if member[i] and same[i]][:QUOTES]
            quotes[language] = [mask_pii(items[i]["raw_text"]) for i in nearest]
        months = Counter(items[i]["created_at"].strftime("%Y-%m") for i in np.flatnonzero(member)
                         if items[i].get("created_at") is not None)
        candidates.append(Candidate(f"candidate_{rank}", int(size), round(size / len(items), 3), dict(languages),
                                    phrases, quotes, dict(sorted(months.items())),
                                    np.flatnonzero(member).tolist()))
    logger.info("discovery: %d uncovered complaints, %d candidate themes", len(items), len(candidates))
    return candidates


def candidate_stub(candidate: Candidate) -> dict[str, Any]:
    """A taxonomy entry to edit: the key phrases as names and seeds, the quotes as examples.

    >>> c = Candidate("candidate_1", 12, 0.3, {"ar": 12}, {"ar": ["مواقف", "ما في مواقف"]}, {"ar": ["ما لقيت موقف"]})
    >>> stub = candidate_stub(c)
    >>> stub["id"], stub["names"], stub["seeds"]["ar"]
    ('candidate_1', {'ar': 'مواقف'}, ['مواقف', 'ما في مواقف'])
    """
    return {"id": candidate.id,
            "names": {lang: phrases[0] for lang, phrases in candidate.key_phrases.items() if phrases},
            "descriptions": {"en": f"TODO: what {candidate.size} uncovered complaints have in common"},
            "seeds": {lang: phrases for lang, phrases in candidate.key_phrases.items() if phrases},
            "examples": {lang: quotes for lang, quotes in candidate.quotes.items() if quotes}}
