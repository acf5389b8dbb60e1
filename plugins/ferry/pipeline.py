"""One export run, step by step: what the DAGs and `ferry run --local` both follow.

    wait_for_refresh -> check_eligibility -> check_limits -> extract -> validate
        -> deliver_<destination> (one per destination, side by side) -> finalize

Read top to bottom, this module is the run. Each step is a call into the module named for
what it does: ferry.refresh, ferry.checks, ferry.engine (with ferry.staging, which carries
the files between workers), ferry.delivery, ferry.record. export_steps() then describes the
run as plain frozen Steps (cosmos' Airflow-free Task entities, for Ferry): a task id, what
it calls, its retry and trigger needs, its upstreams; group_run() does the same for a
group. ferry.render turns a description into operators, one operator class per Kind, and
ferry.cli.local walks it in order, calling the same functions.

No Airflow here, and nothing heavy at import (the DAG files import this module on every
parse): the engine is imported inside the steps that use it. A step that stops a run
raises ExportSkipped (nothing to do, not an error) or ExportRejected (the definition cannot
run as it stands); whether any other error is worth another try is ferry.exceptions' call.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from ferry import changes_lease, changes_state, checks, history, paths, record, refresh, staging
from ferry.definitions import current_project
from ferry.exceptions import ExportRejected
from ferry.manifest import read_manifest
from ferry.plan import ExportPlan, build_plan
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry.run_params import check_ids_for_key
from ferry.spec.models import ExportSpec, GroupSpec


def plan_for(run: RunInfo) -> ExportPlan:
    """The run's plan, after checking its ids against the export's key; every step reads it.

    Raises:
        ExportRejected: The export is not defined (or has errors).
        BadRunParams: An id is not a value of the key's type.
    """
    project = current_project()
    if run.export_id not in project.exports:
        raise ExportRejected(f"export '{run.export_id}' is not defined or has errors")
    from ferry import sources  # DuckDB and Arrow: not at DAG parse time

    location = staging.run_location(paths.staging_root(), run.export_id, run.safe_run_id)
    table = project.tables[project.table_of(project.exports[run.export_id])]
    dialect = sources.source_for(table.connection).dialect
    plan = build_plan(project, run.export_id, run, location, dialect)
    if run.ids:
        check_ids_for_key(run.ids, plan.key, project.tables[plan.table].columns[plan.key].type)
    return plan


# wait_for_refresh: refresh.refreshes_in_progress (a sensor in Airflow)
# check_eligibility, check_limits: checks.check_eligibility, checks.check_limits


def extract(plan: ExportPlan, *, log: logging.Logger, pii_key: bytes | None) -> dict:
    """Stream the rows into staged, chunked files and a manifest, published for the next steps."""
    from ferry import engine, sources

    source = sources.source_for(plan.connection)
    with changes_state.for_extract(plan, log=log) as changes:  # None: every row is sent
        manifest = engine.extract(plan, source=source, pii_key=pii_key, log=log, changes=changes)
        if changes is not None:  # over a limit: skipped, and the state stays uncommitted
            checks.check_change_limits(plan, manifest.rows, manifest.bytes, log=log)
    staging.publish(plan, manifest, log=log)  # nothing to do when staging is local
    if plan.excluded_pii:
        log.info("PII columns left out (no pii rule given): %s", ", ".join(plan.excluded_pii))
    where = {"staging_url": plan.staging_url} if plan.staging_url else {}
    return {"staging_dir": str(plan.staging_dir), **where, "rows": manifest.rows,
            "files": len(manifest.data_files), "bytes": manifest.bytes}  # fmt: skip


def validate(plan: ExportPlan, *, log: logging.Logger) -> dict:
    """Check the export's data expectations on the staged files before anything is sent."""
    if not plan.export.expectations:
        log.info("Export %s declares no expectations", plan.export.id)
        return {"expectations": 0}
    from ferry import engine

    folder = staging.fetch(plan, log=log)
    # the summary travels with the run, to deliveries and finalize on other workers
    with _then(lambda: staging.publish_manifest(plan, log=log), log):
        return engine.validate(plan, read_manifest(folder), log=log)


def deliver(
    run: RunInfo, destination_name: str, template_vars: dict, try_number: int, *, log
) -> dict:
    """Send the staged files to one destination and return the receipt."""
    from ferry import delivery

    plan = plan_for(run)
    destination = _destination(plan, destination_name)
    if plan.changes is not None:  # a long delivery must not let another run take the lease
        changes_lease.renew(changes_state.StateStore(run.export_id).files, run.export_id,
                            run.safe_run_id, log=log)  # fmt: skip
    context = delivery.DeliveryContext(
        export=plan.export, run=run, try_number=try_number,
        template_vars={**template_vars, "export_id": run.export_id,
                       "export_name": plan.export.name},
    )  # fmt: skip
    folder = staging.fetch(plan, log=log)
    # what a delivery keeps beside the run (webhook rejects) outlives this worker
    kept = f"deliveries/{destination_name}"
    with _then(lambda: staging.publish_folder(plan, kept, log=log), log):
        return asdict(delivery.deliver(destination, folder, context, log=log))


def finalize(run: RunInfo, receipts: list[dict], ending: Ending, *, log) -> dict:
    """Record the delivered run with every destination's receipt, and notify."""
    plan = plan_for(run)
    manifest = staging.read_staged_manifest(plan)
    # every destination has the files: the state moves on, unless a target refused records
    note = changes_state.settle(plan, receipts, log=log) if plan.changes is not None else ""
    return record.finalize(run, plan.export, manifest, receipts, ending, log=log, reason=note)


def finalize_failed(
    run: RunInfo, reason: str, ending: Ending, *, log, outcome: str = "failed"
) -> history.RunRecord:
    """What any step's last failure does: record the run failed, with what it had staged."""
    export = current_project().exports.get(run.export_id)
    manifest = _staged_manifest(run, log) if export else None
    if export is not None and export.changes is not None:
        changes_state.release(run, log=log)  # the next run need not wait for its lease
    return record.record_failed(run, reason, export, manifest, ending, log=log, outcome=outcome)


def definition_error(file_key: str) -> None:
    """The task of a broken definition's DAG: fail with the errors that keep it from loading."""
    errors = current_project().broken.get(file_key)
    if not errors:
        raise ExportRejected(f"{file_key} now loads; its DAG is replaced on the next parse")
    raise ExportRejected("The definition did not load:\n" + "\n".join(map(str, errors)))


# --- The description: the steps above as plain objects, for ferry.render and ferry.cli


class Kind(enum.Enum):
    """How a step runs, and so which operator renders it and what its call takes."""

    WAIT = "wait"  # call(names) -> still running; a run here and now does not wait
    PLAN = "plan"  # call(plan, log=) [pii_key= when uses_pii_key]
    DELIVER = "deliver"  # call(run, destination, template_vars, try_number, log=)
    FINALIZE = "finalize"  # call(run, receipts of its upstreams, Ending, log=)
    GATE = "gate"  # a group's start/done: no call, it only orders the members
    SUMMARY = "summary"  # call(group_id, run_id, export_ids, link=, log=)


@dataclass(frozen=True)
class Wait:
    """How a waiting step waits: a look every poke_interval, giving up after timeout."""

    poke_interval: dt.timedelta
    timeout: dt.timedelta
    mode: str = "reschedule"  # between two looks the task holds no worker slot


@dataclass(frozen=True)
class Step:
    """One task of a run, with no Airflow in it.

    Attributes:
        task_id: The task's id (inside a group, in its member's TaskGroup).
        kind: How it runs (see Kind).
        call: What it calls; None for a gate.
        upstreams: The task ids it waits for, in the same export (or group).
        backoff: A failed try is retried with Ferry's exponential backoff (the number of
            retries is the export's). False only for steps rendered without Ferry's retry
            defaults (the refresh sensor, a group's gates and summary).
        trigger_rule: all_success, or all_done (runs whatever its upstreams' outcome).
        wait: How a WAIT step waits.
        destination: A DELIVER step's destination label.
        uses_pii_key: The call takes the PII key (read only when the export needs it).
        records_failure: Its last failure records the run as failed (and notifies).
        pool: The Airflow pool its task takes a slot of (None: Airflow's default pool).
    """

    task_id: str
    kind: Kind
    call: Callable[..., Any] | None = None
    upstreams: tuple[str, ...] = ()
    backoff: bool = True
    trigger_rule: str = "all_success"
    wait: Wait | None = None
    destination: str | None = None
    uses_pii_key: bool = False
    records_failure: bool = True
    pool: str | None = None


# Deliveries can share a few slots, so a slow or busy target cannot take every worker.
DELIVERY_POOL_ENV = "FERRY_DELIVERY_POOL"
DELIVERY_POOL = "ferry_delivery"  # the pool airflow_settings.yaml creates for the devserver


def delivery_pool() -> str | None:
    """The pool deliver_* tasks take a slot of: $FERRY_DELIVERY_POOL, else Airflow's default.

    Opt-in, because Airflow's scheduler never runs a task whose pool does not exist: a
    deployment names the pool once it has created it (the devserver does both).
    """
    return os.environ.get(DELIVERY_POOL_ENV) or None


REFRESH_WAIT = Wait(poke_interval=dt.timedelta(seconds=30), timeout=dt.timedelta(hours=2))


def export_steps(export: ExportSpec) -> tuple[Step, ...]:
    """The steps of one export run, in order: the DAG export__<id>, and a group member."""
    deliveries = tuple(
        Step(f"deliver_{d.label}", Kind.DELIVER, deliver, ("validate",),
             destination=d.label, pool=delivery_pool())
        for d in export.destinations
    )  # fmt: skip
    return (
        Step("wait_for_refresh", Kind.WAIT, refresh.refreshes_in_progress, backoff=False,
             wait=REFRESH_WAIT),
        Step("check_eligibility", Kind.PLAN, checks.check_eligibility, ("wait_for_refresh",)),
        Step("check_limits", Kind.PLAN, checks.check_limits, ("check_eligibility",)),
        Step("extract", Kind.PLAN, extract, ("check_limits",), uses_pii_key=True),
        Step("validate", Kind.PLAN, validate, ("extract",)),
        *deliveries,
        Step("finalize", Kind.FINALIZE, finalize, tuple(d.task_id for d in deliveries)),
    )  # fmt: skip


# The one task of a broken definition file's DAG; it is no export's, so it records no run.
DEFINITION_ERROR = Step("definition_error", Kind.PLAN, definition_error, records_failure=False)


def run_step(
    name: str, run: RunInfo, *, log: logging.Logger, pii_key: Callable[[], bytes | None]
) -> Any:
    """Run the PLAN step `name` of the run; pii_key() is called only if the export needs it.

    Raises:
        ValueError: `name` is no PLAN step of the export (a bug, not a definition's fault).
    """
    if name == DEFINITION_ERROR.task_id:
        return definition_error(run.export_id)  # run.export_id is the broken file's key
    plan = plan_for(run)
    step = next((s for s in export_steps(plan.export) if s.task_id == name), None)
    if step is None or step.kind is not Kind.PLAN:
        raise ValueError(f"{name!r} is not a step that runs on the plan")
    if step.uses_pii_key:
        from ferry.engine.pii import needs_key

        return step.call(plan, log=log, pii_key=pii_key() if needs_key(plan.columns) else None)
    return step.call(plan, log=log)


# --- A group: its members' steps in order, each gated on the one before, then a summary


def summarize_group(
    group_id: str, run_id: str, export_ids: list[str], *, link: str, log: logging.Logger
) -> record.GroupSummary:
    """The summary of a group run: each member's record, the outcome, the one notice."""
    members = [RunInfo(export_id, run_id, group_id=group_id) for export_id in export_ids]
    group = current_project().groups.get(group_id)
    group_run_id = RunInfo(group_id, run_id).job_run_id
    return record.summarize_group(group, group_run_id, members, link=link, log=log)


START = Step("start", Kind.GATE, backoff=False, records_failure=False)
# after finalize, whatever happened: the next member runs after this one's failure too
DONE = Step("done", Kind.GATE, None, ("finalize",), backoff=False, trigger_rule="all_done",
            records_failure=False)  # fmt: skip


@dataclass(frozen=True)
class Member:
    """One export inside a group run.

    Attributes:
        export_id: The export, also the id of its TaskGroup.
        previous: The member before it: its duration counts from that one's end.
        continue_on_failure: The next member runs even if this one fails.
        after: The previous member's tasks (group-wide ids) its start waits for.
        steps: start, the export's own steps, then done if continue_on_failure.
    """

    export_id: str
    previous: str | None
    continue_on_failure: bool
    after: tuple[str, ...]
    steps: tuple[Step, ...]

    @property
    def start(self) -> str:
        """The task that begins the member (group-wide id)."""
        return f"{self.export_id}.{self.steps[0].task_id}"

    @property
    def finish(self) -> str:
        """The task that ends the member (group-wide id): done, or finalize."""
        return f"{self.export_id}.{self.steps[-1].task_id}"

    @property
    def gate(self) -> tuple[str, ...]:
        """What the next member's start waits for (group-wide ids).

        With continue_on_failure, done AND start: the next member runs after a success,
        failure or skip of this one, never when the chain stopped before reaching it.
        """
        if self.continue_on_failure:
            return (self.start, self.finish)
        return (self.finish,)


@dataclass(frozen=True)
class GroupRun:
    """A group's run: its members in order, then one summary after the last."""

    group_id: str
    members: tuple[Member, ...]
    summary: Step


def group_run(
    group: GroupSpec, exports: Mapping[str, ExportSpec], steps_of: Callable | None = None
) -> GroupRun:
    """The description of a group run: a.start -> a's steps -> b.start -> ... -> summary;
    steps_of(member) gives an import member's steps (ferry.pipeline_imports.group_run)."""
    members: list[Member] = []
    for spec in group.members:
        before = members[-1] if members else None
        steps = steps_of(spec) if steps_of else export_steps(exports[spec.job])
        members.append(
            Member(
                export_id=spec.job,
                previous=before.export_id if before else None,
                continue_on_failure=spec.continue_on_failure,
                after=before.gate if before else (),
                steps=_member_steps(steps, spec.continue_on_failure),
            )
        )
    summary = Step("summary", Kind.SUMMARY, summarize_group, (members[-1].finish,),
                   backoff=False, trigger_rule="all_done", records_failure=False)  # fmt: skip
    return GroupRun(group.id, tuple(members), summary)


def _member_steps(steps: tuple[Step, ...], continue_on_failure: bool) -> tuple[Step, ...]:
    first, *rest = steps
    steps = (START, replace(first, upstreams=(START.task_id,)), *rest)
    return (*steps, DONE) if continue_on_failure else steps


# --- Helpers of the steps


def _destination(plan: ExportPlan, name: str):
    for destination in plan.export.destinations:
        if destination.label == name:
            return destination
    names = ", ".join(d.label for d in plan.export.destinations)
    raise ExportRejected(
        f"export '{plan.export.id}' has no destination '{name}' now (it has: {names}); "
        "its definition changed after the run started: start a new run"
    )


def _staged_manifest(run: RunInfo, log):
    """The manifest of what the run had staged before it stopped, if it got that far."""
    try:
        return staging.staged_manifest(plan_for(run))
    except (ExportRejected, staging.StagingError) as error:  # the reason it failed, likely
        log.warning("The staged manifest cannot be read: %s", error)
        return None


@contextlib.contextmanager
def _then(action: Callable[[], None], log: logging.Logger) -> Iterator[None]:
    """Call action after the block, also when it fails; then action's own error is only logged."""
    try:
        yield
    except BaseException:
        try:
            action()
        except Exception as error:
            log.warning("%s", error)
        raise
    action()
