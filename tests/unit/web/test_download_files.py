"""Which files of the download area open, and which byte ranges a Range header asks."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from ferry.manifest import Manifest, StagedFile
from ferry.web.download_files import (
    BadRange,
    Expired,
    NotFound,
    RunMissing,
    byte_range,
    open_run_file,
)

RUN = "orders.manual__2026-12-01T00~3A00~3A00~2B00~3A00"
BODY = b"id,total\n1,10\n2,20\n"


@pytest.fixture
def area(tmp_path, monkeypatch):
    """$FERRY_HOME/downloads/orders/<RUN>/ holding data.csv and its manifest."""
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "downloads" / "orders" / RUN
    folder.mkdir(parents=True)
    (folder / "data.csv").write_bytes(BODY)
    staged = StagedFile("data.csv", 2, len(BODY), "f" * 64)
    Manifest("orders", RUN, "manual", "csv", "none", [staged], [], []).write(folder)
    return folder


def read(opened) -> bytes:
    return b"".join(opened.chunks(0, opened.size - 1))


def test_a_listed_file_opens_with_its_manifest_digest(area):
    opened = open_run_file(RUN, "data.csv", retention_days=30)

    assert (opened.export_id, opened.size, opened.sha256) == ("orders", len(BODY), "f" * 64)
    assert read(opened) == BODY


@pytest.mark.parametrize(
    "name", ["..", ".", "", "../data.csv", "a/b", ".hidden", "data.csv\x00", "..\\x"]
)
def test_names_that_are_not_plain_file_names_are_refused(area, name):
    with pytest.raises(NotFound):
        open_run_file(RUN, name, retention_days=30)


@pytest.mark.parametrize(
    "job_run_id", ["..", "orders", "orders.", "orders..", "orders./x", "Orders.x", "../orders.x"]
)
def test_texts_that_are_no_run_id_are_refused(area, job_run_id):
    with pytest.raises(NotFound, match=r"no run|no files"):
        open_run_file(job_run_id, "data.csv", retention_days=30)


def test_a_file_the_manifest_does_not_name_is_refused(area):
    (area / "extra.csv").write_bytes(b"x")

    with pytest.raises(NotFound, match=r"delivered no file 'extra\.csv'"):
        open_run_file(RUN, "extra.csv", retention_days=30)


def test_a_fifo_named_like_a_file_is_refused_without_blocking(area):
    (area / "data.csv").unlink()
    os.mkfifo(area / "data.csv")

    with pytest.raises(NotFound, match="not a regular file"):
        open_run_file(RUN, "data.csv", retention_days=30)


def test_a_symlinked_export_folder_is_refused(area, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (area.parent).rename(elsewhere)
    area.parent.symlink_to(elsewhere)

    with pytest.raises(RunMissing):
        open_run_file(RUN, "data.csv", retention_days=30)


def test_retention_counts_from_the_manifests_time(area):
    delivered = dt.datetime.fromtimestamp((area / "manifest.json").stat().st_mtime, dt.UTC)

    open_run_file(RUN, "data.csv", retention_days=2, now=delivered + dt.timedelta(days=2)).close()
    with pytest.raises(Expired, match="keeps downloads 2 days"):
        later = delivered + dt.timedelta(days=2, seconds=1)
        open_run_file(RUN, "data.csv", retention_days=2, now=later)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 0)),
        ("bytes=2-5", (2, 5)),
        ("bytes=2-", (2, 9)),
        ("bytes=5-100", (5, 9)),
        ("bytes=-3", (7, 9)),
        ("bytes=-100", (0, 9)),
        (" bytes = 1 - 2 ", (1, 2)),
    ],
)
def test_byte_ranges_of_a_ten_byte_file(header, expected):
    assert byte_range(header, 10) == expected


@pytest.mark.parametrize(
    "header", ["bytes=10-", "bytes=5-2", "bytes=-0", "bytes=-", "bytes=0-1,3-4", "lines=0-1", "x"]
)
def test_unsatisfiable_ranges_say_the_size(header):
    with pytest.raises(BadRange) as refused:
        byte_range(header, 10)
    assert refused.value.headers == {"Content-Range": "bytes */10"}


def test_an_empty_file_satisfies_no_range():
    with pytest.raises(BadRange):
        byte_range("bytes=0-", 0)
