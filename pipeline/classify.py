"""The classify step: load the classifier once per process and turn predictions into rows.

The classifier itself lives in :mod:`sada.models.classifier`; this module is the
pipeline's side of it, so that ingest, the Prefect flows and Dask workers all
load it the same way and only once.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Classifier", "Prediction", "artifact_version", "as_dict", "classify_texts", "complaint_themes",
           "load_classifier"]

logger = logging.getLogger(__name__)


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
        if label == "negative" and (score is None or float(score) >= threshold):
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

    def predict(self, texts: list[str], languages: list[str]) -> list[Prediction]: ...


def artifact_version(path: str | None = None) -> str:
    """The model version an artifact declares, read from its config.json without loading it.

    Raises:
        sada.pipeline.errors.ModelNotFoundError: there is no readable config.json at ``path``.
    """
    import json

    from sada.models.classifier import DEFAULT_ARTIFACT
    from sada.pipeline.errors import ModelNotFoundError

    config = (Path(path) if path else DEFAULT_ARTIFACT) / "config.json"
    try:
        return str(json.loads(config.read_text(encoding="utf-8"))["model_version"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelNotFoundError(
            f"expected a classifier artifact with a model_version in {config}, found {type(exc).__name__}: {exc}; "
            "train one with `sada train` or point --model at an artifact directory"
        ) from None


@lru_cache(maxsize=2)
def load_classifier(path: str | None = None) -> Classifier:
    """The classifier artifact at ``path`` (``None``: the committed default), loaded once per process.

    Raises:
        sada.pipeline.errors.ModelNotFoundError: the artifact or its encoder is missing; the message names the path.
    """
    from sada.models.classifier import Classifier as ModelClassifier

    classifier = ModelClassifier.from_pretrained(Path(path) if path else None)
    logger.info("loaded classifier %s", classifier.model_version)
    return classifier


def classify_texts(texts: list[str], languages: list[str], classifier: Classifier | None) -> list[dict[str, Any]]:
    """The classifier's predictions as plain dicts, ready for the ``analysis`` table (empty without one)."""
    if classifier is None or not texts:
        return []
    return [{
        "model_version": p.model_version, "sentiment": p.sentiment, "sentiment_probs": p.sentiment_probs,
        "themes": p.themes, "theme_sentiment": p.theme_sentiment, "is_complaint": bool(p.is_complaint),
    } for p in classifier.predict(texts, languages)]
