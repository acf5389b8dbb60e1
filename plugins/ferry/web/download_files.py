"""The files a person may fetch from the download area, opened safely, and byte ranges.

Plain Python (no web framework): ferry.web.downloads serves what this opens.

Only a file of a delivered run is served: $FERRY_HOME/downloads/<export>/<JobID.RunID>/
holding it, and its manifest naming it (or the manifest itself); with staging on S3 that
folder is first filled from the copy the delivering worker published
(ferry.delivery.download). Every folder and the file are opened with O_NOFOLLOW, each
relative to the one before, so no name, symlink or folder swapped in after the check can
lead outside the area. Retention is the housekeeping DAG's
rule (ferry.delivery.housekeeping.expires_at): a file past it is refused as expired even
before the purge has deleted it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass

from ferry import paths
from ferry.delivery.download import sync_from_shared
from ferry.delivery.housekeeping import expires_at
from ferry.exceptions import Terminal
from ferry.manifest import MANIFEST_NAME, Manifest, StagedFile
from ferry.safe_names import segment_problem
from ferry.spec.base import ID_PATTERN

CHUNK_BYTES = 64 * 1024
DEFAULT_RETENTION_DAYS = 30  # as purge_downloads, for exports no longer defined
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block


class DownloadError(Terminal):
    """Why a file is not served; status is the HTTP answer (404, 410, 416)."""

    status = 404

    def __init__(self, message: str, **headers: str) -> None:
        super().__init__(message)
        self.headers = headers


class NotFound(DownloadError):
    status = 404


class RunMissing(NotFound):
    """The run has no folder in the download area (never delivered there, or purged)."""


class Expired(DownloadError):
    status = 410


class BadRange(DownloadError):
    status = 416


@dataclass(frozen=True)
class RunFile:
    """An open file of a delivered run; the caller streams it and closes it."""

    export_id: str
    job_run_id: str
    name: str
    size: int
    sha256: str  # from the manifest; "" for the manifest itself
    fd: int

    def chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive), a chunk at a time; closes the file when done."""
        try:
            position, left = start, end - start + 1
            while left > 0:
                chunk = os.pread(self.fd, min(CHUNK_BYTES, left), position)
                if not chunk:
                    return  # the file shrank since it was opened: send no more than it has
                position, left = position + len(chunk), left - len(chunk)
                yield chunk
        finally:
            self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # closed already
            os.close(self.fd)


def export_of(job_run_id: str) -> str:
    """The export a JobID.RunID belongs to, or NotFound when the text is no run id."""
    export_id, dot, run = job_run_id.partition(".")
    if not dot or not run or not re.fullmatch(ID_PATTERN, export_id) or segment_problem(run):
        raise NotFound(f"no run {job_run_id!r}: give the JobID.RunID that ferry history shows")
    return export_id


def open_run_file(
    job_run_id: str, name: str, *, retention_days: int, now: dt.datetime | None = None
) -> RunFile:
    """Open a file of a delivered run for reading, or say why not (DownloadError)."""
    export_id = export_of(job_run_id)
    if segment_problem(name) or name.startswith("."):
        raise NotFound(f"{name!r} is not a file name: a run's files are plain names")
    now = now or dt.datetime.now(dt.UTC)

    def refuse_expired(delivered: float) -> None:
        """The purge's rule, to the second: checked before an S3 copy is fetched, too."""
        expiry = expires_at(delivered, retention_days)
        if expiry < now:
            raise Expired(
                f"the files of run {job_run_id} expired on {expiry:%Y-%m-%d %H:%M} UTC: "
                f"export {export_id} keeps downloads {retention_days} days (retention_days)"
            )

    # delivered on another worker (staging on S3): fetched unless already expired there
    sync_from_shared(export_id, job_run_id, check=refuse_expired)
    run_fd = _open_run_folder(export_id, job_run_id)
    try:
        refuse_expired(_delivered_at(run_fd))
        listed = _listed(run_fd, job_run_id, name)
        fd = _open_regular(run_fd, name, job_run_id)
    finally:
        os.close(run_fd)
    size = os.fstat(fd).st_size
    return RunFile(export_id, job_run_id, name, size, listed.sha256 if listed else "", fd)


def _open_run_folder(export_id: str, job_run_id: str) -> int:
    missing = RunMissing(f"run {job_run_id} has no files in the download area")
    try:
        root = os.open(paths.downloads_dir(), _DIRECTORY)
    except OSError:
        raise missing from None
    try:
        export_fd = os.open(export_id, _DIRECTORY, dir_fd=root)
    except OSError:  # missing, or a symlink (refused by O_NOFOLLOW)
        raise missing from None
    finally:
        os.close(root)
    try:
        return os.open(job_run_id, _DIRECTORY, dir_fd=export_fd)
    except OSError:
        raise missing from None
    finally:
        os.close(export_fd)


def _delivered_at(run_fd: int) -> float:
    """As housekeeping.delivered_at, of the folder opened: its manifest's time, else its own."""
    try:
        found = os.stat(MANIFEST_NAME, dir_fd=run_fd, follow_symlinks=False)
    except OSError:
        return os.fstat(run_fd).st_mtime
    return found.st_mtime if stat.S_ISREG(found.st_mode) else os.fstat(run_fd).st_mtime


def _listed(run_fd: int, job_run_id: str, name: str) -> StagedFile | None:
    """The manifest's entry of name (None for the manifest itself); NotFound otherwise."""
    if name == MANIFEST_NAME:
        return None
    try:
        manifest = Manifest.from_dict(json.loads(_read_small(run_fd, MANIFEST_NAME, job_run_id)))
    except (ValueError, KeyError, TypeError):
        raise NotFound(f"run {job_run_id} has no readable {MANIFEST_NAME}") from None
    for staged in manifest.files:
        if staged.name == name:
            return staged
    raise NotFound(f"run {job_run_id} delivered no file {name!r}")


def _read_small(run_fd: int, name: str, job_run_id: str) -> str:
    fd = _open_regular(run_fd, name, job_run_id)
    with os.fdopen(fd, "rb") as stream:
        return stream.read().decode("utf-8")


def _open_regular(run_fd: int, name: str, job_run_id: str) -> int:
    """The file opened without following a symlink; NotFound unless it is a regular file."""
    try:
        fd = os.open(name, _FILE, dir_fd=run_fd)
    except OSError:  # missing, or a symlink (ELOOP)
        raise NotFound(f"run {job_run_id} has no file {name!r}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise NotFound(f"{name!r} of run {job_run_id} is not a regular file")
    os.set_blocking(fd, True)
    return fd


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (start, end) a Range header asks of a file of size bytes; None: all.

    One range of bytes: START-END, START- or -SUFFIX. Anything else, or a range the file
    cannot satisfy, is BadRange (416) with the file's size to retry with.
    """
    if header is None:
        return None
    unsatisfiable = {"Content-Range": f"bytes */{size}"}
    found = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if not found or found.groups() == ("", ""):
        raise BadRange(f"range {header!r}: give one range, bytes=START-END", **unsatisfiable)
    first, last = found.groups()
    if not first:  # the last SUFFIX bytes
        start, end = max(size - int(last), 0), size - 1
        if int(last) == 0:
            start = size  # nothing asked: unsatisfiable
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            raise BadRange(f"range {header!r} ends before it starts", **unsatisfiable)
    if start >= size:
        raise BadRange(f"range {header!r} is beyond the file's {size} bytes", **unsatisfiable)
    return start, end
