"""Progress lines for the task log: rows so far, of how many, rows/s and ETA.

Each batch is also a DEBUG record carrying progress=(rows, total), for a progress bar
(`ferry run --local` draws one from them); nothing is formatted unless someone listens.
"""

from __future__ import annotations

import logging
import time

LOG_EVERY_SECONDS = 5.0


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """Counts rows and logs at most every LOG_EVERY_SECONDS."""

    def __init__(self, log: logging.Logger, total: int, every: float | None = None):
        self._log, self.total = log, total
        self._every = LOG_EVERY_SECONDS if every is None else every
        self.rows = 0
        self.started = self._last = time.monotonic()
        self._tell()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def add(self, rows: int) -> None:
        self.rows += rows
        self._tell()
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._report()

    def _tell(self) -> None:
        if self._log.isEnabledFor(logging.DEBUG):
            progress = (self.rows, self.total)
            self._log.debug("extract: %s of %s rows", *progress, extra={"progress": progress})

    def _report(self) -> None:
        rate = self.rows / max(self.seconds, 1e-9)
        eta = (self.total - self.rows) / rate if rate else 0.0
        share = 100.0 * self.rows / self.total if self.total else 100.0
        self._log.info(
            "extract: %s of %s rows (%.0f%%), %s rows/s, ETA %s",
            f"{self.rows:,}", f"{self.total:,}", share, f"{rate:,.0f}", _duration(eta),
        )  # fmt: skip
