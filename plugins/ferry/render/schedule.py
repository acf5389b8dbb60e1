"""Turn a definition's schedule words into what an Airflow DAG takes: timetables, assets.

Airflow is imported inside the functions that build Airflow objects. The words and the
statuses themselves live in ferry.spec.schedule (no Airflow).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ferry.spec.schedule import FIRST_DAY, PRESET_CRONS, cron_of, normalize

START_DATE = FIRST_DAY


def warehouse_asset(name: str, *, segment: bool = False):
    """The asset a refresh of a warehouse table or segment emits."""
    from airflow.sdk import Asset

    kind = "segment" if segment else "table"
    return Asset(name=f"ferry.{kind}.{name}", uri=f"ferry://warehouse/{kind}/{name}")


def export_asset(export_id: str):
    """The asset an export's finalize emits when a run has delivered."""
    from airflow.sdk import Asset

    return Asset(name=f"ferry.export.{export_id}", uri=f"ferry://export/{export_id}")


def dag_schedule(schedule: str, timezone: str, refresh_assets: list):
    """The schedule argument for DAG(): assets, a timetable, '@once' or None.

    Crons and presets run on CronDataIntervalTimetable in the schedule's time zone, so
    '0 9 * * *' in Europe/Berlin stays 09:00 local across daylight-saving changes, and
    each run has the interval since the previous one, which a `window` filter exports.
    """
    from airflow.sdk import CronDataIntervalTimetable

    schedule = normalize(schedule)
    if schedule == "refresh":
        return refresh_assets or None
    if schedule == "off":
        return None
    if schedule == "once":
        return "@once"
    cron = PRESET_CRONS.get(schedule, schedule)
    return CronDataIntervalTimetable(cron, timezone=timezone)


def start_date(timezone: str) -> dt.datetime:
    return dt.datetime.combine(START_DATE, dt.time(), tzinfo=ZoneInfo(timezone))


def end_date(expires: dt.date | None, timezone: str, schedule: str = "off") -> dt.datetime | None:
    """The DAG's end_date, such that no run is scheduled after the expiry day ends.

    Airflow compares end_date with the start of a data interval, and a cron run starts
    when its interval ends; so for a cron the end is the start of the last interval that
    ends within the expiry day (local time), not the end of that day.
    """
    if expires is None:
        return None
    zone = ZoneInfo(timezone)
    day_end = dt.datetime.combine(expires, dt.time(23, 59, 59))
    cron = cron_of(schedule)
    if cron is None:
        return day_end.replace(tzinfo=zone)
    from croniter import croniter

    points = croniter(cron, day_end)  # naive local times: croniter is not DST-aware
    points.get_prev(dt.datetime)  # the last run within the day ends this interval
    return points.get_prev(dt.datetime).replace(tzinfo=zone)
