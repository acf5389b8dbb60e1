"""How each output format turns the typed, PII-applied columns into SQL and bytes.

Text formats (csv, tsv, json, jsonl) are rendered by DuckDB into one VARCHAR per row, the
whole output line, so the file's bytes are the Arrow string column's value buffer: no
per-row Python work. Parquet takes the typed columns as they are.

CSV and TSV follow RFC 4180: a field is quoted only when it holds the delimiter, a quote,
CR or LF (quotes doubled); an empty string is written as "" so it stays distinct from a
null, which is an empty field. Timestamps are ISO 8601 UTC (2026-01-15T10:30:45Z, with a
fraction only when there is one), dates ISO, decimals plain, booleans true/false.
"""

from __future__ import annotations

from dataclasses import dataclass

from ferry.column_types import base_type
from ferry.plan import OutputColumn
from ferry.sql import quote

TEXT_TYPES = ("csv", "tsv", "json", "jsonl")
LINE_COLUMN = "line"
JSON_SEPARATOR = b",\n"
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


def is_timestamp(column_type: str) -> bool:
    return base_type(column_type).startswith(("TIMESTAMP", "DATETIME"))


def iso_text(alias: str, column_type: str) -> str:
    """A column's text form: ISO 8601 UTC for timestamps, DuckDB's text form otherwise."""
    column = quote(alias)
    if "TIME ZONE" in column_type.upper() or base_type(column_type) == "TIMESTAMPTZ":
        column = f"timezone('UTC', {column})"
    if is_timestamp(column_type):
        return _iso_timestamp(column)
    if base_type(column_type) == "VARCHAR":
        return column
    return f"CAST({column} AS VARCHAR)"


def _iso_timestamp(column: str) -> str:
    """2026-01-15T10:30:45Z, with a fraction only when there is one.

    DuckDB's text form with T and Z; strftime gives the same text at half the cost for the
    usual case, whole seconds in years 1000-9999 (its %Y does not pad other years).
    """
    text_form = f"replace(CAST({column} AS VARCHAR), ' ', 'T') || 'Z'"
    usual = (
        f"epoch_us({column}) % 1000000 = 0 AND {column} >= TIMESTAMP '1000-01-01' "
        f"AND {column} < TIMESTAMP '9999-12-31 23:59:59'"
    )
    return f"CASE WHEN {usual} THEN strftime({column}, '%Y-%m-%dT%H:%M:%SZ') ELSE {text_form} END"


def csv_field(field: Field, delimiter: str) -> str:
    """A non-null VARCHAR: the field as it appears in the file, quoted only when needed."""
    text = iso_text(field.alias, field.type)
    if field.hex_only or base_type(field.type) in _UNQUOTED_TYPES:
        return f"coalesce({text}, '')"
    specials = " OR ".join(
        f"contains({text}, {char})" for char in (f"'{delimiter}'", "'\"'", "chr(10)", "chr(13)")
    )
    return (
        f"CASE WHEN {text} IS NULL THEN '' WHEN {text} = '' THEN '\"\"' "
        f"WHEN {specials} THEN '\"' || replace({text}, '\"', '\"\"') || '\"' ELSE {text} END"
    )


def csv_line(fields: list[Field], delimiter: str) -> str:
    separator = "chr(9)" if delimiter == "\t" else f"'{delimiter}'"
    parts = [csv_field(field, delimiter) for field in fields]
    return f"concat({f', {separator}, '.join(parts)}, chr(10))"


def csv_header(names: list[str], delimiter: str) -> bytes:
    """The header row, each name quoted by the same rule as the values."""

    def field(name: str) -> str:
        if name == "" or any(char in name for char in (delimiter, '"', "\n", "\r")):
            return '"' + name.replace('"', '""') + '"'
        return name

    return (delimiter.join(field(name) for name in names) + "\n").encode("utf-8")


def json_object(fields: list[Field]) -> str:
    """A row as a JSON object: names in order, timestamps as ISO strings, nulls as null."""
    members = []
    for field in fields:
        value = (
            iso_text(field.alias, field.type) if is_timestamp(field.type) else quote(field.alias)
        )
        members.append(f"'{field.name.replace(chr(39), chr(39) * 2)}': {value}")
    return f"to_json({{{', '.join(members)}}})"


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


def header_bytes(format_type: str, names: list[str]) -> bytes:
    if format_type in ("csv", "tsv"):
        return csv_header(names, "," if format_type == "csv" else "\t")
    return b"[\n" if format_type == "json" else b""


def footer_bytes(format_type: str, rows: int) -> bytes:
    if format_type != "json":
        return b""
    return b"\n]\n" if rows else b"]\n"


def fields_of(columns: tuple[OutputColumn, ...], types: list[str]) -> list[Field]:
    """Fields aliased c0..cn, so odd output names never reach SQL identifiers unquoted."""
    return [
        Field(f"c{index}", column.name, types[index], _hex_only(column))
        for index, column in enumerate(columns)
    ]


def _hex_only(column: OutputColumn) -> bool:
    return column.pii is not None and column.pii.action in ("hash", "tokenize")
