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

from sada.pipeline.taxonomy import Taxonomy, format_theme_cell

__all__ = ["CANDIDATES_PER_PICK", "pick_for_labelling", "write_labelling_workbook"]

#: The most uncertain ``CANDIDATES_PER_PICK * n`` items are the pool that diversity picks ``n`` from.
CANDIDATES_PER_PICK = 4


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
