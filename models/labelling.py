"""The labelling loop: pick stored items worth labelling and write them to a workbook a team fills in.

``sada themes sample`` picks the items whose themes the classifier is least sure of (an item's
uncertainty is how close its closest theme score is to that theme's threshold), then keeps them
diverse (farthest-point selection on the encoder's vectors among the most uncertain), so a few dozen
labels cover many kinds of text. The workbook opens right to left, has the predicted themes
pre-filled in its ``themes`` column and a sheet listing the taxonomy; filled in, it goes back into
``sada themes fit --examples``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from sada.models.classifier import Classifier
from sada.pipeline.taxonomy import Taxonomy, format_theme_cell

__all__ = ["CANDIDATES_PER_PICK", "SHOWN_SCORE", "pick_for_labelling", "sample_pool", "labelling_rows",
           "write_labelling_workbook"]

#: The most uncertain ``CANDIDATES_PER_PICK * n`` items are the pool that diversity picks ``n`` from.
CANDIDATES_PER_PICK = 4
#: Theme scores from this one up are shown beside an item in the workbook (detected or close to it).
SHOWN_SCORE = 0.2


def pick_for_labelling(scores: np.ndarray, thresholds: np.ndarray, vectors: np.ndarray, n: int) -> list[int]:
    """Row indices of ``n`` items to label, most uncertain first, spread over the vector space.

    >>> scores = np.array([[0.9, 0.1], [0.5, 0.1], [0.52, 0.1], [0.1, 0.45]])
    >>> vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    >>> pick_for_labelling(scores, np.array([0.5, 0.5]), vectors, 2)
    [1, 3]
    """
    uncertainty = np.abs(scores - thresholds[None, :]).min(axis=1) if scores.size else np.zeros(len(vectors))
    pool = np.argsort(uncertainty, kind="stable")[: max(n, CANDIDATES_PER_PICK * n)]
    chosen = [int(pool[0])] if len(pool) else []
    nearest = vectors[pool] @ vectors[pool[0]] if len(pool) else np.zeros(0)  # similarity to the chosen set
    while len(chosen) < min(n, len(pool)):
        order = np.lexsort((uncertainty[pool], nearest))  # least similar to what is chosen, then most uncertain
        pick = next(int(pool[i]) for i in order if int(pool[i]) not in chosen)
        chosen.append(pick)
        nearest = np.maximum(nearest, vectors[pool] @ vectors[pick])
    return sorted(chosen, key=lambda i: (uncertainty[i], i))


def sample_pool(items: Sequence[dict[str, Any]], pool: int, seed: int) -> list[dict[str, Any]]:
    """At most ``pool`` of ``items`` (a seeded sample, in their order) to choose the items to label from.

    >>> [r["i"] for r in sample_pool([{"i": i} for i in range(10)], 3, seed=0)]
    [5, 6, 9]
    """
    if len(items) <= pool:
        return list(items)
    return [items[i] for i in sorted(np.random.default_rng(seed).choice(len(items), pool, replace=False))]


def labelling_rows(classifier: Classifier, items: Sequence[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """The ``n`` of stored ``items`` (``feedback_id``, ``language``, ``raw_text``) worth labelling
    (:func:`pick_for_labelling` on the classifier's theme scores and vectors), as rows of
    :func:`write_labelling_workbook`: the detected theme ids pre-filled, the scores of :data:`SHOWN_SCORE` and up."""
    texts, languages = [r["raw_text"] for r in items], [r["language"] for r in items]
    x_tfidf, x = classifier.features(texts, languages)
    scores = classifier.themes.predict_proba(x, x_tfidf) if classifier.themes is not None else np.zeros((len(x), 0))
    thresholds, ids = classifier.theme_thresholds, classifier.theme_ids
    return [{"feedback_id": items[i]["feedback_id"], "language": items[i]["language"], "text": texts[i],
             "themes": [t for j, t in enumerate(ids) if scores[i, j] >= thresholds[j]],
             "scores": {t: float(scores[i, j]) for j, t in enumerate(ids) if scores[i, j] >= SHOWN_SCORE}}
            for i in pick_for_labelling(scores, thresholds, x, n)]


def write_labelling_workbook(path: str | Path, rows: Sequence[dict[str, Any]], taxonomy: Taxonomy,
                             right_to_left: bool = True) -> Path:
    """Write ``rows`` (``feedback_id``, ``language``, ``text``, ``themes``: the predicted ids, ``scores``) as the
    labelling sheet.

    The first sheet, ``label``, is what ``sada themes fit --examples`` reads: ``text`` and ``themes``
    (ids joined by ``;``, :func:`sada.pipeline.taxonomy.format_theme_cell`, pre-filled with the prediction;
    edit it). A second sheet lists the themes.
    """
    path = Path(path)
    book = Workbook()
    sheet = book.active
    sheet.title = "label"
    sheet.sheet_view.rightToLeft = right_to_left
    header = ["feedback_id", "language", "text", "themes", "predicted scores"]
    sheet.append(header)
    for row in rows:
        scores = "; ".join(f"{tid} {p:.2f}" for tid, p in sorted(row["scores"].items(), key=lambda kv: -kv[1]))
        sheet.append([row["feedback_id"], row["language"], row["text"], format_theme_cell(row["themes"]), scores])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDE", (24, 10, 80, 30, 40)):
        sheet.column_dimensions[column].width = width
    for (cell,) in sheet.iter_rows(min_row=2, min_col=3, max_col=3):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    legend = book.create_sheet("themes")
    legend.sheet_view.rightToLeft = right_to_left
    legend.append(["id", "parent", "ar", "fa", "en", "description"])
    for theme in taxonomy.themes:
        legend.append([theme.id, theme.parent or "", theme.names.get("ar", ""), theme.names.get("fa", ""),
                       theme.names.get("en", ""), theme.descriptions.get("en") or next(iter(theme.descriptions.values()), "")])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path
