"""scripts/start (ferry.devserver) stops every Airflow process it started on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ferry import devserver

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def airflow_processes(home: Path) -> list[psutil.Process]:
    """Every process whose AIRFLOW_HOME is this run's."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("AIRFLOW_HOME") == str(home) and proc.status() != "zombie":
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    return found


def test_sigterm_stops_airflow_and_every_process_it_started(tmp_path, warehouse):
    port = devserver.free_port()
    env = {**os.environ, "FERRY_HOME": str(tmp_path), "FERRY_WAREHOUSE": str(warehouse)}
    home = tmp_path / "airflow"
    server = subprocess.Popen(
        [sys.executable, "-m", "ferry.devserver", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert "Airflow is up" in server.stdout.readline()
        started = airflow_processes(home)
        assert any("scheduler" in " ".join(p.cmdline()) for p in started), started
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=90)
        deadline = time.monotonic() + 10
        while airflow_processes(home) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = [" ".join(p.cmdline())[:80] for p in airflow_processes(home)]
        assert left == []
        assert server.returncode == 0
        assert "stopping Airflow (SIGTERM)" in server.stdout.read()
    finally:
        server.kill()
        for proc in airflow_processes(home):
            proc.kill()
