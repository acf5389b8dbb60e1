"""PostgreSQL sources, read through ADBC's libpq driver as Arrow record batches.

Measured on this machine (2M rows, 4 columns, see bench/README.md): ADBC 1.07 s to Arrow,
psycopg 3's binary COPY parsed to rows 4.86 s (1.26 s for the raw bytes alone), psql's
\\copy to CSV 1.39 s. ADBC streams a query through COPY ... TO STDOUT (FORMAT BINARY) and
decodes it in C, but only a query without parameters: with bound parameters it returns
the whole result as one batch (2M rows: 487 MiB). So values are bound another way that
still never reaches the SQL text: each `?` reads a transaction-local setting,
`(SELECT CAST(current_setting('ferry.pN') AS type))` (a scalar subquery: read once per
query, where a bare current_setting() ran per row), set just before by a parameterised
`SELECT set_config('ferry.pN', $1, true)`; an IN list is one setting, a text[] (see
_listed). The HMAC key is never among them: PII is applied on the worker.

Columns come as tables.yaml declares them, written by Postgres where ADBC's decoding is not
the value (column_item: arrays, json, uuid, numeric as text, infinite dates).

A snapshot is one REPEATABLE READ READ ONLY transaction: the count, every key slice and
the sample see the same rows, and nothing Ferry sends can write.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote as url_quote
from urllib.parse import urlencode

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
from ferry.sql import POSTGRES, Dialect, Sql, quote, quote_table

# SQLSTATE classes another try can get past: connection trouble, the server shutting down
# or short of resources, lock and serialization conflicts, a query cancelled on timeout.
_TRANSIENT_STATES = ("08", "53", "57P", "40001", "40P01", "55P03", "57014", "58")
# ... but not the database dropped or a file the server needs missing (the next try too)
_TERMINAL_STATES = ("57P04", "58P01")
_QUOTED = r"'(?:[^']|'')*'" + r'|"(?:[^"]|"")*"'  # a string or a quoted name
_PLACEHOLDER = re.compile(rf"{_QUOTED}|\?")
# An IN list of values bound one by one, each cast to the same (allow-listed) type, as
# ferry.sql writes it: IN (CAST(? AS BIGINT), CAST(? AS BIGINT), ...)
_TYPE = r"[A-Z]+(?: [A-Z]+)?(?:\(\d+,\d+\))?"
_IN_LIST = re.compile(
    rf"{_QUOTED}|IN \(CAST\(\? AS (?P<type>{_TYPE})\)(?:, CAST\(\? AS (?P=type)\))*\)|\?"
)
SETTINGS_PER_STATEMENT = 1_000  # a SELECT lists at most 1,664 items


@dataclass(frozen=True)
class PostgresSource:
    """A Postgres database; uri holds the credentials and never reaches a message."""

    uri: str = field(repr=False)
    connection_id: str
    dialect: Dialect = POSTGRES

    @contextmanager
    def snapshot(self) -> Iterator[PostgresSnapshot]:
        import adbc_driver_postgresql.dbapi as adbc

        with self.errors():
            conn = adbc.connect(self.uri)  # autocommit off: a transaction is open
        try:
            with self.errors():
                snap = PostgresSnapshot(conn, self)
        except BaseException:
            with self.errors(closing=True):
                conn.close()
            raise
        try:
            snap.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            snap.execute("SET LOCAL TimeZone = 'UTC'")  # dates and hours of timestamptz as DuckDB
            yield snap
        finally:
            snap.close()

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


# What the server answers a connection attempt when only a changed connection can help (no
# such database or role, credentials refused): libpq gives no SQLSTATE then, so its words
# decide, before "connect" in them would make the failure look transient.
_REFUSED_FOR_GOOD = (
    "does not exist", "authentication failed", "no pg_hba.conf entry", "permission denied",
    "no password supplied", "password is required",
)  # fmt: skip


# The server and the connection's TLS settings (extra sslmode...) disagree, for good.
_TLS_REFUSED = ("ssl was required", "does not support ssl", "certificate", "ssl error",
                "sslmode value")  # fmt: skip


def classify(error: Exception, connection_id: str, uri: str) -> Exception:
    state = getattr(error, "sqlstate", None) or ""
    text = str(error).replace(uri, without_credentials(uri))
    message = f"connection {connection_id} (postgres): {text.strip()}"
    lowered = text.lower()
    if not state and any(words in lowered for words in _TLS_REFUSED):
        fix = "check the connection's extra: sslmode and the certificate files (sslrootcert...)"
        return SourceError(f"{message}; {fix}")
    if not state and any(words in lowered for words in _REFUSED_FOR_GOOD):
        fix = "check the connection's host, port, schema (the database), login and password"
        return SourceError(f"{message}; {fix}")
    unreachable = not state and ("connect" in lowered or "server closed" in lowered)
    if unreachable or (state.startswith(_TRANSIENT_STATES) and state not in _TERMINAL_STATES):
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

    def execute(self, text: str, params: tuple = ()) -> list[tuple]:
        with self._source.errors():
            self._cursor.execute(text, parameters=params or None)
            return self._cursor.fetchall()

    def relation(self, name: str) -> str:
        return quote_table(sql_table_name(name, self._source.connection_id))

    def pushed_column(self, column: str, declared: str, source_type: str) -> str:
        """The SELECT item that brings a column for the type tables.yaml declares: Postgres'
        own text or JSON where ADBC's Arrow form would not be the value (see column_item)."""
        return column_item(column, declared, source_type)

    def query(self, sql: Sql, batch_rows: int = BATCH_ROWS) -> pa.RecordBatchReader:
        """Rows streamed by COPY BINARY; batches are ADBC's (about 16 MB each)."""
        text = self._bind(sql)
        with self._source.errors():
            self._cursor.execute(text)
            reader = self._cursor.fetch_record_batch()
        return pa.RecordBatchReader.from_batches(reader.schema, self._guarded(reader))

    def _guarded(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        """The driver's batches; a failure while streaming comes as pyarrow's OSError
        around libpq's message (the server gone, the backend terminated), still ADBC's."""
        try:
            yield from reader
        except Exception as error:
            raise classify(error, self._source.connection_id, self._source.uri) from None

    def close(self) -> None:
        """End the transaction and the connection, the cursor first (ADBC will not close a
        connection with an open statement, and would complain again when collected)."""
        for step in (self._cursor.close, self._conn.rollback, self._conn.close):
            with self._source.errors(closing=True):
                step()

    def _bind(self, sql: Sql) -> str:
        """The text with each `?` read from a setting the values were just bound to.

        Each query numbers its settings from 1 again: the one before it has been read by
        then, and Postgres 15 takes quadratic time to create new ones (10,000: 15 s).
        """
        text, params = _listed(sql)
        names, values, found = [], [], iter(params)

        def placeholder(match: re.Match) -> str:
            if match.group(0) != "?":
                return match.group(0)  # a quoted name or string: left as it is
            value = next(found)
            if value is None:
                return "NULL"
            names.append(f"ferry.p{len(names) + 1}")
            values.append(_as_text(value))
            return f"(SELECT CAST(current_setting('{names[-1]}') AS {_pg_type(value)}))"

        text = _PLACEHOLDER.sub(placeholder, text)
        for start in range(0, len(names), SETTINGS_PER_STATEMENT):
            chunk = names[start : start + SETTINGS_PER_STATEMENT]
            sets = ", ".join(f"set_config('{name}', ${i}, true)" for i, name in enumerate(chunk, 1))
            self.execute(f"SELECT {sets}", tuple(values[start : start + len(chunk)]))
        return text

    def describe(self, name: str) -> TableShape:
        relation = self.relation(name)  # resolved by Postgres as FROM resolves it
        rows = self.execute(_COLUMNS, (relation,))
        if not rows:
            raise SourceError(f"connection {self._source.connection_id}: no table {name}")
        keys = [column for (column,) in self.execute(_PRIMARY_KEY, (relation,))]
        columns = {column: ferry_type(kind, udt) for column, kind, udt in rows}
        sources = {column: udt for column, _, udt in rows}
        return TableShape(columns, keys[0] if len(keys) == 1 else None, sources)

    def tables(self, schema: str | None = None) -> list[str]:
        rows = self.execute(_TABLES, (schema or "",))
        return [f"{found}.{table}" if schema else table for found, table in rows]


# information_schema keeps numeric precision in its own columns; format_type spells the
# type as Postgres would (numeric(38,10), character varying(20), integer[]). to_regclass
# finds the table as a query's FROM does (the search path for an unqualified name), or
# gives NULL: no rows.
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""
_PRIMARY_KEY = """
SELECT a.attname
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indisprimary AND i.indrelid = to_regclass($1)"""
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


_TEXT_TYPES = ("text", "varchar", "bpchar", "name")
_JSON_TYPES = ("json", "jsonb")
_TEMPORAL_TYPES = ("date", "timestamp", "timestamptz")


def column_item(column: str, declared: str, pg_type: str) -> str:
    """A column as the declared type needs it, quoted and named as itself.

    ADBC decodes some types in ways that are not the value: arrays lose their rank ({{1,2},
    {3,4}} comes flat) and keep jsonb and numeric elements as text, uuid comes as 16 raw
    bytes, numeric's NaN as nan, and infinite dates and timestamps as dates 290,000 years
    ago. So Postgres writes those itself: a JSON column is its JSON (to_json of an array, of
    any rank, is a JSON array), a VARCHAR or UUID column its text (numeric's exact digits, a
    uuid's hex form), in the "C" collation: DuckDB orders text by its bytes, and a text key in
    another collation (en_US, ICU) would come out of order and be read again to sort it; an
    infinite date or timestamp is null, as DuckDB's are in every format
    (ferry.engine.formats); every other type comes as it is.
    """
    name = quote(column)
    if pg_type in _TEMPORAL_TYPES:
        return f"CASE WHEN isfinite({name}) THEN {name} END AS {name}"
    if declared == "VARCHAR":  # in DuckDB's order (bytes), so a text key comes sorted once
        text = name if pg_type in _TEXT_TYPES else f"CAST({name} AS TEXT)"
        return f'{text} COLLATE "C" AS {name}'
    if pg_type in _TEXT_TYPES or declared not in ("JSON", "UUID"):
        return name
    if declared == "JSON" and pg_type not in _JSON_TYPES:
        return f"CAST(to_json({name}) AS TEXT) AS {name}"
    return f"CAST({name} AS TEXT) AS {name}"


@dataclass(frozen=True)
class _Listed:
    """The values of one IN list, bound as one text[] setting."""

    values: tuple


def _listed(sql: Sql) -> tuple[str, list]:
    """Each IN list of bound values as one bound array: `IN (SELECT CAST(v AS T) FROM
    unnest(?) AS v)` means the same, is planned in a moment and hashed (10,000 ids one by
    one took the planner seconds and 10,000 settings), and stays one setting per list."""
    params, bound = iter(sql.params), []

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token == "?":
            bound.append(next(params))
            return token
        if match.group("type") is None:
            return token  # a quoted name or string
        bound.append(_Listed(tuple(next(params) for _ in range(token.count("?")))))
        return f"IN (SELECT CAST(v AS {match.group('type')}) FROM unnest(?) AS v)"

    return _IN_LIST.sub(replace, sql.text), bound


def _pg_type(value: object) -> str:
    if isinstance(value, _Listed):
        return "TEXT[]"
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
    if isinstance(value, _Listed):  # an array literal: each element quoted, NULL unquoted
        items = (
            "NULL" if item is None
            else '"' + _as_text(item).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for item in value.values
        )  # fmt: skip
        return "{" + ",".join(items) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


# libpq settings a connection's extra may carry; others (options: any server setting,
# passfile, service, host overrides) are refused rather than silently ignored.
LIBPQ_EXTRAS = (
    "sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name",
    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
    "target_session_attrs",
)  # fmt: skip
# a server that never answers fails in seconds, and a dead peer is noticed mid-read
LIBPQ_DEFAULTS = {"connect_timeout": "10", "keepalives": "1"}


def libpq_settings(extra: Mapping[str, object], connection_id: str) -> dict[str, str]:
    """The libpq settings of a connection's extra, over the defaults; SourceError for a
    key Ferry does not pass on, or a value that is not a string or number."""
    settings = dict(LIBPQ_DEFAULTS)
    for key, value in extra.items():
        if key not in LIBPQ_EXTRAS:
            raise SourceError(
                f"connection {connection_id} (postgres): extra {key!r} is not passed to the "
                f"server; remove it (Ferry passes {', '.join(LIBPQ_EXTRAS)})"
            )
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise SourceError(
                f"connection {connection_id} (postgres): extra {key!r} must be a string or a "
                f"number, not {type(value).__name__}"
            )
        settings[key] = str(value)
    return settings


def postgres_uri(
    host: str, port: int | None, login: str, password: str, database: str,
    settings: Mapping[str, str] | None = None,
) -> str:  # fmt: skip
    """A libpq URI from a connection's fields and libpq settings, each part escaped."""
    auth = url_quote(login or "", safe="")
    if password:
        auth += ":" + url_quote(password, safe="")
    netloc = f"{auth}@{host}" if auth else host
    uri = f"postgresql://{netloc}:{port or 5432}/{url_quote(database or '', safe='')}"
    if settings:
        uri += "?" + urlencode(settings, quote_via=url_quote, safe="")
    return uri
