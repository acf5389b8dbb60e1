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

from ferry import paths, steps
from ferry.cli.run_options import add_run_options
from ferry.exceptions import ExportRejected, ExportSkipped, Terminal, describe, kind_of
from ferry.preview import preview_run
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
        plan = steps.plan_for(local_run_info(args, "preview"))
        key = _pii_key() if any(c.pii for c in plan.columns) else None
        outcome = preview_run(plan, warehouse=paths.warehouse_path(), pii_key=key, rows=args.rows)
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
    """
    try:
        run = local_run_info(args, "local")
        steps.plan_for(run)  # an undefined export or ids of the wrong type: nothing starts
    except ExportRejected as rejected:
        print(f"error: {rejected}", file=sys.stderr)
        return 2
    started = dt.datetime.now(dt.UTC)
    done = _Progress()
    try:
        record = _run_steps(run, started, done)
    except ExportSkipped as skipped:  # check_limits recorded why
        print(f"skipped: {skipped}", file=sys.stderr)
        return 1
    except Exception as error:
        # as RecordFailure does for a task: the run is recorded failed with the reason
        reason = f"{done.step} failed: {describe(error)}"
        steps.finalize_failed(run, reason, started, log=log)
        if kind_of(error) == "unclassified":
            raise  # not an error Ferry expects: its traceback is the way to find the cause
        print(f"error: {reason}", file=sys.stderr)
        return 1
    print(json.dumps({k: record[k] for k in ("job_run_id", "outcome", "rows", "files", "bytes")}))
    return 0


class _Progress:
    """The step a local run is at, for the reason of its failure."""

    step = "check_eligibility"


def _pii_key() -> bytes | None:
    from ferry.render.operators import pii_key  # imports Airflow: only for keyed PII

    return pii_key()


def _run_steps(run: RunInfo, started: dt.datetime, progress: _Progress) -> dict:
    for name in ("check_eligibility", "check_limits", "extract", "validate"):
        progress.step = name
        steps.run_step(name, run, log=log, pii_key=_pii_key)
    receipts = []
    for destination in steps.plan_for(run).export.destinations:
        name = destination.label
        progress.step = f"deliver_{name}"
        receipts.append(steps.deliver(run, name, run.template_vars(), 1, log=log))
    progress.step = "finalize"
    return steps.finalize(run, receipts, started, log=log)
