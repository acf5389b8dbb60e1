"""An export's rows from its source: one snapshot, and the DuckDB that shapes the rows.

DuckDB files and folders of files are read in place: the worker's DuckDB reads the table
itself, filters and PII in one query. Other sources (Postgres) get the row choice pushed
down in their own dialect (columns, filters, segment rules, ids, the key slice, its order)
and stream Arrow batches into the worker's DuckDB, which applies PII and formats exactly
as for a DuckDB file, so the same export writes the same bytes from any source and the
HMAC key never leaves the worker.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from ferry.engine import hmac_native
from ferry.engine.query import BATCH_ROWS, Relation, Stats, rows_in
from ferry.plan import ExportPlan
from ferry.sources import Snapshot, Source, SourceError, as_source
from ferry.sources.duckdb_file import MEMORY_LIMIT, open_duckdb
from ferry.sql import Sql, quote

EVICT_LIMIT = "16MB"
ARROW_NAME = "__ferry_arrow"  # the registered stream of one pushed-down read
ROWS_VIEW = "__ferry_rows"  # the stream with tables.yaml's types, what the worker reads
NESTED = (pa.types.is_list, pa.types.is_large_list, pa.types.is_struct, pa.types.is_map)


class Reader:
    """One run's read: a snapshot of the source and the worker's DuckDB connection."""

    def __init__(self, plan: ExportPlan, snapshot: Snapshot, con: duckdb.DuckDBPyConnection):
        self.plan, self.snapshot, self.con = plan, snapshot, con
        self.in_place = snapshot.worker is not None
        # a pushed read sends rows ORDER BY the key (not a report's: the worker orders those)
        self.source_ordered = not self.in_place and plan.report is None
        self._failure: Exception | None = None  # the source stream's, see _recorded
        for name in plan.tables_read:  # a files source makes each table's view on first use
            if self.in_place:  # read where it is, typed there (CSV files carry no types)
                snapshot.relation(name, plan.read_types.get(name))
            else:  # the pushed-down stream is typed on the worker, by _load
                snapshot.relation(name)
        if self.in_place:
            self.relation = rows_in(plan, snapshot.relation(plan.source_table))
        else:
            self.relation = Relation(quote(ROWS_VIEW), Sql("TRUE"))
            self.source_types = snapshot.describe(plan.source_table).source_types

    def narrowed(self, where: Sql) -> Reader:
        """The same read (snapshot, connection, source types) of the rows where also chooses:
        one chunk_by period. Nothing is asked of the source again."""
        narrowed = copy.copy(self)
        narrowed.plan = dataclasses.replace(self.plan, where=Sql.join([self.plan.where, where]))
        if self.in_place:
            table = self.snapshot.relation(self.plan.source_table)
            narrowed.relation = rows_in(narrowed.plan, table)
        return narrowed

    def stats(self) -> Stats:
        """Row count and key bounds of the export's rows, in one scan, in the source."""
        key, plan = quote(self.plan.key), self.plan
        rows = rows_in(plan, self.snapshot.relation(plan.source_table))
        # a report is read in one slice: it needs no key bounds
        items = "count(*)" if plan.report else f"count(*), min({key}), max({key})"
        text = f"SELECT {items} FROM {rows.text} WHERE {rows.where.text}"
        with self._source_failures():  # a report's groups are cast to the declared types
            found = self.snapshot.query(Sql(text, rows.params + rows.where.params)).read_all()
        self.evict()  # the scan cached the whole table's key and filter columns
        return Stats(*(column[0].as_py() for column in found.columns))

    def rows(
        self, select: Sql, bounds: tuple = (None, None), limit: int | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> pa.RecordBatchReader:  # fmt: skip
        """Stream the worker's select; bounds and limit must be the ones it applies."""
        if not self.in_place:
            self._load(bounds, limit)
        with self._source_failures():
            reader = self.con.sql(select.text, params=list(select.params)).to_arrow_reader(
                batch_rows
            )
        return pa.RecordBatchReader.from_batches(reader.schema, self._surfaced(reader))

    def _load(self, bounds: tuple, limit: int | None) -> None:
        """Register one pushed-down read as the view the worker's select reads."""
        pushed = pushed_query(self.plan, self.snapshot, bounds, limit, self.source_types)
        stream = _plain(self.snapshot.query(pushed))
        self._failure = None
        self.con.register(ARROW_NAME, self._recorded(stream))
        casts = ", ".join(
            _cast(field, self.plan.table_types[field.name]) for field in stream.schema
        )
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote(ROWS_VIEW)} AS SELECT {casts} FROM {ARROW_NAME}"
        )

    def _recorded(self, stream: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """The source's stream, its failure kept: DuckDB, which reads it, raises its own
        error in its place, and that would lose the kind (a server gone is transient)."""

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from stream
            except Exception as error:
                self._failure = error
                raise

        return pa.RecordBatchReader.from_batches(stream.schema, batches())

    @contextmanager
    def _source_failures(self) -> Iterator[None]:
        """DuckDB's error over a failed source stream as the source's own error; a value
        the declared type cannot hold as an error that says which table and what to fix."""
        try:
            yield
        except duckdb.Error as error:
            if self._failure is not None:
                raise self._failure from error
            if not isinstance(error, duckdb.ConversionException):
                raise
            raise SourceError(
                f"connection {self.plan.connection}: table {self.plan.source_table}: a value "
                f"{_in_column(error)}does not fit the type tables.yaml declares for its column; "
                "declare the column as the source holds it (VARCHAR keeps any value as its text)"
            ) from None  # DuckDB's message quotes the value: customer data, not for logs

    def _surfaced(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        with self._source_failures():
            yield from reader

    def evict(self) -> None:
        """DuckDB keeps blocks it read cached up to its memory limit; a lower limit evicts
        them (best effort: DuckDB refuses a lower limit while more is pinned)."""
        with contextlib.suppress(duckdb.Error):
            self.con.execute(f"SET memory_limit = '{EVICT_LIMIT}'")
        self.con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")


_SOURCE_COLUMN = re.compile(r"when casting from source column (\w+)")


def _in_column(error: duckdb.Error) -> str:
    """'in column x ' when DuckDB names the column (never the value), else nothing."""
    named = _SOURCE_COLUMN.search(str(error))
    return f"in column {named.group(1)} " if named else ""


def pushed_query(
    plan: ExportPlan, snapshot: Snapshot, bounds: tuple, limit: int | None,
    source_types: dict[str, str] | None = None,
) -> Sql:  # fmt: skip
    """The source's part of the read: the columns used, the row choice, one key slice in
    key order; in the source's dialect. source_types: the table's columns as the source
    types them (describe), which says how each must come (the snapshot's pushed_column).
    A report: its groups, which the worker orders."""
    types = source_types or {}
    if plan.report is not None:  # each group column and metric as its declared type needs it
        rows = rows_in(plan, snapshot.relation(plan.source_table))
        items = [
            pushed_item(snapshot, name, declared, _report_pg_type(plan, name, declared, types))
            for name, declared in plan.table_types.items()
        ]
        return Sql(f"SELECT {', '.join(items)} FROM {rows.text}", rows.params)
    names = [c.source for c in plan.columns]
    wanted = [name for name in plan.table_types if name in names or name == plan.key]
    key, dialect = quote(plan.key), snapshot.dialect
    items = [
        pushed_item(snapshot, name, plan.table_types[name], types.get(name, "")) for name in wanted
    ]
    key_type = dialect.type_name(plan.table_types[plan.key])
    parts, params = [f"({plan.where.text})"], list(plan.where.params)
    for operator, bound in zip((">=", "<="), bounds, strict=True):
        if bound is not None:
            parts.append(f"{key} {operator} CAST(? AS {key_type})")
            params.append(bound)
    text = (
        f"SELECT {', '.join(items)} "
        f"FROM {snapshot.relation(plan.source_table)} WHERE {' AND '.join(parts)} ORDER BY {key}"
    )
    if limit is not None:
        text += f" LIMIT {int(limit)}"
    return Sql(text, tuple(params))


# A report's bucket or metric is no source column: its source type follows from its type
# (a temporal one can be infinite, which must come as NULL, as DuckDB writes it).
_REPORT_PG_TYPES = {"DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamptz"}


def _report_pg_type(plan: ExportPlan, name: str, declared: str, types: dict) -> str:
    """A report column's source type: what a temporal type says, else a group column's own."""
    if declared in _REPORT_PG_TYPES:
        return _REPORT_PG_TYPES[declared]
    return types.get(name, "") if name in plan.report.order else ""


def pushed_item(snapshot: Snapshot, column: str, declared: str, source_type: str) -> str:
    """The SELECT item that brings a column: the snapshot's pushed_column where it has one
    (optional, see Snapshot), else the column as it is."""
    pushed_column = getattr(snapshot, "pushed_column", None)
    if pushed_column is None:
        return quote(column)
    return pushed_column(column, declared, source_type)


def _plain(stream: pa.RecordBatchReader) -> pa.RecordBatchReader:
    """Extension columns (Postgres numeric, json) as their storage, which DuckDB reads."""
    schema = stream.schema
    if not any(isinstance(field.type, pa.BaseExtensionType) for field in schema):
        return stream
    plain = pa.schema([_storage_field(field) for field in schema])

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in stream:
            columns = [_storage(column) for column in batch.columns]
            yield pa.RecordBatch.from_arrays(columns, schema=plain)

    return pa.RecordBatchReader.from_batches(plain, batches())


def _storage_field(field: pa.Field) -> pa.Field:
    if isinstance(field.type, pa.BaseExtensionType):
        return pa.field(field.name, field.type.storage_type, field.nullable)
    return field


def _storage(column: pa.Array) -> pa.Array:
    return column.storage if isinstance(column, pa.ExtensionArray) else column


def _cast(field: pa.Field, declared: str) -> str:
    """A column with the type tables.yaml declares; arrays and records as JSON text."""
    name = quote(field.name)
    if any(is_nested(field.type) for is_nested in NESTED):
        return f"CAST(to_json({name}) AS {declared}) AS {name}"
    return f"CAST({name} AS {declared}) AS {name}"


@contextmanager
def open_reader(plan: ExportPlan, source: Source | Path | str) -> Iterator[Reader]:
    """A consistent read of the plan's table; the worker can hash PII (C HMAC registered)."""
    source = as_source(source)
    if source.dialect != plan.dialect:
        raise ValueError(f"plan in {plan.dialect.name} SQL for a {source.dialect.name} source")
    with source.snapshot() as snapshot:
        worker = snapshot.worker
        with contextlib.nullcontext(worker) if worker is not None else open_duckdb() as con:
            if hmac_native.available():
                hmac_native.register(con)
            yield Reader(plan, snapshot, con)
