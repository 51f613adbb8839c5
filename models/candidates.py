"""Candidate themes of a store: its uncovered complaints, embedded by the general-purpose encoder, grouped.

The one place that joins :func:`sada.pipeline.discovery.uncovered_complaints`,
:func:`sada.models.encoder.topic_vectors` and :func:`sada.pipeline.discovery.discover`, for
``sada themes discover``, ``sada report`` and the ``cx-report`` flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sada.models.encoder import topic_vectors
from sada.pipeline.discovery import Candidate, discover, uncovered_complaints

__all__ = ["StoreCandidates", "store_candidates"]


@dataclass(frozen=True)
class StoreCandidates:
    candidates: list[Candidate]
    uncovered: int
    complaints: int


def store_candidates(store: Any, min_size: int = 5) -> StoreCandidates:
    """The candidate themes among the store's complaints that no theme covers."""
    uncovered, complaints = uncovered_complaints(store)
    if len(uncovered) < 2 * min_size:
        return StoreCandidates([], len(uncovered), complaints)
    vectors = topic_vectors([r["raw_text"] for r in uncovered]).astype(np.float32)
    return StoreCandidates(discover(uncovered, vectors, min_size=min_size), len(uncovered), complaints)
