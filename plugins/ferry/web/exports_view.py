"""The rows of the Exports list: an export's definition, Airflow's view of its DAG, its
last run and when its data last refreshed, in the JSON shape the page and the CLI read;
and an import's row (its table, mode, status and last run).

Plain functions of what was looked up (no Airflow), so the shape is tested on its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ferry.history import RunRecord
from ferry.spec.models import ExportSpec, ImportSpec
from ferry.spec.schedule import cron_of, export_status, normalize, status_note
from ferry.web.airflow_state import Deployed

NO_CONNECTION = "No connection"
SCHEDULE_WORDS = {
    "refresh": "after every refresh",
    "once": "once",
    "off": "off (on demand)",
    "@hourly": "hourly",
    "@daily": "daily at 00:00",
    "@weekly": "weekly on Sunday at 00:00",
    "@monthly": "monthly on the 1st at 00:00",
}
DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass(frozen=True)
class AirflowView:
    """What Airflow says of the exports' DAGs (missing: not deployed)."""

    dags: dict[str, Deployed] = field(default_factory=dict)
    running: dict[str, list[str]] = field(default_factory=dict)
    refreshed: dict[str, dt.datetime] = field(default_factory=dict)  # by asset URI


def connections_of(export: ExportSpec, source_connection: str | None) -> list[str]:
    """The Airflow connections the export uses: its source's, then each destination's."""
    if export_status(export) == "detached":
        return [NO_CONNECTION]
    found = [source_connection] if source_connection else []
    for destination in export.destinations:
        for name in ("connection", "signing_connection"):
            if getattr(destination, name, None):
                found.append(getattr(destination, name))
    return list(dict.fromkeys(found)) or [NO_CONNECTION]


def schedule_text(export: ExportSpec | ImportSpec) -> str:
    """The schedule in words: 'after every refresh', 'daily at 02:00 (UTC)', a cron's own."""
    schedule = normalize(export.schedule)
    words = SCHEDULE_WORDS.get(schedule) or _cron_words(cron_of(schedule) or schedule)
    if cron_of(schedule) and schedule != "@hourly":
        words += f" ({export.timezone})"
    return words


def _cron_words(cron: str) -> str:
    minute, hour, day, month, weekday = cron.split()
    if not (minute.isdigit() and hour.isdigit() and month == "*"):
        return f"cron {cron}"
    at = f"at {int(hour):02d}:{int(minute):02d}"
    if day == "*" and weekday == "*":
        return f"daily {at}"
    if day == "*" and weekday.isdigit() and int(weekday) < 7:
        return f"weekly on {DAY_NAMES[int(weekday)]} {at}"
    if weekday == "*" and day.isdigit():
        return f"monthly on day {day} {at}"
    return f"cron {cron}"


def status_of(export: ExportSpec, dag: Deployed | None) -> tuple[str, str]:
    """(status, detail): active | paused | detached | expired, with why in words.

    A schedule turned off, an export switched off (enabled: false) and a paused DAG all
    show as paused: none runs by itself; the detail says which.
    """
    status = export_status(export)
    if status in ("detached", "expired"):
        return status, status_note(export.id, status, export.expires)
    if status in ("off", "disabled"):
        return "paused", status_note(export.id, status, export.expires)
    if dag is None:
        return "active", "not in Airflow yet: it appears once Airflow parses the definition"
    if dag.is_paused:
        return "paused", "the DAG is paused in Airflow"
    return "active", ""


def next_run(export: ExportSpec, dag: Deployed | None) -> str | None:
    """When it runs next: an ISO time, 'after refresh', or None (not scheduled)."""
    status, _ = status_of(export, dag)
    if status != "active" or dag is None:
        return None
    if normalize(export.schedule) == "refresh":
        return "after refresh"
    return _iso(dag.next_run)


def last_run(record: RunRecord | None) -> dict | None:
    if record is None:
        return None
    return {
        "job_run_id": record.job_run_id, "finished_at": record.finished_at,
        "outcome": record.outcome, "rows": record.rows, "duration_s": record.duration_s,
    }  # fmt: skip


def export_row(
    export: ExportSpec,
    *,
    source_connection: str | None,
    refresh_uris: list[str],
    airflow: AirflowView,
    last: RunRecord | None,
    permission: str,
) -> dict:
    """One export as GET /ferry/api/exports lists it."""
    dag = airflow.dags.get(export.dag_id)
    status, detail = status_of(export, dag)
    refreshed = [airflow.refreshed[uri] for uri in refresh_uris if uri in airflow.refreshed]
    return {
        "id": export.id, "name": export.name, "kind": export.kind,
        "connections": connections_of(export, source_connection),
        "target": export.target or _destination_types(export), "status": status,
        "status_detail": detail, "running": airflow.running.get(export.dag_id, []),
        "owner": export.owner, "schedule": export.schedule,
        "schedule_text": schedule_text(export), "next_run": next_run(export, dag),
        "last_run": last_run(last), "refreshed_at": _iso(max(refreshed, default=None)),
        "permissions": permission,
    }  # fmt: skip


def import_row(
    spec: ImportSpec, *, airflow: AirflowView, last: RunRecord | None, permission: str
) -> dict:
    """One import as GET /ferry/api/exports lists it under "imports"."""
    dag = airflow.dags.get(spec.dag_id)
    status, detail = import_status(spec, dag)
    next_at = None
    if status == "active" and dag is not None:
        next_at = "after refresh" if normalize(spec.schedule) == "refresh" else _iso(dag.next_run)
    return {
        "id": spec.id, "name": spec.name, "kind": "import", "mode": spec.mode,
        "table": spec.table,
        "connections": [getattr(spec.source, "connection", None) or spec.source.type],
        "status": status, "status_detail": detail,
        "running": airflow.running.get(spec.dag_id, []), "owner": spec.owner,
        "schedule": spec.schedule, "schedule_text": schedule_text(spec), "next_run": next_at,
        "last_run": last_run(last), "permissions": permission,
    }  # fmt: skip


def import_status(spec: ImportSpec, dag: Deployed | None) -> tuple[str, str]:
    """(status, detail) as an export's: active or paused, with why in words."""
    if not spec.enabled:
        return "paused", "inactive: enabled is false in the import's definition"
    if normalize(spec.schedule) == "off":
        return "paused", status_note(spec.id, "off", None)
    if dag is None:
        return "active", "not in Airflow yet: it appears once Airflow parses the definition"
    if dag.is_paused:
        return "paused", "the DAG is paused in Airflow"
    return "active", ""


def _destination_types(export: ExportSpec) -> str:
    """A data-out export has no target profile: its destinations are where it goes."""
    return ", ".join(dict.fromkeys(d.type for d in export.destinations))


def broken_row(file: str, errors: list) -> dict:
    """A definition file that does not load: the file as its errors name it, and the errors."""
    return {"file": file, "status": "broken", "error": "\n".join(map(str, errors))}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None
