"""One benchmark case, run in its own process by bench/run.py (which measures it).

Usage: python bench/cases.py TOOL FORMAT --warehouse W --out DIR
Prints one JSON line: {"rows": ..., "bytes": ..., "files": ...}.
TOOL phases or waits: where Ferry's time goes (the steps alone; who waits for whom).
       python bench/cases.py build --rows N --warehouse W   (builds the table)
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

PII_KEY = b"bench-pii-key-not-a-secret"
FIELDS = ["profile_id", "email", "city", "state", "country", "lifetime_value", "loyalty_tier",
          "updated_at"]  # fmt: skip
WINDOW = (dt.date(2026, 1, 1), dt.date(2026, 9, 9))  # about half of the generated rows
ROWS_PER_FILE = 100_000
FORMATS = {
    "csv_gzip": {"type": "csv", "compression": "gzip"},
    "csv": {"type": "csv", "compression": "none"},
    "parquet": {"type": "parquet", "compression": "zstd"},
    "jsonl": {"type": "jsonl", "compression": "none"},
}
COPY_OPTIONS = {
    "csv_gzip": "FORMAT csv, HEADER, COMPRESSION gzip, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ'",
    "csv": "FORMAT csv, HEADER, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ'",
    "parquet": "FORMAT parquet, COMPRESSION zstd",
    "jsonl": "FORMAT json, TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%SZ'",
}
FLOOR_BATCH_ROWS = 100_000
EXTENSIONS = {"csv_gzip": "csv.gz", "csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}


def bench_plan(format_name: str, staging: Path, dialect=None):
    """The benchmark export as a Ferry plan: 8 fields, email hashed, half the rows; in
    dialect's SQL (DuckDB's by default; bench/postgres_cases.py passes Postgres')."""
    from ferry.plan import build_plan
    from ferry.run_info import RunInfo
    from ferry.spec import models
    from ferry.spec.loader import load_project
    from ferry.sql import DUCKDB
    from ferry.staging import run_location

    project = load_project(ROOT / "include")
    spec = models.ExportSpec.model_validate({
        "id": "bench_profiles", "name": "Benchmark", "source": {"table": "customer_profile"},
        "fields": FIELDS, "pii": {"email": "hash"},
        "filters": {"date_column": "updated_at",
                    "date_range": {"start": WINDOW[0], "end": WINDOW[1]}},
        "format": {**FORMATS[format_name], "rows_per_file": ROWS_PER_FILE},
        "destinations": [{"type": "download"}],
    })  # fmt: skip
    project.exports[spec.id] = spec
    run = RunInfo(export_id=spec.id, run_id="bench__1")
    location = run_location(str(staging), spec.id, run.safe_run_id)
    return build_plan(project, spec.id, run, location, dialect or DUCKDB)


def run_ferry(format_name: str, warehouse: Path, out: Path) -> dict:
    from ferry.engine import extract

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    plan = bench_plan(format_name, out)
    manifest = extract(plan, source=warehouse, pii_key=PII_KEY)
    return {"rows": manifest.rows, "bytes": manifest.bytes, "files": len(manifest.data_files)}


def copy_query(plan) -> tuple[str, list]:
    """The same rows, columns, HMAC and order as Ferry, as one SELECT for COPY and pandas."""
    from ferry.engine.query import typed_select
    from ferry.sql import quote

    inner = typed_select(plan, PII_KEY)
    names = ", ".join(f"{quote(f'c{i}')} AS {quote(c.name)}" for i, c in enumerate(plan.columns))
    return f"SELECT {names} FROM ({inner.text}) ORDER BY __ferry_key", list(inner.params)


def run_duckdb(format_name: str, warehouse: Path, out: Path) -> dict:
    """DuckDB COPY TO one file: what a user of DuckDB would write (the HMAC in SQL).

    FERRY_NATIVE_HMAC=on gives COPY Ferry's C HMAC too, to see what the rest is worth.
    """
    import duckdb

    os.environ.setdefault("FERRY_NATIVE_HMAC", "off")
    from ferry.engine import hmac_native

    plan = bench_plan(format_name, out)
    text, params = copy_query(plan)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"copy.{EXTENSIONS[format_name]}"
    with duckdb.connect(str(warehouse), read_only=True, config={"threads": 2}) as con:
        if hmac_native.available():
            hmac_native.register(con)
        copy = f"COPY ({text}) TO '{target}' ({COPY_OPTIONS[format_name]})"
        rows = con.execute(copy, params).fetchall()[0][0]
    return {"rows": rows, "bytes": target.stat().st_size, "files": 1}


def run_pandas(format_name: str, warehouse: Path, out: Path) -> dict:
    """What users hand-write: read the rows into pandas, hash in Python, to_csv in chunks."""
    import duckdb

    plan = bench_plan(format_name, out)
    columns = ", ".join(f'"{name}"' for name in FIELDS)
    where = plan.where
    text = f"SELECT {columns} FROM customer_profile WHERE {where.text} ORDER BY profile_id"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frame = con.execute(text, list(where.params)).df()
    frame["email"] = frame["email"].map(
        lambda v: None if v is None else hmac.new(PII_KEY, v.encode(), hashlib.sha256).hexdigest()
    )
    frame["updated_at"] = frame["updated_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for part, start in enumerate(range(0, len(frame), ROWS_PER_FILE), start=1):
        target = out / f"pandas_{part:05d}.csv.gz"
        frame.iloc[start : start + ROWS_PER_FILE].to_csv(target, index=False, compression="gzip")
        total += target.stat().st_size
    return {"rows": len(frame), "bytes": total, "files": part}


def run_floor(format_name: str, warehouse: Path, out: Path) -> dict:
    """The floor: the time DuckDB needs just to produce the rows. The same SELECT as COPY's
    (same HMAC, Ferry's C one when built, same order) as Arrow batches that are dropped."""
    import duckdb

    from ferry.engine import hmac_native

    plan = bench_plan(format_name, out)
    text, params = copy_query(plan)
    rows = 0
    with duckdb.connect(str(warehouse), read_only=True, config={"threads": 2}) as con:
        if hmac_native.available():
            hmac_native.register(con)
        for batch in con.sql(text, params=params).to_arrow_reader(FLOOR_BATCH_ROWS):
            rows += batch.num_rows
    return {"rows": rows, "bytes": 0, "files": 0}


def phases(format_name: str, warehouse: Path, out: Path) -> dict:
    """Where Ferry's time goes beyond the floor: each step alone, in this one process, with
    wall and CPU (all threads); printed to stderr. format_name: the extract's, last line."""
    import resource
    import time

    import duckdb

    from ferry.engine import extract, hmac_native, query
    from ferry.engine.read import open_reader

    def timed(label: str, work) -> None:
        cpu, started = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), time.perf_counter()
        rows = work()
        wall = time.perf_counter() - started
        cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu
        print(f"{label:<56}{rows:>11,}{wall:>8.2f} s{cpu:>7.2f} CPU-s", file=sys.stderr)

    def duckdb_select(text: str, params: list) -> int:
        with duckdb.connect(str(warehouse), read_only=True, config={"threads": 2}) as con:
            hmac_native.register(con)
            reader = con.sql(text, params=params).to_arrow_reader(FLOOR_BATCH_ROWS)
            return sum(batch.num_rows for batch in reader)

    def ferry_read(fmt: str) -> int:
        plan = bench_plan(fmt, out)
        with open_reader(plan, warehouse) as reader:
            select = query.output_select(plan, PII_KEY, reader.relation)
            batches = query.read_batches(reader, select, query.key_slices(reader.stats()))
            return sum(batch.num_rows for batch in batches)

    text, params = copy_query(bench_plan(format_name, out))
    timed("floor: the SELECT, ORDER BY the key, Arrow dropped", lambda: duckdb_select(text, params))
    unordered = text.rsplit(" ORDER BY ", 1)[0]
    timed("  the same without ORDER BY", lambda: duckdb_select(unordered, params))
    timed("Ferry's read: typed columns, key slices as stored", lambda: ferry_read("parquet"))
    timed("  + CSV lines rendered by DuckDB", lambda: ferry_read("csv"))
    timed("  + JSON lines rendered by DuckDB (instead)", lambda: ferry_read("jsonl"))
    plan = bench_plan(format_name, out)
    timed(f"Ferry's whole extract, {format_name}",
          lambda: extract(plan, source=warehouse, pii_key=PII_KEY).rows)  # fmt: skip
    return {"rows": 0, "bytes": 0, "files": 0}


def waits(format_name: str, warehouse: Path, out: Path) -> dict:
    """Who waits for whom in Ferry's extract: seconds each thread spends blocked on the
    reader -> writer queue (the reader: the writer is behind; the writer: DuckDB is), in
    DuckDB's stats scan, starting each slice's query and evicting; printed to stderr."""
    import collections
    import queue
    import resource
    import threading
    import time

    from ferry.engine import extract, query
    from ferry.engine.read import Reader

    spent: dict[tuple[str, str], float] = collections.defaultdict(float)

    def timed(owner, name: str, label: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                thread = threading.current_thread().name
                spent[thread, label] += time.perf_counter() - started

        setattr(owner, name, wrapper)

    timed(queue.Queue, "put", "waiting for the writer (queue full)")
    timed(queue.Queue, "get", "waiting for rows (queue empty)")
    for name, label in (("stats", "stats scan"), ("rows", "starting a slice query"),
                        ("evict", "evicting DuckDB's cache")):  # fmt: skip
        timed(Reader, name, label)
    timed(query, "_as_stored", "reading a slice as stored, whole")
    plan = bench_plan(format_name, out)
    cpu, started = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), time.perf_counter()
    rows = extract(plan, source=warehouse, pii_key=PII_KEY).rows
    wall = time.perf_counter() - started
    cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu
    print(f"extract {format_name}: {wall:.2f} s, {cpu:.2f} CPU-s, load {os.getloadavg()[0]:.1f}",
          file=sys.stderr)  # fmt: skip
    for (thread, label), seconds in sorted(spent.items()):
        print(f"  {thread:<14}{label:<40}{seconds:>7.2f} s", file=sys.stderr)
    return {"rows": rows, "bytes": 0, "files": 0}


RUNNERS = {"ferry": run_ferry, "duckdb": run_duckdb, "pandas": run_pandas, "floor": run_floor,
           "phases": phases, "waits": waits}  # fmt: skip


def build(argv: list[str]) -> None:
    """Build the benchmark's warehouse: bench/run.py runs this in a child (see warehouse())."""
    from ferry_demo.build import build_warehouse

    parser = argparse.ArgumentParser(prog="cases.py build")
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--warehouse", type=Path, required=True)
    args = parser.parse_args(argv)
    args.warehouse.parent.mkdir(parents=True, exist_ok=True)
    build_warehouse(args.warehouse, rows=args.rows, tables=["customer_profile"])


def main() -> None:
    if sys.argv[1:2] == ["build"]:
        return build(sys.argv[2:])
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=sorted(RUNNERS))
    parser.add_argument("format", choices=sorted(FORMATS))
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    result = RUNNERS[args.tool](args.format, args.warehouse, args.out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
