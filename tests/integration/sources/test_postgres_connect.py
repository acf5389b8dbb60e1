"""Opening a Postgres snapshot: what the connection's definition passes to libpq, which
failures are for good, and nothing left open or shown when opening fails."""

from __future__ import annotations

import adbc_driver_manager
import adbc_driver_manager.dbapi
import pytest

from ferry.exceptions import kind_of
from ferry.sources import SourceError
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
