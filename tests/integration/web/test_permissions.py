"""Who may do what, in a real browser: the viewer (ann) sees every export with View and no
action button; downloads need read access to the export, so nobody (no role) and a caller
who is not logged in are refused. (Each action refused to the viewer with 403: the
viewer_first replays in test_page_actions.py.)"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from ..conftest import NOBODY
from .conftest import RUN_EXPORT
from .exports_page import export_page, open_list, visible_ids

pytestmark = pytest.mark.integration


def downloads_of(job_run_id: str) -> list:
    from ferry.history_downloads import list_downloads  # web-downloads' audit

    return list_downloads(job_run_id)


def download_url(job_run_id: str, name: str) -> str:
    return f"/ferry/api/runs/{quote(job_run_id, safe='')}/files/{quote(name, safe='')}"


def data_file(page, job_run_id: str) -> str:
    run = page.request.get(f"/ferry/api/runs/{quote(job_run_id, safe='')}").json()
    return next(f["name"] for f in run["files"] if f.get("kind", "data") == "data")


def test_the_viewer_sees_every_export_as_view_and_no_action_button(viewer_page, site):
    page = open_list(viewer_page)

    shown = visible_ids(page)
    permissions = page.locator("#exports tr[data-export-id] td[data-col='permissions']")
    assert RUN_EXPORT in shown
    assert set(permissions.all_inner_texts()) == {"View"}
    assert page.locator("button[data-action]:visible").count() == 0
    export_page(page, RUN_EXPORT)
    assert page.locator("button[data-action]:visible").count() == 0


def test_the_viewer_may_download_what_she_may_read(viewer_page, site, finished_run):
    name = data_file(viewer_page, finished_run)

    answer = viewer_page.request.get(download_url(finished_run, name))

    assert answer.status == 200
    assert len(answer.body()) > 0
    assert (site.viewer, name) in {(d.username, d.file) for d in downloads_of(finished_run)}


def test_a_user_without_read_access_sees_no_export_and_gets_403_for_a_download(
    open_context, viewer_page, site, finished_run
):
    name = data_file(viewer_page, finished_run)
    nobody = open_context(NOBODY).request

    listed = nobody.get("/ferry/api/exports")
    answer = nobody.get(download_url(finished_run, name))

    assert listed.status == 403 or listed.json()["exports"] == []
    assert answer.status == 403
    assert NOBODY in answer.text()
    assert NOBODY not in {d.username for d in downloads_of(finished_run)}  # nothing served


def test_a_download_without_logging_in_is_refused(open_context, viewer_page, site, finished_run):
    name = data_file(viewer_page, finished_run)

    answer = open_context(None).request.get(download_url(finished_run, name))

    assert answer.status in (401, 403)
    assert answer.headers.get("content-disposition") is None
