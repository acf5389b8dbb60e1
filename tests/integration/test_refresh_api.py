"""A refresh done outside Ferry, announced through Airflow's REST API, starts the exports
that depend on it (the session's live Airflow standalone)."""

from __future__ import annotations

import json
import time

import duckdb
import pytest

from ferry import paths
from ferry.run_info import RunInfo

pytestmark = pytest.mark.integration
EXPORT_ID = "linkedin_enterprise_accounts"
SEGMENT_URI = "ferry://warehouse/segment/enterprise_accounts"


def new_asset_triggered_run(client, dag_id: str, known: set[str], timeout: float = 90) -> dict:
    """The first run of dag_id that an asset event started and that is not in known."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = client.request("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
        fresh = [r for r in runs if r["dag_run_id"] not in known]
        if fresh:
            return fresh[0]
        time.sleep(1)
    raise TimeoutError(f"no run of {dag_id} started within {timeout} s of the asset event")


def enterprise_accounts(warehouse) -> int:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT employee_count, is_customer FROM account").fetchall()
    return sum(1 for employees, customer in rows if (employees or 0) >= 1000 and customer is True)


def test_an_asset_event_posted_to_the_rest_api_starts_the_dependent_export(live_airflow, warehouse):
    client = live_airflow.client
    dag_id = f"export__{EXPORT_ID}"
    client.wait_for_dag(dag_id)
    client.set_paused(dag_id, False)
    known = {r["dag_run_id"] for r in client.request("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]}
    [asset] = client.request("GET", "/assets", params={"uri_pattern": SEGMENT_URI})["assets"]

    client.request(
        "POST",
        "/assets/events",
        json={"asset_id": asset["id"], "extra": {"source": "crm_sync", "batch": 7}},
    )
    run = new_asset_triggered_run(client, dag_id, known)
    finished = client.wait_for_run(dag_id, run["dag_run_id"], timeout=240)

    assert run["run_type"] == "asset_triggered"
    assert finished["state"] == "success"
    consumed = client.request(
        "GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
    )
    [event] = consumed["asset_events"]
    assert event["uri"] == SEGMENT_URI
    assert event["extra"] | {"source": "crm_sync", "batch": 7} == event["extra"]
    folder = RunInfo(export_id=EXPORT_ID, run_id=run["dag_run_id"]).job_run_id
    manifest = paths.downloads_dir() / EXPORT_ID / folder / "manifest.json"
    assert json.loads(manifest.read_text())["rows"] == enterprise_accounts(warehouse)


def test_the_refresh_dag_starts_paused_because_it_rewrites_the_warehouse(live_airflow):
    assert live_airflow.client.wait_for_dag("ferry_refresh")["is_paused"] is True
