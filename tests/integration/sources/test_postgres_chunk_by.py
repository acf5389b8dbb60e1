"""chunk_by on Postgres: the periods are listed and each one's rows chosen in Postgres
(bound values, not text), and the files have the bytes the same table in DuckDB gives."""

from __future__ import annotations

import datetime as dt
import json
import re

import psycopg
import pytest
from tests.unit.engine.periods_fixture import (
    EXPECTED,
    TABLES,
    chunked_plan,
    event_project,
    event_warehouse,
    run_chunked,
)

from ferry.engine import periods
from ferry.sources.postgres import PostgresSource
from ferry.sql import POSTGRES

from .conftest import copy_table

pytestmark = pytest.mark.integration
ON_POSTGRES = TABLES.replace("    key: id\n", "    connection: pg_warehouse\n    name: ev.event\n"
                             "    key: id\n")  # fmt: skip


@pytest.fixture(scope="module")
def events(postgres, tmp_path_factory):
    """The event table in DuckDB and, copied with the same types, in Postgres' ev.event."""
    folder = tmp_path_factory.mktemp("events")
    path = event_warehouse(folder / "events.duckdb")
    postgres.execute("DROP SCHEMA IF EXISTS ev CASCADE; CREATE SCHEMA ev")
    spec = event_project(folder / "duckdb").tables["event"]
    copy_table(postgres, path, "event", spec, "ev.event")
    return path, PostgresSource(postgres.uri, "pg_warehouse")


EVERY = ("hour", "day", "week", "month")
CASES = [(column, every) for column in ("created_at", "created_tz", "day") for every in EVERY
         if (column, every) != ("day", "hour")]  # fmt: skip  # a DATE's hours: refused at load


@pytest.mark.parametrize(("column", "every"), CASES)
def test_postgres_writes_duckdbs_files_for_every_period(events, tmp_path, column, every):
    duckdb_file, postgres = events
    fmt = {"type": "csv", "compression": "gzip", "rows_per_file": 2,
           "chunk_by": {"column": column, "every": every}}  # fmt: skip
    in_duckdb = run_chunked(event_project(tmp_path / "d"), duckdb_file, tmp_path / "a", fmt)
    in_postgres = run_chunked(
        event_project(tmp_path / "p", ON_POSTGRES), postgres, tmp_path / "b", fmt, dialect=POSTGRES
    )
    pairs = [(f.name, f.sha256, f.rows) for f in in_postgres.data_files]
    assert pairs == [(f.name, f.sha256, f.rows) for f in in_duckdb.data_files]
    labels = {re.fullmatch(r"chunked_(.+)_\d{5}\.csv\.gz", name)[1] for name, _, _ in pairs}
    assert labels == set(EXPECTED[every])


def test_each_period_is_read_in_postgres_with_bound_ends(events, postgres, tmp_path):
    _, source = events
    logged = len(postgres.log())
    fmt = {"chunk_by": {"column": "created_at", "every": "month"}}
    project = event_project(tmp_path, ON_POSTGRES)
    manifest = run_chunked(project, source, tmp_path / "s", fmt, dialect=POSTGRES)
    assert len(manifest.data_files) == len(EXPECTED["month"])
    log = postgres.log()[logged:]
    assert "GROUP BY 1 ORDER BY 1 NULLS LAST" in log  # the periods, listed in Postgres
    described = log.count('parameters: $1 = \'"ev"."event"\'')  # the catalog, per run
    assert described == 2, described  # columns and key, not again for each period
    reads = [line.split("COPY (", 1)[1] for line in log.splitlines()
             if "COPY (SELECT" in line and "ORDER BY" in line]  # fmt: skip
    ranges = [line for line in reads if '"created_at" >= CAST(' in line
              and '"created_at" < CAST(' in line]  # fmt: skip
    assert len(ranges) == len(EXPECTED["month"]) - 1  # each dated period, one read
    assert sum('NOT coalesce("created_at" BETWEEN CAST(' in line for line in reads) == 1
    assert not re.search(r"20\d\d-\d\d", "\n".join(reads))  # no period value as text
    for low, high in [("2025-12-01", "2026-01-01"), ("2026-01-01", "2026-02-01")]:
        assert f"= '{low}T00:00:00', $2 = '{high}T00:00:00'" in log  # bound ends


ODD = ["infinity", "-infinity", "12026-01-05 00:00:00", "0044-03-15 10:00:00 BC",
       "2026-01-05 00:00:00", None, "9999-12-31 23:59:59.999999",
       "0001-01-01 00:00:00"]  # fmt: skip


def test_times_no_file_name_can_carry_are_undated_on_postgres(postgres, tmp_path):
    values = ", ".join(
        f"({key}, {'NULL' if text is None else repr(text)}, "
        f"{'NULL' if text is None else repr(text + ('' if 'inf' in text else '+00'))}, "
        f"{'NULL' if text is None else repr(text.replace(' 00:00:00', ''))}::timestamp::date, "
        f"'row {key}')"
        for key, text in enumerate(ODD, 1)
    )
    postgres.execute(
        "DROP SCHEMA IF EXISTS odd CASCADE; CREATE SCHEMA odd; CREATE TABLE odd.event (id "
        "bigint PRIMARY KEY, created_at timestamp, created_tz timestamptz, day date, note text); "
        f"INSERT INTO odd.event VALUES {values}"
    )
    project = event_project(tmp_path, ON_POSTGRES.replace("ev.event", "odd.event"))
    source = PostgresSource(postgres.uri, "pg_warehouse")
    for column in ("created_at", "created_tz", "day"):
        fmt = {"chunk_by": {"column": column, "every": "month"}}
        manifest = run_chunked(project, source, tmp_path / column, fmt, dialect=POSTGRES)
        assert [(f.name, f.rows) for f in manifest.data_files] == [
            ("chunked_0001-01_00001.csv", 1), ("chunked_2026-01_00001.csv", 1),
            ("chunked_9999-12_00001.csv", 1), ("chunked_undated_00001.csv", 5),
        ], column  # fmt: skip


@pytest.mark.parametrize("column", ["created_at", "created_tz", "day"])
def test_a_period_read_uses_an_index_on_the_column(events, postgres, tmp_path, column):
    postgres.execute(f"CREATE INDEX IF NOT EXISTS event_{column} ON ev.event ({column})")
    plan = chunked_plan(event_project(tmp_path, ON_POSTGRES), tmp_path / "s",
                        {"chunk_by": {"column": column, "every": "week"}}, POSTGRES)  # fmt: skip
    start = dt.date(2026, 1, 26)
    where = periods.period_condition(plan.format.chunk_by, plan.table_types[column], start, plan)
    with psycopg.connect(postgres.uri) as conn:
        conn.execute("SET enable_seqscan = off")
        [(found,)] = conn.execute(
            f"EXPLAIN (FORMAT JSON) SELECT id FROM ev.event WHERE {where.text.replace('?', '%s')}",
            where.params,
        ).fetchall()
    assert f'"Index Name": "event_{column}"' in json.dumps(found)
