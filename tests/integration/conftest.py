"""A live Airflow standalone on 127.0.0.1, started once for the tests that need a scheduler.

It shares the session's AIRFLOW_HOME, FERRY_HOME and warehouse (tests/conftest.py), so a
test can trigger a DAG through the REST API and read what it delivered.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferry import devserver
from ferry.airflow_api import AirflowClient

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "ferry-test"


@dataclass
class LiveAirflow:
    url: str
    client: AirflowClient
    home: Path
    log_file: Path
    username: str = devserver.ADMIN_USER
    password: str = PASSWORD


@pytest.fixture(scope="session")
def live_airflow(warehouse, airflow_db) -> LiveAirflow:
    """Airflow standalone with the repo's dags/ and airflow_settings.yaml loaded."""
    home = Path(os.environ["AIRFLOW_HOME"])
    port = devserver.free_port()
    env = devserver.airflow_env(home, port)
    devserver.write_password(home, PASSWORD)
    devserver.load_settings(ROOT / "airflow_settings.yaml", env)
    log_file = home / "standalone.log"
    process = devserver.start_standalone(env, log_file)
    try:
        devserver.wait_until_healthy(port, process)
        url = f"http://127.0.0.1:{port}"
        client = AirflowClient(url, username=devserver.ADMIN_USER, password=PASSWORD)
        yield LiveAirflow(url=url, client=client, home=home, log_file=log_file)
    finally:
        devserver.stop(process)
