"""Turn a definition's schedule words into what an Airflow DAG takes, and say if it is active.

Airflow is imported inside the functions that build Airflow objects, so the command line
can ask whether an export is active without paying for an Airflow import.

Statuses: active (scheduled or on refresh), off (on demand only), disabled (`enabled:
false`), detached (tagged `detached` by `ferry detach`: no connection is used until it is
re-attached) and expired (past `expires`). Disabled and detached exports are deactivated:
their DAG is paused and has no schedule, and the reason shows in its description and tags.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from ferry.spec.models import FIRST_DAY

PRESET_CRONS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
PRESET_WORDS = {"hourly": "@hourly", "daily": "@daily", "weekly": "@weekly", "monthly": "@monthly"}
START_DATE = FIRST_DAY
DETACHED_TAG = "detached"
DEACTIVATED = ("disabled", "detached")


def warehouse_asset(name: str, *, segment: bool = False):
    """The asset a refresh of a warehouse table or segment emits."""
    from airflow.sdk import Asset

    kind = "segment" if segment else "table"
    return Asset(name=f"ferry.{kind}.{name}", uri=f"ferry://warehouse/{kind}/{name}")


def export_asset(export_id: str):
    """The asset an export's finalize emits when a run has delivered."""
    from airflow.sdk import Asset

    return Asset(name=f"ferry.export.{export_id}", uri=f"ferry://export/{export_id}")


def normalize(schedule: str) -> str:
    """'daily' -> '@daily'; every other schedule word or cron as written."""
    return PRESET_WORDS.get(schedule.strip().lower(), schedule.strip())


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
    cron = _cron_of(schedule)
    if cron is None:
        return day_end.replace(tzinfo=zone)
    from croniter import croniter

    points = croniter(cron, day_end)  # naive local times: croniter is not DST-aware
    points.get_prev(dt.datetime)  # the last run within the day ends this interval
    return points.get_prev(dt.datetime).replace(tzinfo=zone)


def _cron_of(schedule: str) -> str | None:
    schedule = normalize(schedule)
    if schedule in PRESET_CRONS:
        return PRESET_CRONS[schedule]
    return schedule if len(schedule.split()) == 5 else None


def export_status(export, today: dt.date | None = None) -> str:
    """active, off, disabled, detached or expired: the first that applies, in that order.

    Args:
        export: An ExportSpec.
        today: The day to judge expiry by (default: today in the export's time zone).
    """
    if DETACHED_TAG in export.tags:
        return "detached"
    if not export.enabled:
        return "disabled"
    today = today or dt.datetime.now(ZoneInfo(export.timezone)).date()
    if export.expires is not None and export.expires < today:
        return "expired"
    return "off" if normalize(export.schedule) == "off" else "active"


def status_note(export_id: str, status: str, expires: dt.date | None) -> str:
    """Why an export does not run on schedule, in words for the Airflow UI ('' if it does)."""
    return {
        "disabled": f"inactive: enabled is false (ferry schedule {export_id} --on enables it)",
        "detached": f"inactive: detached (ferry detach --undo {export_id} re-attaches it)",
        "expired": f"expired on {expires} (no runs are scheduled after it)",
        "off": "schedule off (runs only on demand)",
    }.get(status, "")
