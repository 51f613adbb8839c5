"""Classification heads over encoder and TF-IDF features: sentiment (stacked, calibrated) and themes.

All heads are plain numpy arrays at prediction time (trained with scikit-learn by
:mod:`sada.models.sentiment_training` and :mod:`sada.models.theme_training`, stored in
safetensors), so loading an artifact runs no pickle. This module is inference only.

* :class:`LinearHead` - a softmax (or per-column sigmoid) linear layer.
* :class:`SentimentHead` - one head on TF-IDF, one on encoder vectors, and a
  stacker trained on their out-of-fold log-probabilities, which both ensembles
  the two views and calibrates the result. Each view is two logistic
  regressions (partial labels): *subjectivity* (neutral vs polar), trained only
  on sources that label neutral at all, and *polarity* (positive vs negative),
  trained on every polar row, two-class sets included; :func:`polar_proba`
  composes them into three classes.
* :class:`ThemeHead` - zero-shot theme scores (cosine between the item's e5
  ``query:`` vector and the theme's ``passage:`` prototypes built from its
  names, descriptions and seed phrases), blended with per-theme logistic
  regressions once labelled examples exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from sada.pipeline.errors import InputError

__all__ = ["LinearHead", "PlainZeroShot", "SentimentHead", "ThemeHead", "softmax", "sigmoid", "polar_proba",
           "view_proba", "SENTIMENTS", "MIN_CALIBRATION_ROWS"]

logger = logging.getLogger(__name__)

SENTIMENTS = ("negative", "neutral", "positive")
#: Fewer calibration rows than this and the stacker (and the theme thresholds) fall back to every row.
MIN_CALIBRATION_ROWS = 50


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Element-wise logistic function."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def polar_proba(z: np.ndarray) -> np.ndarray:
    """Three-class probabilities from ``(n, 2)`` logits: neutral-vs-polar, then positive-vs-negative.

    ``P(neutral) = s``, ``P(positive) = (1 - s) p``, ``P(negative) = (1 - s)(1 - p)``.

    Example:
        >>> polar_proba(np.array([[0.0, 0.0], [-50.0, 50.0]])).round(3).tolist()
        [[0.25, 0.5, 0.25], [0.0, 0.0, 1.0]]
    """
    s, p = sigmoid(z[:, 0]), sigmoid(z[:, 1])
    return np.stack([(1 - s) * (1 - p), s, (1 - s) * p], axis=1)


def view_proba(head: "LinearHead", x: np.ndarray | sp.spmatrix) -> np.ndarray:
    """Class probabilities of one sentiment view: a partial-label head (2 rows) or a softmax head (3 rows)."""
    z = head.logits(x)
    return polar_proba(z) if z.shape[1] == 2 else softmax(z)


@dataclass
class LinearHead:
    """``x @ W.T + b`` with an optional input standardisation.

    Attributes:
        weight: ``(n_out, n_in)``.
        bias: ``(n_out,)``.
        mean: Subtracted from dense inputs before the product (or None).
        scale: Divides dense inputs after centring (or None).
    """

    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def logits(self, x: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Raw scores ``(n, n_out)``."""
        if self.mean is not None:
            x = (np.asarray(x) - self.mean) / self.scale
        out = x @ self.weight.T
        return np.asarray(out) + self.bias

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Arrays to store under ``prefix``."""
        out = {f"{prefix}.weight": self.weight.astype(np.float32), f"{prefix}.bias": self.bias.astype(np.float32)}
        if self.mean is not None:
            out[f"{prefix}.mean"] = self.mean
            out[f"{prefix}.scale"] = self.scale
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> "LinearHead":
        """Inverse of :meth:`to_arrays`."""
        return cls(
            arrays[f"{prefix}.weight"].astype(np.float32),
            arrays[f"{prefix}.bias"].astype(np.float32),
            arrays.get(f"{prefix}.mean"),
            arrays.get(f"{prefix}.scale"),
        )


@dataclass
class SentimentHead:
    """TF-IDF view + encoder view, stacked and calibrated on out-of-fold predictions.

    Attributes:
        tfidf: Head over TF-IDF features (may be None): 2 rows (partial labels, see
            :func:`sada.models.sentiment_training.fit_polar_view`) or 3 (a softmax head, as artifacts before 2026-12-05 stored it).
        emb: Head over encoder vectors (may be None), likewise.
        stack: Head over the concatenated log-probabilities of the views.
        labels: Class names, in column order.
    """

    tfidf: LinearHead | None
    emb: LinearHead | None
    stack: LinearHead
    labels: tuple[str, ...] = SENTIMENTS

    @staticmethod
    def view_features(parts: list[np.ndarray]) -> np.ndarray:
        """The stacker's input: the views' class probabilities as clipped log-probabilities, side by side."""
        return np.hstack([np.log(np.clip(p, 1e-6, 1.0)) for p in parts])

    def view_probs(self, x_tfidf: sp.spmatrix | None, x_emb: np.ndarray | None) -> list[np.ndarray]:
        """Per-view class probabilities."""
        parts = []
        if self.tfidf is not None:  # its columns come first (the theme vocabulary's may follow)
            width = self.tfidf.weight.shape[1]
            parts.append(view_proba(self.tfidf, x_tfidf if x_tfidf.shape[1] == width else x_tfidf[:, :width]))
        if self.emb is not None:
            parts.append(view_proba(self.emb, x_emb))
        return parts

    def predict_proba(self, x_tfidf: sp.spmatrix | None, x_emb: np.ndarray | None) -> np.ndarray:
        """Calibrated ``(n, 3)`` probabilities."""
        return softmax(self.stack.logits(self.view_features(self.view_probs(x_tfidf, x_emb))))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to store."""
        out = self.stack.to_arrays("sentiment.stack")
        if self.tfidf is not None:
            out.update(self.tfidf.to_arrays("sentiment.tfidf"))
        if self.emb is not None:
            out.update(self.emb.to_arrays("sentiment.emb"))
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "SentimentHead":
        """Inverse of :meth:`to_arrays`."""
        tfidf = LinearHead.from_arrays(arrays, "sentiment.tfidf") if "sentiment.tfidf.weight" in arrays else None
        emb = LinearHead.from_arrays(arrays, "sentiment.emb") if "sentiment.emb.weight" in arrays else None
        return cls(tfidf, emb, LinearHead.from_arrays(arrays, "sentiment.stack"))


def _theme_similarity(x_emb: np.ndarray, prototypes: np.ndarray, owner: np.ndarray, k: int) -> np.ndarray:
    """``(n, k)``: per theme, the mean cosine of the item's two most similar prototypes of it."""
    sims = x_emb @ prototypes.T
    out = np.full((x_emb.shape[0], k), -1.0, dtype=np.float32)
    for j in range(k):
        cols = owner == j
        if cols.any():
            out[:, j] = np.sort(sims[:, cols], axis=1)[:, -2:].mean(axis=1)
    return out


@dataclass
class PlainZeroShot:
    """The plain (not fine-tuned) encoder's zero-shot evidence for some columns of a theme head.

    A fine-tuned encoder gathers its space around the themes it was trained on; the plain one still
    tells apart themes it never saw. For each column in ``columns`` the probability is
    ``sigmoid(slope * (s - base - margin))`` on the plain encoder's vectors: ``s`` the item's similarity to
    the theme's plain prototypes, ``base`` its mean similarity to the ``baseline`` themes (see
    :mod:`sada.models.taxonomy_head` for the constants).

    Attributes:
        columns: ``(k,)`` the theme head's columns this evidence is for.
        prototypes: ``(m, dim)`` plain ``passage:`` vectors of those themes' texts.
        prototype_column: ``(m,)`` index into ``columns`` of each prototype's theme.
        baseline: Plain prototypes ``(b, dim)`` and their theme index ``(b,)`` whose mean similarity is the baseline.
        slope: Calibration slope.
        margin: Calibration margin.
    """

    columns: np.ndarray
    prototypes: np.ndarray
    prototype_column: np.ndarray
    baseline: tuple[np.ndarray, np.ndarray]
    slope: float
    margin: float

    def relative_similarity(self, x_plain: np.ndarray) -> np.ndarray:
        """``(n, k)``: the items' similarity to each theme of ``columns``, less their mean similarity to the
        baseline's themes."""
        s = _theme_similarity(x_plain, self.prototypes, self.prototype_column, len(self.columns))
        protos, owner = self.baseline
        return s - _theme_similarity(x_plain, protos, owner, int(owner.max()) + 1).mean(axis=1, keepdims=True)

    def proba(self, x_plain: np.ndarray) -> np.ndarray:
        """``(n, k)`` calibrated probabilities of the ``columns`` from the items' plain vectors."""
        return sigmoid(self.slope * (self.relative_similarity(x_plain) - self.margin))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to store (``themes.plain.*``)."""
        return {"themes.plain.columns": self.columns.astype(np.int32),
                "themes.plain.prototypes": self.prototypes.astype(np.float16),
                "themes.plain.prototype_column": self.prototype_column.astype(np.int32),
                "themes.plain.baseline_prototypes": self.baseline[0].astype(np.float16),
                "themes.plain.baseline_owner": self.baseline[1].astype(np.int32),
                "themes.plain.calibration": np.asarray([self.slope, self.margin], dtype=np.float32)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "PlainZeroShot | None":
        """Inverse of :meth:`to_arrays` (None when ``arrays`` has none)."""
        if "themes.plain.columns" not in arrays:
            return None
        slope, margin = (float(v) for v in arrays["themes.plain.calibration"])
        return cls(arrays["themes.plain.columns"].astype(np.int64),
                   arrays["themes.plain.prototypes"].astype(np.float32),
                   arrays["themes.plain.prototype_column"].astype(np.int64),
                   (arrays["themes.plain.baseline_prototypes"].astype(np.float32),
                    arrays["themes.plain.baseline_owner"].astype(np.int64)), slope, margin)


@dataclass
class ThemeHead:
    """Multi-label theme scores: zero-shot prototypes blended with supervised heads.

    Attributes:
        theme_ids: Theme ids, in column order.
        prototypes: ``(n_prototypes, dim)`` unit vectors (e5 ``passage:`` embeddings).
        prototype_theme: ``(n_prototypes,)`` column index of each prototype's theme.
        zs_a: Slope of the zero-shot calibration ``sigmoid(a * (s - b))``.
        zs_b: Offset of the zero-shot calibration (per theme).
        supervised: Per-theme logistic head over encoder vectors (or None).
        sup_weight: Per-theme weight of the supervised probability in the blend.
        threshold: Per-theme detection threshold on the blended probability.
        lexical: Per-theme logistic head over TF-IDF features (or None): the words a theme is
            named by (فاتورة, قبض, پیک) that a sentence vector blurs.
        lex_weight: Per-theme weight of the lexical probability in the final blend (0 where a
            theme has no lexical head, or when no TF-IDF features are given).
        baseline: Prototypes ``(m, dim)`` and their theme index ``(m,)`` whose mean similarity is the
            zero-shot baseline of every item; None: this head's own themes. A head adapted to a
            team's taxonomy keeps the trained taxonomy's prototypes here, so a theme's score does
            not depend on which other themes the team lists.
        plain: The plain encoder's zero-shot evidence for the themes the encoder was not trained on (or
            None). With it the head reads each item's fine-tuned vector and plain vector side by side
            (:attr:`input_dim` columns), and such a theme's zero-shot probability is the geometric mean of
            the two encoders' calibrated probabilities.
        competing: Columns of the zero-shot themes (no labelled example) that must compete with the item's
            other themes (:meth:`compete`); empty: none (a trained head, or one adapted before the rule).
        compete_ratio: The share of the item's highest theme probability a competing column must reach.
    """

    theme_ids: list[str]
    prototypes: np.ndarray
    prototype_theme: np.ndarray
    zs_a: float = 40.0
    zs_b: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    supervised: LinearHead | None = None
    sup_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    threshold: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    lexical: LinearHead | None = None
    lex_weight: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    baseline: tuple[np.ndarray, np.ndarray] | None = None
    plain: PlainZeroShot | None = None
    competing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    compete_ratio: float = 0.0

    @property
    def input_dim(self) -> int:
        """Columns of the vectors the head reads: the encoder's, plus the plain encoder's when it has :attr:`plain`."""
        return self.prototypes.shape[1] + (self.plain.prototypes.shape[1] if self.plain is not None else 0)

    def _split(self, x_emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The encoder's and the plain encoder's columns of ``x_emb``.

        Raises:
            sada.pipeline.errors.InputError: ``x_emb`` does not have :attr:`input_dim` columns.
        """
        if x_emb.shape[1] != self.input_dim:
            what = ("the encoder's and the plain encoder's vectors side by side" if self.plain is not None
                    else "the encoder's vectors")
            raise InputError(f"expected {self.input_dim} columns ({what}), found {x_emb.shape[1]}; "
                             "compute them with Classifier.features")
        dim = self.prototypes.shape[1]
        return x_emb[:, :dim], x_emb[:, dim:]

    def similarity(self, x_emb: np.ndarray) -> np.ndarray:
        """``(n, n_themes)`` max cosine between items and each theme's prototypes."""
        own, _ = self._split(x_emb)
        return _theme_similarity(own, self.prototypes, self.prototype_theme, len(self.theme_ids))

    def zero_shot(self, x_emb: np.ndarray) -> np.ndarray:
        """Calibrated zero-shot probabilities, relative to the item's mean theme similarity (for the columns
        of :attr:`plain`, the geometric mean with the plain encoder's)."""
        own, plain = self._split(x_emb)
        s = self.similarity(x_emb)
        if self.baseline is None:
            base = s.mean(axis=1, keepdims=True)
        else:
            protos, owner = self.baseline
            base = _theme_similarity(own, protos, owner, int(owner.max()) + 1).mean(axis=1, keepdims=True)
        p = sigmoid(self.zs_a * (s - base - self.zs_b))
        if self.plain is not None:
            cols = self.plain.columns
            p[:, cols] = np.sqrt(p[:, cols] * self.plain.proba(plain))
        return p

    def parts(self, x_emb: np.ndarray, x_tfidf: sp.spmatrix | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The encoder part (zero-shot blended with the supervised head) and the lexical part (or None)."""
        p = self.zero_shot(x_emb)
        if self.supervised is not None:
            ps = sigmoid(self.supervised.logits(self._split(x_emb)[0]))
            w = self.sup_weight[None, :]
            p = w * ps + (1 - w) * p
        lexical = None
        if self.lexical is not None and x_tfidf is not None:
            lexical = sigmoid(self.lexical.logits(self.lexical_columns(x_tfidf)))
        return p, lexical

    def lexical_columns(self, x_tfidf: sp.spmatrix) -> sp.spmatrix:
        """The columns of ``x_tfidf`` the lexical part reads: the last ones, as many as its weights span (the
        theme vocabulary's, after the sentiment vocabulary's; an artifact with one vocabulary: all of them)."""
        width = self.lexical.weight.shape[1] if self.lexical is not None else x_tfidf.shape[1]
        return x_tfidf if x_tfidf.shape[1] == width else x_tfidf[:, x_tfidf.shape[1] - width:]

    def combine(self, encoder_part: np.ndarray, lexical_part: np.ndarray | None,
                lex_weight: np.ndarray | None = None) -> np.ndarray:
        """Blend the two parts with ``lex_weight`` (default: the head's own)."""
        if lexical_part is None:
            return encoder_part
        w = (self.lex_weight if lex_weight is None else lex_weight)[None, :]
        return (1 - w) * encoder_part + w * lexical_part

    def compete(self, p: np.ndarray, ratio: float | None = None) -> np.ndarray:
        """``p`` (``(n, n_themes)`` blended probabilities) with the :attr:`competing` columns made to compete:
        such a column keeps its probability on an item only where it reaches ``ratio`` (default
        :attr:`compete_ratio`) times the item's highest probability over all columns; elsewhere it is scaled
        below its :attr:`threshold` (``threshold * p / (ratio * highest)``, never above ``p``), so it is not
        detected there and keeps its order between items. Other columns are unchanged; each item on its own.

        >>> head = ThemeHead(["delivery", "atm"], np.eye(2, dtype=np.float32), np.arange(2),
        ...                  threshold=np.asarray([0.5, 0.5], np.float32), competing=np.asarray([1]), compete_ratio=0.8)
        >>> head.compete(np.asarray([[0.9, 0.6], [0.9, 0.75], [0.1, 0.6]])).round(3).tolist()
        [[0.9, 0.417], [0.9, 0.75], [0.1, 0.6]]
        """
        ratio = self.compete_ratio if ratio is None else ratio
        if not len(self.competing) or ratio <= 0:
            return p
        cols = self.competing
        bar = ratio * p.max(axis=1, keepdims=True)
        own = p[:, cols]
        loses = own < bar
        scaled = self.threshold[cols][None, :] * np.where(loses, own / np.where(loses, bar, 1.0), 1.0) * (1 - 1e-6)
        out = p.copy()
        out[:, cols] = np.where(loses, np.minimum(own, scaled), own)
        return out

    def predict_proba(self, x_emb: np.ndarray, x_tfidf: sp.spmatrix | None = None) -> np.ndarray:
        """``(n, n_themes)`` blended probabilities (the lexical part only when ``x_tfidf`` is given), the
        :attr:`competing` columns made to compete (:meth:`compete`)."""
        return self.compete(self.combine(*self.parts(x_emb, x_tfidf)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Arrays to store."""
        out = {
            "themes.prototypes": self.prototypes.astype(np.float16),
            "themes.prototype_theme": self.prototype_theme.astype(np.int32),
            "themes.zs_b": self.zs_b.astype(np.float32),
            "themes.zs_a": np.asarray([self.zs_a], dtype=np.float32),
            "themes.sup_weight": self.sup_weight.astype(np.float32),
            "themes.threshold": self.threshold.astype(np.float32),
        }
        if self.supervised is not None:
            out.update(self.supervised.to_arrays("themes.supervised"))
        if self.lexical is not None:
            out.update(self.lexical.to_arrays("themes.lexical"))
            out["themes.lex_weight"] = self.lex_weight.astype(np.float32)
        if self.baseline is not None:
            out["themes.baseline_prototypes"] = self.baseline[0].astype(np.float16)
            out["themes.baseline_owner"] = self.baseline[1].astype(np.int32)
        if self.plain is not None:
            out.update(self.plain.to_arrays())
        if len(self.competing):
            out["themes.competing"] = self.competing.astype(np.int32)
            out["themes.compete_ratio"] = np.asarray([self.compete_ratio], dtype=np.float32)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], theme_ids: list[str]) -> "ThemeHead":
        """Inverse of :meth:`to_arrays`."""
        sup = LinearHead.from_arrays(arrays, "themes.supervised") if "themes.supervised.weight" in arrays else None
        lexical = LinearHead.from_arrays(arrays, "themes.lexical") if "themes.lexical.weight" in arrays else None
        return cls(
            list(theme_ids),
            arrays["themes.prototypes"].astype(np.float32),
            arrays["themes.prototype_theme"].astype(np.int64),
            float(arrays["themes.zs_a"][0]),
            arrays["themes.zs_b"].astype(np.float32),
            sup,
            arrays["themes.sup_weight"].astype(np.float32),
            arrays["themes.threshold"].astype(np.float32),
            lexical,
            arrays["themes.lex_weight"].astype(np.float32) if lexical is not None else np.zeros(0, dtype=np.float32),
            (arrays["themes.baseline_prototypes"].astype(np.float32), arrays["themes.baseline_owner"].astype(np.int64))
            if "themes.baseline_prototypes" in arrays else None,
            PlainZeroShot.from_arrays(arrays),
            arrays["themes.competing"].astype(np.int64) if "themes.competing" in arrays else np.zeros(0, np.int64),
            float(arrays["themes.compete_ratio"][0]) if "themes.competing" in arrays else 0.0,
        )
