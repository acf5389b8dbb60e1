"""The operators of an export DAG: thin Airflow shells around ferry.pipeline's steps.

One class per step kind (ferry.pipeline.Kind; ferry.render.dags picks it). Each execute()
turns Airflow's context into a plain RunInfo and calls the step's function; everything
heavy is imported inside execute().
task_outcome is the one place Ferry's errors become Airflow's outcomes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

# Retries of a transient error: 30 s, 60 s, 120 s, ... up to 10 minutes apart.
RETRY_DELAY = dt.timedelta(seconds=30)
RETRY_BACKOFF = 2.0
MAX_RETRY_DELAY = dt.timedelta(minutes=10)


def run_info(context: Context, export_id: str, *, with_params: bool = True):
    """The plain description of this run that the engine and delivery understand.

    Raises:
        BadRunParams: A run param is not what an export accepts (terminal). Without
            with_params the params are left out: a failure callback records a run
            whatever its params were.
    """
    from ferry.dag_ids import group_of_dag
    from ferry.run_info import RunInfo
    from ferry.run_params import RunParams, parse_run_params

    dag_run, params = context["dag_run"], context.get("params") or {}
    checked = RunParams()
    if with_params:
        checked = parse_run_params(*(params.get(name) for name in ("date_from", "date_to", "ids")))
    return RunInfo(
        export_id=export_id,
        run_id=dag_run.run_id,
        logical_date=dag_run.logical_date,
        data_interval_start=dag_run.data_interval_start,
        data_interval_end=dag_run.data_interval_end,
        date_from=checked.date_from,
        date_to=checked.date_to,
        ids=checked.ids,
        triggered_by=dag_run.triggering_user_name or str(dag_run.run_type.value),
        run_after=dag_run.run_after,
        group_id=group_of_dag(dag_run.dag_id),  # a member's run is not its export's own
    )


@contextlib.contextmanager
def task_outcome(log: logging.Logger) -> Iterator[None]:
    """The one place a Ferry error becomes Airflow's outcome (see ferry.exceptions).

    ExportSkipped skips the task; a terminal error fails it at once, without retries,
    with the error's message; a transient or unclassified error is raised as it is, so
    Airflow retries it (with the backoff of retry_defaults) while retries are left.
    """
    from ferry.exceptions import ExportSkipped, describe, kind_of

    try:
        yield
    except (AirflowFailException, AirflowSkipException):
        raise
    except ExportSkipped as skipped:
        raise AirflowSkipException(str(skipped)) from None
    except Exception as error:
        kind = kind_of(error)
        if kind == "terminal":
            log.error("Not retried: another try cannot succeed (%s)", type(error).__name__)
            raise AirflowFailException(describe(error)) from error
        if kind == "unclassified":
            log.warning(
                "%s is not classified as terminal or transient in ferry.exceptions; "
                "it is retried as transient", type(error).__name__,
            )  # fmt: skip
        raise


def retry_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Exponential backoff for every Ferry task unless the DAG says otherwise.

    Airflow 3 reads retry_exponential_backoff as a multiplier, so True (1.0) means a
    constant delay: it is taken as "on".
    """
    backoff = kwargs.get("retry_exponential_backoff")
    if backoff is None or backoff is True:
        kwargs["retry_exponential_backoff"] = RETRY_BACKOFF
    kwargs.setdefault("retry_delay", RETRY_DELAY)
    kwargs.setdefault("max_retry_delay", MAX_RETRY_DELAY)
    return kwargs


class ExportStepOperator(BaseOperator):
    """Run one step on the export's plan (check_eligibility, check_limits, extract, validate).

    Args:
        export_id: The export's id in include/exports/.
        step: The task id of a Kind.PLAN step of ferry.pipeline (or definition_error).
    """

    ui_color = "#e8f4fd"

    def __init__(self, *, export_id: str, step: str, **kwargs: Any) -> None:
        super().__init__(**retry_defaults(kwargs))
        self.export_id = export_id
        self.step = step

    def execute(self, context: Context) -> Any:
        from ferry import pipeline
        from ferry.pii_key import read_pii_key

        with task_outcome(self.log):
            run = run_info(context, self.export_id)
            self.log.info("Export %s, run %s: %s", self.export_id, run.job_run_id, self.step)
            return pipeline.run_step(self.step, run, log=self.log, pii_key=read_pii_key)


class DeliverOperator(BaseOperator):
    """Send an export run's staged files to one destination through its provider hook.

    Args:
        export_id: The export's id.
        destination: The destination's name (its `name`, or its type when unnamed).
    """

    ui_color = "#e9f7ef"

    def __init__(self, *, export_id: str, destination: str, **kwargs: Any) -> None:
        super().__init__(**retry_defaults(kwargs))
        self.export_id = export_id
        self.destination = destination

    def execute(self, context: Context) -> dict:
        from ferry import pipeline

        with task_outcome(self.log):
            run = run_info(context, self.export_id)
            try_number = context["ti"].try_number
            return pipeline.deliver(
                run, self.destination, run.template_vars(), try_number, log=self.log
            )


@dataclass(frozen=True)
class Membership:
    """An export running as a member of a group: the group, and the member before it."""

    group_id: str
    previous_export_id: str | None = None

    def group_run_id(self, run_id: str) -> str:
        """GroupID.RunID: how users quote a group run, like JobID.RunID for an export."""
        from ferry.run_info import RunInfo

        return RunInfo(self.group_id, run_id).job_run_id


def started_at(context: Context, membership: Membership | None) -> dt.datetime | None:
    """When this export's run began: the DAG run's start, or when the previous member ended.

    A group member's own tasks start when the member before it has finished, so its
    duration counts from that member's recorded end rather than from the group's start.
    """
    from ferry import history
    from ferry.run_info import RunInfo

    dag_run = context["dag_run"]
    if membership and membership.previous_export_id:
        before = RunInfo(
            membership.previous_export_id, dag_run.run_id, group_id=membership.group_id
        )
        previous = history.get_run(before.job_run_id)
        if previous:
            return dt.datetime.fromisoformat(previous.finished_at)
    return dag_run.start_date


def ending(context: Context, membership: Membership | None, log_url: str):
    """How the run ends (ferry.record.Ending): its start, its group run, who is told."""
    from ferry.record import Ending

    group_run_id = membership.group_run_id(context["dag_run"].run_id) if membership else ""
    return Ending(
        started_at=started_at(context, membership),
        group_run_id=group_run_id,
        log_url=log_url,
        notify=membership is None,  # a group's summary sends one notice for all members
    )


class FinalizeOperator(BaseOperator):
    """Record the run with every destination's receipt, notify, and emit the export's asset.

    Args:
        export_id: The export's id.
        deliver_task_ids: The deliver_* tasks whose receipts (XComs) go into the record.
        membership: Set when the export runs inside a group: the group notifies instead.
    """

    ui_color = "#f4ecf7"

    def __init__(
        self,
        *,
        export_id: str,
        deliver_task_ids: list[str],
        membership: Membership | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**retry_defaults(kwargs))
        self.export_id = export_id
        self.deliver_task_ids = deliver_task_ids
        self.membership = membership

    def execute(self, context: Context) -> dict:
        from ferry import notify, pipeline

        with task_outcome(self.log):
            run = run_info(context, self.export_id)
            receipts = context["ti"].xcom_pull(task_ids=self.deliver_task_ids)
            receipts = [receipts] if isinstance(receipts, dict) else list(receipts or [])
            log_url = notify.run_url(context["ti"].dag_id, run.run_id)
            return pipeline.finalize(
                run, receipts, ending(context, self.membership, log_url), log=self.log
            )


class RecordFailure:
    """on_failure_callback of an export's tasks: record the run as failed, log it, notify.

    Airflow calls it once, for the task that failed (after its last retry), in that task's
    process, so the summary lands in the failed task's log; the tasks after it end
    upstream_failed and the DAG run ends failed as usual.

    Args:
        export_id: The export's id.
        membership: Set inside a group, whose summary task sends the one notification.
    """

    def __init__(self, export_id: str, membership: Membership | None = None) -> None:
        self.export_id = export_id
        self.membership = membership

    def __call__(self, context: Context) -> None:
        from ferry import pipeline

        ti = context["ti"]
        error = context.get("exception")
        reason = f"{ti.task_id.rsplit('.', 1)[-1]} failed: {error or 'no error message'}"
        run = run_info(context, self.export_id, with_params=False)
        pipeline.finalize_failed(
            run, reason, ending(context, self.membership, ti.log_url), log=context["task"].log
        )
