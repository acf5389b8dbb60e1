"""Serving a run delivered on another worker (staging on moto's S3 over HTTP): an expired
run is refused from its published manifest's date, before its files are fetched."""

from __future__ import annotations

import datetime as dt

import pytest

from ferry import paths
from ferry.web.download_files import Expired, open_run_file
from integration.test_shared_state_s3 import deliver_on_first_worker, read, s3_requests
from integration.test_staging_s3 import (  # noqa: F401  (fixtures)
    EXPORT_ID,
    PREFIX,
    another_worker,
    include,
    s3,
    staged_on_s3,
)

pytestmark = pytest.mark.integration


def test_an_expired_run_on_s3_is_refused_without_fetching_its_files(
    staged_on_s3,  # noqa: F811
    monkeypatch,
    tmp_path,
):
    run, delivered = deliver_on_first_worker("manual__expired-on-s3", monkeypatch, tmp_path)
    another_worker(monkeypatch, tmp_path, "api-server")
    area = f"{PREFIX}/_downloads/{EXPORT_ID}/{run.job_run_id}/"
    data_keys = {area + name for name in delivered if name != "manifest.json"}
    assert data_keys  # the run has data files to (not) fetch
    sent = s3_requests(monkeypatch)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)

    for name in ["manifest.json", *sorted(delivered)]:
        with pytest.raises(Expired, match="30 days"):
            open_run_file(run.job_run_id, name, retention_days=30, now=later)

    fetched = [key for operation, key in sent if operation == "GetObject"]
    assert data_keys.isdisjoint(fetched), "an expired run's data was fetched to be refused"
    assert not (paths.downloads_dir() / EXPORT_ID / run.job_run_id).exists()
    # within its retention the same run is still fetched and served whole
    name = sorted(data_keys)[0].rsplit("/", 1)[1]
    assert read(run.job_run_id, name) == delivered[name]
    assert data_keys & {key for operation, key in sent if operation == "GetObject"}
