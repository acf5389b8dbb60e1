"""PostgreSQL sources, read through ADBC's libpq driver as Arrow record batches.

Measured on this machine (2M rows, 4 columns, see bench/README.md): ADBC 1.07 s to Arrow,
psycopg 3's binary COPY parsed to rows 4.86 s (1.26 s for the raw bytes alone), psql's
\\copy to CSV 1.39 s. ADBC streams a query through COPY ... TO STDOUT (FORMAT BINARY) and
decodes it in C, but only a query without parameters: with bound parameters it returns
the whole result as one batch (2M rows: 487 MiB). So values are bound another way that
still never reaches the SQL text: each `?` reads a transaction-local setting,
`(SELECT CAST(current_setting('ferry.pN') AS type))`, set just before by a parameterised
`SELECT set_config('ferry.pN', $1, true)`. The HMAC key is never among them: PII is
applied on the worker.

A snapshot is one REPEATABLE READ READ ONLY transaction: the count, every key slice and
the sample see the same rows, and nothing Ferry sends can write.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote as url_quote

import pyarrow as pa

from ferry.column_types import UnknownColumnType, canonical_type
from ferry.retries import without_credentials
from ferry.sources.base import (
    BATCH_ROWS,
    SourceError,
    SourceUnavailable,
    TableShape,
    sql_table_name,
)
from ferry.sql import POSTGRES, Dialect, Sql, quote_table

# SQLSTATE classes another try can get past: connection trouble, the server shutting down
# or short of resources, lock and serialization conflicts, a query cancelled on timeout.
_TRANSIENT_STATES = ("08", "53", "57P", "40001", "40P01", "55P03", "57014", "58")
_PLACEHOLDER = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\?""")


@dataclass(frozen=True)
class PostgresSource:
    """A Postgres database; uri holds the credentials and never reaches a message."""

    uri: str
    connection_id: str
    dialect: Dialect = POSTGRES

    @contextmanager
    def snapshot(self) -> Iterator[PostgresSnapshot]:
        import adbc_driver_postgresql.dbapi as adbc

        with self.errors():
            conn = adbc.connect(self.uri)  # autocommit off: a transaction is open
        try:
            snap = PostgresSnapshot(conn, self)
            snap.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snap.execute("SET LOCAL TimeZone = 'UTC'")  # dates and hours of timestamptz as DuckDB
            yield snap
        finally:
            with self.errors(closing=True):
                conn.rollback()
                conn.close()

    @contextmanager
    def errors(self, closing: bool = False) -> Iterator[None]:
        """ADBC's errors as Ferry's, naming the connection, the credentials left out."""
        try:
            yield
        except Exception as error:
            if closing or not _is_adbc(error):
                if closing:
                    return  # the read is over; a dead connection cannot hold anything
                raise
            raise classify(error, self.connection_id, self.uri) from None


def _is_adbc(error: Exception) -> bool:
    return type(error).__module__.startswith("adbc_driver_manager")


def classify(error: Exception, connection_id: str, uri: str) -> Exception:
    state = getattr(error, "sqlstate", None) or ""
    text = str(error).replace(uri, without_credentials(uri))
    message = f"connection {connection_id} (postgres): {text.strip()}"
    unreachable = not state and ("connect" in text.lower() or "server closed" in text.lower())
    if unreachable or state.startswith(_TRANSIENT_STATES):
        return SourceUnavailable(message)
    return SourceError(message)


class PostgresSnapshot:
    """One read-only REPEATABLE READ transaction on one connection."""

    dialect: Dialect = POSTGRES
    worker = None  # rows are shaped on the worker's own DuckDB (ferry.engine.read)

    def __init__(self, conn, source: PostgresSource) -> None:
        self._conn = conn
        self._cursor = conn.cursor() if conn is not None else None
        self._source = source
        self._settings = 0

    def execute(self, text: str, params: tuple = ()) -> list[tuple]:
        with self._source.errors():
            self._cursor.execute(text, parameters=params or None)
            return self._cursor.fetchall()

    def relation(self, name: str) -> str:
        return quote_table(sql_table_name(name, self._source.connection_id))

    def query(self, sql: Sql, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """Rows streamed by COPY BINARY; batches are ADBC's (about 16 MB each)."""
        text = self._bind(sql)
        with self._source.errors():
            self._cursor.execute(text)
            reader = self._cursor.fetch_record_batch()
        return pa.RecordBatchReader.from_batches(reader.schema, self._guarded(reader))

    def _guarded(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        with self._source.errors():
            yield from reader

    def _bind(self, sql: Sql) -> str:
        """The text with each `?` read from a setting the values were just bound to."""
        params = list(sql.params)
        names, values, found = [], [], iter(params)

        def placeholder(match: re.Match) -> str:
            if match.group(0) != "?":
                return match.group(0)  # a quoted name or string: left as it is
            value = next(found)
            if value is None:
                return "NULL"
            self._settings += 1
            names.append(f"ferry.p{self._settings}")
            values.append(_as_text(value))
            # A scalar subquery is an InitPlan: read once per query, not once per row
            # (a bare current_setting() in a filter tripled a 10M-row scan's time).
            return f"(SELECT CAST(current_setting('{names[-1]}') AS {_pg_type(value)}))"

        text = _PLACEHOLDER.sub(placeholder, sql.text)
        if names:
            sets = ", ".join(f"set_config('{name}', ${i}, true)" for i, name in enumerate(names, 1))
            self.execute(f"SELECT {sets}", tuple(values))
        return text

    def describe(self, name: str) -> TableShape:
        schema, _, table = sql_table_name(name, self._source.connection_id).rpartition(".")
        rows = self.execute(_COLUMNS, (table, schema or ""))
        if not rows:
            raise SourceError(f"connection {self._source.connection_id}: no table {name}")
        key = self.execute(_PRIMARY_KEY, (table, schema or ""))
        columns = {column: ferry_type(kind, udt) for column, kind, udt in rows}
        keys = [column for (column,) in key]
        sources = {column: udt for column, _, udt in rows}
        return TableShape(columns, keys[0] if len(keys) == 1 else None, sources)

    def tables(self, schema: str | None = None) -> list[str]:
        rows = self.execute(_TABLES, (schema or "",))
        return [f"{found}.{table}" if schema else table for found, table in rows]


# information_schema keeps numeric precision in its own columns; format_type spells the
# type as Postgres would (numeric(38,10), character varying(20), integer[]).
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relname = $1 AND (n.nspname = $2 OR ($2 = '' AND n.oid = ANY(current_schemas(false))))
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""
_PRIMARY_KEY = """
SELECT a.attname
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey)
WHERE i.indisprimary AND c.relname = $1
  AND (n.nspname = $2 OR ($2 = '' AND n.oid = ANY(current_schemas(false))))"""
_TABLES = """
SELECT table_schema, table_name FROM information_schema.tables
WHERE (table_schema = $1 OR ($1 = '' AND table_schema = current_schema()))
ORDER BY table_name"""

_PG_TO_FERRY = {
    "smallint": "SMALLINT", "integer": "INTEGER", "bigint": "BIGINT", "real": "FLOAT",
    "double precision": "DOUBLE", "boolean": "BOOLEAN", "text": "VARCHAR", "date": "DATE",
    "timestamp without time zone": "TIMESTAMP", "timestamp with time zone": "TIMESTAMPTZ",
    "time without time zone": "TIME", "uuid": "UUID", "json": "JSON", "jsonb": "JSON",
    "bytea": "BLOB", "numeric": "VARCHAR",
}  # fmt: skip


def ferry_type(formatted: str, udt: str) -> str | None:
    """Postgres' type as a Ferry column type; None where none fits (documented rules:
    arrays are JSON arrays, numeric without a precision Ferry can hold is its exact text)."""
    if formatted.endswith("[]"):
        return "JSON"
    base = re.sub(r"\(.*\)", "", formatted).strip()
    if base in ("character varying", "character"):
        return "VARCHAR"
    if base == "numeric" and "(" in formatted:
        try:
            return canonical_type(formatted)
        except UnknownColumnType:
            return "VARCHAR"  # wider than DECIMAL(38): exported as its exact digits
    return _PG_TO_FERRY.get(base)


def _pg_type(value: object) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | Decimal):
        return "NUMERIC"
    if isinstance(value, float):
        return "DOUBLE PRECISION"
    if isinstance(value, dt.datetime):
        return "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    return "TEXT"


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def postgres_uri(host: str, port: int | None, login: str, password: str, database: str) -> str:
    """A libpq URI from a connection's fields, each part escaped."""
    auth = url_quote(login or "", safe="")
    if password:
        auth += ":" + url_quote(password, safe="")
    netloc = f"{auth}@{host}" if auth else host
    return f"postgresql://{netloc}:{port or 5432}/{url_quote(database or '', safe='')}"
