"""Airflow's real simple auth manager behind a FastAPI app serving Ferry's web routes.

Users: admin (admin), viewer (viewer: reads every DAG) and nobody (a configured user
without a role, whom the auth manager refuses everything). Tokens are checked against the metadata
database (revoked tokens), so it is migrated first. Tokens come from the auth
manager's own POST /auth/token, as the UI and the CLI get theirs.
"""

from __future__ import annotations

import json

import pytest

USERS = {"admin": "admin", "viewer": "viewer", "nobody": ""}


@pytest.fixture(scope="session")
def auth_app(tmp_path_factory, airflow_db):
    """(the app with Ferry's download router under /ferry/api, a token getter)."""
    from fastapi import FastAPI

    passwords = tmp_path_factory.mktemp("auth") / "passwords.json"
    passwords.write_text(json.dumps({name: f"{name}-secret" for name in USERS}))
    settings = {
        "AIRFLOW__CORE__AUTH_MANAGER": (
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{name}:{role}" for name, role in USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "ferry-tests-" + "0123456789abcdef" * 4,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in settings.items():
            patch.setenv(key, value)
        from airflow.api_fastapi.app import init_auth_manager

        from ferry.web.downloads import router

        app = FastAPI()
        app.include_router(router, prefix="/ferry/api")
        init_auth_manager(app)
        yield app
