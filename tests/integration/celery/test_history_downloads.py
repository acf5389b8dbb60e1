"""The run history and the downloads, whichever worker ran the task: `ferry history` on
a machine that ran none of them, and the Exports page's API on the API server, list every
run of the deployment and serve every download's bytes (the history is in the deployment's
Postgres, the download area under FERRY_STAGING on S3)."""

from __future__ import annotations

import hashlib
import json

import pytest

from ferry import devserver

from .runs import RUN_TIMEOUT, ExportsPage, ferry_cli, read_csv, start

pytestmark = [pytest.mark.integration, pytest.mark.celery]
# exports with a download destination, run when the runs so far (the demo's scheduled runs
# at start, the other tests') have not delivered one on each worker
DOWNLOAD_EXPORTS = ("customer_profiles_csv", "linkedin_enterprise_accounts")
ROUNDS = 4  # at most this many rounds of runs to get a download delivered by each worker


def finished_export_runs(client) -> dict[tuple[str, str], dict]:
    """(export id, Airflow run id) -> the run, for every finished run of an export's DAG."""
    found = {}
    for dag_id in client.dags("export__"):
        for run in client.recent_runs(dag_id, limit=100):
            if run["state"] in ("success", "failed"):
                found[(dag_id.removeprefix("export__"), run["dag_run_id"])] = run
    return found


def downloads_by_worker(client, runs) -> dict[str, list[tuple[str, str]]]:
    """Worker -> the (export id, run id) whose download that worker delivered."""
    found: dict[str, list[tuple[str, str]]] = {}
    for (export_id, run_id), run in runs.items():
        if run["state"] != "success":
            continue
        for ti in client.task_instances(f"export__{export_id}", run_id):
            if ti["task_id"] == "deliver_download" and ti["state"] == "success":
                found.setdefault(ti["hostname"], []).append((export_id, run_id))
    return found


def runs_delivered_by_both_workers(deployment, client) -> dict[str, list[tuple[str, str]]]:
    """Runs of the download exports until each worker has delivered one (Celery gives a
    task to whichever worker has a free slot: which one cannot be chosen, only observed)."""
    for rounds_run in range(ROUNDS + 1):  # one more look: the last round's runs count too
        runs = finished_export_runs(client)
        by_worker = downloads_by_worker(client, runs)
        if set(deployment.worker_names) <= set(by_worker):
            return by_worker
        if rounds_run == ROUNDS:
            break
        started = [(f"export__{e}", start(client, f"export__{e}")) for e in DOWNLOAD_EXPORTS]
        for dag_id, run_id in started:
            client.wait_for_run(dag_id, run_id, timeout=RUN_TIMEOUT)
    raise AssertionError(f"after {ROUNDS} rounds, downloads only from {sorted(by_worker)}")


def downloaded(page, record: dict) -> dict[str, int]:
    """A run's data files, downloaded from the Exports page (sha256 checked against the
    page's) and parsed back: name -> rows."""
    shown = page.run(record["job_run_id"])
    data_files = {f["name"] for f in shown["files"] if f["kind"] == "data"}
    found = {}
    for link in shown["downloads"]:
        if link["name"] in data_files:
            body = page.download(link)
            assert hashlib.sha256(body).hexdigest() == link["sha256"], link
            found[link["name"]] = read_csv(body, link["name"]).num_rows
    return found


def test_history_and_downloads_are_seen_whichever_worker_ran_the_task(
    celery_deployment, celery_client, tmp_path
):
    by_worker = runs_delivered_by_both_workers(celery_deployment, celery_client)
    airflow_runs = finished_export_runs(celery_client)

    # the CLI lists every run every worker recorded
    lines = ferry_cli(celery_deployment, tmp_path, "history", "--json", "--limit", "1000")
    records = {(r["export_id"], r["run_id"]): r for r in map(json.loads, lines.splitlines())}
    assert set(airflow_runs) <= set(records), sorted(set(airflow_runs) - set(records))
    for key, run in airflow_runs.items():
        expected = ("success", "empty", "skipped") if run["state"] == "success" else ("failed",)
        assert records[key]["outcome"] in expected, (key, records[key]["reason"])
    assert not (tmp_path / "laptop" / "history.sqlite").exists()

    # the Exports page lists them too and serves each worker's download
    page = ExportsPage(celery_deployment.url, devserver.ADMIN_USER, celery_deployment.password)
    for export_id in DOWNLOAD_EXPORTS:
        listed = {r["run_id"] for r in page.runs(export_id)}
        assert {run_id for e, run_id in airflow_runs if e == export_id} <= listed
    served_rows = dict.fromkeys(celery_deployment.worker_names, 0)
    fetched = set()
    for worker, delivered in by_worker.items():
        for key in delivered:
            files = downloaded(page, records[key])
            assert sum(files.values()) == records[key]["rows"], (worker, key, files)
            served_rows[worker] += sum(files.values())
            fetched |= {(records[key]["job_run_id"], name) for name in files}
    assert all(served_rows.values()), served_rows  # not only empty runs

    # and every file served is in the download audit, read from the CLI
    audit = ferry_cli(
        celery_deployment, tmp_path, "history", "--downloads", "--json", "--limit", "1000"
    )
    served = {(d["job_run_id"], d["file"]) for d in map(json.loads, audit.splitlines())}
    assert fetched <= served
