"""When a refresh is running: a run of a DAG that emits the asset, before its emitting task
ends, and not stale; and the markers a refresh outside Airflow holds.

A real Airflow run of a team's DAG holding an export back is in
tests/integration/test_refresh.py.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest

from ferry import refresh
from ferry.refresh import RunningRefresh
from ferry.staging import StagingConfigError

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_the_two_lines_name_the_assets_exports_are_scheduled_on():
    from ferry.render.schedule import warehouse_asset

    assets = refresh.refreshed("lead", "contact", segments=["vip"])

    assert [a.uri for a in assets] == [
        "ferry://warehouse/table/lead",
        "ferry://warehouse/table/contact",
        "ferry://warehouse/segment/vip",
    ]
    assert assets[2] == warehouse_asset("vip", segment=True)


def test_the_producers_of_a_name_are_the_dags_and_tasks_its_events_name():
    events = [
        ("team_refresh", "publish"),
        ("team_refresh", "publish"),
        ("team_refresh", "publish_again"),
        ("ferry_refresh", "publish"),
        (None, None),  # posted through the REST API: no run to wait for
        ("export__leads", "finalize"),  # the waiting export itself
    ]

    assert refresh.producers(events, own_dag_id="export__leads") == {
        "ferry_refresh": ("publish",),
        "team_refresh": ("publish", "publish_again"),
    }


def test_a_run_is_under_way_while_any_emitting_task_has_not_finished():
    states = {
        "done": {"publish": "success"},
        "failed_before": {"publish": "upstream_failed"},
        "not_reached": {"publish": None},
        "retrying": {"publish": "up_for_retry"},
        "mapped": {"publish_0": "success", "publish_1": "running"},
        "deferred": {"publish": "deferred", "other": "success"},
    }

    assert refresh.unfinished_runs(states) == ["deferred", "mapped", "not_reached", "retrying"]


@pytest.mark.parametrize(
    ("state", "age", "holds"),
    [
        ("running", dt.timedelta(minutes=5), True),
        ("running", refresh.STALE_AFTER - dt.timedelta(seconds=1), True),
        ("running", refresh.STALE_AFTER, False),  # stuck or paused for hours: stale
        ("queued", dt.timedelta(0), False),  # not started writing (a paused DAG's stay queued)
        ("success", dt.timedelta(minutes=5), False),
        ("failed", dt.timedelta(minutes=5), False),  # a crashed refresh, once Airflow failed it
    ],
)
def test_only_a_running_run_younger_than_stale_after_holds_exports(state, age, holds):
    assert refresh.counts(state, NOW - age, NOW) is holds


def test_a_run_without_a_start_does_not_hold_exports():
    assert refresh.counts("running", None, NOW) is False


def test_a_running_refresh_survives_the_trip_through_the_trigger():
    running = RunningRefresh("lead", "team_refresh", "manual__1", ("publish",), NOW)

    assert RunningRefresh.from_json(running.to_json()) == running
    assert running.stale_at == NOW + refresh.STALE_AFTER
    assert running.describe() == "lead (DAG team_refresh, run manual__1)"


# --- Markers, for a refresh outside Airflow ---------------------------------------------


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    return tmp_path


def test_markers_live_in_ferry_home(home):
    assert refresh.marker_dir() == home / "refresh"


def test_a_held_name_is_in_progress_until_released(home):
    refresh.hold(["lead", "vip"], holder="ferry_refresh manual__1")

    assert refresh.refreshes_in_progress(["lead", "contact", "vip"]) == ["lead", "vip"]
    assert (home / "refresh" / "lead.running").read_text() == "ferry_refresh manual__1"
    refresh.release(["lead"])
    assert refresh.refreshes_in_progress(["lead", "contact", "vip"]) == ["vip"]
    refresh.release(["vip", "never_held"])  # releasing twice or what was never held is fine
    assert refresh.refreshes_in_progress(["lead", "vip"]) == []


def test_a_marker_without_a_holder_names_the_process(home):
    refresh.hold(["lead"])
    assert (home / "refresh" / "lead.running").read_text() == f"pid {os.getpid()}"
    assert [p.name for p in (home / "refresh").iterdir()] == ["lead.running"]  # no temp left


def test_a_stale_marker_no_longer_blocks(home):
    refresh.hold(["lead", "contact"])
    stale = time.time() - refresh.STALE_AFTER.total_seconds() - 60
    os.utime(home / "refresh" / "lead.running", (stale, stale))

    assert refresh.refreshes_in_progress(["lead", "contact"]) == ["contact"]


def test_a_given_folder_is_read_instead_of_ferry_home(home, tmp_path, monkeypatch):
    refresh.hold(["lead"])
    seen_by_the_task = refresh.marker_dir()
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "elsewhere"))  # e.g. the triggerer

    assert refresh.refreshes_in_progress(["lead"]) == []
    assert refresh.refreshes_in_progress(["lead"], folder=seen_by_the_task) == ["lead"]
    assert refresh.refreshes_in_progress(["lead"], folder=str(seen_by_the_task)) == ["lead"]


def test_refreshing_releases_its_markers_even_when_the_block_fails():
    with refresh.refreshing(["lead"], holder="test"):
        assert refresh.refreshes_in_progress(["lead"]) == ["lead"]
    assert refresh.refreshes_in_progress(["lead"]) == []

    with pytest.raises(RuntimeError), refresh.refreshing(["lead"]):
        raise RuntimeError("the refresh broke")
    assert refresh.refreshes_in_progress(["lead"]) == []


def test_a_bad_ferry_staging_leaves_the_wait_to_check_eligibility_but_refuses_a_hold(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    monkeypatch.setenv("FERRY_STAGING", "gs://ferry-staging/runs")

    assert refresh.refreshes_in_progress(["lead"]) == []  # the run fails next, naming it
    with pytest.raises(StagingConfigError, match="the scheme 'gs' is not supported"):
        refresh.hold(["lead"])
