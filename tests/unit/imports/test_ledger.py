"""ledger: runs and files loaded, remembered in the run history."""

from __future__ import annotations

import sqlite3

from ferry.history import database_path
from ferry.imports import ledger
from ferry.imports.files import LocalFile


def _file(name="a.csv", size=3, sha="ab"):
    return LocalFile(path=None, name=name, size=size, sha256=sha)


def test_a_recorded_run_and_its_files_are_found_again(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    assert ledger.loaded_run("leads", "leads.r1") is None
    ledger.record_load("leads", "leads.r1", {"rows_read": 3}, [_file()])
    assert ledger.loaded_run("leads", "leads.r1") == {"rows_read": 3}
    assert ledger.loaded_run("other", "leads.r1") is None
    found = ledger.loaded_files("leads", [_file(), _file(sha="cd"), _file(size=4), _file("b")])
    assert found == {"a.csv"}
    assert ledger.loaded_files("other", [_file()]) == set()
    with sqlite3.connect(database_path()) as db:  # what an operator queries
        assert db.execute("SELECT import_id, name, run_key FROM import_files").fetchall() == [
            ("leads", "a.csv", "leads.r1")
        ]
