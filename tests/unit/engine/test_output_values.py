"""Values JSON and CSV cannot carry as they are, written on purpose and read by real readers.

NaN and infinities are null in JSON; infinite dates and timestamps are null everywhere;
years outside 0001-9999 are ISO 8601 expanded years; DECIMALs over 15 digits and HUGEINT
are JSON strings; NUL bytes are dropped from CSV/TSV. Webhook bodies follow the same rules
whatever format the run was staged in.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ferry.delivery.records import iter_records, json_text
from ferry.engine import extract, preview, validate
from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.spec import models
from ferry.staging import run_location

from .helpers import data_paths, decompressed

TYPES = {
    "id": "BIGINT", "ratio": "DOUBLE", "amount": "DECIMAL(38,10)", "price": "DECIMAL(12,2)",
    "day": "DATE", "at": "TIMESTAMP", "at_tz": "TIMESTAMPTZ", "note": "VARCHAR", "big": "HUGEINT",
}  # fmt: skip
WIDE = "123456789012345678901234567.1234567891"
STORED = [
    (1, "nan", WIDE, "1234567890.12", "0044-03-15 (BC)", "infinity", "infinity",
     "nul\x00byte", str(2**100)),
    (2, "inf", "-0.0000000001", "-0.50", "12026-05-06", "-infinity", "-infinity", "plain", "-5"),
    (3, "-inf", "1", "0", "infinity", "0001-12-31 (BC) 23:59:59.5", "2026-01-15 10:30:45+02",
     "x", "0"),
    (4, "1.5", None, None, "2026-01-15", "2026-01-15 10:30:45.25", None, None, None),
]  # fmt: skip
JSON_ROWS = [
    {"id": 1, "ratio": None, "amount": WIDE, "price": Decimal("1234567890.12"),
     "day": "-0043-03-15", "at": None, "at_tz": None, "note": "nul\x00byte", "big": str(2**100)},
    {"id": 2, "ratio": None, "amount": "-0.0000000001", "price": Decimal("-0.5"),
     "day": "+12026-05-06", "at": None, "at_tz": None, "note": "plain", "big": "-5"},
    {"id": 3, "ratio": None, "amount": "1.0000000000", "price": Decimal("0"), "day": None,
     "at": "0000-12-31T23:59:59.5Z", "at_tz": "2026-01-15T08:30:45Z", "note": "x", "big": "0"},
    {"id": 4, "ratio": Decimal("1.5"), "amount": None, "price": None, "day": "2026-01-15",
     "at": "2026-01-15T10:30:45.25Z", "at_tz": None, "note": None, "big": None},
]  # fmt: skip


@pytest.fixture(scope="module")
def odd_warehouse(tmp_path_factory):
    path = tmp_path_factory.mktemp("odd") / "odd.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        ddl = ", ".join(f'"{name}" {kind}' for name, kind in TYPES.items())
        con.execute(f"CREATE TABLE oddities ({ddl})")
        casts = ", ".join(f"CAST(? AS {t})" for t in TYPES.values())
        con.executemany(f"INSERT INTO oddities SELECT {casts}", STORED)
    return path


@pytest.fixture
def run_odd(project, odd_warehouse, tmp_path):
    columns = {name: models.ColumnSpec(type=kind) for name, kind in TYPES.items()}
    project.tables["oddities"] = models.TableSpec(key="id", columns=columns)

    def run(expectations=(), **fmt):
        spec = models.ExportSpec.model_validate({
            "id": "odd", "name": "Odd", "source": {"table": "oddities"}, "format": fmt,
            "destinations": [{"type": "download"}], "expectations": list(expectations),
        })  # fmt: skip
        project.exports["odd"] = spec
        location = run_location(str(tmp_path / "s"), "odd", "manual__1")
        plan = build_plan(project, "odd", RunInfo("odd", "manual__1"), location)
        manifest = extract(plan, source=odd_warehouse, pii_key=None)
        if expectations:
            return validate(plan, manifest)
        return data_paths(plan.staging_dir, manifest), manifest

    yield run
    project.tables.pop("oddities")
    project.exports.pop("odd", None)


def _strict_json(text: str):
    """Python's json refuses NaN and Infinity here, as every other JSON reader does."""

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse, parse_float=Decimal)


@pytest.mark.parametrize(
    ("format_type", "pretty"), [("json", False), ("json", True), ("jsonl", False)]
)
def test_json_files_are_json_by_strict_readers(run_odd, format_type, pretty):
    [path], _ = run_odd(type=format_type, pretty=pretty)
    text = path.read_text("utf-8")
    if format_type == "json":
        rows = _strict_json(text)
    else:
        rows = [_strict_json(line) for line in text.splitlines()]
    assert rows == JSON_ROWS


@pytest.mark.parametrize(("format_type", "delimiter"), [("csv", ","), ("tsv", "\t")])
def test_csv_drops_nul_and_writes_dates_as_iso(run_odd, format_type, delimiter):
    [path], _ = run_odd(type=format_type)
    text = decompressed(path).decode("utf-8")
    assert "\x00" not in text
    header, *rows = list(
        csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    )
    assert header == list(TYPES)
    assert [row[1] for row in rows] == ["nan", "inf", "-inf", "1.5"]
    assert [row[4] for row in rows] == ["-0043-03-15", "+12026-05-06", "", "2026-01-15"]
    assert [row[5] for row in rows] == ["", "", "0000-12-31T23:59:59.5Z", "2026-01-15T10:30:45.25Z"]
    assert [row[7] for row in rows] == ["nulbyte", "plain", "x", ""]
    assert rows[0][2] == WIDE


def test_parquet_keeps_types_and_nulls_infinite_dates(run_odd):
    [path], _ = run_odd(type="parquet")
    table = pq.read_table(path)
    assert table.column("at").slice(0, 2).to_pylist() == [None, None]  # row 3 is BC:
    assert table.column("at_tz").slice(0, 2).to_pylist() == [None, None]  # no Python date
    with duckdb.connect() as con:
        days = [con.execute("SELECT CAST(? AS DATE) - DATE '1970-01-01'", [row[4]]).fetchone()[0]
                for row in STORED]  # fmt: skip
    days[2] = None  # infinity
    assert table.column("day").cast(pa.int32()).to_pylist() == days
    assert table.column("amount").to_pylist()[0] == Decimal(WIDE)
    assert table.column("ratio").to_pylist()[3] == 1.5


@pytest.mark.parametrize("format_type", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_webhook_bodies_are_json_and_alike_from_every_staged_format(run_odd, format_type):
    paths, manifest = run_odd(type=format_type)
    records = [r for p in paths for r in iter_records(p, manifest.format, manifest.schema)]
    body = _strict_json(json_text({"records": records}))["records"]
    expected = [dict(row) for row in JSON_ROWS]
    for row in expected:
        row["price"] = None if row["price"] is None else Decimal(str(float(row["price"])))
        if format_type in ("csv", "tsv"):  # no null/'' distinction kept; NUL dropped
            row["note"] = (row["note"] or None) and row["note"].replace("\x00", "")
    assert body == expected


@pytest.mark.parametrize("format_type", ["csv", "json", "jsonl", "parquet"])
def test_expectations_read_the_values_back_from_every_format(run_odd, format_type):
    expectations = [
        {"expect": "not_null", "field": name, "on_failure": "warn"}
        for name in ("amount", "big", "day", "at", "ratio")
    ] + [{"expect": "row_count_between", "min": 4, "max": 4}]
    summary = run_odd(expectations, type=format_type)
    nulls = {r["field"]: r["unexpected_count"] for r in summary["results"] if r["field"]}
    assert nulls == {"amount": 1, "big": 1, "day": 1, "at": 2,
                     "ratio": 3 if format_type.startswith("json") else 1}  # fmt: skip
    assert summary["passed"]  # NaN counts as null to GX; JSON writes null for inf too


def test_preview_shows_dates_python_cannot_hold_as_the_text_files_do(
    run_odd, project, odd_warehouse, tmp_path
):
    run_odd(type="parquet")
    location = run_location(str(tmp_path / "p"), "odd", "manual__2")
    plan = build_plan(project, "odd", RunInfo("odd", "manual__2"), location)
    shown = preview(plan, source=odd_warehouse, pii_key=None)
    assert [row["day"] for row in shown][:2] == ["-0043-03-15", "+12026-05-06"]
    assert [row["at"] for row in shown][:3] == [None, None, "0000-12-31T23:59:59.5Z"]


EVERY_TYPE = {
    "id": "BIGINT", "t": "TIME", "u": "UUID", "b": "BLOB", "j": "JSON", "f": "FLOAT",
    "ui": "UBIGINT", "ti": "TINYINT", "us": "USMALLINT", "bo": "BOOLEAN", "tz": "TIMESTAMPTZ",
    "h": "HUGEINT", "d": "DECIMAL(18,3)",
}  # fmt: skip
EVERY_VALUE = ("1", "12:30:00.5", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\\x00\\xff=x",
               '{"a": [1, 2]}', "0.5", str(2**64 - 1), "-5", "65535", "true",
               "2026-01-01 00:00:00+00", str(-(2**127)), "123456789012345.678")  # fmt: skip


@pytest.mark.parametrize("format_type", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_every_allowed_type_is_written_and_read_back(project, tmp_path, format_type):
    warehouse = tmp_path / "types.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE every ({', '.join(f'{n} {t}' for n, t in EVERY_TYPE.items())})")
        casts = ", ".join(f"CAST(? AS {t})" for t in EVERY_TYPE.values())
        con.execute(f"INSERT INTO every SELECT {casts}", list(EVERY_VALUE))
        con.execute("INSERT INTO every (id) VALUES (2)")
    columns = {name: models.ColumnSpec(type=kind) for name, kind in EVERY_TYPE.items()}
    project.tables["every"] = models.TableSpec(key="id", columns=columns)
    expectations = [{"expect": "not_null", "field": n, "on_failure": "warn"} for n in EVERY_TYPE]
    spec = models.ExportSpec.model_validate({
        "id": "every", "name": "Every", "source": {"table": "every"},
        "format": {"type": format_type}, "destinations": [{"type": "download"}],
        "expectations": expectations,
    })  # fmt: skip
    project.exports["every"] = spec
    try:
        location = run_location(str(tmp_path / "s"), "every", "manual__1")
        plan = build_plan(project, "every", RunInfo("every", "manual__1"), location)
        manifest = extract(plan, source=warehouse, pii_key=None)
        summary = validate(plan, manifest)
        [path] = data_paths(plan.staging_dir, manifest)
        records = _strict_json(json_text(list(iter_records(path, format_type, manifest.schema))))
    finally:
        project.tables.pop("every"), project.exports.pop("every")
    assert [r["unexpected_count"] for r in summary["results"]] == [0] + [1] * 12
    first = records[0]
    assert first["ui"] == 2**64 - 1 and first["ti"] == -5 and first["bo"] is True
    assert first["h"] == str(-(2**127)) and first["d"] == "123456789012345.678"
    assert first["j"] == '{"a": [1, 2]}' and first["tz"] == "2026-01-01T00:00:00Z"
    assert records[1] == {"id": 2, **dict.fromkeys(list(EVERY_TYPE)[1:])}


@pytest.fixture
def mistyped(project, tmp_path):
    """A DuckDB table whose stored types are not the ones tables.yaml declares."""
    path = tmp_path / "mistyped.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE mistyped (id INTEGER, amount DOUBLE, day DATE, note VARCHAR)")
        con.execute("INSERT INTO mistyped VALUES (1, 2.0, DATE '2026-01-15', '7'), "
                    "(2, -3.0, NULL, NULL)")  # fmt: skip
    declared = {"id": "BIGINT", "amount": "BIGINT", "day": "TIMESTAMP", "note": "INTEGER"}
    columns = {name: models.ColumnSpec(type=kind) for name, kind in declared.items()}
    project.tables["mistyped"] = models.TableSpec(key="id", columns=columns)

    def run(fmt: dict, native: str, monkeypatch):
        monkeypatch.setenv("FERRY_NATIVE_LINES", native)
        spec = models.ExportSpec.model_validate({
            "id": "mistyped", "name": "Mistyped", "source": {"table": "mistyped"},
            "format": fmt, "destinations": [{"type": "download"}],
        })  # fmt: skip
        project.exports["mistyped"] = spec
        location = run_location(str(tmp_path / native), "mistyped", "manual__1")
        plan = build_plan(project, "mistyped", RunInfo("mistyped", "manual__1"), location)
        return extract(plan, source=path, pii_key=None), plan, path

    yield run
    project.tables.pop("mistyped")
    project.exports.pop("mistyped", None)


@pytest.mark.parametrize("format_type", ["csv", "jsonl"])
def test_columns_stored_as_another_type_are_written_as_declared(mistyped, format_type, monkeypatch):
    """The writers render by the declared type, in C and in SQL alike."""
    texts = {}
    for native in ("on", "off"):
        manifest, plan, _ = mistyped({"type": format_type}, native, monkeypatch)
        (path,) = data_paths(plan.staging_dir, manifest)
        texts[native] = path.read_text("utf-8")
    assert texts["on"] == texts["off"]
    if format_type == "csv":
        assert texts["on"] == ("id,amount,day,note\n1,2,2026-01-15T00:00:00Z,7\n2,-3,,\n")
    else:
        rows = [json.loads(line) for line in texts["on"].splitlines()]
        assert rows[0] == {"id": 1, "amount": 2, "day": "2026-01-15T00:00:00Z", "note": 7}


def test_a_stored_value_the_declared_type_cannot_hold_fails_naming_the_table(mistyped, monkeypatch):
    """Text under a declared INTEGER is refused, not written unquoted into a CSV."""
    from ferry.sources import SourceError

    with duckdb.connect(str(mistyped({"type": "csv"}, "on", monkeypatch)[2])) as con:
        con.execute("INSERT INTO mistyped VALUES (3, 1.0, NULL, '1,\"x\"' || chr(10) || '=cmd')")
    with pytest.raises(
        SourceError, match="table mistyped: a value in column note does not fit the type"
    ) as raised:
        mistyped({"type": "csv"}, "off", monkeypatch)
    assert "=cmd" not in str(raised.value) and raised.value.__cause__ is None  # no data in logs


def run_report(project, path, tmp_path, native: str) -> str:
    """A CSV report over mistyped (see the fixture), grouped by two mistyped columns."""
    spec = models.ExportSpec.model_validate({
        "id": "mistyped_report", "name": "Report", "kind": "report",
        "source": {"report": "mistyped", "group_by": ["note", "amount"],
                   "metrics": [{"name": "n", "count": "*"}]},
        "format": {"type": "csv"}, "destinations": [{"type": "download"}],
    })  # fmt: skip
    project.exports[spec.id] = spec
    location = run_location(str(tmp_path / f"report_{native}"), spec.id, "manual__1")
    plan = build_plan(project, spec.id, RunInfo(spec.id, "manual__1"), location)
    (path,) = data_paths(plan.staging_dir, extract(plan, source=path, pii_key=None))
    return path.read_text("utf-8")


def test_report_groups_are_written_as_declared_and_text_under_a_number_is_refused(
    project, mistyped, tmp_path, monkeypatch
):
    """Group columns come with their declared type too (C and SQL lines alike)."""
    from ferry.sources import SourceError

    path = mistyped({"type": "csv"}, "on", monkeypatch)[2]
    texts = {}
    for native in ("on", "off"):
        monkeypatch.setenv("FERRY_NATIVE_LINES", native)
        texts[native] = run_report(project, path, tmp_path, native)
    assert texts["on"] == texts["off"] == "note,amount,n\n7,2,1\n,-3,1\n"
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO mistyped VALUES (3, 1.0, NULL, '1,\"x\"' || chr(10) || '=cmd')")
    with pytest.raises(
        SourceError, match="table mistyped: a value in column note does not fit the type"
    ):
        run_report(project, path, tmp_path, "again")
    project.exports.pop("mistyped_report")
