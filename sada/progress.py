"""Progress for long commands (``sada analyze``, ``evaluate``, ``train``), always on stderr.

On a terminal: a rich progress bar per task (rows done, rows/s, time left). Elsewhere
(a pipe, a log file, CI): one plain line per task every ``interval`` seconds, so a
long run shows it is alive without flooding the log. Nothing is written to stdout,
so ``--json`` output stays one JSON object. The pipeline knows nothing of this: the
CLI passes :meth:`RowProgress.advance` as a callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RowProgress", "encoder_progress", "plain_line"]

logger = logging.getLogger(__name__)

#: Seconds between two plain progress lines when stderr is not a terminal.
PLAIN_INTERVAL = 10.0


def _duration(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 05 s``, ``42 s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def plain_line(label: str, done: int, total: int | None, seconds: float, unit: str = "rows") -> str:
    """One progress line for a log: done, total, rate and time left.

    Example:
        >>> plain_line("analysing a.csv", 12000, 100000, 10.0)
        'analysing a.csv: 12,000 of about 100,000 rows (1,200 rows/s, about 1 min 13 s left)'
        >>> plain_line("encoding", 50, None, 0.0, "texts")
        'encoding: 50 texts'
    """
    rate = done / seconds if seconds > 0 else 0.0
    line = f"{label}: {done:,}" + (f" of about {total:,}" if total else "") + f" {unit}"
    if rate:
        line += f" ({rate:,.0f} {unit}/s"
        if total and total > done:
            line += f", about {_duration((total - done) / rate)} left"
        line += ")"
    return line


@dataclass
class _Plain:
    label: str
    total: int | None
    unit: str
    start: float = field(default_factory=time.monotonic)
    done: int = 0
    last: float = field(default_factory=time.monotonic)


class RowProgress:
    """Tasks with a count of rows done; a bar on a terminal, periodic plain lines elsewhere.

    Use as a context manager; :meth:`task` adds one, :meth:`advance` counts rows,
    :meth:`finish` hides it (on a terminal) once done.
    """

    def __init__(self, console: Any = None, interval: float | None = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self.interval = PLAIN_INTERVAL if interval is None else interval
        self.terminal = self.console.is_terminal
        self._bar: Any = None
        self._plain: dict[int, _Plain] = {}

    def __enter__(self) -> RowProgress:
        if self.terminal:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[unit]}"), _rate_column(), TimeElapsedColumn(),
                                 TextColumn("left"), TimeRemainingColumn(), console=self.console, transient=True)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def task(self, label: str, total: int | None = None, unit: str = "rows") -> int:
        """A new task; ``total`` may be an estimate (or None: no time left is shown)."""
        if self._bar is not None:
            return self._bar.add_task(label, total=total, unit=unit)
        key = len(self._plain)
        self._plain[key] = _Plain(label, total, unit)
        return key

    def advance(self, task: int, rows: int) -> None:
        """Count ``rows`` more rows done."""
        if self._bar is not None:
            self._bar.advance(task, rows)
            state = self._bar.tasks[task] if task < len(self._bar.tasks) else None
            if state is not None and state.total is not None and state.completed > state.total:
                self._bar.update(task, total=state.completed)  # the estimate was low
            return
        plain = self._plain[task]
        plain.done += rows
        now = time.monotonic()
        if now - plain.last >= self.interval:
            plain.last = now
            self.console.print(plain_line(plain.label, plain.done, plain.total, now - plain.start, plain.unit),
                               markup=False, highlight=False, soft_wrap=True)

    def finish(self, task: int) -> None:
        """The task is done: its bar goes away (a file of a folder, one encoding pass)."""
        if self._bar is not None:
            self._bar.update(task, visible=False)


def _rate_column() -> Any:
    """A column showing rows per second (built when a bar is shown: rich is imported only then)."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Rows per second, from rich's own speed estimate."""

        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f}/s" if speed else "-/s", style="progress.data.speed")

    return RateColumn()


@contextmanager
def encoder_progress(progress: RowProgress, label: str = "encoding") -> Iterator[None]:
    """Count the texts the encoder embeds, one task per call, while the block runs.

    ``Encoder.batches`` is wrapped, not changed: it yields the same batches in the same
    order (the wrapper only counts them), and is restored when the block ends.
    """
    from sada.models.encoder import Encoder

    original = Encoder.batches

    def counted(self: Encoder, ids: list[list[int]], *args: Any, **kwargs: Any) -> Iterator[Any]:
        task = progress.task(f"{label} {len(ids):,} texts", total=len(ids), unit="texts")
        try:
            for batch in original(self, ids, *args, **kwargs):
                yield batch
                progress.advance(task, len(batch[0]))
        finally:
            progress.finish(task)

    Encoder.batches = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        Encoder.batches = original  # type: ignore[method-assign]
