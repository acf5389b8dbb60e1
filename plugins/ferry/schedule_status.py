"""Schedule words and export statuses, without Airflow.

The command line (ferry list, run, run-all, schedule) judges exports with these; the
renderer (ferry.render.schedule) builds Airflow's schedule objects from the same words.
Nothing here may import Airflow: a REST command must not pay for it or write
~/airflow/airflow.cfg as a side effect.

Statuses: active (scheduled or on refresh), off (on demand only), disabled (`enabled:
false`), detached (tagged `detached` by `ferry detach`: no connection is used until it is
re-attached) and expired (past `expires`). Disabled and detached exports are deactivated:
their DAG is paused and has no schedule, and the reason shows in its description and tags.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PRESET_CRONS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
PRESET_WORDS = {"hourly": "@hourly", "daily": "@daily", "weekly": "@weekly", "monthly": "@monthly"}
DETACHED_TAG = "detached"
DEACTIVATED = ("disabled", "detached")
NOT_RUNNING_STATUSES = ("disabled", "detached", "expired")


def normalize(schedule: str) -> str:
    """'daily' -> '@daily'; every other schedule word or cron as written."""
    return PRESET_WORDS.get(schedule.strip().lower(), schedule.strip())


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
