"""`ferry history [EXPORT]`: the run records, newest first, from the run-history table.

The table is SQLite at $FERRY_HOME/history.sqlite (table runs), for anyone to query:
    sqlite3 "$FERRY_HOME/history.sqlite" "SELECT * FROM runs WHERE outcome = 'failed'"
`ferry history --downloads [EXPORT or JobID.RunID]` shows the download audit instead (table
downloads): who fetched which delivered file over HTTP, when, and which bytes.
`ferry history --copy-from OLD/history.sqlite` copies one machine's history (runs, download
audit, import ledger) into the history database in use (ferry.history_copy).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ferry import history, history_copy, history_db, history_downloads
from ferry.cli.table import render_table, short_time

COLUMNS = ("RUN", "TRIGGERED BY", "STARTED", "DURATION", "OUTCOME", "ROWS", "FILES", "BYTES",
           "DESTINATIONS", "REASON")  # fmt: skip
DOWNLOAD_COLUMNS = ("AT", "USER", "RUN", "FILE", "BYTES", "RANGE")


def register(subparsers) -> None:
    runs = subparsers.add_parser("history", help="past runs: who, when, rows, where, outcome")
    runs.add_argument(
        "owner", nargs="?", metavar="EXPORT", help="an export's, an import's or a group's id"
    )
    runs.add_argument("--outcome", choices=history.OUTCOMES, help="only runs that ended so")
    runs.add_argument("--limit", type=int, default=20, help="newest runs to show (default 20)")
    runs.add_argument("--json", action="store_true", help="full records, one JSON per line")
    runs.add_argument(
        "--downloads", action="store_true", help="the download audit: who fetched which file"
    )
    runs.add_argument(
        "--copy-from", type=Path, metavar="FILE",
        help="copy a history.sqlite (e.g. one machine's) into the history in use; "
        "rows already there stay",
    )  # fmt: skip
    runs.set_defaults(handler=show_history)


def show_history(args: argparse.Namespace) -> int:
    """Print the records of one export, of one group's runs, or of every export."""
    if args.copy_from:
        return copy_from(args)
    if args.downloads:
        return show_downloads(args)
    records = _records(args.owner, args.limit if not args.outcome else 10_000)
    if args.outcome:
        records = [r for r in records if r.outcome == args.outcome][: args.limit]
    if args.json:
        print("\n".join(json.dumps(vars(record)) for record in records))
        return 0
    if not records:
        print(f"no runs recorded{f' for {args.owner}' if args.owner else ''} "
              f"in {history_db.where()}")  # fmt: skip
        return 0
    print(render_table(COLUMNS, [_row(record) for record in records]))
    return 0


def _records(owner: str | None, limit: int) -> list[history.RunRecord]:
    records = history.list_runs(owner, limit)
    if owner and not records:  # not an export: perhaps a group
        records = history.list_runs(limit=limit, group_id=owner)
    return records


def _row(record: history.RunRecord) -> list:
    where = ", ".join(record.destination_names)
    if record.kind == "import":  # what the load changed in its table
        where += (f": {record.inserted} inserted, {record.updated} updated, "
                  f"{record.deleted} deleted, {record.rejected} rejected")  # fmt: skip
    return [
        record.job_run_id, record.triggered_by, short_time(record.started_at),
        f"{record.duration_s:.1f} s", record.outcome, record.rows, record.files, record.bytes,
        where, record.reason,
    ]  # fmt: skip


def show_downloads(args: argparse.Namespace) -> int:
    """The download audit of one export, one run (JobID.RunID) or all, newest first."""
    if args.outcome:
        print("ferry history: --outcome is about runs, not downloads", file=sys.stderr)
        return 2
    records = history_downloads.list_downloads(args.owner, args.limit)
    if args.json:
        print("\n".join(json.dumps(vars(record)) for record in records))
        return 0
    if not records:
        print(f"no downloads recorded{f' for {args.owner}' if args.owner else ''} "
              f"in {history_db.where()}")  # fmt: skip
        return 0
    rows = [[d.at.replace("T", " ").replace("+00:00", " UTC"), d.username, d.job_run_id,
             d.file, d.bytes, d.range or "all"] for d in records]  # fmt: skip
    print(render_table(DOWNLOAD_COLUMNS, rows))
    return 0


def copy_from(args: argparse.Namespace) -> int:
    """Copy a history.sqlite into the history in use, and say what each table gained."""
    if args.owner or args.outcome or args.downloads or args.json:
        print("ferry history: --copy-from takes no EXPORT, --outcome, --downloads or --json",
              file=sys.stderr)  # fmt: skip
        return 2
    copied = history_copy.copy_history(args.copy_from)
    print(f"Copied {args.copy_from} into {history_db.where()}:")
    rows = [[c.table, c.found, c.added, c.already_there] for c in copied]
    print(render_table(("TABLE", "IN FILE", "COPIED", "ALREADY THERE"), rows))
    return 0
