"""The manifests of runs published under <staging>/_downloads/, as this server last saw them.

Every download request asks whether this server's copy of the run is the one published
(ferry.delivery.download.sync_from_shared). Without a cache that is a GET of the run's
manifest from S3 per request, and a resumed or parallel download of one large file makes
hundreds. Here each published folder (its Remote: bucket, prefix naming export and run,
connection) keeps the manifest's ETag and body:

- checked less than FRESH_SECONDS ago: no request at all. A rerun that republished the run
  meanwhile is seen at most FRESH_SECONDS late; until then the previous copy, whole and
  checked, is served (the retention rule applies to it as to any copy).
- older: one HEAD; the body is fetched again only when the ETag changed.
- never seen (or dropped): one GET.

At most SIZE folders are kept (least recently used go first), so a server that serves
many runs holds a bounded number of small manifests.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ferry.manifest import MANIFEST_NAME, FileMismatch, Manifest
from ferry.staging import Remote, StagingError

SIZE = 512
FRESH_SECONDS = 30.0


@dataclass(frozen=True)
class _Seen:
    etag: str
    manifest: Manifest
    published: float  # the manifest's LastModified: retention counts from it
    checked: float  # the clock's time of the last look at S3


class ManifestCache:
    """Published manifests by folder, bounded, safe to share between request threads."""

    def __init__(
        self,
        size: int = SIZE,
        fresh_seconds: float = FRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size, self.fresh_seconds, self.clock = size, fresh_seconds, clock
        self._seen: OrderedDict[Remote, _Seen] = OrderedDict()
        self._lock = threading.Lock()

    def recent(self, remote: Remote) -> Manifest | None:
        """The manifest looked at less than fresh_seconds ago, without asking S3; else None."""
        seen = self._get(remote)
        if seen is None or self.clock() - seen.checked >= self.fresh_seconds:
            return None
        return seen.manifest

    def current(self, remote: Remote) -> Manifest | None:
        """The manifest published now (None: nothing is), as current_published."""
        found = self.current_published(remote)
        return found[0] if found else None

    def current_published(self, remote: Remote) -> tuple[Manifest, float] | None:
        """The manifest published now and when (a timestamp; None: nothing is): a GET the
        first time, then a HEAD, and a GET only when its ETag is not the one seen last.

        Raises:
            StagingError: The bucket is out of reach or the manifest is not one.
        """
        from ferry import s3

        url, key = remote.object_url(MANIFEST_NAME), remote.key(MANIFEST_NAME)
        try:
            bucket = s3.Bucket(remote.conn_id, remote.bucket)
            seen = self._get(remote)
            if seen is not None:  # a HEAD says whether the body seen is still the one
                with s3.s3_errors():
                    head = bucket.client.head_object(Bucket=remote.bucket, Key=key)
                etag = head["ETag"]
                # the same body republished (a rerun) is dated anew, as fetch_tree dates it
                seen = dataclasses.replace(seen, published=head["LastModified"].timestamp())
            if seen is None or seen.etag != etag:
                seen = _fetched(bucket, remote)
        except s3.S3Missing:
            self.forget(remote)
            return None
        except s3.S3Error as error:
            raise StagingError(
                f"download area: reading {url} (connection '{remote.conn_id}') failed: "
                f"{error.reason}",
                retryable=error.retryable,
            ) from error
        self._put(remote, dataclasses.replace(seen, checked=self.clock()))
        return seen.manifest, seen.published

    def forget(self, remote: Remote) -> None:
        with self._lock:
            self._seen.pop(remote, None)

    def __len__(self) -> int:
        return len(self._seen)

    def _get(self, remote: Remote) -> _Seen | None:
        with self._lock:
            seen = self._seen.get(remote)
            if seen is not None:
                self._seen.move_to_end(remote)
            return seen

    def _put(self, remote: Remote, seen: _Seen) -> None:
        with self._lock:
            self._seen[remote] = seen
            self._seen.move_to_end(remote)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)


def _fetched(bucket, remote: Remote) -> _Seen:
    from ferry import s3

    with s3.s3_errors():
        answer = bucket.client.get_object(Bucket=remote.bucket, Key=remote.key(MANIFEST_NAME))
        body = answer["Body"].read()
    try:
        manifest = Manifest.from_dict(json.loads(body))
        manifest.check_names()
    except (ValueError, TypeError, KeyError, FileMismatch) as error:
        raise StagingError(
            f"{remote.object_url(MANIFEST_NAME)} is not a Ferry manifest ({error}); "
            "deliver the run again",
            retryable=False,
        ) from error
    return _Seen(answer["ETag"], manifest, answer["LastModified"].timestamp(), 0.0)


MANIFESTS = ManifestCache()  # this process's: the API server's, shared by its requests
