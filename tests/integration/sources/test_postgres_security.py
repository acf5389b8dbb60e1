"""What reaches the Postgres server: never the PII key, never a user's value in SQL text.

The server logs every statement (log_statement=all) and the parameters bound to it, so the
log shows exactly what Ferry sent. PII is applied on the worker: the same bytes as from
DuckDB, with no part of the key in Postgres' log. Hostile values in every place a user
writes one run nothing and fail clearly.
"""

from __future__ import annotations

import hashlib

import pytest
from tests.unit.engine.helpers import PII_KEY, ROOT

from ferry.engine import extract
from ferry.engine.pii import token_key
from ferry.sources import SourceError
from ferry.sources.postgres import PostgresSource
from ferry.spec import models
from ferry.spec.loader import load_project
from ferry.sql import DUCKDB, POSTGRES
from include_copy import copy_include

from .conftest import on_postgres, plan_for

pytestmark = pytest.mark.integration

HOSTILE = [
    "x' OR 1=1 --",
    "'); DROP TABLE crm.account; --",
    "$1 OR TRUE",
    "? OR TRUE",
    "' || current_setting('ferry.p1') || '",
    "\\'; SELECT pg_sleep(5); --",
    '" OR "1"="1',
]


@pytest.fixture(scope="module")
def both(demo_in_postgres, postgres):
    duck = load_project(ROOT / "include")
    pg = on_postgres(load_project(ROOT / "include"))
    return (duck, demo_in_postgres), (pg, PostgresSource(postgres.uri, "pg_warehouse"))


def run_both(both, tmp_path, definition: dict, segment: dict | None = None) -> list:
    manifests = []
    for (project, source), dialect in zip(both, (DUCKDB, POSTGRES), strict=True):
        if segment:
            project.segments[segment["id"]] = models.SegmentSpec.model_validate(segment)
        plan = plan_for(project, tmp_path / dialect.name, definition, dialect)
        manifests.append(extract(plan, source=source, pii_key=PII_KEY))
    return manifests


def statements(log: str) -> list[str]:
    """The SQL text the server received (not the DETAIL lines of bound parameters)."""
    return [line for line in log.splitlines() if "statement: " in line or "execute <" in line]


def test_pii_is_applied_on_the_worker_and_the_key_never_reaches_postgres(both, postgres, tmp_path):
    fields = ["profile_id", "email", "phone", "first_name", "last_name",
              {"field": "email", "as": "email_domain", "derive": "email_domain"}]  # fmt: skip
    pii = {"email": "hash", "phone": "mask", "first_name": "tokenize", "last_name": "hash"}
    definition = {"id": "pii_probe", "source": {"table": "customer_profile"}, "fields": fields,
                  "pii": pii, "format": {"type": "csv", "compression": "gzip"}}  # fmt: skip
    from_duckdb, from_postgres = run_both(both, tmp_path, definition)
    assert from_postgres.rows == from_duckdb.rows == 20_000
    digests = [[f.sha256 for f in m.data_files] for m in (from_duckdb, from_postgres)]
    assert digests[0] == digests[1]
    log = postgres.log()
    assert "COPY (SELECT" in log  # the server logged the reads
    secrets = [PII_KEY, token_key(PII_KEY), hashlib.sha256(PII_KEY).digest()]
    for secret in secrets:
        for form in (secret.hex(), secret.decode("latin-1"), secret.hex().upper()):
            assert form not in log
    assert "sha256" not in log.lower() and "hmac" not in log.lower()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_in_filters_and_segments_are_only_ever_bound(
    value, both, postgres, tmp_path
):
    accounts = postgres.execute("SELECT count(*) FROM crm.account")
    where = [{"field": "state", "op": "in", "value": ["TX", value]},
             {"field": "last_name", "op": "ne", "value": value}]  # fmt: skip
    rules = {"any": [{"field": "country", "op": "eq", "value": value},
                     {"field": "city", "op": "starts_with", "value": value},
                     {"field": "email", "op": "contains", "value": value},
                     {"field": "notes", "op": "regex", "value": "[']; DROP TABLE crm[.]x; --"},
                     {"field": "lifetime_value", "op": "gt", "value": 2000}]}  # fmt: skip
    segment = {"id": "hostile", "name": "Hostile", "type": "customer_profile", "rules": rules}
    definition = {"id": "hostile_probe", "kind": "segment", "source": {"segment": "hostile"},
                  "target": "s3_archive", "fields": ["profile_id", "state"],
                  "filters": {"where": where}}  # fmt: skip
    from_duckdb, from_postgres = run_both(both, tmp_path, definition, segment)
    assert from_postgres.rows == from_duckdb.rows > 0
    assert [f.sha256 for f in from_duckdb.data_files] == [
        f.sha256 for f in from_postgres.data_files
    ]
    assert postgres.execute("SELECT count(*) FROM crm.account") == accounts
    sent = statements(postgres.log())
    assert not [line for line in sent if value in line]
    quoted = value.replace("'", "''")
    assert f"= '{quoted}'" in postgres.log()  # in a DETAIL line of bound parameters


def test_an_id_that_is_not_a_key_fails_clearly_and_runs_nothing(both, postgres, tmp_path):
    (_, _), (project, source) = both
    definition = {"id": "ids_probe", "source": {"table": "customer_profile"},
                  "fields": ["profile_id"]}  # fmt: skip
    plan = plan_for(project, tmp_path, definition, ids=("1); DROP TABLE crm.account; --",))
    with pytest.raises(SourceError) as refused:
        extract(plan, source=source, pii_key=None)
    assert str(refused.value).startswith("connection pg_warehouse (postgres): ")
    assert "invalid input syntax for type bigint" in str(refused.value)
    assert postgres.execute("SELECT count(*) FROM crm.account").strip() == "2000"


def test_a_pattern_postgres_cannot_run_fails_naming_the_connection(both, tmp_path):
    (_, _), (project, source) = both
    rules = {"all": [{"field": "email", "op": "regex", "value": "(?P<user>[a-z]+)@"}]}
    project.segments["named"] = models.SegmentSpec.model_validate(
        {"id": "named", "name": "Named", "type": "customer_profile", "rules": rules}
    )
    definition = {"id": "regex_probe", "kind": "segment", "source": {"segment": "named"},
                  "target": "s3_archive", "fields": ["profile_id"]}  # fmt: skip
    with pytest.raises(SourceError, match=r"^connection pg_warehouse \(postgres\): .*regular"):
        extract(plan_for(project, tmp_path, definition), source=source, pii_key=None)


EXPORT = """\
id: hostile_names
name: Hostile names
source: {table: customer_profile}
fields: [profile_id, "state\\"; DROP TABLE crm.account; --"]
filters:
  where:
    - {field: "country\\" OR 1=1 --", op: eq, value: US}
destinations: [{type: download}]
"""
TABLE = """\
  sneaky:
    connection: pg_warehouse
    name: "crm.account; DROP TABLE crm.contact"
    key: account_id
    columns: {account_id: {type: BIGINT}}
"""


def test_hostile_names_in_definitions_are_refused_when_they_load(tmp_path):
    include = copy_include(tmp_path)
    (include / "exports" / "hostile_names.yaml").write_text(EXPORT)
    tables = include / "warehouse" / "tables.yaml"
    tables.write_text(tables.read_text() + TABLE)
    project = load_project(include)
    errors = [str(error) for error in project.errors]
    assert "hostile_names" not in project.exports and "sneaky" not in project.tables
    export_errors = [e for e in errors if e.startswith("include/exports/hostile_names.yaml:")]
    assert export_errors == [
        "include/exports/hostile_names.yaml:4 -> fields[1] -> table 'customer_profile' has no "
        """column 'state"; DROP TABLE crm.account; --'""",
        "include/exports/hostile_names.yaml:7 -> filters.where[0].field -> table "
        """'customer_profile' has no column 'country" OR 1=1 --'""",
    ]
    assert any(
        e.startswith("include/warehouse/tables.yaml:") and "tables.sneaky.name -> " in e
        and "is not a table name" in e for e in errors
    )  # fmt: skip
