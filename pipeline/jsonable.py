"""One rule for values that must be written as strict JSON (run summaries, JSON columns, ``--json``).

:func:`jsonable` is the only sanitiser: the churn summary, the report summary, the customers'
attribute column and the churn drivers' statistics all call it.

Example:
    >>> import math, numpy as np, pandas as pd
    >>> jsonable({"auc": np.float64(0.71), "n": np.int64(3), "ece": math.nan, 1: (pd.Timestamp("2026-01-02"),)})
    {'auc': 0.71, 'n': 3, 'ece': None, '1': ['2026-01-02T00:00:00']}
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps(..., allow_nan=False)`` writes (PostgreSQL's json holds it too).

    Dict keys become strings, tuples, sets and arrays lists, numpy scalars Python numbers, dates ISO
    text; NaN, infinities, ``NaT`` and ``NA`` become ``None``; anything else unknown its ``str``.

    Example:
        >>> jsonable([np.array([1, 2]), {"x": float("inf")}, pd.NaT, pd.NA, None, True, "ok", 2.5])
        [[1, 2], {'x': None}, None, None, None, True, 'ok', 2.5]
        >>> jsonable(np.bool_(True)), jsonable(np.float32(0.5)), jsonable(date(2026, 6, 30))
        (True, 0.5, '2026-06-30')
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, date):  # datetime and pd.Timestamp too
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)):
        return value
    return str(value)
