"""Commands that work on this machine without a scheduler: preview, run --local, warehouse."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import logging

from ferry import checks, paths, steps
from ferry.exceptions import ExportRejected, ExportSkipped
from ferry.plan import RunInfo

log = logging.getLogger("ferry")


def register(subparsers) -> None:
    preview = subparsers.add_parser("preview", help="dry run: eligibility, size, first rows")
    preview.add_argument("export")
    _add_run_options(preview)
    preview.add_argument("--rows", type=int, default=10, help="sample rows to show")
    preview.set_defaults(handler=run_preview)
    run = subparsers.add_parser("run", help="run an export once, here and now")
    run.add_argument("export")
    _add_run_options(run)
    run.add_argument("--local", action="store_true", help="in this process (no scheduler)")
    run.set_defaults(handler=run_local)
    # `ferry warehouse ...` is handed to ferry.warehouse.main (see ferry.cli.main)
    subparsers.add_parser("warehouse", help="build the demo warehouse (ferry warehouse --help)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--date", type=dt.date.fromisoformat, help="the day to export (interval)")
    parser.add_argument("--from", dest="date_from", type=dt.date.fromisoformat)
    parser.add_argument("--to", dest="date_to", type=dt.date.fromisoformat)
    parser.add_argument("--ids", type=lambda text: text.split(","), default=[], help="a,b,c")


def local_run_info(args: argparse.Namespace, prefix: str) -> RunInfo:
    """A run of one day (--date) or of a date range, started from the command line."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = args.date or (now - dt.timedelta(days=1)).date()
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return RunInfo(
        export_id=args.export,
        run_id=f"{prefix}__{start.isoformat()}" if args.date else f"{prefix}__{now.isoformat()}",
        logical_date=start,
        data_interval_start=start,
        data_interval_end=start + dt.timedelta(days=1),
        date_from=args.date_from,
        date_to=args.date_to,
        ids=tuple(args.ids),
        triggered_by=f"{getpass.getuser()} (cli)",
    )


def run_preview(args: argparse.Namespace) -> int:
    """Eligibility, rows, files and bytes against the limits, and the first rows as written.

    Sends nothing and records nothing. Exit code 0 when a run would go ahead (warnings
    included), 1 when it would fail eligibility or be skipped over a limit, 2 when the
    export is not defined.
    """
    import sys

    from ferry.render.operators import pii_key

    try:
        plan = steps.plan_for(local_run_info(args, "preview"))
    except ExportRejected as rejected:
        print(f"error: {rejected}", file=sys.stderr)
        return 2
    key = pii_key() if any(c.pii for c in plan.columns) else None
    outcome = checks.preview(plan, warehouse=paths.warehouse_path(), pii_key=key, rows=args.rows)
    print(outcome.report())
    return 0 if outcome.would_run else 1


def run_local(args: argparse.Namespace) -> int:
    """Every step of the DAG in order, in this process, with the same code the tasks run."""
    from ferry.render.operators import pii_key

    if not args.local:
        from ferry.cli import remote

        return remote.trigger(args)
    run = local_run_info(args, "local")
    started = dt.datetime.now(dt.UTC)
    try:
        for name in ("check_eligibility", "check_limits", "extract", "validate"):
            steps.run_step(name, run, log=log, pii_key=pii_key)
    except (ExportRejected, ExportSkipped) as stop:
        log.error("%s: %s", type(stop).__name__, stop)
        return 1
    export = steps.plan_for(run).export
    receipts = [
        steps.deliver(run, d.name or d.type, run.template_vars(), 1, log=log)
        for d in export.destinations
    ]
    record = steps.finalize(run, receipts, started, log=log)
    print(json.dumps({k: record[k] for k in ("job_run_id", "outcome", "rows", "files", "bytes")}))
    return 0
