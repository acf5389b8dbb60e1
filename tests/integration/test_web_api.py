"""The Exports page through a live Airflow API server: mounted at /ferry, guarded by
Airflow's login, listed in Airflow's navigation, and acting on Airflow's own DAG runs."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.integration


def token(live_airflow) -> str:
    answer = requests.post(
        f"{live_airflow.url}/auth/token",
        json={"username": live_airflow.username, "password": live_airflow.password},
        timeout=30,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def test_the_api_answers_through_the_api_server_only_to_a_signed_in_user(live_airflow):
    url = f"{live_airflow.url}/ferry/api/exports"
    assert requests.get(url, timeout=30).status_code == 401

    answer = requests.get(
        url, headers={"Authorization": f"Bearer {token(live_airflow)}"}, timeout=60
    )

    assert answer.status_code == 200, answer.text
    rows = {row["id"]: row for row in answer.json()["exports"]}
    assert rows["daily_lead_backup"]["permissions"] == "edit"
    assert rows["daily_lead_backup"]["status"] in ("active", "paused")
    assert rows["daily_lead_backup"]["schedule_text"] == "daily at 02:00 (UTC)"


def test_exports_is_in_airflows_navigation_and_its_page_asks_for_login(live_airflow):
    headers = {"Authorization": f"Bearer {token(live_airflow)}"}
    plugins = requests.get(f"{live_airflow.url}/api/v2/plugins", headers=headers, timeout=30)
    plugins.raise_for_status()
    views = [v for p in plugins.json()["plugins"] for v in p["external_views"]]
    assert {"name": "Exports", "href": "/ferry/", "destination": "nav"}.items() <= next(
        v for v in views if v["name"] == "Exports"
    ).items()

    page = requests.get(f"{live_airflow.url}/ferry/", allow_redirects=False, timeout=30)
    assert page.status_code == 303 and "login" in page.headers["location"]
    signed_in = requests.get(f"{live_airflow.url}/ferry/", cookies={"_token": token(live_airflow)})
    assert signed_in.status_code == 200 and 'id="exports"' in signed_in.text


def test_run_from_the_page_starts_an_airflow_run_by_the_user(live_airflow):
    headers = {"Authorization": f"Bearer {token(live_airflow)}"}
    export = "customer_profiles_csv"
    started = requests.post(
        f"{live_airflow.url}/ferry/api/exports/{export}/run", headers=headers, json={}, timeout=60
    )

    assert started.status_code == 200, started.text
    run = live_airflow.client.dag_run(f"export__{export}", started.json()["run_id"])
    assert run["triggering_user_name"] == live_airflow.username
    finished = live_airflow.client.wait_for_run(f"export__{export}", run["dag_run_id"], timeout=240)
    assert finished["state"] == "success"
    job_run_id = started.json()["job_run_id"]
    deadline = time.monotonic() + 30
    while True:  # finalize's record, then the list's last run
        runs = requests.get(
            f"{live_airflow.url}/ferry/api/exports/{export}/runs", headers=headers, timeout=30
        ).json()["runs"]
        if any(r["job_run_id"] == job_run_id for r in runs) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [r["outcome"] for r in runs if r["job_run_id"] == job_run_id] == ["success"]
