"""Refresh markers: a refresh in progress holds a marker per table or segment it rewrites.

Exports read nothing while a marker of something they depend on exists; markers older than
STALE_AFTER are ignored, so a crashed refresh cannot block exports forever.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ferry import paths

STALE_AFTER = dt.timedelta(hours=6)


def _marker(name: str) -> Path:
    return paths.ferry_home() / "refresh" / f"{name}.running"


def refreshes_in_progress(names: list[str]) -> list[str]:
    """Which of these tables or segments a refresh is rewriting right now."""
    now = time.time()
    running = []
    for name in names:
        marker = _marker(name)
        if marker.exists() and now - marker.stat().st_mtime < STALE_AFTER.total_seconds():
            running.append(name)
    return running


@contextmanager
def refreshing(names: list[str]) -> Iterator[None]:
    """Hold markers for these names while the block rewrites them."""
    markers = [_marker(name) for name in names]
    for marker in markers:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    try:
        yield
    finally:
        for marker in markers:
            marker.unlink(missing_ok=True)
