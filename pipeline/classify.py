"""The classify step: what the pipeline needs of a classifier, and predictions as rows.

The pipeline never imports a model: it is handed any object that satisfies
:class:`Classifier` (:class:`sada.models.classifier.Classifier` is the real one,
loaded once per process by :func:`sada.models.classifier.load_classifier`).
This module also holds the complaint rules: :func:`is_complaint` (the item's flag, set
by the classifier and by re-theming) and :func:`complaint_themes` (the themes an item
complains about, for the report, the spike alerts and the churn features).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import numpy as np

__all__ = ["COMPLAINT_PROBABILITY", "Classifier", "Prediction", "as_dict", "classify_texts", "complaint_themes",
           "is_complaint", "is_complaint_item", "vector_bytes"]

#: An item whose probability of being negative reaches this is a complaint, whatever its themes say.
COMPLAINT_PROBABILITY = 0.5
_NEGATIVE = "negative"


def as_dict(value: Any) -> dict[str, Any]:
    """A JSON column's value as a dict (JSON text is parsed; anything else is ``{}``)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            return dict(json.loads(value))
        except ValueError:
            return {}
    return {}


def is_complaint(negative_probability: float, theme_sentiment: Any) -> bool:
    """An item is a complaint when it is negative overall (p >= :data:`COMPLAINT_PROBABILITY`) or negative
    about one of its themes.

    The one rule behind every stored ``is_complaint`` flag (the classifier's and re-theming's).

    Example:
        >>> [is_complaint(0.5, {}), is_complaint(0.2, {"billing": "negative"}), is_complaint(0.49, {"app": "neutral"})]
        [True, True, False]
    """
    return bool(negative_probability >= COMPLAINT_PROBABILITY
                or any(label == _NEGATIVE for label in as_dict(theme_sentiment).values()))


def is_complaint_item(stored_flag: Any, sentiment: Any, theme_sentiment: Any) -> bool:
    """Whether a stored or labelled item is a complaint: its stored flag (:func:`is_complaint`, applied when
    it was classified) when it has one, else the same rule on its labels (gold-labelled feedback has no
    probabilities): negative overall or negative about a theme.

    Example:
        >>> [is_complaint_item(False, "negative", {}), is_complaint_item(None, "negative", {}),
        ...  is_complaint_item(float("nan"), "neutral", {"app": "negative"}), is_complaint_item(None, "neutral", {})]
        [False, True, True, False]
    """
    if stored_flag is not None and stored_flag == stored_flag:  # None and NaN: no flag stored
        return bool(stored_flag)
    return is_complaint(1.0 if sentiment == _NEGATIVE else 0.0, theme_sentiment)


def complaint_themes(themes: Any, theme_sentiment: Any, threshold: float = 0.5) -> list[str]:
    """Themes an item complains about: theme sentiment negative and theme score >= ``threshold``.

    The one complaint rule of the report, the spike alerts and the churn features. A theme
    with a sentiment but no score (or a null one) was detected, so it counts.

    Example:
        >>> complaint_themes({"billing": 0.9, "app": 0.2, "price": None},
        ...                  {"billing": "negative", "app": "negative", "price": "negative"})
        ['billing', 'price']
    """
    scores = as_dict(themes)
    out = []
    for theme, label in as_dict(theme_sentiment).items():
        score = scores.get(theme)
        if label == _NEGATIVE and (score is None or float(score) >= threshold):
            out.append(theme)
    return out


class Prediction(Protocol):
    sentiment: str
    sentiment_probs: dict[str, float]
    themes: dict[str, float]
    theme_sentiment: dict[str, str]
    is_complaint: bool
    model_version: str


class Classifier(Protocol):
    """What the pipeline needs of a classifier (:class:`sada.models.classifier.Classifier` is one)."""

    model_version: str

    def predict(self, texts: list[str], languages: list[str], *,
                normalised: list[str] | None = None) -> list[Prediction]: ...


def classify_texts(texts: list[str], languages: list[str], classifier: Classifier | None,
                   normalised: list[str] | None = None) -> list[dict[str, Any]]:
    """The classifier's predictions as plain dicts, ready for the ``analysis`` table (empty without one).

    ``normalised``: the texts as the default normaliser wrote them, so the classifier does not
    normalise them a second time.
    """
    if classifier is None or not texts:
        return []
    encoder = getattr(classifier, "encoder_version", None)  # classifiers that expose their vectors
    return [{
        "model_version": p.model_version, "sentiment": p.sentiment, "sentiment_probs": p.sentiment_probs,
        "themes": p.themes, "theme_sentiment": p.theme_sentiment, "is_complaint": bool(p.is_complaint),
        **({"encoder": encoder, "vector": vector_bytes(p.vector)} if encoder and getattr(p, "vector", None) is not None
           else {}),
    } for p in classifier.predict(texts, languages, normalised=normalised)]


def vector_bytes(vector: Any) -> bytes:
    """A vector as the store keeps it: float16, little-endian (768 bytes for 384 dimensions).

    >>> np.frombuffer(vector_bytes(np.array([0.5, -1.0])), dtype="<f2").tolist()
    [0.5, -1.0]
    """
    return np.asarray(vector, dtype="<f2").tobytes()
