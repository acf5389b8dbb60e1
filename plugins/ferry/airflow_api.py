"""A small client of Airflow 3's REST API (/api/v2), for the CLI, the bench and the tests.

Auth is the simple auth manager's: POST /auth/token for a JWT, then Bearer auth. One
client logs in once and reuses its token until Airflow answers 401.

Retries: a SQLite-backed Airflow under load answers late, drops connections or answers
'database is locked' as a 500. What is safe to repeat (the token POST, GETs, PATCH/PUT/
DELETE that set a state) is retried with backoff on timeouts, 5xx and connection errors.
A trigger (POST .../dagRuns) is never sent twice: if its answer is lost after it was
sent, TriggerOutcomeUnknown says so and the caller tells the user how to check.
"""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ferry.exceptions import Terminal, Transient

TERMINAL_STATES = {"success", "failed"}
IDEMPOTENT_METHODS = {"GET", "PATCH", "PUT", "DELETE"}
# Pauses before each retry: about a minute in all, as long as a busy SQLite holds a lock.
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
CONNECT_TIMEOUT = 10.0
CONNECT_RETRIES = 3
CANNOT_CONNECT = "cannot connect"
PAGE_SIZE = 100


class AirflowApiError(RuntimeError):
    """The API answered with an error; the message carries its status and detail."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AirflowNotFound(AirflowApiError, Terminal):
    """The API answered 404: no such DAG or run (yet)."""


class AirflowUnreachable(AirflowApiError, Transient):
    """No answer (connection refused or reset, timeouts, 5xx) after every retry."""


class TriggerOutcomeUnknown(AirflowApiError, Terminal):  # a second send could start a second run
    """A trigger was sent but its answer was lost: the run may have started."""

    dag_id = ""


class AirflowClient:
    """Talk to one Airflow deployment.

    Args:
        base_url: e.g. http://127.0.0.1:8080 (no trailing /api/v2).
        username: A user of the deployment's auth manager.
        password: Its password.
        timeout: Seconds to wait for an answer (connecting waits at most CONNECT_TIMEOUT).
        retry_delays: Pauses before each retry of a call that is safe to repeat
            (default RETRY_DELAYS).
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        timeout: float = 30,
        retry_delays: tuple[float, ...] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry_delays = RETRY_DELAYS if retry_delays is None else retry_delays
        self.logins = 0
        self._session = requests.Session()
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    def _authorize(self) -> None:
        # Asking for a token changes nothing on the server: safe to repeat.
        response = self._send("POST", f"{self.base_url}/auth/token", True, json=self._credentials)
        _raise_for(response, "log in")
        self.logins += 1
        self._token = response.json()["access_token"]
        self._session.headers["Authorization"] = f"Bearer {self._token}"

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call /api/v2{path}; logs in on first use and again when the token expires.

        Raises:
            AirflowApiError: Airflow answered with an error (status in .status).
            AirflowUnreachable: no usable answer after the retries.
            TriggerOutcomeUnknown: a POST was sent and its answer lost.
        """
        if self._token is None:
            self._authorize()
        url = f"{self.base_url}/api/v2{path}"
        safe = method in IDEMPOTENT_METHODS
        response = self._send(method, url, safe, **kwargs)
        if response.status_code == 401:  # refused before it ran: safe to send again
            self._authorize()
            response = self._send(method, url, safe, **kwargs)
        _raise_for(response, f"{method} {path}")
        return response.json() if response.content else None

    def _send(self, method: str, url: str, safe: bool, **kwargs: Any) -> requests.Response:
        """One call, retried when safe: always if nothing reached Airflow, else only if `safe`.

        A refused connection is retried CONNECT_RETRIES times only: Airflow is more likely
        down than busy, and the user should not wait a minute to learn it.
        """
        delays = list(self.retry_delays)
        refused = 0
        while True:
            problem = self._attempt(method, url, safe, **kwargs)
            if isinstance(problem, requests.Response):
                return problem
            refused += problem.startswith(CANNOT_CONNECT)
            if not delays or refused > CONNECT_RETRIES:
                raise AirflowUnreachable(f"Airflow at {self.base_url} did not answer "
                                         f"{method} {_path(url)}: {problem}")  # fmt: skip
            time.sleep(delays.pop(0) * random.uniform(0.75, 1.25))  # jitter: callers in step

    def _attempt(self, method: str, url: str, safe: bool, **kwargs: Any) -> requests.Response | str:
        """The answer, or why there is none yet (worth retrying)."""
        try:
            response = self._session.request(
                method, url, timeout=(CONNECT_TIMEOUT, self.timeout), **kwargs
            )
        except requests.RequestException as error:
            if _never_sent(error):
                return f"{CANNOT_CONNECT} ({_reason(error)})"
            if not safe:
                raise TriggerOutcomeUnknown(
                    f"sent {method} {_path(url)} but the answer was lost ({_reason(error)})"
                ) from None
            return _reason(error)
        if response.status_code >= 500 and safe:
            return f"{response.status_code} {response.text[:200]}"
        return response

    def dag(self, dag_id: str) -> dict:
        return self.request("GET", f"/dags/{dag_id}")

    def dags(self, prefix: str) -> dict[str, dict]:
        """The DAGs whose id starts with prefix, by dag_id (every page; stale ones left out)."""
        found: dict[str, dict] = {}
        while True:
            params = {"dag_id_prefix_pattern": prefix, "exclude_stale": "true",
                      "limit": PAGE_SIZE, "offset": len(found)}  # fmt: skip
            page = self.request("GET", "/dags", params=params)
            found.update({dag["dag_id"]: dag for dag in page["dags"]})
            if not page["dags"] or len(found) >= page["total_entries"]:
                return found

    def recent_runs(self, dag_id: str, *, limit: int = PAGE_SIZE) -> list[dict]:
        """A DAG's newest runs first (by run_after).

        Raises:
            AirflowNotFound: Airflow has no such DAG.
        """
        params = {"order_by": "-run_after", "limit": limit}
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"]

    def active_dag_ids(self, states: tuple[str, ...]) -> set[str]:
        """The DAGs that have a run in one of these states (e.g. queued, running)."""
        params = {"state": list(states), "limit": 1000}
        page = self.request("GET", "/dags/~/dagRuns", params=params)
        return {run["dag_id"] for run in page["dag_runs"]}

    def set_run_state(self, dag_id: str, run_id: str, state: str, *, note: str) -> dict:
        """Mark a run (e.g. failed: Airflow then stops its running tasks); safe to repeat."""
        body = {"state": state, "note": note}
        return self.request("PATCH", f"/dags/{dag_id}/dagRuns/{_segment(run_id)}", json=body)

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        return self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict | None = None, note: str | None = None) -> dict:
        """Start a run now; conf carries the DAG's params (date_from, date_to, ids).

        Sent once only. Raises TriggerOutcomeUnknown when the answer is lost after sending.
        """
        body = {"logical_date": None, "conf": conf or {}}
        if note:
            body["note"] = note
        try:
            return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)
        except TriggerOutcomeUnknown as lost:
            lost.dag_id = dag_id
            raise

    def put_connection(self, conn_id: str, fields: dict[str, Any]) -> dict:
        """Create or overwrite a connection; a bulk PATCH, so safe to retry."""
        entity = {"connection_id": conn_id, **fields}
        action = {"action": "create", "action_on_existence": "overwrite", "entities": [entity]}
        return self.request("PATCH", "/connections", json={"actions": [action]})

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{_segment(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{_segment(run_id)}/taskInstances")[
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


def _never_sent(error: requests.RequestException) -> bool:
    """True when the connection was never made, so Airflow cannot have seen the request."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


def _reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if _never_sent(error):
        return "connection refused or unreachable"
    return "connection closed before the answer"


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].partition("/")[2]


def _segment(text: str) -> str:
    """One path segment: a run id holds ':' and '+'."""
    return quote(text, safe="")


def _raise_for(response: requests.Response, action: str) -> None:
    if response.status_code >= 400:
        detail = response.text[:500]
        error = AirflowNotFound if response.status_code == 404 else AirflowApiError
        raise error(
            f"Airflow API could not {action}: {response.status_code} {detail}",
            status=response.status_code,
        )
