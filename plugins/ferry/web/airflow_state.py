"""What Airflow knows of Ferry's DAGs, and the changes the page asks of it, in-process.

The page runs inside Airflow's API server, which owns the metadata database: reading
DagModel/DagRun and calling Airflow's own trigger and state functions costs no HTTP call to
itself (whose address behind a proxy it may not know), needs no token of the caller, and
works under FastAPI's TestClient. The caller's rights are checked before (ferry.web.auth,
the same checks Airflow's REST API makes) and the run is attributed to them
(triggering_user_name), as a trigger from Airflow's UI is. Listeners fire as for the UI:
ferry_listener.py records a stopped run's end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ACTIVE_STATES = ("queued", "running")


@dataclass(frozen=True)
class Deployed:
    """A DAG as Airflow has it now."""

    dag_id: str
    is_paused: bool
    next_run: dt.datetime | None
    has_import_errors: bool = False


class NotDeployed(LookupError):
    """Airflow has no (current) DAG of this id: not parsed yet, or its file is gone."""


def deployed(prefix: str) -> dict[str, Deployed]:
    """Every current DAG whose id starts with prefix, by id."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(DagModel).where(DagModel.dag_id.startswith(prefix), ~DagModel.is_stale)
    with create_session() as session:
        return {
            dag.dag_id: Deployed(
                dag.dag_id, bool(dag.is_paused), dag.next_dagrun_create_after,
                bool(dag.has_import_errors),
            )
            for dag in session.scalars(query)
        }  # fmt: skip


def active_runs(dag_ids: list[str]) -> dict[str, list[str]]:
    """The queued or running run ids of each DAG that has some."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(DagRun.dag_id, DagRun.run_id).where(
        DagRun.dag_id.in_(dag_ids), DagRun.state.in_(ACTIVE_STATES)
    )
    found: dict[str, list[str]] = {}
    with create_session() as session:
        for dag_id, run_id in session.execute(query):
            found.setdefault(dag_id, []).append(run_id)
    return found


def trigger(dag_id: str, user_name: str, note: str) -> str:
    """Start a manual run as Airflow's Trigger button does; its run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagNotFound
    from airflow.utils.types import DagRunTriggeredByType

    _require_current(dag_id)
    try:
        run = trigger_dag(
            dag_id, triggered_by=DagRunTriggeredByType.UI, triggering_user_name=user_name,
            conf={}, note=note,
        )  # fmt: skip
    except DagNotFound as missing:
        raise NotDeployed(str(missing)) from None
    return run.run_id


def _require_current(dag_id: str) -> None:
    found = deployed(dag_id).get(dag_id)
    if found is None:
        raise NotDeployed(f"{dag_id} is not in Airflow (yet): is the definition deployed?")
    if found.has_import_errors:
        raise NotDeployed(f"{dag_id} has import errors in Airflow and cannot run")


@dataclass(frozen=True)
class StoppedRun:
    run_id: str
    started_at: dt.datetime | None
    triggered_by: str


def stop(dag_id: str, run_id: str) -> StoppedRun:
    """Mark a queued or running run failed, as Airflow's UI does: its tasks are stopped and
    the DAG-run listeners fire."""
    from airflow.api_fastapi.common.dagbag import create_dag_bag
    from airflow.api_fastapi.core_api.datamodels.dag_run import DagRunMutableStates
    from airflow.api_fastapi.core_api.services.public.dag_run import patch_dag_run_state
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        run = session.scalar(query)
        if run is None or run.state not in ACTIVE_STATES:
            raise LookupError(f"run {run_id} of {dag_id} is not running")
        dag = create_dag_bag().get_dag_for_run(run, session=session)
        if dag is None:
            raise NotDeployed(f"{dag_id} is not in Airflow")
        stopped = StoppedRun(
            run.run_id, run.start_date,
            run.triggering_user_name or str(getattr(run.run_type, "value", run.run_type)),
        )  # fmt: skip
        patch_dag_run_state(dag=dag, dag_run=run, state=DagRunMutableStates.FAILED, session=session)
    return stopped


def set_paused(dag_id: str, paused: bool) -> bool:
    """Pause or unpause a DAG now; False when Airflow does not have it yet (it then starts
    paused or not as the definition says)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        dag = session.get(DagModel, dag_id)
        if dag is None:
            return False
        dag.is_paused = paused
    return True


def last_events(uris: list[str]) -> dict[str, dt.datetime]:
    """The newest asset event of each asset URI that has one: when it last refreshed."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    query = (
        select(AssetModel.uri, func.max(AssetEvent.timestamp))
        .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
        .where(AssetModel.uri.in_(uris))
        .group_by(AssetModel.uri)
    )
    with create_session() as session:
        return {uri: moment for uri, moment in session.execute(query) if moment}
