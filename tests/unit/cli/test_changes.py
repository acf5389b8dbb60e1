"""`ferry reset EXPORT`: a changes-only export's next run sends every row; it says what it did."""

from __future__ import annotations

import pytest

from cli_runner import run_ferry
from ferry import changes_lease
from ferry.changes_state import StateStore
from include_copy import copy_include

EXPORT = """\
id: lead_changes
name: Lead changes
source: {table: lead}
fields: [lead_id, state]
changes: true
destinations: [{type: download}]
"""


@pytest.fixture
def include(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "exports" / "lead_changes.yaml").write_text(EXPORT)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERRY_STAGING", raising=False)
    return include


def committed(store: StateStore, run: str, tmp_path) -> None:
    store.base_for(run)
    (tmp_path / "new").write_bytes(b"state")
    store.stage(run, tmp_path / "new")
    store.commit(run)


def test_reset_forgets_the_committed_state_and_says_which(include, tmp_path):
    store = StateStore("lead_changes")
    committed(store, "manual__1", tmp_path)

    result = run_ferry("reset", "lead_changes")

    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == [
        "reset export lead_changes: forgot the state of run manual__1",
        "  its next run sends every row, as added",
    ]
    assert store.head().state is None


def test_reset_before_any_delivery_says_there_was_nothing(include):
    result = run_ferry("reset", "lead_changes")
    assert result.out.startswith("export lead_changes had no delivered state")


def test_reset_of_an_unknown_export_names_it(include):
    result = run_ferry("reset", "lead_changez")
    assert result.code != 0 and "lead_changez" in result.err


def test_reset_lease_frees_a_stuck_lease_naming_its_run_and_keeps_the_state(include, tmp_path):
    store = StateStore("lead_changes")
    committed(store, "manual__1", tmp_path)
    held = changes_lease.take(store.files, "lead_changes", "manual__2", "lead_changes.manual__2")

    result = run_ferry("reset", "--lease", "lead_changes")

    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == [
        "freed the lease of export lead_changes held by run lead_changes.manual__2",
        f"  taken at {held.taken_at}, it would have expired at {held.expires_at}",
    ]
    assert changes_lease.holder(store.files, "lead_changes").run is None
    assert store.head().run == "manual__1"  # the state is kept
    changes_lease.take(store.files, "lead_changes", "manual__3", "lead_changes.manual__3")


def test_reset_lease_with_no_holder_says_so(include):
    result = run_ferry("reset", "--lease", "lead_changes")
    assert result.code == 0 and "no run held its lease" in result.out
