"""A live Airflow standalone on 127.0.0.1, started once for the tests that need a scheduler.

It shares the session's FERRY_HOME, include/ and warehouse (tests/conftest.py), so a test
can trigger a DAG through the REST API and read what it delivered; its metadata DB is its
own, apart from the one dag.test() uses in the test process. Its users, for the tests of
who may do what: admin (admin role), ann (viewer role) and nobody (no role: sees nothing).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ferry import devserver
from ferry.airflow_api import AirflowClient
from servers import SSHD, MotoS3, OpenSshServer, running

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "ferry-test"
VIEWER = "ann"
VIEWER_PASSWORD = "ferry-viewer"
NOBODY = "nobody"
NOBODY_PASSWORD = "ferry-nobody"
LOG_TAIL_LINES = 120
USERS = {  # name -> (role, password); no role: logs in but may read nothing
    devserver.ADMIN_USER: ("admin", PASSWORD),
    VIEWER: ("viewer", VIEWER_PASSWORD),
    NOBODY: ("", NOBODY_PASSWORD),
}


@dataclass
class LiveAirflow:
    url: str
    client: AirflowClient
    home: Path
    log_file: Path
    username: str = devserver.ADMIN_USER
    password: str = PASSWORD
    viewer: str = VIEWER
    viewer_password: str = VIEWER_PASSWORD

    def password_of(self, user: str) -> str:
        return USERS[user][1]


@pytest.fixture(scope="session")
def live_airflow(warehouse) -> LiveAirflow:
    """Airflow standalone with the repo's dags/ and airflow_settings.yaml loaded."""
    # its own metadata DB: its scheduler would otherwise take up the runs that dag.test()
    # creates in this process ("Dag not found" when the test's DAGs are not in dags/)
    home = Path(os.environ["AIRFLOW_HOME"]).with_name("airflow-live")
    port = devserver.free_port()
    env = devserver.airflow_env(home, port)
    add_users(home, env)
    devserver.migrate_db(env)
    devserver.load_settings(ROOT / "airflow_settings.yaml", env)
    log_file = home / "standalone.log"
    process = devserver.start_standalone(env, log_file)
    try:
        devserver.wait_until_healthy(port, process)
        url = f"http://127.0.0.1:{port}"
        client = AirflowClient(url, username=devserver.ADMIN_USER, password=PASSWORD)
        wait_until_parsed(client, ROOT / "dags")
        yield LiveAirflow(url=url, client=client, home=home, log_file=log_file)
    finally:
        devserver.stop(process)


def add_users(home: Path, env: dict[str, str]) -> None:
    """The simple auth manager's users (USERS) with the passwords chosen for them."""
    env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = ",".join(
        f"{user}:{role}" for user, (role, _) in USERS.items()
    )
    devserver.write_password(home, PASSWORD)  # creates home; then every user's password
    (home / "simple_auth_manager_passwords.json.generated").write_text(
        json.dumps({user: password for user, (_, password) in USERS.items()})
    )


def wait_until_parsed(client: AirflowClient, dags_folder: Path, timeout: float = 180) -> None:
    """Until every DAG file has DAGs in the API: the first parse is the busiest time for
    SQLite, and tests written right after start met 30 s answers."""
    expected = {path.name for path in dags_folder.glob("*.py")} - {"ferry_definition_errors.py"}
    deadline = time.monotonic() + timeout
    while True:
        dags = client.request("GET", "/dags", params={"limit": 1000})["dags"]
        missing = expected - {Path(dag["fileloc"]).name for dag in dags}
        if not missing:
            return
        assert time.monotonic() < deadline, f"Airflow parsed no DAG of {missing} in {timeout} s"
        time.sleep(1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test of the live Airflow shows the end of Airflow's own log."""
    report = yield
    live = item.funcargs.get("live_airflow") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(live, LiveAirflow) and live.log_file.exists():
        lines = live.log_file.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        report.sections.append(("airflow standalone.log (end)", "\n".join(lines)))
    return report


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3]:
    """moto's S3 server for the whole session (state is per bucket; tests use their own)."""
    with running(MotoS3()) as server:
        yield server


@pytest.fixture
def sftp_server() -> Iterator[OpenSshServer]:
    """A fresh sshd per test (the cut test kills its server); skipped without sshd outside CI."""
    if not Path(SSHD).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{SSHD} is missing; CI installs openssh-server from packages.txt")
        pytest.skip(f"{SSHD} is missing: apt-get install -y openssh-server (see packages.txt)")
    with running(OpenSshServer()) as server:
        yield server
