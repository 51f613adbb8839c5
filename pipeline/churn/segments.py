"""Risk bands and playbook segments of scored customers.

**Bands** by calibrated probability: ``low`` < 0.15 <= ``medium`` < 0.35 <= ``high``.
**Segments** (relationship-marketing playbook), first match wins: ``churned``
(churned by the as-of date, or no activity for more than 90 days), ``at risk``
(band high), ``new`` (tenure under 3 months), ``loyal``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BAND_EDGES", "LAPSE_DAYS", "NEW_MONTHS", "assign_bands", "assign_segments"]

#: Upper edges of the ``low`` and ``medium`` bands (calibrated probability).
BAND_EDGES = (0.15, 0.35)
#: No activity for more than this many days: the customer has lapsed (segment ``churned``).
LAPSE_DAYS = 90
#: Tenure under this many months: segment ``new``.
NEW_MONTHS = 3.0


def assign_bands(p: Any, edges: tuple[float, float] = BAND_EDGES) -> np.ndarray:
    """Risk band per score: ``low``, ``medium`` or ``high``.

    Example:
        >>> assign_bands([0.05, 0.2, 0.9]).tolist()
        ['low', 'medium', 'high']
    """
    p = np.asarray(p, dtype=float)
    return np.where(p < edges[0], "low", np.where(p < edges[1], "medium", "high"))


def assign_segments(info: pd.DataFrame, bands: Any, lapse_days: int = LAPSE_DAYS,
                    new_months: float = NEW_MONTHS) -> np.ndarray:
    """Playbook segment per customer: ``churned``, ``at risk``, ``new`` or ``loyal`` (first match wins).

    ``churned``: churned by the as-of date (``info.label == 1``) or no activity for more than
    ``lapse_days``; ``at risk``: band ``high``; ``new``: tenure under ``new_months``.

    Example:
        >>> info = pd.DataFrame({"label": [1, 0, 0, 0], "recency_days": [5, 200, 3, 3],
        ...                      "tenure_months": [20, 20, 1, 30]})
        >>> assign_segments(info, ["low", "low", "low", "low"]).tolist()
        ['churned', 'churned', 'new', 'loyal']
    """
    bands = np.asarray(bands)
    lab = info["label"].to_numpy(dtype=float) if "label" in info else np.full(len(info), np.nan)
    rec = info["recency_days"].to_numpy(dtype=float) if "recency_days" in info else np.full(len(info), np.nan)
    ten = info["tenure_months"].to_numpy(dtype=float) if "tenure_months" in info else np.full(len(info), np.nan)
    churned = (lab == 1) | (np.nan_to_num(rec, nan=0.0) > lapse_days)
    return np.where(churned, "churned", np.where(bands == "high", "at risk",
                    np.where(np.nan_to_num(ten, nan=np.inf) < new_months, "new", "loyal")))

