"""Start DAGs once at `scripts/start`: the demo's refresh, so the exports scheduled after it
run within a minute of start instead of staying without a run.

scripts/start asks for it (`--trigger ferry_refresh`, only while the demo is there);
FERRY_START_REFRESH=0 turns it off. The tests' live Airflow does not use scripts/start:
they trigger refreshes themselves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from ferry.airflow_api import AirflowApiError, AirflowClient, AirflowNotFound

OFF = {"0", "false", "no", "off"}


def dags_to_start(requested: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """The DAGs to start once Airflow answers: those asked for, unless FERRY_START_REFRESH=0."""
    if environ.get("FERRY_START_REFRESH", "").strip().lower() in OFF:
        return ()
    return tuple(dict.fromkeys(requested))


def start_once(
    client: AirflowClient, dag_id: str, *, wait_parsed: float = 180, wait_run: float = 15
) -> str:
    """One run of the DAG now. A paused DAG is unpaused (the scheduler then runs its latest
    interval, catchup being off); if no new run shows within wait_run, or the DAG was not
    paused, one is triggered. Returns what was done, for one line on the console."""
    dag = _parsed(client, dag_id, wait_parsed)
    if dag["is_paused"]:
        earlier = _run_ids(client, dag_id)
        client.set_paused(dag_id, False)
        if _new_run(client, dag_id, earlier, wait_run):
            return f"{dag_id} unpaused: its scheduled run started"
    run = client.trigger(dag_id, note="Started by scripts/start (FERRY_START_REFRESH=0: not)")
    return f"{dag_id} triggered: run {run['dag_run_id']}"


def _parsed(client: AirflowClient, dag_id: str, wait: float) -> dict:
    """The DAG once the DAG processor has parsed it (a fresh start takes a few seconds)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return client.dag(dag_id)
        except AirflowNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)


def _run_ids(client: AirflowClient, dag_id: str) -> set[str]:
    return {run["dag_run_id"] for run in client.recent_runs(dag_id, limit=5)}


def _new_run(client: AirflowClient, dag_id: str, earlier: set[str], wait: float) -> bool:
    deadline = time.monotonic() + wait
    while not _run_ids(client, dag_id) - earlier:
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def start_all(
    client: AirflowClient, dag_ids: Sequence[str], *, wait_parsed: float = 180
) -> list[str]:
    """start_once for each DAG; a failure is one line, never an end of the server."""
    said = []
    for dag_id in dag_ids:
        try:
            said.append(start_once(client, dag_id, wait_parsed=wait_parsed))
        except AirflowApiError as error:
            said.append(f"{dag_id} not started: {error}")
    return said
