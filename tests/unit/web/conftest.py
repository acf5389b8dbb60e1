"""The Exports app mounted at /ferry as Airflow's API server mounts it, Airflow's real
simple auth manager with an admin, a user and a viewer, and a private include/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_runner import commented_include

ROOT = Path(__file__).resolve().parents[3]
USERS = "admin:admin,ada:user,vic:viewer"


@dataclass
class Web:
    client: object  # starlette TestClient
    include: Path
    tokens: dict[str, str]

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, path: str, user: str = "admin", headers: dict | None = None, **kwargs):
        return self.client.get(path, headers={**self.headers(user), **(headers or {})}, **kwargs)

    def post(self, path: str, user: str = "admin", headers: dict | None = None, **kwargs):
        return self.client.post(path, headers={**self.headers(user), **(headers or {})}, **kwargs)

    def put(self, path: str, user: str = "admin", headers: dict | None = None, **kwargs):
        return self.client.put(path, headers={**self.headers(user), **(headers or {})}, **kwargs)

    def delete(self, path: str, user: str = "admin", headers: dict | None = None, **kwargs):
        return self.client.delete(path, headers={**self.headers(user), **(headers or {})}, **kwargs)


@pytest.fixture(scope="session")
def auth_manager(airflow_db):
    """Airflow's configured auth manager (the simple one), initialised as the API server does."""
    import os

    os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = USERS
    os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", "ferry-tests-" + "s" * 64)
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


def token_of(auth_manager, name: str) -> str:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    role = dict(pair.split(":") for pair in USERS.split(","))[name]
    return auth_manager.generate_jwt(SimpleAuthManagerUser(username=name, role=role))


@pytest.fixture
def web(auth_manager, tmp_path, monkeypatch) -> Web:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from ferry_exports_plugin import URL_PREFIX, LazyApp

    include = commented_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))
    server = FastAPI()
    server.mount(URL_PREFIX, LazyApp())
    tokens = {name: token_of(auth_manager, name) for name in ("admin", "ada", "vic")}
    return Web(TestClient(server), include, tokens)


@pytest.fixture
def deployed(web):
    """The exports' DAGs in Airflow's database, as the DAG processor writes them."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    dag_ids = []
    for name in ("ferry_exports.py", "ferry_groups.py"):
        bag = DagBag(dag_folder=str(ROOT / "dags" / name))
        assert not bag.import_errors, bag.import_errors
        sync_bag_to_db(bag, "dags-folder", None)
        dag_ids += list(bag.dags)
    _unpause(dag_ids)  # as the DAG processor leaves new DAGs here, whatever tests did before
    yield dag_ids
    _end_runs(dag_ids)


def _unpause(dag_ids: list[str]) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(
            update(DagModel).where(DagModel.dag_id.in_(dag_ids)).values(is_paused=False)
        )


def _end_runs(dag_ids: list[str]) -> None:
    """No run left queued for another test to find."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(DagRun).where(DagRun.dag_id.in_(dag_ids)))
