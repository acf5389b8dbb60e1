"""Turn a definition's schedule words into what an Airflow DAG takes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from airflow.sdk import Asset, CronDataIntervalTimetable

PRESET_CRONS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
START_DATE = dt.date(2026, 1, 1)


def warehouse_asset(name: str, *, segment: bool = False) -> Asset:
    """The asset a refresh of a warehouse table or segment emits."""
    kind = "segment" if segment else "table"
    return Asset(name=f"ferry.{kind}.{name}", uri=f"ferry://warehouse/{kind}/{name}")


def export_asset(export_id: str) -> Asset:
    """The asset an export's finalize emits when a run has delivered."""
    return Asset(name=f"ferry.export.{export_id}", uri=f"ferry://export/{export_id}")


def dag_schedule(schedule: str, timezone: str, refresh_assets: list[Asset]):
    """The schedule argument for DAG(): assets, a timetable, '@once' or None.

    Crons and presets run on CronDataIntervalTimetable so each run has the interval since
    the previous one, which is the interval a `window` filter exports.
    """
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


def end_date(expires: dt.date | None, timezone: str) -> dt.datetime | None:
    """No run is scheduled after the expiry day ends in the schedule's time zone."""
    if expires is None:
        return None
    return dt.datetime.combine(expires, dt.time(23, 59, 59), tzinfo=ZoneInfo(timezone))
