"""The download audit: rows written and read back newest first, by export or by run."""

from __future__ import annotations

import datetime as dt

import pytest

from ferry import history
from ferry.history_downloads import DownloadRecord, list_downloads, record_download
from ferry.run_info import RunInfo


@pytest.fixture(autouse=True)
def own_history(history_backend):
    return history_backend


def download(at: str, job_run_id: str, user: str = "ana") -> DownloadRecord:
    record = DownloadRecord(
        at=at, username=user, job_run_id=job_run_id, export_id=job_run_id.split(".")[0],
        file="part_0001.csv", bytes=10, range="", status=200,
    )  # fmt: skip
    record_download(record)
    return record


def test_downloads_read_back_newest_first_by_export_or_run():
    first = download("2026-12-01T10:00:00+00:00", "orders.run_a")
    second = download("2026-12-01T11:00:00+00:00", "orders.run_b", user="ben")
    other = download("2026-12-01T12:00:00+00:00", "leads.run_a")

    assert list_downloads() == [other, second, first]
    assert list_downloads("orders") == [second, first]
    assert list_downloads("orders.run_a") == [first]
    assert list_downloads(limit=1) == [other]


def test_the_audit_lives_beside_the_runs_in_one_database(own_history):
    download("2026-12-01T10:00:00+00:00", "orders.run_a")
    run = RunInfo("orders", "run_a")
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    history.record_run(history.RunRecord.ended(run, "failed", "", started_at=now, finished_at=now))

    rows = own_history.query(
        "SELECT d.username, d.file, r.outcome FROM downloads AS d JOIN runs AS r "
        "ON r.export_id = d.export_id"
    )
    assert rows == [("ana", "part_0001.csv", "failed")]


def test_an_underscore_in_an_export_id_is_no_wildcard():
    download("2026-12-01T10:00:00+00:00", "a_b.run")
    download("2026-12-01T10:00:00+00:00", "axb.run")

    assert [d.export_id for d in list_downloads("a_b")] == ["a_b"]
