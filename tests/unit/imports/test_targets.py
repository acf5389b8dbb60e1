"""targets: the table's connection decides where an import writes."""

from __future__ import annotations

import json

import pytest
from tests.unit.imports.helpers import table_spec

from ferry.imports.duckdb_target import DuckDbTarget
from ferry.imports.errors import ImportSetupError
from ferry.imports.postgres_target import PostgresTarget
from ferry.imports.targets import target_for
from ferry.sources import SourceError


def test_the_default_warehouse_is_the_duckdb_file(warehouse):
    target, name = target_for("lead", table_spec())
    assert target == DuckDbTarget(warehouse, "ferry_warehouse") and name == '"lead"'
    assert target_for("lead", table_spec(name="crm.leads"))[1] == '"crm"."leads"'


def test_a_postgres_connection_is_a_postgres_target(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PG_IMPORT", json.dumps(
        {"conn_type": "postgres", "host": "db", "login": "u", "schema": "w"}))  # fmt: skip
    target, _ = target_for("lead", table_spec(connection="pg_import"))
    assert isinstance(target, PostgresTarget) and "db:5432/w" in target.uri


def test_a_files_connection_cannot_be_written(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_CONN_LAKE", json.dumps(
        {"conn_type": "fs", "extra": {"path": str(tmp_path)}}))  # fmt: skip
    with pytest.raises(ImportSetupError, match="connection lake, which imports cannot write"):
        target_for("lead", table_spec(connection="lake", name="leads/*.parquet"))


def test_a_table_name_that_is_not_an_identifier_is_refused(warehouse):
    with pytest.raises(SourceError, match="is not a table name"):
        target_for("lead", table_spec(name="leads/*.parquet"))
