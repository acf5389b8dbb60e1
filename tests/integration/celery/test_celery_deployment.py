"""Ferry's DAGs on the local Celery deployment (scripts/start --celery): two workers with
their own folders, staging on S3, Airflow's metadata in Postgres, Celery's queue in Redis.

Checked as a user would: run states and task instances' hostnames from Airflow's REST API
(each worker reports its own name), the delivered files parsed back, the bucket listed.
Select with `-m celery` (scripts/test --celery).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow.csv as pacsv
import pytest

from ferry.manifest import read_manifest

from .conftest import CELERY_EXPORT, MANY_LEADS
from .runs import (
    RUN_TIMEOUT,
    delivered_folder,
    delivered_leads,
    ran_tasks,
    start,
    task,
    wait_for_extract_writing,
)

pytestmark = [pytest.mark.integration, pytest.mark.celery]


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
    victim = wait_for_extract_writing(
        celery_deployment, celery_client, dag_id, run_id, CELERY_EXPORT
    )
    celery_deployment.kill(victim)
    try:
        run = celery_client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    finally:
        celery_deployment.restart(victim)
    extract = task(celery_client, dag_id, run_id, "extract")
    assert run["state"] == "success"
    assert extract["try_number"] == 2
    assert extract["hostname"] not in (victim, "")
    # one run's folder, every lead once
    folders, lead_ids = delivered_leads(celery_deployment.s3.client(), "many_leads/")
    assert len(folders) == 1, folders
    assert len(lead_ids) == len(set(lead_ids)) == 20_000 * MANY_LEADS
