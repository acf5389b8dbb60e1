"""A real PostgreSQL server for tests: Debian's `postgresql` package, a fresh cluster.

initdb and pg_ctl run in a temporary folder on a free 127.0.0.1 port, as the `postgres`
user when the tests run as root (postgres refuses root), else as the current user. Every
statement is logged (log_statement=all), so a test can check what reached the server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import airflow_connection, free_port

SUPERUSER = "postgres"
DATABASE = "warehouse"


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl (Debian keeps them out of PATH), None if missing."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PsqlError(RuntimeError):
    """A statement psql ran failed; the message is psql's."""


class PostgresServer:
    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="ferry-pg-"))
        self.data = self.folder / "data"
        self.log_file = self.folder / "postgres.log"
        self._user = SUPERUSER if os.geteuid() == 0 else None

    @property
    def uri(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)

    def start(self) -> PostgresServer:
        if self._user:
            owner = pwd.getpwnam(self._user)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        self.resume()
        self.psql("postgres", f"CREATE DATABASE {DATABASE}")
        return self

    def resume(self) -> None:
        """Start (again) on the same port and data."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c log_statement=all -c fsync=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log_file),
                  "-w", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def cleanup(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def psql(self, database: str, sql: str) -> str:
        """Run SQL as the superuser with psql; its output."""
        done = subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", SUPERUSER, "-d", database, "-At", "-c", sql],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if done.returncode:  # psql's own message, which CalledProcessError would not show
            raise PsqlError(f"psql failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def execute(self, sql: str) -> str:
        return self.psql(DATABASE, sql)

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def connection(self, conn_id: str) -> tuple[str, str]:
        """The AIRFLOW_CONN_<ID> variable of a postgres connection to the test database."""
        return airflow_connection(
            conn_id, conn_type="postgres", host="127.0.0.1", port=self.port,
            login=SUPERUSER, schema=DATABASE,
        )  # fmt: skip
