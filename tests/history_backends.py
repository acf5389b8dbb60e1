"""The history database a test runs against: SQLite in FERRY_HOME, or a fresh Postgres
database (FERRY_HISTORY_CONN) on the session's server.

The unit tests of the run history, the download audit and the import ledger take a
`history_backend` fixture (SQLite there); tests/integration/history re-runs the same
tests with the fixture giving Postgres, so every behaviour is checked on both.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from pathlib import Path

import pytest
from tests.postgres_server import SUPERUSER, PostgresServer
from tests.servers import airflow_connection

from ferry import history_db

CONN_ID = "ferry_history"


class SqliteHistory:
    name = "sqlite"

    def __init__(self, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("FERRY_HOME", str(home))
        monkeypatch.delenv(history_db.ENV, raising=False)

    def query(self, sql: str) -> list[tuple]:
        """What an operator's `sqlite3 history.sqlite "SQL"` shows."""
        history_db.sqlite_path().parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(history_db.sqlite_path())) as db, db:
            return [tuple(row) for row in db.execute(sql)]


class PostgresHistory:
    name = "postgres"

    def __init__(self, server: PostgresServer, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.server = server
        self.database = f"history_{uuid.uuid4().hex[:12]}"
        server.psql("postgres", f"CREATE DATABASE {self.database}")
        monkeypatch.setenv("FERRY_HOME", str(home))  # the other files a test writes
        monkeypatch.setenv(history_db.ENV, CONN_ID)
        monkeypatch.setenv(*self.connection(CONN_ID))

    def connection(self, conn_id: str) -> tuple[str, str]:
        return airflow_connection(
            conn_id, conn_type="postgres", host="127.0.0.1", port=self.server.port,
            login=SUPERUSER, schema=self.database,
        )  # fmt: skip

    def query(self, sql: str) -> list[tuple]:
        """What an operator's `psql -c "SQL"` shows."""
        import psycopg

        uri = f"postgresql://{SUPERUSER}@127.0.0.1:{self.server.port}/{self.database}"
        with psycopg.connect(uri) as db, db.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
