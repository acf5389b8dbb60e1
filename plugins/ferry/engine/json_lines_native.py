"""JSON and JSONL lines rendered in C (json_lines.c) from the typed Arrow columns.

DuckDB building each row's object in SQL (to_json of a struct) cost more CPU than
producing the rows. Here DuckDB reads the fields typed (native_value), and one C call per
batch writes the same bytes as formats.line_sql: strings, integers, booleans, dates,
timestamps and DECIMALs of up to 15 digits in C; the rest (doubles, UUID, BLOB, TIME) as
JSON text DuckDB renders per value with to_json, pasted as it is. The result is the
"line" column the writers take, so nothing after it changes. ctypes lets go of the GIL
for the C call, so rendering runs beside DuckDB and the writer.

scripts/setup builds the library; without it (no C compiler, or FERRY_NATIVE_JSON=off)
the SQL form renders the lines, the same bytes more slowly. Pretty JSON stays in SQL.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np
import pyarrow as pa

from ferry.column_types import (
    DECIMAL_TYPES,
    INTEGER_RANGES,
    INTEGER_TYPES,
    base_type,
    canonical_type,
)
from ferry.engine import native
from ferry.engine.formats import (
    LINE_COLUMN,
    Field,
    NativeLines,
    is_temporal,
    json_as_text,
    json_value,
)
from ferry.spec.models import Format
from ferry.sql import quote

SOURCE = Path(__file__).with_name("json_lines.c")
LIBRARY = Path(__file__).with_name("_json_lines.so")
_TYPED = ("BOOLEAN", "VARCHAR", *INTEGER_TYPES)  # read as they are, rendered in C
# json_lines.c's enum kind
STRING32, STRING64, RAW32, RAW64, BOOL = range(5)
_INTEGER_KINDS = {
    pa.int8(): 5, pa.int16(): 6, pa.int32(): 7, pa.int64(): 8,
    pa.uint8(): 9, pa.uint16(): 10, pa.uint32(): 11, pa.uint64(): 12,
}  # fmt: skip
DATE32, TIMESTAMP_US, DECIMAL128 = 13, 14, 15
_TYPEOF_NAMES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}  # DuckDB's typeof() spelling
DECIMAL_DIGITS = 15  # wider ones are JSON strings (formats.json_as_text)
_NAMED_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
_LINE_ENDS = {"jsonl": (b"", b"}\n"), "json": (b",\n", b"}")}  # formats.line_sql's


class _Column(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32),
        ("scale", ctypes.c_int32),
        ("validity", ctypes.c_void_p),
        ("offset", ctypes.c_int64),
        ("values", ctypes.c_void_p),
        ("chars", ctypes.c_void_p),
        ("name", ctypes.c_char_p),
        ("name_len", ctypes.c_int64),
    ]


def available() -> bool:
    """True when the C library is built, current and not switched off."""
    if native.switched_off("FERRY_NATIVE_JSON"):
        return False
    return _library() is not None


def json_lines(fmt: Format, fields: list[Field]) -> NativeLines | None:
    """lines_native's maker for json (not pretty) and jsonl; None: formats.line_sql renders."""
    if not applies(fmt.type, bool(fmt.pretty)):
        return None
    lines = functools.partial(render, fields=fields, format_type=fmt.type)
    return NativeLines(native_items(fields), lines)


def applies(format_type: str, pretty: bool = False) -> bool:
    """Whether lines of this format are rendered here (JSON and JSONL, not pretty)."""
    return format_type in _LINE_ENDS and not pretty and available()


@functools.cache
def _library() -> ctypes.CDLL | None:
    library = native.load(SOURCE, LIBRARY, "JSON lines are rendered in SQL, more slowly")
    if library is None:
        return None
    library.ferry_json_lines.argtypes = [
        ctypes.POINTER(_Column), ctypes.c_int32, ctypes.c_int64,
        ctypes.c_char_p, ctypes.c_int64, ctypes.c_char_p, ctypes.c_int64,
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int64),
    ]  # fmt: skip
    library.ferry_json_lines.restype = ctypes.c_int64
    library.ferry_json_free.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    library.ferry_json_free.restype = None
    return library


def _pasted(field: Field) -> bool:
    """Whether DuckDB renders the field's JSON text (to_json) and C pastes it."""
    base = base_type(field.type)
    if is_temporal(field.type) or base in _TYPED or json_as_text(field.type):
        return False
    return base not in DECIMAL_TYPES  # narrow ones: json_as_text took the wide


def native_value(field: Field) -> str:
    """SQL: the field as the C renderer reads it (typed, a string, or its JSON text)."""
    column = quote(field.alias)
    if _pasted(field):
        return f"to_json({json_value(field)})"
    if json_as_text(field.type):
        return json_value(field)  # its text, a JSON string
    return column  # dates and timestamps too: C writes their ISO text from the numbers


def _typed(field: Field) -> bool:
    return not _pasted(field) and not json_as_text(field.type)


def stored_otherwise(field: Field) -> str:
    """SQL, for a field C reads typed: null when the column holds the declared type (or one
    C renders as the SQL does), else the field's JSON text, which C then pastes.

    A DuckDB table is read as it is stored, not cast to the declared types (a VARCHAR
    declared over an INTEGER or a TIMESTAMP column), and formats.json_value renders the
    stored value. typeof is known when DuckDB plans the query, so where the types agree
    this is a constant null column.
    """
    base, column = base_type(field.type), quote(field.alias)
    if base in INTEGER_TYPES:
        names = tuple(name for name in INTEGER_RANGES if name != "HUGEINT")
    else:
        canonical = canonical_type(field.type)
        names = (_TYPEOF_NAMES.get(canonical, canonical),)
    listed = ", ".join(f"'{name}'" for name in names)  # constants of this module
    return f"CASE WHEN typeof({column}) NOT IN ({listed}) THEN to_json({json_value(field)}) END"


def native_items(fields: list[Field]) -> list[str]:
    """SQL: the select's items, native_value of every field under its alias, in order;
    after a typed field, its stored_otherwise under the alias + _json."""
    items = []
    for field in fields:
        items.append(f"{native_value(field)} AS {quote(field.alias)}")
        if _typed(field):
            items.append(f"{stored_otherwise(field)} AS {quote(field.alias + '_json')}")
    return items


def native_select(fields: list[Field]) -> str:
    return ", ".join(native_items(fields))


def escaped(text: str) -> str:
    """text as a JSON string, escaped as DuckDB's to_json does (its keys too)."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20:
            out.append(_NAMED_ESCAPES.get(char) or f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def render(batch: pa.RecordBatch, fields: list[Field], format_type: str) -> pa.RecordBatch:
    """The batch's rows (native_select's columns) as the line column formats.line_sql gives."""
    expected = len(fields) + sum(_typed(field) for field in fields)
    if batch.num_columns != expected:
        raise ValueError(f"{batch.num_columns} columns for {expected} of JSON fields")
    lead, tail = _LINE_ENDS[format_type]
    columns = (_Column * len(fields))()
    held = []  # the arrays and names the C call reads: alive until it returns
    arrays = iter(batch.columns)
    for index, field in enumerate(fields):
        array, pasted = next(arrays), _pasted(field)
        if _typed(field):
            otherwise = next(arrays)
            if otherwise.null_count < len(otherwise):  # stored as another type: its text
                array, pasted = otherwise, True
        name = (("{" if index == 0 else ",") + escaped(field.name) + ":").encode("utf-8")
        array = _column(columns[index], array, pasted, field)
        columns[index].name, columns[index].name_len = name, len(name)
        held += [array, name]
    return _call(columns, batch.num_rows, lead, tail)


def _call(columns, count: int, lead: bytes, tail: bytes) -> pa.RecordBatch:
    library = _library()
    offsets = np.empty(count + 1, dtype=np.int64)
    data, capacity = ctypes.c_void_p(), ctypes.c_int64()
    size = library.ferry_json_lines(
        columns, len(columns), count, lead, len(lead), tail, len(tail),
        offsets.ctypes.data, ctypes.byref(data), ctypes.byref(capacity),
    )  # fmt: skip
    if size < 0:
        raise MemoryError(f"rendering {count:,} JSON lines ran out of memory")
    buffer = pa.foreign_buffer(data.value, size, base=_Freed(data.value, capacity.value))
    lines = pa.Array.from_buffers(pa.large_string(), count, [None, pa.py_buffer(offsets), buffer])
    return pa.RecordBatch.from_arrays([lines], names=[LINE_COLUMN])


class _Freed:
    """Unmaps the C buffer when the Arrow buffer over it goes."""

    def __init__(self, address: int, capacity: int):
        self.address, self.capacity = address, capacity
        self._free = _library().ferry_json_free  # kept: module globals go at interpreter exit

    def __del__(self):
        self._free(self.address, self.capacity)


def _column(column: _Column, array: pa.Array, pasted: bool, field: Field) -> pa.Array:
    """Fill column from array (cast to a layout C reads when needed); returns what C reads."""
    kind_of = array.type
    if array.null_count == len(array):  # whatever its type (stored_otherwise): nulls
        array, kind_of = pa.nulls(len(array), pa.large_string()), pa.large_string()
    if pa.types.is_string_view(kind_of):
        array, kind_of = array.cast(pa.large_string()), pa.large_string()
    buffers = array.buffers()
    column.validity = buffers[0].address if buffers[0] is not None and array.null_count else None
    column.offset = array.offset
    column.values = buffers[1].address if buffers[1] is not None else None
    if pa.types.is_string(kind_of) or pa.types.is_large_string(kind_of):
        large = pa.types.is_large_string(kind_of)
        column.kind = (RAW64 if large else RAW32) if pasted else (STRING64 if large else STRING32)
        column.chars = buffers[2].address if buffers[2] is not None else None
    elif pasted:
        raise ValueError(f"JSON field {field.name!r}: expected DuckDB's JSON text, got {kind_of}")
    else:
        column.kind, column.scale = _kind(kind_of, field)
    return array


def _kind(kind_of: pa.DataType, field: Field) -> tuple[int, int]:
    if pa.types.is_boolean(kind_of):
        return BOOL, 0
    if kind_of in _INTEGER_KINDS:
        return _INTEGER_KINDS[kind_of], 0
    if pa.types.is_date32(kind_of):
        return DATE32, 0
    if pa.types.is_timestamp(kind_of) and kind_of.unit == "us":
        return TIMESTAMP_US, 0
    if (
        pa.types.is_decimal128(kind_of)
        and 0 <= kind_of.scale <= kind_of.precision <= DECIMAL_DIGITS
    ):
        return DECIMAL128, kind_of.scale
    raise ValueError(
        f"JSON field {field.name!r} ({field.type}) arrived as Arrow {kind_of}, which the C "
        "renderer does not read; set FERRY_NATIVE_JSON=off and report it"
    )
