"""expect: an import's expectations, checked in DuckDB on the rows about to be loaded.

The same vocabulary and meaning as an export's (ferry.engine.validate, which runs Great
Expectations on staged files): nulls pass regex and value_set; unique counts the rows
whose value appears more than once; a value_set compares values as text (CSV's view).
Here the rows are already one typed DuckDB table, so each check is one query (seconds of
GX import saved); patterns and values are bound parameters, field names come from
tables.yaml (quoted).
"""

from __future__ import annotations

import logging
from typing import Any

import duckdb

from ferry.imports.errors import ImportExpectationsFailed
from ferry.imports.stage import STAGED
from ferry.spec.output import Expectation
from ferry.sql import quote


def check_expectations(
    con: duckdb.DuckDBPyConnection, expectations: list[Expectation], columns: list[str],
    log: logging.Logger,
) -> list[str]:  # fmt: skip
    """Check each expectation on STAGED; the warnings (on_failure: warn) that did not hold.

    Raises:
        ImportExpectationsFailed: an expectation with on_failure: fail did not hold.
    """
    failed, warned = [], []
    for spec in expectations:
        problem = _problem(con, spec, columns)
        if problem is None:
            log.info("import expectation held: %s", _name(spec))
        elif spec.on_failure == "warn":
            log.warning("import expectation warning: %s", problem)
            warned.append(problem)
        else:
            log.error("import expectation failed: %s", problem)
            failed.append(problem)
    if failed:
        raise ImportExpectationsFailed(failed)
    return warned


def _name(spec: Expectation) -> str:
    return f"{spec.expect} on {spec.field}" if spec.field else spec.expect


def _problem(con: duckdb.DuckDBPyConnection, spec: Expectation, columns: list[str]) -> str | None:
    """What did not hold, None when the expectation held."""
    if spec.expect == "row_count_between":
        rows = con.execute(f"SELECT count(*) FROM {STAGED}").fetchall()[0][0]
        low, high = spec.min, spec.max
        if (low is None or rows >= low) and (high is None or rows <= high):
            return None
        return f"row_count_between: {rows} rows, expected between {_bound(low)} and {_bound(high)}"
    if spec.field not in columns:
        return f"{_name(spec)}: {spec.field} is not a column the import loads"
    where, params = _unexpected(spec)
    column = quote(spec.field)
    try:
        found = con.execute(
            f"SELECT count(*), list(DISTINCT CAST({column} AS VARCHAR)) FILTER (WHERE {column} "
            f"IS NOT NULL)[1:3] FROM {STAGED} WHERE {where}",
            params,
        ).fetchall()[0]
    except duckdb.Error as error:  # e.g. a pattern RE2 refuses: the check cannot hold
        return f"{_name(spec)}: {str(error).splitlines()[0]}"
    if not found[0]:
        return None
    return f"{_name(spec)}: {found[0]} unexpected rows (e.g. {found[1] or [None]})"


def _unexpected(spec: Expectation) -> tuple[str, list]:
    """The condition of the rows that break the expectation, and its parameters."""
    column = quote(spec.field)
    text = f"CAST({column} AS VARCHAR)"
    if spec.expect == "not_null":
        return f"{column} IS NULL", []
    if spec.expect == "unique":
        repeated = f"SELECT {column} FROM {STAGED} GROUP BY 1 HAVING count(*) > 1"
        return f"{column} IN ({repeated})", []
    if spec.expect == "regex":
        return f"{column} IS NOT NULL AND NOT regexp_matches({text}, ?)", [spec.pattern]
    values = [_as_text(v) for v in spec.values or []]
    return f"{column} IS NOT NULL AND NOT list_contains(?::VARCHAR[], {text})", [values]


def _bound(value: int | None) -> str:
    return "-" if value is None else str(value)


def _as_text(value: Any) -> str:
    """A YAML value as DuckDB writes the column's value as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
