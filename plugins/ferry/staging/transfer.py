"""Moving a run between this worker's folder and remote staging (S3), checked by its manifest.

- publish() after extract: data files and sidecars first, manifest.json last (the commit
  marker). A rerun first removes the old manifest, so no reader trusts the old files, and
  deletes every key under the run's prefix the new manifest does not name before the new
  manifest goes up: a rerun replaces, never adds.
- fetch() before validate and deliver, on whichever worker runs them: the manifest, then
  every file it names, each checked by size and sha256 (Manifest's rules); a file already
  in the cache with the manifest's digest (the extract worker's own) is not downloaded
  again, so what a task reads is always the bytes the manifest names.
- publish_manifest() after validate (its summary is in the manifest) and publish_folder()
  after a delivery that keeps files beside the run (webhook rejects), so they outlive the
  worker.

With local staging every function here returns at once: no S3 import, no copy, no hashing.
S3 goes through ferry.s3 (imported inside the functions: this module loads while DAG files
parse).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ferry.manifest import MANIFEST_NAME, FileMismatch, Manifest, StagedFile, read_manifest
from ferry.staging.location import ENV, Remote, RunLocation

if TYPE_CHECKING:
    from ferry.plan import ExportPlan
    from ferry.s3 import Bucket

LOG = logging.getLogger("ferry.staging")
PARALLEL_FILES = 4  # files moved at once; each large file also moves in 2 parts at once


class StagingError(Exception):
    """Moving a run to or from remote staging failed; the message names the URL.

    Attributes:
        retryable: False when another try of the same task cannot help (a file missing or
            changed since extract, a missing bucket, refused credentials).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotStaged(StagingError):
    """The manifest, or a file it names, is not in the bucket."""


def remote_of(plan: ExportPlan) -> Remote | None:
    """The run's remote prefix, or None when it is staged locally."""
    return RunLocation(Path(plan.staging_dir), plan.staging_url).remote


def publish(plan: ExportPlan, manifest: Manifest, *, log: logging.Logger = LOG) -> None:
    """Upload the run extract just wrote; the prefix then holds exactly the manifest's files."""
    remote = remote_of(plan)
    if remote is None:
        return
    started = time.monotonic()
    files = [(staged.name, staged.sha256) for staged in manifest.files]
    stale = _replace(_Prefix(remote), Path(plan.staging_dir), files)
    if stale:
        log.info("Staging: deleted %d keys an earlier try left under %s", stale,
                 remote.object_url())  # fmt: skip
    log.info(
        "Staging: published %d files (%s bytes), then the manifest, to %s in %.2f s",
        len(files), f"{sum(staged.bytes for staged in manifest.files):,}", remote.object_url(),
        time.monotonic() - started,
    )  # fmt: skip


def publish_manifest(plan: ExportPlan, *, log: logging.Logger = LOG) -> None:
    """Upload the local manifest again (validate adds its summary); the files are unchanged."""
    remote = remote_of(plan)
    if remote is None or not (Path(plan.staging_dir) / MANIFEST_NAME).is_file():
        return
    _Prefix(remote).upload(Path(plan.staging_dir) / MANIFEST_NAME, MANIFEST_NAME)
    log.info("Staging: manifest updated at %s", remote.object_url(MANIFEST_NAME))


def publish_folder(plan: ExportPlan, relative: str, *, log: logging.Logger = LOG) -> None:
    """Upload a folder a delivery wrote beside the staged files (webhook rejects).

    Like publish(): its manifest.json last, keys the folder no longer holds deleted.
    """
    remote = remote_of(plan)
    folder = Path(plan.staging_dir) / relative
    if remote is None or not folder.is_dir():
        return
    target = remote.child(relative)
    files = sorted(
        (path.name, "")
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.name != MANIFEST_NAME
    )
    _replace(_Prefix(target), folder, files)
    log.info("Staging: %s kept at %s", relative, target.object_url())


def _replace(prefix: _Prefix, folder: Path, files: list[tuple[str, str]]) -> int:
    """Make the prefix hold exactly these files and the folder's manifest.json.

    The old manifest goes first (no reader trusts files about to change), then the files
    go up, then keys no longer named are deleted, and the manifest goes up last.

    Args:
        prefix: The run's (or a delivery folder's) prefix.
        folder: The local folder holding the files.
        files: (name, sha256) of each file; the digest is kept as the key's metadata.

    Returns:
        How many stale keys were deleted.
    """
    before = prefix.list()
    if MANIFEST_NAME in before:
        prefix.delete([MANIFEST_NAME])
    _each(lambda file: prefix.upload(folder / file[0], *file), files)
    stale = sorted(set(before) - {name for name, _ in files} - {MANIFEST_NAME})
    if stale:
        prefix.delete(stale)
    if (folder / MANIFEST_NAME).is_file():
        prefix.upload(folder / MANIFEST_NAME, MANIFEST_NAME)
    return len(stale)


def fetch(plan: ExportPlan, *, log: logging.Logger = LOG) -> Path:
    """The run's local folder with every staged file checked against the manifest.

    Local staging: the staging folder, untouched. Remote: this worker's cache, filled from
    the bucket; the manifest is written last.

    Raises:
        StagingError: The manifest or a file is missing, or a file differs from the
            manifest (retryable=False), or the bucket cannot be reached (retryable=True).
    """
    remote = remote_of(plan)
    folder = Path(plan.staging_dir)
    if remote is None:
        return folder
    started = time.monotonic()
    manifest, fetched = _fetch_into(_Prefix(remote), folder)
    log.info(
        "Staging: fetched %d of %d files (%s bytes; the rest were in this worker's cache) "
        "from %s into %s, all matching the manifest, in %.2f s",
        len(fetched), len(manifest.files), f"{sum(fetched):,}", remote.object_url(), folder,
        time.monotonic() - started,
    )  # fmt: skip
    return folder


def publish_tree(remote: Remote, folder: Path) -> None:
    """Make remote hold exactly the folder's plain files, its manifest.json uploaded last
    (a folder every process must reach: a run's download folder, an import's rejects)."""
    names = [
        path.name
        for path in folder.iterdir()
        if path.is_file() and not path.name.startswith(".") and path.name != MANIFEST_NAME
    ]
    publish_files(remote, folder, names)


def publish_files(remote: Remote, folder: Path, names: list[str]) -> None:
    """Make remote hold exactly these files of folder (and its manifest.json, if any, last);
    no names empties it, withdrawing what an earlier try published."""
    _replace(_Prefix(remote), folder, sorted((name, "") for name in names))


def fetch_tree(remote: Remote, folder: Path) -> float:
    """Fill folder with the manifest under remote and every file it names, each checked
    by size and sha256; the manifest (written last) gets the time it was published.

    Returns:
        When the manifest was published (a timestamp).

    Raises:
        NotStaged: No manifest under remote (or a file it names is missing).
        StagingError: A file differs from the manifest, or the bucket is out of reach.
    """
    prefix = _Prefix(remote)
    _fetch_into(prefix, folder)
    published = prefix.modified(MANIFEST_NAME)
    os.utime(folder / MANIFEST_NAME, (published, published))
    return published


def _fetch_into(prefix: _Prefix, folder: Path) -> tuple[Manifest, list[int]]:
    body = prefix.manifest_bytes()
    manifest = _parse_manifest(body, prefix.remote)
    folder.mkdir(parents=True, exist_ok=True)
    fetched = [
        size for size in _each(lambda s: _fetch_file(prefix, folder, s), manifest.files) if size
    ]  # fmt: skip
    _write_atomically(folder / MANIFEST_NAME, body)
    return manifest, fetched


def remote_manifest(remote: Remote) -> Manifest | None:
    """The manifest under remote, None when there is none."""
    try:
        return _parse_manifest(_Prefix(remote).manifest_bytes(), remote)
    except NotStaged:
        return None


def staged_manifest(plan: ExportPlan) -> Manifest | None:
    """The run's manifest where it is staged, or None when extract did not finish."""
    remote = remote_of(plan)
    if remote is None:
        folder = Path(plan.staging_dir)
        return read_manifest(folder) if (folder / MANIFEST_NAME).exists() else None
    try:
        return _parse_manifest(_Prefix(remote).manifest_bytes(), remote)
    except NotStaged:
        return None


def read_staged_manifest(plan: ExportPlan) -> Manifest:
    """The run's manifest where it is staged.

    Raises:
        FileNotFoundError: Local staging without a manifest.
        StagingError: Remote staging without a manifest, or the bucket out of reach.
    """
    remote = remote_of(plan)
    if remote is None:
        return read_manifest(Path(plan.staging_dir))
    return _parse_manifest(_Prefix(remote).manifest_bytes(), remote)


def _parse_manifest(body: bytes, remote: Remote) -> Manifest:
    manifest_url = remote.object_url(MANIFEST_NAME)
    try:
        manifest = Manifest.from_dict(json.loads(body))
    except (ValueError, TypeError, KeyError) as error:
        raise StagingError(
            f"{manifest_url} is not a Ferry manifest ({error}); rerun the extract",
            retryable=False,
        ) from error
    try:
        manifest.check_names()
    except FileMismatch as error:
        raise StagingError(error.describe("", manifest_url), retryable=False) from None
    return manifest


def _fetch_file(prefix: _Prefix, folder: Path, staged: StagedFile) -> int:
    """Make folder/<name> hold the manifest's bytes; return the bytes downloaded (0: cached)."""
    path = folder / staged.name
    if staged.mismatch(path) is None:
        return 0
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{staged.name}.", suffix=".part")
    os.close(handle)
    temporary = Path(temporary)
    try:
        prefix.download(staged.name, temporary)
        problem = staged.mismatch(temporary)
        if problem is not None:
            remote = prefix.remote
            message = problem.describe(
                remote.object_url(staged.name), remote.object_url(MANIFEST_NAME)
            )
            raise StagingError(message, retryable=False)
        temporary.replace(path)  # concurrent fetches on one worker each rename whole files
    finally:
        temporary.unlink(missing_ok=True)
    return staged.bytes


def _write_atomically(path: Path, body: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(handle, "wb") as stream:
        stream.write(body)
    Path(temporary).replace(path)


def _each(action, items: list) -> list:
    """action(item) for every item, a few at a time; the first error is raised."""
    if len(items) <= 1:
        return [action(item) for item in items]
    with concurrent.futures.ThreadPoolExecutor(min(PARALLEL_FILES, len(items))) as pool:
        return list(pool.map(action, items))


class _Prefix:
    """The run's prefix in its bucket; S3 errors become StagingErrors naming the URL."""

    def __init__(self, remote: Remote) -> None:
        from ferry import s3

        self.remote = remote
        with self._errors("connection to", remote.object_url()):
            # two parts of a large file at a time: PARALLEL_FILES x 2 stays in botocore's pool
            self.bucket: Bucket = s3.Bucket(remote.conn_id, remote.bucket, max_concurrency=2)

    def list(self) -> dict[str, int]:
        """Names (relative to the prefix) and sizes of the keys under the prefix."""
        with self._errors("listing of", self.remote.object_url()):
            return self.bucket.list(self.remote.key())

    def delete(self, names: list[str]) -> None:
        with self._errors("deleting keys under", self.remote.object_url()):
            self.bucket.delete([self.remote.key(name) for name in names])

    def upload(self, path: Path, name: str, sha256: str = "") -> None:
        extra = {"Metadata": {"ferry-sha256": sha256}} if sha256 else None
        with self._errors("upload to", self.remote.object_url(name)):
            self.bucket.upload(path, self.remote.key(name), extra)

    def download(self, name: str, path: Path) -> None:
        url = self.remote.object_url(name)
        with self._errors("download of", url, missing=(
            f"staged file {url} is missing, though {self.remote.object_url(MANIFEST_NAME)} "
            "names it: it was deleted after extract; rerun the extract"
        )):  # fmt: skip
            self.bucket.download(self.remote.key(name), path)

    def modified(self, name: str) -> float:
        with self._errors("reading the time of", self.remote.object_url(name)):
            return self.bucket.modified(self.remote.key(name))

    def manifest_bytes(self) -> bytes:
        missing = (
            f"no {MANIFEST_NAME} at {self.remote.object_url()}: the extract step of this run "
            "did not finish (or a rerun of it is publishing); rerun the extract"
        )
        with self._errors("download of", self.remote.object_url(MANIFEST_NAME), missing=missing):
            return self.bucket.get(self.remote.key(MANIFEST_NAME))

    @contextlib.contextmanager
    def _errors(self, what: str, url: str, *, missing: str = "") -> Iterator[None]:
        """S3 errors as StagingErrors naming the URL, connection and endpoint, with a hint."""
        from ferry.s3 import S3Error, S3Missing

        try:
            yield
        except S3Missing as error:
            if missing:
                raise NotStaged(missing, retryable=False) from None
            raise self._failed(what, url, error) from error
        except S3Error as error:
            raise self._failed(what, url, error) from error

    def _failed(self, what: str, url: str, error) -> StagingError:
        from ferry.s3 import S3Refused

        endpoint = getattr(getattr(self, "bucket", None), "endpoint", "unknown")
        message = (
            f"staging: {what} {url} (connection '{self.remote.conn_id}', endpoint "
            f"{endpoint}) failed: {error.reason}"
        )
        if error.code == "NoSuchBucket":
            message += f"; the bucket in {ENV} does not exist: create it or change {ENV}"
        elif isinstance(error, S3Refused):
            message += f"; check the credentials of connection '{self.remote.conn_id}'"
        return StagingError(message, retryable=error.retryable)
