"""Refresh markers: a refresh in progress holds a marker per table or segment it rewrites.

Exports read nothing while a marker of something they depend on exists; markers older than
STALE_AFTER are ignored, so a crashed refresh cannot block exports forever. A marker is a
file, so the refresh DAG can take it in one task and drop it in another (its teardown), and
the deferrable RefreshSensor's trigger can check it without a database.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ferry import paths

STALE_AFTER = dt.timedelta(hours=6)


def marker_dir() -> Path:
    """Where refresh markers live: $FERRY_HOME/refresh."""
    return paths.ferry_home() / "refresh"


def _marker(name: str, folder: Path | None = None) -> Path:
    return (folder or marker_dir()) / f"{name}.running"


def refreshes_in_progress(names: list[str], folder: Path | str | None = None) -> list[str]:
    """Which of these tables or segments a refresh is rewriting right now.

    Args:
        names: Tables and segments, as in an export's depends_on.
        folder: The marker folder; $FERRY_HOME/refresh unless given (the trigger passes the
            folder the task saw, so the triggerer needs no Ferry settings).
    """
    now, folder = time.time(), Path(folder) if folder else None
    running = []
    for name in names:
        try:
            age = now - _marker(name, folder).stat().st_mtime
        except FileNotFoundError:
            continue
        if age < STALE_AFTER.total_seconds():
            running.append(name)
    return running


def hold(names: list[str], holder: str = "") -> None:
    """Take the markers of these names (a refresh starts rewriting them)."""
    folder = marker_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        marker = _marker(name, folder)
        temporary = marker.with_name(f".{marker.name}.{os.getpid()}")
        temporary.write_text(holder or f"pid {os.getpid()}")
        temporary.replace(marker)


def release(names: list[str]) -> None:
    """Drop the markers of these names (their refresh finished or gave up)."""
    for name in names:
        _marker(name).unlink(missing_ok=True)


@contextmanager
def refreshing(names: list[str], holder: str = "") -> Iterator[None]:
    """Hold markers for these names while the block rewrites them."""
    hold(names, holder)
    try:
        yield
    finally:
        release(names)
