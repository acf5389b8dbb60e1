"""A small stand-in for Airflow's REST API on 127.0.0.1 that can stall or drop answers.

Real HTTP over a real socket (http.server in a thread), so the client's timeouts, retries
and connection handling run as they do against a busy Airflow. Runs triggered here are
kept, so a test can count them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

STALL = "stall"  # read the request, do the work, answer only after the client gave up
DROP = "drop"  # read the request, do the work, close the connection without answering
ANSWER = "answer"


@dataclass
class FakeAirflow:
    url: str = ""
    calls: list[str] = field(default_factory=list)
    runs: dict[str, list[dict]] = field(default_factory=dict)
    token_fates: list[str] = field(default_factory=list)  # one per token request, then ANSWER
    trigger_fates: list[str] = field(default_factory=list)  # one per trigger, then ANSWER
    stall_seconds: float = 2.0
    paused: bool = False
    missing: set[str] = field(default_factory=set)  # DAG ids Airflow answers 404 for
    dags: list[dict] = field(default_factory=list)  # listed by GET /dags, a page at a time
    _release: threading.Event = field(default_factory=threading.Event)

    def count(self, call: str) -> int:
        return self.calls.count(call)

    def trigger(self, dag_id: str, body: dict) -> dict:
        runs = self.runs.setdefault(dag_id, [])
        run_id = f"manual__2026-12-01T00:00:0{len(runs)}+00:00"
        run = {"dag_id": dag_id, "dag_run_id": run_id, "state": "queued",
               "note": body.get("note"), "conf": body.get("conf")}  # fmt: skip
        runs.append(run)
        return run


def _handler(fake: FakeAirflow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as Airflow's uvicorn

        def _answer(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                self.close_connection = True

        def _fate(self, fates: list[str]) -> str:
            return fates.pop(0) if fates else ANSWER

        def _deliver(self, fate: str, status: int, body: dict) -> None:
            if fate == DROP:
                self.close_connection = True
                return
            if fate == STALL:
                fake._release.wait(fake.stall_seconds)
            self._answer(status, body)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or "{}")
            path = urlparse(self.path).path
            fake.calls.append(f"POST {path}")
            if path == "/auth/token":
                return self._deliver(self._fate(fake.token_fates), 201, {"access_token": "t"})
            dag_id = path.split("/")[4]
            run = fake.trigger(dag_id, body)  # the run starts whether the answer arrives or not
            return self._deliver(self._fate(fake.trigger_fates), 200, run)

        def do_GET(self) -> None:
            path = urlparse(self.path).path
            fake.calls.append(f"GET {path}")
            parts = path.split("/")
            if len(parts) > 4 and parts[4] in fake.missing:
                return self._answer(
                    404, {"detail": f"The DAG with dag_id: `{parts[4]}` was not found"}
                )
            query = parse_qs(urlparse(self.path).query)
            if path == "/api/v2/dags":
                return self._answer(200, _page(fake, query))
            if path.endswith("/dagRuns"):
                runs = _runs(fake, parts[4], query.get("state"))
                return self._answer(200, {"dag_runs": runs, "total_entries": len(runs)})
            if len(parts) == 5 and parts[3] == "dags":
                return self._answer(200, {"dag_id": parts[4], "is_paused": fake.paused})
            if len(parts) == 7 and parts[5] == "dagRuns":  # one run, its id one path segment
                wanted = unquote(parts[6])
                found = [run for run in fake.runs.get(parts[4], []) if run["dag_run_id"] == wanted]
                return self._answer(200, found[0]) if found else self._answer(404, {"detail": "-"})
            return self._answer(404, {"detail": "not found"})

        def do_PATCH(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or "{}")
            path = urlparse(self.path).path
            fake.calls.append(f"PATCH {path}")
            parts = path.split("/")
            if len(parts) > 4 and parts[4] in fake.missing:
                return self._answer(
                    404, {"detail": f"The DAG with dag_id: `{parts[4]}` was not found"}
                )
            if len(parts) == 5 and parts[3] == "dags":  # pause or unpause a DAG
                fake.paused = body.get("is_paused", fake.paused)
                return self._answer(200, {"dag_id": parts[4], "is_paused": fake.paused})
            wanted = unquote(parts[-1])
            for run in fake.runs.get(parts[4], []) if "dagRuns" in parts else []:
                if run["dag_run_id"] == wanted:
                    run.update(body)  # e.g. marked failed by ferry stop
                    return self._answer(200, run)
            return self._answer(404, {"detail": "not found"})

        def log_message(self, *args) -> None:
            pass

    return Handler


def _page(fake: FakeAirflow, query: dict[str, list[str]]) -> dict:
    prefix = query.get("dag_id_prefix_pattern", [""])[0]
    offset, limit = int(query.get("offset", ["0"])[0]), int(query.get("limit", ["100"])[0])
    matching = [dag for dag in fake.dags if dag["dag_id"].startswith(prefix)]
    return {"dags": matching[offset : offset + limit], "total_entries": len(matching)}


def _runs(fake: FakeAirflow, dag_id: str, states: list[str] | None) -> list[dict]:
    """One DAG's runs, or every DAG's (~) in the states asked for."""
    if dag_id != "~":
        return fake.runs.get(dag_id, [])
    every = [run for runs in fake.runs.values() for run in runs]
    return [run for run in every if states is None or run.get("state") in states]


@contextmanager
def fake_airflow(**settings) -> Iterator[FakeAirflow]:
    fake = FakeAirflow(**settings)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield fake
    finally:
        fake._release.set()
        server.shutdown()
        server.server_close()
