"""Where a run is staged: FERRY_STAGING parsed, and a run's local folder and remote URL.

FERRY_STAGING is a local folder ($FERRY_HOME/staging by default) or an object-storage URL
in the form Airflow's ObjectStoragePath writes, s3://[connection id@]bucket[/prefix]
(connection aws_default when none is named). A run is staged at <root>/<export id>/<run>/.
With remote staging the engine and the deliveries still work on a local folder: this
worker's cache ($FERRY_HOME/staging-cache/<bucket>/<prefix>/...), which
ferry.staging.transfer fills and empties.

Pure: no I/O, no S3 import. The plan takes a RunLocation made here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ferry import paths
from ferry.exceptions import ExportRejected
from ferry.safe_names import path_problem, segment_problem

ENV = "FERRY_STAGING"
DEFAULT_CONNECTION = "aws_default"
EXAMPLE = "s3://aws_default@ferry-staging/runs"
FORMS = (
    "a local folder (e.g. /data/ferry/staging) or s3://[connection id@]bucket[/prefix] "
    f"(e.g. {EXAMPLE})"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class StagingConfigError(ExportRejected):
    """FERRY_STAGING cannot be used; the message names it, its value and the fix."""


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


@dataclass(frozen=True)
class RunLocation:
    """Where one run is staged.

    Attributes:
        folder: The local folder the engine and the deliveries read and write: the
            staging folder itself, or this worker's cache of the remote prefix.
        url: The run's remote prefix (Remote.url form); "" when staged locally.
    """

    folder: Path
    url: str = ""

    @property
    def remote(self) -> Remote | None:
        """The run's remote prefix, or None when it is staged locally."""
        if not self.url:
            return None
        root = parse_root(self.url)
        assert isinstance(root, Remote), self.url
        return root


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


def shared_remote(area: str, *names: str) -> Remote | None:
    """Where a folder every process must reach is kept when staging is on S3:
    <staging prefix>/<area>/<names...> (area is _downloads or _imports: a leading '_'
    no export id has, so no run's keys mix with them); None when staging is local.

    Raises:
        ValueError: A name is empty, '.', '..' or holds a separator.
        StagingConfigError: FERRY_STAGING is not a usable folder or URL.
    """
    for name in names:
        problem = segment_problem(name)
        if problem:
            raise ValueError(f"{name!r} cannot name a shared folder: it {problem}")
    root = parse_root(paths.staging_root())
    return root.child(area, *names) if isinstance(root, Remote) else None


DOWNLOADS_AREA = "_downloads"  # run download folders: <export id>/<JobID.RunID>/
IMPORTS_AREA = "_imports"  # import runs' rejects: <import id>/<run>/


def cache_root() -> Path:
    """Where this worker keeps local copies of remotely staged runs."""
    return paths.ferry_home() / "staging-cache"


def run_location(staging_root: str, export_id: str, safe_run_id: str) -> RunLocation:
    """The run's local folder, and its remote URL ("" when staging is local).

    Both names must be single plain segments (RunInfo.safe_run_id is): extract empties
    this folder, so one that pointed elsewhere would delete another export's runs.

    Raises:
        ValueError: export_id or safe_run_id is empty, '.', '..' or holds a separator.
        StagingConfigError: staging_root is not a usable folder or URL.
    """
    for name in (export_id, safe_run_id):
        problem = segment_problem(name)
        if problem:
            raise ValueError(
                f"{name!r} cannot name a staging folder: it {problem}; use RunInfo.safe_run_id"
            )
    root = parse_root(staging_root)
    if isinstance(root, Path):
        return RunLocation(root / export_id / safe_run_id)
    remote = root.child(export_id, safe_run_id)
    return RunLocation(cache_root().joinpath(remote.bucket, *remote.prefix.split("/")), remote.url)
