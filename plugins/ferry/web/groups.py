"""Job groups on the page: the list, a group with its runs (GroupID.RunID, members in order
with each one's outcome), and Run / Stop, checked on the group's DAG (group__<id>) as
exports are on theirs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, status

from ferry import history
from ferry.dag_ids import GROUP_PREFIX, group_dag_id
from ferry.run_info import RunInfo
from ferry.spec.loader import Project
from ferry.spec.models import GroupSpec
from ferry.spec.schedule import normalize
from ferry.web import airflow_state, lookup
from ferry.web.auth import GetUserDep, permissions_of, require_action, same_site_only
from ferry.web.exports_view import last_run, schedule_text

router = APIRouter(prefix="/api")
actions = APIRouter(prefix="/api", dependencies=[Depends(same_site_only)])
NOT_RUN = "not run"  # a member the chain did not reach keeps no record
RUNS_SHOWN = 300  # member records: about 100 group runs of 3


def group_row(group: GroupSpec, airflow: dict, running: list[str], permission: str) -> dict:
    """One group as the list shows it."""
    dag = airflow.get(group.dag_id)
    paused = normalize(group.schedule) == "off" or dag is None or dag.is_paused
    runs = group_runs(group, limit=3)
    return {
        "id": group.id, "name": group.name, "owner": group.owner,
        "members": [m.job for m in group.members],
        "status": "paused" if paused else "active", "schedule": group.schedule,
        "schedule_text": schedule_text(group), "running": running,
        "next_run": None if paused else _iso(dag.next_run),
        "last_run": runs[0] if runs else None, "permissions": permission,
    }  # fmt: skip


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def group_runs(group: GroupSpec, limit: int = 50) -> list[dict]:
    """The group's runs, newest first: each member in order with its outcome."""
    records = history.list_runs(group_id=group.id, limit=RUNS_SHOWN)
    by_run: dict[str, dict[str, history.RunRecord]] = {}
    for record in records:
        by_run.setdefault(record.group_run_id, {})[record.export_id] = record
    runs = [_group_run(group, group_run_id, found) for group_run_id, found in by_run.items()]
    return sorted(runs, key=lambda run: run["finished_at"] or "", reverse=True)[:limit]


def _group_run(group: GroupSpec, group_run_id: str, found: dict) -> dict:
    members = [
        {"export_id": m.job, **(last_run(found[m.job]) or {})}
        if m.job in found
        else {"export_id": m.job, "outcome": NOT_RUN}
        for m in group.members
    ]
    outcomes = [member["outcome"] for member in members]
    worst = next((o for o in ("failed", "stopped", "skipped") if o in outcomes), "success")
    return {
        "group_run_id": group_run_id, "members": members, "outcome": worst,
        "finished_at": max((r.finished_at for r in found.values()), default=None),
        "started_at": min((r.started_at or "" for r in found.values()), default=None) or None,
    }  # fmt: skip


def _group_for(user, found: Project, group_id: str, action: str) -> GroupSpec:
    require_action(user, group_dag_id(group_id), action)
    if group_id not in found.groups:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no group '{group_id}'")
    return found.groups[group_id]


@router.get("/groups")
def list_groups(user: GetUserDep) -> dict:
    found = lookup.project()
    allowed = permissions_of(user, [g.dag_id for g in found.groups.values()])
    groups = [g for g in found.groups.values() if g.dag_id in allowed]
    dags = airflow_state.deployed(GROUP_PREFIX)
    running = airflow_state.active_runs([g.dag_id for g in groups])
    rows = [
        group_row(g, dags, running.get(g.dag_id, []), allowed[g.dag_id])
        for g in sorted(groups, key=lambda g: g.id)
    ]
    return {"groups": rows}


@router.get("/groups/{group_id}")
def get_group(group_id: str, user: GetUserDep) -> dict:
    """The group, its members in order and its runs."""
    found = lookup.project()
    group = _group_for(user, found, group_id, "view")
    running = airflow_state.active_runs([group.dag_id]).get(group.dag_id, [])
    permission = permissions_of(user, [group.dag_id]).get(group.dag_id, "view")
    row = group_row(group, airflow_state.deployed(group.dag_id), running, permission)
    return {**row, "definition": group.model_dump(mode="json"), "runs": group_runs(group)}


@actions.post("/groups/{group_id}/run")
def run_group(group_id: str, user: GetUserDep) -> dict:
    group = _group_for(user, lookup.project(), group_id, "run")
    note = f"Started from the Exports page by {user.get_name()}"
    try:
        run_id = airflow_state.trigger(group.dag_id, user.get_name(), note)
    except airflow_state.NotDeployed as missing:
        raise HTTPException(status.HTTP_409_CONFLICT, str(missing)) from None
    return {"group_id": group.id, "group_run_id": RunInfo(group.id, run_id).job_run_id,
            "run_id": run_id}  # fmt: skip


@actions.post("/groups/{group_id}/stop")
def stop_group(group_id: str, user: GetUserDep) -> dict:
    """Mark the group's running runs failed; the listener records each member that started."""
    group = _group_for(user, lookup.project(), group_id, "stop")
    running = airflow_state.active_runs([group.dag_id]).get(group.dag_id, [])
    if not running:
        raise HTTPException(status.HTTP_409_CONFLICT, f"group '{group_id}' has no run in progress")
    stopped = []
    for run_id in running:
        try:
            airflow_state.stop(group.dag_id, run_id)
        except LookupError:  # it ended meanwhile
            continue
        stopped.append(RunInfo(group.id, run_id).job_run_id)
    return {"stopped": stopped}
