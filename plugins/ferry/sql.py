"""Compile filters and segment rules to parameterised SQL, in the dialect of the source.

Column names come from tables.yaml (allow-listed identifiers, checked when definitions load)
and are quoted; every value is a bound parameter, cast to the column's declared type, whose
canonical allow-listed spelling is the only part of tables.yaml that reaches SQL text.

Semantics users rely on:
- A condition on a NULL value does not match, except is_null, ne and not_in: a row whose
  country is NULL is "not US". `not` is the complement of the rows its rule matches, so
  `not: {field: country, op: eq, value: US}` and `op: ne` choose the same rows.
- contains and starts_with ignore case and match the text literally (no wildcards);
  regex is a partial match, case-sensitive unless the pattern says (?i).
- within_last_days N matches [now - N days, now], now being the run's reference time
  (RunInfo.now), so a rerun of a run chooses the same rows.
- regex runs in the source's engine: RE2 on DuckDB and files, POSIX ARE on Postgres; the
  loader accepts only patterns RE2 accepts, and simple patterns mean the same in both.

Every dialect writes `?` for a bound value; a source turns them into its own placeholders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ferry.column_types import canonical_type, decimal_shape, integer_range
from ferry.spec import models

TRUE = "TRUE"
MAX_DECIMAL_SCALE = 37


@dataclass(frozen=True)
class Sql:
    """A SQL fragment and the parameters its ? placeholders bind to, in order."""

    text: str
    params: tuple = ()

    @staticmethod
    def join(parts: list[Sql], operator: str = "AND") -> Sql:
        if operator == "AND":
            parts = [part for part in parts if part.text != TRUE]
        if not parts:
            return Sql(TRUE)
        if len(parts) == 1:
            return parts[0]
        text = f" {operator} ".join(f"({part.text})" for part in parts)
        return Sql(text, tuple(param for part in parts for param in part.params))


def quote(name: str) -> str:
    """Quote an identifier; an embedded double quote is doubled, so it stays one name."""
    return '"' + name.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    """A table name, schema-qualified or not ("crm.contact"), as quoted identifiers."""
    return ".".join(quote(part) for part in name.split("."))


# DuckDB type names Postgres spells differently (or lacks: it has no unsigned integers).
_POSTGRES_TYPES = {
    "TINYINT": "SMALLINT", "UTINYINT": "SMALLINT", "USMALLINT": "INTEGER",
    "UINTEGER": "BIGINT", "UBIGINT": "NUMERIC(20,0)", "HUGEINT": "NUMERIC(39,0)",
    "FLOAT": "REAL", "DOUBLE": "DOUBLE PRECISION", "BLOB": "BYTEA",
}  # fmt: skip


@dataclass(frozen=True)
class Dialect:
    """What differs between the SQL of the sources Ferry reads; the rest is standard SQL."""

    name: str

    def type_name(self, canonical: str) -> str:
        """A canonical (DuckDB) column type as this dialect spells it."""
        if self.name == "postgres":
            return _POSTGRES_TYPES.get(canonical, canonical)
        return canonical

    def table(self, name: str) -> str:
        """tables.yaml's name of a table as FROM text: a files source names its views by
        the whole path (`"orders/*.parquet"`), databases by dotted parts."""
        return quote(name) if self.name == "files" else quote_table(name)

    def regex(self, text: str, pattern: str) -> str:
        if self.name == "postgres":
            return f"({text} ~ {pattern})"
        return f"regexp_matches({text}, {pattern})"

    def compared(self, column: str, column_type: str, ordering: bool = False) -> str:
        """A column as comparisons see it. A VARCHAR column is compared as its text: on
        Postgres the column may hold another type (numeric, an enum) declared VARCHAR.
        Ordering comparisons (ordering=True) use the "C" collation, as DuckDB compares
        bytes (en_US: a < B, DuckDB: B < a); equality gives the same rows in any
        deterministic collation, so it keeps the column's and an index on it is used."""
        if self.name != "postgres" or canonical_type(column_type) != "VARCHAR":
            return column
        text = f"CAST({column} AS TEXT)"
        return f'{text} COLLATE "C"' if ordering else text

    def hour(self, column: str) -> str:
        if self.name == "postgres":
            return f"CAST(EXTRACT(HOUR FROM {column}) AS INTEGER)"
        return f"hour({column})"


DUCKDB = Dialect("duckdb")
FILES = Dialect("files")  # DuckDB's SQL over views of files
POSTGRES = Dialect("postgres")


def _column_scale(column_type: str) -> int | None:
    """Decimal places an exact numeric column keeps (0 for integers); None for other types."""
    if integer_range(column_type):
        return 0
    shape = decimal_shape(column_type)
    return shape[1] if shape else None


def value_type(column_type: str, value: object) -> str:
    """The type a value is cast to: the column's, unless that would round the value.

    `order_count gt 2.5` cast to INTEGER would become `> 3` and lose the rows with 3, so a
    value with more decimals than an exact numeric column keeps gets a DECIMAL wide enough.
    Only canonical, allow-listed type names come out (canonical_type raises otherwise).
    """
    canonical = canonical_type(column_type)
    scale = _column_scale(canonical)
    if scale is None or isinstance(value, bool):
        return canonical
    try:
        exponent = Decimal(str(value)).as_tuple().exponent
    except InvalidOperation:
        return canonical  # not a number: the cast reports it when the query runs
    if not isinstance(exponent, int) or -exponent <= scale:
        return canonical
    return f"DECIMAL(38,{min(-exponent, MAX_DECIMAL_SCALE)})"


def bound(column_type: str, values: list | tuple, dialect: Dialect = DUCKDB) -> Sql:
    """Placeholders for values, each cast to the type it is compared as."""
    types = [dialect.type_name(value_type(column_type, value)) for value in values]
    text = ", ".join(f"CAST(? AS {name})" for name in types)
    return Sql(text, tuple(values))


def compile_condition(
    condition: models.Condition, columns: dict, now: dt.datetime, dialect: Dialect = DUCKDB
) -> Sql:
    """One {field, op, value} as SQL; column types come from tables.yaml."""
    column, column_type = quote(condition.field), columns[condition.field].type
    op, value = condition.op, condition.value
    if op in _COMPARISONS or op in ("in", "not_in", "between"):
        column = dialect.compared(column, column_type, ordering=op in _ORDERING)
    if op in _COMPARISONS:
        one = bound(column_type, [value], dialect)
        return Sql(f"{column} {_COMPARISONS[op]} {one.text}", one.params)
    if op in ("in", "not_in"):
        many = bound(column_type, value, dialect)
        text = f"{column} IN ({many.text})"
        if op == "not_in":
            text = f"{column} IS NULL OR NOT ({text})"
        return Sql(text, many.params)
    if op == "between":
        low, high = bound(column_type, value[:1], dialect), bound(column_type, value[1:], dialect)
        return Sql(f"{column} BETWEEN {low.text} AND {high.text}", low.params + high.params)
    return _compile_text_or_null(op, column, value, now, dialect)


_ORDERING = ("gt", "gte", "lt", "lte", "between")
_COMPARISONS = {"eq": "=", "ne": "IS DISTINCT FROM", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _compile_text_or_null(op: str, column: str, value, now: dt.datetime, dialect: Dialect) -> Sql:
    text_column = f"CAST({column} AS VARCHAR)"
    text_value = "CAST(? AS VARCHAR)"
    if op == "is_null":
        return Sql(f"{column} IS NULL")
    if op == "not_null":
        return Sql(f"{column} IS NOT NULL")
    if op == "contains":
        return Sql(f"strpos(lower({text_column}), lower({text_value})) > 0", (str(value),))
    if op == "starts_with":
        return Sql(f"starts_with(lower({text_column}), lower({text_value}))", (str(value),))
    if op == "regex":
        return Sql(dialect.regex(text_column, text_value), (str(value),))
    if op == "within_last_days":
        since = now - dt.timedelta(days=value)
        return Sql(f"{column} BETWEEN CAST(? AS TIMESTAMP) AND CAST(? AS TIMESTAMP)", (since, now))
    raise ValueError(f"operator {op} has no SQL form")


def compile_rule(rule, columns: dict, now: dt.datetime, dialect: Dialect = DUCKDB) -> Sql:
    """A segment's nested all / any / not rules as one WHERE expression."""
    if isinstance(rule, models.Condition):
        return compile_condition(rule, columns, now, dialect)
    if isinstance(rule, models.NotOf):
        inner = compile_rule(rule.not_, columns, now, dialect)
        return Sql(f"NOT coalesce(({inner.text}), FALSE)", inner.params)
    children, operator = (rule.all, "AND") if isinstance(rule, models.AllOf) else (rule.any, "OR")
    return Sql.join([compile_rule(child, columns, now, dialect) for child in children], operator)
