"""Reporting periods: parse ``--period`` and step back to the previous and trailing periods.

Accepted forms:

* ``2026-06``: a calendar month; ``2026-Q2``: a quarter; ``2026-W23``: an ISO week;
  ``2026``: a year;
* ``2026-05-01..2026-05-31``: an inclusive date range (the previous period is the
  same number of days just before it);
* ``last-30d``: the 30 days ending with the newest item in the store;
* nothing: the calendar month of the newest item.

Example:
    >>> p = parse_period("2026-Q2")
    >>> p.start.date(), p.end.date(), p.previous().key
    (datetime.date(2026, 4, 1), datetime.date(2026, 7, 1), '2026-Q1')
    >>> parse_period("2026-05-01..2026-05-10").previous().key
    '2026-04-21..2026-04-30'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sada.pipeline.errors import ConfigError

__all__ = ["Period", "parse_period"]

_FORMS = "YYYY-MM, YYYY-Qn, YYYY-Www, YYYY, START..END (dates) or last-Nd"


@dataclass(frozen=True)
class Period:
    """A half-open time interval ``[start, end)`` of one kind.

    Attributes:
        kind: ``month``, ``quarter``, ``week``, ``year`` or ``range``.
        start: First instant of the period.
        end: First instant after the period.
    """

    kind: str
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def key(self) -> str:
        """Canonical text of the period, as ``--period`` accepts it (e.g. ``2026-06``)."""
        s = self.start
        if self.kind == "month":
            return f"{s.year:04d}-{s.month:02d}"
        if self.kind == "quarter":
            return f"{s.year:04d}-Q{(s.month - 1) // 3 + 1}"
        if self.kind == "week":
            iso = s.isocalendar()
            return f"{iso.year:04d}-W{iso.week:02d}"
        if self.kind == "year":
            return f"{s.year:04d}"
        return f"{s.date()}..{(self.end - pd.Timedelta(days=1)).date()}"

    def _step(self) -> Any:
        return {"month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3),
                "week": pd.DateOffset(weeks=1), "year": pd.DateOffset(years=1)}.get(self.kind, self.end - self.start)

    def previous(self, n: int = 1) -> Period:
        """The period ``n`` steps before this one, of the same kind and length."""
        step = self._step()
        start, end = self.start, self.end
        for _ in range(n):
            start, end = start - step, start
        return Period(self.kind, pd.Timestamp(start), pd.Timestamp(end))

    def trailing(self, n: int) -> list[Period]:
        """The ``n`` periods before this one, oldest first."""
        return [self.previous(k) for k in range(n, 0, -1)]

    def contains(self, when: pd.Series) -> pd.Series:
        """Boolean mask of the timestamps in ``when`` that fall in the period."""
        return (when >= self.start) & (when < self.end)

    def label(self, translator: Any) -> str:
        """Human-readable name in the translator's language (``June 2026``, ``الربع ٢ من ٢٠٢٦``...)."""
        t = translator
        s = self.start
        if self.kind == "month":
            return t.month(s)
        if self.kind == "quarter":
            return t.t("period_quarter", q=t.digits(str((s.month - 1) // 3 + 1)), year=t.digits(str(s.year)))
        if self.kind == "week":
            iso = s.isocalendar()
            return t.t("period_week", week=t.digits(str(iso.week)), year=t.digits(str(iso.year)))
        if self.kind == "year":
            return t.t("period_year", year=t.digits(str(s.year)))
        return t.t("period_range", start=t.date(s), end=t.date(self.end - pd.Timedelta(days=1)))


def parse_period(spec: str | None, latest: Any = None) -> Period:
    """Parse ``--period``.

    Args:
        spec: One of the forms in the module docstring, or ``None``.
        latest: Timestamp of the newest item; needed for ``None`` and ``last-Nd`` (default: today).

    Returns:
        The :class:`Period`.

    Raises:
        ConfigError: ``spec`` is not one of the accepted forms.
    """
    latest_ts = pd.Timestamp(latest) if latest is not None and not pd.isna(latest) else pd.Timestamp.now()
    text = (spec or "").strip()
    try:
        if not text:
            start = latest_ts.normalize().replace(day=1)
            return Period("month", start, start + pd.DateOffset(months=1))
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
            start = pd.Timestamp(int(m[1]), int(m[2]), 1)
            return Period("month", start, start + pd.DateOffset(months=1))
        if m := re.fullmatch(r"(\d{4})-?[Qq]([1-4])", text):
            start = pd.Timestamp(int(m[1]), 3 * int(m[2]) - 2, 1)
            return Period("quarter", start, start + pd.DateOffset(months=3))
        if m := re.fullmatch(r"(\d{4})-?[Ww](\d{1,2})", text):
            start = pd.Timestamp.fromisocalendar(int(m[1]), int(m[2]), 1)
            return Period("week", start, start + pd.DateOffset(weeks=1))
        if m := re.fullmatch(r"(\d{4})", text):
            start = pd.Timestamp(int(m[1]), 1, 1)
            return Period("year", start, start + pd.DateOffset(years=1))
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})", text):
            start, last = pd.Timestamp(m[1]), pd.Timestamp(m[2])
            if last < start:
                raise ValueError("end before start")
            return Period("range", start, last + pd.Timedelta(days=1))
        if m := re.fullmatch(r"last-(\d+)d", text):
            end = latest_ts.normalize() + pd.Timedelta(days=1)
            return Period("range", end - pd.Timedelta(days=int(m[1])), end)
    except ValueError:
        pass
    raise ConfigError(f"expected --period as {_FORMS}, found {spec!r}; e.g. --period 2026-06")
