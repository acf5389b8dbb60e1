"""Airflow on CeleryExecutor, on one machine, with nothing shared through a local disk.

The layout under the state folder (fresh on every start):
    airflow/            AIRFLOW_HOME of the API server, scheduler, DAG processor, triggerer
    <component>/ferry   each process's own FERRY_HOME (worker-1/ferry, worker-2/ferry, ...)
    worker-N/airflow    each worker's own AIRFLOW_HOME (its config and local log copies)
    logs/               one log file per process, and the servers' logs
    env.sh              the settings a shell needs to reach this deployment (ferry, airflow)
What the processes share goes through servers: Airflow's metadata and Ferry's run history
(FERRY_HISTORY_CONN) in Postgres, Celery's queue in Redis, staged runs (FERRY_STAGING) and
task logs in S3 (moto). Code and definitions (dags/, plugins/, include/) and the warehouse,
the exports' source, are read where they are, as an image and a source database would be
in a real deployment.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from ferry import devserver, paths
from ferry.cluster import hostname
from ferry.cluster.services import (
    Postgres,
    Redis,
    S3Server,
    ServiceError,
    log_tail,
    start_in_group,
)

STAGING_BUCKET = "ferry-staging"
LOGS_BUCKET = "ferry-logs"
STAGING_CONNECTION = "ferry_staging"
# the run history, download audit and import ledger: a database of the deployment's Postgres
HISTORY_CONNECTION = "ferry_history"
HISTORY_DATABASE = "ferry"
CENTRAL = ("api-server", "scheduler", "dag-processor", "triggerer")
# a task whose worker died is failed (and retried) after this long without a heartbeat
# (Airflow's default is 300 s)
HEARTBEAT_TIMEOUT_SECONDS = 60


@dataclass
class Component:
    """One Airflow process of the deployment and its own folders."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: object = None  # subprocess.Popen once started

    def start(self) -> None:
        self.process = start_in_group(self.command, self.log, self.env)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Deployment:
    """The servers and Airflow processes of one local Celery deployment.

    Args:
        state: The folder everything of this deployment is written to (emptied at start).
        port: The API server's port on 127.0.0.1.
        password: The admin user's password.
        workers: How many Celery workers (each with its own folders and hostname).
        concurrency: Tasks each worker runs at once.
        settings: More environment for every Airflow process (e.g. AIRFLOW__...).
    """

    state: Path
    port: int
    password: str
    workers: int = 2
    concurrency: int = 2
    settings: dict[str, str] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)
    postgres: Postgres | None = None
    redis: Redis | None = None
    s3: S3Server | None = None
    env: dict[str, str] = field(default_factory=dict)  # every Airflow process's, once started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def worker_names(self) -> list[str]:
        return [f"worker-{n}" for n in range(1, self.workers + 1)]

    def start(self) -> float:
        """Start everything; the seconds until the API answers and every worker is ready."""
        started = time.monotonic()
        shutil.rmtree(self.state, ignore_errors=True)
        (self.state / "logs").mkdir(parents=True)
        self.postgres = Postgres(databases=("airflow", HISTORY_DATABASE)).start()
        self.redis = Redis(self.state / "redis").start()
        self.s3 = S3Server(self.state / "logs", buckets=(STAGING_BUCKET, LOGS_BUCKET)).start()
        env = self.env = self.shared_env()
        devserver.write_password(self.state / "airflow", self.password)
        devserver.migrate_db(env)
        devserver.load_settings(paths.PROJECT_ROOT / "airflow_settings.yaml", env)
        self._write_shell_env(env)
        for name in (*CENTRAL, *self.worker_names):
            self.components[name] = self._component(name, env)
            self.components[name].start()
        api = self.components["api-server"]
        devserver.wait_until_healthy(self.port, api.process)
        for name in self.worker_names:
            self.wait_until_ready(name)
        return time.monotonic() - started

    def shared_env(self) -> dict[str, str]:
        """The settings every Airflow process of the deployment has."""
        assert self.postgres and self.redis and self.s3
        env = devserver.airflow_env(self.state / "airflow", self.port)
        for sqlite_only in ("CONNECT_ARGS", "CONNECT_ARGS_ASYNC"):
            env.pop(f"AIRFLOW__DATABASE__SQL_ALCHEMY_{sqlite_only}", None)
        connection = {
            "conn_type": "aws", "login": "ferry-local", "password": "ferry-local",
            "extra": {"endpoint_url": self.s3.endpoint_url, "region_name": "us-east-1"},
        }  # fmt: skip
        history = {
            "conn_type": "postgres", "host": "127.0.0.1", "port": self.postgres.port,
            "login": "postgres", "schema": HISTORY_DATABASE,
        }  # fmt: skip
        return {
            **env,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(4 * self.workers * self.concurrency),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url("airflow"),
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url("airflow", "postgresql"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            # a worker takes a task only when it has a free slot: the other one gets the rest
            "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
            # one key for every process: tokens, connections and signed log URLs verify
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__WORKERS": "1",
            # wait_until_ready reads the workers' `ready.` line, an INFO one
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # task logs in S3: the API server shows them whichever worker wrote them
            "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
            "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"s3://{LOGS_BUCKET}/logs",
            "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": STAGING_CONNECTION,
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT_SECONDS),
            f"AIRFLOW_CONN_{STAGING_CONNECTION.upper()}": json.dumps(connection),
            # every worker, the API server and the CLI read and write the same run history
            "FERRY_HISTORY_CONN": HISTORY_CONNECTION,
            f"AIRFLOW_CONN_{HISTORY_CONNECTION.upper()}": json.dumps(history),
            "FERRY_STAGING": f"s3://{STAGING_CONNECTION}@{STAGING_BUCKET}/runs",
            "FERRY_CLUSTER_STATE": str(self.state),  # marks every process of this deployment
            **self.settings,
        }

    def _component(self, name: str, shared: dict[str, str]) -> Component:
        own = self.state / name
        env = {**shared, "FERRY_HOME": str(own / "ferry")}
        if name in CENTRAL:
            args = [name] + (
                ["--host", "127.0.0.1", "--port", str(self.port)] if name == "api-server" else []
            )
        else:  # a worker: its own AIRFLOW_HOME and name, no log server (logs go to S3)
            env["AIRFLOW_HOME"] = str(own / "airflow")
            env[hostname.ENV] = name
            env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "ferry.cluster.hostname.worker_hostname"
            args = ["celery", "worker", "--celery-hostname", f"ferry-{name}",
                    "--concurrency", str(self.concurrency), "--skip-serve-logs"]  # fmt: skip
        (own / "ferry").mkdir(parents=True, exist_ok=True)
        return Component(
            name, devserver.airflow_command(*args), env, self.state / "logs" / f"{name}.log"
        )

    def wait_until_ready(self, name: str, timeout: float = 180) -> None:
        """Until a Celery worker says it is ready (its log's `ready.` line)."""
        worker = self.components[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not worker.running():
                raise ServiceError(f"{name} exited; see {worker.log}{log_tail(worker.log)}")
            if worker.log.exists() and f"ferry-{name} ready." in worker.log.read_text(
                errors="replace"
            ):
                return
            time.sleep(0.5)
        raise ServiceError(
            f"{name} was not ready within {timeout} s; see {worker.log}{log_tail(worker.log)}"
        )

    def kill(self, name: str) -> None:
        """SIGKILL a component and everything it started, at once, as a crashed machine."""
        import psutil

        process = self.components[name].process
        with contextlib.suppress(psutil.NoSuchProcess):
            tree = [
                psutil.Process(process.pid),
                *psutil.Process(process.pid).children(recursive=True),
            ]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            for proc in tree:  # a task process in a session of its own, if any
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
        process.wait(10)

    def restart(self, name: str) -> None:
        """Start a stopped or killed component again with the same settings and folders."""
        component = self.components[name]
        if component.running():
            devserver.stop(component.process)
        # the log's old `ready.` line must not count for the new process
        component.log.rename(component.log.with_suffix(f".{int(time.time())}.log"))
        component.start()
        if name in self.worker_names:
            self.wait_until_ready(name)

    def stop(self) -> None:
        """Stop the workers first (they finish or give back their tasks), then the rest."""
        for name in reversed(list(self.components)):
            component = self.components[name]
            if component.process is not None:
                devserver.stop(component.process, grace=20)
        for server in (self.s3, self.redis, self.postgres):
            if server is not None:
                server.stop()

    def _write_shell_env(self, env: dict[str, str]) -> None:
        """env.sh: `. env.sh` and `airflow ...` or `ferry ...` reach this deployment."""
        keys = ("AIRFLOW_HOME", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__FERNET_KEY",
                "FERRY_STAGING", f"AIRFLOW_CONN_{STAGING_CONNECTION.upper()}",
                "FERRY_HISTORY_CONN", f"AIRFLOW_CONN_{HISTORY_CONNECTION.upper()}")  # fmt: skip
        lines = [f"export {key}={_shell_quote(env[key])}" for key in keys]
        target = self.state / "env.sh"
        target.write_text("\n".join(lines) + "\n")
        target.chmod(0o600)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _shell_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)
