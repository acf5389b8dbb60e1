"""What the API reads: the definitions as on disk now, the exports a user may see, and
the preview of an export, each one small function the routes share."""

from __future__ import annotations

import contextlib
import datetime as dt

from fastapi import HTTPException, status

from ferry import history, paths
from ferry.spec.loader import Project
from ferry.spec.models import ExportSpec, ImportSpec
from ferry.web import airflow_state
from ferry.web.auth import require_action


def project() -> Project:
    """The definitions as they are on disk now (loaded again once a file changes): an
    edit shows at the next request. Read only: the loaded project is shared."""
    from ferry.definitions import current_project

    return current_project()


def export_for(user, found: Project, export_id: str, action: str = "view") -> ExportSpec:
    """The export, once the user may take the action on its DAG; 404 or 403 otherwise.

    The right is checked before saying whether the export exists, on the DAG it would have,
    so a user learns nothing of exports they may not see.
    """
    from ferry.dag_ids import export_dag_id

    require_action(user, export_dag_id(export_id), action)
    if export_id not in found.exports:
        broken = f"exports.{export_id}" in found.broken
        detail = (
            f"export '{export_id}' has errors: see the list's broken definitions"
            if broken
            else f"no export '{export_id}'"
        )
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail)
    return found.exports[export_id]


def import_for(user, found: Project, import_id: str, action: str = "view") -> ImportSpec:
    """The import, once the user may take the action on its DAG (import__<id>); 404 or 403
    otherwise, checked as export_for does."""
    from ferry.dag_ids import import_dag_id

    require_action(user, import_dag_id(import_id), action)
    if import_id not in found.imports:
        broken = f"imports.{import_id}" in found.broken
        detail = (
            f"import '{import_id}' has errors: see the list's broken definitions"
            if broken
            else f"no import '{import_id}'"
        )
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail)
    return found.imports[import_id]


def job_dag_id(found: Project, job_id: str) -> str:
    """The DAG whose rights cover a job's runs: an import's own, else the export's (also
    for a job no longer defined: ids are unique among exports and imports)."""
    from ferry.dag_ids import export_dag_id

    spec = found.imports.get(job_id)
    return spec.dag_id if spec is not None else export_dag_id(job_id)


def record_for(user, job_run_id: str) -> history.RunRecord:
    """A run's record, once the user may view the export or import that made it."""
    export_id = job_run_id.partition(".")[0]
    require_action(user, job_dag_id(project(), export_id), "view")
    record = history.get_run(job_run_id)
    if record is None or record.export_id != export_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {job_run_id}")
    return record


def refresh_uris(found: Project, export: ExportSpec) -> list[str]:
    """The asset URIs whose events mean the export's data refreshed."""
    from ferry.render.dags import refresh_targets  # Airflow's sdk: loaded in the API server

    try:
        return list(refresh_targets(export, found).values())
    except KeyError:  # a segment type without a table: the loader reports it
        return []


def source_connection(found: Project, export: ExportSpec) -> str | None:
    try:
        return found.tables[found.table_of(export)].connection
    except KeyError:
        return None


def preview(export: ExportSpec, rows: int = 10) -> dict:
    """Eligibility, rows, estimated files and bytes against the limits, and the first rows
    with PII applied, as `ferry preview` finds them; a problem is said, not raised."""
    from ferry import pipeline, sources
    from ferry.run_info import RunInfo

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = dt.datetime.combine((now - dt.timedelta(days=1)).date(), dt.time(), tzinfo=dt.UTC)
    run = RunInfo(
        export.id, f"preview__{now.isoformat()}", logical_date=start,
        data_interval_start=start, data_interval_end=start + dt.timedelta(days=1),
        triggered_by="preview", run_after=now,
    )  # fmt: skip
    try:
        plan = pipeline.plan_for(run)
        source = sources.source_for(plan.connection)
        found = _preview_run(plan, source, rows)
    except Exception as error:  # a missing warehouse or connection: the page says why
        return {"problem": f"{type(error).__name__}: {error}"}
    return {
        "eligible": not found.not_eligible, "not_eligible": found.not_eligible,
        "rows": found.rows, "estimated_bytes": found.estimated_bytes,
        "estimated_files": found.estimated_files, "skip_reason": found.skip_reason,
        "warnings": found.warnings, "would_run": found.would_run,
        "sample": found.sample, "sample_rows": found.sample_rows,
        "sample_problem": found.sample_problem,
        "limits": {k: {"value": v.value, "source": v.source} for k, v in found.limits.items()},
    }  # fmt: skip


def _preview_run(plan, source, rows: int):
    from ferry.engine.pii import needs_key
    from ferry.preview import preview_run

    key = _pii_key() if needs_key(plan.columns) else None
    return preview_run(plan, source=source, pii_key=key, rows=rows)


def _pii_key() -> bytes | None:
    from ferry.pii_key import read_pii_key

    try:
        return read_pii_key()
    except Exception:  # outside a task some secrets backends refuse: no sample then
        return None


def changes_of(export: ExportSpec) -> dict | None:
    """A changes-only export's option and its committed state: the run that committed it
    (with that run's end, from the history) and the resets so far; None for an export
    of every row. A state that cannot be read (S3 down) is said, not raised."""
    from ferry.changes_state import StateStore

    if export.changes is None:
        return None
    shown = {"output": export.changes.output, "key": export.changes.key}
    try:
        head = StateStore(export.id).head()
    except Exception as error:  # the page still shows the export
        return {**shown, "problem": f"{type(error).__name__}: {error}"}
    # the head names the run by its folder name, as JobID.RunID does
    job_run_id = f"{export.id}.{head.run}" if head.run and head.state else None
    record = history.get_run(job_run_id) if job_run_id else None
    return {
        **shown, "committed": head.state is not None, "resets": head.generation,
        "committed_run": head.run if head.state else None,
        "committed_job_run_id": job_run_id,
        "committed_at": record.finished_at if record else None,
    }  # fmt: skip


def airflow_view(found: Project, exports: list[ExportSpec]):
    """What Airflow says of these exports' DAGs, runs and data refreshes."""
    from ferry.dag_ids import EXPORT_PREFIX
    from ferry.web.exports_view import AirflowView

    uris = sorted({uri for export in exports for uri in refresh_uris(found, export)})
    return AirflowView(
        dags=airflow_state.deployed(EXPORT_PREFIX),
        running=airflow_state.active_runs([e.dag_id for e in exports]),
        refreshed=airflow_state.last_events(uris),
    )


def import_view(imports: list):
    """What Airflow says of these imports' DAGs and runs."""
    from ferry.dag_ids import IMPORT_PREFIX
    from ferry.web.exports_view import AirflowView

    if not imports:
        return AirflowView()
    return AirflowView(
        dags=airflow_state.deployed(IMPORT_PREFIX),
        running=airflow_state.active_runs([i.dag_id for i in imports]),
    )


def validation_of(record: history.RunRecord) -> dict | None:
    """The expectations' summary the run's manifest holds (in its download folder or its
    staging folder here, else where staging on S3 keeps it: another worker ran the run),
    or None when none is left."""
    from ferry.manifest import ManifestMissing, read_manifest
    from ferry.staging import run_location

    safe_run_id = record.job_run_id.partition(".")[2]
    folders = [paths.downloads_dir() / record.export_id / record.job_run_id]
    location = None
    with contextlib.suppress(Exception):  # a run id that names no folder: none staged
        location = run_location(paths.staging_root(), record.export_id, safe_run_id)
        folders.append(location.folder)
    for folder in folders:
        try:
            return read_manifest(folder).validation
        except (ManifestMissing, OSError, ValueError):
            continue
    return _shared_validation(location.remote if location else None)


def _shared_validation(remote) -> dict | None:
    """The summary in the run's manifest on S3 staging, if staging is there and holds it."""
    from ferry.staging import StagingError, remote_manifest

    if remote is None:
        return None
    try:
        manifest = remote_manifest(remote)
    except StagingError:  # the bucket out of reach: the page shows the rest
        return None
    return manifest.validation if manifest else None
