"""The servers a Celery deployment needs, from Debian packages and the venv, on 127.0.0.1.

- Postgres: initdb and pg_ctl in a fresh folder, as the `postgres` user when run as root
  (postgres refuses root), else as the current user; trust authentication on loopback.
- Redis: redis-server in the foreground, nothing saved to disk.
- S3: moto's server (moto[server]) in the foreground.

Each runs in a process group of its own, so a stop reaches everything it forked.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from ferry.devserver import free_port

SUPERUSER = "postgres"


class ServiceError(RuntimeError):
    """A server did not start; the message names it, its log and the fix."""


def log_tail(log: Path, lines: int = 20) -> str:
    """The end of a log, indented, to show under an error."""
    if not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return "\n" + "\n".join(f"  | {line[:300]}" for line in tail)


def wait_for_port(port: int, process: subprocess.Popen | None, name: str, log: Path) -> None:
    """Return once 127.0.0.1:port accepts connections; raise naming the log if it never does."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(f"{name} exited with {process.returncode}; see {log}{log_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise ServiceError(f"{name} did not listen on 127.0.0.1:{port} within 30 s; see {log}")


def start_in_group(command: list[str], log: Path, env: dict[str, str] | None = None):
    """Start a command in a new session (its own process group), output to log.

    It gets SIGTERM if the process that started it dies without stopping it (a SIGKILL, a
    CI timeout): Ctrl-C and SIGTERM stop everything in order, this keeps a crash from
    leaving a scheduler or worker behind.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=_terminate_with_parent,
        )  # fmt: skip


def _terminate_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when its parent exits."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def stop_group(process: subprocess.Popen | None, grace: float = 15) -> None:
    """SIGTERM the process's group, wait up to grace, then SIGKILL what is left of it."""
    if process is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(process):
            time.sleep(0.1)
        if not _group_alive(process):
            break
    process.poll()


def _group_alive(process: subprocess.Popen) -> bool:
    process.poll()  # reap the leader so an emptied group reads as gone
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return True


def postgres_bin() -> Path:
    """The folder of initdb and pg_ctl (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    raise ServiceError(
        "no initdb found: install Debian's postgresql (scripts/setup --system-packages)"
    )


@dataclass
class Postgres:
    """A fresh cluster in a temporary folder; `databases` are created at start."""

    databases: tuple[str, ...] = ("airflow",)
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ferry-celery-pg-")))

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(postgres_bin() / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise ServiceError(f"postgres: {args[0]} failed: {done.stderr.strip()}; see {self.log}")

    def start(self) -> Postgres:
        if os.geteuid() == 0:
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        data = str(self.folder / "data")
        self._run("initdb", "-D", data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", data, "-o", options, "-l", str(self.log), "-w", "start")
        for database in self.databases:
            self.psql(f"CREATE DATABASE {database}")
        return self

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", SUPERUSER, "-d", database, "-At", "-c", sql],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if done.returncode:
            raise ServiceError(f"postgres: psql failed: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        """Stop the server (fast: clients are cut off) and remove its folder."""
        with contextlib.suppress(ServiceError, FileNotFoundError):
            if (self.folder / "data" / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Redis:
    """redis-server bound to 127.0.0.1, no persistence: a broker for one deployment's life."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        server = shutil.which("redis-server")
        if server is None:
            raise ServiceError(
                "no redis-server found: install Debian's redis-server "
                "(scripts/setup --system-packages)"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "redis.log"
        command = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                   str(self.folder), "--save", "", "--appendonly", "no"]  # fmt: skip
        self.process = start_in_group(command, log)
        wait_for_port(self.port, self.process, "redis-server", log)
        return self

    def stop(self) -> None:
        stop_group(self.process)


@dataclass
class S3Server:
    """moto's S3 API server; `buckets` are created at start. stop() and start() again keep
    the port (the bucket's contents do not survive: moto keeps them in memory)."""

    folder: Path
    buckets: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        log = self.folder / "s3.log"
        moto = str(Path(sys.executable).with_name("moto_server"))
        self.process = start_in_group([moto, "-H", "127.0.0.1", "-p", str(self.port)], log)
        wait_for_port(self.port, self.process, "moto_server", log)
        client = self.client()
        for bucket in self.buckets:
            client.create_bucket(Bucket=bucket)
        return self

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id="ferry-local", aws_secret_access_key="ferry-local",
        )  # fmt: skip

    def stop(self) -> None:
        stop_group(self.process)
