"""history_db: which database the history is in, and the SQL it owns for both."""

from __future__ import annotations

import threading
import time

import pytest
from tests.servers import airflow_connection

from ferry import history, history_db
from ferry.history_db import Column, HistoryConfigError, Table
from ferry.run_info import RunInfo

NOTES = Table("notes", (Column("id", "TEXT", required=True), Column("body", "TEXT")), key=("id",))


def test_without_a_connection_the_history_is_the_sqlite_file(history_backend):
    with history_db.connect(NOTES) as db:
        db.upsert(NOTES, {"id": "a", "body": "one"})
        db.upsert(NOTES, {"id": "a", "body": "two"})  # the same key: replaced

    assert history_backend.query("SELECT id, body FROM notes") == [("a", "two")]
    assert history_db.where().endswith("history.sqlite") or history_backend.name == "postgres"


def test_a_percent_sign_in_a_value_or_the_sql_text_is_kept(history_backend):
    with history_db.connect(NOTES) as db:
        db.insert(NOTES, {"id": "50%", "body": "?"})
        found = db.one("SELECT body FROM notes WHERE id = ? AND id LIKE '5%'", ["50%"])

    assert found == {"body": "?"}


def test_a_missing_connection_says_how_to_define_it(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    monkeypatch.setenv(history_db.ENV, "nowhere")

    with pytest.raises(HistoryConfigError, match="Airflow has no connection nowhere; define it"):
        history.list_runs()
    assert history_db.where() == f"the Postgres database of connection nowhere ({history_db.ENV})"


def test_a_connection_of_another_type_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    monkeypatch.setenv(history_db.ENV, "lake")
    monkeypatch.setenv(*airflow_connection("lake", conn_type="duckdb", host="/x.duckdb"))

    with pytest.raises(HistoryConfigError, match="has type duckdb; the run history needs a pos"):
        history.list_runs()
    assert not (tmp_path / "history.sqlite").exists()  # no silent fall back to this disk


def test_a_locked_look_and_write_is_not_interleaved_with_another_writer(history_backend):
    """record_run_unless: a writer that starts while the look-then-write holds the lock
    waits, so its record is written after (and kept over) the one that looked first."""
    run = RunInfo("leads", "r1")
    at = history.RunRecord.ended(run, "failed", "", started_at=None, finished_at=_now())
    history.record_run(at)  # the record the look finds
    looked = threading.Event()

    def slow_keep(found):
        looked.set()
        time.sleep(0.5)  # the other writer tries now
        return False

    other = threading.Thread(target=lambda: (looked.wait(5), history.record_run(_stopped(at))))
    other.start()
    assert history.record_run_unless(at, slow_keep)
    other.join(10)
    assert looked.is_set()

    assert history.get_run(at.job_run_id).outcome == "stopped"


def _stopped(record: history.RunRecord) -> history.RunRecord:
    import dataclasses

    return dataclasses.replace(record, outcome="stopped", reason="stopped by ana")


def _now():
    import datetime as dt

    return dt.datetime.now(dt.UTC)
