"""Arrow dates and timestamps that Python cannot hold, as the text Ferry's files write.

Python's date stops at years 1 and 9999; DuckDB and Arrow go further (BC dates, year
12026). to_pylist() and to_pandas() raise on such values, so readers of staged Parquet
(webhook records, expectations) turn those columns into ISO 8601 text with an expanded
year, exactly as the text formats write them (ferry.engine.formats).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa


def safe_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with every date/timestamp column that Python cannot hold as text."""
    originals = batch.columns  # a new list of new wrappers on each access
    columns = [python_safe(column) for column in originals]
    if all(new is old for new, old in zip(columns, originals, strict=True)):
        return batch
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


_DAY_US = 86_400_000_000
_DAYS_RANGE = (-719_162, 2_932_896)  # 0001-01-01 and 9999-12-31, in days from 1970-01-01
_GREGORIAN_CYCLE_DAYS = 146_097  # 400 years: the calendar repeats exactly


def python_safe(column):
    """A date or timestamp column with values Python cannot hold, as ISO 8601 text."""
    arrow_type = column.type
    if pa.types.is_date32(arrow_type):
        counts, unit = column.view(pa.int32()), 1
    elif pa.types.is_timestamp(arrow_type) and arrow_type.unit == "us":
        counts, unit = column.view(pa.int64()), _DAY_US
    else:
        return column
    import pyarrow.compute as pc  # only when a Parquet file is read: 40 ms to import

    low, high = pc.min_max(counts).values()
    if low.as_py() is None or (
        _DAYS_RANGE[0] * unit <= low.as_py() and high.as_py() < (_DAYS_RANGE[1] + 1) * unit
    ):
        return column
    return pa.array([None if n is None else _iso(n, unit) for n in counts.to_pylist()], pa.string())


def _iso(count: int, unit: int) -> str:
    """Days (unit 1) or microseconds (unit a day) from 1970 as the files write them."""
    days, micros = divmod(count, unit) if unit > 1 else (count, None)
    cycles = days // _GREGORIAN_CYCLE_DAYS
    moment = dt.datetime(1970, 1, 1) + dt.timedelta(days=days - cycles * _GREGORIAN_CYCLE_DAYS)
    year = moment.year + 400 * cycles
    sign = "-" if year < 0 else ("+" if year > 9999 else "")
    text = f"{sign}{abs(year):04d}{moment.strftime('-%m-%d')}"
    if micros is None:
        return text
    moment += dt.timedelta(microseconds=micros)
    fraction = f".{moment.microsecond:06d}".rstrip("0").rstrip(".")
    return f"{text}{moment.strftime('T%H:%M:%S')}{fraction}Z"
