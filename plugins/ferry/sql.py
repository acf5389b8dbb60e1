"""Compile filters and segment rules to parameterised SQL (DuckDB dialect).

Column names come from tables.yaml (checked when definitions load) and are quoted; every
value is a bound parameter, cast to the column's declared type, so no value reaches SQL text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ferry.spec import models

TRUE = "TRUE"


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


def _typed(column_type: str, count: int = 1) -> str:
    return ", ".join([f"CAST(? AS {column_type})"] * count)


def compile_condition(condition: models.Condition, columns: dict, now: dt.datetime) -> Sql:
    """One {field, op, value} as SQL; column types come from tables.yaml."""
    column, column_type = quote(condition.field), columns[condition.field].type
    op, value = condition.op, condition.value
    if op in _COMPARISONS:
        return Sql(f"{column} {_COMPARISONS[op]} {_typed(column_type)}", (value,))
    if op in ("in", "not_in"):
        text = f"{column} IN ({_typed(column_type, len(value))})"
        if op == "not_in":
            text = f"{column} IS NULL OR NOT ({text})"
        return Sql(text, tuple(value))
    if op == "between":
        return Sql(
            f"{column} BETWEEN {_typed(column_type)} AND {_typed(column_type)}", tuple(value)
        )
    return _compile_text_or_null(op, column, value, now)


_COMPARISONS = {"eq": "=", "ne": "IS DISTINCT FROM", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def _compile_text_or_null(op: str, column: str, value, now: dt.datetime) -> Sql:
    text_column = f"CAST({column} AS VARCHAR)"
    if op == "is_null":
        return Sql(f"{column} IS NULL")
    if op == "not_null":
        return Sql(f"{column} IS NOT NULL")
    if op == "contains":
        return Sql(f"strpos(lower({text_column}), lower(CAST(? AS VARCHAR))) > 0", (str(value),))
    if op == "starts_with":
        return Sql(f"starts_with({text_column}, CAST(? AS VARCHAR))", (str(value),))
    if op == "regex":
        return Sql(f"regexp_matches({text_column}, CAST(? AS VARCHAR))", (str(value),))
    if op == "within_last_days":
        return Sql(f"{column} >= CAST(? AS TIMESTAMP)", (now - dt.timedelta(days=value),))
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
