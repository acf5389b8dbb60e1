"""Run Ferry on one machine: Airflow standalone on 127.0.0.1 with airflow_settings.yaml loaded.

Used by `scripts/start` (the README's first command, which builds the demo warehouse before
it starts this) and by the tests that need a live scheduler and REST API. Airflow runs in
its own process group. `airflow standalone` does not pass a SIGTERM on to the scheduler, DAG
processor, triggerer and API server it started, so stop() ends them by pid, children first,
then standalone, then whatever is left in its group. scripts/start does this on Ctrl-C,
SIGTERM and SIGHUP alike.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

from ferry import kickoff, paths
from ferry.airflow_api import AirflowClient
from ferry.exceptions import Terminal
from ferry.pipeline import DELIVERY_POOL, DELIVERY_POOL_ENV

ADMIN_USER = "admin"

# How long a process waits for SQLite's write lock (pysqlite's default is 5 s); read by
# Airflow through sql_alchemy_connect_args, in each process. The scheduler, DAG processor
# and API server share one file. The scheduler exits on "database is locked" and standalone
# does not restart it, so it waits long. The API server waits briefly: Airflow 3.3 commits a
# REST write's audit-log row on its event loop (api_fastapi/logging/decorators.py), so a
# wait there freezes every request, the tasks' execution API included, and the lock is
# often held by a request whose own commit needs that loop: the wait lasts the whole
# timeout. bench/load.py measured both (bench/README.md, Load benchmark).
_API_SERVER = "api-server" in sys.argv[1:2] or "api_server" in sys.argv[1:2]
SQLITE_CONNECT_ARGS = {"timeout": 5 if _API_SERVER else 300}

# Imported once by the LocalExecutor's forkserver (AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD):
# its workers, and each task process they fork, inherit them instead of importing them per
# task (Airflow's task runner, the renderer that re-parses ferry_exports.py in every task,
# Ferry's steps, DuckDB and pyarrow).
TASK_PRELOAD = (
    "airflow.sdk.execution_time.task_runner", "ferry.render.dags", "ferry.pipeline",
    "ferry.engine.extract", "ferry.checks", "duckdb", "pyarrow",
)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Measured with bench/load.py (see bench/README.md, Load benchmark).
LOAD_SETTINGS = {
    # a new DAG file shows in ~2 s (default: 300 s)
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    # ferry_exports.py renders every export: re-parsing it every 10 s cost ~3 s of CPU each
    # time at 50 exports; a changed export now shows within 30 s
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
    # under a burst a parse waiting on SQLite ran past the 50 s default, was killed, and
    # every export DAG was deactivated as stale: triggers got 404 until the next parse
    "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
    "AIRFLOW__DAG_PROCESSOR__STALE_DAG_THRESHOLD": "300",
    # tasks start from a process that has already imported what they need (TASK_PRELOAD)
    "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
    "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(TASK_PRELOAD),
    # the scheduler's loop sleeps this long when it had nothing to do (default 1 s): each
    # task's hand-over to the next waited half of it on average (0.48 s -> 0.19 s), for a
    # few more idle queries a second
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
    # a task's calls to the API server wait out its short lock stalls (default 5 s)
    "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
}


# The caller's auth settings would log this Airflow's users in against another passwords
# file or token secret: the project's Airflow has its own (see write_password).
_OWN_AUTH_PREFIXES = ("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_", "AIRFLOW__CORE__AUTH_MANAGER",
                      "AIRFLOW__API_AUTH__")  # fmt: skip


def _without_auth_settings(environ) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith(_OWN_AUTH_PREFIXES)}


def airflow_env(home: Path, port: int) -> dict[str, str]:
    """Local settings: loopback only, few workers, fast DAG-folder refresh, no examples."""
    root = paths.PROJECT_ROOT
    return {
        **_without_auth_settings(os.environ),
        # standalone starts its components as `airflow ...` found on PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "ferry.devserver.SQLITE_CONNECT_ARGS",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "ferry.devserver.SQLITE_CONNECT_ARGS",
        **LOAD_SETTINGS,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(root / "plugins"), os.environ.get("PYTHONPATH")])
        ),
        "FERRY_HOME": str(paths.ferry_home()),
        "FERRY_WAREHOUSE": str(paths.warehouse_path()),
        "FERRY_INCLUDE": str(paths.include_dir()),
        "GX_ANALYTICS_ENABLED": "False",
        # airflow_settings.yaml creates the pool before the scheduler starts
        DELIVERY_POOL_ENV: os.environ.get(DELIVERY_POOL_ENV, DELIVERY_POOL),
    }


def write_password(home: Path, password: str) -> None:
    """Choose the admin password: the simple auth manager reads this file at start."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "simple_auth_manager_passwords.json.generated"
    target.write_text(json.dumps({ADMIN_USER: password}))


def airflow_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).with_name("airflow")), *args]


def convert_settings(settings_file: Path) -> dict[str, dict]:
    """Astro CLI's airflow_settings.yaml as the JSON that `airflow ... import` reads."""
    data = (yaml.safe_load(settings_file.read_text()) or {}).get("airflow") or {}
    connections = {
        item["conn_id"]: {
            "conn_type": item.get("conn_type"),
            "host": item.get("conn_host"),
            "schema": item.get("conn_schema"),
            "login": item.get("conn_login"),
            "password": item.get("conn_password"),
            "port": item.get("conn_port"),
            "extra": json.dumps(item.get("conn_extra") or {}),
        }
        for item in data.get("connections") or []
    }
    pools = {
        item["pool_name"]: {
            "slots": item["pool_slot"],
            "description": item.get("pool_description", ""),
            "include_deferred": False,
        }
        for item in data.get("pools") or []
    }
    variables = {
        item["variable_name"]: item["variable_value"] for item in data.get("variables") or []
    }
    return {"connections": connections, "pools": pools, "variables": variables}


def load_settings(settings_file: Path, env: dict[str, str]) -> None:
    """Import connections, pools and variables into Airflow's metadata database."""
    converted = convert_settings(settings_file)
    with tempfile.TemporaryDirectory() as folder:
        for kind, content in converted.items():
            if not content:
                continue
            path = Path(folder) / f"{kind}.json"
            path.write_text(json.dumps(content))
            extra = ["--overwrite"] if kind == "connections" else []
            command = airflow_command(kind, "import", str(path), *extra)
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)


def migrate_db(env: dict[str, str]) -> None:
    """Create or upgrade the metadata database of the AIRFLOW_HOME in env."""
    subprocess.run(
        airflow_command("db", "migrate"), env=env, check=True, capture_output=True, timeout=300
    )


def start_standalone(env: dict[str, str], log_file: Path) -> subprocess.Popen:
    """Start `airflow standalone` in a process group of its own."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            airflow_command("standalone"),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_healthy(port: int, process: subprocess.Popen, timeout: float = 180) -> float:
    """Seconds until /api/v2/monitor/health answers; raise if Airflow died or never answers."""
    started = time.monotonic()
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"Airflow did not answer on {url} within {timeout} s")


def stop(process: subprocess.Popen, grace: float = 30) -> None:
    """Stop standalone and every process it started, children first, then wait for them.

    Each step sends SIGTERM, waits up to `grace` seconds and SIGKILLs what remains.
    """
    import psutil

    try:
        leader = psutil.Process(process.pid)
        _terminate(leader.children(recursive=True), grace)
        _terminate([leader], grace)
    except psutil.NoSuchProcess:
        pass
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):  # anything forked late
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        if _group_gone(process, wait):
            break
    process.poll()


def _terminate(processes: list, grace: float) -> None:
    """SIGTERM each (and children they have by then), wait up to grace, SIGKILL the rest."""
    import psutil

    everyone = list(processes)
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            everyone += [child for child in proc.children(recursive=True) if child not in everyone]
    for proc in everyone:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    remaining = _wait_gone(everyone, grace)
    for proc in remaining:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    _wait_gone(remaining, 5)


def _wait_gone(processes: list, wait: float) -> list:
    """The processes still running after up to `wait` s (a zombie counts as gone: its
    parent reaps it, and standalone's children are reaped by standalone)."""
    import psutil

    deadline = time.monotonic() + wait
    while True:
        running = [p for p in processes if _running(p)]
        if not running or time.monotonic() > deadline:
            return running
        psutil.wait_procs(running, timeout=0.2)  # reaps our own child, standalone


def _running(proc) -> bool:
    import psutil

    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _group_gone(process: subprocess.Popen, wait: float) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        process.poll()  # reap the leader so the group can empty
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _admin_password(home: Path) -> str:
    """A random password made once per machine, kept in FERRY_HOME, never in git."""
    import secrets

    saved = paths.ferry_home() / "admin_password"
    if not saved.exists():
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(secrets.token_urlsafe(12))
        saved.chmod(0o600)
    return saved.read_text().strip()


def _prepare(home: Path, port: int) -> dict[str, str]:
    # The demo warehouse is built by scripts/start (python -m ferry_demo), not here: the
    # product never imports the demo.
    if not paths.warehouse_path().exists():
        print(
            f"ferry: no warehouse at {paths.warehouse_path()}: exports fail until it exists"
            " (set FERRY_WAREHOUSE to your own)",
            flush=True,
        )
    env = airflow_env(home, port)
    write_password(home, _admin_password(home))
    migrate_db(env)
    load_settings(paths.PROJECT_ROOT / "airflow_settings.yaml", env)
    return env


class Stopped(Terminal):
    """scripts/start was asked to stop by a signal."""


def _stop_on(signum: int, frame) -> None:
    raise Stopped(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Start the demo and keep it up until Ctrl-C, SIGTERM or SIGHUP."""
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/start", description=main.__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--trigger", action="append", default=[], metavar="DAG_ID",
        help="start this DAG once Airflow answers (FERRY_START_REFRESH=0: not)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # a closed terminal or a service manager
        signal.signal(sig, _stop_on)
    try:
        return _serve(args.port, kickoff.dags_to_start(args.trigger, os.environ))
    except (KeyboardInterrupt, Stopped):  # before Airflow started: nothing to stop
        return 0


def _serve(port: int, start_dags: tuple[str, ...] = ()) -> int:
    started = time.monotonic()
    home = paths.project_airflow_home()
    env = _prepare(home, port)
    process = start_standalone(env, home / "standalone.log")
    try:
        wait_until_healthy(port, process)
        print(
            f"ferry: Airflow is up after {time.monotonic() - started:.0f} s at "
            f"http://127.0.0.1:{port}\n  log in as {ADMIN_USER} / {_admin_password(home)}"
            f"\n  logs: {home / 'standalone.log'}"
            "\n  Ctrl-C (or SIGTERM, SIGHUP) stops Airflow and everything it started",
            flush=True,
        )
        if start_dags:
            _start_in_background(port, _admin_password(home), start_dags)
        process.wait()
        return process.returncode or 0
    except (KeyboardInterrupt, Stopped) as reason:
        print(f"\nferry: stopping Airflow ({reason or 'Ctrl-C'})", flush=True)
        return 0
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP):  # let the stop finish
            signal.signal(sig, signal.SIG_IGN)
        stop(process)


def _start_in_background(port: int, password: str, dag_ids: tuple[str, ...]) -> None:
    """Start the DAGs (the demo refresh) without holding up Ctrl-C; one line each."""
    import threading

    def start() -> None:
        client = AirflowClient(f"http://127.0.0.1:{port}", username=ADMIN_USER, password=password)
        for line in kickoff.start_all(client, dag_ids):
            print(f"ferry: {line}", flush=True)

    threading.Thread(target=start, name="ferry-kickoff", daemon=True).start()


if __name__ == "__main__":
    raise SystemExit(main())
