"""Benchmark Ferry's import: a CSV merged into a big table, on DuckDB and on Postgres.

    .venv/bin/python bench/imports.py                         # 1M-row CSV into 10M rows
    .venv/bin/python bench/imports.py --table 1000000 --file 100000   # a fast check
    .venv/bin/python bench/imports.py --only duckdb           # skip Postgres

The CSV's keys are half in the table (updated) and half new (inserted). Every case runs
in its own process (this file again, `case NAME`), measured by os.wait4 (wall, CPU, peak
RSS of that process); tables are reset between cases, untimed. The floors are what a user
would write by hand with no checks: DuckDB's MERGE and INSERT OR REPLACE straight from
read_csv (DuckDB's defaults: every core, no memory limit), and psql's \\copy into a
temporary table + INSERT ... ON CONFLICT in one transaction. See bench/README.md, "Imports".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out" / "imports"
COLUMNS = {"lead_id": "BIGINT", "email": "VARCHAR", "city": "VARCHAR",
           "score": "DECIMAL(10,2)", "signed_up": "DATE", "updated_at": "TIMESTAMP"}  # fmt: skip
ROW_SQL = (
    "SELECT i AS lead_id, 'user' || i || '@example.org' AS email, "
    "['Paris', 'Lyon', 'Oslo', 'Lima'][1 + i % 4] AS city, "
    "CAST((i % 100000) / 100 AS DECIMAL(10,2)) AS score, "
    "DATE '2020-01-01' + CAST(i % 2000 AS INTEGER) AS signed_up, "
    "TIMESTAMP '2026-01-01' + to_seconds(i % 86400) AS updated_at FROM range(?, ?) AS t(i)"
)
CASES = {
    "duckdb": ["ferry-duckdb", "duckdb-merge", "duckdb-insert-or-replace"],
    "postgres": ["ferry-postgres", "psql-copy-upsert"],
}
FLOORS = {"ferry-duckdb": "duckdb-merge", "ferry-postgres": "psql-copy-upsert"}


# ---- the cases (children): heavy imports inside, so the parent stays small ----


def case_ferry(args: argparse.Namespace) -> dict:
    import hashlib
    import logging

    sys.path.insert(0, str(ROOT / "plugins"))
    from ferry.imports.load import load
    from ferry.imports.local_file import LocalFile
    from ferry.spec.catalogues import TableSpec
    from ferry.spec.imports import ImportSpec

    csv = Path(args.csv)
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()
    table = TableSpec.model_validate({
        "key": "lead_id", "connection": args.connection, "name": "lead",
        "columns": {name: {"type": kind} for name, kind in COLUMNS.items()},
    })  # fmt: skip
    spec = ImportSpec.model_validate({
        "id": "bench", "name": "bench", "source": {"type": "folder", "pattern": "*.csv"},
        "table": "lead", "mode": "merge",
    })  # fmt: skip
    folder = Path(args.work)
    file = LocalFile(csv, csv.name, csv.stat().st_size, digest)
    import airflow.sdk  # noqa: F401 - loaded in a task already; timed apart from the load

    started = time.perf_counter()
    result = load(spec, table, [file], folder, run_key=f"bench.{time.time_ns()}",
                  log=logging.getLogger("bench"))  # fmt: skip
    return {"rows": result.rows_read, "inserted": result.inserted, "updated": result.updated,
            "load_s": time.perf_counter() - started}  # fmt: skip


def case_duckdb(args: argparse.Namespace, statement: str) -> dict:
    import duckdb

    types = "{" + ", ".join(f"'{n}': '{t}'" for n, t in COLUMNS.items()) + "}"
    source = f"read_csv(?, header = true, columns = {types})"
    others = ", ".join(f"{n} = s.{n}" for n in COLUMNS if n != "lead_id")
    names = ", ".join(COLUMNS)
    values = ", ".join(f"s.{n}" for n in COLUMNS)
    sql = {
        "merge": (
            f"MERGE INTO lead USING {source} AS s ON (lead.lead_id = s.lead_id) "
            f"WHEN MATCHED THEN UPDATE SET {others} "
            f"WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
        ),
        "replace": f"INSERT OR REPLACE INTO lead SELECT * FROM {source}",
    }[statement]
    started = time.perf_counter()
    with duckdb.connect(args.warehouse) as con:
        rows = con.execute(sql, [args.csv]).fetchall()[0][0]
    return {"rows": rows, "load_s": time.perf_counter() - started}


def psql_script(csv: Path) -> str:
    others = ", ".join(f"{n} = EXCLUDED.{n}" for n in COLUMNS if n != "lead_id")
    return (
        "BEGIN;\nCREATE TEMP TABLE staged (LIKE lead);\n"
        f"\\copy staged FROM '{csv}' csv header\n"
        f"INSERT INTO lead SELECT * FROM staged ON CONFLICT (lead_id) DO UPDATE SET {others};\n"
        "COMMIT;\n"
    )


def prepare(table_rows: int, file_rows: int) -> None:
    """Build the cached base table and CSV (in a child: the parent must stay small)."""
    csv_file(table_rows, file_rows)
    duckdb_base(table_rows)


def run_case(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    for option in ("--csv", "--warehouse", "--work", "--connection"):
        parser.add_argument(option)
    args = parser.parse_args(argv)
    if args.name.startswith("ferry-"):
        result = case_ferry(args)
    else:
        result = case_duckdb(args, "merge" if args.name == "duckdb-merge" else "replace")
    print(json.dumps(result))


# ---- the driver: data, resets, measures ----


def duckdb_base(table_rows: int) -> Path:
    path = OUT / f"lead_{table_rows}.duckdb"
    if not path.exists():
        import duckdb

        print(f"building {path.name} ...", flush=True)
        ddl = ", ".join(f"{n} {t}" for n, t in COLUMNS.items())
        with duckdb.connect(str(path)) as con:
            con.execute(f"CREATE TABLE lead ({ddl}, PRIMARY KEY (lead_id))")
            con.execute(f"INSERT INTO lead {ROW_SQL}", [0, table_rows]).fetchall()
    return path


def csv_file(table_rows: int, file_rows: int) -> Path:
    """file_rows rows: the first half updates keys of the table, the second half is new."""
    path = OUT / f"file_{table_rows}_{file_rows}.csv"
    if not path.exists():
        import duckdb

        start = table_rows - file_rows // 2
        with duckdb.connect() as con:
            rel = con.sql(ROW_SQL.replace("'user'", "'new'"), params=[start, start + file_rows])
            rel.write_csv(str(path), header=True)
    return path


def run_child(command: list[str], env: dict | None = None) -> tuple[float, float, float, dict]:
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, **(env or {})})
    output = child.stdout.read().decode()
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    lines = output.strip().splitlines()
    result = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, result


class Postgres:
    def __init__(self, table_rows: int) -> None:
        sys.path.insert(0, str(ROOT))
        from tests.postgres_server import PostgresServer

        self.server = PostgresServer().start()
        ddl = ", ".join(
            f"{n} {'TEXT' if t == 'VARCHAR' else 'NUMERIC(10,2)' if t.startswith('DEC') else t}"
            for n, t in COLUMNS.items()
        )
        print("loading the Postgres base table ...", flush=True)
        self.server.execute(
            f"CREATE TABLE lead_base ({ddl}); INSERT INTO lead_base SELECT i, "
            "'user' || i || '@example.org', (ARRAY['Paris','Lyon','Oslo','Lima'])[1 + i % 4], "
            "(i % 100000) / 100.0, DATE '2020-01-01' + (i % 2000)::int, "
            f"TIMESTAMP '2026-01-01' + make_interval(secs => i % 86400) "
            f"FROM generate_series(0, {table_rows - 1}) AS i"
        )

    def reset(self) -> None:
        self.server.execute(
            "DROP TABLE IF EXISTS lead; CREATE TABLE lead AS TABLE lead_base; "
            "ALTER TABLE lead ADD PRIMARY KEY (lead_id)"
        )
        self.server.execute("VACUUM ANALYZE lead")

    def cpu(self) -> float:
        pid = (self.server.data / "postmaster.pid").read_text().split()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, csv: Path, base: Path, pg: Postgres | None) -> dict:
    work = OUT / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    warehouse = work / "warehouse.duckdb"
    env = {"FERRY_HOME": str(work / "home"), "FERRY_WAREHOUSE": str(warehouse)}
    command = [sys.executable, __file__, "case", name, "--csv", str(csv),
               "--warehouse", str(warehouse), "--work", str(work)]  # fmt: skip
    if pg is None:
        shutil.copy(base, warehouse)
        command += ["--connection", "ferry_warehouse"]
    else:
        pg.reset()
        name_, value = pg.server.connection("pg_bench")
        env[name_] = value
        command += ["--connection", "pg_bench"]
        if name.startswith("psql"):
            (work / "upsert.sql").write_text(psql_script(csv))
            command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", pg.server.uri,
                       "-f", str(work / "upsert.sql")]  # fmt: skip
    server_before = pg.cpu() if pg else 0.0
    wall, cpu, rss, result = run_child(command, env)
    time.sleep(0.2)  # let the postmaster reap the backend
    server = pg.cpu() - server_before if pg else 0.0
    return {"case": name, "wall": wall, "cpu": cpu, "pg_cpu": server, "rss": rss, **result}


def print_row(m: dict, floors: dict[str, dict], file_rows: int) -> None:
    floor = floors.get(FLOORS.get(m["case"], ""))
    vs = f"{floor['wall'] / m['wall']:.2f}x" if floor else ""
    load = f"{m['load_s']:.2f}" if "load_s" in m else "-"
    vs_load = f"{floor['load_s'] / m['load_s']:.2f}x" if floor and "load_s" in floor else ""
    print(f"{m['case']:<26}{m['wall']:>8.2f}{load:>8}{m['cpu']:>7.1f}{m['pg_cpu']:>8.1f}"
          f"{file_rows / m['wall']:>10,.0f}{m['rss']:>8.0f} MiB{vs:>9}{vs_load:>9}",
          flush=True)  # fmt: skip


def main(argv: list[str]) -> int:
    if argv[:1] == ["case"]:
        run_case(argv[1:])
        return 0
    if argv[:1] == ["prepare"]:
        prepare(int(argv[1]), int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=int, default=10_000_000)
    parser.add_argument("--file", type=int, default=1_000_000)
    parser.add_argument("--only", default="duckdb,postgres")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, __file__, "prepare", str(args.table), str(args.file)],
                   check=True)  # fmt: skip
    csv = OUT / f"file_{args.table}_{args.file}.csv"
    base = OUT / f"lead_{args.table}.duckdb"
    size = csv.stat().st_size / 1e6
    print(f"{args.file:,}-row CSV ({size:.0f} MB) merged into {args.table:,} rows; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'case':<26}{'wall s':>8}{'load s':>8}{'CPU s':>7}{'PG CPU':>8}{'rows/s':>10}"
          f"{'peak RSS':>12}{'vs floor':>9}{'(load)':>9}")  # fmt: skip
    for target in args.only.split(","):
        pg = Postgres(args.table) if target == "postgres" else None
        try:
            measured = [measure(name, csv, base, pg) for name in reversed(CASES[target])]
        finally:
            if pg:
                pg.server.cleanup()
        floors = {m["case"]: m for m in measured}
        for m in reversed(measured):
            print_row(m, floors, args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
