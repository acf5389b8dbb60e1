"""Benchmark Ferry's extract against DuckDB COPY TO and pandas, one command.

    .venv/bin/python bench/run.py              # 10M-row table (~5 min with pandas)
    .venv/bin/python bench/run.py --quick      # 1M rows, a fast check

Builds the customer_profile table (cached in bench/out/) in a child process, then runs
every case in its own process, measuring wall time, CPU time and peak RSS of that process
(os.wait4), and prints one table: each case's time as a multiple of the floor (DuckDB
producing the same rows into Arrow, measured in the same run) and throughput ratios.
See bench/README.md for what each line means.
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
OUT = BENCH / "out"
FLOOR_TARGET = 1.25  # every Ferry case's wall time at most this multiple of the floor's
sys.path.insert(0, str(ROOT / "plugins"))


@dataclass(frozen=True)
class Case:
    label: str
    tool: str  # floor | ferry | duckdb | pandas
    format: str  # a key of cases.FORMATS
    small: bool = False  # on the small table (the memory-flatness check)


CASES = [
    Case("floor: DuckDB SELECT -> Arrow", "floor", "csv"),
    Case("gzip CSV  ferry", "ferry", "csv_gzip"),
    Case("gzip CSV  duckdb COPY", "duckdb", "csv_gzip"),
    Case("gzip CSV  pandas", "pandas", "csv_gzip"),
    Case("CSV       ferry", "ferry", "csv"),
    Case("CSV       duckdb COPY", "duckdb", "csv"),
    Case("Parquet   ferry", "ferry", "parquet"),
    Case("Parquet   duckdb COPY", "duckdb", "parquet"),
    Case("JSONL     ferry", "ferry", "jsonl"),
    Case("JSONL     duckdb COPY", "duckdb", "jsonl"),
    Case("gzip CSV  ferry, small table", "ferry", "csv_gzip", small=True),
]


@dataclass(frozen=True)
class Measure:
    rows: int
    files: int
    bytes: int
    wall: float
    cpu: float
    rss_mib: float
    load: float = 0.0  # the machine's 1-minute load average when the run started


def warehouse(rows: int) -> Path:
    """The cached DuckDB file with a customer_profile table of that many rows.

    Built in a child process: a child's ru_maxrss counts the image of the process it was
    forked from, so every case started from a parent that built the table (~700 MiB)
    reported at least that much. This process imports nothing heavy (issue 16).
    """
    path = OUT / f"warehouse_{rows}.duckdb"
    if not path.exists():
        print(f"building {path.name} ({rows:,} customer profiles) ...", flush=True)
        started = time.perf_counter()
        command = [sys.executable, str(BENCH / "cases.py"), "build", "--rows", str(rows),
                   "--warehouse", str(path)]  # fmt: skip
        subprocess.run(command, check=True)
        print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def run_child(command: list[str], label: str) -> tuple[float, os.struct_rusage, str]:
    """Run a case's process: its wall clock, its own resource usage, its stdout."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = child.stdout.read().decode()  # before waiting: a full pipe would block it
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label} failed; run: {' '.join(command)}")
    return wall, usage, output


def measure(case: Case, table: Path) -> Measure:
    """Run one case in a child process; wall clock, CPU and peak RSS are that child's."""
    out = OUT / "run" / case.tool / case.format
    command = [sys.executable, str(BENCH / "cases.py"), case.tool, case.format,
               "--warehouse", str(table), "--out", str(out)]  # fmt: skip
    load = os.getloadavg()[0]
    wall, usage, output = run_child(command, case.label)
    shutil.rmtree(out, ignore_errors=True)
    result = json.loads(output.strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime
    return Measure(result["rows"], result["files"], result["bytes"], wall, cpu,
                   usage.ru_maxrss / 1024, load)  # fmt: skip


def best_of(cases: list[Case], tables: dict[bool, Path], repeat: int) -> dict[Case, Measure]:
    """Each case's fastest run, with its own RSS. The cases run in turn, repeat rounds, so a
    burst of load on a shared machine does not fall on every run of one case."""
    results: dict[Case, Measure] = {}
    for _ in range(repeat):
        for case in cases:
            run = measure(case, tables[case.small])
            print(f"  {case.label}: {run.wall:.2f} s, {run.cpu:.1f} CPU-s, load {run.load:.1f}",
                  file=sys.stderr, flush=True)  # fmt: skip
            if case not in results or run.wall < results[case].wall:
                results[case] = run
    return results


def peer_of(case: Case, tool: str) -> Case | None:
    return next((c for c in CASES if c.tool == tool and c.format == case.format and not c.small),
                None)  # fmt: skip


def ratio(results: dict[Case, Measure], case: Case, tool: str) -> str:
    """Ferry's throughput over a peer's on the same query: peer wall / Ferry wall."""
    peer = peer_of(case, tool)
    if case.tool != "ferry" or case.small or peer not in results:
        return ""
    return f"{results[peer].wall / results[case].wall:.1f}x"


def floor_of(results: dict[Case, Measure]) -> Measure | None:
    return next((run for case, run in results.items() if case.tool == "floor"), None)


def over_floor(results: dict[Case, Measure], case: Case, measure: str = "wall") -> str:
    """A case's wall time (or CPU time) as a multiple of the floor's (1.00x: as fast as
    producing the rows). CPU time moves less than wall time on a shared machine."""
    floor = floor_of(results)
    if floor is None or case.small or case.tool == "floor":
        return ""
    return f"{getattr(results[case], measure) / getattr(floor, measure):.2f}x"


def print_table(results: dict[Case, Measure]) -> None:
    header = (f"{'case':<30}{'rows':>11}{'files':>6}{'MB out':>9}{'wall s':>8}{'CPU s':>7}"
              f"{'rows/s':>11}{'peak RSS':>10}{'x floor':>9}{'CPU x fl':>9}{'vs COPY':>9}"
              f"{'vs pandas':>10}{'load':>6}")  # fmt: skip
    print(header)
    print("-" * len(header))
    for case, run in results.items():
        print(f"{case.label:<30}{run.rows:>11,}{run.files:>6}{run.bytes / 1e6:>9.0f}"
              f"{run.wall:>8.2f}{run.cpu:>7.1f}{run.rows / run.wall:>11,.0f}"
              f"{run.rss_mib:>7.0f} MiB{over_floor(results, case):>9}"
              f"{over_floor(results, case, 'cpu'):>9}"
              f"{ratio(results, case, 'duckdb'):>9}"
              f"{ratio(results, case, 'pandas'):>10}{run.load:>6.1f}")  # fmt: skip


def targets(results: dict[Case, Measure]) -> list[tuple[str, bool]]:
    """The issue's targets, each with whether this run met it (only those this run measured)."""
    by_key = {(c.tool, c.format, c.small): run for c, run in results.items()}
    floor, checks = floor_of(results), []
    for case, run in results.items():
        if floor and case.tool == "ferry" and not case.small:
            times = run.wall / floor.wall
            checks.append((f"{case.label.split('  ')[0]} within 1.25x of the floor: {times:.2f}x",
                           times <= FLOOR_TARGET))  # fmt: skip
    ferry = by_key.get(("ferry", "csv_gzip", False))
    for peer, label, wanted in (("duckdb", "DuckDB COPY", 5), ("pandas", "pandas", 10)):
        other = by_key.get((peer, "csv_gzip", False))
        if ferry and other:
            speed = other.wall / ferry.wall
            checks.append((f"gzip CSV >= {wanted}x {label}: {speed:.1f}x", speed >= wanted))
    ferry_runs = [run for (tool, _, small), run in by_key.items() if tool == "ferry" and not small]
    if ferry_runs:
        worst = max(run.rss_mib for run in ferry_runs)
        checks.append((f"Ferry's peak RSS <= 600 MiB: {worst:.0f} MiB", worst <= 600))
    small = by_key.get(("ferry", "csv_gzip", True))
    if ferry and small:
        flat = ferry.rss_mib / small.rss_mib
        checks.append((f"RSS within 20% of the small table's: {flat:.2f}x", flat <= 1.2))
    return checks


def busy_note(results: dict[Case, Measure], cores: int) -> str | None:
    """A warning when a counted run started on a machine busier than its cores: its wall
    time (and so its x floor) is the load's, and only CPU seconds compare."""
    busy = [case.label.strip() for case, run in results.items() if run.load > cores]
    if not busy:
        return None
    return (f"  [note] {len(busy)} of {len(results)} counted runs started at a load average "
            f"above {cores} ({', '.join(busy)}): their wall times and x floor are the "
            "load's; compare CPU s and CPU x fl, or run again on a quiet machine")  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="customer profiles")
    parser.add_argument("--small-rows", type=int, help="the flatness table (default rows/10)")
    parser.add_argument("--quick", action="store_true", help="1M rows against 100k")
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per case")
    parser.add_argument("--only", help="comma-separated tools: floor,ferry,duckdb,pandas")
    parser.add_argument("--formats", help="comma-separated formats, e.g. csv_gzip,parquet")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = 1_000_000
    args.small_rows = args.small_rows or args.rows // 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tools = set(args.only.split(",")) if args.only else {"floor", "ferry", "duckdb", "pandas"}
    tables = {False: warehouse(args.rows), True: warehouse(args.small_rows)}
    print(f"{args.rows:,} profiles (small table {args.small_rows:,}); query: half the rows, "
          f"8 fields, email HMAC-hashed, 100,000-row files; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    formats = set(args.formats.split(",")) if args.formats else None
    cases = [c for c in CASES if c.tool in tools and
             (not formats or c.tool == "floor" or c.format in formats)]  # fmt: skip
    results = best_of(cases, tables, args.repeat)
    print_table(results)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.rows < 10_000_000:
        print("  (the targets are for 10M rows; below that, process start-up dominates)")
    for text, met in targets(results):
        print(f"  [{'met' if met else 'MISSED'}] {text}")
    if note := busy_note(results, os.cpu_count() or 1):
        print(note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
