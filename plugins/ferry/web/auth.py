"""Who the caller is and what they may do, decided by Airflow's own auth manager.

A plugin's FastAPI app is mounted as is: Airflow guards none of its routes. Every route
here asks for the caller with Airflow's GetUserDep (a Bearer token or the UI's cookie) and
checks the export's DAG with the auth manager, as Airflow's own REST API does:

- view (and download): GET on the DAG
- run: POST on the DAG's runs; stop: PUT on the DAG's runs
- edit (duplicate, schedule, detach, remove): PUT on the DAG

So a deployment's roles (simple auth manager, FAB, Keycloak...) decide, per DAG and team.
"""

from __future__ import annotations

from typing import Literal

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import HTTPException, Request, status

Method = Literal["GET", "POST", "PUT", "DELETE"]
Entity = Literal["RUN"] | None
ACTIONS: dict[str, tuple[Method, Entity]] = {
    "view": ("GET", None),
    "run": ("POST", "RUN"),
    "stop": ("PUT", "RUN"),
    "edit": ("PUT", None),
}
UNSAFE_SITES = ("cross-site", "same-site")  # Sec-Fetch-Site of a request another site made

__all__ = ["ACTIONS", "GetUserDep", "permissions_of", "require_action", "require_dag_access"]


def _teams(dag_ids: list[str]) -> dict[str, str | None]:
    from airflow.models.dag import DagModel

    return DagModel.get_dag_id_to_team_name_mapping(dag_ids) if dag_ids else {}


def allowed(user, dag_id: str, method: Method, entity: Entity = None, team: str | None = None):
    """Whether the auth manager lets the user do `method` on the DAG (or its runs)."""
    return get_auth_manager().is_authorized_dag(
        method=method,
        access_entity=DagAccessEntity[entity] if entity else None,
        details=DagDetails(id=dag_id, team_name=team),
        user=user,
    )


def require_dag_access(user, dag_id: str, method: Method, entity: Entity = None) -> None:
    """403 unless the user may do `method` on the DAG (entity "RUN": on its runs)."""
    if not allowed(user, dag_id, method, entity, _teams([dag_id]).get(dag_id)):
        what = f"{method} on the runs of" if entity else f"{method} on"
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"{user.get_name()} may not {what} DAG {dag_id}"
        )


def require_action(user, dag_id: str, action: str) -> None:
    """403 unless the user may take the action (a key of ACTIONS) on the export's DAG."""
    method, entity = ACTIONS[action]
    require_dag_access(user, dag_id, method, entity)


def permissions_of(user, dag_ids: list[str]) -> dict[str, str]:
    """'edit' or 'view' per DAG the user may see; DAGs they may not see are left out."""
    teams = _teams(dag_ids)
    found = {}
    for dag_id in dag_ids:
        team = teams.get(dag_id)
        if allowed(user, dag_id, "PUT", None, team):
            found[dag_id] = "edit"
        elif allowed(user, dag_id, "GET", None, team):
            found[dag_id] = "view"
    return found


def same_site_only(request: Request) -> None:
    """Refuse a state-changing request a browser sent from another site with the UI's cookie.

    The cookie rides along on any request the browser makes to Airflow; browsers say where
    a request came from in Sec-Fetch-Site. A Bearer token is never sent by a browser on its own.
    """
    if request.headers.get("sec-fetch-site", "") in UNSAFE_SITES:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "refused: the request came from another site"
        )
