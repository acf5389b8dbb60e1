"""How each output format turns the typed, PII-applied columns into SQL and bytes.

Text formats (csv, tsv, json, jsonl) are rendered by DuckDB into one VARCHAR per row, the
whole output line, so the file's bytes are the Arrow string column's value buffer: no
per-row Python work. Parquet takes the typed columns as they are.

CSV and TSV follow RFC 4180: a field is quoted only when it holds the delimiter, a quote,
CR or LF (quotes doubled); an empty string is written as "" so it stays distinct from a
null, which is an empty field. Timestamps are ISO 8601 UTC (2026-01-15T10:30:45Z, with a
fraction only when there is one), dates ISO, decimals plain, booleans true/false.

Values some formats cannot carry as they are (README "Output values"):
- NaN and +/-infinity floats: null in JSON/JSONL (not JSON otherwise); nan, inf, -inf in
  CSV/TSV; as they are in Parquet.
- Infinite dates and timestamps (DuckDB's 'infinity'): null in every format.
- Years outside 0001-9999: ISO 8601 expanded years in text (44 BC is -0043-03-15, 1 BC is
  0000, 12026 is +12026); Parquet keeps the typed value.
- DECIMAL with more than 15 digits and HUGEINT: JSON strings (a double, which is what most
  JSON readers make of a number, holds 15 digits exactly); narrower ones are numbers.
  JSON columns are their text, a string, so every field has one type for every reader.
- CSV/TSV formula guard (format.formula_guard): see csv_text.
- NUL characters are dropped from CSV/TSV fields (readers and databases refuse them);
  JSON writes them escaped (\u0000).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from ferry.column_types import DECIMAL_TYPES, FLOAT_TYPES, base_type, decimal_shape
from ferry.spec.columns import OutputColumn
from ferry.sql import quote

TEXT_TYPES = ("csv", "tsv", "json", "jsonl")
LINE_COLUMN = "line"
JSON_SEPARATOR = b",\n"
JSON_EXACT_DIGITS = 15  # significant digits every double (a JSON reader's number) holds
_UNQUOTED_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT", "REAL", "DOUBLE", "DECIMAL", "NUMERIC", "DATE",
    "TIMESTAMP", "TIMESTAMPTZ", "BOOLEAN", "INT", "INT4", "INT8", "BOOL",
)  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One output column inside the query: its SQL alias, output name and type."""

    alias: str
    name: str
    type: str
    hex_only: bool = False  # hashes and tokens: never need quoting


@dataclass(frozen=True)
class NativeLines:
    """How a text format's lines are made outside DuckDB (ferry.engine.lines_native).

    items: the SELECT's items over the typed fields (each aliased as its field), in order.
    render: a batch of those columns (the key dropped) -> a batch of one large_string
        column, LINE_COLUMN, holding the bytes line_sql would have.
    """

    items: list[str]
    render: Callable[[pa.RecordBatch], pa.RecordBatch]


def is_timestamp(column_type: str) -> bool:
    return base_type(column_type).startswith(("TIMESTAMP", "DATETIME"))


def is_temporal(column_type: str) -> bool:
    return is_timestamp(column_type) or base_type(column_type) == "DATE"


def iso_text(alias: str, column_type: str) -> str:
    """A column's text form: ISO 8601 (UTC) for dates and timestamps, DuckDB's otherwise."""
    column = quote(alias)
    if "TIME ZONE" in column_type.upper() or base_type(column_type) == "TIMESTAMPTZ":
        column = f"timezone('UTC', {column})"
    if is_timestamp(column_type):
        return _iso_timestamp(column)
    if base_type(column_type) == "DATE":
        return _iso_date(column)
    if base_type(column_type) == "VARCHAR":
        return column
    return f"CAST({column} AS VARCHAR)"


def _iso_timestamp(column: str) -> str:
    """2026-01-15T10:30:45Z, with a fraction only when there is one; null for infinity.

    DuckDB's text form with T and Z; strftime gives the same text at half the cost for the
    usual case, whole seconds in years 1000-9999 (its %Y does not pad other years). Years
    outside 0001-9999 get ISO 8601's expanded form (see _expanded_year).
    """
    text_form = f"replace(CAST({column} AS VARCHAR), ' ', 'T') || 'Z'"
    usual = (
        f"epoch_us({column}) % 1000000 = 0 AND {column} >= TIMESTAMP '1000-01-01' "
        f"AND {column} < TIMESTAMP '9999-12-31 23:59:59'"
    )
    in_range = f"{column} BETWEEN TIMESTAMP '0001-01-01' AND TIMESTAMP '9999-12-31 23:59:59.999999'"
    micros = f"((epoch_us({column}) % 1000000) + 1000000) % 1000000"
    fraction = f"CASE WHEN {micros} = 0 THEN '' ELSE rtrim(printf('.%06d', {micros}), '0') END"
    expanded = (
        f"{_expanded_year(column)} || strftime({column}, '-%m-%dT%H:%M:%S') || {fraction} || 'Z'"
    )
    return (
        f"CASE WHEN {usual} THEN strftime({column}, '%Y-%m-%dT%H:%M:%SZ') "
        f"WHEN {in_range} THEN {text_form} WHEN isfinite({column}) THEN {expanded} END"
    )


def _iso_date(column: str) -> str:
    """2026-01-15; years outside 0001-9999 expanded; null for infinity."""
    in_range = f"{column} BETWEEN DATE '0001-01-01' AND DATE '9999-12-31'"
    expanded = f"{_expanded_year(column)} || strftime({column}, '-%m-%d')"
    return (
        f"CASE WHEN {in_range} THEN CAST({column} AS VARCHAR) "
        f"WHEN isfinite({column}) THEN {expanded} END"
    )


def _expanded_year(column: str) -> str:
    """ISO 8601's expanded year (astronomical: 1 BC is 0000, 44 BC is -0043; 12026 is +12026)."""
    year = f"year({column})"
    sign = f"CASE WHEN {year} < 0 THEN '-' WHEN {year} > 9999 THEN '+' ELSE '' END"
    return f"{sign} || printf('%04d', abs({year}))"


def csv_text(field: Field, formula_guard: bool = False) -> str:
    """A field's text before CSV quoting (null stays null), formula-guarded when asked.

    Numbers, dates, hashes and tokens carry no formula (-5 stays -5): only text is guarded.
    """
    text = iso_text(field.alias, field.type)
    if not formula_guard or needs_no_quoting(field):
        return text
    return formula_guarded(text)


_FORMULA_CHARS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_CODES = [ord(char) for char in _FORMULA_CHARS]


def formula_guarded(text: str) -> str:
    """SQL: the VARCHAR expression text with a ' before a leading = + - @, tab or CR, which a
    spreadsheet would run as a formula; null stays null. Every CSV a person may open in a
    spreadsheet with values from data (an export's, an import's rejects) goes through it."""
    # not unicode(...) IN (...): DuckDB plans that IN list as a hash join, one per column
    starts_a_formula = " OR ".join(f"unicode({text}) = {code}" for code in _FORMULA_CODES)
    return f"CASE WHEN {starts_a_formula} THEN chr(39) || {text} ELSE {text} END"


def guarded(fields: list[Field]) -> tuple[str, list[Field]]:
    """A projection applying the formula guard once per value, and the fields it yields.

    The CSV line refers to each field's text several times (null, empty, quoting), so the
    guard is computed a level below, not inside every reference.
    """
    items, texts = [], []
    for field in fields:
        typed = needs_no_quoting(field)  # no formula in it: stays as it is, typed
        items.append(
            f"{quote(field.alias) if typed else csv_text(field, True)} AS {quote(field.alias)}"
        )
        texts.append(field if typed else Field(field.alias, field.name, "VARCHAR"))
    return ", ".join(items), texts


def needs_no_quoting(field: Field) -> bool:
    """Numbers, dates, hashes and tokens: never quoted, never formula-guarded."""
    return field.hex_only or base_type(field.type) in _UNQUOTED_TYPES


def csv_field(field: Field, delimiter: str) -> str:
    """A non-null VARCHAR: the field as it appears in the file, quoted only when needed."""
    text = iso_text(field.alias, field.type)
    if needs_no_quoting(field):
        return f"coalesce({text}, '')"
    chars = (f"'{delimiter}'", "'\"'", "chr(10)", "chr(13)", "chr(0)")
    specials = " OR ".join(f"contains({text}, {char})" for char in chars)
    quoted = f"'\"' || replace(replace({text}, chr(0), ''), '\"', '\"\"') || '\"'"  # NUL dropped
    return (
        f"CASE WHEN {text} IS NULL THEN '' WHEN {text} = '' THEN '\"\"' "
        f"WHEN {specials} THEN {quoted} ELSE {text} END"
    )


def csv_line(fields: list[Field], delimiter: str) -> str:
    separator = "chr(9)" if delimiter == "\t" else f"'{delimiter}'"
    parts = [csv_field(field, delimiter) for field in fields]
    return f"concat({f', {separator}, '.join(parts)}, chr(10))"


def csv_header(names: list[str], delimiter: str, formula_guard: bool = False) -> bytes:
    """The header row, each name guarded and quoted by the same rules as the values."""

    def field(name: str) -> str:
        if formula_guard and name.startswith(_FORMULA_CHARS):
            name = "'" + name
        if name == "" or any(char in name for char in (delimiter, '"', "\n", "\r")):
            return '"' + name.replace('"', '""') + '"'
        return name

    return (delimiter.join(field(name) for name in names) + "\n").encode("utf-8")


def json_object(fields: list[Field]) -> str:
    """A row as a JSON object: names in order, nulls as null, every value valid JSON."""
    members = []
    for field in fields:
        members.append(f"'{field.name.replace(chr(39), chr(39) * 2)}': {json_value(field)}")
    return f"to_json({{{', '.join(members)}}})"


def json_value(field: Field) -> str:
    """Dates and timestamps as ISO strings; NaN and infinities (not JSON) as null; numbers a
    double cannot hold exactly (DECIMAL over 15 digits, HUGEINT) and JSON as strings."""
    column = quote(field.alias)
    if is_temporal(field.type):
        return iso_text(field.alias, field.type)
    if base_type(field.type) in FLOAT_TYPES:
        return f"CASE WHEN isfinite({column}) THEN {column} END"
    if json_as_text(field.type):
        return f"CAST({column} AS VARCHAR)"
    return column


def json_as_text(column_type: str) -> bool:
    """Whether JSON files write the type's values as strings: numbers with more digits than
    a double holds, and JSON columns (their text: one type per field for every reader)."""
    base = base_type(column_type)
    shape = decimal_shape(column_type) if base in DECIMAL_TYPES else None
    return base in ("HUGEINT", "JSON") or bool(shape and shape[0] > JSON_EXACT_DIGITS)


def parquet_value(field: Field) -> str:
    """Parquet keeps typed values, except infinite dates and timestamps: null (no reader's
    date type holds them; pyarrow's to_pylist and pandas fail on them)."""
    column = quote(field.alias)
    return f"CASE WHEN isfinite({column}) THEN {column} END" if is_temporal(field.type) else column


def line_sql(format_type: str, fields: list[Field], pretty: bool = False) -> str:
    """The SQL of the one VARCHAR column holding each row's output bytes."""
    if format_type in ("csv", "tsv"):
        return csv_line(fields, "," if format_type == "csv" else "\t")
    obj = json_object(fields)
    if format_type == "jsonl":
        return f"{obj} || chr(10)"
    if pretty:
        obj = f"'  ' || replace(json_pretty({obj}), chr(10), chr(10) || '  ')"
    return f"',' || chr(10) || {obj}"  # JSON_SEPARATOR first; a file's first row skips it


def header_bytes(format_type: str, names: list[str], formula_guard: bool = False) -> bytes:
    if format_type in ("csv", "tsv"):
        return csv_header(names, "," if format_type == "csv" else "\t", formula_guard)
    return b"[\n" if format_type == "json" else b""


def footer_bytes(format_type: str, rows: int) -> bytes:
    if format_type != "json":
        return b""
    return b"\n]\n" if rows else b"]\n"


def fields_of(columns: tuple[OutputColumn, ...], types: list[str]) -> list[Field]:
    """Fields aliased c0..cn, so odd output names never reach SQL identifiers unquoted."""
    return [
        Field(f"c{index}", column.name, types[index], column.keyed)
        for index, column in enumerate(columns)
    ]
