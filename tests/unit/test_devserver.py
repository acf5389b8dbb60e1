"""ferry.devserver's settings for Airflow's processes (the live start/stop test is in
tests/integration/test_devserver.py)."""

from __future__ import annotations

import subprocess
import sys

from ferry import devserver

SHOW_ARGS = "import ferry.devserver as d; print(d.SQLITE_CONNECT_ARGS['timeout'])"


def busy_timeout_in(component: str) -> float:
    """SQLITE_CONNECT_ARGS as an Airflow process started as `airflow COMPONENT` reads it."""
    code = f"import sys; sys.argv = ['airflow', '{component}']; {SHOW_ARGS}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_the_api_server_waits_briefly_for_sqlite_locks_the_others_long():
    # the API server waits on its event loop: a long wait there froze every request
    assert busy_timeout_in("api-server") == 5
    # the scheduler exits on "database is locked", and standalone does not restart it
    assert busy_timeout_in("scheduler") == busy_timeout_in("dag-processor") == 300


def test_tasks_start_from_a_forkserver_that_preloaded_their_imports(tmp_path):
    env = devserver.airflow_env(tmp_path, 8080)
    assert env["AIRFLOW__SCHEDULER__MP_START_METHOD"] == "forkserver"
    preload = env["AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD"].split(",")
    code = "import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]"
    subprocess.run([sys.executable, "-c", code, *preload], check=True, env=env, timeout=120)
