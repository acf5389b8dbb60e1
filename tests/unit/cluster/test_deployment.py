"""The settings of the local Celery deployment's processes, without starting them:
separate folders per process, one set of keys and servers for all, loopback only."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ferry.cluster.deployment import CENTRAL, Deployment
from ferry.cluster.services import Postgres, Redis, S3Server


@pytest.fixture
def deployment(tmp_path):
    made = Deployment(tmp_path / "state", 18080, "pw", workers=2, concurrency=3)
    made.postgres = Postgres()
    made.redis, made.s3 = Redis(tmp_path / "redis"), S3Server(tmp_path / "s3")
    yield made
    shutil.rmtree(made.postgres.folder, ignore_errors=True)


def components(deployment: Deployment) -> dict:
    env = deployment.shared_env()
    return {name: deployment._component(name, env) for name in (*CENTRAL, "worker-1", "worker-2")}


def test_every_process_has_its_own_ferry_home_and_each_worker_its_own_airflow_home(deployment):
    made = components(deployment)
    homes = {c.env["FERRY_HOME"] for c in made.values()}
    assert len(homes) == len(made)
    for name, component in made.items():
        assert component.env["FERRY_HOME"] == str(deployment.state / name / "ferry")
    workers = [made["worker-1"], made["worker-2"]]
    assert {w.env["AIRFLOW_HOME"] for w in workers} == {
        str(deployment.state / "worker-1" / "airflow"),
        str(deployment.state / "worker-2" / "airflow"),
    }
    assert made["scheduler"].env["AIRFLOW_HOME"] == str(deployment.state / "airflow")


def test_each_worker_has_its_own_name_and_no_log_server(deployment):
    worker = components(deployment)["worker-2"]
    assert worker.env["FERRY_WORKER_HOSTNAME"] == "worker-2"
    assert (
        worker.env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] == "ferry.cluster.hostname.worker_hostname"
    )
    assert worker.command[1:] == ["celery", "worker", "--celery-hostname", "ferry-worker-2",
                                  "--concurrency", "3", "--skip-serve-logs"]  # fmt: skip


def test_all_share_the_keys_and_the_servers_and_nothing_is_sqlite(deployment):
    made = components(deployment)
    shared = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
              "AIRFLOW__API__SECRET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
              "AIRFLOW__CELERY__BROKER_URL", "FERRY_STAGING", "FERRY_HISTORY_CONN",
              "AIRFLOW_CONN_FERRY_HISTORY")  # fmt: skip
    for key in shared:
        assert len({c.env[key] for c in made.values()}) == 1, key
    env = made["scheduler"].env
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS" not in env  # SQLite's timeout
    assert env["FERRY_STAGING"] == "s3://ferry_staging@ferry-staging/runs"
    assert env["AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER"] == "s3://ferry-logs/logs"
    # the run history too: no worker's history.sqlite
    assert env["FERRY_HISTORY_CONN"] == "ferry_history"
    assert json.loads(env["AIRFLOW_CONN_FERRY_HISTORY"])["conn_type"] == "postgres"
    api = made["api-server"].command
    assert api[api.index("--host") + 1] == "127.0.0.1"


def test_the_shell_settings_file_reaches_the_deployment_and_is_private(deployment):
    deployment.state.mkdir(parents=True)
    deployment._write_shell_env(deployment.shared_env())
    target = deployment.state / "env.sh"
    assert target.stat().st_mode & 0o077 == 0
    done = subprocess.run(["bash", "-c", f". {target}; echo $FERRY_STAGING $FERRY_HISTORY_CONN"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout.strip() == "s3://ferry_staging@ferry-staging/runs ferry_history"
