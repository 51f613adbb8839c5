"""Re-theming: stored items scored again for a changed taxonomy, from their stored vectors.

``sada themes apply`` pages through the store; for each item it takes the encoder vector kept at
analysis time (:data:`sada.pipeline.store.item_vectors`), or encodes the stored text again when
there is none or it came from another encoder, and scores the taxonomy's themes on it. A taxonomy with
zero-shot themes reads the plain encoder's vector beside the fine-tuned one (its
:attr:`~sada.models.classifier.Classifier.encoder_version` names both): items analysed with the shipped
themes only get the plain encoder's vector once, the first time, and keep both from then on. Only the
themes change: sentiment and its probabilities are copied from the item's newest analysis, each
theme's sentiment is the one that analysis gave it (else the item's), and the complaint flag follows
(:func:`sada.pipeline.classify.is_complaint`). The rows carry the classifier's model version, which
names the taxonomy (``+themes-<version>``), so the report's newest analysis of every item comes from
one taxonomy after a run.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sada.models.classifier import Classifier
from sada.pipeline.classify import as_dict, is_complaint, vector_bytes

__all__ = ["retheme_items"]


def _vectors(classifier: Classifier, items: Sequence[dict[str, Any]]) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The items' vectors (stored, else encoded now) and the new vectors to store.

    An item stored with the encoder's vector alone (analysed with trained themes only), for a classifier whose
    zero-shot themes also read the plain encoder's, gets only the plain vector computed, beside the stored one.
    """
    encoder, alone = classifier.encoder_version, classifier.encoder_only_version

    def stored(r: dict[str, Any]) -> np.ndarray | None:
        return None if r["vector"] is None else np.frombuffer(r["vector"], dtype="<f2").astype(np.float32)

    rows: list[np.ndarray | None] = [stored(r) if r["encoder"] == encoder else None for r in items]
    halves = [i for i, r in enumerate(items) if rows[i] is None and r["vector"] is not None and r["encoder"] == alone
              and encoder != alone]
    fresh = sorted({i for i, row in enumerate(rows) if row is None} - set(halves))
    if halves:
        plain = classifier.plain_vectors([items[i]["raw_text"] for i in halves],
                                         [items[i]["normalised_text"] for i in halves])
        for k, i in enumerate(halves):
            rows[i] = np.concatenate([stored(items[i]), plain[k]])
    if fresh:
        _, encoded = classifier.features([items[i]["raw_text"] for i in fresh], [items[i]["language"] for i in fresh],
                                         normalised=[items[i]["normalised_text"] for i in fresh])
        for k, i in enumerate(fresh):
            rows[i] = encoded[k]
    new = [{"feedback_id": items[i]["feedback_id"], "encoder": encoder, "vector": vector_bytes(rows[i])}
           for i in sorted(halves + fresh)]
    return np.stack(rows), new


def retheme_items(classifier: Classifier, items: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                                    list[dict[str, Any]]]:
    """Analysis rows of ``items`` (rows of :meth:`Store.items_to_retheme`) for the classifier's taxonomy,
    and the vectors that had to be computed (to store)."""
    if not items or classifier.themes is None:
        return [], []
    x, new_vectors = _vectors(classifier, items)
    x_tfidf = None
    if classifier.tfidf is not None:
        field = "normalised_text" if classifier.config.normalises_tfidf else "raw_text"
        x_tfidf = classifier.tfidf_matrix([r[field] for r in items])
    scores = classifier.themes.predict_proba(x, x_tfidf)
    thresholds = classifier.theme_thresholds
    rows = []
    for i, item in enumerate(items):
        probs = as_dict(item["sentiment_probs"])
        before = as_dict(item["theme_sentiment"])
        themes = {tid: round(float(scores[i, j]), 4) for j, tid in enumerate(classifier.theme_ids)
                  if scores[i, j] >= thresholds[j]}
        theme_sentiment = {tid: before.get(tid, item["sentiment"]) for tid in themes}
        rows.append({"feedback_id": item["feedback_id"], "model_version": classifier.model_version,
                     "sentiment": item["sentiment"], "sentiment_probs": probs, "themes": themes,
                     "theme_sentiment": theme_sentiment,
                     "is_complaint": is_complaint(float(probs.get("negative", 0.0)), theme_sentiment)})
    return rows, new_vectors
