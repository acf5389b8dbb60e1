"""Nothing one worker writes is read from its disk by another process (issue 19).

Two "workers" are two FERRY_HOMEs on one FERRY_STAGING (moto's S3 server): what the
first writes, the second (another worker, or the API server serving downloads) finds.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from pathlib import Path

import pytest

from ferry import history, paths, pipeline, pipeline_imports, refresh
from ferry.run_info import RunInfo
from ferry.web import lookup
from ferry.web.download_files import Expired, RunMissing, open_run_file
from ferry_demo.drop import drop_leads
from integration.test_staging_s3 import (  # noqa: F401  (fixtures)
    BUCKET,
    CONN_ID,
    EXPORT_ID,
    LOG,
    PREFIX,
    another_worker,
    define,
    extract,
    include,
    s3,
    staged_on_s3,
)

pytestmark = pytest.mark.integration


def deliver_on_first_worker(run_id: str, monkeypatch, tmp_path):
    another_worker(monkeypatch, tmp_path, "worker-1")
    run = extract(run_id)
    pipeline.run_step("validate", run, log=LOG, pii_key=lambda: None)
    pipeline.deliver(run, "download", {}, 1, log=LOG)
    folder = paths.downloads_dir() / EXPORT_ID / run.job_run_id
    return run, {p.name: p.read_bytes() for p in folder.iterdir()}


def read(job_run_id: str, name: str, **options) -> bytes:
    opened = open_run_file(job_run_id, name, retention_days=30, **options)
    with os.fdopen(opened.fd, "rb") as stream:
        return stream.read()


def test_a_download_delivered_on_one_worker_is_served_by_another_process(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    monkeypatch,
    tmp_path,
):
    run, delivered = deliver_on_first_worker("manual__shared-download", monkeypatch, tmp_path)
    listed = staged_on_s3.client().list_objects_v2(
        Bucket=BUCKET, Prefix=f"{PREFIX}/_downloads/{EXPORT_ID}/{run.job_run_id}/"
    )
    assert {item["Key"].rsplit("/", 1)[1] for item in listed["Contents"]} == set(delivered)

    another_worker(monkeypatch, tmp_path, "api-server")  # nothing of the run on its disk
    data = sorted(name for name in delivered if name.endswith(".csv.gz"))
    for name in [*data, "manifest.json"]:
        assert read(run.job_run_id, name) == delivered[name], name

    # retention counts from the delivery, not from when this server fetched the copy
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    with pytest.raises(Expired, match="expired on"):
        read(run.job_run_id, data[0], now=later)


def test_a_run_never_delivered_is_still_missing_on_the_server(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    monkeypatch,
    tmp_path,
):
    another_worker(monkeypatch, tmp_path, "api-server")

    with pytest.raises(RunMissing, match="has no files in the download area"):
        read(f"{EXPORT_ID}.manual__never", "manifest.json")


def drop_with_a_bad_row(drop: Path, day: dt.date) -> Path:
    """The demo partner's file of the day with one lead_id that is no number (1 of 21
    rows: under the import's 5% rejects.max_rate, so the rest loads)."""
    path = drop_leads(day, drop)
    with path.open("a", encoding="utf-8") as file:
        file.write("not-a-number,x@partner.example,X,Y,TX,US,partner,2026-03-04 09:30:00\n")
    return path


def test_an_import_runs_rejects_are_kept_where_another_machine_reads_them(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    own_warehouse,
    monkeypatch,
    tmp_path,
):
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "drop"))
    another_worker(monkeypatch, tmp_path, "worker-1")
    run = RunInfo("partner_leads", "scheduled__2026-03-04T00:00:00+00:00",
                  logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC))  # fmt: skip
    drop_with_a_bad_row(tmp_path / "drop", run.logical_date.date())

    loaded = pipeline_imports.load(run, log=LOG)

    key = f"{PREFIX}/_imports/partner_leads/{run.safe_run_id}/rejects.csv"
    assert loaded["result"]["rejected"] == 1
    assert loaded["result"]["rejects_file"] == f"s3://{BUCKET}/{key}"
    another_worker(monkeypatch, tmp_path, "worker-2")  # reads the URL, not worker-1's disk
    body = staged_on_s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    [reject] = list(csv.DictReader(io.StringIO(body.decode("utf-8"))))
    assert (reject["column"], reject["value"]) == ("lead_id", "not-a-number")

    # a forced rerun of the run with the file fixed has no rejects: the old file goes
    drop_leads(run.logical_date.date(), tmp_path / "drop")
    again = pipeline_imports.load(run, log=LOG, force=True)
    assert again["result"]["rejects_file"] is None
    listed = staged_on_s3.client().list_objects_v2(Bucket=BUCKET, Prefix=key)
    assert listed.get("KeyCount") == 0


def test_a_refresh_marker_held_on_one_machine_holds_exports_on_another(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    monkeypatch,
    tmp_path,
):
    another_worker(monkeypatch, tmp_path, "warehouse-host")  # a cron job's refresh
    refresh.hold(["lead"], holder="nightly load")
    seen_by_the_task = refresh.marker_dir()

    another_worker(monkeypatch, tmp_path, "worker-2")
    assert refresh.refreshes_in_progress(["lead", "contact"]) == ["lead"]
    monkeypatch.delenv("FERRY_STAGING")  # the triggerer: only what the task passed it
    assert refresh.refreshes_in_progress(["lead"], seen_by_the_task) == ["lead"]

    monkeypatch.setenv("FERRY_STAGING", f"s3://{CONN_ID}@{BUCKET}/{PREFIX}")
    refresh.release(["lead"])
    assert refresh.refreshes_in_progress(["lead"], seen_by_the_task) == []


def test_the_run_page_shows_the_validation_of_a_run_another_worker_staged(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    monkeypatch,
    tmp_path,
):
    another_worker(monkeypatch, tmp_path, "worker-1")
    run = extract("manual__validated-elsewhere")
    pipeline.run_step("validate", run, log=LOG, pii_key=lambda: None)
    now = dt.datetime.now(dt.UTC)
    record = history.RunRecord.ended(run, "failed", "", started_at=now, finished_at=now)

    another_worker(monkeypatch, tmp_path, "api-server")
    shown = lookup.validation_of(record)

    assert shown is not None and shown["passed"] is True and shown["rows"] > 0


def s3_requests(monkeypatch) -> list[tuple[str, str]]:
    """(operation, key) of every request a ferry.s3.Bucket created from now on sends."""
    from ferry import s3 as ferry_s3

    sent: list[tuple[str, str]] = []
    original = ferry_s3.Bucket.__init__

    def remember(params: dict, model, **_) -> None:
        sent.append((model.name, params.get("Key", "")))

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        self.client.meta.events.register("before-parameter-build.s3.*", remember)

    monkeypatch.setattr(ferry_s3.Bucket, "__init__", init)
    return sent


def test_repeat_downloads_of_a_run_do_not_fetch_its_manifest_again(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    include,  # noqa: F811
    monkeypatch,
    tmp_path,
):
    from ferry.delivery.manifest_cache import MANIFESTS

    run, delivered = deliver_on_first_worker("manual__cached-manifest", monkeypatch, tmp_path)
    another_worker(monkeypatch, tmp_path, "api-server")
    name = sorted(n for n in delivered if n.endswith(".csv.gz"))[0]
    manifest_key = f"{PREFIX}/_downloads/{EXPORT_ID}/{run.job_run_id}/manifest.json"
    sent = s3_requests(monkeypatch)

    assert read(run.job_run_id, name) == delivered[name]  # the first: the copy is fetched
    first = list(sent)
    assert ("GetObject", manifest_key) in first and ("HeadObject", manifest_key) in first
    sent.clear()
    assert read(run.job_run_id, name) == delivered[name]  # moments later: nothing asked
    assert read(run.job_run_id, "manifest.json") == delivered["manifest.json"]
    assert sent == []

    clock = [MANIFESTS.clock() + MANIFESTS.fresh_seconds + 1]  # later: the ETag is checked
    monkeypatch.setattr(MANIFESTS, "clock", lambda: clock[0])
    assert read(run.job_run_id, name) == delivered[name]
    assert sent == [("HeadObject", manifest_key)]

    # the run delivered again with other bytes: seen at the next check, fetched whole
    sent.clear()
    define(include, rows_per_file=50_000)
    again, redelivered = deliver_on_first_worker("manual__cached-manifest", monkeypatch, tmp_path)
    another_worker(monkeypatch, tmp_path, "api-server")
    assert redelivered["manifest.json"] != delivered["manifest.json"]
    sent.clear()
    clock[0] += MANIFESTS.fresh_seconds + 1
    assert read(again.job_run_id, "manifest.json") == redelivered["manifest.json"]
    assert sent[0] == ("HeadObject", manifest_key) and ("GetObject", manifest_key) in sent


def test_a_folder_import_on_a_worker_without_the_shared_drop_folder_says_so(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    own_warehouse,
    monkeypatch,
    tmp_path,
):
    import socket

    from ferry.imports.files import DropFolderMissing

    mounted = tmp_path / "mnt" / "drop"
    run = RunInfo("partner_leads", "scheduled__2026-03-04T00:00:00+00:00",
                  logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC))  # fmt: skip
    drop_leads(run.logical_date.date(), mounted)
    another_worker(monkeypatch, tmp_path, "worker-1")
    monkeypatch.delenv("FERRY_DROP", raising=False)  # each worker would read its own folder
    with pytest.raises(DropFolderMissing, match="FERRY_DROP is unset while FERRY_STAGING"):
        pipeline_imports.files_ready(pipeline_imports.import_of(run.export_id), run)

    monkeypatch.setenv("FERRY_DROP", str(mounted))
    assert pipeline_imports.files_ready(pipeline_imports.import_of(run.export_id), run)

    another_worker(monkeypatch, tmp_path, "worker-2")
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "not-mounted" / "drop"))
    with pytest.raises(DropFolderMissing) as raised:
        pipeline_imports.load(run, log=LOG)
    assert f"does not exist on worker host {socket.gethostname()!r}" in str(raised.value)
    assert "not-mounted" in str(raised.value) and "sftp or s3" in str(raised.value)


def test_the_api_servers_own_expired_copies_are_purged_by_the_server(
    staged_on_s3,  # noqa: F811 - the fixture imported above
    monkeypatch,
    tmp_path,
):
    from ferry.web import downloads

    run, delivered = deliver_on_first_worker("manual__server-copy", monkeypatch, tmp_path)
    another_worker(monkeypatch, tmp_path, "api-server")
    assert read(run.job_run_id, "manifest.json") == delivered["manifest.json"]
    copy = paths.downloads_dir() / EXPORT_ID / run.job_run_id
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=31)).timestamp()
    os.utime(copy / "manifest.json", (old, old))  # as if fetched a month ago
    monkeypatch.setattr(downloads, "_last_purge", [float("-inf")])

    started = downloads.purge_copies_now_and_then()
    started.join(timeout=60)

    assert not copy.exists()
    assert downloads.purge_copies_now_and_then() is None  # at most once an hour
