"""Benchmark a changes-only export against a full plain-CSV export of the same table.

    .venv/bin/python bench/changes.py             # 10M customer profiles, 1% changed
    .venv/bin/python bench/changes.py --rows 1000000

Builds customer_profile (cached in bench/out/), copies it, sends a first changes-only run
(every row added: the state), changes 1% of the rows (0.4% updates of a sent column, 0.3%
deletes, 0.3% inserts), then times in child processes (wall clock and peak RSS by wait4):
  full CSV   the export without changes: every row, plain CSV
  changes    the same export with changes: true, against the first run's state
and prints the state's size per million rows. See bench/README.md, "Changes-only".
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
OUT = BENCH / "out" / "changes"
sys.path.insert(0, str(ROOT / "plugins"))

FIELDS = ["profile_id", "email", "city", "state", "country", "lifetime_value", "loyalty_tier",
          "updated_at"]  # fmt: skip
TARGET_RATIO, TARGET_RSS_MIB = 1.5, 600


def plan_of(changes: bool, staging: Path):
    from ferry.plan import build_plan
    from ferry.run_info import RunInfo
    from ferry.spec import models
    from ferry.spec.loader import load_project
    from ferry.staging import run_location

    project = load_project(ROOT / "include")
    spec = models.ExportSpec.model_validate({
        "id": "bench_changes", "name": "Benchmark", "source": {"table": "customer_profile"},
        "fields": FIELDS, "pii": {"email": "keep"}, "changes": changes,
        "format": {"type": "csv", "rows_per_file": 1_000_000},
        "destinations": [{"type": "download"}],
    })  # fmt: skip
    project.exports[spec.id] = spec
    run = RunInfo(export_id=spec.id, run_id="bench__1")
    return build_plan(project, spec.id, run, run_location(str(staging), spec.id, "run"))


def child(args: argparse.Namespace) -> None:
    """One case, in this process: prints {"rows", "bytes", "changes"} as one JSON line."""
    from ferry.engine import extract
    from ferry.engine.changes import ChangeState

    out = Path(args.out)
    changes = None
    if args.case == "changes":
        work = out / "work"
        work.mkdir(parents=True, exist_ok=True)
        base = Path(args.base) if args.base else None
        changes = ChangeState(base, Path(args.new), work)
    plan = plan_of(args.case == "changes", out / "staging")
    manifest = extract(plan, source=Path(args.warehouse), pii_key=None, changes=changes)
    print(json.dumps({"rows": manifest.rows, "bytes": manifest.bytes,
                      "changes": manifest.changes, "rss_mib": peak_rss_mib()}))  # fmt: skip


def peak_rss_mib() -> float:
    """This process's peak RSS (VmHWM). Not wait4's ru_maxrss: Linux carries the parent's
    RSS at fork into it, and the parent holds the 10M-row table it just built or changed."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(case: str, warehouse: Path, base: Path | None, new: Path) -> dict:
    out = OUT / "run" / case
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, __file__, "--child", case, "--warehouse", str(warehouse),
               "--out", str(out), "--new", str(new)]  # fmt: skip
    command += ["--base", str(base)] if base else []
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = process.stdout.read().decode()
    process.stdout.close()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{case} failed: {' '.join(command)}")
    shutil.rmtree(out, ignore_errors=True)
    return {"rss_mib": usage.ru_maxrss / 1024, **json.loads(output.strip().splitlines()[-1]),
            "wall": wall}  # fmt: skip


def table_copy(rows: int) -> Path:
    from ferry_demo.build import build_warehouse

    source = BENCH / "out" / f"warehouse_{rows}.duckdb"
    if not source.exists():
        print(f"building {source.name} ...", flush=True)
        build_warehouse(source, rows=rows, tables=["customer_profile"])
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / "warehouse.duckdb"
    shutil.copyfile(source, target)
    return target


def change_one_percent(warehouse: Path, rows: int) -> None:
    """0.4% updates of a sent column, 0.3% deletes, 0.3% inserts, spread over the keys."""
    import duckdb

    with duckdb.connect(str(warehouse)) as con:
        top = con.execute("SELECT max(profile_id) FROM customer_profile").fetchone()[0]
        con.execute("UPDATE customer_profile SET city = 'Changed' WHERE profile_id % 1000 < 4")
        con.execute("DELETE FROM customer_profile WHERE profile_id % 1000 BETWEEN 4 AND 6")
        con.execute(
            "INSERT INTO customer_profile (profile_id, email, city, lifetime_value) "
            "SELECT ? + i, 'new' || i || '@example.com', 'New', 1 FROM range(?) AS r(i)",
            [top + 1, rows * 3 // 1000],
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--child", choices=["full", "changes"], dest="case")
    parser.add_argument("--warehouse")
    parser.add_argument("--out")
    parser.add_argument("--base")
    parser.add_argument("--new")
    args = parser.parse_args(argv)
    if args.case:
        child(args)
        return 0
    warehouse = table_copy(args.rows)
    first, second = OUT / "state_1.parquet", OUT / "state_2.parquet"
    print(f"{args.rows:,} profiles, {len(FIELDS)} fields, plain CSV; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    results = {"first changes run (all added)": measure("changes", warehouse, None, first)}
    change_one_percent(warehouse, args.rows)
    results["full CSV"] = measure("full", warehouse, None, OUT / "unused.parquet")
    results["changes run, 1% changed"] = measure("changes", warehouse, first, second)
    for label, run in results.items():
        print(f"{label:<32}{run['rows']:>12,} rows{run['wall']:>8.2f} s"
              f"{run['rss_mib']:>8.0f} MiB  {run['changes'] or ''}")  # fmt: skip
    ratio = results["changes run, 1% changed"]["wall"] / results["full CSV"]["wall"]
    rss = results["changes run, 1% changed"]["rss_mib"]
    per_million = second.stat().st_size / (args.rows / 1e6) / 2**20
    print(f"state: {second.stat().st_size / 2**20:.1f} MiB, {per_million:.1f} MiB per million rows")
    print(
        f"  [{'met' if ratio <= TARGET_RATIO else 'MISSED'}] changes run <= "
        f"{TARGET_RATIO}x the full CSV export: {ratio:.2f}x"
    )
    print(
        f"  [{'met' if rss <= TARGET_RSS_MIB else 'MISSED'}] peak RSS <= "
        f"{TARGET_RSS_MIB} MiB: {rss:.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
