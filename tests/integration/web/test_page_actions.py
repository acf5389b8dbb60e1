"""Each action of the Exports list in a real browser, as admin, on the live Airflow.

Before each change the admin's page asks for goes through, the viewer sends the very same
request and must get 403 (viewer_first, see replay.py). Edits touch only the tests' own
definitions (conftest.WEB_EXPORTS) in the session's private include/ copy; runs use the
shipped RUN_EXPORT (the whole customer_profile table to the download area, ~5 s).
"""

from __future__ import annotations

from urllib.parse import quote, unquote

import pytest
import yaml

from ferry import history, refresh

from .conftest import COMMENT, RUN_EXPORT, definition, trigger, wait_for
from .exports_page import (
    act,
    cell,
    confirm,
    confirm_if_asked,
    open_list,
    row,
    schedule,
    until,
    visible_ids,
)

pytestmark = pytest.mark.integration
DAG_ID = f"export__{RUN_EXPORT}"
RUN_TIMEOUT = 120


def last_run_id(page, export_id: str) -> str | None:
    """The job_run_id the list's Last run cell links to (None: never ran)."""
    link = row(page, export_id).locator("td[data-col='last_run'] a")
    return unquote(link.get_attribute("href").rsplit("/", 1)[-1]) if link.count() else None


def airflow_run(site, record: history.RunRecord) -> dict:
    return site.client.request("GET", f"/dags/{DAG_ID}/dagRuns/{quote(record.run_id, safe='')}")


def loaded(export_id: str) -> dict:
    return yaml.safe_load(definition(export_id).read_text())


def test_run_starts_the_export_and_the_list_shows_its_last_run_succeed(
    admin_page, viewer_first, site
):
    page = open_list(admin_page)
    before = last_run_id(page, RUN_EXPORT)

    act(page, "run", RUN_EXPORT)

    until(
        page,
        lambda p: (
            last_run_id(p, RUN_EXPORT) not in (None, before)
            and "success" in cell(p, RUN_EXPORT, "last_run")
        ),
        "the list shows the new run's success",
        timeout=RUN_TIMEOUT,
    )
    record = history.get_run(last_run_id(page, RUN_EXPORT))
    assert record.outcome == "success" and record.rows > 0
    assert airflow_run(site, record)["triggering_user_name"] == "admin"
    assert viewer_first.refused() == [("POST", f"/ferry/api/exports/{RUN_EXPORT}/run")]


def test_run_all_runs_only_the_selected_exports_whose_schedule_is_active(
    admin_page, viewer_first, site
):
    page = open_list(admin_page)
    before = last_run_id(page, RUN_EXPORT)
    inactive_runs = history.list_runs("web_pick_b")

    act(page, "run-all", RUN_EXPORT, "web_pick_b")  # web_pick_b is switched off

    until(
        page,
        lambda p: (
            last_run_id(p, RUN_EXPORT) not in (None, before)
            and "success" in cell(p, RUN_EXPORT, "last_run")
        ),
        "the active export's new run succeeds",
        timeout=RUN_TIMEOUT,
    )
    assert "web_pick_b" in page.locator("#message").inner_text()  # said why it did not run
    assert history.list_runs("web_pick_b") == inactive_runs
    assert viewer_first.refused() == [("POST", "/ferry/api/exports/run-all")]


def test_stop_ends_a_running_run(admin_page, viewer_first, site):
    page = open_list(admin_page)
    with refresh.refreshing(["customer_profile"], holder="test_page_actions"):
        act(page, "run", RUN_EXPORT)  # waits for the refresh to end: running, not exporting
        until(page, lambda p: row(p, RUN_EXPORT).get_attribute("data-running") == "yes",
              "the list shows the run running", timeout=RUN_TIMEOUT)  # fmt: skip
        viewer_first.replies.clear()  # the run's own request was checked by the run test

        act(page, "stop", RUN_EXPORT)

        until(page, lambda p: row(p, RUN_EXPORT).get_attribute("data-running") == "no",
              "the list shows the run stopped", timeout=RUN_TIMEOUT)  # fmt: skip
    stopped = history.get_run(last_run_id(page, RUN_EXPORT))
    assert stopped.outcome != "success"
    assert airflow_run(site, stopped)["state"] == "failed"
    assert viewer_first.refused() == [("POST", f"/ferry/api/exports/{RUN_EXPORT}/stop")]


def test_duplicate_creates_an_inactive_copy_keeping_comments(admin_page, viewer_first, site):
    page = open_list(admin_page)
    before = set(visible_ids(page))

    act(page, "duplicate", "web_pick_a")

    until(page, lambda p: set(visible_ids(p)) - before, "a new export in the list")
    assert viewer_first.refused() == [("POST", "/ferry/api/exports/web_pick_a/duplicate")]
    [copy_id] = set(visible_ids(page)) - before
    copy = loaded(copy_id)
    assert copy["source"] == loaded("web_pick_a")["source"]
    assert copy["enabled"] is False
    assert COMMENT in definition(copy_id).read_text()
    assert cell(page, copy_id, "status").startswith("paused")


def test_scheduling_two_at_once_keeps_their_own_schedules_or_gives_both_a_new_one(
    admin_page, viewer_first, site
):
    page = open_list(admin_page)
    pair = ("web_pick_a", "web_pick_b")

    act(page, "schedule", *pair)
    schedule(page, "keep")
    until(page, lambda p: all(cell(p, i, "status").startswith("active") for i in pair),
          "both switched on")  # fmt: skip
    kept = [loaded(export_id) for export_id in pair]

    act(page, "schedule", *pair)
    schedule(page, "override", "0 7 * * 1")
    until(page, lambda p: loaded(pair[0])["schedule"] == "0 7 * * 1", "the new schedule saved")
    overridden = [loaded(export_id) for export_id in pair]

    assert [(d["schedule"], d["enabled"]) for d in kept] == [("0 6 * * *", True), ("refresh", True)]
    assert [(d["schedule"], d["enabled"]) for d in overridden] == [("0 7 * * 1", True)] * 2
    assert all(COMMENT in definition(export_id).read_text() for export_id in pair)
    until(page, lambda p: cell(p, pair[0], "schedule_text") == cell(p, pair[1], "schedule_text")
          != "after every refresh", "both show the one new schedule")  # fmt: skip
    assert viewer_first.refused() == [("POST", "/ferry/api/exports/schedule")] * 2


def test_detach_leaves_the_export_without_connection(admin_page, viewer_first, site):
    page = open_list(admin_page)

    act(page, "detach", "web_detach")
    confirm_if_asked(page)  # detach acts at once, as the CLI does; a page may still ask

    until(page, lambda p: cell(p, "web_detach", "connections") == "No connection",
          "the list shows No connection")  # fmt: skip
    assert cell(page, "web_detach", "status").startswith("detached")
    assert "detached" in loaded("web_detach")["tags"]
    assert COMMENT in definition("web_detach").read_text()
    assert viewer_first.refused() == [("POST", "/ferry/api/exports/web_detach/detach")]


def test_remove_deletes_the_definition_and_keeps_its_runs_in_history(
    admin_page, viewer_first, site, removable_run
):
    page = open_list(admin_page)

    act(page, "remove", "web_remove")
    confirm(page)

    until(page, lambda p: "web_remove" not in visible_ids(p), "the row gone")
    assert not definition("web_remove").exists()
    assert history.get_run(removable_run).outcome == "success"
    assert viewer_first.refused() == [("DELETE", "/ferry/api/exports/web_remove")]


@pytest.fixture
def removable_run(site) -> str:
    """A finished run of web_remove: history that must outlive its definition."""
    dag_id = "export__web_remove"
    wait_for(lambda: site.client.request("GET", "/dags", params={"dag_id_pattern": dag_id})[
        "total_entries"], f"Airflow parses {dag_id}", timeout=90)  # fmt: skip
    run_id = trigger(site, dag_id)
    assert site.client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)["state"] == "success"
    [record] = [r for r in history.list_runs("web_remove") if r.run_id == run_id]
    return record.job_run_id
