"""Logging in through Airflow's own form, Airflow's pages, and "Exports" in its navigation."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import RUN_EXPORT, login

pytestmark = pytest.mark.integration


def test_a_viewer_logs_in_through_airflows_form_and_sees_the_export_dags(open_context, site):
    # (admin logs in through the same form once per session: the `logins` fixture)
    page = open_context(None).new_page()

    login(page, site.viewer, site.viewer_password)
    page.goto("/dags")

    expect(page.get_by_role("link", name=f"export__{RUN_EXPORT}").first).to_be_visible()


def test_a_wrong_password_stays_on_the_login_form(open_context, site):
    page = open_context(None).new_page()
    page.goto("/")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "not-her-password")
    page.click("button[type=submit]")

    expect(page.get_by_text("Invalid credentials")).to_be_visible()
    assert "/auth/login" in page.url
    assert "_token" not in {cookie["name"] for cookie in page.context.cookies()}


def test_exports_is_in_airflows_navigation_and_opens_the_list(admin_page):
    page = admin_page
    page.goto("/")
    nav_item = exports_nav_item(page)

    nav_item.click()

    page.wait_for_url(re.compile(r"/plugin/|/ferry/"))
    exports_list = list_in_page_or_frame(page)
    exports_list.locator(f"tr[data-export-id='{RUN_EXPORT}']").wait_for()


def exports_nav_item(page):
    """ "Exports" in Airflow's side navigation: a top-level item, or in its Plugins menu."""
    # Airflow draws plugin items after fetching the plugins, later than its own items
    top_level = page.get_by_role("link", name="Exports", exact=True)
    plugins = page.get_by_role("button", name="Plugins", exact=True)
    top_level.or_(plugins).first.wait_for()
    if top_level.count():
        return top_level.first
    plugins.click()
    in_menu = page.get_by_role("menuitem", name="Exports", exact=True)
    in_menu.first.wait_for(timeout=5000)
    return in_menu.first


def list_in_page_or_frame(page):
    """#exports on the page itself, or in the iframe Airflow shows an external view in."""
    page.wait_for_load_state("networkidle")
    if page.locator("#exports").count():
        return page.locator("#exports")
    return page.frame_locator("iframe").first.locator("#exports")
