"""`python -m ferry_demo`: build the deterministic demo warehouse (what `ferry warehouse` did).

scripts/start runs it with --if-missing before it starts Airflow, when the demo is present.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from ferry import paths
from ferry_demo.build import CUSTOMER_PROFILES_BY_SIZE, build_warehouse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ferry_demo", description="Build the deterministic demo warehouse."
    )
    parser.add_argument(
        "--path", type=Path, help="default: $FERRY_WAREHOUSE, else include/warehouse/demo.duckdb"
    )
    parser.add_argument("--size", choices=list(CUSTOMER_PROFILES_BY_SIZE), default="small")
    parser.add_argument("--rows", type=int, help="customer_profile rows; the rest scale with it")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--until",
        type=dt.date.fromisoformat,
        default=dt.datetime.now(dt.UTC).date(),
        help="rows run up to this day (default today: the daily exports find yesterday's rows)",
    )
    parser.add_argument("--tables", help="comma-separated, e.g. customer_profile,lead")
    parser.add_argument(
        "--if-missing", action="store_true", help="do nothing when the file exists (scripts/start)"
    )
    parser.add_argument(
        "--drop-leads", type=dt.date.fromisoformat, metavar="DAY",
        help="only drop the partner's lead file of DAY for the demo import partner_leads",
    )  # fmt: skip
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the warehouse and print each table's rows and the seconds taken."""
    args = parse_args(argv)
    if args.drop_leads:
        from ferry_demo.drop import drop_leads

        print(f"ferry_demo: dropped {drop_leads(args.drop_leads)}")
        return 0
    path = args.path or paths.warehouse_path()
    if args.if_missing and path.exists():
        return 0
    print(f"ferry_demo: building the demo warehouse at {path}", flush=True)
    tables = [name.strip() for name in args.tables.split(",")] if args.tables else None
    started = time.perf_counter()
    try:
        counts = build_warehouse(
            path, size=args.size, rows=args.rows, seed=args.seed, tables=tables, until=args.until
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, count in counts.items():
        print(f"{name:<18}{count:>12,} rows")
    print(f"built {path} in {time.perf_counter() - started:.1f}s")
    return 0
