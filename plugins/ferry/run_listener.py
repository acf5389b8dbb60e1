"""Every run leaves a record: what to write when Airflow ends an export's, an import's or a
group's run.

Airflow calls the listener plugin (plugins/ferry_listener.py) when a DAG run ends: in the
scheduler when the run's tasks end it, it times out or it deadlocks, and in the API server
when someone marks it failed or successful in the UI or through the REST API (`ferry stop`
does that too). The plugin turns Airflow's DagRun into an EndedRun; this module decides,
with no Airflow in it:

- A record written during this attempt of the run (by finalize, by a task's RecordFailure,
  by check_limits' skip, by `ferry stop`, or earlier by this listener) stays as it is.
  A record older than the attempt (the run was cleared and ran again) does not count.
- Else a failed run gets a "failed" record, "marked failed in Airflow" with Airflow's
  message and the run's note (or what ended it: a timeout, a deadlock), with the figures
  of what it had staged. A task's RecordFailure that comes later still replaces it.
- Else a run marked successful by hand gets "marked_success": someone said the run is
  fine, but finalize recorded no delivery, so the record claims none. A run the scheduler
  ended successfully without a record is only logged: its tasks should have recorded it.
- A group run (group__<id>) does this for each member that started (its start task
  succeeded); members the chain never reached keep no record, as in the group summary.
- An import's run (import__<id>, or an import member of a group) is recorded as an import
  run (kind "import"), with no staged figures: an import stages nothing for delivery.

Nothing is sent to the export's notify list: this runs inside the scheduler and the API
server, and a run stopped by hand has someone watching it already.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

from ferry import history
from ferry.dag_ids import export_of_dag, group_of_dag, import_of_dag
from ferry.run_info import RunInfo

LOG = logging.getLogger(__name__)
# The messages the scheduler passes when a run's own course ends it (airflow.models.dagrun,
# the scheduler's dagrun_timeout); any other message is a state set by hand.
SCHEDULER_MESSAGES = {
    "success": "its tasks succeeded",
    "task_failure": "a task failed",
    "all_tasks_deadlocked": "its tasks could not be scheduled (deadlock)",
    "timed_out": "it ran past the DAG's dagrun_timeout",
}


@dataclass(frozen=True)
class EndedRun:
    """A DAG run that has just ended, as the listener plugin saw it.

    Attributes:
        dag_id: export__<id>, group__<id>, or any other DAG (ignored).
        run_id: Airflow's run id.
        state: "failed" or "success".
        msg: Airflow's message to the listener ("task_failure", "Dag Run's state was
            manually set to `failed`.", ...).
        note: The run's note, if any (`ferry stop` leaves one).
        started_at: When the run started; None if it never did.
        finished_at: When it ended.
        attempt_began: When this attempt was queued (clearing a run queues it again);
            records written before it belong to an earlier attempt.
        run_after: When the run was allowed to start; its duration counts from no earlier
            (dag.test's runs start "at" their logical date).
        triggered_by: Who triggered it, else the run type (as the tasks record it).
        log_url: The run in the Airflow UI.
        members_started: Group runs only: each member that started, and when.
    """

    dag_id: str
    run_id: str
    state: str
    msg: str = ""
    note: str = ""
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    attempt_began: dt.datetime | None = None
    run_after: dt.datetime | None = None
    triggered_by: str = "unknown"
    log_url: str = ""
    members_started: dict[str, dt.datetime | None] = field(default_factory=dict)

    @property
    def by_hand(self) -> bool:
        """True when someone set the state (UI, REST API, ferry stop), not the run's course."""
        return self.msg not in SCHEDULER_MESSAGES


def record_ended_run(run: EndedRun, log: logging.Logger = LOG) -> list[history.RunRecord]:
    """Write the records the run still lacks (see the module's rules); return those written."""

    def final(found: history.RunRecord | None) -> bool:
        return _is_final(found, run.attempt_began)

    written = []
    for info, started_at, group_run_id in _runs_of(run):
        if final(history.get_run(info.job_run_id)):
            continue  # the usual case, decided before any definition is read
        record = _record(run, info, started_at, group_run_id, log)
        # record_run_unless looks again: a task or `ferry stop` may have recorded it meanwhile
        if record is not None and history.record_run_unless(record, final):
            log.warning("Recorded from Airflow's run state: %s", record.summary())
            written.append(record)
    return written


def _runs_of(run: EndedRun) -> Iterator[tuple[RunInfo, dt.datetime | None, str]]:
    """(the export run, when it started, its group run id) for each run to look at."""
    if export_id := export_of_dag(run.dag_id) or import_of_dag(run.dag_id):
        info = RunInfo(
            export_id, run.run_id, triggered_by=run.triggered_by, run_after=run.run_after
        )
        yield info, run.started_at, ""
    elif group_of_dag(run.dag_id):
        group_id = group_of_dag(run.dag_id)
        group_run_id = RunInfo(group_id, run.run_id).job_run_id
        for export_id, started_at in run.members_started.items():
            info = RunInfo(
                export_id, run.run_id, triggered_by=run.triggered_by, run_after=run.run_after,
                group_id=group_id,
            )  # fmt: skip
            yield info, started_at or run.started_at, group_run_id


def _is_final(record: history.RunRecord | None, attempt_began: dt.datetime | None) -> bool:
    """A record with an outcome, written during this attempt of the run."""
    if record is None or record.outcome not in history.OUTCOMES:
        return False
    if attempt_began is None:
        return True
    return _utc(dt.datetime.fromisoformat(record.finished_at)) >= _utc(attempt_began)


def _record(
    run: EndedRun, info: RunInfo, started_at: dt.datetime | None, group_run_id: str, log
) -> history.RunRecord | None:
    if run.state == "failed":
        outcome = "failed"
        if run.by_hand:
            reason = _with_details("marked failed in Airflow", run)
        else:
            reason = f"ended failed in Airflow: {SCHEDULER_MESSAGES[run.msg]}"
    elif run.state == "success" and run.by_hand:
        outcome = "marked_success"
        reason = _with_details("marked success in Airflow", run) + (
            "; finalize did not run, so no delivery is recorded"
        )
    else:
        log.warning(
            "Run %s ended %s (%s) without a record from its tasks; none is made up",
            info.job_run_id, run.state, run.msg,
        )  # fmt: skip
        return None
    finished_at = _utc(run.finished_at) if run.finished_at else _utc_now()
    imported = _is_import(run, info, log)
    return history.RunRecord.ended(
        info, outcome, reason, started_at=_utc(started_at) if started_at else None,
        finished_at=finished_at, manifest=None if imported else _staged_manifest(info, log),
        group_run_id=group_run_id, log_url=run.log_url, kind="import" if imported else "export",
    )  # fmt: skip


def _is_import(run: EndedRun, info: RunInfo, log) -> bool:
    """An import's own run, or a group member its group defines as an import."""
    if import_of_dag(run.dag_id):
        return True
    if not group_of_dag(run.dag_id):
        return False
    try:
        from ferry.definitions import current_project

        group = current_project().groups.get(group_of_dag(run.dag_id))
    except Exception as error:  # the record matters more than its kind
        log.warning("Run %s: the group's definition cannot be read: %s", info.job_run_id, error)
        return False
    members = group.members if group is not None else []
    return any(m.kind == "import" and m.job == info.export_id for m in members)


def _with_details(text: str, run: EndedRun) -> str:
    if run.msg:
        text += f" ({run.msg.rstrip('.')})"
    return text + (f"; note: {run.note}" if run.note else "")


def _staged_manifest(info: RunInfo, log):
    """What the run had staged, if it got that far and the export is still defined."""
    try:
        from ferry import pipeline, staging

        return staging.staged_manifest(pipeline.plan_for(info))
    except Exception as error:  # the record matters more than its figures
        log.warning("Run %s: the staged manifest cannot be read: %s", info.job_run_id, error)
        return None


def _utc(moment: dt.datetime) -> dt.datetime:
    """An aware UTC datetime (Airflow's are pendulum's; naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(moment.timestamp(), dt.UTC)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
