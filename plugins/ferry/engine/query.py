"""The worker's queries, built from the plan, and the key-ordered read of a whole export.

Rows leave in key order. Sorting a whole large result would hold it in memory (or spill),
so an integer key's range is cut into slices of about SLICE_ROWS rows, each read with its
own small ORDER BY; DuckDB skips the row groups outside a slice by their min/max, so a
table stored roughly in key order is read once overall (a Postgres source gets the slice
pushed down and reads it by its primary key's index). Memory is bounded by DuckDB's
memory limit and by evicting its block cache between slices (ferry.engine.read).

A source read through a pushed query (Postgres) sends each slice ORDER BY the key, but
the worker's DuckDB, scanning that Arrow stream on several threads, does not keep its order
(measured: a slice's last rows came first). So such a slice is read from the source once
and sorted by the worker (ORDER BY, spilling past the memory limit), never held in Python
to check it, nor read again.

Most tables are stored in key order already (rows arrive with rising ids), and sorting
then costs a sixth of an export's time for nothing. So a slice is first read as stored
(DuckDB keeps the insertion order) and its keys checked; only when they are out of order,
or the slice is too big to hold, is it read again with ORDER BY, and so are the slices
after it. The bytes written are the same either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ferry.engine import formats, pii
from ferry.plan import ExportPlan
from ferry.sql import Sql, quote

SLICE_ROWS = 200_000
BATCH_ROWS = 65_536
STORED_ORDER_MAX_BYTES = 64 << 20  # what one slice read as stored may hold before sorting
KEY_ALIAS = "__ferry_key"


@dataclass(frozen=True)
class Stats:
    rows: int
    low: object = None
    high: object = None


@dataclass(frozen=True)
class Relation:
    """What the worker's SELECT reads: FROM text, and the WHERE still to apply there."""

    text: str
    where: Sql
    params: tuple = ()  # bound to the ? of text


def in_place(plan: ExportPlan) -> Relation:
    """The plan's table read where it is (a DuckDB file), its row filter applied there."""
    return rows_in(plan, plan.dialect.table(plan.source_table))


def rows_in(plan: ExportPlan, table: str) -> Relation:
    """The export's rows in table (FROM text): the rows its filter chooses, or a report's
    groups of them."""
    if plan.report is None:
        return Relation(table, plan.where)
    grouped = plan.report.grouped(table, plan.where)
    return Relation(grouped.text, Sql("TRUE"), grouped.params)


def order_key(plan: ExportPlan) -> str:
    """What orders the rows: the table's key, or a report's position of its groups."""
    return plan.report.order_key if plan.report else quote(plan.key)


def typed_select(plan: ExportPlan, pii_key: bytes | None, relation: Relation | None = None) -> Sql:
    """The export's columns, PII applied, aliased c0..cn, plus the key for ordering."""
    relation = relation or in_place(plan)
    parts = [_as_declared(plan, column, pii.pii_sql(column, pii_key)) for column in plan.columns]
    items = [f"{part.text} AS {quote(f'c{i}')}" for i, part in enumerate(parts)]
    items.append(f"{order_key(plan)} AS {quote(KEY_ALIAS)}")
    params = tuple(param for part in parts for param in part.params) + relation.params
    text = f"SELECT {', '.join(items)} FROM {relation.text} WHERE ({relation.where.text})"
    return Sql(text, params + tuple(relation.where.params))


def _as_declared(plan: ExportPlan, column, part: Sql) -> Sql:
    """A column sent as it is, with the type tables.yaml declares for it.

    A DuckDB table is read as stored, and a stored type other than the declared one must
    not reach the writers, which render by the declared type (text stored under an INTEGER
    would be written unquoted). DuckDB drops a cast to the type a column already has; a
    value the declared type cannot hold fails the read, naming the table (read.Reader).
    A report's columns are its own SQL's, typed there.
    """
    if plan.report is not None or column.pii is not None or pii.derived_from(column):
        return part
    return Sql(f"CAST({part.text} AS {column.type})", part.params)


def output_types(plan: ExportPlan) -> list[str]:
    return [pii.output_type(column) for column in plan.columns]


def output_select(plan: ExportPlan, pii_key: bytes | None, relation: Relation | None = None) -> Sql:
    """What the writers read: one line column for text formats, typed columns for parquet."""
    inner = typed_select(plan, pii_key, relation)
    return formatted_select(plan, inner, formats.fields_of(plan.columns, output_types(plan)))


def formatted_select(
    plan: ExportPlan,
    inner: Sql,
    fields: list[formats.Field],
    lines: formats.NativeLines | None = None,
) -> Sql:
    """The typed rows of inner (fields' aliases, and the key) as the writers read them.

    With lines (ferry.engine.lines_native), what its renderer reads instead of the lines.
    """
    source, key = inner.text, quote(KEY_ALIAS)
    fmt = plan.format
    if lines is not None:
        items = ", ".join(lines.items)
    elif fmt.type in formats.TEXT_TYPES:
        if fmt.formula_guard:
            guarded, fields = formats.guarded(fields)
            source = f"SELECT {guarded}, {key} FROM ({source}) AS typed"
        items = f"{formats.line_sql(fmt.type, fields, fmt.pretty)} AS {formats.LINE_COLUMN}"
    else:
        items = ", ".join(f"{formats.parquet_value(f)} AS {quote(f.name)}" for f in fields)
    return Sql(f"SELECT {items}, {key} FROM ({source}) AS rows", inner.params)


def key_slices(found: Stats, slice_rows: int | None = None) -> list[tuple]:
    """Key bounds (low, high), inclusive, covering the rows; None is an open end.

    The first and last slices are open, so rows written since the count are not lost.
    A key that is not an integer gets one open slice.
    """
    slice_rows = slice_rows or SLICE_ROWS
    integer_key = isinstance(found.low, int) and not isinstance(found.low, bool)
    if not integer_key or found.rows <= slice_rows:
        return [(None, None)]
    count = math.ceil(found.rows / slice_rows)
    width = math.ceil((found.high - found.low + 1) / count)
    lows = list(range(found.low, found.high + 1, width))
    highs = [low - 1 for low in lows[1:]]
    return list(zip([None, *lows[1:]], [*highs, None], strict=True))


def sliced_query(
    select: Sql, bounds: tuple = (None, None), limit: int | None = None, *, ordered: bool = True
) -> Sql:
    """The select restricted to one key slice, ordered by the key, without the key column.

    ordered=False: as stored, and with the key column last, for checking the order.
    """
    key = quote(KEY_ALIAS)
    conditions = [f"{key} >= ?", f"{key} <= ?"]
    kept = [
        (text, bound) for text, bound in zip(conditions, bounds, strict=True) if bound is not None
    ]
    where = " AND ".join(text for text, _ in kept) or "TRUE"
    text = f"SELECT * EXCLUDE ({key}) FROM ({select.text}) AS q WHERE {where} ORDER BY {key}"
    if not ordered:
        text = f"SELECT * FROM ({select.text}) AS q WHERE {where}"
    if limit is not None:
        text += f" LIMIT {int(limit)}"
    return Sql(text, select.params + tuple(bound for _, bound in kept))


def read_batches(
    reader, select: Sql, slices: list[tuple], batch_rows: int | None = None
) -> Iterator[pa.RecordBatch]:
    """Arrow batches of every slice in key order, streamed by DuckDB.

    Args:
        reader: The run's read (ferry.engine.read.Reader).
    """
    batch_rows = batch_rows or BATCH_ROWS
    stored_in_order = True  # until a slice shows otherwise
    for bounds in slices:
        if reader.source_ordered:  # one read from the source, sorted by the worker's DuckDB
            yield from reader.rows(sliced_query(select, bounds), bounds, batch_rows=batch_rows)
            reader.evict()
            continue
        batches = _as_stored(reader, select, bounds, batch_rows) if stored_in_order else None
        stored_in_order = batches is not None
        if batches is None:
            batches = reader.rows(sliced_query(select, bounds), bounds, batch_rows=batch_rows)
        yield from batches
        reader.evict()


def _as_stored(reader, select: Sql, bounds: tuple, batch_rows: int) -> list[pa.RecordBatch] | None:
    """The slice's batches read without sorting, or None when its keys are out of order."""
    query = sliced_query(select, bounds, ordered=False)
    batches, held, last = [], 0, None
    for batch in reader.rows(query, bounds, batch_rows=batch_rows):
        keys = batch.column(batch.num_columns - 1)
        held += batch.nbytes
        if keys.null_count or held > STORED_ORDER_MAX_BYTES:
            return None
        if len(keys) and (not _rising(keys) or (last is not None and _below(keys[0], last))):
            return None
        last = keys[len(keys) - 1] if len(keys) else last
        batches.append(batch.drop_columns([KEY_ALIAS]))
    return batches


# Arrow's kernels, not to_numpy: its first call imports pandas (~0.5 s of the extract's CPU)
def _rising(keys: pa.Array) -> bool:
    """Keys never go down (keys are unique, so ties only come from a broken contract)."""
    later, earlier = keys.slice(1), keys.slice(0, len(keys) - 1)
    return len(keys) < 2 or bool(pc.all(pc.greater_equal(later, earlier)).as_py())


def _below(key: pa.Scalar, last: pa.Scalar) -> bool:
    return bool(pc.less(key, last).as_py())


def result_schema(reader, select: Sql) -> pa.Schema:
    """The output schema, known even when no row matches."""
    return reader.rows(sliced_query(select, limit=0), limit=0).read_all().schema
