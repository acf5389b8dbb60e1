"""RunInfo: a run's folder name and JobID.RunID, its reference time and template dates."""

from __future__ import annotations

import datetime as dt

import pytest

from ferry.run_info import GROUP_MARK, RunInfo, naive_utc
from ferry.safe_names import folder_name, run_id_of

from .engine.chosen_rows import machine_time_zone

SCHEDULED = "scheduled__2026-12-01T03:00:00+00:00"
MOMENT = dt.datetime(2026, 12, 1, 3, tzinfo=dt.UTC)


def test_an_exports_own_run_is_named_by_its_run_id():
    run = RunInfo("states", SCHEDULED)
    assert (
        run.safe_run_id == folder_name(SCHEDULED) == "scheduled__2026-12-01T03~3A00~3A00~2B00~3A00"
    )
    assert run_id_of(run.safe_run_id) == SCHEDULED
    assert run.job_run_id == f"states.{run.safe_run_id}"


def test_a_group_members_run_carries_the_group():
    member = RunInfo("states", SCHEDULED, group_id="nightly")
    assert member.safe_run_id == f"nightly{GROUP_MARK}{folder_name(SCHEDULED)}"
    assert member.job_run_id == "states.nightly+scheduled__2026-12-01T03~3A00~3A00~2B00~3A00"


def test_member_folder_names_never_meet_an_exports_own():
    tricky = ["", "+", "a+b", "nightly+x", "~2B", "x" * 300]
    own = {RunInfo("states", run_id).safe_run_id for run_id in tricky}
    members = {RunInfo("states", r, group_id=g).safe_run_id for r in tricky for g in ("a", "a+b")}
    assert not own & members and len(members) == 2 * len(tricky)
    assert all("+" not in folder_name(run_id) for run_id in tricky)


def test_now_is_the_interval_end_else_the_logical_date_else_run_after_in_naive_utc():
    later = dt.datetime(2026, 12, 2, 4, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert RunInfo("x", "r", data_interval_end=later, logical_date=MOMENT).now == dt.datetime(
        2026, 12, 2, 2, 30
    )
    assert RunInfo("x", "r", logical_date=MOMENT, run_after=later).now == dt.datetime(
        2026, 12, 1, 3
    )
    assert RunInfo("x", "r", run_after=later).now == dt.datetime(2026, 12, 2, 2, 30)


def test_without_any_time_now_is_the_clock_to_the_second():
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    now = RunInfo("x", "r").now
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert now.tzinfo is None and now.microsecond == 0
    assert before <= now <= after


def test_template_dates_come_from_the_logical_date():
    start = MOMENT - dt.timedelta(days=1)
    run = RunInfo("x", SCHEDULED, logical_date=MOMENT, data_interval_start=start,
                  data_interval_end=MOMENT)  # fmt: skip
    assert run.template_vars() == {
        "ds": "2026-12-01",
        "ds_nodash": "20261201",
        "ts": "2026-12-01T03:00:00+00:00",
        "ts_nodash": "20261201T030000",
        "run_id": SCHEDULED,
        "logical_date": MOMENT,
        "data_interval_start": start,
        "data_interval_end": MOMENT,
    }


@pytest.mark.parametrize(
    ("fields", "ds"),
    [
        ({"data_interval_start": dt.datetime(2026, 5, 6), "run_after": MOMENT}, "2026-05-06"),
        ({"run_after": MOMENT}, "2026-12-01"),
    ],
)
def test_a_manual_run_without_a_logical_date_still_has_template_dates(fields, ds):
    """Airflow leaves ds out of such a run's context; a template naming it must still work."""
    variables = RunInfo("x", "manual__1", **fields).template_vars()
    assert variables["ds"] == ds
    assert variables["ds_nodash"] == ds.replace("-", "")
    assert variables["logical_date"].strftime("%Y-%m-%d") == ds


def test_naive_utc():
    assert naive_utc(None) is None
    assert naive_utc(dt.datetime(2026, 1, 1, 12)) == dt.datetime(2026, 1, 1, 12)
    eastern = dt.timezone(dt.timedelta(hours=-5))
    assert naive_utc(dt.datetime(2026, 1, 1, 23, tzinfo=eastern)) == dt.datetime(2026, 1, 2, 4)


def test_a_run_is_a_value():
    run = RunInfo("x", "r", ids=("a", "b"))
    assert run == RunInfo("x", "r", ids=("a", "b"))
    assert hash(run) == hash(RunInfo("x", "r", ids=("a", "b")))
    with pytest.raises(AttributeError):
        run.run_id = "other"  # type: ignore[misc]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata"])
def test_a_runs_times_are_utc_on_a_machine_in_another_zone(zone):
    """Relative dates and the window count from now: never the machine's local time."""
    pacific = dt.timezone(dt.timedelta(hours=-8))
    end = dt.datetime(2026, 12, 1, 19, tzinfo=pacific)  # 03:00 UTC the next day
    with machine_time_zone(zone):
        clock = RunInfo("x", "r").now
        utc_clock = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        assert RunInfo("x", "r", data_interval_end=end).now == dt.datetime(2026, 12, 2, 3)
        assert naive_utc(end) == dt.datetime(2026, 12, 2, 3)
    assert abs(utc_clock - clock) < dt.timedelta(seconds=5)
