"""The progress bar of `ferry run --local`: rows, rows/s and ETA while the extract runs.

Drawn with rich from the extract's progress records (ferry.engine.progress logs each batch
at DEBUG with progress=(rows, total)), so the engine knows nothing of terminals.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.speed or (task.completed / task.elapsed if task.elapsed else 0.0)
        return Text(f"{speed:,.0f} rows/s")


class ExtractBar(logging.Handler):
    """A logging handler that turns the extract's progress records into a bar."""

    def __init__(self, console: Console):
        super().__init__(logging.DEBUG)
        self._bar = Progress(
            TextColumn("extract"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
            RowsPerSecond(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
        )  # fmt: skip
        self._task = None

    def emit(self, record: logging.LogRecord) -> None:
        progress = getattr(record, "progress", None)
        if progress is None:
            return
        rows, total = progress
        if self._task is None:
            self._bar.start()
            self._task = self._bar.add_task("extract", total=total)
        self._bar.update(self._task, completed=rows)

    def close(self) -> None:
        if self._task is not None:
            self._bar.stop()
        super().close()


@contextlib.contextmanager
def extract_bar(show: bool, stream: TextIO | None = None) -> Iterator[None]:
    """While inside, the extract's progress is a bar on stream (stderr); nothing unless show."""
    if not show:
        yield
        return
    bar = ExtractBar(Console(file=stream or sys.stderr, force_terminal=True))
    logger = logging.getLogger("ferry")
    logger.addHandler(bar)
    try:
        yield
    finally:
        logger.removeHandler(bar)
        bar.close()
