"""GET /ferry/api/runs/{JobID.RunID}/files/{name}: a delivered file, to an Airflow user.

The caller is Airflow's (GetUserDep: a Bearer token or the UI's cookie) and needs read
access to the export's DAG, as Airflow's auth manager decides. The file streams from disk
a chunk at a time (never whole in memory) and honours one byte range (206 Partial Content,
416 when unsatisfiable), so large files resume. Which files, and retention: see
ferry.web.download_files. Every file served is a row of the download audit
(ferry.history_downloads), shown by `ferry history --downloads`.

With staging on S3 this server's download folder is a cache of what workers published
(ferry.delivery.download.sync_from_shared) that the housekeeping DAG, on a worker, cannot
reach: a request starts, at most hourly and off the request's path, the same purge here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import APIRouter, Header, HTTPException
from fastapi.responses import StreamingResponse

from ferry import history, paths, staging
from ferry.dag_ids import export_dag_id
from ferry.delivery.housekeeping import purge_downloads, retention_of
from ferry.history_downloads import DownloadRecord, record_download
from ferry.manifest import MANIFEST_NAME
from ferry.web.auth import require_dag_access
from ferry.web.download_files import (
    DEFAULT_RETENTION_DAYS,
    DownloadError,
    RunFile,
    RunMissing,
    byte_range,
    export_of,
    open_run_file,
)

if TYPE_CHECKING:
    pass

from airflow.api_fastapi.core_api.security import GetUserDep

router = APIRouter(prefix="/api")
log = logging.getLogger(__name__)
PURGE_EVERY_SECONDS = 3600.0
_last_purge = [float("-inf")]  # time.monotonic() of the last purge this process started
_purge_lock = threading.Lock()


@router.get("/runs/{job_run_id}/files/{name}", name="ferry_download")
def download(
    job_run_id: str,
    name: str,
    user: GetUserDep,
    range_header: str | None = Header(default=None, alias="Range"),
) -> StreamingResponse:
    """Stream a file of a delivered run (all of it, or the one range asked)."""
    export_id = _checked(export_of, job_run_id)
    require_dag_access(user, export_dag_id(export_id), "GET")
    purge_copies_now_and_then()
    days = _retention_days(export_id)
    try:
        opened = open_run_file(job_run_id, name, retention_days=days)
    except RunMissing as missing:
        raise _purged(job_run_id, days) or _http(missing) from None
    except DownloadError as error:
        raise _http(error) from None
    try:
        span = _checked(byte_range, range_header, opened.size)
    except HTTPException:
        opened.close()
        raise
    start, end = span if span else (0, opened.size - 1)
    shown = f"bytes={start}-{end}/{opened.size}" if span else ""
    record_download(
        DownloadRecord.now(
            username=user.get_name(), job_run_id=job_run_id, export_id=export_id,
            file=name, bytes=max(end - start + 1, 0), range=shown, status=206 if span else 200,
        )
    )  # fmt: skip
    return StreamingResponse(
        opened.chunks(start, end),
        status_code=206 if span else 200,
        media_type="application/json" if name == MANIFEST_NAME else "application/octet-stream",
        headers=_headers(opened, start, end, partial=span is not None),
    )


def _checked(function, *args, **kwargs):
    """The function's answer; its DownloadError as the HTTP error it stands for."""
    try:
        return function(*args, **kwargs)
    except DownloadError as error:
        raise _http(error) from None


def _http(error: DownloadError) -> HTTPException:
    return HTTPException(error.status, detail=str(error), headers=error.headers or None)


def _headers(opened: RunFile, start: int, end: int, *, partial: bool) -> dict[str, str]:
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(max(end - start + 1, 0)),
        "Content-Disposition": _disposition(opened.name),
        "Cache-Control": "private, no-store",  # who fetched what is audited: no shared caches
    }
    if opened.sha256:
        headers["ETag"] = f'"{opened.sha256}"'
    if partial:
        headers["Content-Range"] = f"bytes {start}-{end}/{opened.size}"
    return headers


def _purged(job_run_id: str, days: int) -> HTTPException | None:
    """410 when the run delivered to the download area but its folder is gone: purged."""
    record = history.get_run(job_run_id)
    receipts = json.loads(record.destinations) if record else []
    if any(receipt.get("type") == "download" for receipt in receipts):
        return HTTPException(
            410,
            detail=f"the files of run {job_run_id} were deleted: its export keeps downloads "
            f"{days} days (retention_days); run the export again for fresh files",
        )
    return None


def _disposition(name: str) -> str:
    """attachment, named: plainly when the name is plain ASCII, else RFC 6266's filename*."""
    if re.fullmatch(r"[A-Za-z0-9._-]+", name):
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=UTF-8''{quote(name, safe='')}"


def _retention_days(export_id: str) -> int:
    """The export's retention_days; the purge's default once the export is removed."""
    from ferry.spec.loader import load_project

    export = load_project(paths.include_dir()).exports.get(export_id)
    return export.retention_days if export else DEFAULT_RETENTION_DAYS


def purge_copies_now_and_then() -> threading.Thread | None:
    """Start the purge of this server's expired copies when staging is on S3 and the last
    one started over PURGE_EVERY_SECONDS ago; the thread started, else None."""
    if staging.shared_remote(staging.DOWNLOADS_AREA) is None:
        return None  # local staging: the housekeeping DAG runs where the folder is
    now = time.monotonic()
    with _purge_lock:
        if now - _last_purge[0] < PURGE_EVERY_SECONDS:
            return None
        _last_purge[0] = now
    thread = threading.Thread(target=_purge_copies, name="ferry-purge-copies", daemon=True)
    thread.start()
    return thread


def _purge_copies() -> None:
    from ferry.spec.loader import load_project

    try:
        retention, default_days = retention_of(load_project(paths.include_dir()), log)
        now = dt.datetime.now(dt.UTC)
        purge_downloads(
            paths.downloads_dir(), retention, now=now, default_days=default_days, log=log
        )
    except Exception:  # a purge that fails must not fail a download; the next one retries
        log.warning("Purging this server's copies of downloads failed", exc_info=True)
