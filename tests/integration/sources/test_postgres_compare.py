"""Filters on Postgres columns declared VARCHAR: any Postgres type (numeric, an enum) is
compared as its text, the rows the same as DuckDB's, and equality still uses an index."""

from __future__ import annotations

import datetime as dt
import json
import re

import duckdb
import psycopg
import pytest

from ferry.engine import extract
from ferry.sources.postgres import PostgresSource
from ferry.spec import models
from ferry.spec.catalogues import ColumnSpec
from ferry.sql import DUCKDB, POSTGRES, compile_condition

from .conftest import plan_for, project_with

pytestmark = pytest.mark.integration

TABLES = """\
tables:
  item:
    connection: pg_warehouse
    name: cmp.item
    key: id
    columns:
      id: {type: BIGINT}
      code: {type: VARCHAR}
      plain: {type: VARCHAR}
      amount: {type: VARCHAR}
      mood: {type: VARCHAR}
"""
PG_CONNECTION = "    connection: pg_warehouse\n"
ROWS = [(i, code, code, amount, mood) for i, (code, amount, mood) in enumerate([
    ("a", "12.5", "happy"), ("B", "3", "sad"), ("c", "12.50", "ok"), ("é", "100", "happy"),
    ("A", "-1", "sad"), ("b", "3", "ok"),
], 1)]  # fmt: skip


@pytest.fixture(scope="module")
def items(postgres, tmp_path_factory):
    """cmp.item in Postgres (amount numeric, mood an enum, code in ICU's collation, code and
    plain indexed) and in DuckDB (every column VARCHAR, as tables.yaml declares)."""
    values = ", ".join(f"({i}, '{c}', '{p}', {a}, '{m}')" for i, c, p, a, m in ROWS)
    postgres.execute(
        "DROP SCHEMA IF EXISTS cmp CASCADE; CREATE SCHEMA cmp; "
        "CREATE TYPE cmp.mood AS ENUM ('sad', 'ok', 'happy'); "
        'CREATE TABLE cmp.item (id bigint PRIMARY KEY, code text COLLATE "en-x-icu", '
        "plain varchar(20), amount numeric, mood cmp.mood); "
        "CREATE INDEX ON cmp.item (code); CREATE INDEX ON cmp.item (plain); "
        f"INSERT INTO cmp.item VALUES {values}; ANALYZE cmp.item"
    )
    path = tmp_path_factory.mktemp("cmp") / "store.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA cmp; CREATE TABLE cmp.item (id BIGINT, code VARCHAR, "
                    "plain VARCHAR, amount VARCHAR, mood VARCHAR)")  # fmt: skip
        con.executemany("INSERT INTO cmp.item VALUES (?, ?, ?, ?, ?)", ROWS)
    return path, PostgresSource(postgres.uri, "pg_warehouse")


CONDITIONS = [
    {"field": "amount", "op": "eq", "value": "12.5"},
    {"field": "amount", "op": "in", "value": ["12.5", "3"]},
    {"field": "amount", "op": "ne", "value": "3"},
    {"field": "amount", "op": "not_in", "value": ["3", "100"]},
    {"field": "amount", "op": "gt", "value": "12"},
    {"field": "mood", "op": "eq", "value": "happy"},
    {"field": "mood", "op": "in", "value": ["ok", "sad"]},
    {"field": "mood", "op": "between", "value": ["ok", "sad"]},
    {"field": "code", "op": "eq", "value": "b"},
    {"field": "code", "op": "gt", "value": "a"},
    {"field": "plain", "op": "lte", "value": "B"},
]


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: c["op"] + ":" + c["field"])
def test_a_varchar_column_of_any_postgres_type_is_filtered_as_in_duckdb(condition, items, tmp_path):
    found = []
    for dialect, source in zip((DUCKDB, POSTGRES), items, strict=True):
        tables = TABLES if dialect is POSTGRES else TABLES.replace(PG_CONNECTION, "")
        project = project_with(tmp_path / dialect.name, tables)
        definition = {"id": "cmp", "source": {"table": "item"}, "fields": "all",
                      "format": {"type": "jsonl"}, "filters": {"where": [condition]}}  # fmt: skip
        plan = plan_for(project, tmp_path / "s" / dialect.name, definition, dialect)
        manifest = extract(plan, source=source, pii_key=None)
        found.append([f.sha256 for f in manifest.data_files])
        rows = manifest.rows
    assert found[0] == found[1]
    assert 0 < rows < len(ROWS)


def index_conditions(postgres, condition: dict) -> list[str]:
    """The index conditions in Postgres' plan of the filter compiled as ferry.sql compiles
    it, a seq scan made as dear as it gets: an index that can serve it is used."""
    columns = {name: ColumnSpec(type="VARCHAR") for name in ("code", "plain")}
    where = compile_condition(
        models.Condition.model_validate(condition), columns, dt.datetime.now(dt.UTC), POSTGRES
    )
    with psycopg.connect(postgres.uri) as conn:
        conn.execute("SET enable_seqscan = off")
        text = where.text.replace("?", "%s")
        [(found,)] = conn.execute(
            f"EXPLAIN (FORMAT JSON) SELECT id FROM cmp.item WHERE {text}", where.params
        ).fetchall()
    return re.findall(r'"Index Cond": "([^"\\]*(?:\\.[^"\\]*)*)"', json.dumps(found))


@pytest.mark.parametrize("field", ["code", "plain"])
@pytest.mark.parametrize("op, value", [("eq", "b"), ("in", ["a", "b"])])
def test_equality_on_an_indexed_text_column_uses_its_index(op, value, field, items, postgres):
    conditions = index_conditions(postgres, {"field": field, "op": op, "value": value})
    assert any(field in found for found in conditions), conditions


def test_an_ordering_comparison_is_no_index_condition_so_the_test_above_can_fail(items, postgres):
    assert index_conditions(postgres, {"field": "code", "op": "gt", "value": "b"}) == []
