"""Retention of the download area: delete run folders older than their export allows.

Two copies age out by one rule (expires_at, from the time the run was delivered): the
folders on this machine (purge_downloads) and, when staging is on S3, the runs published
under <staging>/_downloads/<export>/<run>/ for every server (purge_shared_downloads).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ferry import staging
from ferry.manifest import MANIFEST_NAME
from ferry.safe_names import segment_problem

if TYPE_CHECKING:
    from ferry.spec.project import Project

LOG = logging.getLogger("ferry.delivery")
DEFAULT_DAYS = 30  # for exports no longer defined, when include/ loaded cleanly


def retention_of(
    project: Project, log: logging.Logger | None = None
) -> tuple[dict[str, int], int | None]:
    """(days by export id, default days) for a purge, from a loaded include/.

    The default is None (runs of exports not loaded are left) when include/ has errors
    or no exports: a broken export's own retention_days is unknown, and a worker with a
    wrong FERRY_INCLUDE must not purge every export at the default.
    """
    log = log or LOG
    days = {export.id: export.retention_days for export in project.exports.values()}
    if project.errors or not days:
        why = f"{len(project.errors)} error(s) in" if project.errors else "no exports in"
        broken = ", ".join(sorted(project.broken)) or "none"
        log.warning(
            "Purging only the runs of loaded exports: %s %s (broken files: %s); fix include/ "
            "or FERRY_INCLUDE to purge the rest",
            why,
            project.root,
            broken,
        )
        return days, None
    return days, DEFAULT_DAYS


def purge_downloads(
    downloads_root: Path,
    retention_days_by_export: dict[str, int],
    *,
    now: dt.datetime,
    default_days: int | None = DEFAULT_DAYS,
    log: logging.Logger | None = None,
) -> list[Path]:
    """Delete download folders older than their export's retention, and say which.

    A run folder's age is that of its manifest (written last, when the run was delivered),
    else of the folder itself: leftovers of interrupted deliveries age out the same way.

    Args:
        downloads_root: $FERRY_HOME/downloads, holding <export>/<JobID.RunID>/ folders.
        retention_days_by_export: Days to keep, by export id.
        now: The reference time (naive means UTC).
        default_days: Days to keep for exports not in the mapping (e.g. deleted ones);
            None leaves them (see retention_of).
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
        days = _days_of(export_dir.name, retention_days_by_export, default_days, log)
        if days is None:
            continue
        for run_dir in sorted(p for p in export_dir.iterdir() if _is_real_dir(p)):
            if expires_at(delivered_at(run_dir), days) < reference:
                shutil.rmtree(run_dir)
                deleted.append(run_dir)
                log.info(
                    "Deleted %s: older than %d days (export %s)", run_dir, days, export_dir.name
                )
    return deleted


def _days_of(
    export_id: str, days: dict[str, int], default_days: int | None, log: logging.Logger
) -> int | None:
    """The export's days to keep, else the default; None (logged) when it is left."""
    if export_id in days:
        return days[export_id]
    if default_days is None:
        log.warning(
            "Left the runs of export %s: it is not loaded from include/ and include/ has "
            "errors or no exports, so its retention_days is unknown",
            export_id,
        )
    return default_days


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


@dataclass
class _PublishedRun:
    """The objects of one run folder under _downloads/, as listed."""

    export_id: str
    run: str
    keys: list[str]
    newest: float  # the newest object's LastModified
    manifest: float | None = None  # the manifest's LastModified: when it was published

    @property
    def delivered(self) -> float:
        """As delivered_at: the manifest's time, else the folder's (its newest object)."""
        return self.manifest if self.manifest is not None else self.newest


def purge_shared_downloads(
    retention_days_by_export: dict[str, int],
    *,
    now: dt.datetime,
    default_days: int | None = DEFAULT_DAYS,
    log: logging.Logger | None = None,
    page_size: int = 1000,
    batch_size: int = 1000,
) -> list[str]:
    """Delete the runs under <staging>/_downloads/ older than their export's retention.

    One listing of the area, page by page (a run's keys are consecutive in S3's key order,
    so each run is judged when its last key is listed); the expired runs' keys are deleted
    batch_size at a time; default_days None leaves the exports not in the mapping.
    Only keys under <staging>/_downloads/<export>/<run>/ with both
    names plain segments are ever deleted: nothing outside the area, and no key whose names
    a system could read as '..' or a separator (those are logged and left).

    Returns:
        The s3:// URLs of the run folders deleted; [] when staging is not on S3.
    """
    log = log or LOG
    area = staging.shared_remote(staging.DOWNLOADS_AREA)
    if area is None:
        return []
    from ferry import s3

    reference = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    bucket = s3.Bucket(area.conn_id, area.bucket)
    pending: list[str] = []
    deleted: list[str] = []
    left: set[str] = set()
    for found in _published_runs(bucket, area, page_size, log):
        if found.export_id in left:
            continue
        days = _days_of(found.export_id, retention_days_by_export, default_days, log)
        if days is None:
            left.add(found.export_id)  # logged once per export
            continue
        if expires_at(found.delivered, days) >= reference:
            continue
        url = area.object_url(f"{found.export_id}/{found.run}/")
        pending.extend(found.keys)
        deleted.append(url)
        log.info("Deleting %s: older than %d days (export %s)", url, days, found.export_id)
        while len(pending) >= batch_size:
            bucket.delete(pending[:batch_size])
            del pending[:batch_size]
    if pending:
        bucket.delete(pending)
    return deleted


def _published_runs(
    bucket, area: staging.Remote, page_size: int, log: logging.Logger
) -> Iterator[_PublishedRun]:
    """Each run folder under the area with its keys, in key order."""
    from ferry import s3

    prefix = area.key()  # ends with '/': "_downloads_old/" or "_downloadsX" never match
    current: _PublishedRun | None = None
    with s3.s3_errors():
        pages = bucket.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket.name, Prefix=prefix, PaginationConfig={"PageSize": page_size}
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                names = _run_of(key, prefix)
                if names is None:
                    log.warning("Left %r under %s: not a run folder's file", key, prefix)
                    continue
                if current is None or (current.export_id, current.run) != names:
                    if current is not None:
                        yield current
                    current = _PublishedRun(*names, keys=[], newest=0.0)
                modified = item["LastModified"].timestamp()
                current.keys.append(key)
                current.newest = max(current.newest, modified)
                if key == f"{prefix}{names[0]}/{names[1]}/{MANIFEST_NAME}":
                    current.manifest = modified
    if current is not None:
        yield current


def _run_of(key: str, prefix: str) -> tuple[str, str] | None:
    """(export, run) of a key <prefix><export>/<run>/<rest>, or None when it is not one."""
    if not key.startswith(prefix):
        return None
    export_id, _, rest = key[len(prefix) :].partition("/")
    run, separator, _ = rest.partition("/")  # "<run>/" itself (a folder marker) is the run's
    if not separator or segment_problem(export_id) or segment_problem(run):
        return None
    return export_id, run
