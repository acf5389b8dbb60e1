"""S3 for staging and the S3 destination: one bucket through one S3Hook, and what its errors mean.

Credentials come only from the Airflow connection (the amazon provider's S3Hook); large
files go up and down in parts above FERRY_S3_MULTIPART_MB. Every boto3/botocore error a
call raises becomes one of the S3Error classes below, which say whether another try can
help (ferry.exceptions): the one place that reads S3's error codes. Callers add what they
were doing and for whom (FERRY_STAGING, a destination) to the message.

boto3 and the provider are imported inside the functions: this module loads while DAG
files parse, and local staging never needs them.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ferry.exceptions import Terminal, Transient
from ferry.retries import describe_error, without_credentials

MIB = 1024 * 1024
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})  # what S3 answers for no key
# Error codes another try will not fix: the bucket or the credentials are wrong.
REFUSALS = frozenset(
    {"NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
     "AllAccessDisabled"}
)  # fmt: skip
DELETE_BATCH = 1000  # delete_objects takes up to 1000 keys
_CODE_IN_TEXT = re.compile(r"\(([A-Za-z0-9]+)\)")  # S3UploadFailedError: "... (AccessDenied) ..."


class S3Error(Exception):
    """An S3 call failed; the subclass says whether another try can help.

    Attributes:
        code: S3's error code (NoSuchBucket, AccessDenied, ...); "" for a network error,
            a timeout or missing credentials.
        reason: The boto error as 'Type: message'.
    """

    retryable = True

    def __init__(self, reason: str, *, code: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class S3Refused(S3Error, Terminal):
    """The bucket does not exist or the credentials are refused: fix them, then rerun."""

    retryable = False


class S3Missing(S3Error, Terminal):
    """No object at the key."""

    retryable = False


class S3Unreachable(S3Error, Transient):
    """The endpoint did not answer, the connection broke, or a transfer failed midway."""


class S3Failed(S3Error, Transient):
    """S3 answered with another error (a 5xx, a throttle) or no credentials were found."""


def mapped(error: BaseException) -> S3Error | None:
    """The S3Error a boto3/botocore error means, or None when it is not one of theirs."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

    reason = describe_error(error)
    if isinstance(error, ClientError):
        return _by_code(reason, str(error.response.get("Error", {}).get("Code", "")))
    if isinstance(error, S3UploadFailedError):  # wraps the ClientError of a part or a PUT
        code = next((c for c in _CODE_IN_TEXT.findall(str(error)) if c in REFUSALS), "")
        return S3Refused(reason, code=code) if code else S3Unreachable(reason)
    if isinstance(error, (ConnectionError, HTTPClientError)):  # timeouts are among them
        return S3Unreachable(reason)
    if isinstance(error, BotoCoreError):  # e.g. no credentials: a fixed connection may help
        return S3Failed(reason)
    return None


def _by_code(reason: str, code: str) -> S3Error:
    if code in REFUSALS:
        return S3Refused(reason, code=code)
    if code in MISSING_CODES:
        return S3Missing(reason, code=code)
    return S3Failed(reason, code=code)


@contextlib.contextmanager
def s3_errors() -> Iterator[None]:
    """Raise the S3Error a boto error means (chained to it); other errors pass through."""
    try:
        yield
    except Exception as error:
        found = mapped(error)
        if found is None:
            raise
        raise found from error


def transfer_config_args(max_concurrency: int = 4) -> dict[str, int]:
    """boto3 TransferConfig: multipart above FERRY_S3_MULTIPART_MB (default 16) MiB."""
    part = max(5, int(os.environ.get("FERRY_S3_MULTIPART_MB") or 16)) * MIB  # S3's minimum: 5 MiB
    return {
        "multipart_threshold": part, "multipart_chunksize": part,
        "max_concurrency": max_concurrency,
    }  # fmt: skip


class Bucket:
    """One bucket through one S3Hook; every method raises S3Error subclasses only.

    Args:
        conn_id: The Airflow connection S3Hook authenticates with.
        name: The bucket.
        max_concurrency: Parts of one large file moved at a time.
    """

    def __init__(self, conn_id: str, name: str, *, max_concurrency: int = 4) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        self.conn_id = conn_id
        self.name = name
        with s3_errors():
            hook = S3Hook(
                aws_conn_id=conn_id, transfer_config_args=transfer_config_args(max_concurrency)
            )
            self.client = hook.get_conn()
        self.transfer_config = hook.transfer_config
        self.endpoint = without_credentials(self.client.meta.endpoint_url)

    def url(self, key: str) -> str:
        """s3://bucket/key: what a user pastes into an S3 console or CLI."""
        return f"s3://{self.name}/{key}"

    def list(self, prefix: str) -> dict[str, int]:
        """Keys under the prefix (relative to it) and their sizes."""
        found = {}
        with s3_errors():
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.name, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found[item["Key"][len(prefix) :]] = item["Size"]
        return found

    def delete(self, keys: list[str]) -> None:
        """Delete keys (a missing one is no error)."""
        for start in range(0, len(keys), DELETE_BATCH):
            objects = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            with s3_errors():
                answer = self.client.delete_objects(
                    Bucket=self.name, Delete={"Objects": objects, "Quiet": True}
                )
            if answer.get("Errors"):
                first = answer["Errors"][0]
                code = str(first.get("Code", ""))
                key, message = first.get("Key"), first.get("Message")
                reason = f"could not delete {self.url(key)} ({code}: {message})"
                raise _by_code(reason, code)

    def upload(self, path: Path, key: str, extra: dict[str, Any] | None = None) -> None:
        """Upload a file, in parts when large."""
        with s3_errors():
            self.client.upload_file(
                str(path), self.name, key, ExtraArgs=extra or None, Config=self.transfer_config
            )

    def put(self, key: str, body: bytes, **extra: Any) -> None:
        with s3_errors():
            self.client.put_object(Bucket=self.name, Key=key, Body=body, **extra)

    def get(self, key: str) -> bytes:
        """The object's bytes.

        Raises:
            S3Missing: No object at the key.
        """
        with s3_errors():
            return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def size(self, key: str) -> int:
        with s3_errors():
            return self.client.head_object(Bucket=self.name, Key=key)["ContentLength"]

    def modified(self, key: str) -> float:
        """When the object was written (its LastModified), as a timestamp."""
        with s3_errors():
            return self.client.head_object(Bucket=self.name, Key=key)["LastModified"].timestamp()

    def download(self, key: str, path: Path) -> None:
        """Download an object into a file, in parts when large."""
        with s3_errors():
            self.client.download_file(self.name, key, str(path), Config=self.transfer_config)
