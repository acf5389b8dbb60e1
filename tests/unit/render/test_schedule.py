"""Schedules: the next runs Airflow computes from the timetables Ferry renders.

Times are checked in UTC, as the scheduler stores them, for schedules written in local
time: a daylight-saving change moves the UTC time and keeps the local one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pendulum
import pytest

from ferry.spec.loader import load_project
from ferry.spec.schedule import export_status

ROOT = Path(__file__).resolve().parents[3]
UTC = dt.UTC


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT / "include")


def export_like(project, **changes):
    """The demo export daily_lead_backup with some fields changed."""
    return project.exports["daily_lead_backup"].model_copy(update=changes)


def render(project, **changes):
    from ferry.render.dags import export_dag

    return export_dag(export_like(project, **changes), project)


def next_runs(dag, previous_run: dt.datetime | None, count: int = 3) -> list[dt.datetime]:
    """When the scheduler would start the next `count` runs after one at previous_run (UTC)."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    earliest = pendulum.instance(previous_run or dag.start_date)
    latest = pendulum.instance(dag.end_date) if dag.end_date else None
    restriction = TimeRestriction(earliest=earliest, latest=latest, catchup=True)
    runs, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last, restriction=restriction
        )
        if info is None:
            break
        runs.append(dt.datetime.fromtimestamp(info.run_after.timestamp(), UTC))
        last = info.data_interval
    return runs


def schedule_shown(dag) -> str:
    """The schedule as the Airflow UI shows it."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    return str(coerce_to_core_timetable(dag.timetable).summary)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def test_cron_in_a_time_zone_keeps_local_time_across_daylight_saving(project):
    # Berlin moves to summer time on 2026-03-29: 09:00 local is 08:00 UTC, then 07:00 UTC.
    dag = render(project, schedule="0 9 * * *", timezone="Europe/Berlin")

    runs = next_runs(dag, at(2026, 3, 27, 8))

    assert runs == [at(2026, 3, 28, 8), at(2026, 3, 29, 7), at(2026, 3, 30, 7)]


def test_cron_on_the_autumn_change_in_new_york(project):
    # New York returns to standard time on 2026-11-01: 06:30 local is 10:30, then 11:30 UTC.
    dag = render(project, schedule="30 6 * * 1-5", timezone="America/New_York")

    runs = next_runs(dag, at(2026, 10, 29, 10, 30))

    assert runs == [at(2026, 10, 30, 10, 30), at(2026, 11, 2, 11, 30), at(2026, 11, 3, 11, 30)]


def test_utc_is_the_default_time_zone(project):
    dag = render(project, schedule="0 2 * * *")

    assert next_runs(dag, at(2026, 5, 1), 2) == [at(2026, 5, 2, 2), at(2026, 5, 3, 2)]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("@hourly", [at(2026, 5, 1, 1), at(2026, 5, 1, 2)]),
        ("@daily", [at(2026, 5, 2), at(2026, 5, 3)]),
        ("@weekly", [at(2026, 5, 3), at(2026, 5, 10)]),  # Sundays: from 2026-04-26
        ("@monthly", [at(2026, 6, 1), at(2026, 7, 1)]),
    ],
)
def test_presets(project, schedule, expected):
    previous = {"@weekly": at(2026, 4, 26), "@monthly": at(2026, 5, 1)}.get(
        schedule, at(2026, 5, 1)
    )

    assert next_runs(render(project, schedule=schedule), previous, 2) == expected


def test_a_preset_follows_the_time_zone(project):
    dag = render(project, schedule="@daily", timezone="Asia/Tokyo")

    assert next_runs(dag, at(2026, 4, 30, 15), 1) == [at(2026, 5, 1, 15)]  # midnight in Tokyo


def test_once_runs_a_single_time(project):
    dag = render(project, schedule="once")

    assert next_runs(dag, None, 3) == [at(2026, 1, 1)]  # at the DAG's start date


def test_off_and_refresh(project):
    assert schedule_shown(render(project, schedule="off")) == "None"
    refresh = render(project, schedule="refresh")
    assert schedule_shown(refresh) == "Asset"
    assert [a.uri for a in refresh.timetable.asset_condition.objects] == [
        "ferry://warehouse/table/lead"
    ]


@pytest.mark.parametrize(
    ("schedule", "timezone", "last_runs"),
    [
        ("@daily", "UTC", [at(2026, 2, 28), at(2026, 3, 1)]),
        ("@hourly", "UTC", [at(2026, 3, 1, 22), at(2026, 3, 1, 23)]),
        # 18:00 in Los Angeles is 02:00 UTC the next day: the last run is on 2026-03-02 UTC.
        ("0 18 * * *", "America/Los_Angeles", [at(2026, 3, 1, 2), at(2026, 3, 2, 2)]),
        # words in a time zone: midnight in Kolkata is 18:30 UTC the day before
        ("daily", "Asia/Kolkata", [at(2026, 2, 27, 18, 30), at(2026, 2, 28, 18, 30)]),
        # Sunday 1 March 2026 is the expiry day: its 00:00 EST (05:00 UTC) is the last run
        ("weekly", "America/New_York", [at(2026, 2, 22, 5), at(2026, 3, 1, 5)]),
    ],
)
def test_an_expired_export_is_no_longer_scheduled(project, schedule, timezone, last_runs):
    dag = render(project, schedule=schedule, timezone=timezone, expires=dt.date(2026, 3, 1))
    previous = last_runs[0] - (last_runs[1] - last_runs[0])

    assert next_runs(dag, previous, 5) == last_runs, "runs through the expiry day"
    assert next_runs(dag, last_runs[-1], 1) == [], "next_dagrun_info is None after it"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"enabled": False}, "inactive: enabled is false"),
        ({"tags": ["detached"]}, "inactive: detached (ferry detach --undo daily_lead_backup"),
    ],
)
def test_a_deactivated_export_is_paused_unscheduled_and_says_why(project, changes, reason):
    dag = render(project, **changes)

    assert dag.is_paused_upon_creation is True
    assert schedule_shown(dag) == "None", "an already unpaused DAG must not run either"
    assert dag.description.startswith(f"[{reason}")
    assert {"inactive", export_status(export_like(project, **changes))} <= set(dag.tags)
    assert reason in dag.doc_md


def test_an_active_export_is_not_paused(project):
    dag = render(project)

    assert dag.is_paused_upon_creation is False
    assert "inactive" not in dag.tags
    assert dag.description.startswith("Daily lead backup")


# Every schedule word and its preset, in UTC, in New York across the spring change
# (2026-03-08: midnight local is 05:00 UTC before it, 04:00 UTC after) and in Kolkata
# (UTC+05:30, no daylight saving): the start of the previous run, then the next three.
# Worked out by hand from the calendar, not from the code under test.
WORD_RUNS = {
    ("hourly", "UTC"): (at(2026, 5, 1), [at(2026, 5, 1, 1), at(2026, 5, 1, 2), at(2026, 5, 1, 3)]),
    ("daily", "UTC"): (at(2026, 5, 1), [at(2026, 5, 2), at(2026, 5, 3), at(2026, 5, 4)]),
    ("weekly", "UTC"): (at(2026, 4, 26), [at(2026, 5, 3), at(2026, 5, 10), at(2026, 5, 17)]),
    ("monthly", "UTC"): (at(2026, 5, 1), [at(2026, 6, 1), at(2026, 7, 1), at(2026, 8, 1)]),
    ("hourly", "America/New_York"): (
        at(2026, 3, 8, 5),  # 00:00 EST; 02:00-03:00 local does not exist that night
        [at(2026, 3, 8, 6), at(2026, 3, 8, 7), at(2026, 3, 8, 8)],
    ),
    ("daily", "America/New_York"): (
        at(2026, 3, 6, 5),
        [at(2026, 3, 7, 5), at(2026, 3, 8, 5), at(2026, 3, 9, 4)],
    ),
    ("weekly", "America/New_York"): (
        at(2026, 3, 1, 5),  # Sunday 00:00 EST
        [at(2026, 3, 8, 5), at(2026, 3, 15, 4), at(2026, 3, 22, 4)],
    ),
    ("monthly", "America/New_York"): (
        at(2026, 2, 1, 5),
        [at(2026, 3, 1, 5), at(2026, 4, 1, 4), at(2026, 5, 1, 4)],
    ),
    ("hourly", "Asia/Kolkata"): (
        at(2026, 5, 1, 0, 30),
        [at(2026, 5, 1, 1, 30), at(2026, 5, 1, 2, 30), at(2026, 5, 1, 3, 30)],
    ),
    ("daily", "Asia/Kolkata"): (
        at(2026, 4, 30, 18, 30),  # 1 May 00:00 in Kolkata
        [at(2026, 5, 1, 18, 30), at(2026, 5, 2, 18, 30), at(2026, 5, 3, 18, 30)],
    ),
    ("weekly", "Asia/Kolkata"): (
        at(2026, 4, 25, 18, 30),  # Sunday 26 April 00:00 in Kolkata
        [at(2026, 5, 2, 18, 30), at(2026, 5, 9, 18, 30), at(2026, 5, 16, 18, 30)],
    ),
    ("monthly", "Asia/Kolkata"): (
        at(2026, 4, 30, 18, 30),
        [at(2026, 5, 31, 18, 30), at(2026, 6, 30, 18, 30), at(2026, 7, 31, 18, 30)],
    ),
}


@pytest.mark.parametrize(
    ("schedule", "timezone"),
    [(written, zone) for word, zone in WORD_RUNS for written in (word, f"@{word}")],
)
def test_every_schedule_word_and_preset_runs_when_its_name_says(project, schedule, timezone):
    previous, expected = WORD_RUNS[(schedule.lstrip("@"), timezone)]

    assert next_runs(render(project, schedule=schedule, timezone=timezone), previous) == expected


@pytest.mark.parametrize(
    ("schedule", "timezone", "previous", "expected"),
    [
        # weekdays at 06:30 in Kolkata (01:00 UTC), from Friday 1 May 2026
        ("30 6 * * 1-5", "Asia/Kolkata", at(2026, 5, 1, 1),
         [at(2026, 5, 4, 1), at(2026, 5, 5, 1), at(2026, 5, 6, 1)]),
        # Mondays at 09:00 in New York: 14:00 UTC in winter, 13:00 after 8 March
        ("0 9 * * 1", "America/New_York", at(2026, 3, 2, 14),
         [at(2026, 3, 9, 13), at(2026, 3, 16, 13), at(2026, 3, 23, 13)]),
        # the 1st and 15th at 23:45 UTC
        ("45 23 1,15 * *", "UTC", at(2026, 5, 1, 23, 45),
         [at(2026, 5, 15, 23, 45), at(2026, 6, 1, 23, 45), at(2026, 6, 15, 23, 45)]),
    ],
)  # fmt: skip
def test_crons_run_at_their_local_times(project, schedule, timezone, previous, expected):
    assert next_runs(render(project, schedule=schedule, timezone=timezone), previous) == expected
