"""The read side of the JSON API under /ferry/api/: the list (exports, imports), an export,
its runs (or an import's), a run.

Every route asks Airflow who the caller is (GetUserDep) and shows only what their rights
on each export's DAG allow (ferry.web.auth). Routes are plain `def`: FastAPI runs them in
its thread pool, so reading SQLite, YAML or the warehouse never blocks the API server's
event loop.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from fastapi import APIRouter, Request

from ferry import history
from ferry.checks import effective_limits
from ferry.dag_ids import broken_dag_id
from ferry.spec.reader import display_name
from ferry.web import lookup
from ferry.web.auth import GetUserDep, permissions_of
from ferry.web.editing import under_git
from ferry.web.exports_view import broken_row, export_row, import_row

router = APIRouter(prefix="/api")
RUNS_SHOWN = 100
IMPORT_COUNTS = ("inserted", "updated", "deleted", "rejected")


@router.get("/exports")
def list_exports(user: GetUserDep) -> dict:
    """Every export and import the user may see, with their permission on it, and the broken
    files."""
    found = lookup.project()
    allowed = permissions_of(user, [e.dag_id for e in found.exports.values()])
    exports = [e for e in found.exports.values() if e.dag_id in allowed]
    airflow = lookup.airflow_view(found, exports)
    latest = history.latest_runs()
    rows = [
        export_row(
            export, source_connection=lookup.source_connection(found, export),
            refresh_uris=lookup.refresh_uris(found, export), airflow=airflow,
            last=latest.get(export.id), permission=allowed[export.dag_id],
        ) | {"changes_only": export.changes is not None}
        for export in sorted(exports, key=lambda e: e.id)
    ]  # fmt: skip
    imports = import_rows(user, found, latest)
    visible = permissions_of(user, [broken_dag_id(key) for key in found.broken])
    broken = [
        broken_row(errors[0].file, errors)
        for key, errors in sorted(found.broken.items())
        if broken_dag_id(key) in visible  # the DAG that shows the file's errors in Airflow
    ]
    return {"exports": rows, "imports": imports, "broken": broken}


def import_rows(user, found, latest: dict) -> list[dict]:
    allowed = permissions_of(user, [i.dag_id for i in found.imports.values()])
    imports = sorted((i for i in found.imports.values() if i.dag_id in allowed), key=lambda i: i.id)
    airflow = lookup.import_view(imports)
    rows = []
    for spec in imports:
        last = latest.get(spec.id)
        row = import_row(spec, airflow=airflow, last=last, permission=allowed[spec.dag_id])
        if row["last_run"] is not None:  # what the last load did, beside its outcome
            row["last_run"] |= {name: getattr(last, name) for name in IMPORT_COUNTS}
        rows.append(row | {"source_type": spec.source.type})
    return rows


@router.get("/exports/{export_id}")
def get_export(export_id: str, user: GetUserDep, preview: bool = True) -> dict:
    """The resolved definition (defaults filled in), its effective limits and a preview."""
    found = lookup.project()
    export = lookup.export_for(user, found, export_id)
    path = found.files[f"exports:{export.id}"]
    target = found.targets.get(export.target) if export.target else None
    limits = effective_limits(export, target)
    row = export_row(
        export, source_connection=lookup.source_connection(found, export),
        refresh_uris=lookup.refresh_uris(found, export),
        airflow=lookup.airflow_view(found, [export]),
        last=history.latest_runs().get(export.id),
        permission=permissions_of(user, [export.dag_id]).get(export.dag_id, "view"),
    )  # fmt: skip
    return {
        **row,
        "file": display_name(path, found.root),
        "under_git": under_git(path),
        "definition": export.model_dump(mode="json", by_alias=True),
        "yaml": path.read_text(encoding="utf-8"),
        "limits": {
            kind: {"value": lim.value, "source": lim.source} for kind, lim in limits.items()
        },
        "preview": lookup.preview(export) if preview else None,
        "changes_only": export.changes is not None,
        "changes": lookup.changes_of(export),
    }


@router.get("/exports/{export_id}/runs")
def export_runs(export_id: str, user: GetUserDep) -> dict:
    """The export's (or import's) completed runs, newest first (also after its definition
    was removed)."""
    from ferry.web.auth import require_action

    require_action(user, lookup.job_dag_id(lookup.project(), export_id), "view")
    return {"runs": [run_summary(r) for r in history.list_runs(export_id, limit=RUNS_SHOWN)]}


def run_summary(record: history.RunRecord) -> dict:
    return {
        "job_run_id": record.job_run_id, "export_id": record.export_id,
        "run_id": record.run_id, "triggered_by": record.triggered_by,
        "started_at": record.started_at, "finished_at": record.finished_at,
        "duration_s": record.duration_s, "rows": record.rows, "files": record.files,
        "bytes": record.bytes, "destinations": record.destination_names,
        "outcome": record.outcome, "reason": record.reason,
        "group_run_id": record.group_run_id, "log_url": record.log_url,
        "kind": record.kind, "inserted": record.inserted, "updated": record.updated,
        "deleted": record.deleted, "rejected": record.rejected,
    }  # fmt: skip


@router.get("/runs/{job_run_id}")
def get_run(job_run_id: str, user: GetUserDep, request: Request) -> dict:
    """A run's record, the files it staged (rows, bytes, sha256), its validation results,
    rejects and the links to download what it delivered to the download area."""
    record = lookup.record_for(user, job_run_id)
    files = json.loads(record.staged_files or "[]")
    receipts = json.loads(record.destinations or "[]")
    return {
        **run_summary(record),
        "files": files,
        "receipts": receipts,
        "validation": lookup.validation_of(record),
        "rejects": [f for f in files if f.get("kind") == "rejects"],
        "downloads": download_links(record, files, receipts, request.scope.get("root_path", "")),
        "rejects_file": rejects_file_of(receipts) if record.kind == "import" else None,
    }


def rejects_file_of(receipts: list[dict]) -> dict | None:
    """An import run's rejects file: where the worker wrote it ($FERRY_HOME/imports/...).
    It is not in the download area, so the page names it but cannot serve it."""
    from pathlib import Path

    from ferry import paths

    found = (r.get("rejects_file") for r in receipts if isinstance(r, dict))
    written = next((name for name in found if name), None)
    if not written:
        return None
    path = Path(written)
    try:
        shown = f"$FERRY_HOME/{path.relative_to(paths.ferry_home()).as_posix()}"
    except ValueError:  # written under another FERRY_HOME (another worker)
        shown = path.name
    return {"name": path.name, "location": shown, "downloadable": False}


def download_links(
    record: history.RunRecord, files: list[dict], receipts: list[dict], root: str
) -> list:
    """The files a download destination delivered, each with the URL that serves it."""
    if not any(r.get("type") == "download" for r in receipts if isinstance(r, dict)):
        return []
    run = quote(record.job_run_id, safe="")
    return [
        {
            "name": f["name"],
            "bytes": f["bytes"],
            "sha256": f["sha256"],
            "url": f"{root}/api/runs/{run}/files/{quote(f['name'], safe='')}",
        }
        for f in files
    ]
