"""S3 destination (ferry.s3): keys from the path template, multipart for large files, SSE.

Objects appear whole on S3, so atomicity comes from the order: a manifest already there
is removed first, then data and sidecars go up, each checked by size and a ferry-sha256
metadata entry, then the manifest as the commit marker. Keys are deterministic, so a retry
or rerun overwrites rather than adds, and files an earlier try of the same run sent that
this one does not (it staged fewer) are deleted before the manifest is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ferry.delivery.base import (
    DeliveryError,
    DeliveryReceipt,
    Layout,
    Outgoing,
    Sender,
    StagedRun,
    file_record,
    left_by_earlier_try,
    manifest_bytes,
    plan_layout,
)
from ferry.retries import with_retries
from ferry.spec.destinations import S3Destination

if TYPE_CHECKING:
    from ferry.s3 import Bucket

T = TypeVar("T")


class S3Sender(Sender[S3Destination]):
    """Uploads the staged files, then the manifest, to the destination's bucket."""

    config = S3Destination

    def send(self, run: StagedRun) -> DeliveryReceipt:
        destination = self.destination
        layout = plan_layout(destination.path, run, absolute=False)
        target = _Target(destination, run)
        earlier = target.withdraw_manifest(layout)
        for item in layout.files:
            target.upload(item)
        target.remove(left_by_earlier_try(earlier, layout))
        target.put_manifest(layout)
        return DeliveryReceipt(
            destination=destination.label,
            type="s3",
            files=[
                file_record(i.staged.name, target.url(i.target), i.staged) for i in layout.files
            ],
            rows=run.manifest.rows,
            detail={
                "bucket": destination.bucket,
                "manifest": target.url(layout.manifest_target),
                "encryption": destination.encryption,
            },
        )


class _Target:
    """The destination's bucket, with in-call retries and errors naming the destination."""

    def __init__(self, destination: S3Destination, run: StagedRun) -> None:
        from ferry import s3

        self.destination = destination
        self.bucket: Bucket = s3.Bucket(destination.connection, destination.bucket)
        self.job_run_id = run.context.run.job_run_id
        self.log = run.log

    def url(self, key: str) -> str:
        return self.bucket.url(key)

    def upload(self, item: Outgoing) -> None:
        """Upload one file (multipart when large) and check what S3 now holds."""
        extra = self._extra_args({"ferry-sha256": item.staged.sha256})
        self._call(
            f"upload of {item.staged.name}",
            lambda: self.bucket.upload(item.source, item.target, extra),
        )
        size = self._call("check", lambda: self.bucket.size(item.target))
        if size != item.staged.bytes:
            raise DeliveryError(
                f"s3 destination '{self.destination.label}': {self.url(item.target)} "
                f"holds {size} bytes, expected {item.staged.bytes}"
            )
        self.log.info(
            "S3: %s (%d bytes, sha256 %s) -> %s",
            item.staged.name, item.staged.bytes, item.staged.sha256, self.url(item.target),
        )  # fmt: skip

    def withdraw_manifest(self, layout: Layout) -> bytes | None:
        """Remove the manifest an earlier try left, so no reader trusts a set being replaced."""
        from ferry.s3 import S3Missing

        key = layout.manifest_target

        def fetch() -> bytes | None:
            try:
                return self.bucket.get(key)
            except S3Missing:
                return None

        earlier = self._call("read of an earlier manifest", fetch)
        if earlier is not None:
            self._call("removal of an earlier manifest", lambda: self.bucket.delete([key]))
        return earlier

    def remove(self, keys: list[str]) -> None:
        if not keys:
            return
        self._call(f"removal of {', '.join(keys)}", lambda: self.bucket.delete(keys))
        for key in keys:
            self.log.info("S3: removed %s, sent by an earlier try of this run", self.url(key))

    def put_manifest(self, layout: Layout) -> None:
        body = manifest_bytes(layout.manifest)
        extra = self._extra_args({})
        self._call(
            "upload of the manifest",
            lambda: self.bucket.put(
                layout.manifest_target, body, ContentType="application/json", **extra
            ),
        )
        self.log.info("S3: manifest (commit marker) -> %s", self.url(layout.manifest_target))

    def _extra_args(self, metadata: dict[str, str]) -> dict[str, Any]:
        extra: dict[str, Any] = {"Metadata": {**metadata, "ferry-run": self.job_run_id}}
        if self.destination.encryption:
            extra["ServerSideEncryption"] = self.destination.encryption
        if self.destination.kms_key_id:  # the loader allows it only with aws:kms
            extra["SSEKMSKeyId"] = self.destination.kms_key_id
        return extra

    def _call(self, what: str, action: Callable[[], T]) -> T:
        """action(), retried while the bucket is out of reach; S3 errors as DeliveryErrors."""
        from ferry.s3 import S3Error, S3Unreachable

        where = f"to bucket '{self.bucket.name}' at {self.bucket.endpoint}"
        try:
            return with_retries(
                action, what=f"S3 {what} {where}", retry_on=(S3Unreachable,), log=self.log
            )
        except S3Error as error:
            raise DeliveryError(
                f"s3 destination '{self.destination.label}': {what} {where} failed: {error.reason}",
                retryable=error.retryable,
            ) from error
