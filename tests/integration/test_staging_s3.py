"""Staging on S3 (FERRY_STAGING=s3://connection@bucket/prefix) against moto's S3 server.

An export runs through dag.test(): extract publishes the run to the bucket, validate and
deliver fetch it back (here, or on another worker with an empty cache) and check every
file against the manifest. Checked as a user would: the objects in the bucket, their
sha256s, the delivered bytes, the rows parsed back, and the errors when something is off.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferry import history, paths, pipeline, staging
from ferry.exceptions import kind_of
from ferry.run_info import RunInfo
from include_copy import copy_include
from integration.delivery.s3_writes import record_s3_writes
from servers import MotoS3, airflow_connection, free_port, running

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXPORT_ID = "staged_on_s3"
BUCKET = "ferry-staging-test"
PREFIX = "runs/prod"
CONN_ID = "ferry_staging_s3"
ACCESS_KEY, SECRET_KEY = "AKIAFERRYSTAGINGTEST", "staging-secret-7b1e4d"
DEFINITION = """\
id: staged_on_s3
name: Leads staged on S3
source: {table: lead}
fields: [lead_id, state, source, created_at]
format: {type: csv, compression: gzip, rows_per_file: %(rows_per_file)d}
expectations: [{expect: unique, field: lead_id}]
destinations: [{type: download}]
schedule: "off"
"""
LOG = logging.getLogger("ferry.test.staging")
TAMPERED = b"lead_id\n666\n"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    with running(MotoS3()) as server:
        server.client().create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> Path:
    target = copy_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(target))
    define(target, rows_per_file=5000)
    return target


@pytest.fixture
def staged_on_s3(s3: MotoS3, include: Path, monkeypatch: pytest.MonkeyPatch) -> MotoS3:
    """FERRY_STAGING on the bucket, through a connection with its own (fake) keys."""
    extra = {"endpoint_url": s3.endpoint_url, "region_name": "us-east-1"}
    monkeypatch.setenv(
        *airflow_connection(
            CONN_ID, conn_type="aws", login=ACCESS_KEY, password=SECRET_KEY, extra=extra
        )
    )
    monkeypatch.setenv("FERRY_STAGING", f"s3://{CONN_ID}@{BUCKET}/{PREFIX}")
    return s3


def define(include: Path, *, rows_per_file: int) -> None:
    path = include / "exports" / f"{EXPORT_ID}.yaml"
    path.write_text(DEFINITION % {"rows_per_file": rows_per_file})
    stamp = path.stat().st_mtime + rows_per_file  # a new mtime: the definitions reload
    os.utime(path, (stamp, stamp))


def run_dag(run_after: dt.datetime):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py")).dags[f"export__{EXPORT_ID}"]
    return dag.test(run_after=run_after)


def extract(run_id: str) -> RunInfo:
    """The extract task's step for a run, as a worker runs it."""
    run = RunInfo(EXPORT_ID, run_id)
    pipeline.run_step("extract", run, log=LOG, pii_key=lambda: None)
    return run


def run_prefix(run: RunInfo) -> str:
    return f"{PREFIX}/{EXPORT_ID}/{run.safe_run_id}/"


def bucket_objects(s3: MotoS3, run: RunInfo) -> dict[str, bytes]:
    """Every object under the run's prefix, by name relative to it."""
    client, prefix = s3.client(), run_prefix(run)
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        item["Key"][len(prefix) :]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listed
    }


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def rows_of(gzipped_csv: bytes) -> list[list[str]]:
    reader = csv.reader(io.StringIO(gzip.decompress(gzipped_csv).decode("utf-8"), newline=""))
    assert next(reader) == ["lead_id", "state", "source", "created_at"]
    return list(reader)


def lead_count(warehouse: Path) -> int:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM lead").fetchone()[0]


def another_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> Path:
    """A FERRY_HOME of its own: an empty staging cache, as on a worker that did not extract."""
    home = tmp_path / name
    monkeypatch.setenv("FERRY_HOME", str(home))
    return home


def test_dag_test_stages_on_s3_and_delivers_the_staged_bytes(staged_on_s3, warehouse, airflow_db):
    run = run_dag(dt.datetime(2026, 11, 22, tzinfo=dt.UTC))

    assert run.state == "success"
    info = RunInfo(EXPORT_ID, run.run_id)
    objects = bucket_objects(staged_on_s3, info)
    manifest = json.loads(objects["manifest.json"])
    staged = {f["name"]: f for f in manifest["files"]}
    assert set(objects) == {*staged, "manifest.json"}, "the prefix holds the run and nothing else"
    assert {name: sha256(objects[name]) for name in staged} == {
        name: f["sha256"] for name, f in staged.items()
    }
    data = [name for name, f in staged.items() if f["kind"] == "data"]
    assert data == [f"{EXPORT_ID}_{n:05d}.csv.gz" for n in range(1, 5)]
    head = staged_on_s3.client().head_object(Bucket=BUCKET, Key=run_prefix(info) + data[0])
    assert head["Metadata"]["ferry-sha256"] == staged[data[0]]["sha256"]
    # validate's summary went back up with the manifest, for the workers after it
    assert manifest["validation"]["passed"] is True
    assert manifest["validation"]["rows"] == manifest["rows"]

    delivered = paths.downloads_dir() / EXPORT_ID / info.job_run_id
    for name in data:
        assert (delivered / name).read_bytes() == objects[name], name
    rows = [row for name in data for row in rows_of(objects[name])]
    assert len(rows) == manifest["rows"] == lead_count(warehouse)
    assert len({row[0] for row in rows}) == len(rows)
    record = history.get_run(info.job_run_id)
    assert (record.outcome, record.rows, record.files) == ("success", len(rows), 4)
    assert not (paths.ferry_home() / "staging" / EXPORT_ID).exists(), "nothing staged locally"


def test_another_worker_fetches_the_same_bytes_into_an_empty_cache(
    staged_on_s3, monkeypatch, tmp_path, caplog
):
    run = extract("manual__another-worker")
    objects = bucket_objects(staged_on_s3, run)
    home = another_worker(monkeypatch, tmp_path, "worker-2")

    with caplog.at_level(logging.INFO, logger=LOG.name):
        folder = staging.fetch(pipeline.plan_for(run), log=LOG)
        again = staging.fetch(pipeline.plan_for(run), log=LOG)  # a second task on that worker

    assert folder.is_relative_to(home / "staging-cache" / BUCKET / PREFIX)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == objects
    assert "fetched 6 of 6 files" in caplog.records[0].getMessage()
    assert again == folder and "fetched 0 of 6 files" in caplog.records[1].getMessage()


def test_a_rerun_that_stages_fewer_files_leaves_no_stale_keys(
    staged_on_s3, include, warehouse, monkeypatch, tmp_path
):
    run = extract("manual__rerun")
    first = bucket_objects(staged_on_s3, run)
    assert len([name for name in first if name.endswith(".csv.gz")]) == 4
    leftover = run_prefix(run) + "deliveries/webhook/rejects.jsonl"  # from an earlier try
    staged_on_s3.client().put_object(Bucket=BUCKET, Key=leftover, Body=b"{}\n")

    define(include, rows_per_file=15000)
    extract("manual__rerun")

    objects = bucket_objects(staged_on_s3, run)
    manifest = json.loads(objects["manifest.json"])
    names = [f["name"] for f in manifest["files"]]
    assert set(objects) == {*names, "manifest.json"}
    assert [n for n in names if n.endswith(".csv.gz")] == [
        f"{EXPORT_ID}_00001.csv.gz",
        f"{EXPORT_ID}_00002.csv.gz",
    ]
    assert sum(len(rows_of(objects[n])) for n in names if n.endswith(".gz")) == lead_count(
        warehouse
    )
    another_worker(monkeypatch, tmp_path, "worker-3")
    folder = staging.fetch(pipeline.plan_for(run), log=LOG)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*names, "manifest.json"])


def first_staged_file(client, prefix: str) -> dict:
    """The first file the run's manifest in the bucket names (name, bytes, sha256)."""
    body = client.get_object(Bucket=BUCKET, Key=prefix + "manifest.json")["Body"].read()
    return json.loads(body)["files"][0]


def test_a_tampered_or_deleted_object_fails_the_fetch_naming_it(
    staged_on_s3, monkeypatch, tmp_path
):
    run = extract("manual__tampered")
    client, prefix = staged_on_s3.client(), run_prefix(run)
    first = first_staged_file(client, prefix)
    client.put_object(Bucket=BUCKET, Key=prefix + first["name"], Body=TAMPERED)
    another_worker(monkeypatch, tmp_path, "worker-4")

    with pytest.raises(staging.StagingError) as raised:
        staging.fetch(pipeline.plan_for(run), log=LOG)
    url = f"s3://{BUCKET}/{prefix}{first['name']}"
    assert str(raised.value) == (
        f"staged file {url} does not match s3://{BUCKET}/{prefix}manifest.json: it holds 12 "
        f"bytes with sha256 {sha256(TAMPERED)}, the manifest says {first['bytes']} bytes with "
        f"sha256 {first['sha256']}; it changed after extract: rerun the extract"
    )
    assert raised.value.retryable is False
    with pytest.raises(staging.StagingError, match="does not match") as in_delivery:
        pipeline.deliver(run, "download", run.template_vars(), 1, log=LOG)
    assert kind_of(in_delivery.value) == "terminal", "a retry of deliver cannot fix it"
    assert not (paths.downloads_dir() / EXPORT_ID / run.job_run_id).exists(), "nothing sent"

    client.delete_object(Bucket=BUCKET, Key=prefix + first["name"])
    with pytest.raises(staging.StagingError, match=rf"staged file {url} is missing, though") as (
        in_validate
    ):
        pipeline.run_step("validate", run, log=LOG, pii_key=lambda: None)
    assert kind_of(in_validate.value) == "terminal"


def test_an_object_changed_without_changing_its_size_fails_the_fetch(
    staged_on_s3, monkeypatch, tmp_path
):
    run = extract("manual__same-size")
    client, prefix = staged_on_s3.client(), run_prefix(run)
    first = first_staged_file(client, prefix)
    body = client.get_object(Bucket=BUCKET, Key=prefix + first["name"])["Body"].read()
    changed = bytes([body[0] ^ 0xFF]) + body[1:]  # same size: only sha256 can tell
    client.put_object(Bucket=BUCKET, Key=prefix + first["name"], Body=changed)
    another_worker(monkeypatch, tmp_path, "worker-5")

    with pytest.raises(staging.StagingError) as raised:
        staging.fetch(pipeline.plan_for(run), log=LOG)
    assert (
        f"it holds {first['bytes']} bytes with sha256 {sha256(changed)}, the manifest says "
        f"{first['bytes']} bytes with sha256 {first['sha256']}"
    ) in str(raised.value)
    assert kind_of(raised.value) == "terminal"
    assert not list(paths.ferry_home().rglob(first["name"])), "the changed file is not cached"


def test_an_unfinished_extract_has_no_manifest_to_fetch(staged_on_s3):
    run = RunInfo(EXPORT_ID, "manual__never-extracted")
    with pytest.raises(staging.StagingError, match=r"no manifest\.json at s3://") as raised:
        staging.fetch(pipeline.plan_for(run), log=LOG)
    assert f"s3://{BUCKET}/{run_prefix(run)}:" in str(raised.value)
    assert staging.staged_manifest(pipeline.plan_for(run)) is None


def test_a_missing_bucket_fails_the_extract_at_once_naming_ferry_staging(staged_on_s3, monkeypatch):
    monkeypatch.setenv("FERRY_STAGING", f"s3://{CONN_ID}@no-such-bucket-here/{PREFIX}")
    with pytest.raises(staging.StagingError) as raised:
        extract("manual__no-bucket")
    assert kind_of(raised.value) == "terminal"
    message = str(raised.value)
    assert "s3://no-such-bucket-here/runs/prod/staged_on_s3/manual__no-bucket/" in message
    assert f"connection '{CONN_ID}'" in message and "NoSuchBucket" in message
    assert "the bucket in FERRY_STAGING does not exist: create it or change FERRY_STAGING" in (
        message
    )
    assert SECRET_KEY not in message and ACCESS_KEY not in message


def test_an_unreachable_endpoint_is_retryable_and_names_it(include, monkeypatch):
    endpoint = f"http://127.0.0.1:{free_port()}"
    extra = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1},
    }
    monkeypatch.setenv(
        *airflow_connection("ferry_staging_down", conn_type="aws", login="x", password="y",
                            extra=extra)
    )  # fmt: skip
    monkeypatch.setenv("FERRY_STAGING", f"s3://ferry_staging_down@{BUCKET}/{PREFIX}")
    with pytest.raises(staging.StagingError) as raised:
        staging.fetch(pipeline.plan_for(RunInfo(EXPORT_ID, "manual__down")), log=LOG)
    assert raised.value.retryable is True
    assert f"endpoint {endpoint})" in str(raised.value)
    assert "connection 'ferry_staging_down'" in str(raised.value)


def test_a_bad_ferry_staging_fails_the_run_and_says_why(include, airflow_db, monkeypatch):
    monkeypatch.setenv("FERRY_STAGING", "gs://ferry-staging/runs")

    run = run_dag(dt.datetime(2026, 11, 23, tzinfo=dt.UTC))

    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["check_eligibility"] == "failed"
    record = history.get_run(RunInfo(EXPORT_ID, run.run_id).job_run_id)
    assert record.outcome == "failed"
    assert "FERRY_STAGING='gs://ferry-staging/runs': the scheme 'gs' is not supported" in (
        record.reason
    )


def test_publish_puts_the_manifest_last_and_a_rerun_withdraws_the_old_one_first(
    staged_on_s3, include, monkeypatch
):
    """Another worker trusts whatever the manifest names: order as S3 acknowledged it."""
    writes = record_s3_writes(monkeypatch)
    run = extract("manual__order")
    manifest_key = run_prefix(run) + "manifest.json"
    first = json.loads(bucket_objects(staged_on_s3, run)["manifest.json"])
    assert writes.appeared()[-1] == manifest_key
    assert sorted(writes.appeared()[:-1]) == sorted(
        run_prefix(run) + f["name"] for f in first["files"]
    )

    define(include, rows_per_file=15000)
    writes.writes.clear()
    extract("manual__order")

    second = json.loads(bucket_objects(staged_on_s3, run)["manifest.json"])
    withdrawn = writes.index("deletes", manifest_key)
    assert withdrawn == 0, f"the old manifest goes first: {writes.writes}"
    committed = writes.index("appears", manifest_key)
    assert committed == len(writes.writes) - 1, f"the manifest goes last: {writes.writes}"
    stale = {f["name"] for f in first["files"]} - {f["name"] for f in second["files"]}
    assert stale, "the rerun staged fewer files"
    for name in stale:
        assert writes.index("deletes", run_prefix(run) + name) < committed, name
    for staged in second["files"]:
        assert withdrawn < writes.index("appears", run_prefix(run) + staged["name"]) < committed


def test_a_cached_file_changed_without_changing_its_size_is_fetched_again(
    staged_on_s3, monkeypatch, tmp_path
):
    """A worker's cache is trusted only for the manifest's digest, not for its size."""
    run = extract("manual__cache")
    objects = bucket_objects(staged_on_s3, run)
    another_worker(monkeypatch, tmp_path, "worker-6")
    folder = staging.fetch(pipeline.plan_for(run), log=LOG)
    first = json.loads(objects["manifest.json"])["files"][0]["name"]
    cached = (folder / first).read_bytes()
    (folder / first).write_bytes(bytes([cached[0] ^ 0xFF]) + cached[1:])  # same size

    again = staging.fetch(pipeline.plan_for(run), log=LOG)

    assert sha256((again / first).read_bytes()) == sha256(objects[first])
    assert {p.name: p.read_bytes() for p in again.iterdir()} == objects
