"""Commands that work on this machine without a scheduler: preview and run --local.

`ferry run` is declared in ferry.cli.remote, which hands --local to run_local here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging
import sys

from ferry import pipeline, sources
from ferry.cli.run_options import add_run_options
from ferry.exceptions import ExportRejected, ExportSkipped, Terminal, describe, kind_of
from ferry.pii_key import read_pii_key
from ferry.pipeline import Kind
from ferry.preview import preview_run
from ferry.record import Ending
from ferry.run_info import RunInfo
from ferry.run_params import parse_run_params

log = logging.getLogger("ferry")


def register(subparsers) -> None:
    preview = subparsers.add_parser("preview", help="dry run: eligibility, size, first rows")
    preview.add_argument("export")
    add_run_options(preview)
    preview.add_argument("--rows", type=int, default=10, help="sample rows to show")
    preview.set_defaults(handler=run_preview)


def local_run_info(args: argparse.Namespace, prefix: str) -> RunInfo:
    """A run of one day (--date) or of a date range, started from the command line.

    Raises:
        BadRunParams: --from, --to or --ids is not what a run accepts.
    """
    params = parse_run_params(args.date_from, args.date_to, args.ids)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = args.date or (now - dt.timedelta(days=1)).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return RunInfo(
        export_id=args.export,
        run_id=f"{prefix}__{start.isoformat()}" if args.date else f"{prefix}__{now.isoformat()}",
        logical_date=start,
        data_interval_start=start,
        data_interval_end=start + dt.timedelta(days=1),
        date_from=params.date_from,
        date_to=params.date_to,
        ids=params.ids,
        triggered_by=f"{getpass.getuser()} (cli)",
        run_after=now,
    )


def run_preview(args: argparse.Namespace) -> int:
    """Eligibility, rows, files and bytes against the limits, and the first rows as written.

    Sends nothing and records nothing. Exit code 0 when a run would go ahead (warnings
    included), 1 when it would fail eligibility or be skipped over a limit, 2 when the
    export is not defined or a run option is bad.
    """
    try:
        plan = pipeline.plan_for(local_run_info(args, "preview"))
        key = read_pii_key() if _needs_key(plan) else None
        source = sources.source_for(plan.connection)
        outcome = preview_run(plan, source=source, pii_key=key, rows=args.rows)
    except Terminal as error:  # an undefined export, a bad option, no warehouse
        print(f"error: {describe(error)}", file=sys.stderr)
        return 2
    print(outcome.report())
    return 0 if outcome.would_run else 1


def run_local(args: argparse.Namespace) -> int:
    """Every step of the DAG in order, in this process, with the same code the tasks run.

    Exit code 0 when the run delivered, 1 when it failed or was skipped (recorded in the
    run history with the reason, which is the last line on stderr), 2 when the export is
    not defined or a run option is bad (nothing runs, nothing is recorded). An error Ferry
    does not expect (see ferry.exceptions) is recorded too, then shown with its traceback.
    `ferry run` without --local never lands here: ferry.cli.remote.run_command sends it
    to Airflow.
    """
    try:
        run = local_run_info(args, "local")
    except ExportRejected as rejected:
        print(f"error: {rejected}", file=sys.stderr)
        return 2
    return run_one(run, as_json=getattr(args, "json", False))


def run_one(run: RunInfo, *, as_json: bool) -> int:
    """One export's run here (alone, or as a member of a group's run): see run_local."""
    try:
        pipeline.plan_for(run)  # an undefined export or ids of the wrong type: nothing starts
    except ExportRejected as rejected:
        print(f"error: {rejected}", file=sys.stderr)
        return 2
    from ferry.cli.progress_bar import extract_bar  # rich: only for a run here

    started = dt.datetime.now(dt.UTC)
    done = _Progress()
    try:
        with extract_bar(sys.stdout.isatty() and sys.stderr.isatty()):
            record, receipts = _run_steps(run, started, done)
    except ExportSkipped as skipped:  # check_limits recorded why
        print(f"skipped: {skipped}", file=sys.stderr)
        return 1
    except Exception as error:
        # as RecordFailure does for a task: the run is recorded failed with the reason
        reason = f"{done.step} failed: {describe(error)}"
        pipeline.finalize_failed(run, reason, Ending(started_at=started), log=log)
        if kind_of(error) == "unclassified":
            raise  # not an error Ferry expects: its traceback is the way to find the cause
        print(f"error: {reason}", file=sys.stderr)
        return 1
    if as_json:  # for scripts: the record's figures, one JSON line
        print(
            json.dumps({k: record[k] for k in ("job_run_id", "outcome", "rows", "files", "bytes")})
        )
    else:
        print(summary(record, receipts))
    return 0


def summary(record: dict, receipts: list[dict]) -> str:
    """What a person checks after a run: its id, what it wrote and where it went."""
    lines = [
        f"Run {record['job_run_id']}: {record['outcome']}",
        f"  rows       {record['rows']:,}",
        f"  files      {record['files']:,}",
        f"  bytes      {_size(record['bytes'])}",
    ]
    for receipt in receipts:
        lines.append(
            f"  delivered  {receipt['destination']} ({receipt['type']}): {_where(receipt)}"
        )
    return "\n".join(lines)


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit} ({count:,} bytes)"
    return f"{count:,} bytes"


def _where(receipt: dict) -> str:
    """The folder (or URL prefix) of the delivered files, else what the destination said."""
    locations = [f["location"] for f in receipt.get("files") or [] if f.get("location")]
    if not locations:
        return f"{receipt['rows']:,} rows"
    if len(locations) == 1:
        return locations[0]
    return locations[0].rsplit("/", 1)[0] + "/"


class _Progress:
    """The step a local run is at, for the reason of its failure."""

    step = "check_eligibility"


def _needs_key(plan) -> bool:
    from ferry.engine.pii import needs_key  # the engine: only once a plan is made

    return needs_key(plan.columns)


def _run_steps(run: RunInfo, started: dt.datetime, progress: _Progress) -> tuple[dict, list[dict]]:
    """ferry.pipeline's steps in order, one delivery after the other, without the refresh wait.

    Returns the run's record and the deliveries' receipts.
    """
    receipts: list[dict] = []
    for step in pipeline.export_steps(pipeline.plan_for(run).export):
        if step.kind is Kind.WAIT:
            continue  # a run here and now reads the warehouse as it is
        progress.step = step.task_id
        if step.kind is Kind.PLAN:
            pipeline.run_step(step.task_id, run, log=log, pii_key=read_pii_key)
        elif step.kind is Kind.DELIVER:
            receipts.append(step.call(run, step.destination, run.template_vars(), 1, log=log))
        elif step.kind is Kind.FINALIZE:
            return step.call(run, receipts, Ending(started_at=started), log=log), receipts
    raise AssertionError("an export run ends with finalize")
