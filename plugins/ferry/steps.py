"""The steps of an export run, as plain functions the Airflow operators and the CLI call.

No Airflow import here: a step gets a RunInfo and a logger, reads the definitions, and
calls the engine, a check or a delivery. Steps that stop a run raise ExportSkipped (nothing to do,
not an error) or ExportRejected (the definition cannot run as it stands); whether any other
error is worth another try is decided in one place, ferry.exceptions.kind_of.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from ferry import history, paths, staging
from ferry.checks import check_eligibility, check_limits
from ferry.definitions import current_project
from ferry.exceptions import ExportRejected
from ferry.manifest import read_manifest
from ferry.plan import ExportPlan, build_plan
from ferry.run_info import RunInfo
from ferry.run_params import check_ids_for_key

KEYED_ACTIONS = ("hash", "tokenize")  # PII actions that need the ferry_pii key


def plan_for(run: RunInfo) -> ExportPlan:
    """The run's plan, after checking its ids against the export's key.

    Raises:
        ExportRejected: The export is not defined (or has errors).
        BadRunParams: An id is not a value of the key's type.
    """
    project = current_project()
    if run.export_id not in project.exports:
        raise ExportRejected(f"export '{run.export_id}' is not defined or has errors")
    location = staging.run_location(paths.staging_root(), run.export_id, run.safe_run_id)
    plan = build_plan(project, run.export_id, run, location)
    if run.ids:
        check_ids_for_key(run.ids, plan.key, project.tables[plan.table].columns[plan.key].type)
    return plan


def run_step(name: str, run: RunInfo, *, log: logging.Logger, pii_key: Callable) -> Any:
    """Run one named step; pii_key is called only when the export hashes or tokenizes."""
    if name == "definition_error":
        return definition_error(run.export_id)
    plan = plan_for(run)
    if name == "extract":
        keyed = any(column.pii and column.pii.action in KEYED_ACTIONS for column in plan.columns)
        return extract(plan, log=log, pii_key=pii_key() if keyed else None)
    steps = {
        "check_eligibility": check_eligibility,
        "check_limits": check_limits,
        "validate": validate,
    }
    return steps[name](plan, log=log)


def extract(plan: ExportPlan, *, log: logging.Logger, pii_key: bytes | None) -> dict:
    """Stream the rows into staged, chunked files and a manifest."""
    from ferry import engine

    manifest = engine.extract(plan, warehouse=paths.warehouse_path(), pii_key=pii_key, log=log)
    staging.publish(plan, manifest, log=log)  # nothing to do when staging is local
    if plan.excluded_pii:
        log.info("PII columns left out (no pii rule given): %s", ", ".join(plan.excluded_pii))
    where = {"staging_url": plan.staging_url} if plan.staging_url else {}
    return {
        "staging_dir": str(plan.staging_dir),
        **where,
        "rows": manifest.rows,
        "files": len(manifest.data_files),
        "bytes": manifest.bytes,
    }


@contextlib.contextmanager
def _then(action: Callable[[], None], log: logging.Logger):
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
    from ferry.delivery import DeliveryContext
    from ferry.delivery import deliver as send

    plan = plan_for(run)
    destination = _destination(plan, destination_name)
    context = DeliveryContext(
        export=plan.export,
        run=run,
        template_vars={
            **template_vars,
            "export_id": run.export_id,
            "export_name": plan.export.name,
        },
        try_number=try_number,
    )
    folder = staging.fetch(plan, log=log)
    # what a delivery keeps beside the run (webhook rejects) outlives this worker
    kept = f"deliveries/{destination_name}"
    with _then(lambda: staging.publish_folder(plan, kept, log=log), log):
        return asdict(send(destination, folder, context, log=log))


def _destination(plan: ExportPlan, name: str):
    for destination in plan.export.destinations:
        if destination.label == name:
            return destination
    names = ", ".join(d.label for d in plan.export.destinations)
    raise ExportRejected(
        f"export '{plan.export.id}' has no destination '{name}' now (it has: {names}); "
        "its definition changed after the run started: start a new run"
    )


def finalize(
    run: RunInfo,
    receipts: list[dict],
    started_at: dt.datetime | None,
    *,
    log,
    group_run_id: str = "",
    log_url: str = "",
    notify: bool = True,
) -> dict:
    """Record a delivered run (who, when, rows, files, bytes, digests, where) and notify.

    Args:
        run: The run.
        receipts: What each destination received.
        started_at: When the run (or, in a group, this member) started.
        log: The task's logger: it gets the same one-line summary as the record.
        group_run_id: GroupID.RunID when the export runs as a member of a group.
        log_url: The run in the Airflow UI, for the record and the notification.
        notify: False in a group, whose summary sends one message for all members.
    """
    plan = plan_for(run)
    manifest = staging.read_staged_manifest(plan)
    record = history.RunRecord.from_manifest(
        run, manifest, receipts, started_at=started_at, finished_at=_utc_now(),
        group_run_id=group_run_id, log_url=log_url,
    )  # fmt: skip
    history.record_run(record)
    log.info("%s", record.summary())
    if notify:
        _notify(plan.export, record, log)
    return asdict(record)


def finalize_failed(
    run: RunInfo,
    reason: str,
    started_at: dt.datetime | None,
    *,
    log,
    outcome: str = "failed",
    group_run_id: str = "",
    log_url: str = "",
    notify: bool = True,
) -> history.RunRecord:
    """Record a run that failed (or was stopped) with its reason and what it had staged."""
    export = current_project().exports.get(run.export_id)
    record = history.RunRecord.ended(
        run, outcome, reason, started_at=started_at, finished_at=_utc_now(),
        manifest=_staged_manifest(run, log) if export else None,
        group_run_id=group_run_id, log_url=log_url,
    )  # fmt: skip
    history.record_run(record)
    log.error("%s", record.summary())
    if notify and export:
        _notify(export, record, log)
    return record


def _staged_manifest(run: RunInfo, log):
    """The manifest of what the run had staged before it stopped, if it got that far."""
    try:
        return staging.staged_manifest(plan_for(run))
    except (ExportRejected, staging.StagingError) as error:  # the reason it failed, likely
        log.warning("The staged manifest cannot be read: %s", error)
        return None


def _notify(export, record: history.RunRecord, log) -> None:
    from ferry import notify

    targets = notify.targets_for(export.notify, record.outcome)
    if targets:
        notice = notify.run_notice(record, export.name, record.log_url or "-")
        notify.send(targets, notice, log=log)


def definition_error(file_key: str) -> None:
    """The task of a broken definition's DAG: fail with the errors that keep it from loading."""
    errors = current_project().broken.get(file_key)
    if not errors:
        raise ExportRejected(f"{file_key} now loads; its DAG is replaced on the next parse")
    raise ExportRejected("The definition did not load:\n" + "\n".join(map(str, errors)))


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
