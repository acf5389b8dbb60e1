"""extract end to end on the fixture warehouse: files read back by real readers."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from ferry.engine import count, extract
from ferry.manifest import read_manifest

from . import chosen_rows
from .helpers import (
    PII_KEY,
    ROWS,
    as_json,
    as_text,
    data_paths,
    decompressed,
    iso_z,
    read_records,
    read_text_table,
    warehouse_rows,
)

KEEP_ALL = {"email": "keep", "first_name": "keep", "last_name": "keep", "phone": "keep",
            "birth_date": "keep"}  # fmt: skip
DELIMITERS = {"csv": ",", "tsv": "\t"}


@pytest.mark.parametrize("compression", ["none", "gzip", "zip"])
@pytest.mark.parametrize("format_type", ["csv", "tsv"])
def test_text_files_hold_every_warehouse_value(make_plan, warehouse, format_type, compression):
    fmt = {"type": format_type, "compression": compression, "rows_per_file": 100,
           "formula_guard": False}  # fmt: skip  # the guard has its own tests
    plan = make_plan(pii=KEEP_ALL, format=fmt)
    manifest = extract(plan, source=warehouse, pii_key=None)
    rows = []
    for path in data_paths(plan.staging_dir, manifest):
        header, file_rows = read_text_table(path, DELIMITERS[format_type])
        assert header == [column.name for column in plan.columns]
        rows += file_rows
    expected = [[as_text(value) for value in row] for row in warehouse_rows(warehouse, plan)]
    assert rows == expected
    assert len(rows) == ROWS


@pytest.mark.parametrize(
    ("format_type", "compression", "pretty"),
    [("json", "none", False), ("json", "gzip", True), ("jsonl", "none", False),
     ("jsonl", "zip", False)],
)  # fmt: skip
def test_json_files_hold_every_warehouse_value(
    make_plan, warehouse, format_type, compression, pretty
):
    fmt = {"type": format_type, "compression": compression, "rows_per_file": 100, "pretty": pretty}
    plan = make_plan(pii=KEEP_ALL, format=fmt)
    manifest = extract(plan, source=warehouse, pii_key=None)
    records = []
    for path in data_paths(plan.staging_dir, manifest):
        records += read_records(path, format_type)
    names = [column.name for column in plan.columns]
    expected = [
        dict(zip(names, map(as_json, row), strict=True)) for row in warehouse_rows(warehouse, plan)
    ]
    assert records == expected
    assert [list(record) for record in records[:1]] == [names]


@pytest.mark.parametrize("compression", ["none", "zstd", "gzip"])
def test_parquet_files_keep_types_and_values(make_plan, warehouse, compression):
    fmt = {"type": "parquet", "compression": compression, "rows_per_file": 100}
    plan = make_plan(pii=KEEP_ALL, format=fmt)
    manifest = extract(plan, source=warehouse, pii_key=None)
    paths = data_paths(plan.staging_dir, manifest)
    records = [record for path in paths for record in read_records(path, "parquet")]
    names = [column.name for column in plan.columns]
    expected = [dict(zip(names, row, strict=True)) for row in warehouse_rows(warehouse, plan)]
    assert records == expected
    schema = pq.read_schema(paths[0])
    assert str(schema.field("lifetime_value").type) == "decimal128(12, 2)"
    assert str(schema.field("updated_at").type) == "timestamp[us]"
    assert str(schema.field("birth_date").type) == "date32[day]"


@pytest.mark.parametrize(
    ("format_type", "empty"),
    [("json", []), ("jsonl", []), ("tsv", b"profile_id\tstate\n"), ("parquet", [])],
)
def test_empty_results_of_every_format(make_plan, warehouse, format_type, empty):
    where = [{"field": "state", "op": "eq", "value": "nowhere"}]
    plan = make_plan(fields=["profile_id", "state"], filters={"where": where},
                     format={"type": format_type})  # fmt: skip
    manifest = extract(plan, source=warehouse, pii_key=None)
    (path,) = data_paths(plan.staging_dir, manifest)
    if format_type == "tsv":
        assert decompressed(path) == empty
    else:
        assert read_records(path, format_type) == empty
    if format_type == "parquet":
        assert pq.read_schema(path).names == ["profile_id", "state"]


def test_csv_lines_end_with_lf_and_quote_only_when_needed(make_plan, warehouse):
    plan = make_plan(pii=KEEP_ALL, fields=["profile_id", "notes"])
    manifest = extract(plan, source=warehouse, pii_key=None)
    text = decompressed(data_paths(plan.staging_dir, manifest)[0]).decode("utf-8")
    notes = [row[1] for row in warehouse_rows(warehouse, plan)]
    assert text.count("\r") == sum((note or "").count("\r") for note in notes)
    assert re.search(r"\n\d+,plain\n", text)  # no quotes around plain values
    assert '"comma, inside"' in text and '"quote "" inside"' in text


def test_csv_keeps_null_apart_from_empty_string(make_plan, warehouse):
    plan = make_plan(pii=KEEP_ALL, fields=["profile_id", "notes", "city"])
    manifest = extract(plan, source=warehouse, pii_key=None)
    options = pacsv.ConvertOptions(
        column_types={"notes": pa.string(), "city": pa.string()},
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    table = pacsv.read_csv(data_paths(plan.staging_dir, manifest)[0], convert_options=options)
    expected = warehouse_rows(warehouse, plan)
    assert table.column("notes").to_pylist() == [row[1] for row in expected]
    assert table.column("city").to_pylist() == [row[2] for row in expected]


@pytest.mark.parametrize(
    ("format_type", "compression"),
    [("csv", "none"), ("csv", "gzip"), ("tsv", "zip"), ("json", "gzip"), ("jsonl", "none"),
     ("parquet", "zstd")],
)  # fmt: skip
def test_two_runs_give_identical_files(make_plan, warehouse, tmp_path, format_type, compression):
    fmt = {"type": format_type, "compression": compression, "rows_per_file": 70}
    digests = []
    for attempt in ("first", "second"):
        plan = make_plan(pii={"email": "hash"}, format=fmt, staging=tmp_path / attempt)
        manifest = extract(plan, source=warehouse, pii_key=PII_KEY)
        digests.append([(staged.name, staged.sha256) for staged in manifest.files])
    assert digests[0] == digests[1]


def test_files_are_numbered_and_cut_by_rows(make_plan, warehouse):
    fmt = {"type": "csv", "compression": "gzip", "rows_per_file": 100, "name": "daily_backup"}
    plan = make_plan(format=fmt)
    manifest = extract(plan, source=warehouse, pii_key=None)
    names = [staged.name for staged in manifest.data_files]
    assert names == [f"daily_backup_0000{part}.csv.gz" for part in (1, 2, 3)]
    assert [staged.rows for staged in manifest.data_files] == [100, 100, ROWS - 200]
    assert manifest.rows == ROWS


def test_files_are_cut_by_bytes(make_plan, warehouse):
    fmt = {"type": "csv", "bytes_per_file": 2000}
    plan = make_plan(pii=KEEP_ALL, format=fmt)
    manifest = extract(plan, source=warehouse, pii_key=None)
    assert len(manifest.data_files) > 3
    assert all(staged.bytes <= 2000 for staged in manifest.data_files)
    rows = []
    for path in data_paths(plan.staging_dir, manifest):
        rows += read_text_table(path, ",")[1]
    assert len(rows) == ROWS == sum(staged.rows for staged in manifest.data_files)


def test_rerun_replaces_what_an_earlier_try_left(make_plan, warehouse):
    plan = make_plan(format={"type": "csv", "rows_per_file": 50})
    extract(plan, source=warehouse, pii_key=None)
    (plan.staging_dir / "leftover.tmp").write_text("partial")
    plan = make_plan(format={"type": "csv", "rows_per_file": 200})
    manifest = extract(plan, source=warehouse, pii_key=None)
    on_disk = sorted(path.name for path in plan.staging_dir.iterdir())
    assert on_disk == sorted([staged.name for staged in manifest.files] + ["manifest.json"])
    assert read_manifest(plan.staging_dir) == manifest


def test_manifest_lists_files_digests_schema_and_run(make_plan, warehouse):
    plan = make_plan(fields=["profile_id", {"field": "city", "as": "City"}])
    manifest = extract(plan, source=warehouse, pii_key=None)
    assert manifest.job_run_id == "fixture_export.manual__2026-01-15"
    assert manifest.schema == [{"name": "profile_id", "type": "BIGINT"},
                               {"name": "City", "type": "VARCHAR"}]  # fmt: skip
    kinds = sorted(staged.kind for staged in manifest.files)
    assert kinds == ["data", "field_mapping", "schema"]
    for staged in manifest.files:
        path = plan.staging_dir / staged.name
        body = path.read_bytes()
        assert (staged.bytes, staged.sha256) == (len(body), hashlib.sha256(body).hexdigest())


def test_empty_result_writes_one_header_only_file(make_plan, warehouse, caplog):
    where = [{"field": "state", "op": "eq", "value": "nowhere"}]
    plan = make_plan(fields=["profile_id", "state"], filters={"where": where},
                     format={"type": "csv", "compression": "gzip"})  # fmt: skip
    with caplog.at_level(logging.INFO):
        manifest = extract(plan, source=warehouse, pii_key=None)
    (path,) = data_paths(plan.staging_dir, manifest)
    assert decompressed(path) == b"profile_id,state\n"
    assert manifest.rows == 0
    assert "empty" in caplog.text


def test_progress_and_summary_are_logged(make_plan, warehouse, caplog, monkeypatch):
    monkeypatch.setattr("ferry.engine.progress.LOG_EVERY_SECONDS", 0.0)
    plan = make_plan(format={"type": "csv", "rows_per_file": 100})
    monkeypatch.setattr("ferry.engine.query.BATCH_ROWS", 50)
    with caplog.at_level(logging.INFO, logger="ferry.engine"):
        extract(plan, source=warehouse, pii_key=None)
    assert f"of {ROWS:,} rows" in caplog.text and "rows/s, ETA" in caplog.text
    assert f"done: {ROWS:,} rows, 3 files" in caplog.text


def test_count_gives_rows_and_a_close_byte_estimate(make_plan, warehouse):
    where = [{"field": "state", "op": "in", "value": ["TX", "CA"]}]
    plan = make_plan(pii=KEEP_ALL, filters={"where": where})
    rows, estimate = count(plan, source=warehouse)
    manifest = extract(plan, source=warehouse, pii_key=None)
    assert rows == manifest.rows == len(warehouse_rows(warehouse, plan))
    assert 0.7 * manifest.bytes <= estimate <= 1.3 * manifest.bytes


def test_key_slices_change_nothing_in_the_output(make_plan, warehouse, tmp_path, monkeypatch):
    digests = []
    for slice_rows in (1_000_000, 37):
        monkeypatch.setattr("ferry.engine.query.SLICE_ROWS", slice_rows)
        plan = make_plan(format={"type": "csv", "rows_per_file": 90},
                         staging=tmp_path / str(slice_rows))  # fmt: skip
        manifest = extract(plan, source=warehouse, pii_key=None)
        digests.append([staged.sha256 for staged in manifest.files])
    assert digests[0] == digests[1]


LAST_IDS = 1000 + ROWS - 30  # the fixture's ids run from 1000; the last 30 stored reversed
LAST_FIRST = f"CASE WHEN profile_id > {LAST_IDS} THEN -profile_id ELSE profile_id END"
MOSTLY_IN_ORDER = f"profile_id > {LAST_IDS}, {LAST_FIRST}"


def rewritten(warehouse, target, order: str):
    """The fixture table's rows stored in another physical order."""
    import duckdb

    with duckdb.connect(str(target)) as con:
        con.execute(f"ATTACH '{warehouse}' AS source (READ_ONLY)")
        con.execute(
            f"CREATE TABLE customer_profile AS FROM source.customer_profile ORDER BY {order}"
        )
    return target


@pytest.mark.parametrize("slice_rows", [1_000_000, 37])
@pytest.mark.parametrize("held_bytes", [64 << 20, 2_000])
def test_how_rows_are_stored_changes_nothing_in_the_output(
    make_plan, warehouse, tmp_path, monkeypatch, slice_rows, held_bytes
):
    """Key order, reversed, and in order but for a few rows near the end: same bytes."""
    monkeypatch.setattr("ferry.engine.query.SLICE_ROWS", slice_rows)
    monkeypatch.setattr("ferry.engine.query.STORED_ORDER_MAX_BYTES", held_bytes)
    stored = {
        "reversed": warehouse,
        "in_key_order": rewritten(warehouse, tmp_path / "ordered.duckdb", "profile_id"),
        "mostly_in_order": rewritten(
            warehouse,
            tmp_path / "mostly.duckdb",
            f"profile_id > {1000 + ROWS - 30}, profile_id DESC",
        ),
    }
    digests = {}
    for name, path in stored.items():
        plan = make_plan(format={"type": "csv", "rows_per_file": 90}, staging=tmp_path / name)
        manifest = extract(plan, source=path, pii_key=None)
        digests[name] = [staged.sha256 for staged in manifest.files]
    assert digests["reversed"] == digests["in_key_order"] == digests["mostly_in_order"]


def test_a_table_stored_in_key_order_is_not_sorted_again(
    make_plan, warehouse, tmp_path, monkeypatch
):
    from ferry.engine import query

    monkeypatch.setattr(query, "SLICE_ROWS", 37)
    sorted_slices = []
    real = query.sliced_query

    def spy(select, bounds=(None, None), limit=None, *, ordered=True):
        sorted_slices.append(ordered)
        return real(select, bounds, limit, ordered=ordered)

    monkeypatch.setattr(query, "sliced_query", spy)
    for name, order in (("ordered", "profile_id"), ("mostly", MOSTLY_IN_ORDER)):
        sorted_slices.clear()
        plan = make_plan(format={"type": "csv"}, staging=tmp_path / name)
        extract(plan, source=rewritten(warehouse, tmp_path / f"{name}.duckdb", order), pii_key=None)
        if name == "ordered":
            assert sorted_slices and True not in sorted_slices[1:]  # [0] reads the schema
        else:  # the disorder is in the last slice: read as stored, then again sorted
            assert sorted_slices[1:].count(True) == 1 and sorted_slices[-1] is True


# --- Timestamps: the same UTC text on a machine in any time zone ----------------------


@pytest.fixture(scope="module")
def visits_warehouse(tmp_path_factory):
    return chosen_rows.build_warehouse(tmp_path_factory.mktemp("chosen") / "visits.duckdb")


TIMES = ["visit_id", "seen_at", "seen_tz"]


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_timestamps_are_iso_utc_text_whatever_the_machines_time_zone(
    tmp_path, visits_warehouse, zone
):
    """seen_at (TIMESTAMP, naive UTC) and seen_tz (TIMESTAMPTZ): one instant, one text."""
    project = chosen_rows.build_project(tmp_path)
    with chosen_rows.machine_time_zone(zone):
        csv_plan = chosen_rows.plan_of(project, tmp_path / "csv", fields=TIMES)
        rows = chosen_rows.delivered(csv_plan, visits_warehouse)
        jsonl_plan = chosen_rows.plan_of(
            project, tmp_path / "jsonl", fields=TIMES, format={"type": "jsonl"}
        )
        manifest = extract(jsonl_plan, source=visits_warehouse, pii_key=None)
    expected = {key: iso_z(seen) if seen else "" for key, seen in chosen_rows.SEEN.items()}
    assert expected[2] == "2026-03-10T00:00:00Z"  # whole seconds: no fraction, still Z
    assert [(int(r["visit_id"]), r["seen_at"], r["seen_tz"]) for r in rows] == [
        (key, text, text) for key, text in expected.items()
    ]
    records = read_records(data_paths(jsonl_plan.staging_dir, manifest)[0], "jsonl")
    assert [(r["visit_id"], r["seen_at"], r["seen_tz"]) for r in records] == [
        (key, text or None, text or None) for key, text in expected.items()
    ]


@pytest.mark.parametrize(("format_type", "compression"), [("csv", "gzip"), ("json", "none"),
                                                          ("parquet", "zstd")])  # fmt: skip
def test_a_machine_in_another_time_zone_writes_the_same_files(
    tmp_path, visits_warehouse, format_type, compression
):
    project = chosen_rows.build_project(tmp_path)
    fmt = {"type": format_type, "compression": compression}
    digests = {}
    for zone in ("UTC", "America/Los_Angeles"):
        with chosen_rows.machine_time_zone(zone):
            plan = chosen_rows.plan_of(project, tmp_path / zone, fields=TIMES, format=fmt)
            manifest = extract(plan, source=visits_warehouse, pii_key=None)
        paths = data_paths(plan.staging_dir, manifest)
        digests[zone] = [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]
    assert digests["UTC"] == digests["America/Los_Angeles"]
    if format_type == "parquet":
        table = pq.read_table(paths[0])
        assert str(table.schema.field("seen_tz").type) == "timestamp[us, tz=UTC]"
        expected = [seen.replace(tzinfo=dt.UTC) if seen else None
                    for seen in chosen_rows.SEEN.values()]  # fmt: skip
        assert table.column("seen_tz").to_pylist() == expected


# --- PII values and WHERE values bound in one query -----------------------------------

VISIT_PII = {
    "email": {"action": "hash", "normalize": True},
    "phone": {"action": "mask", "keep_last": 4},
    "state": "tokenize",
}
VISIT_FILTERS = {
    "window": {"column": "seen_at"},
    "where": [{"field": "state", "op": "in", "value": ["TX", "NY"]},
              {"field": "visit_id", "op": "gt", "value": 3}],
}  # fmt: skip


def hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("native", ["on", "off"])  # the C HMAC binds one value, SQL's two
@pytest.mark.parametrize("slice_rows", [1_000_000, 2])  # slices bind their key bounds last
def test_hashed_and_masked_columns_with_bound_where_values_and_a_window(
    tmp_path, visits_warehouse, monkeypatch, native, slice_rows
):
    from ferry.run_info import RunInfo

    monkeypatch.setenv("FERRY_NATIVE_HMAC", native)
    monkeypatch.setattr("ferry.engine.query.SLICE_ROWS", slice_rows)
    start = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    run = RunInfo("visits", "scheduled__x", data_interval_start=start,
                  data_interval_end=start + dt.timedelta(days=1))  # fmt: skip
    plan = chosen_rows.plan_of(
        chosen_rows.build_project(tmp_path), tmp_path / "staging", run,
        fields=["visit_id", "email", "phone", "state"], pii=VISIT_PII, filters=VISIT_FILTERS,
        format={"type": "csv", "formula_guard": False},  # the guard has its own tests
    )  # fmt: skip
    rows = chosen_rows.delivered(plan, visits_warehouse, pii_key=PII_KEY)

    token_key = hmac.new(PII_KEY, b"ferry:tokenize:v1", hashlib.sha256).digest()
    expected = [
        {
            "visit_id": str(visit_id),
            "email": hmac_hex(PII_KEY, chosen_rows.email_of(visit_id).strip().lower()),
            "phone": f"+* ***-***-{visit_id:04d}",
            "state": "tok_" + hmac_hex(token_key, chosen_rows.STATES[visit_id])[:24],
        }
        for visit_id in (4, 5, 7)  # 10 March, in TX or NY, over 3
    ]
    assert rows == expected


def test_a_writer_failure_stops_the_read_and_is_the_error_the_user_sees(
    project, tmp_path, monkeypatch
):
    """The writer fails while the reader thread is inside DuckDB: the read stops first, so
    the failure itself is raised (not DuckDB's "connection is busy"), and no manifest."""
    import duckdb

    from ferry.engine import writers
    from ferry.plan import build_plan
    from ferry.run_info import RunInfo
    from ferry.spec import models
    from ferry.staging import run_location

    path = tmp_path / "big.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE big AS SELECT i AS id, i * 3 AS n FROM range(2000000) t(i)")
    columns = {"id": models.ColumnSpec(type="BIGINT"), "n": models.ColumnSpec(type="BIGINT")}
    project.tables["big"] = models.TableSpec(key="id", columns=columns)
    project.exports["big"] = models.ExportSpec.model_validate({
        "id": "big", "name": "Big", "source": {"table": "big"}, "format": {"type": "csv"},
        "destinations": [{"type": "download"}],
    })  # fmt: skip
    location = run_location(str(tmp_path / "s"), "big", "manual__1")
    plan = build_plan(project, "big", RunInfo("big", "manual__1"), location)
    written = writers.TextFile.write

    def full_disk(self, batch):
        if self.rows:
            raise OSError(28, "No space left on device")
        written(self, batch)

    monkeypatch.setattr(writers.TextFile, "write", full_disk)
    try:
        for _ in range(3):
            with pytest.raises(OSError, match="No space left"):
                extract(plan, source=path, pii_key=None)
            assert list((tmp_path / "s").glob("**/manifest.json")) == []
    finally:
        project.tables.pop("big")
        project.exports.pop("big")
