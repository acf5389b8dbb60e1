"""Whether a rule's value fits the column it is compared with, checked when definitions load.

DuckDB would refuse `lifetime_value > abc` only when the export runs; here it is an error
of the definition, with the kind of value the column takes.
"""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

from ferry.column_types import DECIMAL_TYPES, FLOAT_TYPES, INTEGER_TYPES, base_type

COMPARED_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between")


def value_problem(op: str, value: Any, column_type: str) -> str | None:
    """What is wrong with the value for a column of column_type, or None when it fits."""
    if op not in COMPARED_OPS:
        return None
    kind, fits = _kind_of(column_type)
    if fits is None:
        return None
    for item in value if isinstance(value, list) else [value]:
        if not fits(item):
            return f"{item!r} is not {kind}, which the column ({column_type}) holds"
    return None


def _kind_of(column_type: str):
    base = base_type(column_type)
    if base in INTEGER_TYPES:
        return "a whole number", _is_integer
    if base in FLOAT_TYPES + DECIMAL_TYPES:
        return "a number", _is_number
    if base == "BOOLEAN":
        return "true or false", lambda item: isinstance(item, bool)
    if base == "DATE":
        return "a date (YYYY-MM-DD)", _is_date
    if base.startswith("TIMESTAMP"):
        return "a date or time (ISO 8601, e.g. 2026-01-31T12:00:00)", _is_timestamp
    return "", None


def _is_integer(item: Any) -> bool:
    if isinstance(item, bool):
        return False
    return isinstance(item, int) or (isinstance(item, str) and item.strip().lstrip("-").isdigit())


def _is_number(item: Any) -> bool:
    if isinstance(item, bool):
        return False
    if isinstance(item, (int, float)):
        return True
    try:
        decimal.Decimal(str(item))
    except decimal.InvalidOperation:
        return False
    return True


def _is_date(item: Any) -> bool:
    if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
        return True
    try:
        dt.date.fromisoformat(str(item))
    except ValueError:
        return False
    return True


def _is_timestamp(item: Any) -> bool:
    if isinstance(item, dt.date):
        return True
    try:
        dt.datetime.fromisoformat(str(item))
    except ValueError:
        return False
    return True
