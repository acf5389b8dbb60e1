"""S3 destination against moto's server, reached by S3Hook over HTTP through endpoint_url."""

from __future__ import annotations

import json
import time

import pytest

from ferry.delivery import DeliveryError, deliver
from integration.delivery.s3_writes import record_s3_writes
from servers import MotoS3

pytestmark = pytest.mark.integration


def _objects(client, bucket: str) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing
    }


def test_folder_template_uploads_files_then_manifest(
    s3_server, connect, staging, context_for, same_bytes
):
    connect(s3_server.connection("s3_folder"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-folder")
    folder, manifest = staging()
    destination = {"type": "s3", "connection": "s3_folder", "bucket": "ferry-folder",
                   "path": "exports/{{ export_id }}/{{ ds }}/", "encryption": "AES256"}  # fmt: skip
    context = context_for(destination)

    receipt = deliver(context.export.destinations[0], folder, context)
    receipt_again = deliver(
        context.export.destinations[0], folder, context_for(destination, try_number=2)
    )

    objects = _objects(client, "ferry-folder")
    prefix = "exports/lead_backup/2024-05-01/"
    assert sorted(objects) == sorted(
        prefix + n for n in [f.name for f in manifest.files] + ["manifest.json"]
    )
    same_bytes({k.removeprefix(prefix): v for k, v in objects.items()}, manifest)
    head = client.head_object(Bucket="ferry-folder", Key=prefix + manifest.files[0].name)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["ferry-sha256"] == manifest.files[0].sha256
    assert receipt.files == receipt_again.files
    assert receipt.files[0]["location"] == f"s3://ferry-folder/{prefix}{manifest.files[0].name}"
    assert "testing" not in repr(receipt)


def test_per_file_template_and_multipart(
    s3_server, connect, monkeypatch, staging, context_for, same_bytes
):
    monkeypatch.setenv("FERRY_S3_MULTIPART_MB", "5")
    connect(s3_server.connection("s3_parts"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-parts")
    folder, manifest = staging(big_file_bytes=12 * 1024 * 1024)
    destination = {"type": "s3", "connection": "s3_parts", "bucket": "ferry-parts",
                   "path": "leads/{{ ds_nodash }}/leads_{{ part }}.{{ ext }}"}  # fmt: skip
    context = context_for(destination)

    deliver(context.export.destinations[0], folder, context)

    objects = _objects(client, "ferry-parts")
    job = context.run.job_run_id
    expected = [f"leads/20240501/leads_{i:05d}.csv.gz" for i in (1, 2, 3)]
    expected += ["leads/20240501/leads_00004.bin", f"leads/20240501/{job}.schema.json"]
    assert sorted(objects) == sorted(expected + [f"leads/20240501/{job}.manifest.json"])
    delivered = {f.name: objects[k] for f, k in zip(manifest.files, expected, strict=True)}
    same_bytes(delivered, manifest)
    big = client.head_object(Bucket="ferry-parts", Key="leads/20240501/leads_00004.bin")
    assert big["ETag"].strip('"').endswith("-3"), "12 MiB in 5 MiB parts is a 3-part upload"


def test_every_object_is_encrypted_under_the_configured_kms_key(
    s3_server, connect, monkeypatch, staging, context_for
):
    monkeypatch.setenv("FERRY_S3_MULTIPART_MB", "5")
    connect(s3_server.connection("s3_kms"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-kms")
    folder, manifest = staging(big_file_bytes=6 * 1024 * 1024)
    key_id = "arn:aws:kms:us-east-1:123456789012:key/0f9e2b6c-ferry-test"
    destination = {"type": "s3", "connection": "s3_kms", "bucket": "ferry-kms", "path": "kms/",
                   "encryption": "aws:kms", "kms_key_id": key_id}  # fmt: skip
    context = context_for(destination)

    deliver(context.export.destinations[0], folder, context)

    keys = sorted(_objects(client, "ferry-kms"))
    assert keys == sorted(f"kms/{n}" for n in [f.name for f in manifest.files] + ["manifest.json"])
    big = client.head_object(Bucket="ferry-kms", Key="kms/lead_backup_00004.bin")
    assert big["ETag"].strip('"').endswith("-2"), "the multipart upload carries the key too"
    for key in keys:
        head = client.head_object(Bucket="ferry-kms", Key=key)
        assert (head["ServerSideEncryption"], head.get("SSEKMSKeyId")) == ("aws:kms", key_id), key


def test_bucket_down_retries_then_names_the_target(connect, staging, context_for, caplog):
    down = MotoS3()  # never started: nothing listens on its port
    connect(down.connection("s3_down"))
    folder, _ = staging()
    destination = {"type": "s3", "connection": "s3_down", "bucket": "ferry-down", "path": "x/"}
    context = context_for(destination)

    started = time.monotonic()
    with pytest.raises(
        DeliveryError, match=rf"bucket 'ferry-down' at http://127.0.0.1:{down.port}"
    ):
        deliver(context.export.destinations[0], folder, context)
    assert caplog.text.count("retrying in") == 2
    assert time.monotonic() - started < 10


def test_missing_bucket_fails_at_once_and_is_not_retryable(
    s3_server, connect, staging, context_for, caplog
):
    connect(s3_server.connection("s3_nobucket"))
    folder, _ = staging()
    destination = {"type": "s3", "connection": "s3_nobucket", "bucket": "no-such-bucket",
                   "path": "x/"}  # fmt: skip
    context = context_for(destination)

    with pytest.raises(DeliveryError, match="NoSuchBucket") as failure:
        deliver(context.export.destinations[0], folder, context)
    assert failure.value.retryable is False and "retrying" not in caplog.text


@pytest.mark.parametrize(
    ("run_id", "problem"),
    [
        ("manual__/../../elsewhere", "would add a folder"),
        ("..", "would move up"),
        ("manual__/x", "would add a folder"),
        ("manual__\nx", "control character"),
    ],
)
def test_a_run_id_that_would_leave_the_prefix_is_refused(
    s3_server, connect, staging, context_for, run_id, problem
):
    connect(s3_server.connection("s3_escape"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-escape")
    folder, _ = staging()
    destination = {"type": "s3", "connection": "s3_escape", "bucket": "ferry-escape",
                   "path": "runs/{{ run_id }}/{{ run_id }}_{{ part }}.csv"}  # fmt: skip
    context = context_for(destination, run_id=run_id)

    with pytest.raises(DeliveryError) as failure:
        deliver(context.export.destinations[0], folder, context)
    assert f"placeholder 'run_id' has the value {run_id!r}" in str(failure.value)
    assert problem in str(failure.value) and "nothing is sent" in str(failure.value)
    assert failure.value.retryable is False
    assert "Contents" not in client.list_objects_v2(Bucket="ferry-escape")


def test_a_retry_that_staged_fewer_files_leaves_none_of_the_earlier_extras(
    s3_server, connect, staging, context_for, same_bytes
):
    connect(s3_server.connection("s3_rerun"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-rerun")
    destination = {"type": "s3", "connection": "s3_rerun", "bucket": "ferry-rerun",
                   "path": "exports/{{ ds }}/"}  # fmt: skip
    prefix = "exports/2024-05-01/"
    client.put_object(Bucket="ferry-rerun", Key=prefix + "other_run.csv", Body=b"kept")
    folder, _ = staging(rows_per_file=2)
    deliver(context_for(destination).export.destinations[0], folder, context_for(destination))
    assert len([k for k in _objects(client, "ferry-rerun") if k.endswith(".csv.gz")]) == 3

    folder, one_file = staging(rows_per_file=5)
    retry = context_for(destination, try_number=2)
    deliver(retry.export.destinations[0], folder, retry)

    objects = _objects(client, "ferry-rerun")
    expected = [f.name for f in one_file.files] + ["manifest.json", "other_run.csv"]
    assert sorted(objects) == sorted(prefix + name for name in expected)
    same_bytes({k.removeprefix(prefix): v for k, v in objects.items()}, one_file)


def test_files_of_another_run_in_a_shared_folder_are_never_removed(
    s3_server, connect, staging, context_for
):
    connect(s3_server.connection("s3_shared"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-shared")
    destination = {"type": "s3", "connection": "s3_shared", "bucket": "ferry-shared",
                   "path": "exports/"}  # fmt: skip
    folder, _ = staging(rows_per_file=2)
    deliver(context_for(destination).export.destinations[0], folder, context_for(destination))
    earlier = json.loads(_objects(client, "ferry-shared")["exports/manifest.json"])
    earlier["job_run_id"] = "lead_backup.scheduled__2024-04-30T00_00_00_00_00"
    client.put_object(Bucket="ferry-shared", Key="exports/manifest.json",
                      Body=json.dumps(earlier).encode())  # fmt: skip

    folder, _ = staging(rows_per_file=5)
    deliver(context_for(destination).export.destinations[0], folder, context_for(destination))

    assert len([k for k in _objects(client, "ferry-shared") if k.endswith(".csv.gz")]) == 3


def test_a_planted_manifest_cannot_make_a_retry_delete_outside_its_folder(
    s3_server, connect, staging, context_for
):
    connect(s3_server.connection("s3_planted"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-planted")
    destination = {"type": "s3", "connection": "s3_planted", "bucket": "ferry-planted",
                   "path": "exports/{{ ds }}/"}  # fmt: skip
    folder, _ = staging()
    deliver(context_for(destination).export.destinations[0], folder, context_for(destination))
    key = "exports/2024-05-01/manifest.json"
    earlier = json.loads(_objects(client, "ferry-planted")[key])  # this run's own job_run_id
    victims = ["victim.csv", "exports/other/victim.csv", "exports/2024-05-01x"]
    planted = ["../../victim.csv", "../other/victim.csv", "./../2024-05-01x", "/victim.csv"]
    earlier["files"] += [{**earlier["files"][0], "name": name} for name in planted]
    for victim in victims:
        client.put_object(Bucket="ferry-planted", Key=victim, Body=b"not Ferry's")
    client.put_object(Bucket="ferry-planted", Key=key, Body=json.dumps(earlier).encode())

    retry = context_for(destination, try_number=2)
    deliver(retry.export.destinations[0], folder, retry)

    objects = _objects(client, "ferry-planted")
    assert all(objects[victim] == b"not Ferry's" for victim in victims)


def test_the_manifest_appears_only_after_every_file_and_a_retry_withdraws_it_first(
    s3_server, connect, monkeypatch, staging, context_for
):
    """A reader polling the bucket trusts the manifest: it must go up last, and a retry must
    take the earlier one down before touching any file it names (order as S3 acknowledged it)."""
    monkeypatch.setenv("FERRY_S3_MULTIPART_MB", "5")
    connect(s3_server.connection("s3_order"))
    s3_server.client().create_bucket(Bucket="ferry-order")
    destination = {"type": "s3", "connection": "s3_order", "bucket": "ferry-order",
                   "path": "exports/{{ ds }}/"}  # fmt: skip
    prefix, manifest_key = "exports/2024-05-01/", "exports/2024-05-01/manifest.json"
    folder, first = staging(rows_per_file=2, big_file_bytes=6 * 1024 * 1024)
    writes = record_s3_writes(monkeypatch)
    deliver(context_for(destination).export.destinations[0], folder, context_for(destination))

    assert writes.appeared()[-1] == manifest_key
    assert sorted(writes.appeared()[:-1]) == sorted(prefix + f.name for f in first.files)
    assert "CompleteMultipartUpload" in {w.operation for w in writes.writes}, "big file in parts"

    folder, fewer = staging(rows_per_file=5, big_file_bytes=6 * 1024 * 1024)
    writes.writes.clear()
    retry = context_for(destination, try_number=2)
    deliver(retry.export.destinations[0], folder, retry)

    withdrawn = writes.index("deletes", manifest_key)
    assert withdrawn == 0, f"the earlier manifest goes first: {writes.writes}"
    extras = sorted({f.name for f in first.files} - {f.name for f in fewer.files})
    assert extras, "the retry staged fewer files"
    committed = writes.index("appears", manifest_key)
    assert committed == len(writes.writes) - 1, f"the manifest goes last: {writes.writes}"
    for name in extras:
        assert writes.index("deletes", prefix + name) < committed, name
    for staged in fewer.files:
        assert withdrawn < writes.index("appears", prefix + staged.name) < committed


def test_an_object_holding_fewer_bytes_than_the_manifest_says_is_never_committed(
    s3_server, connect, monkeypatch, staging, context_for
):
    """The staged file shrinks between the check and the upload (S3 takes whatever is read):
    only Ferry's size check after each upload stands between it and a manifest naming it."""
    from ferry import s3

    connect(s3_server.connection("s3_short"))
    client = s3_server.client()
    client.create_bucket(Bucket="ferry-short")
    folder, manifest = staging()
    short = manifest.data_files[1]
    original = s3.Bucket.upload

    def upload(self, path, key, extra=None):
        if path.name == short.name:
            path.write_bytes(path.read_bytes()[:-16])
        return original(self, path, key, extra)

    monkeypatch.setattr(s3.Bucket, "upload", upload)
    destination = {"type": "s3", "connection": "s3_short", "bucket": "ferry-short", "path": "x/"}
    context = context_for(destination)

    with pytest.raises(DeliveryError) as failure:
        deliver(context.export.destinations[0], folder, context)

    assert str(failure.value) == (
        f"s3 destination 's3': s3://ferry-short/x/{short.name} holds {short.bytes - 16} bytes, "
        f"expected {short.bytes}"
    )
    assert "x/manifest.json" not in _objects(client, "ferry-short")
