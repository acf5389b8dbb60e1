"""Whether a rule's value fits the column it is compared with, checked when definitions load.

DuckDB would refuse `lifetime_value > abc`, `order_count > 99999999999` or
`within_last_days` on a text column only when the export runs; here each is an error of
the definition, saying what the column takes.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
from typing import Any

from ferry.column_types import (
    MAX_DECIMAL_PRECISION,
    TEMPORAL_TYPES,
    base_type,
    canonical_type,
    decimal_shape,
    integer_range,
)

COMPARED_OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "between")
MAX_DAYS = 36_500  # a hundred years: within_last_days, retention_days
_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP_TEXT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
_FLOAT_LIMITS = {
    "FLOAT": decimal.Decimal("3.4028234663852886e38"),
    "DOUBLE": decimal.Decimal("1.7976931348623157e308"),
}
_TIME_TEXT = re.compile(r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?")
_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


def value_problem(op: str, value: Any, column_type: str) -> str | None:
    """What is wrong with the value for a column of column_type, or None when it fits."""
    if op == "within_last_days":
        return _days_problem(column_type)
    if op not in COMPARED_OPS:
        return None
    canonical = canonical_type(column_type)
    for item in value if isinstance(value, list) else [value]:
        problem = _item_problem(item, canonical)
        if problem and problem.startswith("is not"):
            return f"{item!r} {problem}, which the column ({canonical}) holds"
        if problem:
            return f"{item!r} does not fit the column ({canonical}): {problem}"
    return None


def _days_problem(column_type: str) -> str | None:
    problem = time_column_problem(column_type)
    return problem and f"within_last_days {problem}"


def time_column_problem(column_type: str) -> str | None:
    """A filter on dates or times (within_last_days, window, date_column) needs a DATE or
    TIMESTAMP column: DuckDB would fail to compare text with a time only at run time."""
    if base_type(canonical_type(column_type)) in TEMPORAL_TYPES:
        return None
    return f"needs a DATE or TIMESTAMP column; this one is {canonical_type(column_type)}"


def _item_problem(item: Any, canonical: str) -> str | None:
    """'is not <kind>' when the value is of the wrong kind, why it does not fit, or None."""
    if integer_range(canonical):
        return _integer_problem(item, *integer_range(canonical))
    if decimal_shape(canonical):
        return _decimal_problem(item, *decimal_shape(canonical))
    if canonical in _FLOAT_LIMITS:
        number = _finite_number(item)
        if number is None:
            return _not_a_number(item)
        return None if abs(number) <= _FLOAT_LIMITS[canonical] else "too large"
    kinds = {
        "BOOLEAN": (lambda item: isinstance(item, bool), "true or false"),
        "DATE": (_is_date, "a date (YYYY-MM-DD)"),
        "TIMESTAMP": (_is_timestamp, "a date or time (ISO 8601, e.g. 2026-01-31T12:00:00)"),
        "TIMESTAMPTZ": (_is_timestamp, "a date or time (ISO 8601, e.g. 2026-01-31T12:00:00Z)"),
        "UUID": (_is_uuid, "a UUID"),
        "TIME": (_is_time, "a time of day (HH:MM[:SS[.ffffff]])"),
        "JSON": (_is_json, "JSON text"),
    }
    if canonical in kinds:
        fits, kind = kinds[canonical]
        return None if fits(item) else f"is not {kind}"
    return None


def _integer_problem(item: Any, low: int, high: int) -> str | None:
    if isinstance(item, bool) or not (
        isinstance(item, int) or (isinstance(item, str) and _INTEGER_TEXT.fullmatch(item))
    ):
        return "is not a whole number"
    if not low <= int(item) <= high:
        return f"whole numbers from {low} to {high}"
    return None


def _decimal_problem(item: Any, precision: int, scale: int) -> str | None:
    number = _finite_number(item)
    if number is None:
        return _not_a_number(item)
    digits, exponent = len(number.as_tuple().digits), number.as_tuple().exponent
    whole_digits = max(digits + exponent, 0)
    if whole_digits > precision - scale:
        return f"at most {precision - scale} digits before the point"
    if whole_digits + max(-exponent, 0) > MAX_DECIMAL_PRECISION:
        return f"at most {MAX_DECIMAL_PRECISION} digits in all"
    return None


def _not_a_number(item: Any) -> str:
    finite = isinstance(item, float) or str(item).strip().lower().lstrip("+-") in _NON_FINITE
    return "is not a finite number" if finite else "is not a number"


_NON_FINITE = ("nan", "inf", "infinity", "snan")


def _finite_number(item: Any) -> decimal.Decimal | None:
    """The item as a finite Decimal, or None (not a number, NaN or infinite)."""
    if isinstance(item, bool) or not isinstance(item, (int, float, str)):
        return None
    if isinstance(item, float) and not math.isfinite(item):
        return None
    try:
        number = decimal.Decimal(str(item).strip())
    except decimal.InvalidOperation:
        return None
    return number if number.is_finite() else None


def _is_date(item: Any) -> bool:
    if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
        return True
    return isinstance(item, str) and bool(_DATE_TEXT.fullmatch(item)) and _parses(item)


def _is_timestamp(item: Any) -> bool:
    if isinstance(item, dt.date):
        return True
    return isinstance(item, str) and bool(_TIMESTAMP_TEXT.fullmatch(item)) and _parses(item)


def _parses(text: str) -> bool:
    """Real calendar values only: 2026-02-30 matches the pattern but is no date."""
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_time(item: Any) -> bool:
    if isinstance(item, dt.time):
        return True
    if not isinstance(item, str) or not _TIME_TEXT.fullmatch(item):
        return False
    try:
        dt.time.fromisoformat(item)
    except ValueError:
        return False
    return True


def _is_json(item: Any) -> bool:
    try:
        json.loads(item) if isinstance(item, str) else None
    except ValueError:
        return False
    return isinstance(item, str)


def _is_uuid(item: Any) -> bool:
    return isinstance(item, str) and bool(_UUID_TEXT.fullmatch(item.strip("{}")))
