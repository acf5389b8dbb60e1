"""Text formats' lines rendered in C from typed Arrow columns, instead of in DuckDB's SQL.

Building each CSV line in SQL (CASE, contains, replace and concat per field, strftime per
timestamp) cost DuckDB about as much CPU as reading the rows. Here DuckDB hands over the
typed columns, and csv_lines.c writes the lines formats.csv_line would have written, byte
for byte, into one large_string Arrow array per batch: the writers take it as they take
DuckDB's line column. Integers, booleans, decimals, dates and timestamps are rendered
from their values; every other type is cast to text in SQL as formats.iso_text does (a
double's shortest form, HUGEINT, JSON, UUID, TIME, BLOB) and only quoted and guarded in C.

for_format is the hook for every text format: its formats.NativeLines (the select's items
and the function making a batch's lines), or None where the format has no native renderer
(_MAKERS), the library is not built, or FERRY_NATIVE_LINES=off; the SQL of
formats.line_sql is then the renderer, and it stays the reference the C output is tested
against (tests/unit/engine/test_lines_native.py). scripts/setup builds the library.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from ferry.column_types import base_type
from ferry.engine import formats, json_lines_native, native
from ferry.spec.models import Format
from ferry.sql import quote

SOURCE = Path(__file__).with_name("csv_lines.c")
LIBRARY = Path(__file__).with_name("_csv_lines.so")
SWITCH = "FERRY_NATIVE_LINES"
# the types C renders from their values; the others reach it as formats.iso_text's text
NATIVE_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
    "UBIGINT", "INT", "INT4", "INT8", "BOOLEAN", "BOOL", "DATE", "TIMESTAMP", "DATETIME",
    "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE", "DECIMAL",
    "NUMERIC",
)  # fmt: skip

# csv_lines.c's column kinds and flags
TEXT, PLAIN, BOOL, DATE32, TIMESTAMP, DECIMAL128 = 0, 1, 10, 11, 12, 13
_INTEGER_KINDS = {
    pa.int8(): 2, pa.int16(): 3, pa.int32(): 4, pa.int64(): 5,
    pa.uint8(): 6, pa.uint16(): 7, pa.uint32(): 8, pa.uint64(): 9,
}  # fmt: skip
FLAG_LARGE, FLAG_GUARD = 1, 2


def for_format(fmt: Format, fields: list[formats.Field]) -> formats.NativeLines | None:
    """The format's native renderer for these fields, or None to render lines in SQL."""
    if native.switched_off(SWITCH):
        return None
    maker = _MAKERS.get(fmt.type)
    return maker(fmt, fields) if maker else None


def csv_lines(fmt: Format, fields: list[formats.Field]) -> formats.NativeLines | None:
    """CSV or TSV lines: formats.csv_line's rules (and the formula guard's) in C."""
    if _library() is None:
        return None
    guard = bool(fmt.formula_guard)
    items, flags = [], []
    for field in fields:
        native = not field.hex_only and base_type(field.type) in NATIVE_TYPES
        text = quote(field.alias) if native else formats.iso_text(field.alias, field.type)
        items.append(f"{text} AS {quote(field.alias)}")
        plain = native or formats.needs_no_quoting(field)
        flags.append(None if plain else (FLAG_GUARD if guard else 0))
    delimiter = ord("," if fmt.type == "csv" else "\t")
    return formats.NativeLines(
        items, functools.partial(render_csv, flags=tuple(flags), delimiter=delimiter)
    )


_MAKERS: dict[str, Callable[[Format, list[formats.Field]], formats.NativeLines | None]] = {
    "csv": csv_lines,
    "tsv": csv_lines,
    "json": json_lines_native.json_lines,
    "jsonl": json_lines_native.json_lines,
}


def available() -> bool:
    """True when the C library is built, current and not switched off."""
    if native.switched_off(SWITCH):
        return False
    return _library() is not None


class _Column(ctypes.Structure):
    """csv_lines.c's ferry_column: one Arrow array's buffers."""

    _fields_ = [
        ("kind", ctypes.c_int32),
        ("flags", ctypes.c_int32),
        ("offset", ctypes.c_int64),
        ("validity", ctypes.c_void_p),
        ("values", ctypes.c_void_p),
        ("data", ctypes.c_void_p),
    ]


@functools.cache
def _library() -> ctypes.CDLL | None:
    library = native.load(SOURCE, LIBRARY, "CSV lines are rendered in SQL, more slowly")
    if library is None:
        return None
    columns = ctypes.POINTER(_Column)
    library.ferry_csv_bound.argtypes = [columns, ctypes.c_int32, ctypes.c_int64]
    library.ferry_csv_bound.restype = ctypes.c_int64
    library.ferry_csv_lines.argtypes = [
        columns, ctypes.c_int32, ctypes.c_int64, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    library.ferry_csv_lines.restype = ctypes.c_int64
    return library


def render_csv(
    batch: pa.RecordBatch, *, flags: tuple[int | None, ...], delimiter: int
) -> pa.RecordBatch:
    """The batch's CSV lines; flags per column: None for a field never quoted, else the
    quoting flags of a text field (FLAG_GUARD: formula-guarded)."""
    rows, count = batch.num_rows, batch.num_columns
    arrays = [_described(column) for column in batch.columns]
    columns = (_Column * max(1, count))()
    for index, ((kind, array), flag) in enumerate(zip(arrays, flags, strict=True)):
        columns[index] = _column(array, kind, flag)
    library = _library()
    # The lines go in a mapping of their own, sized to the bound (~1.7x what they take):
    # pages past the end are never touched, so never resident, and it is unmapped as soon
    # as the file has the batch. From Arrow's mimalloc or glibc's malloc, the freed buffers
    # stayed resident: 25-50 MiB more peak RSS at 10M rows, growing with the table.
    bound = library.ferry_csv_bound(columns, count, rows)
    data = pa.py_buffer(mmap.mmap(-1, max(1, bound)))
    offsets = pa.allocate_buffer(8 * (rows + 1), memory_pool=pa.system_memory_pool())
    used = library.ferry_csv_lines(columns, count, rows, delimiter, data.address, offsets.address)
    data = data.slice(0, used)
    lines = pa.Array.from_buffers(pa.large_string(), rows, [None, offsets, data])
    return pa.record_batch([lines], names=[formats.LINE_COLUMN])


def _described(array: pa.Array) -> tuple[int, pa.Array]:
    """The array's kind for csv_lines.c, and the array in a layout it reads."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return TEXT, array
    if pa.types.is_string_view(kind) or pa.types.is_null(kind):
        return TEXT, array.cast(pa.large_string())
    if kind in _INTEGER_KINDS:
        return _INTEGER_KINDS[kind], array
    if pa.types.is_boolean(kind):
        return BOOL, array
    if pa.types.is_date32(kind):
        return DATE32, array
    if pa.types.is_timestamp(kind) and kind.unit == "us":
        return TIMESTAMP, array
    if pa.types.is_decimal128(kind) and 0 <= kind.scale <= kind.precision:
        return DECIMAL128, array  # other scales (never DuckDB's) overrun the 42 bytes bound
    raise TypeError(f"CSV lines in C: no rendering for Arrow type {kind}")


def _column(array: pa.Array, kind: int, flag: int | None) -> _Column:
    buffers = array.buffers()
    validity = buffers[0].address if buffers[0] is not None and array.null_count else None
    values = buffers[1].address if len(buffers) > 1 and buffers[1] is not None else None
    data = buffers[2].address if len(buffers) > 2 and buffers[2] is not None else None
    flags = 0
    if kind == DECIMAL128:
        flags = array.type.scale << 8 | array.type.precision << 16
    if kind == TEXT:
        kind = PLAIN if flag is None else TEXT
        flags = (flag or 0) | (FLAG_LARGE if pa.types.is_large_string(array.type) else 0)
    return _Column(kind, flags, array.offset, validity, values, data)
