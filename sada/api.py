"""The functions ``import sada`` offers that need more than one layer.

The layers below never import each other upwards (tests/test_layers.py checks
it): the pipeline is handed a classifier, it does not load one. Here the
default classifier is loaded for the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["analyze_texts"]


def analyze_texts(
    texts: Sequence[str],
    *,
    model: str | Path | None = None,
    classify: bool = True,
    mask_pii: bool = True,
    themes: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Analyse texts in memory with the default classifier (or the artifact at ``model``).

    :func:`sada.pipeline.analyze.analyze_texts` does the work and documents the result;
    ``classify=False`` stops after language ID and normalisation and loads no model; ``themes`` is a
    taxonomy file to detect (default: ``SADA_THEMES`` or the shipped one, see ``sada themes check``).

    Example:
        >>> import sada
        >>> [row["language"] for row in sada.analyze_texts(["الخدمة ممتازة", "ارسال دیر بود"], classify=False)]
        ['ar', 'fa']
    """
    from sada.pipeline.analyze import analyze_texts as analyze_in_memory

    classifier = None
    if classify:
        from sada.models.classifier import load_classifier

        classifier = load_classifier(str(model) if model else None, themes)
    return analyze_in_memory(texts, classifier, mask_pii=mask_pii)
