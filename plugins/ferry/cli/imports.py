"""Imports on the command line, as exports: `ferry run IMPORT` (Airflow starts import__<id>),
`ferry run IMPORT --local` (its steps here), a line each in `ferry list`.

A run here looks for its files once (no waiting: drop them first), loads them and records
the run in the run history, as the DAG does; a failure is recorded with its reason.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys

from ferry import history
from ferry.exceptions import ExportRejected, describe, kind_of
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry.spec.loader import Project
from ferry.spec.models import ImportSpec
from ferry.spec.schedule import normalize

log = logging.getLogger("ferry")


def is_import(project: Project, job_id: str) -> bool:
    """An import's id (ids are unique among exports and imports; a group's wins over it)."""
    return job_id in project.imports and job_id not in project.groups


def import_problems(spec: ImportSpec) -> list[str]:
    """Why the import cannot run now."""
    if not spec.enabled:
        return [f"import '{spec.id}' is disabled: set enabled: true in its definition to run it"]
    return []


def run_import_local(args: argparse.Namespace, project: Project) -> int:
    """The import's steps here: 0 when it loaded, 1 when it failed, 2 when it cannot run."""
    from ferry.cli import local

    problems = import_problems(project.imports[args.export])
    if problems:
        print(f"ferry run: {problems[0]}", file=sys.stderr)
        return 2
    try:
        run = local.local_run_info(args, "local")
    except ExportRejected as rejected:
        print(f"error: {rejected}", file=sys.stderr)
        return 2
    return run_import(run, as_json=getattr(args, "json", False), force=args.force)


def run_import(run: RunInfo, *, as_json: bool, force: bool = False) -> int:
    """One import's run here (alone or as a group member): load, then finalize."""
    from ferry import pipeline_imports

    started = dt.datetime.now(dt.UTC)
    step = "load"
    try:
        loaded = pipeline_imports.load(run, log=log, force=force)
        step = "finalize"
        record = pipeline_imports.finalize(run, loaded, Ending(started_at=started), log=log)
    except Exception as error:
        reason = f"{step} failed: {describe(error)}"
        pipeline_imports.finalize_failed(run, reason, Ending(started_at=started), log=log)
        if kind_of(error) == "unclassified":
            raise  # not an error Ferry expects: its traceback is the way to find the cause
        print(f"error: {reason}", file=sys.stderr)
        return 1
    if as_json:
        keys = ("job_run_id", "outcome", "rows", "inserted", "updated", "deleted", "rejected")
        print(json.dumps({key: record[key] for key in keys}))
    else:
        print(summary(record, loaded))
    return 0


def summary(record: dict, loaded: dict) -> str:
    """What a person checks after an import: its id, what it read and what changed."""
    lines = [f"Import run {record['job_run_id']}: {record['outcome']}"]
    if record.get("reason"):  # e.g. a rerun of a run loaded before: nothing loaded now
        lines.append(f"  note       {record['reason']}")
    for item in loaded["files"]:
        lines.append(f"  file       {item['name']} ({item['size']:,} bytes)")
    lines.append(f"  rows read  {record['rows']:,}")
    for count in ("inserted", "updated", "deleted", "rejected"):
        lines.append(f"  {count:10} {record[count]:,}")
    rejects = loaded["result"].get("rejects_file")
    if rejects:
        lines.append(f"  rejects    {rejects}")
    lines.append(f"  into       table {loaded['table']} ({loaded['mode']})")
    return "\n".join(lines)


def list_row(
    spec: ImportSpec, dag: dict | None, running: bool, last: history.RunRecord | None
) -> dict:
    """The columns of `ferry list` for one import (its table in TARGET)."""
    source = spec.source
    schedule = spec.schedule + ("" if spec.timezone == "UTC" else f" ({spec.timezone})")
    status = "running" if running else _status(spec, dag)
    next_run = None
    if status == "active" and dag:
        after_refresh = normalize(spec.schedule) == "refresh"
        next_run = "after refresh" if after_refresh else dag.get("next_dagrun_run_after")
    return {
        "id": spec.id, "name": spec.name, "kind": f"import ({spec.mode})",
        "connections": getattr(source, "connection", None) or source.type,
        "target": f"table {spec.table}", "schedule": schedule, "next_run": next_run,
        "last_run": last.finished_at if last else None,
        "outcome": last.outcome if last else None,
        "status": status, "rows": last.rows if last else None,
    }  # fmt: skip


def _status(spec: ImportSpec, dag: dict | None) -> str:
    if not spec.enabled:
        return "disabled"
    if dag is None:
        return "not deployed"
    return "paused" if dag["is_paused"] else "active"
