"""The Exports app mounted at /ferry as Airflow's API server mounts it, Airflow's real
simple auth manager, and a private include/.

Users: admin (admin), ada (user), vic and viewer (viewer: reads every DAG) and nobody (a
configured user without a role, whom the auth manager refuses everything). Passwords are
`<name>-secret`, for tests that get tokens from the auth manager's own POST /auth/token,
as the UI and the CLI get theirs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli_runner import commented_include

ROOT = Path(__file__).resolve().parents[3]
USERS = "admin:admin,ada:user,vic:viewer,viewer:viewer,nobody:"


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


@pytest.fixture(scope="package")
def auth_settings(tmp_path_factory, airflow_db):
    """The simple auth manager's users, passwords and token secret, for these tests only
    (a live Airflow started later in the session must not inherit them)."""
    passwords = tmp_path_factory.mktemp("auth") / "passwords.json"
    names = [pair.split(":")[0] for pair in USERS.split(",")]
    passwords.write_text(json.dumps({name: f"{name}-secret" for name in names}))
    settings = {
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "ferry-tests-" + "0123456789abcdef" * 4,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings.items():
            patch.setenv(key, value)
        yield


@pytest.fixture(scope="package")
def auth_manager(auth_settings):
    """Airflow's configured auth manager (the simple one), initialised as the API server does."""
    from airflow.api_fastapi.app import init_auth_manager

    return init_auth_manager()


@pytest.fixture(scope="package")
def auth_app(auth_settings):
    """An app with only Ferry's download router, under /ferry/api, and the auth routes."""
    from airflow.api_fastapi.app import init_auth_manager
    from fastapi import FastAPI

    from ferry.web.downloads import router

    app = FastAPI()
    app.include_router(router, prefix="/ferry")
    init_auth_manager(app)
    return app


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
    """The exports', groups' and imports' DAGs in Airflow's database, as the DAG processor
    writes them."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
    dag_ids = []
    for name in ("ferry_exports.py", "ferry_groups.py", "ferry_imports.py"):
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
