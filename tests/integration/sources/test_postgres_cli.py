"""End to end from Postgres: tables.yaml moves customer_profile to a Postgres connection,
and `ferry run --local` and `ferry preview` give what they give from the demo's DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import run_ferry
from ferry import paths
from include_copy import copy_include

pytestmark = pytest.mark.integration

MOVED = "  customer_profile:\n    connection: pg_warehouse\n    name: crm.customer_profile\n"


def include_on(tmp_path: Path, postgres: bool) -> Path:
    include = copy_include(tmp_path / ("pg" if postgres else "duckdb"))
    if postgres:
        tables = include / "warehouse" / "tables.yaml"
        text = tables.read_text()
        assert text.count("  customer_profile:\n") == 1
        tables.write_text(text.replace("  customer_profile:\n", MOVED))
    return include


@pytest.fixture
def ferry_on(demo_in_postgres, postgres, tmp_path, monkeypatch):
    """Run `ferry ...` on the definitions read from Postgres (True) or DuckDB (False)."""
    monkeypatch.setenv(*postgres.connection("pg_warehouse"))
    monkeypatch.delenv("AIRFLOW_CONN_FERRY_PII", raising=False)

    def run(on_postgres: bool, *args: str):
        monkeypatch.setenv("FERRY_INCLUDE", str(include_on(tmp_path, on_postgres)))
        monkeypatch.setenv("FERRY_HOME", str(tmp_path / f"home-{on_postgres}"))
        logged = len(postgres.log())
        done = run_ferry(*args)
        read_there = 'FROM "crm"."customer_profile"' in postgres.log()[logged:]
        assert read_there == on_postgres  # the rows came from where tables.yaml says
        return done

    return run


def delivered(export_id: str) -> dict[str, bytes]:
    [folder] = (paths.downloads_dir() / export_id).iterdir()
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("export_id", ["customer_profiles_csv", "mailchimp_high_value"])
def test_a_local_run_delivers_from_postgres_what_it_delivers_from_duckdb(export_id, ferry_on):
    files = {}
    for on_postgres in (False, True):
        done = ferry_on(on_postgres, "run", export_id, "--local", "--date", "2026-11-20")
        assert done.code == 0, done.err
        files[on_postgres] = delivered(export_id)
    data = [name for name in files[True] if name.endswith(".csv")]
    assert data and all(files[True][name] == files[False][name] for name in data)
    assert files[True][data[0]].count(b"\n") > 1_000


def test_preview_of_a_postgres_table_is_the_duckdb_one(ferry_on):
    shown = [ferry_on(pg, "preview", "mailchimp_high_value").out for pg in (False, True)]
    assert shown[0] == shown[1]
    assert "  rows:      " in shown[1] and "First 10 rows as written to" in shown[1]
