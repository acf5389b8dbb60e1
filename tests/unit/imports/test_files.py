"""Finding an import's files in a drop folder by pattern and date, fetching and filing them."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from ferry.exceptions import kind_of
from ferry.imports import files
from ferry.run_info import RunInfo
from ferry.spec.imports import ImportSpec

DAY = RunInfo(
    "partner", "scheduled__2026-03-04", logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
)


def spec(pattern: str = "leads_{{ ds_nodash }}*.csv", **source) -> ImportSpec:
    return ImportSpec.model_validate(
        {
            "id": "partner",
            "name": "Partner",
            "source": {"type": "folder", "path": "partner", "pattern": pattern, **source},
            "table": "lead",
            "mode": "append",
        }
    )


@pytest.fixture
def drop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "drop"))
    folder = tmp_path / "drop" / "partner"
    folder.mkdir(parents=True)
    return folder


def put(folder: Path, name: str, data: bytes = b"id\n1\n", age: int = 0) -> Path:
    path = folder / name
    path.write_bytes(data)
    moment = 1_700_000_000 - age
    os.utime(path, (moment, moment))
    return path


def test_the_pattern_takes_the_runs_date_and_all_matches_in_name_order(drop):
    for name in ["leads_20260304_b.csv", "leads_20260304_a.csv", "leads_20260303.csv", "x.csv"]:
        put(drop, name)
    (drop / "leads_20260304_dir.csv").mkdir()  # a folder is no file
    found = files.find(spec(), DAY.template_vars())
    assert [f.name for f in found] == ["leads_20260304_a.csv", "leads_20260304_b.csv"]


def test_files_one_takes_the_newest_match(drop):
    put(drop, "leads_20260304_new.csv", age=0)
    put(drop, "leads_20260304_old.csv", age=3600)
    found = files.find(spec(files="one"), DAY.template_vars())
    assert [f.name for f in found] == ["leads_20260304_new.csv"]


def test_nothing_dropped_yet_is_no_files_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "drop"))
    (tmp_path / "drop").mkdir()  # the import's own folder is not there yet
    assert files.find(spec(), DAY.template_vars()) == []


def test_one_machine_without_a_drop_folder_yet_waits(tmp_path, monkeypatch):
    monkeypatch.delenv("FERRY_DROP", raising=False)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERRY_STAGING", raising=False)
    assert files.find(spec(), DAY.template_vars()) == []


def test_a_drop_folder_missing_on_this_worker_is_refused_with_host_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "mnt" / "drop"))  # not mounted here

    with pytest.raises(files.DropFolderMissing) as raised:
        files.find(spec(), DAY.template_vars())

    message = str(raised.value)
    assert f"the drop folder {tmp_path / 'mnt' / 'drop'} (FERRY_DROP) does not exist" in message
    assert f"on worker host {socket.gethostname()!r}" in message
    assert "shared volume" in message and "sftp or s3" in message
    assert kind_of(raised.value) == "terminal"


def test_no_drop_folder_named_while_staging_is_on_s3_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv("FERRY_DROP", raising=False)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "drop" / "partner").mkdir(parents=True)  # this worker's own
    monkeypatch.setenv("FERRY_STAGING", "s3://aws_default@ferry-staging/runs")

    with pytest.raises(files.DropFolderMissing, match="FERRY_DROP is unset while FERRY_STAGING"):
        files.find(spec(), DAY.template_vars())


def test_fetch_delivers_identical_bytes_with_their_sha256(drop, tmp_path):
    data = os.urandom(300_000)
    put(drop, "leads_20260304.csv", data)
    found = files.find(spec(), DAY.template_vars())
    [local] = files.fetch(spec(), found, tmp_path / "run")
    assert local.path.read_bytes() == data
    assert (local.name, local.size) == ("leads_20260304.csv", len(data))
    assert local.sha256 == hashlib.sha256(data).hexdigest()


def test_fetch_of_nothing_is_a_terminal_error(tmp_path):
    with pytest.raises(files.NoFiles, match="no file to fetch"):
        files.fetch(spec(), [], tmp_path)


def test_finish_moves_loaded_files_to_the_done_folder(drop):
    put(drop, "leads_20260304.csv")
    found = files.find(spec(done_folder="done"), DAY.template_vars())
    [moved] = files.finish(spec(done_folder="done"), found).moved
    assert Path(moved) == (drop / "done" / "leads_20260304.csv").resolve()
    assert not (drop / "leads_20260304.csv").exists()
    assert files.find(spec(done_folder="done"), DAY.template_vars()) == []
    assert files.finish(spec(), found) == files.Finished([], [])  # no done_folder: they stay


def test_finish_leaves_a_file_replaced_or_gone_since_it_was_listed(drop):
    for name in ["leads_20260304_a.csv", "leads_20260304_b.csv", "leads_20260304_c.csv"]:
        put(drop, name, b"id\n1\n")
    listed = files.find(spec(), DAY.template_vars())
    put(drop, "leads_20260304_a.csv", b"id\n2\n", age=-5)  # same size, uploaded again later
    (drop / "leads_20260304_c.csv").unlink()
    finished = files.finish(spec(done_folder="done"), listed)
    assert [Path(p).name for p in finished.moved] == ["leads_20260304_b.csv"]
    assert (drop / "leads_20260304_a.csv").read_bytes() == b"id\n2\n"  # stays, unloaded
    assert not (drop / "done" / "leads_20260304_a.csv").exists()
    replaced, gone = finished.left
    assert "leads_20260304_a.csv changed since it was loaded" in replaced
    assert "left for the next run" in replaced
    assert "leads_20260304_c.csv is gone" in gone


def test_uploads_in_progress_are_never_listed(drop):
    for name in ["leads_20260304.csv", ".leads_20260304.csv", "leads_20260304.csv.part",
                 "leads_20260304.csv.filepart", "leads_20260304.csv.TMP"]:  # fmt: skip
        put(drop, name)
    found = files.find(spec("leads_{{ ds_nodash }}*"), DAY.template_vars())
    assert [f.name for f in found] == ["leads_20260304.csv"]


def test_a_file_still_growing_has_not_arrived_until_two_looks_agree(drop):
    path = put(drop, "leads_20260304.csv", b"id\n")
    writing = threading.Event()

    def write() -> None:  # an upload that goes on for a while
        with path.open("ab") as handle:
            writing.set()
            for row in range(20):
                handle.write(b"%d\n" % row)
                handle.flush()
                time.sleep(0.02)

    writer = threading.Thread(target=write)
    writer.start()
    writing.wait()
    assert files.find(spec(), DAY.template_vars())  # one look sees it ...
    assert files.find_settled(spec(), DAY.template_vars(), settle=0.1) == []  # ... not whole
    writer.join()
    [whole] = files.find_settled(spec(), DAY.template_vars(), settle=0.1)
    assert whole.size == path.stat().st_size == 3 + sum(len(b"%d\n" % r) for r in range(20))


def test_a_file_that_grew_after_the_listing_is_fetched_again_later(drop, tmp_path):
    path = put(drop, "leads_20260304.csv", b"id\n1\n")
    listed = files.find(spec(), DAY.template_vars())
    with path.open("ab") as handle:
        handle.write(b"2\n")  # still being written
    with pytest.raises(files.FileNotWhole) as growing:
        files.fetch(spec(), listed, tmp_path / "run")
    assert kind_of(growing.value) == "transient"  # retried with backoff, not failed
    assert "had 5 bytes when listed and 7 when fetched: it is still being written" in str(
        growing.value
    )
    [local] = files.fetch(spec(), files.find(spec(), DAY.template_vars()), tmp_path / "run")
    assert local.size == 7


def test_a_symlink_out_of_the_drop_folder_is_never_read(drop, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("password\n")
    (drop / "leads_20260304.csv").symlink_to(secret)
    assert files.find(spec(), DAY.template_vars()) == []


def test_a_drop_folder_linked_outside_the_root_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_DROP", str(tmp_path / "drop"))
    (tmp_path / "drop").mkdir()
    (tmp_path / "elsewhere").mkdir()
    put(tmp_path / "elsewhere", "leads_20260304.csv")
    (tmp_path / "drop" / "partner").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(files.FilesRefused, match="outside the drop folder"):
        files.find(spec(), DAY.template_vars())


def test_a_forged_remote_file_outside_the_root_is_not_copied(drop, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("password\n")
    forged = files.RemoteFile("leads.csv", str(secret), 9, 0.0)
    with pytest.raises(files.FilesRefused, match="outside the drop folder"):
        files.fetch(spec(), [forged], tmp_path / "run")
    forged = files.RemoteFile("../leads.csv", str(drop / "x"), 9, 0.0)
    with pytest.raises(files.FilesRefused, match="not a plain file name"):
        files.fetch(spec(), [forged], tmp_path / "run")


def test_a_hostile_pattern_is_refused_at_run_time_too():
    # a definition the loader would refuse, checked again where it renders
    hostile = spec().model_copy(
        update={"source": spec().source.model_copy(update={"pattern": "{{ run_id }}"})}
    )
    with pytest.raises(files.FilesRefused, match="pattern refused"):
        files.file_pattern(hostile, DAY.template_vars())
    assert files.file_pattern(spec(), DAY.template_vars()) == "leads_20260304*.csv"


def test_a_pattern_with_a_date_format_renders_for_the_run():
    dated = spec("sales_{{ logical_date.strftime('%Y_%m') }}_{{ macros.ds_add(ds, -1) }}.csv")
    assert files.file_pattern(dated, DAY.template_vars()) == "sales_2026_03_2026-03-03.csv"
