"""Arrow dates and timestamps outside Python's years 1..9999 become the text the files write."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from ferry.arrow_values import python_safe, safe_batch

DAY_US = 86_400_000_000
EPOCH = dt.date(1970, 1, 1)
LAST_PYTHON_DAY = (dt.date(9999, 12, 31) - EPOCH).days
FIRST_PYTHON_DAY = (dt.date(1, 1, 1) - EPOCH).days
GREGORIAN_CYCLE = 146_097  # days in 400 years


def days(day: dt.date) -> int:
    return (day - EPOCH).days


def test_a_batch_python_can_hold_is_returned_as_it_is():
    batch = pa.RecordBatch.from_pydict(
        {"d": pa.array([dt.date(2026, 1, 1), None]), "n": pa.array([1, 2])}
    )
    assert safe_batch(batch) is batch
    assert safe_batch(batch).to_pylist()[0]["d"] == dt.date(2026, 1, 1)


def test_the_first_and_last_days_python_holds_stay_dates():
    column = pa.array([FIRST_PYTHON_DAY, LAST_PYTHON_DAY], pa.int32()).view(pa.date32())
    assert python_safe(column) is column
    assert column.to_pylist() == [dt.date(1, 1, 1), dt.date(9999, 12, 31)]


def test_dates_past_9999_and_before_year_1_become_expanded_iso_text():
    twelve_thousand = days(dt.date(2026, 3, 4)) + 25 * GREGORIAN_CYCLE  # 12026-03-04
    values = [LAST_PYTHON_DAY + 1, twelve_thousand, FIRST_PYTHON_DAY - 1, None, 0]
    column = pa.array(values, pa.int32()).view(pa.date32())

    text = python_safe(column)

    assert text.type == pa.string()
    assert text.to_pylist() == ["+10000-01-01", "+12026-03-04", "0000-12-31", None, "1970-01-01"]


def test_a_bc_date_gets_a_minus_sign():
    column = pa.array([FIRST_PYTHON_DAY - 2 * GREGORIAN_CYCLE], pa.int32()).view(pa.date32())
    assert python_safe(column).to_pylist() == ["-0799-01-01"]


def test_microsecond_timestamps_keep_their_time_and_trim_the_fraction():
    late = (LAST_PYTHON_DAY + 1) * DAY_US
    values = [late + 3_600_000_000 + 500_000, late + 59_000_000, 0]
    column = pa.array(values, pa.int64()).view(pa.timestamp("us"))

    assert python_safe(column).to_pylist() == [
        "+10000-01-01T01:00:00.5Z",
        "+10000-01-01T00:00:59Z",
        "1970-01-01T00:00:00Z",
    ]


def test_other_columns_are_left_alone():
    for column in (
        pa.array([2**62], pa.int64()).view(pa.timestamp("ns")),
        pa.array(["+99999-01-01"]),
        pa.array([None], pa.date32()),
    ):
        assert python_safe(column) is column


def test_a_batch_with_a_far_date_is_rebuilt_with_its_names():
    far = pa.array([LAST_PYTHON_DAY + 1], pa.int32()).view(pa.date32())
    batch = pa.RecordBatch.from_arrays([far, pa.array(["x"])], names=["when", "what"])

    safe = safe_batch(batch)

    assert safe.schema.names == ["when", "what"]
    assert safe.to_pylist() == [{"when": "+10000-01-01", "what": "x"}]
