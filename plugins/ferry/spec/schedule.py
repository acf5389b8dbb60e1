"""When an export or group runs: the schedule words, their checks, and an export's status.

The one vocabulary of schedules (presets, words, their crons) and the plain status logic,
with no Airflow: the loader checks definitions with it, the command line (ferry list, run,
schedule, detach) judges exports with it, and ferry.render.schedule builds Airflow's
schedule objects from it. A REST command must not pay for Airflow, nor write
~/airflow/airflow.cfg as a side effect.

Statuses: active (scheduled or on refresh), off (on demand only), disabled (`enabled:
false`), detached (tagged `detached` by `ferry detach`: no connection is used until it is
re-attached) and expired (past `expires`). Disabled and detached exports are deactivated:
their DAG is paused and has no schedule, and the reason shows in its description and tags.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from ferry.spec.errors import shorten

FIRST_DAY = dt.date(2026, 1, 1)  # every Ferry DAG's start_date (in its time zone)
LAST_DAY = dt.date(9998, 12, 31)  # later dates overflow once shifted to UTC or a next run
PRESET_CRONS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
SCHEDULE_PRESETS = ("refresh", "once", "off", *PRESET_CRONS)
SCHEDULE_WORDS = tuple(preset[1:] for preset in PRESET_CRONS)  # hourly: the same as @hourly
PRESET_WORDS = {word: f"@{word}" for word in SCHEDULE_WORDS}
DETACHED_TAG = "detached"
DEACTIVATED = ("disabled", "detached")
NOT_RUNNING_STATUSES = ("disabled", "detached", "expired")


def normalize(schedule: str) -> str:
    """'daily' -> '@daily'; every other schedule word or cron as written."""
    return PRESET_WORDS.get(schedule.strip().lower(), schedule.strip())


def cron_of(schedule: str) -> str | None:
    """The cron a preset or cron schedule fires on; None for refresh, once and off."""
    schedule = normalize(schedule)
    if schedule in PRESET_CRONS:
        return PRESET_CRONS[schedule]
    return schedule if len(schedule.split()) == 5 else None


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


_TIMEZONE_SCHEMA = {
    "type": "string", "minLength": 1, "maxLength": 64, "examples": ["UTC", "America/New_York"],
}  # fmt: skip
Timezone = Annotated[str, AfterValidator(check_timezone), WithJsonSchema(_TIMEZONE_SCHEMA)]


def _unquoted_off(value: Any) -> Any:
    """YAML reads an unquoted `off` as false; a schedule means the word."""
    return "off" if value is False else value


# What check_schedule reads: a word, a five-field cron, or YAML's false for an unquoted off
_SCHEDULE_SCHEMA = {
    "anyOf": [
        {"type": "string", "enum": [*SCHEDULE_PRESETS, *SCHEDULE_WORDS]},
        {"type": "string", "pattern": r"^\s*\S+(\s+\S+){4}\s*$", "examples": ["0 2 * * *"]},
        {"const": False},
    ]
}
Schedule = Annotated[
    str,
    BeforeValidator(_unquoted_off),
    AfterValidator(check_schedule),
    WithJsonSchema(_SCHEDULE_SCHEMA),
]


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
