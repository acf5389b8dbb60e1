"""A changes-only export of a table on Postgres: the diff runs on the worker's DuckDB over
the rows pushed down from Postgres, and sends what it sends from DuckDB."""

from __future__ import annotations

import pytest

from changes_runs import delivered, make_home, profile_line, profiles, run
from ferry.definitions import current_project

from .conftest import copy_table

pytestmark = pytest.mark.integration


@pytest.fixture
def home(tmp_path, monkeypatch, warehouse):
    return make_home(tmp_path, monkeypatch, warehouse)


def first_ids(home, count: int) -> list[int]:
    return [row[0] for row in profiles(home)][:count]


def test_a_postgres_source_sends_the_changes_duckdb_sends(home, postgres, monkeypatch):
    spec = current_project().tables["customer_profile"]
    postgres.execute("DROP SCHEMA IF EXISTS changes CASCADE; CREATE SCHEMA changes")
    copy_table(postgres, home.warehouse, "customer_profile", spec, "changes.customer_profile")
    tables = home.include / "warehouse" / "tables.yaml"
    moved = "  customer_profile:\n    connection: pg_changes\n    name: changes.customer_profile\n"
    tables.write_text(tables.read_text().replace("  customer_profile:\n", moved))
    monkeypatch.setenv(*postgres.connection("pg_changes"))
    export = home.define("pg_changes")
    assert run(export, "manual__1") == 0
    assert delivered(export, "manual__1")[1] == [profile_line(r, "added") for r in profiles(home)]

    one, two = first_ids(home, 2)
    postgres.execute(
        f"UPDATE changes.customer_profile SET lifetime_value = 1.25 WHERE profile_id = {one};"
        f"DELETE FROM changes.customer_profile WHERE profile_id = {two};"
        "INSERT INTO changes.customer_profile (profile_id, city) VALUES (990002, 'Pg Town')"
    )
    assert run(export, "manual__2") == 0
    row = profiles(home, f"profile_id = {one}")[0]
    assert delivered(export, "manual__2")[1] == [
        profile_line((row[0], row[1], "1.25", row[3]), "changed"),
        [str(two), "", "", "", "removed"],
        ["990002", "Pg Town", "", "", "added"],
    ]
