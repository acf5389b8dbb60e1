"""CSV and TSV lines rendered in C are byte for byte the lines DuckDB's SQL renders.

The SQL renderer (formats.line_sql) is the reference: both render the same hostile table,
with every type tables.yaml allows, through the real plan, query and reader, and their
bytes must be equal, whole batches and slices of them (Arrow offsets not 0).
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from ferry.column_types import INTEGER_RANGES
from ferry.engine import extract, formats, lines_native, query
from ferry.engine.read import open_reader
from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.spec import models
from ferry.staging import run_location

from .helpers import NASTY, PII_KEY, data_paths

TEXTS = (*NASTY, "=1+1", "+1", "-1", "@SUM(A1)", "\tlead", "\rlead", "=", "'=quoted", " =x",
         "=a,b", '-"q"', "a\x00b", "\x00", "\x00=x", "x\x00,", "עברית RTL \u202etext",
         "emoji 👩‍👩‍👧 🎉", "ünï", "x\n", "\n", "\r", "\t", "a\tb,c")  # fmt: skip
TIMESTAMPS = (
    "2026-01-15 10:30:45", "2026-01-15 10:30:45.5", "2026-01-15 10:30:45.000001",
    "2026-01-15 10:30:45.999999", "2026-01-15 10:30:45.12", "1970-01-01 00:00:00",
    "1969-12-31 23:59:59.999999", "1969-12-31 23:59:59", "0001-01-01 00:00:00",
    "0001-01-01 00:00:00.000001", "0999-12-31 23:59:59.5", "0999-12-31 23:59:59",
    "1000-01-01 00:00:00", "9999-12-31 23:59:59", "9999-12-31 23:59:59.999999",
    "10000-01-01 00:00:00", "12026-05-06 07:08:09.1", "0001-12-31 (BC) 23:59:59.5",
    "0044-03-15 (BC) 12:00:00.25", "0001-01-01 (BC) 00:00:00", "infinity", "-infinity",
    "290309-12-22 (BC) 00:00:00", "294247-01-10 04:00:54.775806", "2000-02-29 12:00:00",
    "1900-03-01 00:00:00.1",
)  # fmt: skip
DATES = ("2026-01-15", "0001-01-01", "0999-12-31", "1000-01-01", "9999-12-31", "10000-01-01",
         "0044-03-15 (BC)", "0001-12-31 (BC)", "infinity", "-infinity", "1970-01-01",
         "1969-12-31", "2000-02-29", "5877642-06-25 (BC)", "5881580-07-10")  # fmt: skip


@pytest.fixture(autouse=True)
def _native_on(monkeypatch):
    """These tests are of the C path: on even when the suite runs with it switched off."""
    monkeypatch.delenv(lines_native.SWITCH, raising=False)


def _integers(kind: str) -> tuple:
    low, high = INTEGER_RANGES[kind]
    return (str(low), str(high), "0", "-1" if low else "1", str(high // 3))


VALUES = {
    "id": None,  # the key: the row's number
    "bo": ("true", "false"),
    **{f"n_{kind.lower()}": _integers(kind) for kind in INTEGER_RANGES},
    "f": ("nan", "inf", "-inf", "0.1", "-0.0", "1e30", "3.4028235e38", "1.5"),
    "r": ("0.1", "-2.5e-10", "nan"),
    "dbl": ("0.1", "-0.0", "1e300", "5e-324", "inf", "-inf", "nan", "123456.789", "1e16"),
    "de": ("-0.001", "0", "123456789012345.678", "-5"),
    "wide": (
        "123456789012345678901234567.1234567891",
        "-0.0000000001",
        "1",
        "0",
        "-1",
        "9999999999999999999999999999.9999999999",
        "-9999999999999999999999999999.9999999999",
        "0.0000000001",
        "18446744073.7095516160",
        "-18446744073.7095516161",
    ),
    "d38": (
        "99999999999999999999999999999999999999",
        "-99999999999999999999999999999999999999",
        "18446744073709551616",
        "-18446744073709551616",
        "18446744073709551615",
        "0",
        "-7",
    ),
    "frac": (".5", "-.0001", "0", ".9999", "-.9999"),
    "d4": ("5", "-5", "0", "9999"),
    "d9": ("1234567.89", "-0.01", "0", "-9999999.99"),
    "v": TEXTS,
    "mail": TEXTS,  # hashed: hex, never quoted nor guarded
    "day": DATES,
    "t": ("12:30:00.5", "00:00:00", "23:59:59.999999"),
    "at": TIMESTAMPS,
    "at_tz": (
        *TIMESTAMPS[:8],
        "2026-01-15 10:30:45+02",
        "2026-01-15 00:30:45.25-05:30",
        "infinity",
        "-infinity",
        "0044-03-15 (BC) 12:00:00+01",
        "10000-01-01 00:00:00.5+00",
    ),
    "u": ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"),
    "b": ("\\x00\\xff=x", "=abc", "a,b", "", '"q"'),
    "j": ('{"a": "x,y"}', '"=q"', '[1, "\\"q\\""]', "null", '"tab\\there"'),
}
TYPES = {
    "id": "BIGINT", "bo": "BOOLEAN", **{f"n_{kind.lower()}": kind for kind in INTEGER_RANGES},
    "f": "FLOAT", "r": "REAL", "dbl": "DOUBLE", "de": "DECIMAL(18,3)", "wide": "DECIMAL(38,10)",
    "d38": "DECIMAL(38,0)", "frac": "DECIMAL(4,4)", "d4": "NUMERIC(4,0)", "d9": "DECIMAL(9,2)",
    "v": "VARCHAR", "mail": "VARCHAR", "day": "DATE", "t": "TIME", "at": "TIMESTAMP",
    "at_tz": "TIMESTAMPTZ", "u": "UUID", "b": "BLOB", "j": "JSON",
}  # fmt: skip
HOSTILE_ROWS = 300
RANDOM_ROWS = 3000  # timestamps and dates anywhere in DuckDB's range


def _row(number: int) -> list:
    """Row number's values: each column cycles through all its values and a null, from its
    own starting point, so every value meets many others in one line."""
    row = [str(number)]
    for column, values in enumerate(list(VALUES.values())[1:]):
        pick = (number + 7 * column) % (len(values) + 1)
        row.append(None if pick == len(values) else values[pick])
    return row


@pytest.fixture(scope="module")
def hostile_warehouse(tmp_path_factory):
    import duckdb

    path = tmp_path_factory.mktemp("hostile") / "hostile.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'Asia/Kolkata'")  # output is UTC whatever the session's
        ddl = ", ".join(f'"{name}" {kind}' for name, kind in TYPES.items())
        con.execute(f"CREATE TABLE hostile ({ddl})")
        casts = ", ".join(f"CAST(? AS {kind})" for kind in TYPES.values())
        con.executemany(
            f"INSERT INTO hostile SELECT {casts}", [_row(n) for n in range(HOSTILE_ROWS)]
        )
        con.execute("SELECT setseed(0.16)")
        con.execute(f"""
            INSERT INTO hostile (id, "at", at_tz, day, n_bigint, mail)
            SELECT {HOSTILE_ROWS} + i, make_timestamp(m), make_timestamp(m),
                CAST(make_timestamp(m) AS DATE), m, 'r' || i
            FROM (SELECT i, CAST(CASE WHEN i % 2 = 0
                      THEN (random() * 2 - 1) * 9.2e18
                      ELSE (random() * 2 - 1) * 1e17 END AS BIGINT) AS m
                  FROM range({RANDOM_ROWS}) AS r(i))
        """)  # fmt: skip
    return path


@pytest.fixture
def hostile_plan(project, tmp_path):
    columns = {name: models.ColumnSpec(type=kind) for name, kind in TYPES.items()}
    project.tables["hostile"] = models.TableSpec(key="id", columns=columns)

    def make(**fmt):
        spec = models.ExportSpec.model_validate({
            "id": "hostile", "name": "Hostile", "source": {"table": "hostile"}, "format": fmt,
            "pii": {"mail": "hash"}, "destinations": [{"type": "download"}],
        })  # fmt: skip
        project.exports["hostile"] = spec
        location = run_location(str(tmp_path / "s"), "hostile", "manual__1")
        return build_plan(project, "hostile", RunInfo("hostile", "manual__1"), location)

    yield make
    project.tables.pop("hostile")
    project.exports.pop("hostile", None)


def _both(plan, warehouse) -> tuple[list[str], list[pa.RecordBatch], formats.NativeLines]:
    """The SQL renderer's lines, in key order, and the typed batches C renders."""
    fields = formats.fields_of(plan.columns, query.output_types(plan))
    lines = lines_native.for_format(plan.format, fields)
    assert lines is not None, "run scripts/setup: it compiles engine/csv_lines.c"
    with open_reader(plan, warehouse) as reader:
        inner = query.typed_select(plan, PII_KEY, reader.relation)
        by_sql = query.formatted_select(plan, inner, fields)
        expected = reader.rows(query.sliced_query(by_sql), batch_rows=1000).read_all()
        typed = query.formatted_select(plan, inner, fields, lines)
        batches = list(reader.rows(query.sliced_query(typed), batch_rows=1000))
    return expected.column(formats.LINE_COLUMN).to_pylist(), batches, lines


@pytest.mark.parametrize("format_type", ["csv", "tsv"])
@pytest.mark.parametrize("guard", [False, True])
def test_c_lines_are_the_sql_lines_byte_for_byte(
    hostile_plan, hostile_warehouse, format_type, guard
):
    plan = hostile_plan(type=format_type, formula_guard=guard)
    expected, batches, lines = _both(plan, hostile_warehouse)
    rendered = [line for batch in batches for line in lines.render(batch).column(0).to_pylist()]
    assert len(rendered) == HOSTILE_ROWS + RANDOM_ROWS
    mismatched = [
        (i, e, r) for i, (e, r) in enumerate(zip(expected, rendered, strict=True)) if e != r
    ]
    assert not mismatched[:5]
    assert "".join(rendered).encode() == "".join(expected).encode()


@pytest.mark.parametrize("format_type", ["csv", "tsv"])
def test_slices_of_a_batch_render_their_own_rows(hostile_plan, hostile_warehouse, format_type):
    plan = hostile_plan(type=format_type, formula_guard=True)
    expected, batches, lines = _both(plan, hostile_warehouse)
    first = batches[0]
    for start, length in [(1, 5), (7, 300), (999, 1), (13, 0), (0, 1000)]:
        part = lines.render(first.slice(start, length)).column(0)
        assert pa.types.is_large_string(part.type)
        assert part.to_pylist() == expected[start : start + length]


def test_every_column_kind_reaches_c_as_typed_or_as_text(hostile_plan):
    plan = hostile_plan(type="csv")
    fields = formats.fields_of(plan.columns, query.output_types(plan))
    items = dict(zip(TYPES, lines_native.for_format(plan.format, fields).items, strict=True))
    as_they_are = {name for name, item in items.items() if item.startswith('"c')}
    integers = {f"n_{kind.lower()}" for kind in INTEGER_RANGES} - {"n_hugeint"}
    decimals = {"de", "wide", "d38", "frac", "d4", "d9"}
    assert as_they_are == {"id", "bo", "day", "at", "at_tz", "v", "mail", *integers, *decimals}


@pytest.mark.parametrize(
    "fmt",
    [{"type": "csv"}, {"type": "tsv", "formula_guard": True}, {"type": "csv", "compression": "gzip",
     "formula_guard": True, "rows_per_file": 700, "bytes_per_file": 90_000}],
)  # fmt: skip
def test_export_files_are_the_same_with_and_without_it(
    hostile_plan, hostile_warehouse, fmt, monkeypatch
):
    digests = {}
    for native in ("on", "off"):
        monkeypatch.setenv(lines_native.SWITCH, native)
        plan = hostile_plan(**fmt)
        manifest = extract(plan, source=hostile_warehouse, pii_key=PII_KEY)
        paths = data_paths(plan.staging_dir, manifest)
        digests[native] = [(path.name, path.read_bytes()) for path in paths]
    assert len(digests["on"]) > (1 if "rows_per_file" in fmt else 0)
    assert digests["on"] == digests["off"]


def test_switched_off_by_environment(monkeypatch, hostile_plan):
    plan = hostile_plan(type="csv")
    fields = formats.fields_of(plan.columns, query.output_types(plan))
    assert lines_native.available()
    monkeypatch.setenv(lines_native.SWITCH, "off")
    assert not lines_native.available()
    assert lines_native.for_format(plan.format, fields) is None


def test_formats_without_a_native_renderer_render_in_sql(hostile_plan):
    plan = hostile_plan(type="parquet")
    fields = formats.fields_of(plan.columns, query.output_types(plan))
    assert lines_native.for_format(plan.format, fields) is None


def test_the_library_is_built_by_setup():
    assert lines_native.available(), "run scripts/setup: it compiles engine/csv_lines.c"


def test_without_the_library_lines_are_rendered_in_sql(monkeypatch, hostile_plan, tmp_path, caplog):
    plan = hostile_plan(type="tsv")
    fields = formats.fields_of(plan.columns, query.output_types(plan))
    monkeypatch.setattr(lines_native, "LIBRARY", tmp_path / "_csv_lines.so")
    lines_native._library.cache_clear()
    try:
        assert lines_native.for_format(plan.format, fields) is None
        assert "scripts/setup builds it" in caplog.text
    finally:
        lines_native._library.cache_clear()


@pytest.mark.parametrize("precision, scale", [(5, -2), (38, -100), (5, 10), (38, 39)])
def test_a_decimal_scale_duckdb_never_gives_is_refused_not_written_past_the_bound(precision, scale):
    """csv_lines.c sizes a DECIMAL at 42 bytes from a scale of 0 to the precision; a scale
    of -2 read as 254 wrote past its digits and past the bound."""
    value = (12345).to_bytes(16, "little")
    array = pa.Array.from_buffers(pa.decimal128(precision, scale), 1, [None, pa.py_buffer(value)])
    batch = pa.record_batch([array], names=["d"])
    with pytest.raises(TypeError, match=r"decimal128\(\d+, -?\d+\)"):
        lines_native.render_csv(batch, flags=(None,), delimiter=ord(","))
