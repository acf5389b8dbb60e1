"""The housekeeping DAG, run with dag.test(): it purges expired downloads and says which."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest

from ferry import paths

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _run_folder(export_id: str, run: str, age_days: int) -> Path:
    folder = paths.downloads_dir() / export_id / run
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)).timestamp()
    os.utime(folder / "manifest.json", (stamp, stamp))
    return folder


def _returned(run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id)
    with create_session() as session:
        (xcom,) = session.scalars(query).all()
        return XComModel.deserialize_value(xcom)


def test_housekeeping_dag_purges_by_retention(airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from include_copy import copy_include

    # definitions of its own: a broken file another test left in the session's include/
    # would rightly stop the purge of removed exports' runs
    monkeypatch.setenv("FERRY_INCLUDE", str(copy_include(tmp_path)))

    expired = _run_folder("daily_lead_backup", "daily_lead_backup.old", age_days=31)
    kept = _run_folder("daily_lead_backup", "daily_lead_backup.recent", age_days=29)
    orphan = _run_folder("removed_export", "removed_export.old", age_days=31)
    bag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_housekeeping.py"))
    dag = bag.dags["ferry_housekeeping"]
    assert dag.tags and set(dag.tags) == {"ferry", "housekeeping"}
    assert all(task.owner == "ferry" and task.retries == 1 for task in dag.tasks)

    run = dag.test()

    assert run.state == "success"
    assert not expired.exists() and not orphan.exists() and kept.exists()
    assert sorted(_returned(run, "purge_downloads")) == sorted([str(expired), str(orphan)])


# --- the copies under <staging>/_downloads/ on S3 (moto's server over HTTP)

STAGING_PREFIX = "runs/prod"
AREA = f"{STAGING_PREFIX}/_downloads/"
SHARED_CONN = "ferry_housekeeping_s3"


@pytest.fixture
def shared_area(s3_server, tmp_path, monkeypatch):
    """FERRY_STAGING on a bucket of the test's own; the client to look at it with."""
    bucket = f"housekeeping-{uuid.uuid4().hex[:12]}"
    client = s3_server.client()
    client.create_bucket(Bucket=bucket)
    monkeypatch.setenv(*s3_server.connection(SHARED_CONN))
    monkeypatch.setenv("FERRY_STAGING", f"s3://{SHARED_CONN}@{bucket}/{STAGING_PREFIX}")
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    return client, bucket


def _keys(client, bucket: str) -> set[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _publish(client, bucket: str, folder: str, names: list[str]) -> set[str]:
    keys = {f"{AREA}{folder}/{name}" for name in names}
    for key in sorted(keys):
        client.put_object(Bucket=bucket, Key=key, Body=b"{}")
    return keys


def test_expired_runs_under_the_staging_downloads_are_deleted_and_nothing_else(
    shared_area, monkeypatch
):
    from ferry.delivery import purge_shared_downloads
    from integration.delivery.s3_writes import record_s3_writes

    client, bucket = shared_area
    files = ["leads_00001.csv.gz", "leads_00002.csv.gz", "manifest.json"]
    expired = {
        "short/short.manual__2026-01-01T00:00:00+00:00": _publish(
            client, bucket, "short/short.manual__2026-01-01T00:00:00+00:00", files
        ),
        # an interrupted publish (no manifest) ages by its newest object
        "short/short.scheduled__x": _publish(client, bucket, "short/short.scheduled__x", files[:2]),
        # an export no longer defined keeps the default retention
        "gone/gone.r1": _publish(client, bucket, "gone/gone.r1", files),
        # names that stay inside the run folder, however they read
        "short/odd": _publish(client, bucket, "short/odd", ["../../../escape", "a b", ""]),
    }
    kept = _publish(client, bucket, "short_longer/short_longer.r1", files)  # "short" + more
    kept |= _publish(client, bucket, "longer/longer.r1", files)
    hostile = {
        f"{AREA}short/../outside/manifest.json",  # a run named '..'
        f"{AREA}short/./manifest.json",
        f"{AREA}../runs/manifest.json",  # an export named '..'
        f"{AREA}short/ /manifest.json",  # a blank run name
        f"{AREA}stray.txt",  # not in a run folder
        f"{AREA}short/no-folder",
    }
    outside = {
        f"{STAGING_PREFIX}/_downloads_old/short/r/manifest.json",
        f"{STAGING_PREFIX}/_downloadsshort/r/manifest.json",
        f"{STAGING_PREFIX}/short/short.r1/manifest.json",  # a staged run
        "runs/other/_downloads/short/short.r1/manifest.json",  # another staging prefix
        "outside/manifest.json",
        "escape",
    }
    for key in hostile | outside:
        client.put_object(Bucket=bucket, Key=key, Body=b"{}")
    before = _keys(client, bucket)
    assert before == set().union(*expired.values()) | kept | hostile | outside
    writes = record_s3_writes(monkeypatch)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)

    retention = {"short": 2, "short_longer": 60, "longer": 60}

    deleted = purge_shared_downloads(
        retention, now=later, default_days=5, page_size=2, batch_size=3
    )

    assert _keys(client, bucket) == kept | hostile | outside
    assert sorted(deleted) == sorted(f"s3://{bucket}/{AREA}{run}/" for run in expired)
    batches = [write.keys for write in writes.writes if write.operation == "DeleteObjects"]
    assert all(0 < len(batch) <= 3 for batch in batches)
    assert set().union(*map(set, batches)) == set().union(*expired.values())
    assert purge_shared_downloads(retention, now=later, default_days=5) == []  # all done


def test_no_shared_purge_when_staging_is_local(tmp_path, monkeypatch):
    from ferry.delivery import purge_shared_downloads

    monkeypatch.setenv("FERRY_STAGING", str(tmp_path / "staging"))
    assert purge_shared_downloads({}, now=dt.datetime.now(dt.UTC)) == []


# --- a broken include/ (or a wrong FERRY_INCLUDE) never purges at the default


def _include_with_broken_export(tmp_path: Path) -> Path:
    """The example include/ plus keep_long: retention_days 400, but its source table is
    unknown, so load_project leaves it out of project.exports."""
    from include_copy import copy_include

    include = copy_include(tmp_path / "copy")
    text = (include / "exports" / "daily_lead_backup.yaml").read_text()
    text = text.replace("id: daily_lead_backup", "id: keep_long")
    text = text.replace("retention_days: 30", "retention_days: 400")
    text = text.replace("source: {table: lead}", "source: {table: no_such_table}")
    (include / "exports" / "keep_long.yaml").write_text(text)
    return include


def _retention(include: Path, caplog):
    from ferry.delivery.housekeeping import retention_of
    from ferry.spec.loader import load_project

    project = load_project(include)
    assert "keep_long" not in project.exports and "exports.keep_long" in project.broken
    with caplog.at_level("WARNING", logger="ferry.delivery"):
        return retention_of(project)


def test_broken_export_keeps_its_local_runs(tmp_path, monkeypatch, caplog):
    from ferry.delivery import purge_downloads

    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    retention, default_days = _retention(_include_with_broken_export(tmp_path), caplog)
    assert default_days is None and retention["daily_lead_backup"] == 30
    broken = _run_folder("keep_long", "keep_long.old", age_days=60)
    orphan = _run_folder("removed_export", "removed_export.old", age_days=60)
    expired = _run_folder("daily_lead_backup", "daily_lead_backup.old", age_days=31)

    with caplog.at_level("INFO", logger="ferry.delivery"):
        deleted = purge_downloads(
            paths.downloads_dir(), retention, now=dt.datetime.now(dt.UTC), default_days=None
        )

    assert deleted == [expired] and broken.exists() and orphan.exists()
    assert "exports.keep_long" in caplog.text  # why: the broken file is named
    assert "Left the runs of export keep_long" in caplog.text
    assert "Left the runs of export removed_export" in caplog.text


def test_broken_export_keeps_its_runs_on_s3(shared_area, tmp_path, caplog):
    from ferry.delivery import purge_shared_downloads

    client, bucket = shared_area
    retention, default_days = _retention(_include_with_broken_export(tmp_path), caplog)
    files = ["leads_00001.csv.gz", "manifest.json"]
    kept = _publish(client, bucket, "keep_long/keep_long.r1", files)
    kept |= _publish(client, bucket, "removed_export/removed_export.r1", files)
    expired = _publish(client, bucket, "daily_lead_backup/daily_lead_backup.r1", files)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=60)

    with caplog.at_level("INFO", logger="ferry.delivery"):
        deleted = purge_shared_downloads(retention, now=later, default_days=default_days)

    assert deleted == [f"s3://{bucket}/{AREA}daily_lead_backup/daily_lead_backup.r1/"]
    assert _keys(client, bucket) == kept and expired.isdisjoint(_keys(client, bucket))
    assert caplog.text.count("Left the runs of export keep_long") == 1


def test_no_exports_in_include_purges_nothing(tmp_path, monkeypatch, caplog):
    from ferry.delivery import purge_downloads
    from ferry.delivery.housekeeping import retention_of
    from ferry.spec.loader import load_project

    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    (tmp_path / "wrong_include").mkdir()
    old = _run_folder("daily_lead_backup", "daily_lead_backup.old", age_days=400)
    with caplog.at_level("WARNING", logger="ferry.delivery"):
        retention, default_days = retention_of(load_project(tmp_path / "wrong_include"))
        deleted = purge_downloads(
            paths.downloads_dir(), retention, now=dt.datetime.now(dt.UTC), default_days=default_days
        )
    assert (retention, default_days, deleted) == ({}, None, []) and old.exists()
    assert "no exports in" in caplog.text
