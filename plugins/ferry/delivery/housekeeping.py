"""Retention of the download area: delete run folders older than their export allows."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

from ferry.manifest import MANIFEST_NAME

LOG = logging.getLogger("ferry.delivery")


def purge_downloads(
    downloads_root: Path,
    retention_days_by_export: dict[str, int],
    *,
    now: dt.datetime,
    default_days: int = 30,
    log: logging.Logger | None = None,
) -> list[Path]:
    """Delete download folders older than their export's retention, and say which.

    A run folder's age is that of its manifest (written last, when the run was delivered),
    else of the folder itself: leftovers of interrupted deliveries age out the same way.

    Args:
        downloads_root: $FERRY_HOME/downloads, holding <export>/<JobID.RunID>/ folders.
        retention_days_by_export: Days to keep, by export id.
        now: The reference time (naive means UTC).
        default_days: Days to keep for exports not in the mapping (e.g. deleted ones).
        log: Where to log each deletion.

    Returns:
        The folders deleted.
    """
    log = log or LOG
    if not downloads_root.is_dir():
        log.info("No download area at %s: nothing to purge", downloads_root)
        return []
    reference = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    deleted: list[Path] = []
    for export_dir in sorted(p for p in downloads_root.iterdir() if _is_real_dir(p)):
        days = retention_days_by_export.get(export_dir.name, default_days)
        for run_dir in sorted(p for p in export_dir.iterdir() if _is_real_dir(p)):
            if expires_at(delivered_at(run_dir), days) < reference:
                shutil.rmtree(run_dir)
                deleted.append(run_dir)
                log.info(
                    "Deleted %s: older than %d days (export %s)", run_dir, days, export_dir.name
                )
    return deleted


def _is_real_dir(path: Path) -> bool:
    """Folders only; a symlink is never followed, so nothing outside the area is deleted."""
    return path.is_dir() and not path.is_symlink()


def delivered_at(run_dir: Path) -> float:
    """When a run folder was delivered (its manifest's time, else the folder's), as a timestamp."""
    manifest = run_dir / MANIFEST_NAME
    return (manifest if manifest.is_file() else run_dir).stat().st_mtime


def expires_at(delivered: float, retention_days: int) -> dt.datetime:
    """When a run delivered at this timestamp expires: the rule of the purge and the web."""
    return dt.datetime.fromtimestamp(delivered, dt.UTC) + dt.timedelta(days=retention_days)
