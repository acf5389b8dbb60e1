"""A run marked failed through the REST API (as the UI does) leaves a record in the history.

No task callback runs then; the listener plugin (plugins/ferry_listener.py), loaded by the
session's live Airflow, writes the record from inside the API server. The run waits at
wait_for_refresh (the refresh marker is held), so nothing is exported meanwhile.
"""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import quote

import pytest

from ferry import history, refresh
from ferry.airflow_api import AirflowClient
from ferry.run_info import RunInfo

pytestmark = pytest.mark.integration
CUSTOMERS = "customer_profiles_csv"  # scheduled on refresh: no run of its own meanwhile
DAG_ID = f"export__{CUSTOMERS}"


@pytest.fixture
def client(live_airflow) -> AirflowClient:
    """The session's Airflow, with more patience than the CLI's 30 s.

    Just after Airflow starts, while its first scheduled runs start, a PATCH here sometimes
    took longer than 30 s to answer, with or without the listener plugin installed.
    """
    return AirflowClient(
        live_airflow.url, username=live_airflow.username, password=live_airflow.password,
        timeout=90,
    )  # fmt: skip


def wait_for(condition, what: str, timeout: float = 120, explain=lambda: ""):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} within {timeout} s {explain()}"
        time.sleep(0.5)
    return found


def test_a_run_marked_failed_through_the_rest_api_gets_a_failed_record(client):
    run_id, path = fail_while_waiting(
        client, DAG_ID, "wait_for_refresh", {"state": "failed", "note": "wrong audience"}
    )

    job_run_id = RunInfo(CUSTOMERS, run_id).job_run_id
    record = wait_for(lambda: history.get_run(job_run_id), f"a record of {job_run_id}", 30)
    dag_run = client.request("GET", path)
    assert dag_run["state"] == "failed"
    assert record.outcome == "failed"
    assert record.reason == (
        "marked failed in Airflow (Dag Run's state was manually set to `failed`); "
        "note: wrong audience"
    )
    assert instant(record.started_at) == instant(dag_run["start_date"])
    assert instant(record.finished_at) == instant(dag_run["end_date"])
    assert record.log_url.endswith(f"/dags/{DAG_ID}/runs/{quote(run_id, safe='')}")


def test_a_group_run_marked_failed_records_the_members_that_started(client):
    dag_id = "group__nightly_customer_sync"  # customer_profiles_csv first, then two more
    run_id, _ = fail_while_waiting(
        client, dag_id, f"{CUSTOMERS}.wait_for_refresh", {"state": "failed"}
    )

    group = "nightly_customer_sync"
    first = RunInfo(CUSTOMERS, run_id, group_id=group).job_run_id
    record = wait_for(lambda: history.get_run(first), f"a record of {first}", 30)
    assert (record.outcome, record.group_run_id) == (
        "failed", RunInfo("nightly_customer_sync", run_id).job_run_id,
    )  # fmt: skip
    assert (
        record.reason == "marked failed in Airflow (Dag Run's state was manually set to `failed`)"
    )
    for later in ("daily_lead_backup", "mailchimp_high_value"):  # never reached
        assert history.get_run(RunInfo(later, run_id, group_id=group).job_run_id) is None


def fail_while_waiting(client, dag_id: str, task_id: str, change: dict) -> tuple[str, str]:
    """Trigger dag_id while customer_profile refreshes, then PATCH the run with change
    once task_id waits; return the run id and its API path."""
    client.wait_for_dag(dag_id)
    client.set_paused(dag_id, False)
    with refresh.refreshing(["customer_profile"], holder="test_run_listener_live"):
        run_id = client.trigger(dag_id)["dag_run_id"]
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
        try:
            wait_for_refresh(client, path, task_id)
        finally:  # also when the wait failed: the run must not export the whole table
            client.request("PATCH", path, json=change)
    return run_id, path


def wait_for_refresh(client, path: str, task_id: str) -> None:
    """Until the run's wait_for_refresh has deferred: under way, with Airflow answering."""

    def states() -> dict[str, str]:
        found = client.request("GET", f"{path}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in found}

    def explain() -> str:
        dag_id = path.split("/")[2]
        active = client.request(
            "GET", "/dags/~/dagRuns", params={"state": ["queued", "running"], "limit": 100}
        )["dag_runs"]
        return (
            f"(run {client.request('GET', path)['state']}, tasks {states()}, "
            f"paused {client.dag(dag_id)['is_paused']}, "
            f"active runs {[(r['dag_id'], r['dag_run_id'], r['state']) for r in active]})"
        )

    wait_for(lambda: states().get(task_id) == "deferred", f"{task_id} defers", explain=explain)


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
