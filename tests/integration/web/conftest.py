"""Real-browser tests of the Exports page: Playwright driving Debian's chromium against the
session's live Airflow standalone (tests/integration/conftest.py), whose users are admin
(admin role), ann (viewer role) and nobody (no role: may read nothing).

No browser is downloaded: chromium comes from packages.txt. Each user logs in once through
Airflow's own login form; every test gets a fresh browser context from that saved login.
The tests edit only definitions they wrote themselves (WEB_EXPORTS) into the session's
private include/ copy, and remove what they wrote (copies included) at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ferry import history
from ferry.airflow_api import AirflowApiError
from ferry.run_info import RunInfo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RUN_EXPORT = "customer_profiles_csv"  # shipped, full table to the download area, ~5 s a run
# test-owned copies of RUN_EXPORT (id -> schedule, enabled): the page edits only these;
# web_remove is on (so it can run once before it goes) but has no schedule of its own
WEB_EXPORTS = {
    "web_pick_a": ('"0 6 * * *"', False),
    "web_pick_b": ("refresh", False),
    "web_detach": ("refresh", False),
    "web_remove": ("off", True),
    "web_idle": ("refresh", False),  # never edited: the list tests' paused export
}
IDLE_EXPORT = "web_idle"
COMMENT = "# kept by every edit: a person wrote this"
LOAD_TIMEOUT_MS = 30_000


# --- the definitions the page edits ------------------------------------------------------


def include_dir() -> Path:
    return Path(os.environ["FERRY_INCLUDE"])


def definition(export_id: str) -> Path:
    return include_dir() / "exports" / f"{export_id}.yaml"


def write_web_export(export_id: str, schedule: str, enabled: bool) -> Path:
    """A copy of RUN_EXPORT under a new id, with a comment and the given schedule."""
    text = f"{COMMENT}\n" + definition(RUN_EXPORT).read_text()
    text = re.sub(rf"^id: {RUN_EXPORT}$", f"id: {export_id}", text, flags=re.M)
    text = re.sub(r"^name: .*$", f"name: Web test {export_id}", text, flags=re.M)
    text = re.sub(r"^schedule: .*$", f"schedule: {schedule}", text, flags=re.M)
    target = definition(export_id)
    target.write_text(text + f"enabled: {str(enabled).lower()}\n")
    return target


@pytest.fixture(scope="package")
def web_exports() -> Iterator[dict[str, Path]]:
    """The test-owned definitions; written before Airflow starts when this suite runs first,
    so their DAGs are parsed at start. After this folder's tests every web_* definition
    goes (copies too), so the rest of the session sees the include/ it had."""
    written = {
        export_id: write_web_export(export_id, *how) for export_id, how in WEB_EXPORTS.items()
    }
    yield written
    for path in (include_dir() / "exports").glob("web_*.yaml"):
        path.unlink()


@pytest.fixture(scope="package")
def site(web_exports, live_airflow):
    """The live Airflow, started (if not already) after the test definitions exist."""
    return live_airflow


# --- the browser and the users -----------------------------------------------------------


@pytest.fixture(scope="package")
def browser():
    """Closed with these tests: while open, Playwright's sync API keeps an event loop
    running in this thread, and any later test's asyncio.run() would fail."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def login(page, user: str, password: str) -> None:
    """Log in through Airflow's own login form, as a person does; back on Airflow's home."""
    page.goto("/")
    page.wait_for_url(re.compile(r"/auth/login"), timeout=LOAD_TIMEOUT_MS)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url, timeout=LOAD_TIMEOUT_MS)


@pytest.fixture(scope="package")
def logins(browser, site) -> Callable[[str], dict]:
    """A user's saved login (cookies), made once per user by logging in through the form."""
    saved: dict[str, dict] = {}

    def state(user: str) -> dict:
        if user not in saved:
            context = browser.new_context(base_url=site.url)
            page = context.new_page()
            login(page, user, site.password_of(user))
            saved[user] = context.storage_state()
            context.close()
        return saved[user]

    return state


@pytest.fixture
def open_context(browser, site, logins):
    """new(user) -> a fresh browser context logged in as user (None: not logged in)."""
    contexts = []

    def new(user: str | None):
        state = logins(user) if user else None
        context = browser.new_context(base_url=site.url, storage_state=state, accept_downloads=True)
        context.set_default_timeout(LOAD_TIMEOUT_MS)
        contexts.append(context)
        return context

    yield new
    for context in contexts:
        context.close()


@pytest.fixture
def admin_page(open_context):
    return open_context("admin").new_page()


@pytest.fixture
def viewer_page(open_context, site):
    return open_context(site.viewer).new_page()


# --- a finished run to open and download from --------------------------------------------


@pytest.fixture(scope="package")
def finished_run(site) -> str:
    """The job_run_id of a successful run of RUN_EXPORT: the newest, else one started now."""
    done = [r for r in history.list_runs(RUN_EXPORT) if r.outcome == "success"]
    if done:
        return done[0].job_run_id
    dag_id = f"export__{RUN_EXPORT}"
    site.client.wait_for_dag(dag_id)
    run_id = trigger(site, dag_id)
    finished = site.client.wait_for_run(dag_id, run_id, timeout=180)
    assert finished["state"] == "success", finished
    return RunInfo(RUN_EXPORT, run_id).job_run_id


def trigger(site, dag_id: str, attempts: int = 4) -> str:
    """Start a run through Airflow's REST API; its run id.

    Right after Airflow starts, its API server met SQLite's write lock and answered 500
    "Database error" (the transaction rolled back, no run made): that answer is retried.
    """
    for attempt in range(attempts):
        try:
            return site.client.trigger(dag_id)["dag_run_id"]
        except AirflowApiError as error:
            if getattr(error, "status", None) != 500 or attempt == attempts - 1:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def wait_for(condition: Callable, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.5)
    return found


@pytest.fixture
def viewer_first(admin_page, open_context, site):
    """The admin's page, each of whose changes the viewer sends first (replay.ViewerFirst)."""
    from .replay import ViewerFirst

    return ViewerFirst(admin_page, open_context(site.viewer).request, site.viewer)
