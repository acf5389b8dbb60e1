"""The REST client retries idempotent calls on 5xx and read timeouts, as SQLite-backed
Airflow needs."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ferry.airflow_api import AirflowApiError, AirflowClient

SLOW_ANSWER = 1.5


@pytest.fixture
def api():
    """A fake Airflow API on 127.0.0.1 whose first two PATCH and POST answers are 500."""
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/auth/token":
                return self._answer(201, {"access_token": "t"})
            calls.append(f"POST {self.path}")
            return self._answer(500, {"detail": "database is locked"})

        def do_PATCH(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls.append(f"PATCH {self.path}")
            failing = sum(call.startswith("PATCH") for call in calls) <= 2
            return self._answer(500 if failing else 200, {"is_paused": False})

        def do_GET(self) -> None:
            calls.append(f"GET {self.path}")
            if len(calls) == 1:
                time.sleep(SLOW_ANSWER)  # longer than the client waits
            return self._answer(200, {"dag_id": "export__x"})

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = AirflowClient(
        f"http://127.0.0.1:{server.server_port}", username="u", password="p", timeout=0.5
    )
    yield client, calls
    server.shutdown()
    server.server_close()


def test_an_idempotent_call_is_retried_until_it_succeeds(api, monkeypatch):
    client, calls = api
    monkeypatch.setattr("ferry.airflow_api.time.sleep", lambda seconds: None)
    assert client.set_paused("export__x", False) == {"is_paused": False}
    assert calls == ["PATCH /api/v2/dags/export__x"] * 3


def test_a_trigger_is_not_repeated_on_5xx(api):
    client, calls = api
    with pytest.raises(AirflowApiError, match="500"):
        client.trigger("export__x")
    assert calls == ["POST /api/v2/dags/export__x/dagRuns"]


def test_an_idempotent_call_that_timed_out_is_sent_again(api):
    client, calls = api
    assert client.dag("export__x") == {"dag_id": "export__x"}
    assert calls == ["GET /api/v2/dags/export__x"] * 2
