"""Nothing one worker writes is read from its disk by another process (issue 19).

Two "workers" are two FERRY_HOMEs on one FERRY_STAGING (moto's S3 server): what the
first writes, the second (another worker, or the API server serving downloads) finds.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest

from ferry import paths, pipeline
from ferry.web.download_files import Expired, RunMissing, open_run_file
from integration.test_staging_s3 import (  # noqa: F401  (fixtures)
    BUCKET,
    EXPORT_ID,
    LOG,
    PREFIX,
    another_worker,
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
    staged_on_s3,
    monkeypatch,
    tmp_path,  # noqa: F811
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
    staged_on_s3,
    monkeypatch,
    tmp_path,  # noqa: F811
):
    another_worker(monkeypatch, tmp_path, "api-server")

    with pytest.raises(RunMissing, match="has no files in the download area"):
        read(f"{EXPORT_ID}.manual__never", "manifest.json")
