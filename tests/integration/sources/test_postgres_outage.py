"""The Postgres server going away in the middle of a read: a clear, transient failure
naming the connection, nothing staged as done, and a retry that writes the right bytes."""

from __future__ import annotations

import threading
import time

import pytest

from ferry.engine import extract
from ferry.exceptions import kind_of
from ferry.manifest import MANIFEST_NAME
from ferry.sources import SourceError, SourceUnavailable
from ferry.sources.postgres import PostgresSource, postgres_uri

from .conftest import plan_for, project_with

pytestmark = [
    pytest.mark.integration,
    # a connection left for the garbage collector to close complains there: none may be
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]

ROWS = 600_000  # three key slices: the read is a series of COPYs, long enough to cut
TABLES = """\
tables:
  event_log:
    connection: pg_warehouse
    name: outage.event_log
    key: id
    columns:
      id: {type: BIGINT}
      label: {type: VARCHAR}
      seen_at: {type: TIMESTAMPTZ}
"""


@pytest.fixture(scope="module")
def event_log(postgres):
    postgres.execute(
        "DROP SCHEMA IF EXISTS outage CASCADE; CREATE SCHEMA outage; "
        "CREATE TABLE outage.event_log AS SELECT g::bigint AS id, repeat(md5(g::text), 2) "
        "AS label, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' AS seen_at "
        f"FROM generate_series(1, {ROWS}) g; ALTER TABLE outage.event_log ADD PRIMARY KEY (id)"
    )
    return PostgresSource(postgres.uri, "pg_warehouse")


def cut_while_copying(postgres, cut) -> threading.Thread:
    """A thread that runs cut() once the server is streaming the table out (COPY)."""

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            busy = postgres.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%event_log%'"
            )
            if busy.strip() != "0":
                cut()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("how", ["server stopped", "backend terminated"])
def test_a_read_cut_off_fails_transient_naming_the_connection_and_a_retry_completes(
    how, postgres, event_log, tmp_path
):
    project = project_with(tmp_path, TABLES)
    definition = {"id": "event_dump", "source": {"table": "event_log"}, "fields": "all",
                  "format": {"type": "csv", "compression": "gzip"}}  # fmt: skip
    clean = extract(plan_for(project, tmp_path / "clean", definition), source=event_log,
                    pii_key=None)  # fmt: skip
    plan = plan_for(project, tmp_path / "cut", definition)

    def cut() -> None:
        if how == "server stopped":
            postgres.stop("immediate")
        else:
            postgres.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'COPY (SELECT%event_log%'"
            )

    watcher = cut_while_copying(postgres, cut)
    try:
        with pytest.raises(SourceUnavailable) as failed:
            extract(plan, source=event_log, pii_key=None)
    finally:
        watcher.join()
        if how == "server stopped":
            postgres.resume()
    message = str(failed.value)
    assert message.startswith("connection pg_warehouse (postgres): ")
    assert "server closed the connection" in message or "terminating connection" in message
    assert kind_of(failed.value) == "transient"  # retried with backoff
    assert "postgres@" not in message  # the URI (credentials) is left out
    assert not (plan.staging_dir / MANIFEST_NAME).exists()  # nothing to deliver

    retried = extract(plan, source=event_log, pii_key=None)
    assert retried.rows == clean.rows == ROWS
    assert [f.sha256 for f in retried.data_files] == [f.sha256 for f in clean.data_files]


@pytest.mark.parametrize(
    "database, login, kind, says",
    [
        ("no_such_db", "postgres", "terminal", 'database "no_such_db" does not exist'),
        ("warehouse", "nobody", "terminal", 'role "nobody" does not exist'),
        ("warehouse", "postgres", "transient", "Connection refused"),
    ],
)
def test_a_connection_that_cannot_work_fails_for_good_and_a_server_down_is_retried(
    database, login, kind, says, postgres
):
    port = postgres.port if kind == "terminal" else 1  # nothing listens on port 1
    uri = postgres_uri("127.0.0.1", port, login, "s3cret-pw", database)
    expected = SourceError if kind == "terminal" else SourceUnavailable
    with pytest.raises(expected) as failed, PostgresSource(uri, "pg_warehouse").snapshot():
        pass
    message = str(failed.value)
    assert kind_of(failed.value) == kind
    assert message.startswith("connection pg_warehouse (postgres): ") and says in message
    assert "s3cret-pw" not in message
    if kind == "terminal":
        assert message.endswith("check the connection's host, port, schema (the database), "
                                "login and password")  # fmt: skip
