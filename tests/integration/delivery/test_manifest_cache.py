"""The API server's cache of published manifests, against moto's S3 server over HTTP:
bounded, least recently used out first, a HEAD when stale, the body only on a new ETag."""

from __future__ import annotations

import uuid

import pytest

from ferry import s3
from ferry.delivery.manifest_cache import ManifestCache
from ferry.manifest import Manifest
from ferry.staging import Remote, StagingError

pytestmark = pytest.mark.integration
CONN = "ferry_manifest_cache"


@pytest.fixture
def bucket(s3_server, monkeypatch):
    name = f"manifests-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    monkeypatch.setenv(*s3_server.connection(CONN))
    return s3_server.client(), name


def publish(client, bucket: str, run: str, rows: int) -> Remote:
    manifest = Manifest(
        export_id="leads", job_run_id=f"leads.{run}", run_id=run, format="csv",
        compression="none", files=[], schema=[], field_mapping=[], rows=rows,
    )  # fmt: skip
    remote = Remote(bucket, f"p/_downloads/leads/leads.{run}", CONN)
    client.put_object(Bucket=bucket, Key=remote.key("manifest.json"), Body=manifest.to_json())
    return remote


def counted(monkeypatch) -> list[str]:
    sent: list[str] = []
    original = s3.Bucket.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        self.client.meta.events.register(
            "before-call.s3.*", lambda model, **_: sent.append(model.name)
        )

    monkeypatch.setattr(s3.Bucket, "__init__", init)
    return sent


def test_the_cache_keeps_at_most_its_size_and_drops_the_least_recently_used(bucket, monkeypatch):
    client, name = bucket
    now = [0.0]
    cache = ManifestCache(size=2, fresh_seconds=30, clock=lambda: now[0])
    first, second, third = (publish(client, name, f"r{i}", rows=i) for i in (1, 2, 3))
    sent = counted(monkeypatch)

    assert cache.current(first).rows == 1 and cache.current(second).rows == 2
    assert cache.recent(first).rows == 1  # used again: second is now the oldest
    assert cache.current(third).rows == 3
    assert len(cache) == 2
    assert cache.recent(second) is None and cache.recent(first).rows == 1
    assert sent == ["GetObject"] * 3  # the first look: no HEAD before the body

    sent.clear()
    now[0] = 31.0  # stale: the ETag is asked, the body is not fetched again
    assert cache.recent(first) is None and cache.current(first).rows == 1
    assert sent == ["HeadObject"]

    sent.clear()
    publish(client, name, "r1", rows=10)  # republished: a new ETag, fetched
    now[0] = 62.0
    assert cache.current(first).rows == 10
    assert sent == ["HeadObject", "GetObject"]


def test_nothing_published_is_none_and_a_broken_manifest_is_an_error(bucket):
    client, name = bucket
    cache = ManifestCache()
    missing = Remote(name, "p/_downloads/leads/leads.never", CONN)
    assert cache.current(missing) is None

    client.put_object(Bucket=name, Key=missing.key("manifest.json"), Body=b"not json")
    with pytest.raises(StagingError, match="is not a Ferry manifest") as raised:
        cache.current(missing)
    assert raised.value.retryable is False
