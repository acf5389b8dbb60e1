"""The Exports page as a person uses it, by the page's contract (ids, data-* attributes):

list `#exports`, a row `tr[data-export-id=ID]`, cells `td[data-col=FIELD]`, sortable headers
`th[data-sort=FIELD]`, `#search`, filters `#filter-status|kind|owner`, row checkboxes
`input.select[data-export-id]`, action buttons `button[data-action=...]`, the confirm
dialog `#confirm`, the schedule dialog `#schedule-dialog`; an export's page `#runs`
(`tr[data-job-run-id]`); a run's page `#files` with `a.download` links.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from playwright.sync_api import TimeoutError as PlaywrightTimeout

LIST = "/ferry/"
ACTIONS = ("run", "run-all", "duplicate", "schedule", "detach", "remove", "stop")


def open_list(page):
    """The Exports list, once its rows are there."""
    page.goto(LIST)
    page.locator("#exports tr[data-export-id]").first.wait_for()
    return page


def row(page, export_id: str):
    return page.locator(f"#exports tr[data-export-id='{export_id}']")


def cell(page, export_id: str, column: str, timeout_ms: float = 5000) -> str:
    found = row(page, export_id).locator(f"td[data-col='{column}']")
    return found.inner_text(timeout=timeout_ms).strip()


def visible_ids(page) -> list[str]:
    rows = page.locator("#exports tr[data-export-id]:visible")
    return [rows.nth(i).get_attribute("data-export-id") for i in range(rows.count())]


def column(page, name: str) -> list[str]:
    """The first line of one column's cells, in the order the visible rows show them."""
    cells = page.locator(f"#exports tr[data-export-id]:visible td[data-col='{name}']")
    return [(text.strip().splitlines() or [""])[0] for text in cells.all_inner_texts()]


def choose(page, select_id: str, wanted: str) -> None:
    """Pick the option of a filter whose value or label is `wanted` (any case, - or _)."""

    def same(text: str) -> bool:
        return text.strip().casefold().replace("-", "_") == wanted.casefold().replace("-", "_")

    options = page.locator(f"#{select_id} option")
    for i in range(options.count()):
        option = options.nth(i)
        value = option.get_attribute("value")
        if same(option.inner_text()) or (value is not None and same(value)):
            page.select_option(f"#{select_id}", value=value or option.inner_text().strip())
            return
    raise AssertionError(f"#{select_id} offers no '{wanted}': {options.all_inner_texts()}")


def select(page, *export_ids: str) -> None:
    """Tick exactly these rows' checkboxes."""
    boxes = page.locator("#exports input.select[data-export-id]")
    for i in range(boxes.count()):
        box = boxes.nth(i)
        if box.is_visible():
            box.set_checked(box.get_attribute("data-export-id") in export_ids)


def action_button(page, action: str, export_id: str | None = None):
    """The toolbar's button for the selection; else the one in the export's row."""
    toolbar = page.locator(f"button[data-action='{action}']:not(#exports tr *)")
    if toolbar.count() or export_id is None:
        return toolbar.first
    return row(page, export_id).locator(f"button[data-action='{action}']")


def act(page, action: str, *export_ids: str) -> None:
    """Select the exports and press the action's button (no dialog answered yet)."""
    if export_ids:
        select(page, *export_ids)
    action_button(page, action, export_ids[0] if len(export_ids) == 1 else None).click()


def confirm(page) -> None:
    """Answer yes in the confirmation dialog, which must open."""
    dialog = page.locator("#confirm")
    dialog.wait_for(state="visible")
    dialog.locator("button[data-confirm=yes]").click()


def confirm_if_asked(page, wait_ms: int = 1500) -> None:
    """Answer yes if the confirmation dialog opens (some actions may not ask)."""
    dialog = page.locator("#confirm")
    try:
        dialog.wait_for(state="visible", timeout=wait_ms)
    except PlaywrightTimeout:  # no dialog: nothing to answer
        return
    dialog.locator("button[data-confirm=yes]").click()


def schedule(page, mode: str, text: str | None = None) -> None:
    """Fill the schedule dialog (keep: each keeps its own; override: one for all) and save."""
    dialog = page.locator("#schedule-dialog")
    dialog.wait_for(state="visible")
    dialog.locator(f"input[name=mode][value={mode}]").check()
    if text is not None:
        dialog.locator("#schedule-input").fill(text)
    dialog.locator("button[data-confirm=yes]").click()
    dialog.wait_for(state="hidden")


def until(page, condition, what: str, timeout: float = 60) -> None:
    """Wait until condition(page) holds, as the page updates itself (no reload)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition(page):
                return
        except PlaywrightTimeout:  # a row not (yet) there counts as not yet
            pass
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        page.wait_for_timeout(500)


def export_page(page, export_id: str):
    page.goto(f"/ferry/exports/{quote(export_id, safe='')}")
    page.locator("#runs").wait_for()
    return page


def run_page(page, job_run_id: str):
    page.goto(f"/ferry/runs/{quote(job_run_id, safe='')}")
    page.locator("#files").wait_for()
    return page
