"""Staged data files read back as records (ferry.delivery.records), as the webhook sends them.

Files are written with the csv module, json and pyarrow, as the output contract describes
them (null as an empty CSV field, booleans as true/false), plain and gzip-compressed.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip
import io
import json
import math
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ferry.delivery.records import batched, iter_records, json_text, to_jsonable

SCHEMA = [
    {"name": "id", "type": "BIGINT"},
    {"name": "name", "type": "VARCHAR"},
    {"name": "price", "type": "DECIMAL(10,2)"},
    {"name": "balance", "type": "DECIMAL(38,10)"},
    {"name": "score", "type": "DOUBLE"},
    {"name": "active", "type": "BOOLEAN"},
    {"name": "seen_at", "type": "TIMESTAMP WITH TIME ZONE"},
    {"name": "big", "type": "HUGEINT"},
]
HEADER = [column["name"] for column in SCHEMA]
TEXT_ROWS = [
    ["1", 'Zoë "Zo", Müller', "19.99", "12345678901234567890.1234567890", "0.1", "true",
     "2026-01-15T10:30:45.25Z", "170141183460469231731687303715884105727"],
    ["2", "line one\nline two\r\nthree", "0.10", "-0.0000000001", "-1.5e-300", "false",
     "2026-01-15T00:00:00Z", "-1"],
    ["3", "", "", "", "", "", "", ""],
]  # fmt: skip
EXPECTED = [
    {"id": 1, "name": 'Zoë "Zo", Müller', "price": 19.99,
     "balance": "12345678901234567890.1234567890", "score": 0.1, "active": True,
     "seen_at": "2026-01-15T10:30:45.25Z", "big": "170141183460469231731687303715884105727"},
    {"id": 2, "name": "line one\nline two\r\nthree", "price": 0.1, "balance": "-0.0000000001",
     "score": -1.5e-300, "active": False, "seen_at": "2026-01-15T00:00:00Z", "big": "-1"},
    {name: None for name in HEADER} | {"id": 3},
]  # fmt: skip


def delimited(rows: list[list[str]], delimiter: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerows([HEADER, *rows])
    return buffer.getvalue().encode("utf-8")


def write(path: Path, data: bytes, *, compress: bool) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(("fmt", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_delimited_values_are_cast_back_by_the_manifest_schema(tmp_path, fmt, delimiter, compress):
    path = write(tmp_path / f"part.{fmt}", delimited(TEXT_ROWS, delimiter), compress=compress)
    records = list(iter_records(path, fmt, SCHEMA))
    assert records == EXPECTED
    assert [type(r["id"]) for r in records] == [int, int, int]
    assert records[0]["price"] == 19.99 and str(records[0]["price"]) == "19.99"


def test_without_a_schema_delimited_values_stay_text_and_empty_is_null(tmp_path):
    path = write(
        tmp_path / "part.csv", delimited(TEXT_ROWS[:1] + TEXT_ROWS[2:], ","), compress=True
    )
    first, empty = iter_records(path, "csv")
    assert first["id"] == "1" and first["active"] == "true" and first["price"] == "19.99"
    assert empty == {name: None for name in HEADER} | {"id": "3"}


def test_a_value_a_column_type_cannot_hold_is_passed_on_as_text(tmp_path):
    path = write(tmp_path / "part.csv", b"id,score\nabc,n/a\n", compress=False)
    schema = [{"name": "id", "type": "INTEGER"}, {"name": "score", "type": "DOUBLE"}]
    assert list(iter_records(path, "csv", schema)) == [{"id": "abc", "score": "n/a"}]


def test_a_zipped_csv_is_read_from_its_member(tmp_path):
    path = tmp_path / "part.csv.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("part.csv", delimited(TEXT_ROWS, ","))
    assert list(iter_records(path, "csv", SCHEMA)) == EXPECTED


JSON_ROWS = [
    {"id": 1, "name": 'Zoë "Zo"\nMüller', "price": 19.99, "balance": "1.5", "active": True,
     "seen_at": "2026-01-15T10:30:45.25Z", "tags": ["a", "b"]},
    {"id": 2, "name": None, "price": None, "balance": None, "active": False, "seen_at": None,
     "tags": []},
]  # fmt: skip


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_jsonl_records_come_back_as_written(tmp_path, compress):
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in JSON_ROWS) + "\n"
    path = write(tmp_path / "part.jsonl", text.encode(), compress=compress)
    assert list(iter_records(path, "jsonl", SCHEMA)) == JSON_ROWS


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_json_array_is_streamed_item_by_item_across_read_chunks(tmp_path, compress):
    # ~300 KB: items and long numbers straddle the 64 KiB reads
    rows = [
        {"id": i, "name": f"näme {i} " + "x" * (i % 97), "value": 1234567.891 + i}
        for i in range(3000)
    ]
    rows.append({"id": 3000, "name": "last", "value": 12345678901234567890})
    path = write(tmp_path / "part.json", json.dumps(rows, indent=1).encode(), compress=compress)
    assert list(iter_records(path, "json")) == rows


@pytest.mark.parametrize(
    ("text", "problem"),
    [('{"id": 1}', "must hold one array"), ('[{"id": 1}, {"id": 2}', "array is not closed")],
)
def test_a_json_file_that_is_not_one_closed_array_is_refused(tmp_path, text, problem):
    path = write(tmp_path / "part.json", text.encode(), compress=False)
    with pytest.raises(ValueError, match=problem):
        list(iter_records(path, "json"))


def test_parquet_values_follow_the_json_files_rules(tmp_path):
    utc = dt.UTC
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "price": pa.array([decimal.Decimal("19.99"), decimal.Decimal("0.10"), None],
                              pa.decimal128(10, 2)),
            "balance": pa.array([decimal.Decimal("12345678901234567890.1234567890"), None,
                                 decimal.Decimal("-0.0000000001")], pa.decimal128(38, 10)),
            "score": pa.array([0.1, math.inf, None], pa.float64()),
            "active": pa.array([True, False, None]),
            "seen_at": pa.array([dt.datetime(2026, 1, 15, 10, 30, 45, 250000, tzinfo=utc),
                                 None, dt.datetime(1970, 1, 1, tzinfo=utc)],
                                pa.timestamp("us", tz="UTC")),
            "day": pa.array([dt.date(2026, 1, 15), None, dt.date(1, 1, 1)], pa.date32()),
            "name": pa.array(['Zoë "Zo"\nMüller', None, ""]),
        }
    )  # fmt: skip
    path = tmp_path / "part.parquet"
    pq.write_table(table, path)

    first, second, third = iter_records(path, "parquet", SCHEMA)

    assert first == {
        "id": 1, "price": 19.99, "balance": decimal.Decimal("12345678901234567890.1234567890"),
        "score": 0.1, "active": True,
        "seen_at": dt.datetime(2026, 1, 15, 10, 30, 45, 250000, tzinfo=utc),
        "day": dt.date(2026, 1, 15), "name": 'Zoë "Zo"\nMüller',
    }  # fmt: skip
    assert type(first["price"]) is float  # at most 15 digits: a number, exactly
    assert second["price"] == 0.1 and second["score"] == math.inf
    assert [second[k] for k in ("id", "balance", "active", "seen_at", "day", "name")] == [
        2, None, False, None, None, None,
    ]  # fmt: skip
    assert third["id"] is None and third["price"] is None and third["name"] == ""
    assert third["balance"] == decimal.Decimal("-0.0000000001")
    assert third["seen_at"] == dt.datetime(1970, 1, 1, tzinfo=utc)


def test_parquet_dates_python_cannot_hold_come_back_as_iso_text(tmp_path):
    days = pa.array([-719163, 2932897], pa.int32()).cast(pa.date32())  # year 0 and 10000
    path = tmp_path / "part.parquet"
    pq.write_table(pa.table({"day": days}), path)
    assert [r["day"] for r in iter_records(path, "parquet")] == ["0000-12-31", "+10000-01-01"]


def test_an_unknown_format_is_refused(tmp_path):
    path = write(tmp_path / "part.xml", b"<rows/>", compress=False)
    with pytest.raises(ValueError, match="cannot read records from format 'xml'"):
        list(iter_records(path, "xml"))


def test_batched_cuts_into_full_batches_and_a_last_short_one():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched(range(6), 3)) == [[0, 1, 2], [3, 4, 5]]
    assert list(batched(iter(()), 3)) == []
    consumed = batched(iter(range(10**9)), 2)  # streams: never reads ahead of a batch
    assert next(consumed) == [0, 1]


def test_json_text_writes_nan_and_infinities_as_null_at_any_depth():
    payload = {"a": math.nan, "b": [1.5, math.inf, {"c": -math.inf}], "d": "NaN"}
    text = json_text(payload)
    assert json.loads(text) == {"a": None, "b": [1.5, None, {"c": None}], "d": "NaN"}
    assert "NaN" not in text.replace('"NaN"', "") and "Infinity" not in text


def test_json_text_keeps_text_as_text_and_passes_options():
    assert json_text({"name": "Zoë"}, separators=(",", ":")) == '{"name":"Zoë"}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.datetime(2026, 1, 15, 10, 30, 45), "2026-01-15T10:30:45Z"),  # naive is UTC
        (dt.datetime(2026, 1, 15, 10, 30, 45, 250000), "2026-01-15T10:30:45.25Z"),
        (
            dt.datetime(2026, 1, 15, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-01-15T10:30:00Z",
        ),
        (dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1))),
         "2025-12-31T23:30:00Z"),
        (dt.datetime(5, 3, 1, 0, 0, tzinfo=dt.UTC), "0005-03-01T00:00:00Z"),
        (dt.date(2026, 1, 15), "2026-01-15"),
        (dt.time(10, 30, 45, 5), "10:30:45.000005"),
        (decimal.Decimal("-1E-10"), "-0.0000000001"),
        (decimal.Decimal("12345678901234567890.1234567890"), "12345678901234567890.1234567890"),
        (b"\x00\xffbytes", "AP9ieXRlcw=="),
        (dt.timedelta(hours=1, milliseconds=500), 3600.5),
    ],
)  # fmt: skip
def test_to_jsonable_writes_values_as_the_files_do(value, expected):
    assert to_jsonable(value) == expected
    assert json.loads(json_text({"v": value})) == {"v": expected}


def test_to_jsonable_refuses_what_has_no_json_form():
    with pytest.raises(TypeError, match="set is not JSON serialisable"):
        to_jsonable({1})
