"""S3 destination (S3Hook): keys from the path template, multipart for large files, SSE.

Objects appear whole on S3, so atomicity comes from the order: a manifest already there
is removed first, then data and sidecars go up, each checked by size and a ferry-sha256
metadata entry, then the manifest as the commit marker. Keys are deterministic, so a retry
or rerun overwrites rather than adds, and files an earlier try of the same run sent that
this one does not (it staged fewer) are deleted before the manifest is written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    Layout,
    Outgoing,
    checked_files,
    file_record,
    left_by_earlier_try,
    manifest_bytes,
    plan_layout,
    with_retries,
)
from ferry.manifest import Manifest

MIB = 1024 * 1024
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})  # what S3 answers for no key
# Error codes another try will not fix: the bucket or the credentials are wrong.
REFUSALS = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
    }
)


def transfer_config_args() -> dict[str, int]:
    """boto3 TransferConfig: multipart above FERRY_S3_MULTIPART_MB (default 16) MiB."""
    part = max(5, int(os.environ.get("FERRY_S3_MULTIPART_MB") or 16)) * MIB  # S3's minimum: 5 MiB
    return {"multipart_threshold": part, "multipart_chunksize": part, "max_concurrency": 4}


def send(
    destination,
    staging_dir: Path,
    manifest: Manifest,
    context: DeliveryContext,
    *,
    log: logging.Logger,
) -> DeliveryReceipt:
    """Upload the staged files, then the manifest, to the destination's bucket."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    layout = plan_layout(
        destination.path, checked_files(staging_dir, manifest), manifest, context, absolute=False
    )
    hook = S3Hook(aws_conn_id=destination.connection, transfer_config_args=transfer_config_args())
    target = _Target(destination, hook, context, log)
    earlier = target.withdraw_manifest(layout)
    for item in layout.files:
        target.upload(item)
    target.remove(left_by_earlier_try(earlier, layout))
    target.put_manifest(layout)
    return DeliveryReceipt(
        destination=destination.label,
        type="s3",
        files=[file_record(i.staged.name, target.url(i.target), i.staged) for i in layout.files],
        rows=manifest.rows,
        detail={
            "bucket": destination.bucket,
            "manifest": target.url(layout.manifest_target),
            "encryption": destination.encryption,
        },
    )


class _Target:
    """One bucket reached through one S3Hook, with retries and a clear error when down."""

    def __init__(self, destination, hook, context: DeliveryContext, log: logging.Logger) -> None:
        self.destination = destination
        self.bucket = destination.bucket
        self.client = hook.get_conn()
        self.transfer_config = hook.transfer_config
        self.endpoint = hook.conn_config.endpoint_url or self.client.meta.endpoint_url
        self.run = context.run
        self.log = log

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def upload(self, item: Outgoing) -> None:
        """Upload one file (multipart when large) and check what S3 now holds."""
        extra = self._extra_args({"ferry-sha256": item.staged.sha256})
        self._call(
            f"upload of {item.staged.name}",
            lambda: self.client.upload_file(
                str(item.source), self.bucket, item.target,
                ExtraArgs=extra, Config=self.transfer_config,
            ),
        )  # fmt: skip
        head = self._call(
            "check", lambda: self.client.head_object(Bucket=self.bucket, Key=item.target)
        )
        if head["ContentLength"] != item.staged.bytes:
            raise DeliveryError(
                f"s3 destination '{self.destination.label}': {self.url(item.target)} "
                f"holds {head['ContentLength']} bytes, expected {item.staged.bytes}"
            )
        self.log.info(
            "S3: %s (%d bytes, sha256 %s) -> %s",
            item.staged.name, item.staged.bytes, item.staged.sha256, self.url(item.target),
        )  # fmt: skip

    def withdraw_manifest(self, layout: Layout) -> bytes | None:
        """Remove the manifest an earlier try left, so no reader trusts a set being replaced."""
        from botocore.exceptions import ClientError

        key = layout.manifest_target

        def fetch() -> bytes | None:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in MISSING_CODES:
                    return None
                raise

        earlier = self._call("read of an earlier manifest", fetch)
        if earlier is not None:
            self._delete(key, "removal of an earlier manifest")
        return earlier

    def remove(self, keys: list[str]) -> None:
        for key in keys:
            self._delete(key, f"removal of {key}")
            self.log.info("S3: removed %s, sent by an earlier try of this run", self.url(key))

    def _delete(self, key: str, what: str) -> None:
        self._call(what, lambda: self.client.delete_object(Bucket=self.bucket, Key=key))

    def put_manifest(self, layout: Layout) -> None:
        body = manifest_bytes(layout.manifest)
        extra = self._extra_args({})
        self._call(
            "upload of the manifest",
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=layout.manifest_target, Body=body,
                ContentType="application/json", **extra,
            ),
        )  # fmt: skip
        self.log.info("S3: manifest (commit marker) -> %s", self.url(layout.manifest_target))

    def _extra_args(self, metadata: dict[str, str]) -> dict[str, Any]:
        extra: dict[str, Any] = {"Metadata": {**metadata, "ferry-run": self.run.job_run_id}}
        if self.destination.encryption:
            extra["ServerSideEncryption"] = self.destination.encryption
        return extra

    def _call(self, what: str, action):
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

        def refusals_at_once():
            try:
                return action()
            except S3UploadFailedError as error:  # wraps the ClientError of a part or a PUT
                if any(f"({code})" in str(error) for code in REFUSALS):
                    raise self._failed(what, error, retryable=False) from error
                raise

        transient = (ConnectionError, HTTPClientError, S3UploadFailedError)
        described = f"S3 {what} to bucket '{self.bucket}' at {self.endpoint}"
        try:
            return with_retries(refusals_at_once, what=described, retry_on=transient, log=self.log)
        except transient as error:
            raise self._failed(what, error, retryable=True) from error
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            raise self._failed(what, error, retryable=code not in REFUSALS) from error

    def _failed(self, what: str, error: Exception, *, retryable: bool) -> DeliveryError:
        return DeliveryError(
            f"s3 destination '{self.destination.label}': {what} to bucket "
            f"'{self.bucket}' at {self.endpoint} failed: {error}",
            retryable=retryable,
        )
