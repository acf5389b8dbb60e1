"""What the REST commands look up: the exports they act on, and what Airflow has of them.

The definitions come from include/ (FERRY_INCLUDE), read afresh for each command; what is
deployed and running comes from Airflow's REST API. Nothing here imports Airflow.
"""

from __future__ import annotations

from urllib.parse import quote

from ferry import paths
from ferry.airflow_api import AirflowClient, AirflowNotFound
from ferry.cli.connection import CliError
from ferry.dag_ids import export_dag_id, group_dag_id, import_dag_id
from ferry.run_info import GROUP_MARK, RunInfo
from ferry.spec.loader import Project, load_project
from ferry.spec.models import ExportSpec
from ferry.spec.schedule import export_status

ACTIVE_RUN_STATES = ("queued", "running")
NOT_SCHEDULED = {
    "off": "schedule off",
    "disabled": "disabled (enabled: false)",
    "detached": "detached",
    "expired": "expired",
}


def current_definitions() -> Project:
    return load_project(paths.include_dir())


def find_export(project: Project, export_id: str) -> ExportSpec:
    """The export, or CliError saying whether it is broken or not defined at all."""
    if export_id not in project.exports:
        broken = f"exports.{export_id}" in project.broken
        raise CliError(
            f"export '{export_id}' has errors: see ferry validate"
            if broken
            else f"no export '{export_id}' in {paths.include_dir() / 'exports'}"
        )
    return project.exports[export_id]


def not_runnable(export: ExportSpec, dag: dict | None) -> str | None:
    """Why run-all leaves an export out, or None: its schedule is active and Airflow has it."""
    status = export_status(export)
    if status != "active":
        return NOT_SCHEDULED[status]
    if dag is None:
        return "not in Airflow (yet)"
    return "paused in Airflow" if dag["is_paused"] else None


def deployed_dag(client: AirflowClient, dag_id: str) -> dict:
    """Airflow's DAG, or CliError when Airflow does not have it (yet)."""
    try:
        return client.dag(dag_id)
    except AirflowNotFound:
        message = f"{dag_id} is not in Airflow (yet): is the definition deployed?"
        raise CliError(message) from None


def recent_runs(client: AirflowClient, dag_id: str) -> list[dict]:
    """A DAG's newest runs first; none when Airflow does not have the DAG."""
    try:
        return client.recent_runs(dag_id)
    except AirflowNotFound:
        return []


def find_run(client: AirflowClient, text: str) -> tuple[str, str, dict]:
    """(export, group or import id, dag_id, run) for 'JobID.RunID', 'GroupID.RunID' or
    'ID.<run_id>'.

    A group member's JobID.RunID (<export>.<group>+<run>) names its group's run.
    """
    owner_id, _, wanted = text.partition(".")
    if GROUP_MARK in wanted:  # a group member's <export>.<group>+<run>: stop the group's run
        owner_id, _, wanted = wanted.partition(GROUP_MARK)
    for dag_id in (export_dag_id(owner_id), group_dag_id(owner_id), import_dag_id(owner_id)):
        for run in recent_runs(client, dag_id):
            if wanted in (run["dag_run_id"], RunInfo(owner_id, run["dag_run_id"]).safe_run_id):
                return owner_id, dag_id, run
    raise CliError(f"no run {text}: give the JobID.RunID that ferry run or ferry history shows")


def run_url(client: AirflowClient, dag_id: str, run_id: str) -> str:
    """The run's page in Airflow's UI."""
    return f"{client.base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
