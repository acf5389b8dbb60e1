"""ledger: runs and files loaded, remembered in the run history."""

from __future__ import annotations

from ferry.imports import ledger
from ferry.imports.files import LocalFile


def _file(name="a.csv", size=3, sha="ab"):
    return LocalFile(path=None, name=name, size=size, sha256=sha)


def test_a_recorded_run_and_its_files_are_found_again(history_backend):
    assert ledger.loaded_run("leads", "leads.r1") is None
    ledger.record_load("leads", "leads.r1", {"rows_read": 3}, [_file()])
    assert ledger.loaded_run("leads", "leads.r1") == {"rows_read": 3}
    assert ledger.loaded_run("other", "leads.r1") is None
    found = ledger.loaded_files("leads", [_file(), _file(sha="cd"), _file(size=4), _file("b")])
    assert found == {"a.csv"}
    assert ledger.loaded_files("other", [_file()]) == set()
    rows = history_backend.query("SELECT import_id, name, run_key FROM import_files")
    assert rows == [("leads", "a.csv", "leads.r1")]  # what an operator queries


def test_a_second_load_of_a_run_replaces_its_result_and_keeps_one_row_per_file(history_backend):
    ledger.record_load("leads", "leads.r1", {"rows_read": 3}, [_file()])
    ledger.record_load("leads", "leads.r1", {"rows_read": 4}, [_file(), _file("b")])

    assert ledger.loaded_run("leads", "leads.r1") == {"rows_read": 4}
    rows = history_backend.query("SELECT name FROM import_files ORDER BY name")
    assert rows == [("a.csv",), ("b",)]
