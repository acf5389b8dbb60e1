"""Report exports on a real PostgreSQL server: grouped in Postgres, as psycopg returns the
same query run by hand, and the same bytes as from DuckDB."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest
from tests.unit.engine import helpers

from ferry.engine import extract
from ferry.report_sql import bucket_sql
from ferry.sources.postgres import PostgresSource
from ferry.spec.report import GroupBucket
from ferry.sql import DUCKDB, POSTGRES

from .conftest import copy_table

pytestmark = pytest.mark.integration

METRICS = [
    {"name": "profiles", "count": "*"},
    {"name": "with_email", "count": "email"},
    {"name": "emails", "count_distinct": "email"},
    {"name": "value", "sum": "lifetime_value"},
    {"name": "orders", "sum": "order_count"},
    {"name": "first_city", "min": "city"},
    {"name": "last_city", "max": "city"},
    {"name": "least_orders", "min": "order_count"},
    {"name": "latest", "max": "updated_at"},
    {"name": "any_consent", "max": "email_consent"},
    {"name": "all_consent", "min": "email_consent"},
]
AVERAGES = [{"name": "mean_orders", "avg": "order_count"},
            {"name": "mean_value", "avg": "lifetime_value"}]  # fmt: skip
# The same metrics, as one writes them by hand in Postgres (text compared by bytes)
HAND_METRICS = (
    "count(*), count(email), count(DISTINCT email), sum(lifetime_value), sum(order_count), "
    'min(city COLLATE "C"), max(city COLLATE "C"), min(order_count), max(updated_at), '
    "bool_or(email_consent), bool_and(email_consent), "
    "avg(order_count)::float8, avg(lifetime_value)::float8"
)


@pytest.fixture(scope="module")
def profiles(postgres, warehouse_with_nasty_values, engine_project):
    """customer_profile in Postgres, its city compared by ICU's rules (not by bytes)."""
    spec = engine_project.tables["customer_profile"]
    copy_table(postgres, warehouse_with_nasty_values, "customer_profile", spec)
    postgres.execute('ALTER TABLE customer_profile ALTER COLUMN city TYPE text COLLATE "und-x-icu"')
    return PostgresSource(postgres.uri, "pg_warehouse")


def report_plan(project, folder: Path, group_by, metrics, dialect=POSTGRES, **kwargs):
    return helpers.report_plan(
        project, folder, group_by, metrics, dialect, id="pg_report", **kwargs
    )


def by_hand(postgres, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(postgres.uri) as conn:
        return conn.execute(sql, params).fetchall()


@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month"])
def test_every_bucket_and_metric_is_the_query_run_by_hand_in_postgres(
    bucket, profiles, postgres, engine_project, tmp_path
):
    group_by = [{"column": "updated_at", "bucket": bucket, "as": "period"}, "state"]
    plan = report_plan(engine_project, tmp_path, group_by, METRICS + AVERAGES,
                       format={"type": "parquet"})  # fmt: skip
    cast = "timestamp" if bucket == "hour" else "date"
    expected = by_hand(
        postgres,
        f"SELECT date_trunc('{bucket}', updated_at)::{cast} AS period, state, {HAND_METRICS} "
        'FROM customer_profile GROUP BY 1, 2 ORDER BY 1 NULLS LAST, state COLLATE "C" NULLS LAST',
    )
    assert helpers.parquet_rows(plan, profiles) == expected
    if bucket == "week":  # ISO weeks, from Monday, as DuckDB's
        assert {row[0].isoweekday() for row in expected if row[0]} == {1}


def test_the_grouping_runs_in_postgres_with_filter_values_bound(
    profiles, postgres, engine_project, tmp_path
):
    where = [{"field": "loyalty_tier", "op": "in", "value": ["gold", "silver", "x' OR 1=1 --"]}]
    plan = report_plan(engine_project, tmp_path, ["state"], METRICS, format={"type": "parquet"},
                       filters={"where": where})  # fmt: skip
    expected = by_hand(
        postgres,
        f"SELECT state, {HAND_METRICS.rsplit(', avg', 1)[0]} FROM customer_profile "
        "WHERE loyalty_tier IN (%s, %s, %s) GROUP BY 1 ORDER BY 1 NULLS LAST",
        ("gold", "silver", "x' OR 1=1 --"),
    )
    rows = helpers.parquet_rows(plan, profiles)
    assert rows == [row[:-1] for row in expected] and len(rows) == 2
    statements = [line for line in postgres.log().splitlines() if "COPY (SELECT" in line]
    assert any("GROUP BY" in line and "count(DISTINCT" in line for line in statements)
    assert not any("x' OR 1=1" in line for line in statements)


def test_a_report_writes_the_same_bytes_from_postgres_as_from_duckdb_twice(
    profiles, warehouse_with_nasty_values, engine_project, tmp_path
):
    """min/max of text agree though Postgres' city collates by ICU: both compare bytes."""
    group_by = [{"column": "created_at", "bucket": "week"}, "state", "loyalty_tier"]
    digests = []
    reads = [(DUCKDB, warehouse_with_nasty_values), (POSTGRES, profiles), (POSTGRES, profiles)]
    for attempt, (dialect, source) in enumerate(reads):
        plan = report_plan(engine_project, tmp_path / str(attempt), group_by, METRICS, dialect,
                           format={"type": "csv"})  # fmt: skip
        manifest = extract(plan, source=source, pii_key=None)
        digests.append([(f.name, f.sha256) for f in manifest.data_files])
    assert digests[0] == digests[1] == digests[2]


def test_icu_order_differs_from_bytes_so_the_test_above_can_fail(postgres, profiles):
    [(differ,)] = by_hand(
        postgres,
        'SELECT count(*) FROM (SELECT min(city) <> min(city COLLATE "C") OR max(city) <> '
        'max(city COLLATE "C") AS differs FROM customer_profile '
        "GROUP BY date_trunc('week', created_at), state, loyalty_tier) AS g WHERE differs",
    )
    assert differ > 0


def test_a_window_and_no_groups_give_one_row_from_postgres(profiles, engine_project, tmp_path):
    interval = (dt.datetime(2030, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 2, tzinfo=dt.UTC))
    plan = report_plan(engine_project, tmp_path, [], METRICS, format={"type": "parquet"},
                       filters={"window": {"column": "created_at"}}, interval=interval)  # fmt: skip
    [row] = helpers.parquet_rows(plan, profiles)
    assert row[:4] == (0, 0, 0, None)


@pytest.mark.parametrize("column_type", ["TIMESTAMPTZ", "TIMESTAMP", "DATE"])
def test_postgres_buckets_at_utc_from_monday_whatever_the_sessions_zone(postgres, column_type):
    value = "2026-01-18 23:30:00+00" if column_type != "DATE" else "2026-01-18"
    buckets = (
        ("day", "week", "month") if column_type == "DATE" else ("hour", "day", "week", "month")
    )
    items = [bucket_sql(GroupBucket(column="at", bucket=b), column_type, POSTGRES) for b in buckets]
    with psycopg.connect(postgres.uri) as conn:
        conn.execute("SET TimeZone = 'America/Los_Angeles'")
        row = conn.execute(
            f"SELECT {', '.join(items)} FROM (SELECT CAST(%s AS {column_type}) AS at) AS t",
            (value,),
        ).fetchone()
    expected = [dt.datetime(2026, 1, 18, 23), dt.date(2026, 1, 18), dt.date(2026, 1, 12),
                dt.date(2026, 1, 1)]  # fmt: skip
    assert list(row) == (expected[1:] if column_type == "DATE" else expected)
