"""A table refreshed outside Airflow, announced as users announce it (an asset event posted
to Airflow's REST API), starts the export scheduled on it on the Celery deployment, and the
export delivers the table as it is now."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from ferry import devserver

from .runs import RUN_TIMEOUT, ExportsPage, ran_tasks, read_csv, run_ids

pytestmark = [pytest.mark.integration, pytest.mark.celery]
EXPORT_ID = "customer_profiles_csv"  # schedule: refresh, source: {table: customer_profile}
TABLE_URI = "ferry://warehouse/table/customer_profile"


def new_run(client, dag_id: str, known: set[str], timeout: float = 120) -> dict:
    """The first run of dag_id that is not in known."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [r for r in client.recent_runs(dag_id) if r["dag_run_id"] not in known]
        if fresh:
            return fresh[0]
        time.sleep(1)
    raise TimeoutError(f"no run of {dag_id} started within {timeout} s of the asset event")


def test_a_table_marked_refreshed_starts_the_export_waiting_on_it_which_delivers(
    celery_deployment, celery_client
):
    client = celery_client
    dag_id = f"export__{EXPORT_ID}"
    client.wait_for_dag(dag_id, timeout=180)
    client.set_paused(dag_id, False)
    known = run_ids(client, dag_id)
    assets = client.request("GET", "/assets", params={"uri_pattern": TABLE_URI})["assets"]
    [asset] = [a for a in assets if a["uri"] == TABLE_URI]

    client.request(
        "POST", "/assets/events", json={"asset_id": asset["id"], "extra": {"source": "crm_load"}}
    )
    run = new_run(client, dag_id, known)
    finished = client.wait_for_run(dag_id, run["dag_run_id"], timeout=RUN_TIMEOUT)

    assert run["run_type"] == "asset_triggered"
    tasks = ran_tasks(client, dag_id, run["dag_run_id"])
    assert finished["state"] == "success", {t["task_id"]: t["state"] for t in tasks}
    consumed = client.request(
        "GET", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
    )["asset_events"]
    assert [(e["uri"], e["extra"].get("source")) for e in consumed] == [(TABLE_URI, "crm_load")]
    workers = {t["hostname"] for t in tasks} - {""}
    assert workers and workers <= set(celery_deployment.worker_names)
    # what it delivered, fetched from the Exports page as a user would
    page = ExportsPage(celery_deployment.url, devserver.ADMIN_USER, celery_deployment.password)
    [record] = [r for r in page.runs(EXPORT_ID) if r["run_id"] == run["dag_run_id"]]
    assert record["outcome"] == "success"
    [link] = [f for f in page.run(record["job_run_id"])["downloads"] if f["name"].endswith(".csv")]
    table = read_csv(page.download(link))
    assert table.num_rows == record["rows"] == profiles(celery_deployment.settings)


def profiles(settings: dict[str, str]) -> int:
    """The rows of customer_profile in the deployment's warehouse now."""
    with duckdb.connect(str(Path(settings["FERRY_WAREHOUSE"])), read_only=True) as con:
        return con.execute("SELECT count(*) FROM customer_profile").fetchone()[0]
