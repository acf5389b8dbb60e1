"""Exports read from a real PostgreSQL server write the same bytes as from DuckDB."""

from __future__ import annotations

import re

import pytest
from tests.unit.engine.helpers import PII_KEY, export_spec

from ferry.engine import extract
from ferry.plan import build_plan
from ferry.run_info import RunInfo
from ferry.sources.postgres import PostgresSource
from ferry.sql import POSTGRES, Sql
from ferry.staging import run_location

from .conftest import copy_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def profiles(postgres, warehouse_with_nasty_values, engine_project):
    spec = engine_project.tables["customer_profile"]
    copy_table(postgres, warehouse_with_nasty_values, "customer_profile", spec)
    return PostgresSource(postgres.uri, "pg_warehouse")


def plans(project, tmp_path, **overrides):
    spec = export_spec(**overrides)
    project.exports[spec.id] = spec
    run = RunInfo(export_id=spec.id, run_id="manual__2026-01-15")
    for dialect_name, dialect in (("duckdb", None), ("postgres", POSTGRES)):
        location = run_location(str(tmp_path / dialect_name), spec.id, run.safe_run_id)
        extra = {"dialect": dialect} if dialect else {}
        yield build_plan(project, spec.id, run, location, **extra)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet"])
def test_every_format_writes_the_same_bytes_from_postgres_as_from_duckdb(
    fmt, profiles, warehouse_with_nasty_values, engine_project, tmp_path
):
    where = [{"field": "state", "op": "in", "value": ["TX", "CA", "x' OR 1=1 --"]}]
    duck_plan, pg_plan = plans(
        engine_project, tmp_path, fields="all", pii={"email": "hash", "phone": "mask"},
        format={"type": fmt, "rows_per_file": 70}, filters={"where": where},
    )  # fmt: skip
    from_duckdb = extract(duck_plan, source=warehouse_with_nasty_values, pii_key=PII_KEY)
    from_postgres = extract(pg_plan, source=profiles, pii_key=PII_KEY)
    assert from_postgres.rows == from_duckdb.rows > 0
    digests = [[(f.name, f.sha256) for f in m.data_files] for m in (from_duckdb, from_postgres)]
    assert digests[0] == digests[1]


def test_filter_values_are_bound_and_the_pii_key_never_reaches_postgres(
    profiles, postgres, engine_project, tmp_path
):
    where = [{"field": "state", "op": "eq", "value": "x' OR 1=1 --"}]
    _, pg_plan = plans(
        engine_project, tmp_path, fields=["profile_id", "email"], pii={"email": "hash"},
        filters={"where": where},
    )  # fmt: skip
    manifest = extract(pg_plan, source=profiles, pii_key=PII_KEY)
    log = postgres.log()
    assert manifest.rows == 0
    assert "COPY (SELECT" in log and "REPEATABLE READ, READ ONLY" in log
    statements = [line for line in log.splitlines() if "statement:" in line or "execute" in line]
    assert not any("x' OR 1=1" in line for line in statements)  # only as a bound parameter
    assert PII_KEY.decode() not in log


def test_a_bound_value_is_read_once_per_query_not_once_per_row(profiles, postgres):
    """Each `?` becomes an InitPlan: a bare current_setting() in a filter is called for
    every row scanned (it tripled the count scan of a 10M-row table, bench/README.md)."""
    sql = Sql('SELECT "profile_id" FROM "customer_profile" WHERE "state" = ? AND "profile_id" >= ?',
              ("TX", 5))  # fmt: skip
    with profiles.snapshot() as snapshot:
        text = snapshot._bind(sql)
        rows = snapshot.query(sql).read_all().num_rows
    names = re.findall(r"current_setting\('(ferry\.p\d+)'\)", text)
    sets = ", ".join(
        f"set_config('{name}', '{value}', true)"
        for name, value in zip(names, sql.params, strict=True)
    )
    plan = postgres.execute(f"SELECT {sets}; EXPLAIN {text}").splitlines()  # one transaction
    per_row = [line for line in plan if "Filter:" in line or "Cond:" in line]
    assert len(names) == 2 and per_row, plan
    assert not any("current_setting" in line for line in per_row), plan
    assert rows > 0
