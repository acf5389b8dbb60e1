"""`ferry history [EXPORT]`: the run records, newest first, from the run-history table.

The table is SQLite at $FERRY_HOME/history.sqlite (table runs), for anyone to query:
    sqlite3 "$FERRY_HOME/history.sqlite" "SELECT * FROM runs WHERE outcome = 'failed'"
"""

from __future__ import annotations

import argparse
import json

from ferry import history
from ferry.cli.table import render_table, short_time

COLUMNS = ("RUN", "TRIGGERED BY", "STARTED", "DURATION", "OUTCOME", "ROWS", "FILES", "BYTES",
           "DESTINATIONS", "REASON")  # fmt: skip


def register(subparsers) -> None:
    runs = subparsers.add_parser("history", help="past runs: who, when, rows, where, outcome")
    runs.add_argument("owner", nargs="?", metavar="EXPORT", help="an export or a group id")
    runs.add_argument("--outcome", choices=history.OUTCOMES, help="only runs that ended so")
    runs.add_argument("--limit", type=int, default=20, help="newest runs to show (default 20)")
    runs.add_argument("--json", action="store_true", help="full records, one JSON per line")
    runs.set_defaults(handler=show_history)


def show_history(args: argparse.Namespace) -> int:
    """Print the records of one export, of one group's runs, or of every export."""
    records = _records(args.owner, args.limit if not args.outcome else 10_000)
    if args.outcome:
        records = [r for r in records if r.outcome == args.outcome][: args.limit]
    if args.json:
        print("\n".join(json.dumps(vars(record)) for record in records))
        return 0
    if not records:
        print(f"no runs recorded{f' for {args.owner}' if args.owner else ''} "
              f"in {history.database_path()}")  # fmt: skip
        return 0
    print(render_table(COLUMNS, [_row(record) for record in records]))
    return 0


def _records(owner: str | None, limit: int) -> list[history.RunRecord]:
    records = history.list_runs(owner, limit)
    if owner and not records:  # not an export: perhaps a group
        records = history.list_runs(limit=limit, group_id=owner)
    return records


def _row(record: history.RunRecord) -> list:
    return [
        record.job_run_id, record.triggered_by, short_time(record.started_at),
        f"{record.duration_s:.1f} s", record.outcome, record.rows, record.files, record.bytes,
        ", ".join(record.destination_names), record.reason,
    ]  # fmt: skip
