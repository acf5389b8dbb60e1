"""The state store of changes-only exports: what is committed when, and what is kept."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from ferry import changes_state
from ferry.changes_state import Head, StateStore


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StateStore:
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERRY_STAGING", raising=False)
    return StateStore("lead_changes")


def extracted(store: StateStore, run: str, tmp_path: Path) -> Head:
    """What extract does: record the base, stage a new state (its bytes name the run)."""
    base = store.base_for(run)
    new = tmp_path / f"{run}.new"
    new.write_bytes(run.encode())
    store.stage(run, new)
    return base


def head_bytes(store: StateStore, tmp_path: Path) -> bytes | None:
    path = store.base_file(store.head(), tmp_path)
    return path.read_bytes() if path else None


def test_the_state_lives_beside_the_run_history(store, tmp_path):
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    folder = tmp_path / "home" / "changes" / "lead_changes"
    assert json.loads((folder / "head.json").read_text())["run"] == "run_1"
    assert not list(folder.rglob(".*"))  # no temporary file left behind


def test_nothing_is_committed_before_finalize_commits(store, tmp_path):
    extracted(store, "run_1", tmp_path)
    assert store.head() == Head()
    store.commit("run_1")
    assert head_bytes(store, tmp_path) == b"run_1"


def test_a_failed_run_leaves_the_head_so_the_next_diffs_against_the_same_base(store, tmp_path):
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    extracted(store, "run_2", tmp_path)  # its delivery fails: no commit
    assert extracted(store, "run_3", tmp_path).run == "run_1"


def test_a_rerun_diffs_against_its_first_base_and_an_older_one_keeps_the_head(store, tmp_path):
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    extracted(store, "run_2", tmp_path)
    store.commit("run_2")
    assert store.base_for("run_2").run == "run_1"  # a rerun: the same base as before
    extracted(store, "run_3", tmp_path)
    store.commit("run_3")
    extracted(store, "run_2", tmp_path)
    said = store.commit("run_2")
    assert "kept the head at run run_3" in said
    assert head_bytes(store, tmp_path) == b"run_3"
    assert store.base_file(store.base_for("run_2"), tmp_path).read_bytes() == b"run_1"


def test_a_committed_run_rerun_stays_the_head_with_its_new_state(store, tmp_path):
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    assert store.head().run == "run_1"
    assert store.commit("run_1").startswith("no pending state")  # finalize retried


def test_a_reset_holds_against_a_run_already_under_way(store, tmp_path):
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    extracted(store, "run_2", tmp_path)
    before, after = store.reset()
    assert (before.run, after) == ("run_1", Head(None, None, 1))
    store.commit("run_2")
    assert store.head().state is None  # the next run sends every row
    assert extracted(store, "run_3", tmp_path) == Head(None, None, 1)


def test_old_bases_and_states_nobody_needs_are_dropped(store, tmp_path, monkeypatch):
    monkeypatch.setattr(changes_state, "KEEP_BASES", 2)
    for number in range(1, 5):
        extracted(store, f"run_{number}", tmp_path)
        store.commit(f"run_{number}")
    root = tmp_path / "home" / "changes" / "lead_changes"
    assert sorted(p.name for p in (root / "bases").iterdir()) == ["run_3.json", "run_4.json"]
    kept = sorted(p.name.split(".")[0] for p in (root / "states").iterdir())
    assert kept == ["run_2", "run_3", "run_4"]  # the head and the kept runs' bases


def test_an_export_id_that_is_no_plain_name_is_refused(store):
    with pytest.raises(ValueError, match="cannot name an export's state"):
        StateStore("../other")


def paused_commit(store: StateStore, run: str, monkeypatch) -> tuple[threading.Thread, dict]:
    """store.commit(run) in a thread that stops right after reading head.json, until told."""
    read, release, said = threading.Event(), threading.Event(), {}
    real = store.files.read

    def read_then_wait(name: str) -> bytes | None:
        body = real(name)
        if name == changes_state.HEAD and not read.is_set():
            read.set()
            release.wait(10)
        return body

    monkeypatch.setattr(store.files, "read", read_then_wait)
    thread = threading.Thread(target=lambda: said.update(said=store.commit(run)))
    thread.start()
    assert read.wait(10)
    said["release"] = release
    return thread, said


def other_worker() -> StateStore:
    return StateStore("lead_changes")  # the same folder, its own objects


def test_two_runs_on_one_base_committing_at_once_move_the_head_once(store, tmp_path, monkeypatch):
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    extracted(store, "run_a", tmp_path)
    extracted(store, "run_b", tmp_path)  # both diffed against run_1
    thread_a, said_a = paused_commit(store, "run_a", monkeypatch)  # read head: run_1
    said_b: dict = {}
    thread_b = threading.Thread(target=lambda: said_b.update(said=other_worker().commit("run_b")))
    thread_b.start()
    thread_b.join(0.5)  # run_b's commit waits while run_a's holds head.json
    said_a["release"].set()
    thread_a.join(10)
    thread_b.join(10)
    assert "committed the state of run run_a" in said_a["said"]
    assert "kept the head at run run_a" in said_b["said"]  # run_b's changes are sent again
    assert head_bytes(store, tmp_path) == b"run_a"


def test_a_reset_during_a_commit_is_not_overwritten(store, tmp_path, monkeypatch):
    extracted(store, "run_1", tmp_path)
    store.commit("run_1")
    extracted(store, "run_2", tmp_path)
    thread, said = paused_commit(store, "run_2", monkeypatch)
    resetting = threading.Thread(target=other_worker().reset)
    resetting.start()
    resetting.join(0.5)
    said["release"].set()
    thread.join(10)
    resetting.join(10)
    assert store.head() == Head(None, None, 1)  # the next run sends every row


def test_a_state_being_committed_by_another_run_is_not_collected(store, tmp_path):
    extracted(store, "run_a", tmp_path)
    extracted(store, "run_b", tmp_path)
    store.files.copy("pending/run_b.parquet", "states/run_b.0123456789ab.parquet")  # its commit
    store.commit("run_a")  # collects while run_b has not moved the head yet
    states = tmp_path / "home" / "changes" / "lead_changes" / "states"
    assert "run_b.0123456789ab.parquet" in [path.name for path in states.iterdir()]
