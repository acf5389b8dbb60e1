"""A small client of Airflow 3's REST API (/api/v2), for the CLI and the tests.

Auth is the simple auth manager's: POST /auth/token for a JWT, then Bearer auth.
"""

from __future__ import annotations

import time
from typing import Any

import requests

TERMINAL_STATES = {"success", "failed"}
IDEMPOTENT_METHODS = {"GET", "PATCH", "PUT", "DELETE"}
IDEMPOTENT_ATTEMPTS = 4


class AirflowApiError(RuntimeError):
    """The API answered with an error; the message carries its status and detail."""


class AirflowClient:
    """Talk to one Airflow deployment.

    Args:
        base_url: e.g. http://127.0.0.1:8080 (no trailing /api/v2).
        username: A user of the deployment's auth manager.
        password: Its password.
    """

    def __init__(self, base_url: str, *, username: str, password: str, timeout: float = 30):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    def _authorize(self) -> None:
        response = self._session.post(
            f"{self.base_url}/auth/token", json=self._credentials, timeout=self.timeout
        )
        _raise_for(response, "log in")
        self._token = response.json()["access_token"]
        self._session.headers["Authorization"] = f"Bearer {self._token}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call /api/v2{path}; logs in on first use and again when the token expires."""
        if self._token is None:
            self._authorize()
        url = f"{self.base_url}/api/v2{path}"
        response = self._send(method, url, **kwargs)
        if response.status_code == 401:
            self._authorize()
            response = self._send(method, url, **kwargs)
        _raise_for(response, f"{method} {path}")
        return response.json() if response.content else None

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request; idempotent ones are retried on a 5xx or a read timeout.

        SQLite-backed Airflow answers 'database is locked' as a 500, or answers late, while
        the scheduler and the DAG processor write. A trigger (POST) is never retried.
        """
        attempts = IDEMPOTENT_ATTEMPTS if method in IDEMPOTENT_METHODS else 1
        for attempt in range(1, attempts):
            try:
                response = self._session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.Timeout:
                continue
            if response.status_code < 500:
                return response
            time.sleep(attempt)
        return self._session.request(method, url, timeout=self.timeout, **kwargs)

    def dag(self, dag_id: str) -> dict:
        return self.request("GET", f"/dags/{dag_id}")

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        return self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict | None = None, note: str | None = None) -> dict:
        """Start a run now; conf carries the DAG's params (date_from, date_to, ids)."""
        body = {"logical_date": None, "conf": conf or {}}
        if note:
            body["note"] = note
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def put_connection(self, conn_id: str, fields: dict[str, Any]) -> dict:
        """Create or overwrite a connection; a bulk PATCH, so safe to retry."""
        entity = {"connection_id": conn_id, **fields}
        action = {"action": "create", "action_on_existence": "overwrite", "entities": [entity]}
        return self.request("PATCH", "/connections", json={"actions": [action]})

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")[
            "task_instances"
        ]

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float = 300) -> dict:
        """Poll a run until it succeeds or fails; raise TimeoutError with its task states."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in TERMINAL_STATES:
                return run
            time.sleep(1)
        states = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
        raise TimeoutError(f"{dag_id} run {run_id} did not finish in {timeout} s: {states}")

    def wait_for_dag(self, dag_id: str, *, timeout: float = 120) -> dict:
        """Wait until the DAG processor has parsed a DAG and the API knows it."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.dag(dag_id)
            except AirflowApiError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


def _raise_for(response: requests.Response, action: str) -> None:
    if response.status_code >= 400:
        detail = response.text[:500]
        raise AirflowApiError(f"Airflow API could not {action}: {response.status_code} {detail}")
