"""When an export or group runs: schedules, expiry dates and time zones Airflow accepts."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from ferry.spec.errors import shorten

FIRST_DAY = dt.date(2026, 1, 1)  # every Ferry DAG's start_date (in its time zone)
LAST_DAY = dt.date(9998, 12, 31)  # later dates overflow once shifted to UTC or a next run
SCHEDULE_PRESETS = ("refresh", "once", "off", "@hourly", "@daily", "@weekly", "@monthly")
SCHEDULE_WORDS = ("hourly", "daily", "weekly", "monthly")  # the same as the @ forms


def check_schedule(value: str) -> str:
    """Accept the presets and five-field crons; anything else gets the list of choices."""
    from croniter import croniter

    if value in SCHEDULE_PRESETS or value in SCHEDULE_WORDS:
        return value
    if len(value.split()) == 5 and croniter.is_valid(value):
        _fires(value)
        return value
    raise ValueError(
        f"{shorten(value)} is not a schedule; use refresh, once, off, hourly, daily, weekly, "
        "monthly (or @daily ...) or a five-field cron such as '0 2 * * *'"
    )


def _fires(cron: str) -> None:
    """A cron such as '0 0 31 2 *' (31 February) is valid syntax but never runs."""
    from croniter import CroniterBadDateError, croniter

    try:
        croniter(cron, dt.datetime.combine(FIRST_DAY, dt.time())).get_next(dt.datetime)
    except CroniterBadDateError:
        raise ValueError(f"{shorten(cron)} never runs: no such day") from None


def check_expires(value: dt.date | None) -> dt.date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(
            f"expires {value} is outside {FIRST_DAY} to {LAST_DAY}: "
            "Ferry schedules nothing before its first day; remove expires or set enabled: false"
        )
    return value


Expires = Annotated[dt.date | None, AfterValidator(check_expires)]


def check_timezone(value: str) -> str:
    """An IANA name ZoneInfo knows (a long name raises OSError there, not ValueError)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if len(value) > 64:
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {shorten(value)}; use an IANA name such as UTC or America/New_York"
        ) from None
    return value


Timezone = Annotated[str, AfterValidator(check_timezone)]


def _unquoted_off(value: Any) -> Any:
    """YAML reads an unquoted `off` as false; a schedule means the word."""
    return "off" if value is False else value


Schedule = Annotated[str, BeforeValidator(_unquoted_off), AfterValidator(check_schedule)]
