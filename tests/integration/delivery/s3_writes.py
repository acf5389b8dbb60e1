"""The order in which S3 answered a Bucket's writes, seen through botocore's event hooks.

A bucket's final contents cannot show whether the manifest went up before the data (a
reader polling meanwhile would have trusted a half-written set); this records each
successful write as S3 acknowledged it, on the very client ferry.s3.Bucket uses.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pytest

WRITES = ("PutObject", "CompleteMultipartUpload", "DeleteObjects", "DeleteObject")


@dataclass(frozen=True)
class Write:
    operation: str  # PutObject, CompleteMultipartUpload (an object appears), DeleteObjects
    keys: tuple[str, ...]

    @property
    def appears(self) -> bool:
        return self.operation in ("PutObject", "CompleteMultipartUpload")


@dataclass
class S3Writes:
    """Every acknowledged write, in order; watch() every Bucket a test creates."""

    writes: list[Write] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.s3.*", _remember_keys)
        client.meta.events.register("after-call.s3.*", self._record)

    def _record(self, model: Any, http_response: Any, context: dict, **_: Any) -> None:
        if model.name in WRITES and http_response.status_code < 300:
            with self._lock:
                self.writes.append(Write(model.name, context.get("ferry_keys", ())))

    def index(self, operation_kind: str, key: str) -> int:
        """Position of the first write of this kind ("appears" or "deletes") naming the key."""
        for position, write in enumerate(self.writes):
            if key in write.keys and write.appears == (operation_kind == "appears"):
                return position
        raise AssertionError(f"no write {operation_kind} {key}: {self.writes}")

    def appeared(self) -> list[str]:
        """Keys in the order their objects appeared."""
        return [key for write in self.writes if write.appears for key in write.keys]


def _remember_keys(params: dict, context: dict, **_: Any) -> None:
    if "Key" in params:
        context["ferry_keys"] = (params["Key"],)
    elif "Delete" in params:
        context["ferry_keys"] = tuple(item["Key"] for item in params["Delete"]["Objects"])


def record_s3_writes(monkeypatch: pytest.MonkeyPatch) -> S3Writes:
    """Watch the client of every ferry.s3.Bucket created from now on."""
    from ferry import s3

    log = S3Writes()
    original = s3.Bucket.__init__

    def init(self: s3.Bucket, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        log.watch(self.client)

    monkeypatch.setattr(s3.Bucket, "__init__", init)
    return log
