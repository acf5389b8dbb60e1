"""Opening a Postgres snapshot: what the connection's definition passes to libpq, which
failures are for good, and nothing left open or shown when opening fails."""

from __future__ import annotations

import json

import adbc_driver_manager
import adbc_driver_manager.dbapi
import pytest

from ferry.exceptions import kind_of
from ferry.sources import SourceError, source_for
from ferry.sources.postgres import PostgresSource, classify, postgres_uri
from ferry.sql import Sql

pytestmark = [
    pytest.mark.integration,
    # a connection left for the garbage collector to close complains there: none may be
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]


def backends(postgres, name: str) -> int:
    found = postgres.execute(
        f"SELECT count(*) FROM pg_stat_activity WHERE application_name = '{name}'"
    )
    return int(found.strip())


def test_the_uri_and_its_password_stay_out_of_the_sources_repr():
    source = PostgresSource(postgres_uri("db", 5432, "bob", "S3cr3t p@ss", "wh"), "pgx")
    assert "S3cr3t" not in repr(source) and "pgx" in repr(source)


def test_a_missing_file_on_the_server_fails_for_good(postgres):
    source = PostgresSource(postgres.uri, "pg_warehouse")
    with source.snapshot() as snapshot, pytest.raises(SourceError) as failed:
        snapshot.query(Sql("SELECT pg_read_file('/no/such/ferry/file') AS x")).read_all()
    assert kind_of(failed.value) == "terminal" and "No such file" in str(failed.value)


@pytest.mark.parametrize("state, sibling", [("57P04", "57P01"), ("58P01", "58030")])
def test_a_dropped_database_or_missing_file_is_terminal_its_siblings_transient(state, sibling):
    def error(sqlstate: str) -> Exception:
        return adbc_driver_manager.OperationalError(
            "ERROR: x", status_code=adbc_driver_manager.AdbcStatusCode.IO, sqlstate=sqlstate
        )

    assert kind_of(classify(error(state), "pg", "postgresql://h/db")) == "terminal"
    assert kind_of(classify(error(sibling), "pg", "postgresql://h/db")) == "transient"


def test_a_failure_after_connecting_closes_the_connection(postgres, monkeypatch):
    uri = postgres.uri + "?application_name=ferry_cursor_probe"

    def no_cursor(self, *args, **kwargs):
        raise adbc_driver_manager.OperationalError(
            "no cursor today", status_code=adbc_driver_manager.AdbcStatusCode.IO, sqlstate="53200"
        )

    monkeypatch.setattr(adbc_driver_manager.dbapi.Connection, "cursor", no_cursor)
    with pytest.raises(Exception) as failed, PostgresSource(uri, "pg_warehouse").snapshot():
        pass
    assert "no cursor today" in str(failed.value)
    assert backends(postgres, "ferry_cursor_probe") == 0


def defined(monkeypatch, postgres, **extra) -> None:
    """pg_warehouse as an Airflow connection to the test server, with this extra."""
    name, value = postgres.connection("pg_warehouse")
    monkeypatch.setenv(name, json.dumps({**json.loads(value), "extra": extra}))


def test_libpq_settings_of_the_extra_reach_the_server_escaped(postgres, monkeypatch):
    defined(monkeypatch, postgres, application_name="ferry probe&sslmode=require",
            connect_timeout=5)  # fmt: skip
    with source_for("pg_warehouse").snapshot() as snapshot:
        [(name,)] = snapshot.execute(
            "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"
        )
    assert name == "ferry probe&sslmode=require"


def test_sslmode_require_against_a_server_without_tls_fails_for_good(postgres, monkeypatch):
    defined(monkeypatch, postgres, sslmode="require")
    with pytest.raises(SourceError) as failed, source_for("pg_warehouse").snapshot():
        pass
    message = str(failed.value)
    assert kind_of(failed.value) == "terminal"
    assert message.startswith("connection pg_warehouse (postgres): ") and "SSL" in message
    assert message.endswith("check the connection's extra: sslmode and the certificate files "
                            "(sslrootcert...)")  # fmt: skip


@pytest.mark.parametrize("key", ["options", "host", "passfile"])
def test_an_extra_key_ferry_does_not_pass_is_refused_by_name(key, postgres, monkeypatch):
    defined(monkeypatch, postgres, **{key: "-c statement_timeout=0"})
    with pytest.raises(SourceError) as failed:
        source_for("pg_warehouse")
    assert f"connection pg_warehouse (postgres): extra '{key}' is not passed" in str(failed.value)


def test_a_connection_without_extra_gets_a_connect_timeout_and_keepalives(postgres, monkeypatch):
    monkeypatch.setenv(*postgres.connection("pg_warehouse"))
    uri = source_for("pg_warehouse").uri
    assert uri.endswith("?connect_timeout=10&keepalives=1")
