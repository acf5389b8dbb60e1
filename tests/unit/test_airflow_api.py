"""The REST client retries what is safe to repeat (token, GETs, PATCH) on 5xx, timeouts
and lost connections, as SQLite-backed Airflow under load needs, and never sends a trigger
twice."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fake_airflow import DROP, STALL, FakeAirflow, fake_airflow
from ferry.airflow_api import (
    AirflowApiError,
    AirflowClient,
    AirflowNotFound,
    AirflowUnreachable,
    TriggerOutcomeUnknown,
)

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


# Against a stand-in that stalls or drops answers over a real socket (tests/fake_airflow.py)

FAST_RETRIES = (0.01, 0.01, 0.01, 0.01, 0.01)


def client_of(fake: FakeAirflow) -> AirflowClient:
    return AirflowClient(
        fake.url, username="u", password="p", timeout=0.5, retry_delays=FAST_RETRIES
    )


def test_the_token_request_is_retried_when_its_answer_is_late_or_lost():
    with fake_airflow(token_fates=[STALL, DROP]) as fake:
        client = client_of(fake)
        assert client.dag("export__x")["dag_id"] == "export__x"
    assert fake.count("POST /auth/token") == 3
    assert client.logins == 1


def test_one_token_serves_every_call_of_a_client():
    with fake_airflow() as fake:
        client = client_of(fake)
        for dag_id in ("export__a", "export__b"):
            client.dag(dag_id)
            client.trigger(dag_id)
    assert fake.count("POST /auth/token") == 1
    assert client.logins == 1


@pytest.mark.parametrize("fate", [STALL, DROP])
def test_a_trigger_whose_answer_is_lost_is_never_sent_again(fate):
    with fake_airflow(trigger_fates=[fate]) as fake:
        client = client_of(fake)
        with pytest.raises(TriggerOutcomeUnknown, match="answer was lost") as lost:
            client.trigger("export__x")
    assert lost.value.dag_id == "export__x"
    assert fake.count("POST /api/v2/dags/export__x/dagRuns") == 1
    assert len(fake.runs["export__x"]) == 1


def test_a_refused_connection_is_a_clean_error_after_a_few_tries():
    with fake_airflow() as fake:
        url = fake.url  # closed when the block ends: nothing listens there any more
    client = AirflowClient(url, username="u", password="p", retry_delays=FAST_RETRIES)
    with pytest.raises(AirflowUnreachable, match="cannot connect"):
        client.trigger("export__x")


def test_dags_reads_every_page_of_the_dags_with_a_prefix():
    with fake_airflow() as fake:
        fake.dags = [{"dag_id": f"export__{n:03}", "is_paused": False} for n in range(230)]
        fake.dags.append({"dag_id": "group__nightly", "is_paused": False})
        found = client_of(fake).dags("export__")
    assert sorted(found) == [f"export__{n:03}" for n in range(230)]
    assert fake.count("GET /api/v2/dags") == 3  # pages of 100


def test_a_404_is_airflow_not_found_and_not_asked_again():
    with fake_airflow(missing={"export__gone"}) as fake:
        client = client_of(fake)
        with pytest.raises(AirflowNotFound, match="404") as missing:
            client.recent_runs("export__gone")
    assert missing.value.status == 404
    assert fake.count("GET /api/v2/dags/export__gone/dagRuns") == 1


def test_a_run_is_marked_failed_by_its_id_with_colons_and_plus_signs():
    run_id = "manual__2026-12-01T00:00:00+00:00"
    with fake_airflow() as fake:
        fake.runs["export__x"] = [{"dag_id": "export__x", "dag_run_id": run_id, "state": "running"}]
        client = client_of(fake)
        assert client.active_dag_ids(("queued", "running")) == {"export__x"}
        client.set_run_state("export__x", run_id, "failed", note="stopped")
        assert client.active_dag_ids(("queued", "running")) == set()
    assert fake.runs["export__x"][0] == {
        "dag_id": "export__x", "dag_run_id": run_id, "state": "failed", "note": "stopped"
    }  # fmt: skip


def test_a_run_is_read_by_its_id_even_when_the_id_holds_url_characters():
    run_id = "manual__a/b?c=d#e f"  # a manual run id is free text
    with fake_airflow() as fake:
        fake.runs["export__x"] = [{"dag_id": "export__x", "dag_run_id": run_id, "state": "success"}]
        assert client_of(fake).dag_run("export__x", run_id)["dag_run_id"] == run_id
