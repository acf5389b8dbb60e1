"""Values made in Postgres itself (not copied from DuckDB) that break naive writers, in
every format, parsed back by real readers and compared with what Postgres holds.

The rules for Postgres types Ferry has no type of its own for (ferry.sources.postgres:
ferry_type, column_item): json and jsonb are their JSON text; arrays (of any rank) are
JSON arrays; a numeric without a precision is its exact digits as Postgres writes them
(NaN too), a VARCHAR; a uuid read as VARCHAR is its hex text.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from psycopg.rows import dict_row
from tests.unit.engine.helpers import NASTY, decompressed, iso_z, read_records

from ferry.engine import extract, preview
from ferry.sources import SourceError
from ferry.sources.postgres import PostgresSource

from .conftest import plan_for, project_with

pytestmark = pytest.mark.integration

TABLES = """\
tables:
  oddity:
    connection: pg_warehouse
    name: native.oddity
    key: id
    columns:
      id: {type: BIGINT}
      label: {type: VARCHAR}
      short: {type: VARCHAR}
      code: {type: VARCHAR}
      seen_at: {type: TIMESTAMPTZ}
      amount: {type: "DECIMAL(38,10)"}
      exact: {type: VARCHAR}
      doc: {type: JSON}
      docb: {type: JSON}
      tags: {type: JSON}
      grid: {type: JSON}
      stamps: {type: JSON}
      flag: {type: BOOLEAN}
      born: {type: DATE}
      ref: {type: VARCHAR}
      big: {type: VARCHAR}
"""
DDL = """
DROP SCHEMA IF EXISTS native CASCADE; CREATE SCHEMA native;
CREATE TABLE native.oddity (
    id bigint PRIMARY KEY, label text, short varchar(12), code char(4), seen_at timestamptz,
    amount numeric(38,10), exact numeric, doc json, docb jsonb, tags text[], grid int[],
    stamps timestamptz[], flag boolean, born date, ref uuid, big text)
"""
LABELS = [*NASTY, "tab\tand, comma\n\"all\" 'of' them", "\u00a0nbsp\u2028line sep\u200bzw"]
AMOUNTS = ["1234567890123456789012345678.0123456789", "-0.0000000001", "0", "-9999999999999"
           "999999999999999.9999999999", None, "42.5"]  # fmt: skip
EXACTS = ["3.14159265358979323846264338327950288419716939937510", "1e-30", "-0.000", "NaN",
          "123456789012345678901234567890123456789012345678901234567890", None]  # fmt: skip
DOCS = ['{"a": [1, "two", null],  "b": {"c": "d,e\\n\\"f\\""}}', "[]", '"just text"', "null",
        '{"emoji": "🎉", "tab": "\\t"}', None]  # fmt: skip
TAGS = [["a,b", 'c"d', None, "e\nf", "tab\there"], [], None, ["only"], ["", "NULL", "{}"]]
GRIDS = [[[1, 2], [3, 4]], [1, None, 3], None, [[[5]]], []]
ZONES = ["2026-03-10 12:34:56.789+02", "1999-12-31 23:59:59-08", "2026-06-01 00:00:00+00",
         "1970-01-01 00:00:00.000001+00", None, "2026-10-25 01:30:00+01"]  # fmt: skip
BIG = ('Ünïcode 🎉, "quoted"\n\ttabbed; ' * 4000) + "end"  # over 100 KB, many bytes a char


def row(i: int) -> tuple:
    pick = lambda values: values[i % len(values)]  # noqa: E731
    return (
        i, LABELS[i % len(LABELS)], pick(["", None, "Straße🎉", "a,b", '"q"', "x" * 12]),
        pick(["ab", None, "", "é"]), pick(ZONES), pick(AMOUNTS), pick(EXACTS), pick(DOCS),
        pick(DOCS[::-1]), pick(TAGS), pick(GRIDS), pick([None, [ZONES[0], ZONES[1]], []]),
        pick([True, False, None]), pick([dt.date(2026, 2, 28), None, dt.date(1, 1, 1)]),
        pick([None, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]), BIG if i == 7 else pick(["", None]),
    )  # fmt: skip


ROWS = [row(i) for i in range(1, 61)]


@pytest.fixture(scope="module")
def oddity(postgres):
    postgres.execute(DDL)
    with psycopg.connect(postgres.uri) as conn:
        marks = ", ".join(["%s"] * len(ROWS[0]))
        conn.cursor().executemany(f"INSERT INTO native.oddity VALUES ({marks})", ROWS)
    return PostgresSource(postgres.uri, "pg_warehouse")


def held(postgres) -> list[dict]:
    """What Postgres holds, read by psycopg: texts as Postgres writes them, lists as lists."""
    query = (
        "SELECT id, label, short, code, seen_at, amount::text AS amount, exact::text AS exact, "
        "doc::text AS doc, docb::text AS docb, tags, grid, stamps, flag, born, ref::text AS ref, "
        "big FROM native.oddity ORDER BY id"
    )
    with psycopg.connect(postgres.uri) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()


def as_text(name: str, value) -> str | None:
    """A value as Ferry's text formats write it: the contract's forms (README "Output")."""
    if value is None:
        return None
    if name == "seen_at":
        return iso_z(value.astimezone(dt.UTC).replace(tzinfo=None))
    if name == "stamps":
        return [iso_z(v.astimezone(dt.UTC).replace(tzinfo=None)) for v in value]
    if name in ("tags", "grid"):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def from_file(name: str, value) -> str | list | None:
    """A value read back from a file, in the form as_text gives."""
    if value is None:
        return None
    if name in ("tags", "grid", "stamps"):
        parsed = json.loads(value)
        if name == "stamps":  # Postgres' JSON of a timestamptz: ISO 8601 with its offset
            return [iso_z(dt.datetime.fromisoformat(v).astimezone(dt.UTC).replace(tzinfo=None))
                    for v in parsed]  # fmt: skip
        return parsed
    if isinstance(value, dt.datetime):
        return iso_z(value.astimezone(dt.UTC).replace(tzinfo=None))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def read_text_format(path, delimiter: str, names: list[str] | None = None) -> list[dict]:
    """A CSV/TSV file by pyarrow's reader: an empty field is null, a quoted "" is ''."""
    table = pa_csv.read_csv(
        pa.py_buffer(decompressed(path)),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names or held_names()},
            strings_can_be_null=True, quoted_strings_can_be_null=False, null_values=[""],
        ),
    )  # fmt: skip
    return table.to_pylist()


def held_names() -> list[str]:
    return [line.split(":")[0].strip() for line in TABLES.splitlines()[6:]]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_every_format_holds_what_postgres_holds(fmt, oddity, postgres, tmp_path):
    project = project_with(tmp_path, TABLES)
    unguarded = {"formula_guard": False} if fmt in ("csv", "tsv") else {}  # values as held
    definition = {"id": f"oddity_{fmt}", "source": {"table": "oddity"}, "fields": "all",
                  "format": {"type": fmt, "rows_per_file": 25, **unguarded}}  # fmt: skip
    plan = plan_for(project, tmp_path / "staging", definition)
    manifest = extract(plan, source=oddity, pii_key=None)
    written = []
    for staged in manifest.data_files:
        path = plan.staging_dir / staged.name
        if fmt in ("csv", "tsv"):
            written += read_text_format(path, "," if fmt == "csv" else "\t")
        elif fmt == "jsonl":  # lines end at LF only (str.splitlines would cut at U+2028)
            lines = decompressed(path).decode("utf-8").split("\n")
            written += [json.loads(line) for line in lines if line]
        else:
            written += read_records(path, fmt)
    expected = [{name: as_text(name, value) for name, value in found.items()}
                for found in held(postgres)]  # fmt: skip
    got = [{name: from_file(name, value) for name, value in found.items()} for found in written]
    assert manifest.rows == len(ROWS) == len(got)
    assert len(manifest.data_files) == 3
    for want, have in zip(expected, got, strict=True):
        assert have == want, want["id"]
    assert len(next(r["big"] for r in got if r["big"]).encode()) > 100_000


def test_the_typed_columns_keep_their_types_in_parquet(oddity, tmp_path):
    project = project_with(tmp_path, TABLES)
    definition = {"id": "oddity_types", "source": {"table": "oddity"}, "fields": "all",
                  "format": {"type": "parquet"}}  # fmt: skip
    manifest = extract(plan_for(project, tmp_path, definition), source=oddity, pii_key=None)
    schema = {field["name"]: field["type"] for field in manifest.schema}
    assert schema["amount"] == "DECIMAL(38,10)" and schema["seen_at"] == "TIMESTAMPTZ"
    assert schema["tags"] == schema["doc"] == "JSON" and schema["exact"] == "VARCHAR"


def test_preview_shows_the_first_rows_as_postgres_holds_them(oddity, postgres, tmp_path):
    project = project_with(tmp_path, TABLES)
    definition = {"id": "oddity_preview", "source": {"table": "oddity"}, "fields": "all",
                  "format": {"type": "jsonl"}}  # fmt: skip
    rows = preview(plan_for(project, tmp_path, definition), source=oddity, pii_key=None, limit=5)
    expected = [{name: as_text(name, value) for name, value in found.items()}
                for found in held(postgres)[:5]]  # fmt: skip
    assert [{k: from_file(k, v) for k, v in found.items()} for found in rows] == expected


def test_describe_names_the_ferry_types_and_finds_tables_as_from_does(oddity):
    with oddity.snapshot() as snapshot:
        shape = snapshot.describe("native.oddity")
        assert shape.key == "id"
        assert (shape.columns["amount"], shape.columns["exact"]) == ("DECIMAL(38,10)", "VARCHAR")
        assert shape.columns["grid"] == shape.columns["docb"] == "JSON"
        assert shape.source_types["grid"] == "_int4"
        with pytest.raises(SourceError, match="connection pg_warehouse: no table oddity"):
            snapshot.describe("oddity")  # native is not on the search path


FOREVER = """\
tables:
  forever:
    connection: pg_warehouse
    name: native.forever
    key: id
    columns:
      id: {type: BIGINT}
      ts: {type: TIMESTAMPTZ}
      tn: {type: TIMESTAMP}
      d: {type: DATE}
      n: {type: "DECIMAL(12,2)"}
"""


@pytest.fixture(scope="module")
def forever(oddity, postgres):
    postgres.execute(
        "CREATE TABLE native.forever (id bigint PRIMARY KEY, ts timestamptz, tn timestamp, "
        "d date, n numeric(12,2)); INSERT INTO native.forever VALUES "
        "(1, 'infinity', '-infinity', 'infinity', 1.5), "
        "(2, '2026-01-01 10:00+02', '2026-01-01', '-infinity', 2), (3, NULL, NULL, NULL, 'NaN')"
    )
    return oddity


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_infinite_dates_and_timestamps_are_null_as_from_duckdb(fmt, forever, tmp_path):
    project = project_with(tmp_path, FOREVER)
    where = {"where": [{"field": "id", "op": "lt", "value": 3}]}
    definition = {"id": f"forever_{fmt}", "source": {"table": "forever"}, "filters": where,
                  "fields": ["id", "ts", "tn", "d"], "format": {"type": fmt}}  # fmt: skip
    manifest = extract(plan_for(project, tmp_path, definition), source=forever, pii_key=None)
    path = tmp_path / f"forever_{fmt}" / "manual__2026-11-24" / manifest.data_files[0].name
    if fmt == "csv":
        rows = read_text_format(path, ",", ["id", "ts", "tn", "d"])
    else:
        rows = read_records(path, fmt)
    got = [{name: from_file(name, value) for name, value in found.items()} for found in rows]
    assert got == [
        {"id": "1", "ts": None, "tn": None, "d": None},
        {"id": "2", "ts": "2026-01-01T08:00:00Z", "tn": "2026-01-01T00:00:00Z", "d": None},
    ]


def test_a_value_the_declared_type_cannot_hold_fails_naming_the_table(forever, tmp_path):
    project = project_with(tmp_path, FOREVER)
    definition = {"id": "forever_nan", "source": {"table": "forever"}, "fields": ["id", "n"]}
    with pytest.raises(SourceError) as refused:
        extract(plan_for(project, tmp_path, definition), source=forever, pii_key=None)
    message = str(refused.value)
    assert message.startswith("connection pg_warehouse: table native.forever: a value ")
    assert "does not fit the type tables.yaml declares" in message
    assert '"nan"' not in message and refused.value.__cause__ is None  # the value is data
