"""Ferry's DAGs on the local Celery deployment (scripts/start --celery): two workers with
their own folders, staging on S3, Airflow's metadata in Postgres, Celery's queue in Redis.

Checked as a user would: run states and task instances' hostnames from Airflow's REST API
(each worker reports its own name), the delivered files parsed back, the bucket listed.
Select with `-m celery` (scripts/test --celery).
"""

from __future__ import annotations

import gzip
import io
import json
import time
from pathlib import Path
from urllib.parse import quote

import pyarrow.csv as pacsv
import pytest

from ferry.airflow_api import AirflowClient
from ferry.manifest import read_manifest

from .conftest import CELERY_EXPORT, DELIVERED_BUCKET, MANY_LEADS

pytestmark = [pytest.mark.integration, pytest.mark.celery]
RUN_TIMEOUT = 600


def start(client: AirflowClient, dag_id: str) -> str:
    """Unpause a DAG (a group's or a switched-off one may be paused) and trigger a run."""
    client.wait_for_dag(dag_id, timeout=180)
    client.set_paused(dag_id, False)
    return client.trigger(dag_id)["dag_run_id"]


def ran_tasks(client: AirflowClient, dag_id: str, run_id: str) -> list[dict]:
    """The task instances of a run that ran (skipped ones have no worker)."""
    return [ti for ti in client.task_instances(dag_id, run_id) if ti["state"] != "skipped"]


def delivered_folder(client: AirflowClient, dag_id: str, run_id: str, task_id: str) -> Path:
    """The download folder a deliver_download task's receipt (its XCom) names."""
    path = "/".join(quote(part, safe="") for part in (dag_id, "dagRuns", run_id))
    entry = client.request("GET", f"/dags/{path}/taskInstances/{task_id}/xcomEntries/return_value")
    value = entry["value"]
    receipt = json.loads(value) if isinstance(value, str) else value
    return Path(receipt["detail"]["folder"])


def test_a_group_and_an_export_run_with_tasks_on_both_workers(celery_deployment, celery_client):
    runs = {
        dag_id: start(celery_client, dag_id)
        for dag_id in ("group__nightly_customer_sync", "export__linkedin_enterprise_accounts")
    }
    hostnames = set()
    for dag_id, run_id in runs.items():
        run = celery_client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
        tasks = ran_tasks(celery_client, dag_id, run_id)
        assert run["state"] == "success", {ti["task_id"]: ti["state"] for ti in tasks}
        hostnames |= {ti["hostname"] for ti in tasks}
        for ti in tasks:
            if ti["task_id"].rsplit(".", 1)[-1] != "deliver_download":
                continue
            folder = delivered_folder(celery_client, dag_id, run_id, ti["task_id"])
            # the download destination still writes to the worker's own disk (issue 19)
            assert folder.is_relative_to(celery_deployment.state / ti["hostname"] / "ferry")
            manifest = read_manifest(folder)
            data = [item for item in manifest.files if item.kind == "data"]
            rows = sum(count_rows(folder / item.name) for item in data)
            assert rows == manifest.rows > 0, folder
    # start and done are EmptyOperators: the scheduler marks them, no worker runs them
    assert hostnames - {""} == {"worker-1", "worker-2"}


def count_rows(path: Path) -> int:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    multiline = pacsv.ParseOptions(newlines_in_values=True)
    return pacsv.read_csv(io.BytesIO(data), parse_options=multiline).num_rows


def test_a_worker_killed_during_an_extract_the_other_retries_it_one_copy_delivered(
    celery_deployment, celery_client
):
    dag_id = f"export__{CELERY_EXPORT}"
    run_id = start(celery_client, dag_id)
    victim = wait_for_extract_writing(celery_deployment, celery_client, dag_id, run_id)
    celery_deployment.kill(victim)
    try:
        run = celery_client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    finally:
        celery_deployment.restart(victim)
    extract = next(ti for ti in celery_client.task_instances(dag_id, run_id)
                   if ti["task_id"] == "extract")  # fmt: skip
    assert run["state"] == "success"
    assert extract["try_number"] == 2
    assert extract["hostname"] not in (victim, "")
    s3 = celery_deployment.s3.client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=DELIVERED_BUCKET)["Contents"]]
    assert len({key.split("/")[1] for key in keys}) == 1, keys  # one run's folder
    data = [key for key in keys if key.endswith(".csv.gz")]
    tables = [
        pacsv.read_csv(io.BytesIO(gzip.decompress(
            s3.get_object(Bucket=DELIVERED_BUCKET, Key=key)["Body"].read()
        )))
        for key in data
    ]  # fmt: skip
    lead_ids = [value for table in tables for value in table.column("lead_id").to_pylist()]
    assert len(lead_ids) == len(set(lead_ids)) == 20_000 * MANY_LEADS


def wait_for_extract_writing(deployment, client, dag_id: str, run_id: str) -> str:
    """The worker running the run's extract, once it has written a file of it."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        extract = next(
            t for t in client.task_instances(dag_id, run_id) if t["task_id"] == "extract"
        )
        assert extract["state"] in (None, "scheduled", "queued", "running"), extract
        worker = extract["hostname"]
        if extract["state"] == "running" and worker:
            cache = deployment.state / worker / "ferry"
            if any(path.is_file() for path in cache.rglob(f"*{CELERY_EXPORT}*/**/*")):
                return worker
        time.sleep(0.2)
    raise TimeoutError(f"{dag_id}: extract did not start writing in {RUN_TIMEOUT} s")
