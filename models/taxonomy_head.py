"""A trained classifier's theme head adapted to a team's own taxonomy, with no training and no labels.

Every theme of the taxonomy becomes a column of the adapted head:

* a theme whose id the classifier was trained on keeps all it learnt: prototypes, zero-shot
  offset, supervised and lexical heads and its chosen threshold, so its scores are the shipped ones;
* a new theme is zero-shot. Its prototypes are the encoder's ``passage:`` vectors of its names,
  descriptions, seeds and examples. Its probability is the trained head's zero-shot calibration
  ``sigmoid(a * (s - base - b))``: ``s`` the item's similarity to the theme, ``base`` the item's mean
  similarity to the *trained* themes (kept as the head's baseline, so a score does not depend on
  which other themes the team lists), and the slope ``a`` and margin ``b`` that training fitted on
  the trained themes' labelled items and shares between all themes. Its threshold is 0.5 on that
  probability, i.e. the margin that maximised F1 on the trained themes. This is the label-free
  threshold: a new theme is detected when an item is as much closer to it than to the average
  theme as the trained themes needed to be.

The adapted classifier's model version carries the taxonomy's version
(``<model>+themes-<12 hex>``): stored analyses record which taxonomy produced them, and cached
classifications of one taxonomy are never served for another.
"""

from __future__ import annotations

import logging
import numpy as np

from sada.models.encoder import Encoder, encode_passages
from sada.models.heads import LinearHead, ThemeHead
from sada.pipeline.taxonomy import Taxonomy

__all__ = ["NEW_THEME_THRESHOLD", "adapt_theme_head", "taxonomy_model_version"]

logger = logging.getLogger(__name__)

#: Detection threshold of a zero-shot theme (see the module docstring).
NEW_THEME_THRESHOLD = 0.5
_NO_HEAD_BIAS = -10.0


def taxonomy_model_version(model_version: str, taxonomy: Taxonomy) -> str:
    """The model version of ``model_version`` adapted to ``taxonomy``.

    >>> from sada.pipeline.taxonomy import Taxonomy, Theme
    >>> taxonomy_model_version("sada-e5s-1", Taxonomy((Theme("atm", {"en": "ATMs"}),), "mine.yaml"))
    'sada-e5s-1+themes-c8c6d9a30eeb'
    """
    return f"{model_version.split('+themes-')[0]}+themes-{taxonomy.version}"


def _rows(head: LinearHead | None, picks: list[int | None], dim: int) -> LinearHead | None:
    """The rows ``picks`` of ``head`` (None: a row that never fires)."""
    if head is None:
        return None
    weight = np.zeros((len(picks), dim), dtype=np.float32)
    bias = np.full(len(picks), _NO_HEAD_BIAS, dtype=np.float32)
    for i, j in enumerate(picks):
        if j is not None:
            weight[i], bias[i] = head.weight[j], head.bias[j]
    return LinearHead(weight, bias, head.mean, head.scale)


def adapt_theme_head(head: ThemeHead, thresholds: dict[str, float], taxonomy: Taxonomy,
                     encoder: Encoder) -> tuple[ThemeHead, dict[str, float]]:
    """The head with one column per theme of ``taxonomy``, and the threshold of each column by id."""
    trained = {tid: j for j, tid in enumerate(head.theme_ids)}
    picks = [trained.get(t.id) for t in taxonomy.themes]
    margin = float(np.median(head.zs_b)) if len(head.zs_b) else 0.0
    protos, owner = [], []
    for col, (theme, j) in enumerate(zip(taxonomy.themes, picks)):
        if j is not None:
            vectors = head.prototypes[head.prototype_theme == j]
        else:
            vectors = encode_passages(encoder, theme.texts())
        protos.append(vectors)
        owner.extend([col] * len(vectors))
    chosen = {t.id: float(thresholds.get(t.id, head.threshold[j])) if j is not None else NEW_THEME_THRESHOLD
              for t, j in zip(taxonomy.themes, picks)}

    def per_theme(values: np.ndarray, default: float) -> np.ndarray:
        return np.asarray([values[j] if j is not None and len(values) else default for j in picks], dtype=np.float32)

    adapted = ThemeHead(
        [t.id for t in taxonomy.themes],
        np.concatenate(protos).astype(np.float32),
        np.asarray(owner, dtype=np.int64),
        zs_a=head.zs_a,
        zs_b=per_theme(head.zs_b, margin),
        supervised=_rows(head.supervised, picks, head.prototypes.shape[1]),
        sup_weight=per_theme(head.sup_weight, 0.0),
        threshold=np.asarray([chosen[t.id] for t in taxonomy.themes], dtype=np.float32),
        lexical=_rows(head.lexical, picks, head.lexical.weight.shape[1]) if head.lexical is not None else None,
        lex_weight=per_theme(head.lex_weight, 0.0),
        baseline=head.baseline or (head.prototypes, head.prototype_theme),
    )
    new = [t.id for t, j in zip(taxonomy.themes, picks) if j is None]
    logger.info("taxonomy %s: %d trained theme(s) kept, %d zero-shot (%s)", taxonomy.source,
                len(picks) - len(new), len(new), ", ".join(new) or "none")
    return adapted, chosen
