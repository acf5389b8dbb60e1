"""The Exports list in a real browser, as admin: what it shows, sorting, search, filters.

The actions are in test_page_actions.py; these tests rely on no export's state but the
shipped ones' and IDLE_EXPORT's, which no test edits.
"""

from __future__ import annotations

import pytest
import yaml

from .conftest import IDLE_EXPORT, RUN_EXPORT, include_dir
from .exports_page import cell, choose, column, open_list, row, visible_ids

pytestmark = pytest.mark.integration
COLUMNS = (
    "name", "kind", "connections", "target", "status", "schedule_text", "next_run", "last_run",
    "refreshed_at", "permissions",
)  # fmt: skip


def shipped_ids() -> set[str]:
    return {
        yaml.safe_load(path.read_text())["id"]
        for path in (include_dir() / "exports").glob("*.yaml")
        if not path.name.startswith("web_")
    }


def test_the_list_shows_every_export_with_its_columns(admin_page, site, web_exports):
    page = open_list(admin_page)

    assert shipped_ids() | {IDLE_EXPORT} <= set(visible_ids(page))
    for name in COLUMNS:
        assert row(page, RUN_EXPORT).locator(f"td[data-col='{name}']").count() == 1, name
    assert cell(page, RUN_EXPORT, "name").startswith("Customer profiles (full table)")
    assert cell(page, RUN_EXPORT, "kind") == "data-out"
    assert cell(page, RUN_EXPORT, "connections") == "ferry_warehouse"
    assert cell(page, RUN_EXPORT, "target") == "download"
    assert cell(page, RUN_EXPORT, "schedule_text") == "after every refresh"
    assert cell(page, RUN_EXPORT, "status").startswith("active")
    assert cell(page, RUN_EXPORT, "permissions") == "Edit"
    assert cell(page, IDLE_EXPORT, "status").startswith("paused")  # enabled: false


@pytest.mark.parametrize("field", ["name", "status", "schedule_text"])
def test_a_column_header_sorts_the_list_one_way_then_the_other(admin_page, site, field):
    page = open_list(admin_page)
    header = page.locator(f"#exports th[data-sort='{field}']")

    header.click()
    first = column(page, field)
    header.click()
    second = column(page, field)

    assert len(first) > 3
    assert first in (sorted(first, key=str.casefold), sorted(first, key=str.casefold)[::-1])
    assert second == first[::-1]


def test_search_keeps_the_matching_exports_and_clearing_it_shows_all(admin_page, site):
    page = open_list(admin_page)
    everyone = set(visible_ids(page))

    page.fill("#search", "lead")
    found = set(visible_ids(page))
    page.fill("#search", "")

    assert found == {"daily_lead_backup", "daily_leads_by_source", "lead_changes"}
    assert set(visible_ids(page)) == everyone


@pytest.mark.parametrize(
    ("select_id", "wanted", "expected"),
    [
        ("filter-kind", "report", {"daily_leads_by_source"}),
        ("filter-owner", "marketing-ops", {"linkedin_enterprise_accounts", "mailchimp_high_value"}),
    ],
)
def test_a_filter_keeps_only_its_exports(admin_page, site, select_id, wanted, expected):
    page = open_list(admin_page)

    choose(page, select_id, wanted)

    assert set(visible_ids(page)) == expected


def test_the_status_filter_keeps_only_exports_of_that_status(admin_page, site):
    page = open_list(admin_page)

    choose(page, "filter-status", "paused")
    paused = set(visible_ids(page))

    assert IDLE_EXPORT in paused
    assert RUN_EXPORT not in paused
    assert all(cell(page, export_id, "status").startswith("paused") for export_id in paused)
