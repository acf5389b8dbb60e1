"""Compile filters and segment rules to parameterised SQL (DuckDB dialect).

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


def _bound(column_type: str, values: list | tuple) -> Sql:
    """Placeholders for values, each cast to the type it is compared as."""
    text = ", ".join(f"CAST(? AS {value_type(column_type, value)})" for value in values)
    return Sql(text, tuple(values))


def compile_condition(condition: models.Condition, columns: dict, now: dt.datetime) -> Sql:
    """One {field, op, value} as SQL; column types come from tables.yaml."""
    column, column_type = quote(condition.field), columns[condition.field].type
    op, value = condition.op, condition.value
    if op in _COMPARISONS:
        bound = _bound(column_type, [value])
        return Sql(f"{column} {_COMPARISONS[op]} {bound.text}", bound.params)
    if op in ("in", "not_in"):
        bound = _bound(column_type, value)
        text = f"{column} IN ({bound.text})"
        if op == "not_in":
            text = f"{column} IS NULL OR NOT ({text})"
        return Sql(text, bound.params)
    if op == "between":
        low, high = _bound(column_type, value[:1]), _bound(column_type, value[1:])
        return Sql(f"{column} BETWEEN {low.text} AND {high.text}", low.params + high.params)
    return _compile_text_or_null(op, column, value, now)


_COMPARISONS = {"eq": "=", "ne": "IS DISTINCT FROM", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _compile_text_or_null(op: str, column: str, value, now: dt.datetime) -> Sql:
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
        return Sql(f"regexp_matches({text_column}, {text_value})", (str(value),))
    if op == "within_last_days":
        since = now - dt.timedelta(days=value)
        return Sql(f"{column} BETWEEN CAST(? AS TIMESTAMP) AND CAST(? AS TIMESTAMP)", (since, now))
    raise ValueError(f"operator {op} has no SQL form")


def compile_rule(rule, columns: dict, now: dt.datetime) -> Sql:
    """A segment's nested all / any / not rules as one WHERE expression."""
    if isinstance(rule, models.Condition):
        return compile_condition(rule, columns, now)
    if isinstance(rule, models.NotOf):
        inner = compile_rule(rule.not_, columns, now)
        return Sql(f"NOT coalesce(({inner.text}), FALSE)", inner.params)
    children, operator = (rule.all, "AND") if isinstance(rule, models.AllOf) else (rule.any, "OR")
    return Sql.join([compile_rule(child, columns, now) for child in children], operator)
