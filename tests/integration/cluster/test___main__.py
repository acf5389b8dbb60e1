"""scripts/start --celery (python -m ferry.cluster) stops every process it started on
SIGTERM: the Airflow processes, the workers and their task processes, Postgres, Redis, S3."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ferry import devserver

pytestmark = [pytest.mark.integration, pytest.mark.celery]


def deployment_processes(state: Path) -> list[psutil.Process]:
    """The live processes that carry the deployment's FERRY_CLUSTER_STATE (not the API
    server: its process title overwrites its environment), even ones orphaned."""
    found = []
    for proc in psutil.process_iter():
        try:
            if (
                proc.environ().get("FERRY_CLUSTER_STATE") == str(state)
                and proc.status() != "zombie"
            ):
                found.append(proc)
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
    return found


def running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def command_of(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:  # ended since
        return ""


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_stops_every_process_and_server(tmp_path, warehouse):
    port = devserver.free_port()
    env = {**os.environ, "FERRY_HOME": str(tmp_path), "FERRY_WAREHOUSE": str(warehouse),
           "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}  # fmt: skip
    state = tmp_path / "celery"
    server = subprocess.Popen(
        [sys.executable, "-m", "ferry.cluster", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        banner = "".join(server.stdout.readline() for _ in range(6))
        assert "Celery deployment up" in banner, banner
        ports = [int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", banner)]
        assert len(ports) == 4 and all(listening(p) for p in ports), banner  # API, pg, redis, S3
        # every process it started is its descendant (its own session, same parent)
        started = [p for p in psutil.Process(server.pid).children(recursive=True) if running(p)]
        names = " ".join(command_of(p) for p in started)
        for part in ("scheduler", "dag-processor", "triggerer", "ferry-worker-1", "ferry-worker-2"):
            assert part in names
        # the API server renames its process; it is the one listening on the port
        api = {c.pid for c in psutil.net_connections("tcp") if c.laddr.port == port
               and c.status == psutil.CONN_LISTEN}  # fmt: skip
        assert api & {p.pid for p in started}, "the API server is not among them"
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=180)
        assert "stopping the Celery deployment (SIGTERM)" in server.stdout.read()
        assert [p for p in started if running(p)] == []
        assert [command_of(p)[:80] for p in deployment_processes(state)] == []
        assert [p for p in ports if listening(p)] == []
        assert server.returncode == 0
    finally:
        server.kill()
        for proc in deployment_processes(state):
            proc.kill()
