"""Load benchmark: N small exports triggered together against a live `airflow standalone`.

    .venv/bin/python bench/load.py --exports 50            # ~5 min: start, 3 solo runs, burst
    .venv/bin/python bench/load.py --exports 20 --solo 1   # quicker
    .venv/bin/python bench/load.py --set AIRFLOW__CORE__PARALLELISM=8   # try a setting
    .venv/bin/python bench/load.py --celery 2 --exports 20  # scripts/start --celery, 2 workers

Writes N copies of a small export (100 rows of customer_profile as CSV to the download
destination) into a temporary include/, starts Airflow as scripts/start does
(ferry.devserver's settings, plus any --set; with --celery N, the local Celery deployment of
ferry.cluster with N workers instead), and measures:
  - solo: end to end latency of one export alone (trigger to run success), --solo times;
  - burst: N `ferry run` processes started at once, as N users would: failed triggers
    (exit code != 0), the time until every run has delivered, and exports per minute;
  - where the time goes, from the REST API's task instances: per task, the wait from
    queued to start and the run time; and per run, the gaps between one task's end and
    the next one's queueing (the scheduler's turn).
See bench/README.md (Load benchmark) for the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "plugins"))

from ferry import devserver  # noqa: E402
from ferry.airflow_api import AirflowClient  # noqa: E402

PREFIX = "load_"
COMPONENTS = ("scheduler", "api-server", "dag-processor", "triggerer")
PASSWORD = "bench-load"
EXPORT = """\
id: {id}
name: Load test {id}
owner: bench
kind: data_out
source: {{table: customer_profile}}
fields: [profile_id, city, state, country, lifetime_value]
filters:
  where: [{{field: profile_id, op: between, value: [1, 100]}}]
format: {{type: csv}}
destinations:
  - {{type: download}}
schedule: "off"
"""


def prepare_include(work: Path, exports: int) -> Path:
    """include/ with the repo's tables, targets and segments, and only the load exports."""
    include = work / "include"
    shutil.copytree(
        ROOT / "include", include, ignore=shutil.ignore_patterns("*.duckdb*", "exports", "groups")
    )
    (include / "exports").mkdir()
    for number in range(exports):
        export_id = f"{PREFIX}{number:03d}"
        (include / "exports" / f"{export_id}.yaml").write_text(EXPORT.format(id=export_id))
    return include


def warehouse() -> Path:
    path = BENCH / "out" / "warehouse_small.duckdb"
    if not path.exists():
        from ferry_demo.build import build_warehouse

        path.parent.mkdir(parents=True, exist_ok=True)
        build_warehouse(path, size="small")
    return path


def start_airflow(work: Path, settings: dict[str, str]) -> tuple[subprocess.Popen, str, dict]:
    home = work / "airflow"
    port = devserver.free_port()
    env = {**devserver.airflow_env(home, port), **settings}
    devserver.write_password(home, PASSWORD)
    devserver.migrate_db(env)
    devserver.load_settings(ROOT / "airflow_settings.yaml", env)
    process = devserver.start_standalone(env, home / "standalone.log")
    devserver.wait_until_healthy(port, process)
    return process, f"http://127.0.0.1:{port}", env


def start_celery(work: Path, settings: dict[str, str], workers: int, concurrency: int):
    """The local Celery deployment (scripts/start --celery) with `workers` workers."""
    from ferry.cluster.deployment import Deployment

    settings = {**settings, "FERRY_INCLUDE": os.environ["FERRY_INCLUDE"],
                "FERRY_WAREHOUSE": os.environ["FERRY_WAREHOUSE"]}  # fmt: skip
    deployment = Deployment(work / "celery", devserver.free_port(), PASSWORD, workers=workers,
                            concurrency=concurrency, settings=settings)  # fmt: skip
    try:
        deployment.start()
    except BaseException:
        deployment.stop()
        raise
    return deployment, deployment.url, deployment.env


def wait_for_dags(client: AirflowClient, exports: int, timeout: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        page = client.request("GET", "/dags", params={"dag_id_prefix_pattern": f"export__{PREFIX}",
                                                      "limit": 1})  # fmt: skip
        if page["total_entries"] >= exports:
            return time.monotonic() - started
        time.sleep(1)
    raise TimeoutError(f"the {exports} load DAGs were not all parsed in {timeout} s")


def wait_for_runs(
    client: AirflowClient, runs: set[tuple[str, str]], poll: float, deadline: float = 900
) -> dict:
    """{(dag_id, run_id): (state, monotonic time it was seen terminal)} for the runs that
    ended within `deadline` seconds."""
    done: dict[tuple[str, str], tuple[str, float]] = {}
    give_up = time.monotonic() + deadline
    while len(done) < len(runs) and time.monotonic() < give_up:
        page = client.request(
            "GET", "/dags/~/dagRuns",
            params={"dag_id_prefix_pattern": f"export__{PREFIX}", "limit": 1000,
                    "state": ["success", "failed"]},
        )  # fmt: skip
        now = time.monotonic()
        for run in page["dag_runs"]:
            key = (run["dag_id"], run["dag_run_id"])
            if key in runs and key not in done:
                done[key] = (run["state"], now)
        time.sleep(poll)
    return done


def solo(client: AirflowClient, export_id: str) -> tuple[float, str, str]:
    """Seconds from the trigger until the run is seen successful (polled every 0.2 s)."""
    dag_id = f"export__{export_id}"
    started = time.monotonic()
    run = client.trigger(dag_id)
    done = wait_for_runs(client, {(dag_id, run["dag_run_id"])}, poll=0.2)
    [(state, seen)] = done.values()
    return seen - started, state, run["dag_run_id"]


def burst(
    url: str, export_ids: list[str], one_call: bool
) -> tuple[float, list[tuple[str, int, str, str]]]:
    """One `ferry run` process per export at once (as N users), or one `ferry run A B C...`;
    (start time, [(export id, exit code, its stdout, its stderr)])."""
    env = {**os.environ, "FERRY_AIRFLOW_URL": url, "FERRY_AIRFLOW_PASSWORD": PASSWORD,
           "PYTHONPATH": str(ROOT / "plugins")}  # fmt: skip
    calls = [export_ids] if one_call else [[export_id] for export_id in export_ids]
    started = time.monotonic()
    processes = [
        (ids, subprocess.Popen([sys.executable, "-m", "ferry", "run", *ids], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        for ids in calls
    ]  # fmt: skip
    results = []
    for ids, process in processes:
        out, err = process.communicate(timeout=900)
        started_runs = {line.split(".", 1)[0]: line for line in out.splitlines()}
        for export_id in ids:  # each started export prints "ID.RUN" then its Airflow run
            block = out.partition(started_runs.get(export_id, "\0"))[2].split("\n", 2)[:2]
            code = 0 if export_id in started_runs else (process.returncode or 1)
            results.append((export_id, code, "\n".join(block), err))
    return started, results


def run_id_of(output: str) -> str | None:
    for line in output.splitlines():
        if line.strip().startswith("Airflow run "):
            return line.strip().removeprefix("Airflow run ").split(": http")[0]
    return None


def timings(client: AirflowClient, dag_id: str, run_id: str) -> list[dict]:
    """Per task: queued -> start wait and run time, in start order, from the REST API."""
    rows = []
    for ti in client.task_instances(dag_id, run_id):
        queued, start, end = (_time(ti.get(k)) for k in ("queued_when", "start_date", "end_date"))
        rows.append({"task": ti["task_id"], "state": ti["state"], "queued": queued,
                     "start": start, "end": end,
                     "wait": (start - queued).total_seconds() if queued and start else None,
                     "run": (end - start).total_seconds() if start and end else None})  # fmt: skip
    return sorted(rows, key=lambda row: row["start"] or dt.datetime.max.replace(tzinfo=dt.UTC))


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def scheduler_gaps(rows: list[dict]) -> list[float]:
    """Seconds from each task's end to the next task's queueing: the scheduler's turn."""
    gaps = []
    for before, after in itertools.pairwise(rows):
        if before["end"] and after["queued"]:
            gaps.append((after["queued"] - before["end"]).total_seconds())
    return gaps


def describe(label: str, runs: list[list[dict]]) -> None:
    """Mean wait and run time per task over the runs, and the scheduler's gaps."""
    print(f"\n{label}: per task, mean over {len(runs)} run(s), seconds")
    print(f"  {'task':<28} {'queued->start':>14} {'run':>8}")
    tasks = dict.fromkeys(row["task"] for rows in runs for row in rows)
    for task in tasks:
        found = [row for rows in runs for row in rows if row["task"] == task]
        waits = [row["wait"] for row in found if row["wait"] is not None]
        runs_s = [row["run"] for row in found if row["run"] is not None]
        print(f"  {task:<28} {_mean(waits):>14} {_mean(runs_s):>8}")
    gaps = [gap for rows in runs for gap in scheduler_gaps(rows)]
    print(f"  task end -> next task queued: mean {_mean(gaps)} s over {len(gaps)} hand-overs")


def cpu_by_component(standalone_pid: int) -> dict[str, float]:
    """CPU seconds used so far by each component of standalone, with the processes it has
    reaped (LocalExecutor workers reap their task processes): scheduler (tasks included),
    api-server, dag-processor, triggerer."""
    import psutil

    found: dict[str, float] = {}
    for child in psutil.Process(standalone_pid).children():
        command = " ".join(child.cmdline())
        name = next((n for n in COMPONENTS if n in command.replace("_", "-")), command[:30])
        total = 0.0
        for proc in [child, *child.children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system + times.children_user + times.children_system
        found[name] = found.get(name, 0.0) + total
    return found


def _mean(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f}" if values else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exports", type=int, default=50, help="exports triggered together")
    parser.add_argument("--solo", type=int, default=3, help="solo runs before the burst")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra Airflow setting (environment variable)")  # fmt: skip
    parser.add_argument("--one-call", action="store_true",
                        help="one `ferry run A B C...`, not a process each")  # fmt: skip
    parser.add_argument("--deadline", type=float, default=900, help="seconds to wait for runs")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    parser.add_argument(
        "--celery",
        type=int,
        default=0,
        metavar="WORKERS",
        help="the Celery deployment with this many workers, not standalone",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="tasks per Celery worker")
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.set)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop Airflow on the way out
    work = Path(tempfile.mkdtemp(prefix="ferry-load-"))
    os.environ.update({"FERRY_HOME": str(work / "ferry"), "FERRY_WAREHOUSE": str(warehouse()),
                       "FERRY_INCLUDE": str(prepare_include(work, args.exports))})  # fmt: skip
    clock = time.monotonic()
    if args.celery:
        process, url, env = start_celery(work, settings, args.celery, args.concurrency)
    else:
        process, url, env = start_airflow(work, settings)
    try:
        client = AirflowClient(url, username=devserver.ADMIN_USER, password=PASSWORD)
        parsed = wait_for_dags(client, args.exports)
        shape = (f"Celery, {args.celery} worker(s) x {args.concurrency}" if args.celery
                 else "standalone")  # fmt: skip
        print(f"Airflow ({shape}) up and {args.exports} DAGs parsed in "
              f"{time.monotonic() - clock:.0f} s (parse wait {parsed:.0f} s); parallelism "
              f"{env['AIRFLOW__CORE__PARALLELISM']}, extra settings: {settings or 'none'}"
              )  # fmt: skip
        report(client, url, args, None if args.celery else process.pid)
    finally:
        process.stop() if args.celery else devserver.stop(process)
        if args.keep:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def report(
    client: AirflowClient, url: str, args: argparse.Namespace, airflow_pid: int | None
) -> None:
    ids = [f"{PREFIX}{number:03d}" for number in range(args.exports)]
    solo_rows = []
    for export_id in ids[: args.solo]:
        seconds, state, run_id = solo(client, export_id)
        solo_rows.append(timings(client, f"export__{export_id}", run_id))
        print(f"solo {export_id}: {state} in {seconds:.1f} s end to end")
    if solo_rows:
        describe("solo", solo_rows)
    cpu_before = cpu_by_component(airflow_pid) if airflow_pid else {}
    started, results = burst(url, ids, args.one_call)
    failed = [(i, code, [line for line in err.splitlines() if f" {i}:" in line][-1:] or
               err.strip().splitlines()[-1:]) for i, code, _, err in results if code]  # fmt: skip
    triggered = time.monotonic() - started
    runs = {(f"export__{i}", run_id_of(out)) for i, code, out, _ in results if run_id_of(out)}
    done = wait_for_runs(client, runs, poll=1.0, deadline=args.deadline)
    wall = time.monotonic() - started
    cpu_after = cpu_by_component(airflow_pid) if airflow_pid else {}
    cpu = {name: used - cpu_before.get(name, 0.0) for name, used in cpu_after.items()}
    last = max((seen for _, seen in done.values()), default=started) - started
    states = [state for state, _ in done.values()]
    codes = sorted({code for _, code, _, _ in results})
    how = "in one `ferry run` call" if args.one_call else "`ferry run` processes at once"
    print(f"\nburst: {len(ids)} {how}: {len(failed)} failed triggers (exit codes "
          f"{ {c: sum(r[1] == c for r in results) for c in codes} }), all answered in "
          f"{triggered:.1f} s; of {len(runs)} runs {states.count('success')} succeeded, "
          f"{states.count('failed')} failed, {len(runs) - len(done)} unfinished after "
          f"{args.deadline:.0f} s; the last ended {last:.0f} s after the start")  # fmt: skip
    for failure in failed:
        print(f"  failed: {failure}")
    if last > 0:
        print(f"  throughput: {60 * states.count('success') / last:.1f} exports per minute")
    if cpu:
        print(f"  CPU seconds during the burst ({wall:.0f} s wall; 2 cores = {2 * wall:.0f}): "
          + ", ".join(f"{name} {used:.0f}" for name, used in sorted(cpu.items())))  # fmt: skip
    describe("burst", [timings(client, dag_id, run_id) for dag_id, run_id in sorted(done)])


if __name__ == "__main__":
    raise SystemExit(main())
