"""Sentiment towards one aspect of an item: a theme it talks about, or a target term (Pars-ABSA).

The rule every artifact without a trained head keeps (see :meth:`sada.models.classifier.Classifier.predict`
and :meth:`~sada.models.classifier.Classifier.aspect_sentiment_proba`): a theme takes the item's overall
sentiment, or, for an item whose overall sentiment is not clear-cut, the sentiment of the clause where the
theme scores highest; a target term takes the sentiment of the clauses that name it, else of the whole text.

:class:`AspectSentimentHead` makes it a trained task: a softmax layer over features the classifier computes
anyway, so it costs no encoding beyond the rule's:

* ``log P(overall)`` - the sentiment head on the whole text (3 columns);
* ``log P(focus)`` - the sentiment head on the *focus*: the clauses that name the target, else the clause
  where the theme scores highest (when the rule reads a clause), else the whole text (3 columns);
* ``focus is part`` - 1 when the focus is a part of the text, 0 when it is the whole text (1 column);
* optionally the focus's encoder vector (the encoder's columns only), standardised.

Its arrays live in the artifact's ``weights.safetensors`` under ``aspect_sentiment.*`` and are read only
when present: an artifact without them keeps the rule, unchanged.

Example:
    >>> term_focus("گوشی خوبیه ولی باتریش ضعیفه", "باتری")
    'ولی باتریش ضعیفه'
    >>> term_focus("گوشی خوبیه", "دوربین")  # the term is not named: the whole text
    'گوشی خوبیه'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from sada.models.heads import LinearHead, softmax

__all__ = ["AspectSentimentHead", "ARRAY_PREFIX", "focus_clauses", "needs_focus", "split_segments", "term_focus",
           "aspect_features", "fit_aspect_head", "N_PROB_FEATURES"]

#: Name prefix of the head's arrays in ``weights.safetensors``.
ARRAY_PREFIX = "aspect_sentiment"
#: Columns before the optional vector: log P(overall), log P(focus), focus-is-part.
N_PROB_FEATURES = 7


# Clause boundaries: punctuation and contrastive conjunctions (ar, fa, en).
_SEGMENT_RE = re.compile(
    r"[.!?؟؛;\n]+|[,،]\s*|\s(?=(?:ولی|اما|ولكن|لكن|لاكن|بس|but|however)\s)",
    flags=re.IGNORECASE,
)


def split_segments(text: str) -> list[str]:
    """Split a review into clauses at punctuation and contrast words (ولی, اما, لكن, بس, but).

    Example:
        >>> split_segments("غذا خوشمزه بود ولی پیک دیر رسید")
        ['غذا خوشمزه بود', 'ولی پیک دیر رسید']
    """
    parts = [p.strip() for p in _SEGMENT_RE.split(text)]
    return [p for p in parts if p]


def focus_clauses(text: str) -> list[str]:
    """The clauses a theme's focus is chosen among: ``text``'s clauses when it has two or more, else none.

    Example:
        >>> focus_clauses("غذا خوشمزه بود ولی پیک دیر رسید")
        ['غذا خوشمزه بود', 'ولی پیک دیر رسید']
        >>> focus_clauses("غذا خوشمزه بود")
        []
    """
    segments = split_segments(text)
    return segments if len(segments) >= 2 else []


def needs_focus(probs: np.ndarray, segment_threshold: float) -> np.ndarray:
    """Whether each item's themes take the sentiment of a clause: its overall sentiment is not clear-cut (top
    probability below ``segment_threshold``). The clause is the one of :func:`focus_clauses` where the theme
    scores highest.

    Example:
        >>> needs_focus(np.array([[0.1, 0.2, 0.7], [0.05, 0.05, 0.9]]), 0.8).tolist()
        [True, False]
    """
    return np.asarray(probs).max(axis=-1) < segment_threshold


def term_focus(text: str, target: str) -> str:
    """The clauses of ``text`` that name ``target`` (joined by a space), else the whole text."""
    segs = [s for s in split_segments(text) if target and target in s]
    return " ".join(segs) if segs else text


def aspect_features(p_overall: np.ndarray, p_focus: np.ndarray, focus_is_part: np.ndarray,
                    x_focus: np.ndarray | None = None) -> np.ndarray:
    """``(n, 7)`` or ``(n, 7 + dim)`` head input: clipped log-probabilities of the whole text and of the focus,
    the focus-is-part flag, and the focus's vector when given.

    Example:
        >>> p = np.array([[0.1, 0.2, 0.7]])
        >>> aspect_features(p, p, np.array([0.0])).shape
        (1, 7)
    """
    parts = [np.log(np.clip(p_overall, 1e-6, 1.0)), np.log(np.clip(p_focus, 1e-6, 1.0)),
             np.asarray(focus_is_part, dtype=np.float64).reshape(-1, 1)]
    if x_focus is not None:
        parts.append(np.asarray(x_focus, dtype=np.float64))
    return np.hstack(parts)


@dataclass
class AspectSentimentHead:
    """A softmax layer from :func:`aspect_features` to the three sentiments (columns as
    :data:`sada.models.heads.SENTIMENTS`).

    Attributes:
        layer: ``(3, 7)`` or ``(3, 7 + dim)`` weights, with the standardisation of the vector columns
            (``mean`` 0 and ``scale`` 1 on the seven probability columns).
    """

    layer: LinearHead

    @property
    def reads_vector(self) -> bool:
        """Whether the head reads the focus's encoder vector beside the probabilities."""
        return self.layer.weight.shape[1] > N_PROB_FEATURES

    def predict_proba(self, p_overall: np.ndarray, p_focus: np.ndarray, focus_is_part: np.ndarray,
                      x_focus: np.ndarray | None = None) -> np.ndarray:
        """``(n, 3)`` sentiment towards each row's aspect (``x_focus`` is read only when :attr:`reads_vector`)."""
        if len(p_overall) == 0:
            return np.zeros((0, 3), dtype=np.float32)
        x = aspect_features(p_overall, p_focus, focus_is_part, x_focus if self.reads_vector else None)
        return softmax(self.layer.logits(x))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to store (``aspect_sentiment.*``)."""
        return self.layer.to_arrays(ARRAY_PREFIX)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "AspectSentimentHead | None":
        """Inverse of :meth:`to_arrays`; None when the artifact has no such head."""
        if f"{ARRAY_PREFIX}.weight" not in arrays:
            return None
        return cls(LinearHead.from_arrays(arrays, ARRAY_PREFIX))


def fit_aspect_head(features: np.ndarray, y: np.ndarray, c: float, class_weight: str | None = None,
                    seed: int = 0) -> AspectSentimentHead:
    """Fit the head on :func:`aspect_features` rows and labels ``y`` (0 negative, 1 neutral, 2 positive).

    The probability columns are used as they are (log-probabilities on one scale); the vector columns,
    when present, are standardised.
    """
    from sada.models.logistic import fit_softmax_head, standardise_columns

    x = np.asarray(features, dtype=np.float64)
    mean = np.zeros(x.shape[1])
    scale = np.ones(x.shape[1])
    if x.shape[1] > N_PROB_FEATURES:
        _, mean[N_PROB_FEATURES:], scale[N_PROB_FEATURES:] = standardise_columns(x[:, N_PROB_FEATURES:])
        x = (x - mean) / scale
    layer = fit_softmax_head(x, y, 3, c, seed=seed, class_weight=class_weight)
    if x.shape[1] > N_PROB_FEATURES:
        layer.mean, layer.scale = mean.astype(np.float32), scale.astype(np.float32)
    return AspectSentimentHead(layer)
