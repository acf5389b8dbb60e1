"""A changes-only export of a table on Postgres: the diff runs on the worker's DuckDB over
the rows pushed down from Postgres, and sends what it sends from DuckDB."""

from __future__ import annotations

import hashlib
import hmac

import pyarrow.parquet as pq
import pytest

from changes_runs import PII_KEY, delivered, make_home, profile_line, profiles, run
from ferry import paths
from ferry.definitions import current_project
from ferry.engine.pii import token_key

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


TOKENIZED = """\
id: pg_tokens
name: Tokenized changes
source: {table: customer_profile}
fields: [profile_id, city]
pii: {profile_id: tokenize}
changes: true
destinations: [{type: download}]
schedule: "off"
"""


def token(value: int) -> str:
    key = token_key(PII_KEY.encode())
    return "tok_" + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:24]


def test_a_tokenized_key_on_postgres_is_kept_and_diffed_as_its_token(home, postgres, monkeypatch):
    spec = current_project().tables["customer_profile"]
    postgres.execute("DROP SCHEMA IF EXISTS tokens CASCADE; CREATE SCHEMA tokens")
    copy_table(postgres, home.warehouse, "customer_profile", spec, "tokens.customer_profile")
    tables = home.include / "warehouse" / "tables.yaml"
    moved = "  customer_profile:\n    connection: pg_tokens\n    name: tokens.customer_profile\n"
    tables.write_text(tables.read_text().replace("  customer_profile:\n", moved))
    monkeypatch.setenv(*postgres.connection("pg_tokens"))
    (home.include / "exports" / "pg_tokens.yaml").write_text(TOKENIZED)
    assert run("pg_tokens", "manual__1") == 0
    ids = [row[0] for row in profiles(home)]
    state = paths.ferry_home() / "changes" / "pg_tokens" / "states"
    [kept] = list(state.iterdir())
    assert sorted(pq.read_table(kept).column("key").to_pylist()) == sorted(map(token, ids))

    one, two = ids[:2]
    postgres.execute(
        f"UPDATE tokens.customer_profile SET city = 'Tokened' WHERE profile_id = {one};"
        f"DELETE FROM tokens.customer_profile WHERE profile_id = {two};"
    )
    assert run("pg_tokens", "manual__2") == 0
    assert sorted(delivered("pg_tokens", "manual__2")[1]) == sorted(
        [[token(one), "Tokened", "changed"], [token(two), "", "removed"]]
    )
