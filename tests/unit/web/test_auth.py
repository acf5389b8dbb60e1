"""Rights come from Airflow's auth manager: admin and user roles edit, a viewer views."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from ferry.web.auth import permissions_of, require_action, require_dag_access


def user(name: str, role: str):
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return SimpleAuthManagerUser(username=name, role=role)


def test_permissions_follow_the_roles(auth_manager):
    dags = ["export__a", "export__b"]

    assert permissions_of(user("admin", "admin"), dags) == {
        "export__a": "edit",
        "export__b": "edit",
    }
    assert permissions_of(user("ada", "user"), dags) == {"export__a": "edit", "export__b": "edit"}
    assert permissions_of(user("vic", "viewer"), dags) == {"export__a": "view", "export__b": "view"}
    assert permissions_of(user("nobody", None), dags) == {}  # sees nothing at all


def test_a_viewer_may_read_but_not_run_stop_or_edit(auth_manager):
    viewer = user("vic", "viewer")
    require_dag_access(viewer, "export__a", "GET")  # no error
    for action in ("run", "stop", "edit"):
        with pytest.raises(HTTPException) as refused:
            require_action(viewer, "export__a", action)
        assert refused.value.status_code == 403
        assert "vic may not" in refused.value.detail and "export__a" in refused.value.detail


def test_a_user_may_run_and_edit(auth_manager):
    for action in ("view", "run", "stop", "edit"):
        require_action(user("ada", "user"), "export__a", action)
