"""Where a run is staged: a local folder, or an S3 prefix that tasks on other workers read.

FERRY_STAGING is a local folder ($FERRY_HOME/staging by default) or an object-storage URL
in the form Airflow's ObjectStoragePath writes, s3://[connection id@]bucket[/prefix]
(connection aws_default when none is named). A run is staged at <root>/<export id>/<run>/.

The engine and the deliveries always work on a local folder. With remote staging that
folder is this worker's cache ($FERRY_HOME/staging-cache/<bucket>/<prefix>/...), and
this module moves a run between it and the bucket:

- publish() after extract: data files and sidecars first, manifest.json last (the commit
  marker). A rerun first removes the old manifest, so no reader trusts the old files, and
  deletes every key under the run's prefix the new manifest does not name before the new
  manifest goes up: a rerun replaces, never adds.
- fetch() before validate and deliver, on whichever worker runs them: the manifest, then
  every file it names, each checked by size and sha256; a file already in the cache with
  the manifest's digest (the extract worker's own) is not downloaded again.

- publish_manifest() after validate (its summary is in the manifest) and publish_folder()
  after a delivery that keeps files beside the run (webhook rejects), so they outlive the
  worker.

A file the cache already holds with the manifest's size and sha256 is used as is: what a
task reads is always the bytes the manifest names, wherever they came from.

With local staging every function here returns at once: no S3 import, no copy, no hashing.
S3 goes through the amazon provider's S3Hook (credentials only from the Airflow
connection; ObjectStoragePath would need s3fs), imported inside the functions: this module
loads while DAG files parse.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ferry import paths
from ferry.exceptions import ExportRejected
from ferry.manifest import MANIFEST_NAME, Manifest, read_manifest, sha256_of
from ferry.safe_names import path_problem, segment_problem

if TYPE_CHECKING:
    from ferry.plan import ExportPlan

LOG = logging.getLogger("ferry.staging")
ENV = "FERRY_STAGING"
DEFAULT_CONNECTION = "aws_default"
EXAMPLE = "s3://aws_default@ferry-staging/runs"
FORMS = (
    "a local folder (e.g. /data/ferry/staging) or s3://[connection id@]bucket[/prefix] "
    f"(e.g. {EXAMPLE})"
)
PARALLEL_FILES = 4  # files moved at once; each large file also moves in 2 parts at once
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class StagingConfigError(ExportRejected):
    """FERRY_STAGING cannot be used; the message names it, its value and the fix."""


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


@dataclass(frozen=True)
class Remote:
    """An S3 prefix reached through one Airflow connection.

    Attributes:
        bucket: The bucket.
        prefix: Key prefix without leading or trailing slash; "" is the bucket's root.
        conn_id: The Airflow connection S3Hook authenticates with.
    """

    bucket: str
    prefix: str = ""
    conn_id: str = DEFAULT_CONNECTION

    @property
    def url(self) -> str:
        """The ObjectStoragePath form, s3://conn@bucket/prefix: parse_root reads it back."""
        return f"s3://{self.conn_id}@{self.bucket}/{self.prefix}".rstrip("/")

    def key(self, name: str = "") -> str:
        """The key of a name under the prefix ("" gives the prefix itself, slash-terminated)."""
        if not name:
            return f"{self.prefix}/" if self.prefix else ""
        return f"{self.prefix}/{name}" if self.prefix else name

    def object_url(self, name: str = "") -> str:
        """s3://bucket/key: what a user pastes into an S3 console or CLI."""
        return f"s3://{self.bucket}/{self.key(name)}"

    def child(self, *parts: str) -> Remote:
        return Remote(self.bucket, "/".join(p for p in (self.prefix, *parts) if p), self.conn_id)


def parse_root(value: str) -> Path | Remote:
    """FERRY_STAGING's value as a local folder or a Remote.

    Raises:
        StagingConfigError: An unsupported scheme, no or a bad bucket, credentials in the
            URL, a query, or a '.'/'..' segment; the message names FERRY_STAGING and the fix.
    """
    value = value.strip()
    found = _SCHEME.match(value)
    if not found:
        return Path(value).expanduser()
    scheme = found.group(1).lower()
    parts = urlsplit(value)
    userinfo, _, bucket = parts.netloc.rpartition("@")
    shown = value if ":" not in userinfo else value.replace(userinfo + "@", "***@", 1)

    def refuse(problem: str) -> StagingConfigError:
        return StagingConfigError(f"{ENV}={shown!r}: {problem}. Set {ENV} to {FORMS}.")

    if scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise refuse("a file URL names a folder on this machine, as file:///path")
        return Path(parts.path)
    if scheme != "s3":
        raise refuse(f"the scheme '{scheme}' is not supported (only local folders and s3://)")
    if ":" in userinfo:
        raise refuse(
            "the URL carries credentials; keep them in an Airflow connection and name it "
            "instead, as s3://<connection id>@bucket/prefix"
        )
    if parts.query or parts.fragment:
        raise refuse("a query or fragment (?... or #...) is not supported")
    if not bucket:
        raise refuse("it names no bucket")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise refuse(
            f"'{bucket}' is not a valid S3 bucket name (3-63 lowercase letters, digits, dots "
            "and hyphens, starting and ending with a letter or digit)"
        )
    segments = [segment for segment in parts.path.split("/") if segment]
    problem = path_problem("/".join(segments), absolute=False) if segments else None
    if problem:
        raise refuse(f"the prefix {problem}")
    return Remote(bucket, "/".join(segments), userinfo or DEFAULT_CONNECTION)


def cache_root() -> Path:
    """Where this worker keeps local copies of remotely staged runs."""
    return paths.ferry_home() / "staging-cache"


def run_location(staging_root: str, export_id: str, safe_run_id: str) -> tuple[Path, str]:
    """The run's local folder, and its remote URL ("" when staging is local).

    Both names must be single plain segments (RunInfo.safe_run_id is): extract empties
    this folder, so one that pointed elsewhere would delete another export's runs.

    Raises:
        ValueError: export_id or safe_run_id is empty, '.', '..' or holds a separator.
    """
    for name in (export_id, safe_run_id):
        problem = segment_problem(name)
        if problem:
            raise ValueError(
                f"{name!r} cannot name a staging folder: it {problem}; use RunInfo.safe_run_id"
            )
    root = parse_root(staging_root)
    if isinstance(root, Path):
        return root / export_id / safe_run_id, ""
    remote = root.child(export_id, safe_run_id)
    return cache_root().joinpath(remote.bucket, *remote.prefix.split("/")), remote.url


def remote_of(plan: ExportPlan) -> Remote | None:
    """The run's remote prefix, or None when it is staged locally."""
    if not plan.staging_url:
        return None
    root = parse_root(plan.staging_url)
    assert isinstance(root, Remote), plan.staging_url
    return root


def publish(plan: ExportPlan, manifest: Manifest, *, log: logging.Logger = LOG) -> None:
    """Upload the run extract just wrote; the prefix then holds exactly the manifest's files."""
    remote = remote_of(plan)
    if remote is None:
        return
    started = time.monotonic()
    files = [(staged.name, staged.sha256) for staged in manifest.files]
    stale = _replace(_Bucket(remote), Path(plan.staging_dir), files)
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
    _Bucket(remote).upload(Path(plan.staging_dir) / MANIFEST_NAME, MANIFEST_NAME)
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
    _replace(_Bucket(target), folder, files)
    log.info("Staging: %s kept at %s", relative, target.object_url())


def _replace(bucket: _Bucket, folder: Path, files: list[tuple[str, str]]) -> int:
    """Make the prefix hold exactly these files and the folder's manifest.json.

    The old manifest goes first (no reader trusts files about to change), then the files
    go up, then keys no longer named are deleted, and the manifest goes up last.

    Args:
        bucket: The prefix.
        folder: The local folder holding the files.
        files: (name, sha256) of each file; the digest is kept as the key's metadata.

    Returns:
        How many stale keys were deleted.
    """
    before = bucket.list()
    if MANIFEST_NAME in before:
        bucket.delete([MANIFEST_NAME])
    _each(lambda file: bucket.upload(folder / file[0], *file), files)
    stale = sorted(set(before) - {name for name, _ in files} - {MANIFEST_NAME})
    if stale:
        bucket.delete(stale)
    if (folder / MANIFEST_NAME).is_file():
        bucket.upload(folder / MANIFEST_NAME, MANIFEST_NAME)
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
    bucket = _Bucket(remote)
    body = bucket.manifest_bytes()
    manifest = _parse_manifest(body, remote)
    folder.mkdir(parents=True, exist_ok=True)
    fetched = [
        size for size in _each(lambda s: _fetch_file(bucket, folder, s), manifest.files) if size
    ]  # fmt: skip
    _write_atomically(folder / MANIFEST_NAME, body)
    log.info(
        "Staging: fetched %d of %d files (%s bytes; the rest were in this worker's cache) "
        "from %s into %s, all matching the manifest, in %.2f s",
        len(fetched), len(manifest.files), f"{sum(fetched):,}", remote.object_url(), folder,
        time.monotonic() - started,
    )  # fmt: skip
    return folder


def staged_manifest(plan: ExportPlan) -> Manifest | None:
    """The run's manifest where it is staged, or None when extract did not finish."""
    remote = remote_of(plan)
    if remote is None:
        folder = Path(plan.staging_dir)
        return read_manifest(folder) if (folder / MANIFEST_NAME).exists() else None
    try:
        return _parse_manifest(_Bucket(remote).manifest_bytes(), remote)
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
    return _parse_manifest(_Bucket(remote).manifest_bytes(), remote)


def _parse_manifest(body: bytes, remote: Remote) -> Manifest:
    try:
        manifest = Manifest.from_dict(json.loads(body))
    except (ValueError, TypeError, KeyError) as error:
        raise StagingError(
            f"{remote.object_url(MANIFEST_NAME)} is not a Ferry manifest ({error}); "
            "rerun the extract",
            retryable=False,
        ) from error
    for staged in manifest.files:
        if segment_problem(staged.name):
            raise StagingError(
                f"{remote.object_url(MANIFEST_NAME)} names a file outside the run: {staged.name!r}",
                retryable=False,
            )
    return manifest


def _fetch_file(bucket: _Bucket, folder: Path, staged) -> int:
    """Make folder/<name> hold the manifest's bytes; return the bytes downloaded (0: cached)."""
    path = folder / staged.name
    if path.is_file() and path.stat().st_size == staged.bytes and sha256_of(path) == staged.sha256:
        return 0
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{staged.name}.", suffix=".part")
    os.close(handle)
    temporary = Path(temporary)
    try:
        bucket.download(staged.name, temporary)
        size, digest = temporary.stat().st_size, sha256_of(temporary)
        if size != staged.bytes or digest != staged.sha256:
            raise StagingError(
                f"staged file {bucket.remote.object_url(staged.name)} does not match "
                f"{bucket.remote.object_url(MANIFEST_NAME)}: it holds {size} bytes with sha256 "
                f"{digest}, the manifest says {staged.bytes} bytes with sha256 {staged.sha256}; "
                "it changed after extract: rerun the extract",
                retryable=False,
            )
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


class _Bucket:
    """The run's prefix through one S3Hook; S3 errors become StagingErrors naming the URL."""

    def __init__(self, remote: Remote) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from ferry.delivery.s3 import transfer_config_args

        self.remote = remote
        # two parts of a large file at a time: PARALLEL_FILES x 2 stays in botocore's pool
        hook = S3Hook(
            aws_conn_id=remote.conn_id,
            transfer_config_args={**transfer_config_args(), "max_concurrency": 2},
        )
        self.client = hook.get_conn()
        self.transfer_config = hook.transfer_config

    def list(self) -> dict[str, int]:
        """Names (relative to the prefix) and sizes of the keys under the prefix."""
        prefix = self.remote.key()
        found = {}
        with self._errors("listing of", self.remote.object_url()):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.remote.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"][len(prefix) :]] = item["Size"]
        return found

    def delete(self, names: list[str]) -> None:
        for start in range(0, len(names), 1000):  # delete_objects takes up to 1000 keys
            objects = [{"Key": self.remote.key(name)} for name in names[start : start + 1000]]
            with self._errors("deleting keys under", self.remote.object_url()):
                answer = self.client.delete_objects(
                    Bucket=self.remote.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                raise StagingError(
                    f"staging: could not delete s3://{self.remote.bucket}/{first.get('Key')} "
                    f"({first.get('Code')}: {first.get('Message')})"
                )

    def upload(self, path: Path, name: str, sha256: str = "") -> None:
        extra = {"Metadata": {"ferry-sha256": sha256}} if sha256 else None
        with self._errors("upload to", self.remote.object_url(name)):
            self.client.upload_file(
                str(path), self.remote.bucket, self.remote.key(name),
                ExtraArgs=extra, Config=self.transfer_config,
            )  # fmt: skip

    def download(self, name: str, path: Path) -> None:
        url = self.remote.object_url(name)
        with self._errors("download of", url, missing=(
            f"staged file {url} is missing, though {self.remote.object_url(MANIFEST_NAME)} "
            "names it: it was deleted after extract; rerun the extract"
        )):  # fmt: skip
            self.client.download_file(
                self.remote.bucket, self.remote.key(name), str(path), Config=self.transfer_config
            )

    def manifest_bytes(self) -> bytes:
        missing = (
            f"no {MANIFEST_NAME} at {self.remote.object_url()}: the extract step of this run "
            "did not finish (or a rerun of it is publishing); rerun the extract"
        )
        with self._errors("download of", self.remote.object_url(MANIFEST_NAME), missing=missing):
            answer = self.client.get_object(
                Bucket=self.remote.bucket, Key=self.remote.key(MANIFEST_NAME)
            )
            return answer["Body"].read()

    @contextlib.contextmanager
    def _errors(self, what: str, url: str, *, missing: str = ""):
        """Turn S3 errors into StagingErrors; a 404 with a `missing` message into NotStaged."""
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        from ferry.delivery.s3 import MISSING_CODES, REFUSALS

        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if missing and code in MISSING_CODES:
                raise NotStaged(missing, retryable=False) from None
            raise self._failed(what, url, error, code) from error
        except S3UploadFailedError as error:  # wraps the ClientError of a part or a PUT
            code = next((c for c in REFUSALS if f"({c})" in str(error)), "")
            raise self._failed(what, url, error, code) from error
        except BotoCoreError as error:  # unreachable endpoint, timeouts, no credentials
            raise self._failed(what, url, error, "") from error

    def _failed(self, what: str, url: str, error: Exception, code: str) -> StagingError:
        from ferry.delivery.base import describe_error
        from ferry.delivery.s3 import REFUSALS

        message = (
            f"staging: {what} {url} (connection '{self.remote.conn_id}', endpoint "
            f"{_endpoint(self.client)}) failed: {describe_error(error)}"
        )
        if code == "NoSuchBucket":
            message += f"; the bucket in {ENV} does not exist: create it or change {ENV}"
        elif code in REFUSALS:
            message += f"; check the credentials of connection '{self.remote.conn_id}'"
        return StagingError(message, retryable=code not in REFUSALS)


def _endpoint(client) -> str:
    """The endpoint without any user:password@ it might carry."""
    parts = urlsplit(client.meta.endpoint_url or "")
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
