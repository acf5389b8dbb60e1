"""The deployment's servers for real: Postgres (Debian's), redis-server and moto's S3, each
started on 127.0.0.1 and stopped with nothing left behind."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time

import psutil
import pytest

from ferry.cluster.services import Postgres, Redis, S3Server, start_in_group, stop_group

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_postgres_creates_the_databases_and_stop_removes_everything():
    server = Postgres(databases=("airflow", "ferry")).start()
    try:
        names = server.psql("SELECT datname FROM pg_database").split()
        assert {"airflow", "ferry"} <= set(names)
    finally:
        server.stop()
    assert not listening(server.port)
    assert not server.folder.exists()


def test_redis_answers_on_loopback_and_stops(tmp_path):
    server = Redis(tmp_path).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), 5) as conn:
            conn.sendall(b"PING\r\n")
            assert conn.recv(16) == b"+PONG\r\n"
    finally:
        server.stop()
    assert server.process.poll() is not None
    assert not listening(server.port)


def test_s3_creates_its_buckets_and_stops(tmp_path):
    server = S3Server(tmp_path, buckets=("ferry-staging", "ferry-logs")).start()
    try:
        names = {b["Name"] for b in server.client().list_buckets()["Buckets"]}
        assert names == {"ferry-staging", "ferry-logs"}
    finally:
        server.stop()
    assert not listening(server.port)


def test_stop_group_kills_what_ignores_sigterm_and_what_it_forked(tmp_path):
    script = (
        "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "os.fork(); time.sleep(60)"
    )
    process = start_in_group([sys.executable, "-c", script], tmp_path / "log")
    stop_group(process, grace=0.5)
    left = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True)
    assert left.stdout == ""


def test_a_server_ends_when_whoever_started_it_is_killed(tmp_path):
    """pytest or scripts/start SIGKILLed (a CI timeout): what it started does not linger."""
    starter = (
        "import sys, time; from pathlib import Path; "
        "from ferry.cluster.services import start_in_group; "
        f"p = start_in_group([sys.executable, '-c', 'import time; time.sleep(60)'], "
        f"Path({str(tmp_path / 'log')!r})); print(p.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(child) and psutil.Process(child).status() != "zombie":
        assert time.monotonic() < deadline, "the server outlived the process that started it"
        time.sleep(0.1)


def test_postgres_ends_when_whoever_started_it_is_killed():
    """Run in the foreground as our child, the database goes with a SIGKILLed starter."""
    starter = (
        "import time; from ferry.cluster.services import Postgres; "
        "server = Postgres().start(); print(server.port, server.folder, flush=True); "
        "time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", starter], stdout=subprocess.PIPE, text=True)
    port, folder = parent.stdout.readline().split()
    try:
        assert listening(int(port))
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 15
        while listening(int(port)):
            assert time.monotonic() < deadline, "postgres outlived the process that started it"
            time.sleep(0.2)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # its stop() never ran
