"""The S3 server (staging, task logs, the destination bucket) stopped in the middle of an
export's extract on the Celery deployment: the attempt fails saying what failed and that
another try can help; once S3 is back the retry delivers exactly one copy.

moto keeps buckets in memory: its restart empties them, as a lost bucket would. This file
runs last in the folder (pytest's order is by name) so the other tests' files are gone only
after they were checked.
"""

from __future__ import annotations

import time

import pytest

from .conftest import MANY_LEADS, OUTAGE_EXPORT
from .runs import (
    DELIVERED_BUCKET,
    RUN_TIMEOUT,
    delivered_leads,
    start,
    task,
    wait_for_extract_writing,
)

pytestmark = [pytest.mark.integration, pytest.mark.celery]


def wait_for_first_try_to_end(client, dag_id: str, run_id: str) -> dict:
    """The extract once its first try has ended (failed, waiting for its retry)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        extract = task(client, dag_id, run_id, "extract")
        if extract["state"] in ("up_for_retry", "failed", "success"):
            return extract
        time.sleep(0.5)
    raise TimeoutError(f"{dag_id}: the extract's first try did not end in {RUN_TIMEOUT} s")


def attempt_log(deployment, worker: str, dag_id: str, run_id: str, attempt: int) -> str:
    """The task log a worker kept of one attempt of the extract."""
    logs = deployment.state / worker / "airflow" / "logs"
    [log] = logs.glob(f"dag_id={dag_id}/run_id={run_id}/task_id=extract/attempt={attempt}.log")
    return log.read_text(errors="replace")


def test_s3_stopped_mid_run_fails_clearly_and_the_retry_delivers_one_copy(
    celery_deployment, celery_client
):
    client, s3 = celery_client, celery_deployment.s3
    dag_id = f"export__{OUTAGE_EXPORT}"
    run_id = start(client, dag_id)
    worker = wait_for_extract_writing(celery_deployment, client, dag_id, run_id, OUTAGE_EXPORT)
    s3.stop()
    try:
        first = wait_for_first_try_to_end(client, dag_id, run_id)
    finally:
        s3.start()  # the same port, its buckets made again (empty)
        s3.client().create_bucket(Bucket=DELIVERED_BUCKET)
    assert first["state"] == "up_for_retry", first
    log = attempt_log(celery_deployment, worker, dag_id, run_id, 1)
    print(log[-6000:])

    run = client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    extract = task(client, dag_id, run_id, "extract")
    assert run["state"] == "success"
    assert extract["try_number"] == 2
    folders, lead_ids = delivered_leads(s3.client(), "outage/")
    assert len(folders) == 1, folders
    assert len(lead_ids) == len(set(lead_ids)) == 20_000 * MANY_LEADS
