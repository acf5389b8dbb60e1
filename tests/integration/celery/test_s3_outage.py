"""The S3 server (staging, task logs and the destination bucket) stopped in the middle of
an export's extract on the Celery deployment: Ferry classifies the error as transient (Airflow
retries the task), the run fails once its retry fails too, and its record says what failed;
once S3 is back, clearing the run (the UI's Clear, a user's retry) delivers exactly one copy.

The task logs of the tries made while S3 was down cannot be uploaded to S3 (the log store)
when the try ends: they stay on the worker that ran the try. The run record, kept in the
deployment's Postgres, is where a user reads the failure. moto keeps buckets
in memory, so its restart empties them as a lost bucket would; this file runs last in the
folder (pytest's order is by name), after the other tests checked their files.
"""

from __future__ import annotations

import json
import time

import pytest

from .conftest import MANY_LEADS, OUTAGE_EXPORT
from .runs import (
    DELIVERED_BUCKET,
    RUN_TIMEOUT,
    delivered_leads,
    ferry_cli,
    start,
    task,
    wait_for_extract_writing,
)

pytestmark = [pytest.mark.integration, pytest.mark.celery]


def wait_for_task_state(client, dag_id: str, run_id: str, states: tuple[str, ...]) -> dict:
    """The extract once it is in one of states (it must not succeed meanwhile)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline:
        extract = task(client, dag_id, run_id, "extract")
        if extract["state"] in states:
            return extract
        assert extract["state"] != "success", "the extract succeeded with S3 down"
        time.sleep(0.5)
    raise TimeoutError(f"{dag_id}: the extract did not reach {states} in {RUN_TIMEOUT} s")


def kept_log(deployment, worker: str, dag_id: str, run_id: str, attempt: int) -> str:
    """A try's task log as its worker kept it (S3, the log store, was down: not uploaded)."""
    logs = deployment.state / worker / "airflow" / "logs"
    [log] = logs.glob(f"dag_id={dag_id}/run_id={run_id}/task_id=extract/attempt={attempt}.log")
    return log.read_text(errors="replace")


def record_of(deployment, tmp_path, run_id: str) -> dict | None:
    """The run's record as `ferry history EXPORT --json` shows it."""
    lines = ferry_cli(deployment, tmp_path, "history", OUTAGE_EXPORT, "--json").splitlines()
    return next((r for r in map(json.loads, lines) if r["run_id"] == run_id), None)


def failure_record(deployment, tmp_path, run_id: str, timeout: float = 60) -> dict | None:
    """The failed run's record once the failed task's callback wrote it: the scheduler may
    end the run (and its listener record "a task failed") before the callback is done."""
    deadline = time.monotonic() + timeout
    while True:
        record = record_of(deployment, tmp_path, run_id)
        written = record is not None and record["reason"].startswith("extract failed")
        if written or time.monotonic() > deadline:
            return record
        time.sleep(1)


def test_s3_stopped_mid_run_fails_clearly_and_a_clean_retry_delivers_one_copy(
    celery_deployment, celery_client, tmp_path
):
    client, s3 = celery_client, celery_deployment.s3
    dag_id = f"export__{OUTAGE_EXPORT}"
    run_id = start(client, dag_id)
    wait_for_extract_writing(celery_deployment, client, dag_id, run_id, OUTAGE_EXPORT)
    s3.stop()
    try:
        # transient: Airflow retries it (a terminal error fails at once, without retries)
        first = wait_for_task_state(client, dag_id, run_id, ("up_for_retry",))
        kept = kept_log(celery_deployment, first["hostname"], dag_id, run_id, attempt=1)
        failed = client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
        extract = task(client, dag_id, run_id, "extract")
        record = failure_record(celery_deployment, tmp_path, run_id)
    finally:
        s3.start()  # the same port; its buckets made again, empty
        s3.client().create_bucket(Bucket=DELIVERED_BUCKET)
    assert failed["state"] == "failed"
    assert (extract["state"], extract["try_number"]) == ("failed", 2)
    assert record and record["outcome"] == "failed", record
    # what failed, where, and that it is S3 not answering
    assert record["reason"].startswith("extract failed: "), record["reason"]
    assert "Could not connect to the endpoint URL" in record["reason"], record["reason"]
    assert s3.endpoint_url in record["reason"], record["reason"]
    # the first try's log, on its worker: the same error, classified transient
    assert "Could not connect to the endpoint URL" in kept
    assert '"exc_type":"S3Unreachable"' in kept  # ferry.s3.S3Unreachable(Transient)

    client.request(
        "POST", f"/dags/{dag_id}/clearTaskInstances",
        json={"dag_run_id": run_id, "only_failed": True, "reset_dag_runs": True, "dry_run": False},
    )  # fmt: skip
    run = client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    assert run["state"] == "success"
    assert task(client, dag_id, run_id, "extract")["try_number"] == 3
    folders, lead_ids = delivered_leads(s3.client(), "outage/")
    assert len(folders) == 1, folders
    assert len(lead_ids) == len(set(lead_ids)) == 20_000 * MANY_LEADS
    assert record_of(celery_deployment, tmp_path, run_id)["outcome"] == "success"
