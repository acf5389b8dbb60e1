"""The servers a Celery deployment needs, from Debian packages and the venv, on 127.0.0.1.

- Postgres: initdb in a fresh folder and the server in the foreground, as the `postgres`
  user when run as root (postgres refuses root), else as the current user; trust
  authentication on loopback.
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
from ferry.exceptions import Terminal

SUPERUSER = "postgres"
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent exits


class ServiceError(Terminal, RuntimeError):
    """A server did not start; the message names it, its log and the fix (terminal: starting
    it again as it is fails the same way)."""


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


def start_in_group(
    command: list[str], log: Path, env: dict[str, str] | None = None, *,
    user: pwd.struct_passwd | None = None, on_parent_death: int = signal.SIGTERM,
):  # fmt: skip
    """Start a command in a new session (its own process group), output to log; as `user`
    when given (run as root).

    It gets `on_parent_death` if the process that started it dies without stopping it (a
    SIGKILL, a CI timeout): Ctrl-C and SIGTERM stop everything in order, this keeps a
    crash from leaving a scheduler, a worker or a database behind.
    """
    import ctypes

    log.parent.mkdir(parents=True, exist_ok=True)
    # loaded here: after setuid the child may not read this Python's modules
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def in_child() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        prctl(PR_SET_PDEATHSIG, on_parent_death)  # after setuid, which clears it

    with log.open("ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            preexec_fn=in_child,
        )  # fmt: skip


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
    process: subprocess.Popen | None = None

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
        """initdb, then the server in the foreground (not pg_ctl's daemon): it is our child,
        so it is stopped with the rest, even when whoever started it was SIGKILLed."""
        user = pwd.getpwnam(SUPERUSER) if os.geteuid() == 0 else None
        if user is not None:
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        data = str(self.folder / "data")
        self._run("initdb", "-D", data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        command = [str(postgres_bin() / "postgres"), "-D", data, "-p", str(self.port),
                   "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1"]  # fmt: skip
        # SIGINT is postgres's fast shutdown: clients are cut off, nothing waits for them
        self.process = start_in_group(command, self.log, user=user, on_parent_death=signal.SIGINT)
        wait_for_port(self.port, self.process, "postgres", self.log)
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
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(30)
        stop_group(self.process)  # what is left, if anything
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
