"""Report exports on DuckDB: the files hold what the same query written by hand returns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from tests.unit.engine import helpers
from tests.unit.engine.helpers import ROOT, nasty_warehouse

from ferry.engine import extract
from ferry.report_sql import bucket_sql
from ferry.spec.loader import load_project
from ferry.spec.report import GroupBucket
from ferry.sql import DUCKDB, POSTGRES

METRICS = [
    {"name": "profiles", "count": "*"},
    {"name": "with_email", "count": "email"},
    {"name": "emails", "count_distinct": "email"},
    {"name": "value", "sum": "lifetime_value"},
    {"name": "orders", "sum": "order_count"},
    {"name": "mean_orders", "avg": "order_count"},
    {"name": "mean_value", "avg": "lifetime_value"},
    {"name": "first_city", "min": "city"},
    {"name": "last_city", "max": "city"},
    {"name": "least_orders", "min": "order_count"},
    {"name": "latest", "max": "updated_at"},
    {"name": "any_consent", "max": "email_consent"},
    {"name": "all_consent", "min": "email_consent"},
]
# The same metrics, written by hand
HAND_METRICS = (
    "count(*), count(email), count(DISTINCT email), sum(lifetime_value), sum(order_count), "
    "avg(order_count), avg(lifetime_value), min(city), max(city), min(order_count), "
    "max(updated_at), max(email_consent), min(email_consent)"
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return nasty_warehouse(tmp_path_factory.mktemp("report") / "report.duckdb")


@pytest.fixture(scope="module")
def project():
    return load_project(ROOT / "include")


def report_plan(project, tmp_path, group_by, metrics=METRICS, dialect=DUCKDB, **kwargs):
    return helpers.report_plan(project, tmp_path, group_by, metrics, dialect, **kwargs)


def by_hand(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month"])
def test_every_bucket_and_metric_is_the_query_written_by_hand(bucket, project, warehouse, tmp_path):
    group_by = [{"column": "updated_at", "bucket": bucket, "as": "period"}, "state"]
    plan = report_plan(project, tmp_path, group_by, format={"type": "parquet"})
    cast = "TIMESTAMP" if bucket == "hour" else "DATE"
    expected = by_hand(
        warehouse,
        f"SELECT CAST(date_trunc('{bucket}', updated_at) AS {cast}) AS period, state, "
        f"{HAND_METRICS} FROM customer_profile GROUP BY ALL "
        "ORDER BY period NULLS LAST, state NULLS LAST",
    )
    assert helpers.parquet_rows(plan, warehouse) == expected
    assert expected[-1][:2] == (None, None)  # a NULL group is last, after every other


def test_filters_choose_the_rows_before_grouping(project, warehouse, tmp_path):
    where = [
        {"field": "country", "op": "eq", "value": "US"},
        {"field": "loyalty_tier", "op": "in", "value": ["gold", "silver", "x' OR 1=1 --"]},
    ]
    filters = {"where": where, "date_column": "created_at",
               "date_range": {"start": "2026-01-03", "end": "2026-02-20"}}  # fmt: skip
    plan = report_plan(project, tmp_path, ["state"], format={"type": "parquet"}, filters=filters)
    expected = by_hand(
        warehouse,
        f"SELECT state, {HAND_METRICS} FROM customer_profile WHERE country = 'US' "
        "AND loyalty_tier IN ('gold', 'silver') AND CAST(created_at AS DATE) BETWEEN ? AND ? "
        "GROUP BY ALL ORDER BY state NULLS LAST",
        [dt.date(2026, 1, 3), dt.date(2026, 2, 20)],
    )
    assert helpers.parquet_rows(plan, warehouse) == expected and len(expected) == 2
    assert "x' OR 1=1" not in plan.report.grouped("t", plan.where).text


def test_the_window_of_a_scheduled_run_limits_the_rows(project, warehouse, tmp_path):
    start, end = dt.datetime(2026, 1, 20, tzinfo=dt.UTC), dt.datetime(2026, 1, 27, tzinfo=dt.UTC)
    plan = report_plan(
        project, tmp_path, [{"column": "created_at", "bucket": "day"}], format={"type": "parquet"},
        filters={"window": {"column": "created_at"}}, interval=(start, end),
    )  # fmt: skip
    rows = helpers.parquet_rows(plan, warehouse)
    expected = by_hand(
        warehouse,
        f"SELECT CAST(date_trunc('day', created_at) AS DATE), {HAND_METRICS} FROM "
        "customer_profile WHERE created_at >= ? AND created_at < ? GROUP BY ALL ORDER BY 1",
        [start.replace(tzinfo=None), end.replace(tzinfo=None)],
    )
    assert rows == expected and len(rows) == 7


def test_a_report_without_groups_is_one_row_even_over_no_rows(project, warehouse, tmp_path):
    where = [{"field": "state", "op": "eq", "value": "nowhere"}]
    plan = report_plan(project, tmp_path, [], format={"type": "parquet"}, filters={"where": where})
    [row] = helpers.parquet_rows(plan, warehouse)
    assert row[:4] == (0, 0, 0, None)


def test_the_same_report_writes_the_same_bytes_twice(project, warehouse, tmp_path):
    group_by = [{"column": "created_at", "bucket": "week"}, "city", "loyalty_tier"]
    digests = []
    for attempt in ("a", "b"):
        plan = report_plan(project, tmp_path / attempt, group_by, format={"type": "csv"})
        manifest = extract(plan, source=warehouse, pii_key=None)
        digests.append([(f.name, f.sha256) for f in manifest.data_files])
    assert digests[0] == digests[1]
    header = (Path(plan.staging_dir) / manifest.data_files[0].name).read_text().splitlines()[0]
    assert header.startswith("created_at_week,city,loyalty_tier,profiles,with_email,emails,")


def test_a_report_bigger_than_a_slice_stays_in_group_order(project, warehouse, tmp_path):
    from ferry.engine import query

    plan = report_plan(project, tmp_path, ["profile_id"], [{"name": "n", "count": "*"}],
                       format={"type": "parquet"})  # fmt: skip
    original = query.SLICE_ROWS
    query.SLICE_ROWS = 10  # a table export would be read in 24 key slices
    try:
        rows = helpers.parquet_rows(plan, warehouse)
    finally:
        query.SLICE_ROWS = original
    assert [row[0] for row in rows] == list(range(1000, 1240))


@pytest.mark.parametrize("bucket", ["hour", "day", "week", "month"])
def test_a_timestamptz_is_bucketed_at_utc_and_weeks_start_on_monday(bucket):
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'America/Los_Angeles'")  # the session's zone is ignored
        item = GroupBucket(column="at", bucket=bucket)
        text = bucket_sql(item, "TIMESTAMPTZ", DUCKDB)
        [(value,)] = con.execute(
            f"SELECT {text} FROM (SELECT TIMESTAMPTZ '2026-01-18 23:30:00+00' AS at)"
        ).fetchall()
    expected = {
        "hour": dt.datetime(2026, 1, 18, 23), "day": dt.date(2026, 1, 18),
        "week": dt.date(2026, 1, 12), "month": dt.date(2026, 1, 1),
    }[bucket]  # fmt: skip
    assert value == expected


def test_postgres_sql_compares_text_by_bytes_and_booleans_with_bool_and_or(project, tmp_path):
    plan = report_plan(project, tmp_path, ["state"], dialect=POSTGRES)
    text = plan.report.grouped('"customer_profile"', plan.where).text
    assert 'CAST(min("city" COLLATE "C") AS VARCHAR)' in text
    assert 'CAST(bool_or("email_consent") AS BOOLEAN)' in text
    assert 'CAST(avg("order_count") AS DOUBLE PRECISION)' in text
