"""The lease of a changes-only export: one run at a time, across DAGs and workers."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from pathlib import Path

import pytest

from ferry import changes_lease
from ferry.changes_lease import LEASE, LeaseHeld
from ferry.changes_state import StateStore
from ferry.exceptions import kind_of

EXPORT = "lead_changes"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StateStore:
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERRY_STAGING", raising=False)
    monkeypatch.delenv(changes_lease.HOURS_VARIABLE, raising=False)
    return StateStore(EXPORT)


def take(store: StateStore, run: str) -> changes_lease.Lease:
    return changes_lease.take(store.files, EXPORT, run, f"{EXPORT}.{run}")


def lease_file(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "home" / "changes" / EXPORT / LEASE).read_text())


def test_a_lease_names_its_run_and_when_it_ends(store, tmp_path):
    lease = take(store, "run_a")
    written = lease_file(tmp_path)
    assert written["run"] == "run_a" and written["job_run_id"] == f"{EXPORT}.run_a"
    hours = (_time(written["expires_at"]) - _time(written["taken_at"])).total_seconds() / 3600
    assert hours == pytest.approx(changes_lease.DEFAULT_HOURS)
    assert changes_lease.holder(store.files, EXPORT) == lease


def test_another_run_is_refused_transiently_naming_the_holder_and_the_way_out(store, tmp_path):
    held = take(store, "run_a")
    with pytest.raises(LeaseHeld) as refused:
        take(store, "run_b")
    said = str(refused.value)
    assert kind_of(refused.value) == "transient"  # Airflow retries it with backoff
    assert f"being run by {EXPORT}.run_a" in said
    assert f"Run {EXPORT}.run_b waits (Airflow retries it with backoff)" in said
    assert f"expires at {held.expires_at}" in said
    assert f"run `ferry reset --lease {EXPORT}`" in said
    assert f"delete {tmp_path / 'home' / 'changes' / EXPORT / LEASE}" in said
    assert lease_file(tmp_path)["run"] == "run_a"  # the refusal changed nothing


def test_the_same_run_takes_its_own_lease_again(store, tmp_path):
    take(store, "run_a")
    assert take(store, "run_a").run == "run_a"  # a retry of extract, or a rerun of the run


def test_a_released_lease_is_taken_by_the_next_run(store, tmp_path):
    take(store, "run_a")
    assert changes_lease.release(store.files, EXPORT, "run_a")
    assert lease_file(tmp_path)["run"] is None
    assert take(store, "run_b").run == "run_b"


def test_a_run_releases_only_its_own_lease(store, tmp_path):
    take(store, "run_a")
    assert not changes_lease.release(store.files, EXPORT, "run_b")  # a refused run's failure
    assert lease_file(tmp_path)["run"] == "run_a"
    assert not changes_lease.release(StateStore("other").files, "other", "run_a")


def test_a_crashed_holders_lease_expires_and_is_taken_over_with_a_warning(
    store, tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv(changes_lease.HOURS_VARIABLE, str(0.3 / 3600))  # 0.3 seconds
    take(store, "run_a")  # its worker dies: nothing releases it
    with pytest.raises(LeaseHeld):
        take(store, "run_b")
    time.sleep(0.4)
    with caplog.at_level(logging.WARNING, logger="ferry.changes"):
        assert take(store, "run_b").run == "run_b"
    assert f"run {EXPORT}.run_a held it until" in caplog.text
    assert f"taken over by run {EXPORT}.run_b" in caplog.text


@pytest.mark.parametrize("hours", ["0", "-1", "six", "1e9"])
def test_a_lease_length_that_is_not_hours_is_refused_naming_the_variable(store, monkeypatch, hours):
    monkeypatch.setenv(changes_lease.HOURS_VARIABLE, hours)
    with pytest.raises(ValueError, match=f"{changes_lease.HOURS_VARIABLE}='{hours}'"):
        take(store, "run_a")


def test_of_runs_racing_for_the_lease_exactly_one_wins(store):
    won: list[str] = []
    start = threading.Barrier(6)

    def race(run: str) -> None:
        start.wait()
        try:
            take(StateStore(EXPORT), run)  # a worker of its own
            won.append(run)
        except LeaseHeld:
            pass

    threads = [threading.Thread(target=race, args=(f"run_{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert changes_lease.holder(store.files, EXPORT).run == won[0]


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def test_a_renewal_pushes_the_end_back_only_for_the_holder(store, tmp_path):
    take(store, "run_a")
    before = lease_file(tmp_path)["expires_at"]
    assert not changes_lease.renew(store.files, EXPORT, "run_b")  # not its lease
    assert lease_file(tmp_path)["expires_at"] == before
    assert changes_lease.renew(store.files, EXPORT, "run_a")
    after = lease_file(tmp_path)
    assert _time(after["expires_at"]) > _time(before) and after["run"] == "run_a"


def test_free_releases_any_holders_lease_and_returns_it(store, tmp_path):
    held = take(store, "run_a")
    assert changes_lease.free(store.files, EXPORT, by="ferry reset --lease") == held
    assert lease_file(tmp_path)["released_by"] == "ferry reset --lease"
    assert changes_lease.free(store.files, EXPORT, by="ferry reset --lease") is None
    take(store, "run_b")
