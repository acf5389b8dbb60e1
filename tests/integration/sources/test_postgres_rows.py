"""Segment rules and filters choose the same rows on Postgres as on DuckDB.

The demo's profile, contact and account tables live in both: the DuckDB file and Postgres'
schema crm (tables.yaml name: crm.<table>, connection pg_warehouse). Each export runs
through the real plan on both; the files must be byte-identical and hold some, not all,
of the table's rows.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from tests.unit.engine.chosen_rows import TABLES as VISITS
from tests.unit.engine.chosen_rows import build_project, build_warehouse
from tests.unit.engine.helpers import ROOT

from ferry.engine import extract
from ferry.sources.postgres import PostgresSource
from ferry.spec import models
from ferry.spec.loader import load_project
from ferry.sql import DUCKDB, POSTGRES

from .conftest import copy_table, on_postgres, plan_for, project_with

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 11, 24, 6, 0, tzinfo=dt.UTC)  # the run's reference time
TOTAL = {"customer_profile": 20_000, "contact": 10_000}


@pytest.fixture(scope="module")
def both(demo_in_postgres, postgres):
    """(DuckDB project and source, Postgres project and source)."""
    duck = load_project(ROOT / "include")
    pg = on_postgres(load_project(ROOT / "include"))
    return (duck, demo_in_postgres), (pg, PostgresSource(postgres.uri, "pg_warehouse"))


def same_rows(both, tmp_path, definition: dict, segment: dict | None = None, **run) -> int:
    """Run the export on both sources; the files must match byte for byte. Its rows."""
    digests, rows = [], []
    for (project, source), dialect in zip(both, (DUCKDB, POSTGRES), strict=True):
        if segment:
            project.segments[segment["id"]] = models.SegmentSpec.model_validate(segment)
        staging = tmp_path / dialect.name
        plan = plan_for(project, staging, definition, dialect, run_after=NOW, **run)
        manifest = extract(plan, source=source, pii_key=None)
        digests.append([(f.name, f.sha256) for f in manifest.data_files])
        rows.append(manifest.rows)
    assert digests[0] == digests[1]
    assert rows[0] == rows[1]
    return rows[0]


def segment_export(rules: dict, segment_type: str = "customer_profile", **export) -> tuple:
    segment = {"id": "probe", "name": "Probe", "type": segment_type, "rules": rules}
    fields = {"customer_profile": ["profile_id", "state", "lifetime_value", "updated_at"],
              "account": ["contact_id", "account_id", "job_title"]}[segment_type]  # fmt: skip
    definition = {"id": "probe_export", "kind": "segment", "source": {"segment": "probe"},
                  "target": "s3_archive", "fields": fields, **export}  # fmt: skip
    return definition, segment


CONDITIONS = [
    {"field": "country", "op": "eq", "value": "US"},
    {"field": "loyalty_tier", "op": "ne", "value": "gold"},
    {"field": "lifetime_value", "op": "gt", "value": 500.005},
    {"field": "order_count", "op": "gte", "value": 5},
    {"field": "order_count", "op": "lt", "value": 2.5},
    {"field": "birth_date", "op": "lte", "value": "1970-06-30"},
    {"field": "state", "op": "in", "value": ["TX", "CA", "NY"]},
    {"field": "loyalty_tier", "op": "not_in", "value": ["gold", "silver"]},
    {"field": "lifetime_value", "op": "between", "value": [100, 200.5]},
    {"field": "state", "op": "is_null"},
    {"field": "notes", "op": "not_null"},
    {"field": "email", "op": "contains", "value": "GMAIL"},
    {"field": "last_name", "op": "starts_with", "value": "van "},
    {"field": "email", "op": "regex", "value": "^[a-f][a-z._]*[0-9]+@(gmail|yahoo)\\.com$"},
    {"field": "updated_at", "op": "within_last_days", "value": 30},
    {"field": "created_at", "op": "gt", "value": "2026-06-01 12:00:00"},
    {"field": "email_consent", "op": "eq", "value": True},
    # text operators on other types compare the value's text, which must be the same text
    {"field": "birth_date", "op": "contains", "value": "-06-1"},
    {"field": "lifetime_value", "op": "starts_with", "value": "12"},
    {"field": "created_at", "op": "regex", "value": "^2026-0[3-5]-.. 1[0-2]:"},
    {"field": "sms_consent", "op": "contains", "value": "RU"},
]


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: c["op"] + ":" + c["field"])
def test_every_operator_chooses_the_same_rows(condition, both, tmp_path):
    definition, segment = segment_export({"all": [condition]})
    rows = same_rows(both, tmp_path, definition, segment)
    assert 0 < rows < TOTAL["customer_profile"]


def test_nested_all_any_not_choose_the_same_rows(both, tmp_path):
    rules = {"any": [
        {"all": [{"field": "lifetime_value", "op": "gt", "value": 500},
                 {"not": {"any": [{"field": "country", "op": "eq", "value": "US"},
                                  {"field": "state", "op": "is_null"}]}}]},
        {"not": {"field": "loyalty_tier", "op": "in", "value": ["bronze", "silver", "gold"]}},
        {"all": [{"field": "email", "op": "contains", "value": "o'b"},
                 {"not": {"field": "order_count", "op": "between", "value": [3, 7]}}]},
    ]}  # fmt: skip
    definition, segment = segment_export(rules)
    assert 0 < same_rows(both, tmp_path, definition, segment) < TOTAL["customer_profile"]


def test_contacts_of_accounts_read_both_tables_in_postgres(both, tmp_path):
    rules = {"all": [{"field": "employee_count", "op": "gte", "value": 1000},
                     {"field": "industry", "op": "ne", "value": "Retail"}]}  # fmt: skip
    definition, segment = segment_export(rules, "account", contacts_of_accounts=True)
    assert 0 < same_rows(both, tmp_path, definition, segment) < TOTAL["contact"]


def table_export(filters: dict, **export) -> dict:
    fields = ["profile_id", "state", "updated_at"]
    source = {"table": "customer_profile"}
    return {"id": "filtered", "source": source, "fields": fields, "filters": filters, **export}


INTERVAL = {"data_interval_start": dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
            "data_interval_end": dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC)}  # fmt: skip
FILTERS = {
    "where": ({"where": [{"field": "state", "op": "in", "value": ["TX", "CA"]},
                         {"field": "is_active", "op": "eq", "value": True}]}, {}),
    "window": ({"window": {"column": "updated_at"}}, INTERVAL),
    "dates": ({"date_column": "updated_at", "dates": ["2026-03-27", "2026-10-01"]}, {}),
    "date_range": ({"date_column": "created_at",
                    "date_range": {"start": "2026-02-01", "end": "2026-02-14"}}, {}),
    "hours": ({"date_column": "updated_at", "hours": {"start": 9, "end": 17}}, {}),
    "ids": ({}, {"ids": (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 99_999)}),
    "many ids": ({}, {"ids": tuple(range(7, 30_000, 3))}),  # 10,000 (the most a run takes)
    "on demand dates": ({"window": {"column": "updated_at"}},
                        {**INTERVAL, "date_from": dt.date(2026, 4, 1),
                         "date_to": dt.date(2026, 4, 3)}),
}  # fmt: skip


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_chooses_the_same_rows(name, both, tmp_path):
    filters, run = FILTERS[name]
    rows = same_rows(both, tmp_path, table_export(filters), **run)
    assert 0 < rows < TOTAL["customer_profile"]


CODES = ["a", "B", "c", "_z", "Ä", "a b", "A", "ab", "10", "9", "é", "E", "😀", "z"]
COUPONS = """\
tables:
  coupon:
    connection: pg_warehouse
    name: icu.coupon
    key: code
    columns:
      code: {type: VARCHAR}
      label: {type: VARCHAR}
"""


@pytest.fixture(scope="module")
def coupons(postgres, tmp_path_factory):
    """icu.coupon in DuckDB and in Postgres, where its key sorts by ICU's rules (as en_US
    would: a < B), not by bytes as DuckDB's (B < a)."""
    values = ", ".join(f"('{code}', 'label {i}')" for i, code in enumerate(CODES))
    postgres.execute(
        "DROP SCHEMA IF EXISTS icu CASCADE; CREATE SCHEMA icu; CREATE TABLE icu.coupon (code "
        f'text COLLATE "und-x-icu" PRIMARY KEY, label text); INSERT INTO icu.coupon VALUES {values}'
    )
    path = tmp_path_factory.mktemp("coupons") / "coupon.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE SCHEMA icu; CREATE TABLE icu.coupon (code VARCHAR, label VARCHAR)")
        con.execute(f"INSERT INTO icu.coupon VALUES {values}")
    return path, PostgresSource(postgres.uri, "pg_warehouse")


def row_reads(log: str) -> list[str]:
    """The reads of icu.coupon's rows (not the count, not the schema's LIMIT 0)."""
    lines = [line for line in log.splitlines() if '"icu"."coupon"' in line]
    return [line for line in lines if "ORDER BY" in line and "LIMIT 0" not in line]


@pytest.mark.parametrize(
    "where",
    [
        [],
        [{"field": "code", "op": "gt", "value": "a"}],
        [{"field": "code", "op": "between", "value": ["B", "c"]}],
        [{"field": "code", "op": "lte", "value": "_z"}],
    ],
    ids=["all", "gt", "between", "lte"],
)
def test_text_in_another_collation_compares_and_sorts_as_in_duckdb_read_once(
    where, coupons, postgres, tmp_path
):
    """Postgres compares and sorts text by the column's collation, DuckDB by bytes; the
    same rows come in DuckDB's order either way, read from Postgres once."""
    digests, rows = [], []
    for dialect, source in zip((DUCKDB, POSTGRES), coupons, strict=True):
        project = project_with(tmp_path / dialect.name, COUPONS)
        definition = {"id": "coupons", "source": {"table": "coupon"}, "fields": "all",
                      "filters": {"where": where}}  # fmt: skip
        logged = len(postgres.log())
        plan = plan_for(project, tmp_path / "s" / dialect.name, definition, dialect)
        manifest = extract(plan, source=source, pii_key=None)
        digests.append([f.sha256 for f in manifest.data_files])
        rows.append(manifest.rows)
        assert len(row_reads(postgres.log()[logged:])) == (1 if dialect is POSTGRES else 0)
    assert digests[0] == digests[1]
    assert rows[0] == rows[1] and 0 < rows[0] <= len(CODES)


def test_key_slices_pushed_down_give_the_same_bytes(both, postgres, tmp_path, monkeypatch):
    """Seven key slices, each its own COPY ordered by the key, make DuckDB's file."""
    monkeypatch.setattr("ferry.engine.query.SLICE_ROWS", 3_000)
    where = [{"field": "country", "op": "ne", "value": "DE"}]
    definition = {"id": "sliced", "source": {"table": "customer_profile"}, "fields": "all",
                  "pii": {"email": "keep", "first_name": "keep", "last_name": "keep",
                          "phone": "keep", "birth_date": "keep"},
                  "filters": {"where": where}, "format": {"type": "parquet"}}  # fmt: skip
    logged = len(postgres.log())
    assert 0 < same_rows(both, tmp_path, definition) < TOTAL["customer_profile"]
    reads = [line for line in postgres.log()[logged:].splitlines() if "COPY (SELECT" in line]
    assert sum('"profile_id" >= CAST(' in line for line in reads) == 6  # all but the first


@pytest.fixture(scope="module")
def visits(postgres, tmp_path_factory):
    """chosen_rows' visit table (instants at the edges of days and hours, in a TIMESTAMP
    and a TIMESTAMPTZ column) in DuckDB and in Postgres."""
    folder = tmp_path_factory.mktemp("visits")
    path = build_warehouse(folder / "visits.duckdb")
    spec = build_project(folder).tables["visit"]
    postgres.execute("DROP SCHEMA IF EXISTS edges CASCADE; CREATE SCHEMA edges")
    copy_table(postgres, path, "visit", spec, "edges.visit")
    return path, PostgresSource(postgres.uri, "pg_warehouse")


EDGES = {
    "dates": {"date_column": "seen_tz", "dates": ["2026-03-10", "2026-03-12"]},
    "date_range": {"date_column": "seen_tz",
                   "date_range": {"start": "2026-03-10", "end": "2026-03-11"}},
    "hours": {"date_column": "seen_tz", "hours": {"start": 9, "end": 17}},
    "window": {"window": {"column": "seen_tz"}},
    "window naive": {"window": {"column": "seen_at"}},
}  # fmt: skip


@pytest.mark.parametrize("name", EDGES)
def test_edges_of_days_and_hours_of_a_timestamptz_are_the_same(name, visits, tmp_path):
    interval = {"data_interval_start": dt.datetime(2026, 3, 10, tzinfo=dt.UTC),
                "data_interval_end": dt.datetime(2026, 3, 11, 12, tzinfo=dt.UTC)}  # fmt: skip
    pg_tables = VISITS.replace("  visit:\n", "  visit:\n    name: edges.visit\n")
    digests = []
    for dialect, source in zip((DUCKDB, POSTGRES), visits, strict=True):
        project = project_with(
            tmp_path / dialect.name, pg_tables if dialect is POSTGRES else VISITS
        )
        definition = {"id": "edges", "source": {"table": "visit"}, "filters": EDGES[name],
                      "fields": ["visit_id", "seen_at", "seen_tz"]}  # fmt: skip
        plan = plan_for(project, tmp_path / "s" / dialect.name, definition, dialect, **interval)
        manifest = extract(plan, source=source, pii_key=None)
        digests.append(([f.sha256 for f in manifest.data_files], manifest.rows))
    assert digests[0] == digests[1] and 0 < digests[0][1] < 13
