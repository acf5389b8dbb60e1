"""The Exports page's changes-only exports and imports in a real browser, on the live Airflow.

Reset ("Send everything next run") asks first and only then forgets the export's delivered
state; the viewer sends the very same request first and is refused (viewer_first). The
imports section lists the demo's import with its last run's counts, opens its run history
and runs it as the admin (the run, waiting for a file that never comes, is then failed).
"""

from __future__ import annotations

import datetime as dt

import pytest

from ferry import history
from ferry.changes_state import StateStore
from ferry.run_info import RunInfo

from .conftest import RUN_EXPORT, wait_for
from .exports_page import export_page, open_list, row, until

pytestmark = pytest.mark.integration
CHANGES_EXPORT = "lead_changes"  # shipped, changes: true
IMPORT = "partner_leads"  # shipped, merges a dropped CSV into lead
IMPORT_DAG = f"import__{IMPORT}"


def committed_state(run: str, tmp_path) -> StateStore:
    """A delivered state of the changes-only export, as finalize commits it after a run."""
    store = StateStore(CHANGES_EXPORT)
    store.base_for(run)
    (tmp_path / "state.parquet").write_bytes(b"a state")
    store.stage(run, tmp_path / "state.parquet")
    store.commit(run)
    return store


def test_reset_asks_first_then_the_next_run_sends_everything(
    admin_page, viewer_first, site, tmp_path
):
    store = committed_state("manual__web_reset", tmp_path)
    page = export_page(admin_page, CHANGES_EXPORT)
    state = page.locator("#changes-state")
    state.wait_for()
    assert "committed by run manual__web_reset" in state.inner_text()
    button = page.locator("button[data-action='reset']")

    button.click()
    dialog = page.locator("#confirm")
    dialog.wait_for(state="visible")
    assert "Send everything next run?" in dialog.inner_text()
    dialog.locator("button[data-confirm=no]").click()
    assert store.head().run == "manual__web_reset"  # cancelled: nothing sent, nothing reset

    button.click()
    dialog.locator("button[data-confirm=yes]").click()

    message = page.locator("#message")
    until(page, lambda p: "Reset lead_changes" in message.inner_text(), "the page says it reset")
    assert "forgot the state of run manual__web_reset" in message.inner_text()
    head = store.head()
    assert (head.state, head.run) == (None, None)  # the next run diffs against nothing
    until(
        page,
        lambda p: "reset: the next run sends every row" in p.locator("#summary").inner_text(),
        "the summary says the state was reset",
    )
    assert viewer_first.refused() == [("POST", f"/ferry/api/exports/{CHANGES_EXPORT}/reset")]


def test_the_list_offers_reset_only_for_changes_only_exports(admin_page, site):
    page = open_list(admin_page)
    assert "changes only" in row(page, CHANGES_EXPORT).locator("td[data-col='kind']").inner_text()
    button = page.locator("button[data-action='reset']")

    page.locator(f"input.select[data-export-id='{CHANGES_EXPORT}']").check()
    assert button.is_enabled()
    page.locator(f"input.select[data-export-id='{RUN_EXPORT}']").check()
    assert button.is_disabled()  # RUN_EXPORT sends every row each run


def record_import_run(run_id: str) -> history.RunRecord:
    """A merge of 20 rows (10 inserted, 10 updated, 1 rejected) as finalize records it."""
    end = dt.datetime.now(dt.UTC)
    result = {"rows_read": 21, "inserted": 10, "updated": 10, "deleted": 0, "rejected": 1,
              "skipped_files": [], "rejects_file": "/elsewhere/rejects.csv",
              "already_loaded": False}  # fmt: skip
    files = [{"name": "leads_20260401.csv", "location": "partner/leads_20260401.csv",
              "size": 1670, "modified": end.isoformat(), "sha256": "a" * 64}]  # fmt: skip
    record = history.RunRecord.imported(
        RunInfo(IMPORT, run_id, triggered_by="scheduler"),
        {"table": "lead", "mode": "merge", "files": files, "result": result},
        started_at=end - dt.timedelta(minutes=1), finished_at=end,
    )  # fmt: skip
    history.record_run(record)
    return record


def imports_row(page):
    return page.locator(f"#imports tr[data-import-id='{IMPORT}']")


def test_the_imports_section_shows_the_last_run_and_its_history(admin_page, site):
    record = record_import_run("manual__web_import")
    page = open_list(admin_page)
    found = imports_row(page)
    found.wait_for()

    cells = {name: found.locator(f"td[data-col='{name}']").inner_text() for name in
             ("table", "mode", "source", "schedule", "last_run")}  # fmt: skip
    assert (cells["table"], cells["mode"]) == ("lead", "merge")
    assert cells["source"].startswith("folder")
    assert cells["schedule"] == "daily at 00:00 (UTC)"
    assert "10 inserted, 10 updated, 0 deleted, 1 rejected" in cells["last_run"]

    found.locator("button[data-import-action=history]").click()
    run = page.locator(f"tr[data-history-of='{IMPORT}'] tr[data-job-run-id='{record.job_run_id}']")
    run.wait_for()
    counts = {name: run.locator(f"td[data-col='{name}']").inner_text() for name in
              ("rows", "inserted", "updated", "rejected")}  # fmt: skip
    assert counts == {"rows": "21", "inserted": "10", "updated": "10", "rejected": "1"}

    run.locator("a").first.click()  # the run's page: its counts and where its rejects are
    page.locator("#rejects-file").wait_for()
    assert "not in the download area" in page.locator("#rejects-file").inner_text()
    assert page.locator("#summary dt:text-is('Inserted') + dd").inner_text() == "10"

    page.locator("#export-link").click()  # back to the list, this import's history open
    page.locator(f"tr[data-history-of='{IMPORT}'] tr[data-job-run-id]").first.wait_for()


def test_a_viewer_sees_the_imports_without_a_run_button(viewer_page, site):
    page = open_list(viewer_page)
    imports_row(page).wait_for()
    assert imports_row(page).locator("button[data-import-action=run]").count() == 0


def test_run_starts_the_import_as_the_admin(admin_page, viewer_first, site):
    site.client.wait_for_dag(IMPORT_DAG)
    page = open_list(admin_page)
    with page.expect_response(lambda r: r.url.endswith(f"/api/imports/{IMPORT}/run")) as answer:
        imports_row(page).locator("button[data-import-action=run]").click()

    started = answer.value.json()
    run_id = started["run_id"]
    try:
        message = page.locator("#message")
        until(page, lambda p: f"Started {started['job_run_id']}" in message.inner_text(), "said")
        found = wait_for(lambda: site.client.dag_run(IMPORT_DAG, run_id), "the run in Airflow")
        assert found["triggering_user_name"] == "admin"
        assert viewer_first.refused() == [("POST", f"/ferry/api/imports/{IMPORT}/run")]
    finally:  # the run waits for a file no one drops: end it for the tests after this one
        site.client.set_run_state(IMPORT_DAG, run_id, "failed", note="ended by the page test")
