"""Airflow listener plugin: every export, import and group run leaves a record in Ferry's run
history.

Also a run marked failed or successful in the UI or the REST API, where no task callback
runs. ferry.run_listener decides what to write; this file only reads Airflow's DagRun.

Every Airflow component imports this file, so it imports nothing of Ferry until a run
ends; an error is logged, never raised into the scheduler or the API server. The ferry
package is importable here because Airflow puts the plugins folder on sys.path.
"""

from __future__ import annotations

import logging

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


class RunRecordListener:
    """Airflow's DAG-run hooks, passed on to ferry.run_listener."""

    @hookimpl
    def on_dag_run_failed(self, dag_run, msg: str) -> None:
        _ended(dag_run, "failed", msg)

    @hookimpl
    def on_dag_run_success(self, dag_run, msg: str) -> None:
        _ended(dag_run, "success", msg)


def _ended(dag_run, state: str, msg: str) -> None:
    try:
        from ferry import run_listener
        from ferry.dag_ids import is_ferry_run

        if is_ferry_run(dag_run.dag_id):
            run_listener.record_ended_run(_ended_run(dag_run, state, msg), log)
    except Exception:
        log.exception("ferry: the end of run %s was not recorded", getattr(dag_run, "run_id", "?"))


def _ended_run(dag_run, state: str, msg: str):
    from ferry import notify, run_listener
    from ferry.dag_ids import group_of_dag

    run_type = getattr(dag_run.run_type, "value", dag_run.run_type)
    return run_listener.EndedRun(
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        state=state,
        msg=msg or "",
        note=_note(dag_run),
        started_at=dag_run.start_date,
        finished_at=dag_run.end_date,
        attempt_began=dag_run.queued_at or dag_run.start_date,
        run_after=dag_run.run_after,
        triggered_by=dag_run.triggering_user_name or str(run_type),
        log_url=notify.run_url(dag_run.dag_id, dag_run.run_id),
        members_started=_members_started(dag_run) if group_of_dag(dag_run.dag_id) else {},
    )


def _note(dag_run) -> str:
    """The run's note, read without a lazy load on a run detached from its session.

    dag.test() (and `airflow dags test`) hands the listener such a run: its note, a
    relationship, is then read by run id in a session of its own. A note that still cannot
    be read costs only the note, said in one line.
    """
    try:
        if _note_unloaded_and_detached(dag_run):
            return _note_by_query(dag_run)
        return dag_run.note or ""
    except Exception as error:
        log.warning("ferry: the note of run %s cannot be read: %s", dag_run.run_id, error)
        return ""


def _note_unloaded_and_detached(dag_run) -> bool:
    from sqlalchemy import inspect
    from sqlalchemy.exc import NoInspectionAvailable

    try:
        state = inspect(dag_run)
    except NoInspectionAvailable:  # not an ORM object: its note is a plain attribute
        return False
    return state.detached and "dag_run_note" in state.unloaded


def _note_by_query(dag_run) -> str:
    from airflow.models.dagrun import DagRunNote
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(DagRunNote.content).where(DagRunNote.dag_run_id == dag_run.id)
    with create_session() as session:
        return session.scalar(query) or ""


def _members_started(dag_run) -> dict:
    """A group's members whose start task succeeded (the chain reached them), and when."""
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    found = dag_run.get_task_instances(
        state=[TaskInstanceState.SUCCESS], **({"session": session} if session else {})
    )
    return {
        ti.task_id.removesuffix(".start"): ti.start_date
        for ti in found
        if ti.task_id.endswith(".start")
    }


class FerryListenerPlugin(AirflowPlugin):
    name = "ferry_run_records"
    listeners = [RunRecordListener()]
