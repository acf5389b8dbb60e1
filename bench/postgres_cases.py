"""One case of the Postgres benchmark, run in its own process by bench/postgres.py.

    python bench/postgres_cases.py load --rows N --uri URI
    python bench/postgres_cases.py ferry csv_gzip --uri URI --out DIR
    python bench/postgres_cases.py pandas csv_gzip --uri URI --out DIR
    python bench/postgres_cases.py phases csv --uri URI --out DIR   # Ferry's read, step by step

`load` creates customer_profile (the DuckDB bench's 8 fields, its rows, the key as primary
key, loaded in key order) from bench/out/warehouse_<N>.duckdb, building that file first
if missing. The others print one JSON line: {"rows": ..., "bytes": ..., "files": ...}.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import shutil
import sys
from pathlib import Path

import cases
from cases import FIELDS, FORMATS, PII_KEY, ROWS_PER_FILE, WINDOW

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

TABLE = "customer_profile"
# The rows every tool exports: Ferry's own date_range filter, spelt out for psql and pandas.
WHERE = f"CAST(updated_at AS DATE) BETWEEN '{WINDOW[0]}' AND '{WINDOW[1]}'"
QUERY = f"SELECT {', '.join(FIELDS)} FROM {TABLE} WHERE {WHERE} ORDER BY profile_id"


def load(rows: int, uri: str) -> dict:
    """The bench's table in Postgres: same rows as the DuckDB bench, in key order."""
    import adbc_driver_postgresql.dbapi as adbc
    import duckdb
    from run import warehouse

    from ferry.spec.loader import load_project
    from ferry.sql import POSTGRES

    spec = load_project(ROOT / "include").tables[TABLE]
    columns = ", ".join(f"{name} {POSTGRES.type_name(spec.columns[name].type)}" for name in FIELDS)
    with duckdb.connect(str(warehouse(rows)), read_only=True) as con:
        stream = con.sql(f"SELECT {', '.join(FIELDS)} FROM {TABLE} ORDER BY profile_id")
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {TABLE} ({columns})")
            loaded = cursor.adbc_ingest(TABLE, stream.to_arrow_reader(100_000), mode="append")
            cursor.execute(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (profile_id)")
            conn.commit()
    return {"rows": loaded, "bytes": 0, "files": 0}


def bench_plan(format_name: str, staging: Path):
    """The DuckDB bench's export (8 fields, email hashed, half the rows) in Postgres SQL."""
    from ferry.sql import POSTGRES

    return cases.bench_plan(format_name, staging, POSTGRES)


def run_ferry(format_name: str, uri: str, out: Path) -> dict:
    from ferry.engine import extract
    from ferry.sources.postgres import PostgresSource

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    plan = bench_plan(format_name, out)
    manifest = extract(plan, source=PostgresSource(uri, "bench_postgres"), pii_key=PII_KEY)
    return {"rows": manifest.rows, "bytes": manifest.bytes, "files": len(manifest.data_files)}


def run_pandas(format_name: str, uri: str, out: Path) -> dict:
    """What users hand-write: read_sql through SQLAlchemy + psycopg, hmac per value,
    to_csv per 100,000 rows."""
    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(uri.replace("postgresql://", "postgresql+psycopg://", 1))
    frame = pd.read_sql(sa.text(QUERY), engine)
    frame["email"] = frame["email"].map(
        lambda v: None if v is None else hmac.new(PII_KEY, v.encode(), hashlib.sha256).hexdigest()
    )
    frame["updated_at"] = frame["updated_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    out.mkdir(parents=True, exist_ok=True)
    gzip = FORMATS[format_name]["compression"] == "gzip"
    total = part = 0
    for part, start in enumerate(range(0, len(frame), ROWS_PER_FILE), start=1):
        target = out / f"pandas_{part:05d}.csv{'.gz' if gzip else ''}"
        chunk = frame.iloc[start : start + ROWS_PER_FILE]
        chunk.to_csv(target, index=False, compression="gzip" if gzip else None)
        total += target.stat().st_size
    return {"rows": len(frame), "bytes": total, "files": part}


def phases(format_name: str, uri: str, out: Path) -> dict:
    """Where Ferry's time goes: each step of its read alone, over every key slice, in
    one snapshot; wall and this process's CPU (all threads). Printed to stderr."""
    import resource
    import time

    from ferry.engine import query
    from ferry.engine.read import ROWS_VIEW, _plain, open_reader, pushed_query
    from ferry.sources.postgres import PostgresSource
    from ferry.sql import Sql, quote

    def timed(label: str, work) -> None:
        cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        started = time.perf_counter()
        rows = work()
        wall, cpu = (
            time.perf_counter() - started,
            sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu,
        )
        print(f"{label:<58}{rows:>11,}{wall:>8.2f} s{cpu:>7.2f} CPU-s", file=sys.stderr)

    def every_slice(read) -> int:
        return sum(batch.num_rows for bounds in slices for batch in read(bounds))

    plan = bench_plan(format_name, out)
    with open_reader(plan, PostgresSource(uri, "bench_postgres")) as reader:
        select = query.output_select(plan, PII_KEY, reader.relation)
        found = reader.stats()
        slices = query.key_slices(found)
        snapshot, plain = reader.snapshot, Sql(f"SELECT * FROM {quote(ROWS_VIEW)}")
        timed("stats: count, min, max of the rows (Postgres scan)", lambda: reader.stats().rows)
        timed(
            f"ADBC: {len(slices)} key slices to Arrow, dropped",
            lambda: every_slice(
                lambda b: _plain(snapshot.query(pushed_query(plan, snapshot, b, None)))
            ),
        )
        timed(
            "+ worker DuckDB scans them (tables.yaml types)",
            lambda: every_slice(lambda b: reader.rows(plain, b)),
        )
        timed(
            "+ HMAC and CSV lines, ordered by the key (Ferry's query)",
            lambda: every_slice(lambda b: reader.rows(query.sliced_query(select, b), b)),
        )
    return {"rows": found.rows, "bytes": 0, "files": 0}


RUNNERS = {"ferry": run_ferry, "pandas": run_pandas, "phases": phases}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tool", choices=[*sorted(RUNNERS), "load"])
    parser.add_argument("format", nargs="?", choices=sorted(FORMATS))
    parser.add_argument("--uri", required=True)
    parser.add_argument("--rows", type=int, help="load: the DuckDB bench's table size")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.tool == "load":
        result = load(args.rows, args.uri)
    else:
        shutil.rmtree(args.out, ignore_errors=True)
        result = RUNNERS[args.tool](args.format, args.uri, args.out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
