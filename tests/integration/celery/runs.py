"""What the Celery deployment's tests do through Airflow's REST API and the Exports page's
API, as a user's script would: start runs, read their task instances, fetch downloads."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pyarrow.csv as pacsv
import requests

from ferry.airflow_api import AirflowClient

RUN_TIMEOUT = 600
DELIVERED_BUCKET = "ferry-delivered"


def start(client: AirflowClient, dag_id: str) -> str:
    """Unpause a DAG (a group's or a switched-off one may be paused) and trigger a run."""
    client.wait_for_dag(dag_id, timeout=180)
    client.set_paused(dag_id, False)
    return client.trigger(dag_id)["dag_run_id"]


def ran_tasks(client: AirflowClient, dag_id: str, run_id: str) -> list[dict]:
    """The task instances of a run that ran (skipped ones have no worker)."""
    return [ti for ti in client.task_instances(dag_id, run_id) if ti["state"] != "skipped"]


def task(client: AirflowClient, dag_id: str, run_id: str, task_id: str) -> dict:
    return next(t for t in client.task_instances(dag_id, run_id) if t["task_id"] == task_id)


def run_ids(client: AirflowClient, dag_id: str) -> set[str]:
    return {run["dag_run_id"] for run in client.recent_runs(dag_id, limit=100)}


def wait_for_extract_writing(deployment, client, dag_id: str, run_id: str, export_id: str) -> str:
    """The worker running the run's extract, as soon as it has written a file of it.

    The extract writes for a few seconds, then uploads: its worker is asked of the REST
    API once, then only its staging cache is watched, closely, so the moment is not missed.
    """
    deadline = time.monotonic() + RUN_TIMEOUT
    worker = running_extract(client, dag_id, run_id, deadline)
    cache = deployment.state / worker / "ferry"
    asked = time.monotonic()
    while time.monotonic() < deadline:
        if any(path.is_file() for path in cache.rglob(f"*{export_id}*/**/*")):
            return worker
        if time.monotonic() - asked > 1:  # still running there (not retried elsewhere)?
            asked = time.monotonic()
            extract = task(client, dag_id, run_id, "extract")
            assert (extract["state"], extract["hostname"]) == ("running", worker), extract
        time.sleep(0.02)
    raise TimeoutError(f"{dag_id}: extract did not start writing in {RUN_TIMEOUT} s")


def running_extract(client, dag_id: str, run_id: str, deadline: float) -> str:
    """The worker the run's extract runs on, once it runs."""
    while time.monotonic() < deadline:
        extract = task(client, dag_id, run_id, "extract")
        assert extract["state"] in (None, "scheduled", "queued", "running"), extract
        if extract["state"] == "running" and extract["hostname"]:
            return extract["hostname"]
        time.sleep(0.2)
    raise TimeoutError(f"{dag_id}: extract did not start in {RUN_TIMEOUT} s")


def delivered_folder(client: AirflowClient, dag_id: str, run_id: str, task_id: str) -> Path:
    """The download folder a deliver_download task's receipt (its XCom) names."""
    path = "/".join(quote(part, safe="") for part in (dag_id, "dagRuns", run_id))
    entry = client.request("GET", f"/dags/{path}/taskInstances/{task_id}/xcomEntries/return_value")
    value = entry["value"]
    receipt = json.loads(value) if isinstance(value, str) else value
    return Path(receipt["detail"]["folder"])


def ferry_cli(deployment, tmp_path: Path, *args: str) -> str:
    """`. env.sh; ferry ARGS` from an empty FERRY_HOME: nothing local to read."""
    env = {**os.environ, "FERRY_HOME": str(tmp_path / "laptop")}
    env["FERRY_INCLUDE"] = deployment.settings["FERRY_INCLUDE"]
    done = subprocess.run(
        ["bash", "-c", '. "$1" && shift && exec "$@"', "-",
         str(deployment.state / "env.sh"), sys.executable, "-m", "ferry", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def delivered_leads(s3, prefix: str) -> tuple[set[str], list[int]]:
    """The run folders under prefix in the delivered bucket, and every lead_id of their
    gzip CSVs (parsed back)."""
    listed = s3.list_objects_v2(Bucket=DELIVERED_BUCKET, Prefix=prefix).get("Contents", [])
    keys = [item["Key"] for item in listed]
    folders = {key.removeprefix(prefix).split("/")[0] for key in keys}
    lead_ids = []
    for key in keys:
        if key.endswith(".csv.gz"):
            body = s3.get_object(Bucket=DELIVERED_BUCKET, Key=key)["Body"].read()
            table = pacsv.read_csv(io.BytesIO(gzip.decompress(body)))
            lead_ids += table.column("lead_id").to_pylist()
    return folders, lead_ids


def read_csv(data: bytes, name: str = ""):
    """A delivered CSV (gzip when its name says so) parsed back; values may hold line
    breaks, quoted."""
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    multiline = pacsv.ParseOptions(newlines_in_values=True)
    return pacsv.read_csv(io.BytesIO(data), parse_options=multiline)


class ExportsPage:
    """The Exports page's API (/ferry/api on the API server), signed in as the page is."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        login = requests.post(
            f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=60
        )
        login.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

    def get(self, path: str) -> requests.Response:
        answer = self.session.get(f"{self.base_url}/ferry/api{path}", timeout=60)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
        return answer

    def runs(self, export_id: str) -> list[dict]:
        return self.get(f"/exports/{quote(export_id, safe='')}/runs").json()["runs"]

    def run(self, job_run_id: str) -> dict:
        return self.get(f"/runs/{quote(job_run_id, safe='')}").json()

    def download(self, link: dict) -> bytes:
        """A file of the download area, by the URL the run page links to."""
        path = link["url"].removeprefix("/ferry").removeprefix("/api")
        return self.get(path).content
