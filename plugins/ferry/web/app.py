"""The Exports page's FastAPI app, which Airflow's API server mounts at /ferry.

Plain HTML, CSS and JavaScript served from this package (no CDN, nothing fetched at run
time: Airflow may have no internet). The pages are shells that read the JSON API; each
one is told the prefix it is mounted at, so links work under any url_prefix.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import get_user
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ferry.web import actions, api, groups

STATIC = Path(__file__).with_name("static")
PAGES = {"list": "list.html", "export": "export.html", "run": "run.html", "group": "group.html"}


def create_app() -> FastAPI:
    app = FastAPI(
        title="Ferry exports", docs_url=None, redoc_url=None, openapi_url="/api/openapi.json"
    )
    app.include_router(api.router)
    app.include_router(actions.router)
    app.include_router(groups.router)
    app.include_router(groups.actions)
    downloads = _downloads_router()
    if downloads is not None:
        app.include_router(downloads)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/", _page("list"), methods=["GET"], response_class=HTMLResponse)
    app.add_api_route("/exports/{export_id}", _page("export"), methods=["GET"],
                      response_class=HTMLResponse)  # fmt: skip
    app.add_api_route("/runs/{job_run_id}", _page("run"), methods=["GET"],
                      response_class=HTMLResponse)  # fmt: skip
    app.add_api_route("/groups/{group_id}", _page("group"), methods=["GET"],
                      response_class=HTMLResponse)  # fmt: skip
    return app


def _downloads_router():
    """ferry.web.downloads' router (file downloads), when that module is installed."""
    if importlib.util.find_spec("ferry.web.downloads") is None:
        return None
    from ferry.web import downloads

    return downloads.router


def _page(name: str):
    async def page(request: Request) -> Response:
        """The page's shell for a signed-in user (the API checks each export's rights);
        anyone else goes to Airflow's login, and comes back after it."""
        try:
            user = await get_user(request, None, None)  # the UI's cookie
        except HTTPException:
            login = get_auth_manager().get_url_login(next_url=str(request.url))
            return RedirectResponse(login, status_code=303)
        root = request.scope.get("root_path", "")
        return HTMLResponse(render_page(name, root, user.get_name()))

    return page


def render_page(name: str, root: str, user_name: str) -> str:
    if name not in PAGES:
        raise HTTPException(404)
    text = (STATIC / PAGES[name]).read_text(encoding="utf-8")
    return text.replace("{{root}}", _attribute(root)).replace("{{user}}", _attribute(user_name))


def _attribute(text: str) -> str:
    """Text safe inside a double-quoted HTML attribute or element."""
    from html import escape

    return escape(text, quote=True)
