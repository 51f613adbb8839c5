"""Spike alerts: themes whose complaint volume this period is far above their usual level.

For every (theme, language, channel), the complaints of the reporting period are
compared with the same counts in the ``baseline`` periods before it (same kind
and length; periods with no count count as 0). A spike is a count of at least
``min_count`` that exceeds ``mean + z * sd`` of the baseline, where ``sd`` is the
sample standard deviation floored at ``sqrt(max(mean, 1))`` (the Poisson noise of
a count), so that a flat history does not turn every small bump into an alert.
Baseline periods before the first dated item in the store do not count; with
fewer than ``min_history`` of them there is no baseline and no alert.

An item complains about a theme when its theme-level sentiment is negative
(:func:`sada.pipeline.report.data.complaint_themes`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sada.pipeline.report.data import complaint_themes
from sada.pipeline.report.period import Period

__all__ = ["complaint_events", "detect_spikes", "clean_quote"]

_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_OTHER_CONTROLS = dict.fromkeys([c for c in range(0x20) if c not in (0x09, 0x0A)] + [0x7F])


def clean_quote(text: Any, limit: int = 320) -> str:
    """Customer text made safe to lay out: bidi embedding/override/isolate controls and C0 controls removed.

    Escaping is the template's job (autoescape); this only stops a quote from
    re-ordering the text around it (e.g. U+202E RIGHT-TO-LEFT OVERRIDE) and caps its length.

    Example:
        >>> clean_quote("abc\\u202edef\\u2066x")
        'abcdefx'
    """
    s = str(text or "").translate(_BIDI_CONTROLS).translate(_OTHER_CONTROLS).strip()
    return s if len(s) <= limit else s[:limit].rstrip() + "…"


def complaint_events(feedback: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """One row per (item, theme complained about): ``feedback_id, created_at, language, channel, theme``."""
    rows = []
    dated = feedback[feedback["created_at"].notna() & feedback["sentiment"].notna()]
    for r in dated.itertuples(index=False):
        for theme in complaint_themes(r.themes, r.theme_sentiment, threshold):
            rows.append((r.feedback_id, r.created_at, r.language, r.channel, theme))
    return pd.DataFrame(rows, columns=["feedback_id", "created_at", "language", "channel", "theme"])


def detect_spikes(feedback: pd.DataFrame, period: Period, baseline: int = 6, z: float = 2.0,
                  min_count: int = 3, min_history: int = 3, examples: int = 2,
                  theme_names: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Spike alerts for ``period``.

    Args:
        feedback: :func:`sada.pipeline.report.data.load_feedback` frame.
        period: The reporting period.
        baseline: Trailing periods in the baseline.
        z: Standard deviations above the baseline mean.
        min_count: Fewest complaints that can be a spike.
        min_history: Fewest baseline periods with data needed for any alert.
        examples: Example quotes per alert (PII-masked stored text).
        theme_names: Theme id -> display name for the ``theme_name`` field.

    Returns:
        ``(alerts, history)``: the alerts (JSON-ready dicts, largest excess first: ``theme, theme_name,
        language, channel, period, count, baseline_counts, baseline_mean, baseline_sd, threshold, z_score,
        examples`` with ``feedback_id, created_at, text``) and the number of baseline periods with data.
    """
    events = complaint_events(feedback)
    first = feedback["created_at"].min()
    windows = [p for p in period.trailing(baseline) if pd.notna(first) and p.end > first]
    if len(windows) < min_history or not len(events):
        return [], len(windows)
    current = events[period.contains(events["created_at"])]
    if not len(current):
        return [], len(windows)
    keys = ["theme", "language", "channel"]
    history = pd.DataFrame({i: events[w.contains(events["created_at"])].groupby(keys).size()
                            for i, w in enumerate(windows)})
    alerts = []
    for key, now in current.groupby(keys).size().items():
        counts = (history.loc[key].fillna(0).to_numpy(dtype=float) if key in history.index
                  else np.zeros(len(windows)))
        mean = float(counts.mean())
        sd = float(counts.std(ddof=1)) if len(counts) > 1 else 0.0
        sd_eff = max(sd, math.sqrt(max(mean, 1.0)))
        threshold = mean + z * sd_eff
        if now < min_count or now <= threshold:
            continue
        theme, language, channel = key
        ids = current[(current["theme"] == theme) & (current["language"] == language)
                      & (current["channel"] == channel)]["feedback_id"]
        items = feedback[feedback["feedback_id"].isin(set(ids))].sort_values("created_at", ascending=False)
        alerts.append({
            "theme": theme, "theme_name": (theme_names or {}).get(theme, theme), "language": language,
            "channel": channel, "period": period.key, "count": int(now),
            "baseline_counts": [int(x) for x in counts], "baseline_mean": round(mean, 2),
            "baseline_sd": round(sd, 2), "threshold": round(threshold, 2),
            "z_score": round((now - mean) / sd_eff, 2),
            "examples": [{"feedback_id": r.feedback_id, "created_at": str(r.created_at), "language": r.language,
                          "text": clean_quote(r.raw_text, 240)} for r in items.head(examples).itertuples()],
        })
    alerts.sort(key=lambda a: (-a["z_score"], -a["count"], a["theme"]))
    return alerts, len(windows)
