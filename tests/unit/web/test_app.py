"""The pages: Airflow's login for strangers, the shell under the mount prefix for users,
and every file the pages load served from the package (nothing from the internet)."""

from __future__ import annotations

import re

from ferry.web.app import PAGES, STATIC, render_page

COOKIE = "_token"  # Airflow UI's JWT cookie (airflow.api_fastapi.auth.managers.base_auth_manager)


def test_a_page_sends_a_stranger_to_airflows_login(web):
    answer = web.client.get("/ferry/", follow_redirects=False)

    assert answer.status_code == 303
    assert "/login" in answer.headers["location"] and "next=" in answer.headers["location"]


def test_each_page_is_served_under_the_prefix_to_a_signed_in_user(web):
    web.client.cookies.set(COOKIE, web.tokens["vic"])
    for path in (
        "/ferry/",
        "/ferry/exports/daily_lead_backup",
        "/ferry/runs/x.y",
        "/ferry/groups/g",
    ):
        answer = web.client.get(path)
        assert answer.status_code == 200, path
        assert 'data-root="/ferry"' in answer.text
        assert "Signed in as vic" in answer.text


def test_every_file_a_page_loads_is_served_locally(web):
    web.client.cookies.set(COOKIE, web.tokens["vic"])
    for page in ("/ferry/", "/ferry/exports/a", "/ferry/runs/a.b", "/ferry/groups/g"):
        html = web.client.get(page).text
        sources = re.findall(r'(?:src|href)="([^"#]+)"', html)
        assert not [s for s in sources if s.startswith(("http:", "https:", "//"))]
        for source in sources:
            if "/static/" in source:
                assert web.client.get(source).status_code == 200, source


def test_the_user_name_cannot_inject_markup():
    html = render_page("list", "/ferry", '<script>alert("x")</script>')
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_the_list_page_has_the_controls_the_browser_tests_use():
    html = (STATIC / PAGES["list"]).read_text()
    for control in ('id="search"', 'id="filter-status"', 'id="filter-kind"', 'id="filter-owner"',
                    'id="exports"', 'id="confirm"', 'id="schedule-dialog"', 'id="schedule-input"',
                    'name="mode" value="keep"', 'name="mode" value="override"'):  # fmt: skip
        assert control in html, control
    for action in ("run", "run-all", "duplicate", "schedule", "detach", "remove", "stop"):
        assert f'data-action="{action}"' in html


def test_every_script_parses():
    import shutil
    import subprocess

    import pytest

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the browser tests parse the scripts")
    for script in sorted(STATIC.glob("*.js")):
        checked = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
        assert checked.returncode == 0, f"{script.name}: {checked.stderr}"
