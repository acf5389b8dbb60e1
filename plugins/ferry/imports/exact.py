"""exact: when a value that casts to a column's type would still not be stored as written.

DuckDB's casts round and cut without a word: '1.7' AS INTEGER is 2, '1.239' AS
DECIMAL(6,2) is 1.24, '2026-01-03 23:59:00' AS DATE is 2026-01-03, '02:30+02:00' AS
TIMESTAMP drops the offset and a seventh fractional second digit is cut. An import must not
change a partner's data silently, so a value the type cannot hold exactly is a reject, by
these rules per type family (checked on the value's text, as the file holds it):

- integers and DECIMAL(p,s): plain decimal digits ([+-]digits[.digits]) with no more
  non-zero digits after the point than the scale (0 for integers): 3.00 is an INTEGER,
  3.5, 1e3, 0x10 and 1_000 are not (write them as digits).
- DATE: a date, or a date at midnight; no other time of day.
- TIME: a time of day without a date.
- DATE, TIME, TIMESTAMP: no time zone or offset other than UTC (the type has none: the
  offset would be dropped, not applied); load such values into a TIMESTAMPTZ column.
- TIME, TIMESTAMP, TIMESTAMPTZ: at most 6 fractional second digits (microseconds).
- FLOAT and DOUBLE hold the nearest binary value (their nature, not a loss Ferry refuses);
  BOOLEAN (true/false, t/f, yes/no, 1/0), UUID, BLOB, JSON and VARCHAR hold what casts.

A TIMESTAMPTZ value without an offset is UTC (the staging connection's time zone).
The type is the canonical, allow-listed spelling: the only definition text in this SQL.
"""

from __future__ import annotations

from ferry.column_types import INTEGER_RANGES, decimal_shape

_SUB_MICROSECOND = r"'[0-9]:[0-9]{2}\.[0-9]{6}0*[1-9]'"


def lossy(text: str, column_type: str) -> tuple[str, list[tuple[str, str]]]:
    """(gate, [(condition, reason)]): SQL conditions on `text` (a VARCHAR expression of
    Ferry's), each true when the value casts to column_type but would not be stored as
    written; `gate AND condition` is the test. The gate is false for a value whose stored
    value reads back as its text ('2026-01-03', '42'): the usual value, checked by one cast
    instead of every rule (a third of the time of staging). No checks: an empty list."""
    checks = _numeric(text, column_type) + _temporal(text, column_type)
    gate = f"coalesce(CAST(TRY_CAST({text} AS {column_type}) AS VARCHAR) <> trim({text}), false)"
    return gate, checks


def _numeric(text: str, column_type: str) -> list[tuple[str, str]]:
    if column_type in INTEGER_RANGES:
        scale, what = 0, "a whole number"
    elif (shape := decimal_shape(column_type)) is not None:
        scale, what = shape[1], f"a number with at most {shape[1]} digits after the point"
    else:
        return []
    digits = f"[+-]?([0-9]+(\\.[0-9]{{0,{scale}}}0*)?|\\.[0-9]{{0,{scale}}}0*)"
    condition = f"NOT regexp_full_match(trim({text}), '{digits}')"
    reason = f"not exactly a {column_type} ({what}, in plain digits): it would be rounded"
    return [(condition, reason)]


def _temporal(text: str, column_type: str) -> list[tuple[str, str]]:
    checks = []
    if column_type == "DATE":
        timestamp = f"TRY_CAST({text} AS TIMESTAMP)"
        checks.append((
            f"coalesce({timestamp} <> CAST(TRY_CAST({text} AS DATE) AS TIMESTAMP), false)",
            "has a time of day: a DATE would drop it (load it into a TIMESTAMP column)",
        ))  # fmt: skip
    if column_type == "TIME":
        checks.append((
            f"TRY_CAST({text} AS TIMESTAMP) IS NOT NULL",
            "has a date: a TIME would drop it (load it into a TIMESTAMP column)",
        ))  # fmt: skip
        checks.append((
            f"coalesce(TRY_CAST({text} AS TIMETZ) <> "
            f"CAST(TRY_CAST({text} AS TIME) AS TIMETZ), false)",
            "has a time zone offset: a TIME would drop it, not apply it",
        ))  # fmt: skip
    if column_type in ("DATE", "TIMESTAMP"):
        checks.append((
            f"coalesce(TRY_CAST({text} AS TIMESTAMPTZ) <> "
            f"CAST(TRY_CAST({text} AS TIMESTAMP) AS TIMESTAMPTZ), false)",
            f"has a time zone offset: a {column_type} would drop it, not apply it "
            "(load it into a TIMESTAMPTZ column, or write the time without offset)",
        ))  # fmt: skip
    if column_type in ("TIME", "TIMESTAMP", "TIMESTAMPTZ"):
        checks.append((
            f"regexp_matches({text}, {_SUB_MICROSECOND})",
            f"has more than 6 fractional second digits: a {column_type} keeps microseconds "
            "and would cut the rest",
        ))  # fmt: skip
    return checks
