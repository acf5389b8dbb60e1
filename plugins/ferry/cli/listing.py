"""`ferry list`: one line per export and import, from the definitions, Airflow's REST API
and history.

Imports no Airflow (see ferry.cli.connection for the connection options and exit codes).
"""

from __future__ import annotations

import argparse
import json

from ferry import history
from ferry.cli.connection import CliError, add_connection_options, client_from, guarded
from ferry.cli.deployed import ACTIVE_RUN_STATES, current_definitions, not_runnable
from ferry.cli.imports import list_row as import_row
from ferry.cli.table import render_table, short_time
from ferry.dag_ids import EXPORT_PREFIX, IMPORT_PREFIX
from ferry.spec.models import ExportSpec
from ferry.spec.schedule import NOT_RUNNING_STATUSES, export_status, normalize

LIST_COLUMNS = {
    "id": "ID", "name": "NAME", "kind": "KIND", "connections": "CONNECTIONS",
    "target": "TARGET", "schedule": "SCHEDULE", "next_run": "NEXT RUN",
    "last_run": "LAST RUN", "outcome": "OUTCOME", "status": "STATUS", "rows": "ROWS",
}  # fmt: skip
AFTER_REFRESH = "after refresh"
TIME_COLUMNS = ("next_run", "last_run")  # ISO 8601 in --json, UTC minutes in the table


def register(subparsers) -> None:
    listing = subparsers.add_parser(
        "list", help="exports and imports: schedule, next/last run, status, rows"
    )
    listing.add_argument("--sort", choices=sorted(LIST_COLUMNS), default="id")
    listing.add_argument("--reverse", action="store_true")
    listing.add_argument(
        "--filter", action="append", default=[], metavar="[COLUMN=]TEXT",
        help="keep rows whose column (or any column) contains TEXT; repeat to narrow",
    )  # fmt: skip
    listing.add_argument(
        "--json", action="store_true", help="one JSON object per export and line, for scripts"
    )
    add_connection_options(listing)
    listing.set_defaults(handler=guarded(list_exports))


def list_exports(args: argparse.Namespace) -> int:
    """One line per export: definition, schedule and Airflow's view, and the last run."""
    project = current_definitions()
    client = client_from(args)
    deployed = client.dags(EXPORT_PREFIX) | (client.dags(IMPORT_PREFIX) if project.imports else {})
    running = client.active_dag_ids(ACTIVE_RUN_STATES)
    latest = history.latest_runs()
    rows = [
        list_row(e, deployed.get(e.dag_id), e.dag_id in running, latest.get(e.id))
        for e in project.exports.values()
    ] + [
        import_row(i, deployed.get(i.dag_id), i.dag_id in running, latest.get(i.id))
        for i in project.imports.values()
    ]
    rows = sort_rows(filter_rows(rows, args.filter), args.sort, args.reverse)
    if args.json:
        print("\n".join(json.dumps(row) for row in rows))
        return 0
    print(render_table(list(LIST_COLUMNS.values()), [_for_people(row) for row in rows]))
    return 0


def _for_people(row: dict) -> list:
    return [
        short_time(value) if column in TIME_COLUMNS and value != AFTER_REFRESH else value
        for column, value in row.items()
    ]


def list_row(
    export: ExportSpec, dag: dict | None, running: bool, last: history.RunRecord | None
) -> dict:
    """The columns of `ferry list` for one export (values None show as '-'); times ISO."""
    status = _list_status(export, dag, running)
    connections = (getattr(d, "connection", None) or d.type for d in export.destinations)
    schedule = export.schedule + ("" if export.timezone == "UTC" else f" ({export.timezone})")
    return {
        "id": export.id, "name": export.name, "kind": export.kind,
        "connections": ", ".join(dict.fromkeys(connections)), "target": export.target,
        "schedule": schedule, "next_run": _next_run(export, dag),
        "last_run": last.finished_at if last else None,
        "outcome": last.outcome if last else None,
        "status": status, "rows": last.rows if last else None,
    }  # fmt: skip


def _list_status(export: ExportSpec, dag: dict | None, running: bool) -> str:
    status = export_status(export)
    if running:
        return "running"
    if status in NOT_RUNNING_STATUSES:
        return status
    if dag is None:
        return "not deployed"
    return "paused" if dag["is_paused"] else status


def _next_run(export: ExportSpec, dag: dict | None) -> str | None:
    if not_runnable(export, dag):
        return None
    if normalize(export.schedule) == "refresh":
        return AFTER_REFRESH
    return dag.get("next_dagrun_run_after")


def filter_rows(rows: list[dict], filters: list[str]) -> list[dict]:
    """Keep rows matching every filter: 'status=active' (one column) or 'lead' (any)."""
    for text in filters:
        column, _, wanted = text.rpartition("=")
        if column and column not in LIST_COLUMNS:
            raise CliError(f"no column '{column}' to filter on: use {', '.join(LIST_COLUMNS)}")
        rows = [row for row in rows if _matches(row, column, wanted.lower())]
    return rows


def _matches(row: dict, column: str, wanted: str) -> bool:
    """The text matches a value as stored (ISO times) or as the table shows it."""
    shown = dict(zip(row, _for_people(row), strict=True))
    columns = [column] if column else list(row)
    values = [v for c in columns for v in (row[c], shown[c]) if v is not None]
    return any(wanted in str(value).lower() for value in values)


def sort_rows(rows: list[dict], column: str, reverse: bool) -> list[dict]:
    """Sort by one column; rows without a value go last either way."""
    present = [row for row in rows if row[column] is not None]
    missing = [row for row in rows if row[column] is None]
    return sorted(present, key=lambda row: row[column], reverse=reverse) + missing
