"""Benchmark Ferry's extract from PostgreSQL against psql's \\copy and pandas, one command.

    .venv/bin/python bench/postgres.py                  # ~1M and ~5M rows exported
    .venv/bin/python bench/postgres.py --rows 2000000   # ~1M only, a fast check

Starts its own PostgreSQL (tests/postgres_server.py), loads customer_profile from the
DuckDB bench's warehouse (one database per table size), then runs every case in its own
process and prints one table. This process imports nothing heavy and builds nothing
itself: a child's peak RSS counts its image before exec, so children must start from a
small parent (issue 16). See bench/README.md, "Postgres source".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out" / "postgres"
sys.path.insert(0, str(ROOT))

from tests.postgres_server import SUPERUSER, PostgresServer  # noqa: E402

sys.path.insert(0, str(BENCH))
from postgres_cases import QUERY  # noqa: E402  (stdlib imports only at its top)
from run import run_child  # noqa: E402  (likewise)


@dataclass(frozen=True)
class Case:
    label: str
    tool: str  # ferry | psql | pandas
    format: str  # a key of cases.FORMATS


CASES = [
    Case("gzip CSV  ferry", "ferry", "csv_gzip"),
    Case("CSV       ferry", "ferry", "csv"),
    Case("CSV       psql \\copy (floor)", "psql", "csv"),
    Case("gzip CSV  pandas", "pandas", "csv_gzip"),
]


@dataclass(frozen=True)
class Measure:
    rows: int
    files: int
    bytes: int
    wall: float
    cpu: float  # the client process's user + system CPU
    server_cpu: float  # the Postgres backends' CPU during the case
    rss_mib: float  # the client process's peak RSS


class Bench:
    """One Postgres server; one database per table size."""

    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def uri(self, rows: int) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.server.port}/rows_{int(rows)}"

    def load(self, rows: int) -> None:
        started = time.perf_counter()
        self.server.psql("postgres", f"CREATE DATABASE rows_{int(rows)}")
        run(["load", "--rows", str(rows), "--uri", self.uri(rows)])
        self.server.psql(f"rows_{int(rows)}", "VACUUM ANALYZE customer_profile")
        print(f"loaded {rows:,} rows in {time.perf_counter() - started:.0f} s", flush=True)

    def server_cpu(self) -> float:
        """CPU of the postmaster's finished children (each case's backend ends with it)."""
        pid = (self.server.data / "postmaster.pid").read_text().split()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")

    def measure(self, case: Case, rows: int) -> Measure:
        out = OUT / "run" / case.tool / case.format
        shutil.rmtree(out, ignore_errors=True)
        before = self.server_cpu()
        if case.tool == "psql":
            out.mkdir(parents=True)
            command = psql_copy(self.uri(rows), out / "copy.csv")
        else:
            command = case_command(
                case.tool, case.format, "--uri", self.uri(rows), "--out", str(out)
            )
        wall, usage, output = run_child(command, case.label)
        time.sleep(0.2)  # the backend exits after the client; let the postmaster reap it
        server = self.server_cpu() - before
        result = copied(output, out) if case.tool == "psql" else json.loads(output.splitlines()[-1])
        shutil.rmtree(out, ignore_errors=True)
        return Measure(result["rows"], result["files"], result["bytes"], wall,
                       usage.ru_utime + usage.ru_stime, server, usage.ru_maxrss / 1024)  # fmt: skip


def case_command(*args: str) -> list[str]:
    return [sys.executable, str(BENCH / "postgres_cases.py"), *args]


def run(args: list[str]) -> None:
    subprocess.run(case_command(*args), check=True, stdout=subprocess.DEVNULL)


def psql_copy(uri: str, target: Path) -> list[str]:
    """The floor: the same rows and order out of Postgres as CSV, no hashing (psql cannot)."""
    return ["psql", "-X", "-v", "ON_ERROR_STOP=1", uri,
            "-c", f"\\copy ({QUERY}) to '{target}' csv header"]  # fmt: skip


def copied(output: str, out: Path) -> dict:
    """psql prints `COPY n`."""
    rows = int(output.strip().split()[-1])
    return {"rows": rows, "files": 1, "bytes": sum(f.stat().st_size for f in out.iterdir())}


def best_of(bench: Bench, case: Case, rows: int, repeat: int) -> Measure:
    runs = [bench.measure(case, rows) for _ in range(repeat)]
    return min(runs, key=lambda m: m.wall)


def ratio(results: dict, case: Case, rows: int, tool: str, fmt: str) -> str:
    peer = next((c for c in CASES if c.tool == tool and c.format == fmt), None)
    if case.tool != "ferry" or (peer, rows) not in results:
        return ""
    return f"{results[peer, rows].wall / results[case, rows].wall:.2f}x"


def print_table(results: dict[tuple[Case, int], Measure]) -> None:
    header = (f"{'case':<30}{'table':>5}{'rows':>11}{'files':>6}{'MB out':>7}{'wall s':>7}"
              f"{'CPU s':>6}{'PG CPU':>7}{'rows/s':>10}{'peak RSS':>10}{'vs psql':>8}"
              f"{'vs pandas':>10}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for (case, rows), m in results.items():
        print(f"{case.label:<30}{rows / 1e6:>4g}M{m.rows:>11,}{m.files:>6}{m.bytes / 1e6:>7.0f}"
              f"{m.wall:>7.2f}{m.cpu:>6.1f}{m.server_cpu:>7.1f}{m.rows / m.wall:>10,.0f}"
              f"{m.rss_mib:>6.0f} MiB{ratio(results, case, rows, 'psql', 'csv'):>8}"
              f"{ratio(results, case, rows, 'pandas', case.format):>10}")  # fmt: skip


def targets(results: dict[tuple[Case, int], Measure], sizes: list[int]) -> list[tuple[str, bool]]:
    """Issue 12's targets at the largest size; flatness against the smallest."""
    by_key = {(c.tool, c.format, rows): m for (c, rows), m in results.items()}
    big, small = max(sizes), min(sizes)
    checks = []
    for fmt in ("csv_gzip", "csv"):
        ferry, floor = by_key.get(("ferry", fmt, big)), by_key.get(("psql", "csv", big))
        if ferry and floor:
            speed = floor.wall / ferry.wall
            checks.append((f"{fmt} >= 0.8x the psql floor: {speed:.2f}x", speed >= 0.8))
    ferry, pandas = by_key.get(("ferry", "csv_gzip", big)), by_key.get(("pandas", "csv_gzip", big))
    if ferry and pandas:
        speed = pandas.wall / ferry.wall
        checks.append((f"gzip CSV >= 5x pandas: {speed:.1f}x", speed >= 5))
    ferry_runs = [m for (tool, _, _), m in by_key.items() if tool == "ferry"]
    if ferry_runs:
        worst = max(m.rss_mib for m in ferry_runs)
        checks.append((f"Ferry's peak RSS <= 600 MiB: {worst:.0f} MiB", worst <= 600))
    low, high = by_key.get(("ferry", "csv_gzip", small)), by_key.get(("ferry", "csv_gzip", big))
    if low and high and big != small:
        flat = high.rss_mib / low.rss_mib
        checks.append((f"RSS at {big:,} within 20% of {small:,}: {flat:.2f}x", flat <= 1.2))
    return checks


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="2000000,10000000",
                        help="table sizes, comma-separated; about half is exported")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per case")
    parser.add_argument("--only", help="comma-separated tools, e.g. ferry,psql")
    args = parser.parse_args(argv)
    args.sizes = [int(n) for n in args.rows.split(",")]
    args.tools = set(args.only.split(",")) if args.only else {"ferry", "psql", "pandas"}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    server = PostgresServer()
    if server.bin is None:
        raise SystemExit("PostgreSQL is missing: run scripts/setup --system-packages")
    server.start()
    bench = Bench(server)
    try:
        for rows in args.sizes:
            bench.load(rows)
        print(f"query: {QUERY}; email HMAC-hashed by Ferry and pandas, 100,000-row files; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        results = {}
        for rows in args.sizes:
            for case in (c for c in CASES if c.tool in args.tools):
                results[case, rows] = best_of(bench, case, rows, args.repeat)
                print(f"  {case.label} ({rows:,}): {results[case, rows].wall:.2f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
        print_table(results)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        for text, met in targets(results, args.sizes):
            print(f"  [{'met' if met else 'MISSED'}] {text}")
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
