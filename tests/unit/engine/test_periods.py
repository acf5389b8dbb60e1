"""format.chunk_by: one file set per period, named by it, rows in key order inside."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ferry.engine import periods, query
from ferry.manifest import Manifest
from ferry.sources.files import FilesSource
from ferry.sql import FILES

from .periods_fixture import (
    EXPECTED,
    TIMES,
    chunked_plan,
    event_project,
    event_warehouse,
    run_chunked,
)

NAME = re.compile(r"chunked_(?P<period>.+)_(?P<part>\d{5})\.csv")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return event_warehouse(tmp_path_factory.mktemp("events") / "events.duckdb")


@pytest.fixture
def project(tmp_path):
    return event_project(tmp_path)


def csv_ids(path: Path) -> list[int]:
    header, *rows = list(csv.reader(io.StringIO(path.read_text("utf-8"), newline="")))
    assert header == ["id", "note"]
    assert all(note == f"row {key}" for key, note in rows)
    return [int(key) for key, _ in rows]


def ids_by_file(manifest: Manifest, folder: Path) -> dict[str, list[int]]:
    return {staged.name: csv_ids(folder / staged.name) for staged in manifest.data_files}


def ids_by_period(manifest: Manifest, folder: Path) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for name, ids in ids_by_file(manifest, folder).items():
        found.setdefault(NAME.fullmatch(name)["period"], []).extend(ids)
    return found


@pytest.mark.parametrize("every", ["hour", "day", "week", "month"])
@pytest.mark.parametrize("column", ["created_at", "created_tz"])
def test_each_period_gets_its_own_files_in_time_then_key_order(
    project, warehouse, tmp_path, every, column
):
    fmt = {"chunk_by": {"column": column, "every": every}}
    manifest = run_chunked(project, warehouse, tmp_path / "out", fmt)
    staged = tmp_path / "out" / "chunked" / "r"
    assert ids_by_period(manifest, staged) == EXPECTED[every]
    names = [f.name for f in manifest.data_files]
    assert names == sorted(names)  # the labels sort in time order, undated last
    assert names == [f"chunked_{period}_00001.csv" for period in EXPECTED[every]]
    assert manifest.rows == len(TIMES)


def test_a_date_column_splits_as_its_dates(project, warehouse, tmp_path):
    fmt = {"chunk_by": {"column": "day", "every": "week"}}
    manifest = run_chunked(project, warehouse, tmp_path / "out", fmt)
    assert ids_by_period(manifest, tmp_path / "out" / "chunked" / "r") == EXPECTED["week"]


def test_rows_per_file_cuts_inside_each_period(project, warehouse, tmp_path):
    fmt = {"rows_per_file": 2, "chunk_by": {"column": "created_at", "every": "week"}}
    manifest = run_chunked(project, warehouse, tmp_path / "out", fmt)
    assert ids_by_file(manifest, tmp_path / "out" / "chunked" / "r") == {
        "chunked_2026-W01_00001.csv": [7],
        "chunked_2026-W04_00001.csv": [2],
        "chunked_2026-W05_00001.csv": [1, 4],
        "chunked_2026-W05_00002.csv": [5, 8],
        "chunked_2026-W05_00003.csv": [10],
        "chunked_2026-W06_00001.csv": [6],
        "chunked_undated_00001.csv": [3, 9],
    }
    assert [f.rows for f in manifest.data_files] == [1, 1, 2, 2, 1, 1, 2]


def test_key_slices_inside_a_period_keep_key_order_and_bytes(
    project, warehouse, tmp_path, monkeypatch
):
    fmt = {"chunk_by": {"column": "created_at", "every": "month"}}
    whole = run_chunked(project, warehouse, tmp_path / "whole", fmt)
    monkeypatch.setattr(query, "SLICE_ROWS", 2)  # each period read in many key slices
    sliced = run_chunked(project, warehouse, tmp_path / "sliced", fmt)
    assert [(f.name, f.sha256) for f in sliced.data_files] == [
        (f.name, f.sha256) for f in whole.data_files
    ]


def test_a_filter_leaves_only_its_periods(project, warehouse, tmp_path):
    fmt = {"chunk_by": {"column": "created_at", "every": "month"}}
    where = {"filters": {"where": [{"field": "id", "op": "gte", "value": 6}]}}
    manifest = run_chunked(project, warehouse, tmp_path / "out", fmt, **where)
    by_period = ids_by_period(manifest, tmp_path / "out" / "chunked" / "r")
    assert by_period == {"2025-12": [7], "2026-01": [8, 10], "2026-02": [6], "undated": [9]}


def test_an_empty_result_writes_one_header_only_file(project, warehouse, tmp_path):
    fmt = {"chunk_by": {"column": "created_at", "every": "week"}}
    where = {"filters": {"where": [{"field": "id", "op": "gt", "value": 100}]}}
    manifest = run_chunked(project, warehouse, tmp_path / "out", fmt, **where)
    assert ids_by_file(manifest, tmp_path / "out" / "chunked" / "r") == {"chunked_00001.csv": []}
    assert manifest.rows == 0


def test_parquet_periods_read_back_with_pyarrow(project, warehouse, tmp_path):
    fmt = {"type": "parquet", "chunk_by": {"column": "created_at", "every": "month"}}
    manifest = run_chunked(project, warehouse, tmp_path / "out", fmt)
    folder = tmp_path / "out" / "chunked" / "r"
    found = {f.name: pq.read_table(folder / f.name).column("id").to_pylist()
             for f in manifest.data_files}  # fmt: skip
    expected = {f"chunked_{p}_00001.parquet": ids for p, ids in EXPECTED["month"].items()}
    assert found == expected


def test_the_same_run_writes_the_same_bytes(project, warehouse, tmp_path):
    fmt = {"compression": "gzip", "chunk_by": {"column": "created_at", "every": "day"}}
    first = run_chunked(project, warehouse, tmp_path / "a", fmt)
    second = run_chunked(project, warehouse, tmp_path / "b", fmt)
    assert [(f.name, f.sha256) for f in first.data_files] == [
        (f.name, f.sha256) for f in second.data_files
    ]
    assert first.data_files[0].name == "chunked_2025-12-29_00001.csv.gz"


def test_files_source_writes_the_bytes_of_the_duckdb_table(project, warehouse, tmp_path):
    lake = tmp_path / "lake"
    (lake / "event").mkdir(parents=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for part in (0, 1):  # two files, each holding every other key
            path = lake / "event" / f"part-{part}.parquet"
            con.execute(f"COPY (SELECT * FROM event WHERE id % 2 = {part}) TO '{path}'")
    fmt = {"rows_per_file": 2, "chunk_by": {"column": "created_tz", "every": "week"}}
    from_duckdb = run_chunked(project, warehouse, tmp_path / "duckdb", fmt)
    project.tables["event"] = project.tables["event"].model_copy(
        update={"connection": "lake", "name": "event/*.parquet"}
    )
    source = FilesSource(lake, "lake")
    from_files = run_chunked(project, source, tmp_path / "files", fmt, dialect=FILES)
    assert [(f.name, f.sha256) for f in from_files.data_files] == [
        (f.name, f.sha256) for f in from_duckdb.data_files
    ]
    assert from_files.rows == len(TIMES)


def test_times_no_file_name_can_carry_are_undated(project, tmp_path):
    odd = ["infinity", "-infinity", "12026-01-05 00:00:00", "-0043-03-15 10:00:00",
           "2026-01-05 00:00:00", None, "9999-12-31 23:59:59.999999",
           "0001-01-01 00:00:00"]  # fmt: skip
    path = tmp_path / "odd.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE event (id BIGINT, created_at TIMESTAMP, created_tz TIMESTAMPTZ, "
                    "day DATE, note VARCHAR)")  # fmt: skip
        for key, text in enumerate(odd, 1):
            con.execute(
                "INSERT INTO event VALUES (?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMPTZ), "
                "CAST(CAST(? AS TIMESTAMP) AS DATE), ?)", [key, text, text, text, f"row {key}"]
            )  # fmt: skip
    expected = {"0001-01": [8], "2026-01": [5], "9999-12": [7], "undated": [1, 2, 3, 4, 6]}
    for column in ("created_at", "created_tz", "day"):
        fmt = {"chunk_by": {"column": column, "every": "month"}}
        manifest = run_chunked(project, path, tmp_path / column, fmt)
        assert ids_by_period(manifest, tmp_path / column / "chunked" / "r") == expected, column
    weekly = {"chunk_by": {"column": "created_at", "every": "week"}}
    manifest = run_chunked(project, path, tmp_path / "weekly", weekly)
    assert ids_by_period(manifest, tmp_path / "weekly" / "chunked" / "r") == {
        "0001-W01": [8], "2026-W02": [5], "9999-W52": [7], "undated": [1, 2, 3, 4, 6]
    }  # fmt: skip


def test_the_period_reaches_sql_only_as_bound_values(project, tmp_path):
    fmt = {"chunk_by": {"column": "created_tz", "every": "month"}}
    plan = chunked_plan(project, tmp_path, fmt)
    start = dt.datetime(2026, 1, 1)
    condition = periods.period_condition(plan.format.chunk_by, "TIMESTAMPTZ", start, plan)
    utc = (start.replace(tzinfo=dt.UTC), dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    assert condition.params == utc
    assert not re.search(r"\d{4}", condition.text)  # no date in the text
    # the column itself, so DuckDB skips row groups and Postgres uses an index
    assert condition.text.startswith('"created_tz" >= CAST(? AS TIMESTAMPTZ)')


@pytest.mark.parametrize(
    ("every", "start", "label", "end"),
    [
        ("hour", dt.datetime(2026, 1, 26, 23), "2026-01-26T23", dt.datetime(2026, 1, 27)),
        ("day", dt.date(2026, 2, 28), "2026-02-28", dt.date(2026, 3, 1)),
        ("week", dt.date(2024, 12, 30), "2025-W01", dt.date(2025, 1, 6)),
        ("month", dt.date(2026, 12, 1), "2026-12", dt.date(2027, 1, 1)),
        ("week", None, "undated", None),
    ],
)
def test_labels_and_ends_of_periods(every, start, label, end):
    assert periods.label(every, start) == label
    if start is not None:
        assert periods.period_end(every, start) == end
