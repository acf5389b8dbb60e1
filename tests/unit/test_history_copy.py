"""`ferry history --copy-from FILE`: one machine's history.sqlite copied into the history in
use (SQLite here; tests/integration/history re-runs these on a real Postgres)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ferry import history, history_copy, history_db, history_downloads
from ferry.cli import main as ferry
from ferry.history_downloads import DownloadRecord
from ferry.imports import ledger
from ferry.imports.files import LocalFile
from ferry.run_info import RunInfo
from unit.cli.test_past_runs import table

AT = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
TABLES = ["runs", "downloads", "import_runs", "import_files"]


def run_record(export_id: str, minute: int, outcome: str = "success", **fields):
    finished = AT + dt.timedelta(minutes=minute)
    run = RunInfo(export_id, f"manual__{finished.isoformat()}", triggered_by="ana (cli)")
    done = history.RunRecord.ended(run, outcome, "", started_at=AT, finished_at=finished)
    return dataclasses.replace(done, **fields)


def download(job_run_id: str, second: int) -> DownloadRecord:
    return DownloadRecord(
        at=(AT + dt.timedelta(seconds=second)).isoformat(), username="ana",
        job_run_id=job_run_id, export_id=job_run_id.split(".")[0], file="part_0001.csv",
        bytes=10, range="", status=200,
    )  # fmt: skip


LAPTOP_RUNS = [
    run_record("orders", 1, rows=12, files=1, group_run_id="nightly.r1"),
    run_record("orders", 2, "failed", reason="warehouse down"),
    run_record("partner_leads", 3, kind="import", inserted=10, updated=10),
]
# the same file fetched twice in one second: two rows, both kept
LAPTOP_DOWNLOADS = [download(LAPTOP_RUNS[0].job_run_id, s) for s in (0, 0, 5)]
LEDGER_FILES = [LocalFile(path=None, name="leads.csv", size=3, sha256="ab"),
                LocalFile(path=None, name="more.csv", size=4, sha256="cd")]  # fmt: skip


@pytest.fixture
def laptop(history_backend, tmp_path, monkeypatch) -> Path:
    """The history.sqlite of one machine, written by Ferry's own writers there."""
    home = tmp_path / "laptop"
    with monkeypatch.context() as there:
        there.setenv("FERRY_HOME", str(home))
        there.delenv("FERRY_HISTORY_CONN", raising=False)
        for record in LAPTOP_RUNS:
            history.record_run(record)
        for record in LAPTOP_DOWNLOADS:
            history_downloads.record_download(record)
        ledger.record_load("partner_leads", "partner_leads.r1", {"rows_read": 20}, LEDGER_FILES)
    return home / "history.sqlite"


def copy(path: Path, capsys) -> dict[str, list[int]]:
    assert ferry(["history", "--copy-from", str(path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"Copied {path} into ")
    rows = table(printed.split("\n", 1)[1])
    return {r["TABLE"]: [int(r["IN FILE"]), int(r["COPIED"]), int(r["ALREADY THERE"])]
            for r in rows}  # fmt: skip


def test_a_machines_history_is_copied_once_and_read_back_alike(laptop, capsys):
    first = copy(laptop, capsys)
    again = copy(laptop, capsys)

    assert first == {"runs": [3, 3, 0], "downloads": [3, 3, 0], "import_runs": [1, 1, 0],
                     "import_files": [2, 2, 0]}  # fmt: skip
    assert again == {name: [found, 0, found] for name, (found, _, _) in first.items()}
    assert history.list_runs() == sorted(LAPTOP_RUNS, key=lambda r: r.finished_at, reverse=True)
    assert sorted(history_downloads.list_downloads(), key=lambda d: d.at) == LAPTOP_DOWNLOADS
    assert ledger.loaded_run("partner_leads", "partner_leads.r1") == {"rows_read": 20}
    assert ledger.loaded_files("partner_leads", LEDGER_FILES) == {"leads.csv", "more.csv"}


def test_rows_already_in_the_history_win(laptop, capsys):
    mine = dataclasses.replace(LAPTOP_RUNS[0], outcome="stopped", reason="kept: mine")
    history.record_run(mine)
    history_downloads.record_download(LAPTOP_DOWNLOADS[0])  # one of the two alike
    ledger.record_load("partner_leads", "partner_leads.r1", {"rows_read": 99}, LEDGER_FILES[:1])

    copied = copy(laptop, capsys)

    assert copied["runs"] == [3, 2, 1] and copied["downloads"] == [3, 2, 1]
    assert copied["import_runs"] == [1, 0, 1] and copied["import_files"] == [2, 1, 1]
    assert history.get_run(mine.job_run_id) == mine
    assert len(history_downloads.list_downloads()) == 3
    assert ledger.loaded_run("partner_leads", "partner_leads.r1") == {"rows_read": 99}


def test_a_file_of_an_older_release_copies_what_it_has(history_backend, tmp_path, capsys):
    old = tmp_path / "old" / "history.sqlite"
    old.parent.mkdir()
    with closing(sqlite3.connect(old)) as db, db:
        db.execute(
            "CREATE TABLE runs (job_run_id TEXT PRIMARY KEY, export_id TEXT NOT NULL, run_id "
            "TEXT NOT NULL, triggered_by TEXT, started_at TEXT, finished_at TEXT, duration_s "
            "REAL, outcome TEXT NOT NULL, reason TEXT, rows INTEGER, files INTEGER, bytes "
            "INTEGER, destinations TEXT, staged_files TEXT)"
        )
        db.execute(
            "INSERT INTO runs VALUES ('orders.r1', 'orders', 'r1', 'cron', NULL, "
            "'2025-01-02T00:00:00+00:00', 1.5, 'success', '', 7, 1, 70, '[]', '[]')"
        )

    assert copy(old, capsys)["runs"] == [1, 1, 0]

    found = history.get_run("orders.r1")
    assert (found.kind, found.group_run_id, found.rows, found.inserted) == ("export", "", 7, 0)


def test_what_cannot_be_copied_is_said_and_nothing_is(history_backend, tmp_path, capsys):
    with pytest.raises(history_copy.HistoryCopyError, match="no such file"):
        history_copy.copy_history(tmp_path / "missing.sqlite")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database, " * 100)
    with pytest.raises(history_copy.HistoryCopyError, match="is not a SQLite history file"):
        history_copy.copy_history(garbage)
    other = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(other)) as db, db:
        db.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(history_copy.HistoryCopyError, match="holds no Ferry history"):
        history_copy.copy_history(other)

    assert ferry(["history", "--copy-from", str(other)]) == 2
    assert "holds no Ferry history" in capsys.readouterr().err
    assert history.list_runs() == []


def test_the_history_in_use_is_not_copied_into_itself(history_backend):
    if history_backend.name != "sqlite":
        pytest.skip("with Postgres in use, $FERRY_HOME/history.sqlite is another history")
    history.record_run(LAPTOP_RUNS[0])
    with pytest.raises(history_copy.HistoryCopyError, match="is the history in use"):
        history_copy.copy_history(history_db.sqlite_path())
    assert history.list_runs() == [LAPTOP_RUNS[0]]


def test_a_value_the_target_refuses_copies_nothing(history_backend, laptop, capsys):
    if history_backend.name != "postgres":
        pytest.skip("SQLite keeps any value in any column: only Postgres refuses one")
    with closing(sqlite3.connect(laptop)) as db, db:
        db.execute("UPDATE runs SET rows = 'many' WHERE export_id = 'partner_leads'")

    with pytest.raises(history_copy.HistoryCopyError, match="a row of table runs does not fit"):
        history_copy.copy_history(laptop)

    assert history.list_runs() == [] and history_downloads.list_downloads() == []
