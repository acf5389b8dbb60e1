"""Airflow plugin: the Exports page, "Exports" in Airflow's navigation, served at /ferry.

Airflow's API server mounts the FastAPI app (ferry.web.app) at /ferry; the external view
puts "Exports" in the navigation, opening /ferry/ inside Airflow's UI.

Every Airflow component imports this file, task processes included: it imports nothing
but Airflow's plugin class. The app is built at its first request, in the API server only
(building it loads Airflow's API modules, about a second).

Airflow does not guard a plugin's app: ferry.web.auth checks the caller on every route.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/ferry"


class LazyApp:
    """An ASGI app that builds ferry.web.app's FastAPI app when it is first called."""

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            from ferry.web.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class FerryExportsPlugin(AirflowPlugin):
    name = "ferry_exports"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Ferry exports"}]
    external_views = [
        {
            "name": "Exports",
            "href": f"{URL_PREFIX}/",
            "url_route": "ferry_exports",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
