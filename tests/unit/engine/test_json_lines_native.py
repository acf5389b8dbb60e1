"""The C JSON renderer writes the bytes DuckDB's SQL writes (formats.line_sql), for every
column type tables.yaml allows and for values chosen to break it; and an export's files do
not depend on which of the two rendered them."""

from __future__ import annotations

import random
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from ferry.column_types import INTEGER_RANGES
from ferry.engine import formats, json_lines_native, lines_native
from ferry.spec.models import Format
from ferry.sql import quote

from .helpers import NASTY

FORMATS = ("jsonl", "json")
TEXTS = [
    *NASTY,
    "".join(chr(code) for code in range(0x20)) + "\x7f",
    *(chr(code) for code in range(0x20)),
    "\x7f", "/", "a/b\\/c", "\u2028\u2029", "\ufeffbom", "\U0001f600\U0001f1e9\U0001f1ea",
    "é" * 300, "x" * 5000, "\\", '\\"', "'", "null", "\ud7ff\ue000\uffff\U0010ffff",
]  # fmt: skip
NAMES = ['quote " name', "back\\slash", "apostrophe's", "naïve 名字 🎉", "new\nline\x01",
         "a:b,c{d}", "/slash", "\u2028", "plain"]  # fmt: skip
TIMESTAMPS = [
    "2026-01-15 10:30:45", "2026-01-15 10:30:45.5", "2026-01-15 10:30:45.123456",
    "2026-01-15 10:30:45.000001", "2026-01-15 10:30:45.1", "1970-01-01 00:00:00",
    "1969-12-31 23:59:59.999999", "0001-01-01 00:00:00", "0001-01-01 00:00:00.25",
    "0999-12-31 23:59:59", "0999-06-01 12:00:00.5", "1000-01-01 00:00:00",
    "9999-12-31 23:59:59", "9999-12-31 23:59:59.999999", "10000-01-01 00:00:00",
    "12026-05-06 07:08:09.01", "0001-12-31 (BC) 23:59:59.5", "0044-03-15 (BC) 12:00:00",
    "1000-01-01 (BC) 00:00:00", "0002-06-01 (BC) 00:00:00.5", "294247-01-10 04:00:54.775806",
    "290308-12-22 (BC) 00:00:00", "infinity", "-infinity", "2000-02-29 00:00:00",
    "1900-03-01 00:00:00",
]  # fmt: skip
DATES = [
    "2026-01-15", "0001-01-01", "0999-12-31", "1000-01-01", "9999-12-31", "10000-01-01",
    "0001-12-31 (BC)", "0044-03-15 (BC)", "0002-06-01 (BC)", "5881580-07-10",
    "5877642-06-25 (BC)", "infinity", "-infinity", "1970-01-01", "1969-12-31", "2000-02-29",
]  # fmt: skip
OTHER = {  # type: values DuckDB casts from text
    "FLOAT": ["0.3", "1.1", "-0.0", "nan", "inf", "-inf", "16777216", "1e-40", "3.4e38"],
    "DOUBLE": ["0.1", "1e20", "1e21", "1e-7", "0.00001", "-0.0", "nan", "inf", "-inf",
               "5e-324", "1.7976931348623157e308", "123456789012345678", "2.5"],
    "HUGEINT": [str(2**127 - 1), str(-(2**127)), "0", "-5", str(2**64)],
    "DECIMAL(38,10)": ["123456789012345678901234567.1234567891", "-0.0000000001", "1", "0"],
    "DECIMAL(16,2)": ["12345678901234.56", "-0.01", "0"],
    "DECIMAL(18,3)": ["999999999999999.999", "0.001"],
    "UUID": ["0b4e7c5a-1111-4c4c-8d8d-aaaaaaaaaaaa", "00000000-0000-0000-0000-000000000000"],
    "BLOB": ["\\x00ab\"\\xFF", "", "plain"],
    "TIME": ["10:30:45", "10:30:45.5", "00:00:00", "23:59:59.999999"],
    "JSON": ['{"a": [1, "x\\n"]}', "null", '"s"', "1.50", "[]"],
    "VARCHAR": TEXTS,
}  # fmt: skip


def sql_and_native(con, inner: str, fields: list[formats.Field], fmt: str, slices=False):
    """Every row's line from formats.line_sql and from the C renderer, as bytes."""
    by_sql = con.sql(f"SELECT {formats.line_sql(fmt, fields)} FROM ({inner}) AS rows").fetchall()
    table = con.sql(f"SELECT {json_lines_native.native_select(fields)} FROM ({inner}) AS rows")
    batches = table.to_arrow_table().to_batches()
    if slices:  # Arrow offsets != 0, and odd lengths
        batches = [b.slice(start, 7) for b in batches for start in range(0, b.num_rows, 7)]
    native = []
    for batch in batches:
        native += json_lines_native.render(batch, fields, fmt).column(0).to_pylist()
    return [row[0].encode() for row in by_sql], [line.encode() for line in native]


def typed_table(con, name: str, columns: dict[str, tuple[str, list]]) -> list[formats.Field]:
    """A table of text values cast to each column's type, nulls padding the short columns."""
    rows = max(len(values) for _, values in columns.values())
    ddl = ", ".join(f"{quote(alias)} {kind}" for alias, (kind, _) in columns.items())
    con.execute(f"CREATE TABLE {quote(name)} ({ddl})")
    casts = ", ".join(f"CAST(? AS {kind})" for kind, _ in columns.values())
    values = [
        [vals[row] if row < len(vals) else None for _, vals in columns.values()]
        for row in range(rows + 1)  # and a row of nulls
    ]
    con.executemany(f"INSERT INTO {quote(name)} SELECT {casts}", values)
    return [
        formats.Field(alias, NAMES[index % len(NAMES)] + str(index), kind)
        for index, (alias, (kind, _)) in enumerate(columns.items())
    ]


@pytest.fixture
def con():
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        yield con


def test_the_library_is_built(monkeypatch):
    monkeypatch.delenv("FERRY_NATIVE_JSON", raising=False)
    assert json_lines_native.available(), "build engine/json_lines.c (see its header)"


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("FERRY_NATIVE_JSON", "off")
    assert not json_lines_native.applies("jsonl")
    monkeypatch.setenv("FERRY_NATIVE_JSON", "on")
    assert json_lines_native.applies("json") and not json_lines_native.applies("json", True)
    assert not json_lines_native.applies("csv")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("slices", [False, True])
def test_every_allowed_type_and_hostile_value(con, fmt, slices):
    integers = {kind: [str(low), str(high), "0", "-1" if low else "1"]
                for kind, (low, high) in INTEGER_RANGES.items() if kind != "HUGEINT"}  # fmt: skip
    columns = {
        **{kind: (kind, values) for kind, values in OTHER.items()},
        **{kind: (kind, values) for kind, values in integers.items()},
        "BOOLEAN": ("BOOLEAN", ["true", "false", None, "true"]),
        "DATE": ("DATE", DATES),
        "TIMESTAMP": ("TIMESTAMP", TIMESTAMPS),
        "TIMESTAMPTZ": ("TIMESTAMPTZ", [f"{text}+00" if "inf" not in text else text
                                        for text in TIMESTAMPS] + ["2026-01-15 10:30:45+02"]),
        "DECIMAL(12,2)": ("DECIMAL(12,2)", ["1.50", "100", "-0.01", "9999999999.99", "0"]),
    }  # fmt: skip
    aliases = {f"c{index}": column for index, column in enumerate(columns.values())}
    fields = typed_table(con, "hostile", aliases)
    by_sql, native = sql_and_native(con, "SELECT * FROM hostile", fields, fmt, slices)
    assert len(by_sql) == len(TEXTS) + 1
    assert native == by_sql


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_narrow_decimal_shape(con, fmt):
    """DECIMALs of up to 15 digits are JSON numbers: the double DuckDB makes of them."""
    chosen = random.Random(16)
    arrays, fields = [], []
    for precision in range(1, 16):
        for scale in range(precision + 1):
            top = 10**precision - 1
            units = [top, -top, 0, 1, -1, *(10**k for k in range(precision))]
            units += [chosen.randint(-9, 9) * 10 ** chosen.randint(0, precision - 1)
                      for _ in range(20)]  # fmt: skip
            units += [chosen.randint(-top, top) for _ in range(100 - len(units))]
            values = [Decimal(unit).scaleb(-scale) for unit in units]
            arrays.append(pa.array(values, pa.decimal128(precision, scale)))
            kind = f"DECIMAL({precision},{scale})"
            fields.append(formats.Field(f"c{len(fields)}", kind, kind))
    con.register("shapes", pa.table(arrays, names=[field.alias for field in fields]))
    by_sql, native = sql_and_native(con, "SELECT * FROM shapes", fields, fmt)
    assert native == by_sql


@pytest.mark.parametrize("fmt", FORMATS)
def test_random_timestamps_and_dates_over_their_whole_range(con, fmt):
    chosen = random.Random(1)
    low, high = -9223372022400000000, 9223372036854775806  # DuckDB's first and last micros
    micros = [chosen.randint(low, high) for _ in range(3000)]
    micros += [chosen.randint(-(10**17), 10**17) for _ in range(3000)]  # years -1200..5100
    micros += [m - m % 1_000_000 for m in micros[:2000]]  # whole seconds
    days = [m // 86_400_000_000 for m in micros]
    stamps = pa.table({
        "c0": pa.array(micros, pa.timestamp("us")),
        "c1": pa.array(micros, pa.timestamp("us", "UTC")),
        "c2": pa.array(days, pa.date32()),
    })  # fmt: skip
    con.register("stamps", stamps)
    kinds = ["TIMESTAMP", "TIMESTAMPTZ", "DATE"]
    fields = [formats.Field(f"c{i}", kind, kind) for i, kind in enumerate(kinds)]
    by_sql, native = sql_and_native(con, "SELECT * FROM stamps", fields, fmt, slices=True)
    assert native == by_sql


def test_lines_are_one_large_string_column_the_writers_take(con):
    fields = typed_table(con, "t", {"c0": ("VARCHAR", ["a", None, "b"])})
    batch = con.sql(f"SELECT {json_lines_native.native_select(fields)} FROM t").to_arrow_table()
    lines = json_lines_native.render(batch.to_batches()[0].slice(1), fields, "jsonl")
    assert lines.schema.names == [formats.LINE_COLUMN]
    assert lines.column(0).type == pa.large_string() and lines.column(0).null_count == 0
    key = json_lines_native.escaped(fields[0].name)
    assert lines.column(0).to_pylist() == [f"{{{key}:null}}\n", f'{{{key}:"b"}}\n'] + [
        f"{{{key}:null}}\n"  # typed_table's row of nulls
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_character_to_escape_anywhere_in_a_long_string(con, fmt):
    """C looks at 8 bytes at a time: every position, next to multi-byte characters."""
    specials = [chr(code) for code in range(0x20)] + ['"', "\\", "\x7f", "\u2028", "é", "🎉"]
    texts = [
        filler * position + special + filler * (19 - position)
        for special in specials
        for position in range(20)
        for filler in ("a", "é")
    ]
    fields = typed_table(con, "long", {"c0": ("VARCHAR", texts), "c1": ("VARCHAR", texts[::-1])})
    by_sql, native = sql_and_native(con, "SELECT * FROM long", fields, fmt, slices=True)
    assert native == by_sql


def test_arrays_of_nulls_and_string_views():
    fields = [formats.Field("c0", "n", "INTEGER"), formats.Field("c1", "s", "VARCHAR")]
    views = pa.array(["a\n", None, "long enough to be out of line"], pa.string_view())
    typed_text = pa.nulls(3, pa.string())  # stored_otherwise: the declared types
    batch = pa.record_batch([pa.nulls(3), typed_text, views, typed_text], names=list("abcd"))
    lines = json_lines_native.render(batch.slice(1), fields, "jsonl").column(0).to_pylist()
    assert lines == ['{"n":null,"s":null}\n', '{"n":null,"s":"long enough to be out of line"}\n']
    assert json_lines_native.render(batch.slice(3), fields, "json").num_rows == 0


STORED_AS = {  # declared: stored; a DuckDB table is read as stored, not cast
    "VARCHAR": ["INTEGER", "DATE", "TIMESTAMP", "TIMESTAMPTZ", "DOUBLE", "UUID", "JSON",
                "DECIMAL(9,2)", "BOOLEAN", "HUGEINT", "VARCHAR"],
    "BIGINT": ["INTEGER", "UTINYINT", "HUGEINT", "DOUBLE", "DECIMAL(9,0)", "VARCHAR"],
    "DECIMAL(12,3)": ["DECIMAL(9,2)", "INTEGER", "DOUBLE", "DECIMAL(12,3)"],
    "TIMESTAMP": ["DATE", "TIMESTAMPTZ", "TIMESTAMP"],  # over VARCHAR: SQL fails too
    "TIMESTAMPTZ": ["TIMESTAMP", "DATE", "TIMESTAMPTZ"],
    "DATE": ["TIMESTAMP", "DATE"],
    "BOOLEAN": ["INTEGER", "VARCHAR", "BOOLEAN"],
    "DOUBLE": ["FLOAT", "INTEGER", "DECIMAL(9,2)"],
}  # fmt: skip
STORED_VALUES = {
    "INTEGER": "-5", "UTINYINT": "200", "HUGEINT": str(2**100), "DOUBLE": "0.1",
    "DECIMAL(9,2)": "-1.50", "DECIMAL(9,0)": "7", "DECIMAL(12,3)": "2.125", "DATE": "12026-05-06",
    "TIMESTAMP": "2026-01-15 10:30:45.5", "TIMESTAMPTZ": "2026-01-15 10:30:45+02",
    "VARCHAR": "2026-01-15", "UUID": "0b4e7c5a-1111-4c4c-8d8d-aaaaaaaaaaaa", "JSON": '{"a":1}',
    "BOOLEAN": "true", "FLOAT": "0.3",
}  # fmt: skip


@pytest.mark.parametrize("fmt", FORMATS)
def test_columns_stored_as_another_type_than_declared(con, fmt):
    """C renders a typed field only when DuckDB holds it as declared; else DuckDB's text."""
    pairs = [(declared, stored) for declared, stores in STORED_AS.items() for stored in stores]
    columns = {f"c{i}": (stored, [STORED_VALUES[stored]]) for i, (_, stored) in enumerate(pairs)}
    typed_table(con, "stored", columns)
    fields = [
        formats.Field(f"c{i}", f"{declared} over {stored}", declared)
        for i, (declared, stored) in enumerate(pairs)
    ]
    by_sql, native = sql_and_native(con, "SELECT * FROM stored", fields, fmt)
    assert native == by_sql
    assert b'"VARCHAR over TIMESTAMP":"2026-01-15 10:30:45.5"' in native[0]  # as stored


def test_lines_native_hands_json_and_jsonl_here_but_not_pretty_json(monkeypatch):
    monkeypatch.delenv("FERRY_NATIVE_JSON", raising=False)
    monkeypatch.delenv(lines_native.SWITCH, raising=False)
    fields = [formats.Field("c0", "a", "VARCHAR")]
    for kind in FORMATS:
        made = lines_native.for_format(Format(type=kind), fields)
        assert made is not None and made.items == json_lines_native.native_items(fields)
    assert lines_native.for_format(Format(type="json", pretty=True), fields) is None
    monkeypatch.setenv("FERRY_NATIVE_JSON", "off")
    assert lines_native.for_format(Format(type="jsonl"), fields) is None


@pytest.mark.parametrize("scale", [-2, 16])
def test_a_decimal_scale_duckdb_never_gives_is_refused(scale):
    """json_lines.c renders a scale from 0 to the precision, as DuckDB's DECIMALs have."""
    value = (12345).to_bytes(16, "little")
    array = pa.Array.from_buffers(pa.decimal128(15, scale), 1, [None, pa.py_buffer(value)])
    batch = pa.record_batch([array, pa.nulls(1, pa.string())], names=["d", "d_json"])
    fields = [formats.Field("d", "d", "DECIMAL(15,2)")]
    with pytest.raises(ValueError, match=r"arrived as Arrow decimal128\(15, -?\d+\)"):
        json_lines_native.render(batch, fields, "jsonl")
