"""Sensors of export DAGs: wait_for_refresh, and the trigger it defers to.

A refresh of what an export reads is running while a run of a DAG that emits its asset has
not finished the emitting task (ferry.refresh). The sensor finds such runs through the Task
SDK (the asset's events name the DAGs and tasks that refresh it; the task states say which
runs are under way) and hands the wait to the triggerer, which asks Airflow about those
runs until they are done: no worker slot held, nothing rescheduled every poke. With no
refresh running it returns at once, without deferring. Neither touches the metadata DB:
tasks and triggers only talk to Airflow's execution API.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent

from ferry import refresh
from ferry.refresh import RunningRefresh

# The scheduler's own deferral timeout fires this long after the trigger's deadline, so
# the trigger's clearer timeout message normally wins.
DEFERRAL_GRACE = dt.timedelta(minutes=1)
# A name's latest events read to find the DAGs that refresh it: a producer that emitted
# none of them (beaten by a far busier one) is not waited for.
EVENTS_READ = 200
UNFINISHED_STATES = ["null" if state is None else state for state in refresh.UNFINISHED]


def running_refreshes(
    depends_on: dict[str, str], *, own_dag_id: str, now: dt.datetime
) -> list[RunningRefresh]:
    """The runs refreshing any of depends_on (name -> asset URI) now; in a task only."""
    from airflow.sdk.execution_time.context import InletEventsAccessor

    running = []
    for name, uri in depends_on.items():
        events = InletEventsAccessor(asset_uri=uri).ascending(False).limit(EVENTS_READ)
        sources = [(event.source_dag_id, event.source_task_id) for event in events]
        for dag_id, task_ids in refresh.producers(sources, own_dag_id=own_dag_id).items():
            running += _runs_refreshing(name, dag_id, task_ids, now)
    return running


def _runs_refreshing(
    name: str, dag_id: str, task_ids: tuple[str, ...], now: dt.datetime
) -> list[RunningRefresh]:
    from airflow.sdk.execution_time.comms import GetDagRun
    from airflow.sdk.execution_time.task_runner import SUPERVISOR_COMMS, RuntimeTaskInstance

    ti = RuntimeTaskInstance
    if not ti.get_ti_count(dag_id, task_ids=list(task_ids), states=UNFINISHED_STATES):
        return []  # the usual answer, without reading every run's task states
    found = []
    for run_id in refresh.unfinished_runs(ti.get_task_states(dag_id, task_ids=list(task_ids))):
        run = SUPERVISOR_COMMS.send(GetDagRun(dag_id=dag_id, run_id=run_id))
        if refresh.counts(getattr(run, "state", None), getattr(run, "start_date", None), now):
            found.append(RunningRefresh(name, dag_id, run_id, task_ids, run.start_date))
    return found


def still_running(refreshes: list[RunningRefresh], now: dt.datetime) -> list[RunningRefresh]:
    """Those of refreshes whose run still runs its emitting tasks; in a task or a trigger."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance as ti

    return [
        r
        for r in refreshes
        if refresh.counts(ti.get_dagrun_state(r.dag_id, r.run_id), r.started, now)
        and ti.get_ti_count(
            r.dag_id, task_ids=list(r.task_ids), run_ids=[r.run_id], states=UNFINISHED_STATES
        )
    ]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RefreshTrigger(BaseTrigger):
    """Fire once none of the refreshes runs and no marker of the names remains, or at the deadline.

    Args:
        names: Tables and segments the export depends on (for refresh markers).
        marker_dir: The refresh marker folder the task saw.
        refreshes: The running refreshes the task found (RunningRefresh.to_json()).
        poll_interval: Seconds between two looks.
        deadline: Epoch seconds after which the trigger reports a timeout.
    """

    def __init__(
        self,
        *,
        names: list[str],
        marker_dir: str,
        refreshes: list[dict[str, Any]],
        poll_interval: float,
        deadline: float,
    ) -> None:
        super().__init__()
        self.names = list(names)
        self.marker_dir = marker_dir
        self.refreshes = [dict(r) for r in refreshes]
        self.poll_interval = float(poll_interval)
        self.deadline = float(deadline)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "names": self.names,
                "marker_dir": self.marker_dir,
                "refreshes": self.refreshes,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.time()
        pending = [RunningRefresh.from_json(r) for r in self.refreshes]
        while True:
            if pending:
                pending = await asyncio.to_thread(still_running, pending, _now())
            marked = await asyncio.to_thread(
                refresh.refreshes_in_progress, self.names, self.marker_dir
            )
            running = [r.describe() for r in pending] + [f"{n} (marker)" for n in marked]
            waited = round(time.time() - started, 1)
            if not running:
                yield TriggerEvent(
                    {"status": "done", "waited_s": waited, "deadline": self.deadline}
                )
                return
            if time.time() >= self.deadline:
                yield TriggerEvent({"status": "timeout", "running": running, "waited_s": waited})
                return
            await asyncio.sleep(self.poll_interval)


class RefreshSensor(BaseSensorOperator):
    """Wait while a refresh of something the export reads is in progress.

    Args:
        export_id: The export's id.
        depends_on: Tables and segments whose refresh the export must not read halfway,
            each with the URI of the asset its refresh emits.
        deferrable: Wait in the triggerer (default); False pokes like a classic sensor,
            in the given mode.
    """

    ui_color = "#fdf6e3"

    def __init__(
        self,
        *,
        export_id: str,
        depends_on: dict[str, str],
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.export_id = export_id
        self.depends_on = dict(depends_on)
        self.deferrable = deferrable

    def _running(self, context: Context) -> tuple[list[RunningRefresh], list[str]]:
        """The refreshes running in Airflow, and the names a marker holds."""
        runs = running_refreshes(self.depends_on, own_dag_id=self.dag_id, now=_now())
        return runs, refresh.refreshes_in_progress(list(self.depends_on))

    def poke(self, context: Context) -> bool:
        runs, marked = self._running(context)
        waiting_for = [r.describe() for r in runs] + [f"{n} (marker)" for n in marked]
        if waiting_for:
            self.log.info("Waiting: refresh in progress for %s", ", ".join(waiting_for))
        return not waiting_for

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self._defer_while_running(context, deadline=time.time() + self.timeout)
        return None

    def _defer_while_running(self, context: Context, *, deadline: float) -> None:
        """Defer to the trigger while a refresh runs; return when none does."""
        runs, marked = self._running(context)
        if not runs and not marked:
            self.log.info("No refresh running for %s", ", ".join(self.depends_on) or "-")
            return
        for run in runs:
            self.log.info("Waiting for the refresh of %s", run.describe())
        self.defer(
            trigger=RefreshTrigger(
                names=list(self.depends_on),
                marker_dir=str(refresh.marker_dir()),
                refreshes=[run.to_json() for run in runs],
                poll_interval=self.poke_interval,
                deadline=deadline,
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=max(deadline - time.time(), 0)) + DEFERRAL_GRACE,
        )

    def execute_complete(self, context: Context, event: dict | None = None) -> None:
        """Resume after the trigger fired: fail when the refresh outlasted timeout, wait again
        when another refresh started meanwhile (the trigger only watched the runs it was
        given), else go on."""
        event = event or {}
        if event.get("status") == "timeout":
            raise AirflowSensorTimeout(
                f"Export {self.export_id}: refresh of {', '.join(event.get('running', []))} "
                f"still running at the timeout ({dt.timedelta(seconds=round(self.timeout))}); "
                "not reading data mid-refresh"
            )
        self.log.info("Refresh finished after %s s of waiting", event.get("waited_s", "?"))
        if "deadline" in event:
            self._defer_while_running(context, deadline=float(event["deadline"]))
        self.log.info("Export %s reads the fresh data", self.export_id)
