"""The end of a run: write its record in the run history and tell the people who asked.

finalize records a delivered run, record_failed one that failed or was stopped, and
summarize_group a group run (its members' records under one GroupID.RunID and one
notification). No Airflow and no plan here: the caller (ferry.pipeline, the group's
summary task) hands over what the run staged, so this module depends on nothing above it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass

from ferry import history
from ferry.manifest import Manifest
from ferry.run_info import RunInfo
from ferry.spec.models import ExportSpec, GroupSpec, ImportSpec

Job = ExportSpec | ImportSpec  # both have a name and a notify list


@dataclass(frozen=True)
class Ending:
    """Where a run ends: when it began, which group run it belongs to, and who hears of it.

    Attributes:
        started_at: When the run (or, in a group, this member) started.
        group_run_id: GroupID.RunID when the export runs as a member of a group.
        log_url: The run in the Airflow UI, for the record and the notification.
        notify: False in a group, whose summary sends one message for all members.
    """

    started_at: dt.datetime | None = None
    group_run_id: str = ""
    log_url: str = ""
    notify: bool = True


def finalize(
    run: RunInfo,
    export: ExportSpec,
    manifest: Manifest,
    receipts: list[dict],
    ending: Ending,
    *,
    log: logging.Logger,
    reason: str = "",
) -> dict:
    """Record a delivered run (who, when, rows, files, bytes, digests, where) and notify.

    The task's logger gets the same one-line summary as the record; reason, when given,
    says what else the run's record should tell (a changes state left uncommitted).
    """
    record = history.RunRecord.from_manifest(
        run, manifest, receipts, started_at=ending.started_at, finished_at=_utc_now(),
        group_run_id=ending.group_run_id, log_url=ending.log_url, reason=reason,
    )  # fmt: skip
    history.record_run(record)
    log.info("%s", record.summary())
    if ending.notify:
        notify_run(export, record, log)
    return asdict(record)


def finalize_import(
    run: RunInfo, spec: ImportSpec, loaded: dict, ending: Ending, *, log: logging.Logger
) -> dict:
    """Record a loaded import run (rows read, inserted, updated, rejected; files) and notify.

    A rerun of a run loaded before loaded nothing: its recipients heard of the load then."""
    record = history.RunRecord.imported(
        run, loaded, started_at=ending.started_at, finished_at=_utc_now(),
        group_run_id=ending.group_run_id, log_url=ending.log_url,
    )  # fmt: skip
    history.record_run(record)
    log.info("%s", record.summary())
    if ending.notify and not loaded["result"].get("already_loaded"):
        notify_run(spec, record, log)
    return asdict(record)


def record_failed(
    run: RunInfo,
    reason: str,
    export: Job | None,
    manifest: Manifest | None,
    ending: Ending,
    *,
    log: logging.Logger,
    outcome: str = "failed",
) -> history.RunRecord:
    """Record a run that failed (or was stopped) with its reason and what it had staged.

    export is None when the export is no longer defined: the record is kept, nobody is told.
    An import (ImportSpec) is recorded as an import run.
    """
    kind = {"kind": "import"} if isinstance(export, ImportSpec) else {}
    record = history.RunRecord.ended(
        run, outcome, reason, started_at=ending.started_at, finished_at=_utc_now(),
        manifest=manifest, group_run_id=ending.group_run_id, log_url=ending.log_url, **kind,
    )  # fmt: skip
    history.record_run(record)
    log.error("%s", record.summary())
    if ending.notify and export is not None:
        notify_run(export, record, log)
    return record


def notify_run(export: Job, record: history.RunRecord, log: logging.Logger) -> None:
    """Send the run's notice to the export's notify list for its outcome, if any."""
    from ferry import notify

    targets = notify.targets_for(export.notify, record.outcome)
    if targets:
        notice = notify.run_notice(record, export.name, record.log_url or "-")
        notify.send(targets, notice, log=log)


@dataclass(frozen=True)
class GroupSummary:
    """A group run as its summary reports it: each member's record (None: did not run)."""

    group_run_id: str
    members: tuple[tuple[str, history.RunRecord | None], ...]

    @property
    def outcome(self) -> str:
        """failed if a member failed; incomplete if one did not run; else empty or success."""
        return group_outcome([record for _, record in self.members])

    @property
    def failures(self) -> str:
        """Each failed member with its reason, for the group run's error."""
        return "; ".join(
            f"{export_id}: {record.reason}"
            for export_id, record in self.members
            if record and record.outcome in ("failed", "stopped")
        )


def group_outcome(records: list[history.RunRecord | None]) -> str:
    """failed if a member failed; incomplete if one did not run; else empty or success."""
    outcomes = [record.outcome if record else "not run" for record in records]
    if any(outcome in ("failed", "stopped") for outcome in outcomes):
        return "failed"
    if any(outcome in ("not run", "skipped") for outcome in outcomes):
        return "incomplete"
    return "empty" if all(outcome == "empty" for outcome in outcomes) else "success"


def summarize_group(
    group: GroupSpec | None,
    group_run_id: str,
    member_runs: list[RunInfo],
    *,
    link: str,
    log: logging.Logger,
) -> GroupSummary:
    """Stamp the members' records with the group run, log each, and send the one notice.

    group is None when the group is no longer defined: the summary is logged, not sent.
    """
    from ferry import notify

    found = [(run.export_id, history.get_run(run.job_run_id)) for run in member_runs]
    history.stamp_group_run([record.job_run_id for _, record in found if record], group_run_id)
    summary = GroupSummary(group_run_id, tuple(found))
    log.info("Group run %s %s", group_run_id, summary.outcome)
    for export_id, record in found:
        log.info("  %s: %s", export_id, record.summary() if record else "did not run")
    targets = notify.targets_for(group.notify, summary.outcome) if group else []
    if targets:
        notice = notify.group_notice(group.name, group_run_id, summary.outcome, found, link)
        notify.send(targets, notice, log=log)
    return summary


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
