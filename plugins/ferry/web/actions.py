"""The write side of the JSON API: run, run all, stop, duplicate, schedule, detach, remove,
reset (a changes-only export's next run sends every row), and run of an import.

Each action checks the caller's right on every export it touches before changing any
(ferry.web.auth: run needs POST on the DAG's runs, stop PUT on them, edits and reset PUT
on the DAG; an import's run POST on import__<id>'s runs), and refuses a request another
site's page sent with the UI's cookie. Edits go through ferry.web.editing (the CLI's YAML
round trip); runs and pauses through Airflow itself (ferry.web.airflow_state); reset
through ferry.changes_state, as `ferry reset` does.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from ferry import history
from ferry.dag_ids import EXPORT_PREFIX, export_dag_id
from ferry.run_info import RunInfo
from ferry.spec.models import ExportSpec, ImportSpec
from ferry.spec.schedule import export_status
from ferry.web import airflow_state, editing, lookup
from ferry.web.auth import GetUserDep, allowed, require_action, same_site_only

router = APIRouter(prefix="/api", dependencies=[Depends(same_site_only)])
MAX_IDS = 500


class DuplicateBody(BaseModel):
    new_id: str | None = None


class ScheduleBody(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=MAX_IDS)
    mode: Literal["keep", "override"] = "keep"
    schedule: str | None = None
    timezone: str | None = None
    active: bool = True


class IdsBody(BaseModel):
    ids: list[str] | None = Field(default=None, max_length=MAX_IDS)


class DetachBody(BaseModel):
    undo: bool = False


class DefinitionBody(BaseModel):
    yaml: str = Field(max_length=editing.MAX_DEFINITION_BYTES)


def _refused(error: Exception) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, str(error))


def _start(user, job: ExportSpec | ImportSpec) -> dict:
    """Trigger the export's (or import's) DAG as the user; say if the run waits."""
    note = f"Started from the Exports page by {user.get_name()}"
    try:
        run_id = airflow_state.trigger(job.dag_id, user.get_name(), note)
    except airflow_state.NotDeployed as missing:
        raise _refused(missing) from None
    dag = airflow_state.deployed(job.dag_id).get(job.dag_id)
    what = "import" if isinstance(job, ImportSpec) else "export"
    waits = f"the DAG is paused in Airflow: the run waits until the {what} is switched on"
    return {
        "export_id": job.id, "job_run_id": RunInfo(job.id, run_id).job_run_id,
        "run_id": run_id, "note": waits if dag and dag.is_paused else "",
    }  # fmt: skip


@router.post("/exports/run-all")
def run_all(user: GetUserDep, body: IdsBody | None = None) -> dict:
    """Run every export (or every one of `ids`) whose schedule is active; say why not the rest.

    As users of export pages expect: an export switched off, detached, expired, on
    demand only (schedule off) or paused in Airflow is left out; run it on its own.
    """
    found = lookup.project()
    if body and body.ids:  # named ones: each must be allowed
        exports = [lookup.export_for(user, found, export_id, "run") for export_id in body.ids]
    else:  # all: those the user may run
        exports = [e for e in found.exports.values() if allowed(user, e.dag_id, "POST", "RUN")]
        if found.exports and not exports:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"{user.get_name()} may not run exports")
        exports.sort(key=lambda e: e.id)
    dags = airflow_state.deployed(EXPORT_PREFIX)
    started, skipped = [], []
    for export in exports:
        reason = _not_active(export, dags.get(export.dag_id))
        if reason:
            skipped.append({"export_id": export.id, "reason": reason})
        else:
            started.append(_start(user, export))
    return {"started": started, "skipped": skipped}


def _not_active(export: ExportSpec, dag) -> str:
    status_now = export_status(export)
    if status_now != "active":
        return {"off": "schedule off (on demand only)"}.get(status_now, status_now)
    if dag is None:
        return "not in Airflow yet"
    return "paused in Airflow" if dag.is_paused else ""


@router.post("/exports/schedule")
def schedule(body: ScheduleBody, user: GetUserDep) -> dict:
    """Switch exports on or off; mode override also gives them all one new schedule."""
    if body.mode == "override" and not body.schedule:
        raise HTTPException(422, "mode override needs a schedule (refresh, a preset or a cron)")
    found = lookup.project()
    exports = [lookup.export_for(user, found, i, "edit") for i in dict.fromkeys(body.ids)]
    try:
        edited = editing.schedule(
            found, exports, override=body.schedule if body.mode == "override" else None,
            timezone=body.timezone, active=body.active,
        )  # fmt: skip
    except editing.EditRefused as refused:
        raise _refused(refused) from None
    return {**edited.to_json(), "airflow": _apply_pause(edited.export_ids)}


def _apply_pause(export_ids: list[str]) -> dict[str, str]:
    """Pause the DAGs of exports switched off or detached, unpause the others, now."""
    after = editing.current()
    said = {}
    for export_id in export_ids:
        paused = editing.should_pause(after, export_id)
        known = airflow_state.set_paused(export_dag_id(export_id), paused)
        said[export_id] = ("paused" if paused else "unpaused") if known else "not in Airflow yet"
    return said


@router.post("/exports/{export_id}/run")
def run(export_id: str, user: GetUserDep) -> dict:
    """Start one run now, whatever the schedule (not a detached or expired export)."""
    export = lookup.export_for(user, lookup.project(), export_id, "run")
    reason = export_status(export)
    if reason in ("detached", "expired"):
        raise _refused(ValueError(f"export '{export_id}' is {reason}: it does not run"))
    return _start(user, export)


@router.post("/exports/{export_id}/stop")
def stop(export_id: str, user: GetUserDep) -> dict:
    """Stop the export's queued or running runs: marked failed in Airflow, recorded stopped."""
    export = lookup.export_for(user, lookup.project(), export_id, "stop")
    running = airflow_state.active_runs([export.dag_id]).get(export.dag_id, [])
    if not running:
        raise _refused(ValueError(f"export '{export_id}' has no run in progress"))
    stopped = []
    for run_id in running:
        try:
            found = airflow_state.stop(export.dag_id, run_id)
        except LookupError:  # it ended meanwhile
            continue
        _record_stop(export.id, found, user.get_name())
        stopped.append(RunInfo(export.id, run_id).job_run_id)
    return {"stopped": stopped}


def _record_stop(export_id: str, run: airflow_state.StoppedRun, user_name: str) -> None:
    """A stopped run gets its record as with `ferry stop`: no task callback runs."""
    info = RunInfo(export_id, run.run_id, triggered_by=run.triggered_by)
    record = history.RunRecord.ended(
        info, "stopped", f"stopped by {user_name} from the Exports page",
        started_at=run.started_at, finished_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    history.record_run(record)


@router.post("/exports/{export_id}/duplicate")
def duplicate(export_id: str, user: GetUserDep, body: DuplicateBody | None = None) -> dict:
    """A copy of the definition, switched off until someone schedules it."""
    found = lookup.project()
    export = lookup.export_for(user, found, export_id, "edit")
    new_id = body.new_id if body else None
    if new_id:  # the copy is an export too: the right to edit it is checked as well
        require_action(user, export_dag_id(new_id), "edit")
    try:
        return editing.duplicate(found, export, new_id).to_json()
    except editing.EditRefused as refused:
        raise _refused(refused) from None


@router.post("/exports/{export_id}/detach")
def detach(export_id: str, user: GetUserDep, body: DetachBody | None = None) -> dict:
    """Detach the export from its connections (it stops running), or re-attach it."""
    found = lookup.project()
    export = lookup.export_for(user, found, export_id, "edit")
    try:
        edited = editing.detach(found, export, undo=bool(body and body.undo))
    except editing.EditRefused as refused:
        raise _refused(refused) from None
    return {**edited.to_json(), "airflow": _apply_pause(edited.export_ids)}


@router.put("/exports/{export_id}/definition")
def edit_definition(export_id: str, body: DefinitionBody, user: GetUserDep) -> dict:
    """Replace the definition's text; kept only if it loads (same id), else nothing changes."""
    found = lookup.project()
    export = lookup.export_for(user, found, export_id, "edit")
    try:
        edited = editing.replace_text(found, export, body.yaml)
    except editing.EditRefused as refused:
        raise _refused(refused) from None
    return {**edited.to_json(), "airflow": _apply_pause(edited.export_ids)}


@router.delete("/exports/{export_id}")
def remove(export_id: str, user: GetUserDep) -> dict:
    """Delete the definition file; its past runs stay in the run history and downloads."""
    found = lookup.project()
    export = lookup.export_for(user, found, export_id, "edit")
    try:
        edited = editing.remove(found, export)
    except editing.EditRefused as refused:
        raise _refused(refused) from None
    airflow_state.set_paused(export.dag_id, True)  # no new run before Airflow drops the DAG
    return {**edited.to_json(), "history_kept": True}


@router.post("/exports/{export_id}/reset")
def reset(export_id: str, user: GetUserDep) -> dict:
    """Forget a changes-only export's delivered state: its next run sends every row, as
    added (what `ferry reset EXPORT` does). A run under way keeps its own base."""
    from ferry.changes_state import StateStore  # S3 only when staging is there

    export = lookup.export_for(user, lookup.project(), export_id, "edit")
    if export.changes is None:
        raise _refused(ValueError(
            f"export '{export_id}' sends every row on each run already; reset applies to "
            "changes-only exports (changes: true)"
        ))  # fmt: skip
    try:
        before, after = StateStore(export.id).reset()
    except Exception as error:  # S3 down or refusing: nothing was reset, say why
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"reset failed: {error}") from None
    return {
        "export_id": export.id, "forgot_run": before.run, "resets": after.generation,
        "said": f"forgot the state of run {before.run}" if before.state
        else "had no delivered state",
    }  # fmt: skip


@router.post("/imports/{import_id}/run")
def run_import(import_id: str, user: GetUserDep) -> dict:
    """Start one run of the import now, whatever its schedule (as an export's Run)."""
    return _start(user, lookup.import_for(user, lookup.project(), import_id, "run"))
