"""Which source a tables.yaml connection is: Airflow connections by type, and the default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ferry import sources
from ferry.exceptions import kind_of
from ferry.sources.files import FilesSource
from ferry.sources.postgres import PostgresSource
from ferry.sql import FILES


def define(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def test_an_undefined_ferry_warehouse_is_the_file_ferry_warehouse_names(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_FERRY_WAREHOUSE", raising=False)
    monkeypatch.setenv("FERRY_WAREHOUSE", str(tmp_path / "w.duckdb"))
    source = sources.source_for("ferry_warehouse")
    assert source == sources.DuckDbSource(tmp_path / "w.duckdb", "ferry_warehouse")


def test_a_duckdb_connection_without_host_is_ferry_warehouse_and_with_one_its_file(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("FERRY_WAREHOUSE", str(tmp_path / "default.duckdb"))
    define(monkeypatch, "ferry_warehouse", conn_type="duckdb")
    define(monkeypatch, "lake", conn_type="duckdb", host=str(tmp_path / "lake.duckdb"))
    define(monkeypatch, "relative", conn_type="duckdb", host="data/r.duckdb")
    assert sources.source_for("ferry_warehouse").path == tmp_path / "default.duckdb"
    assert sources.source_for("lake").path == tmp_path / "lake.duckdb"
    assert sources.source_for("relative").path == Path(sources.paths.PROJECT_ROOT) / "data/r.duckdb"


def test_a_postgres_connection_keeps_its_credentials_escaped_in_the_uri(monkeypatch):
    define(monkeypatch, "pg", conn_type="postgres", host="db.example", port=6543,
           login="ann", password="p@ss/w:rd", schema="crm")  # fmt: skip
    source = sources.source_for("pg")
    assert isinstance(source, PostgresSource) and source.dialect.name == "postgres"
    assert source.uri == (
        "postgresql://ann:p%40ss%2Fw%3Ard@db.example:6543/crm?connect_timeout=10&keepalives=1"
    )
    assert "p@ss" not in repr(source)
    assert "p@ss" not in repr(source.dialect)


def test_an_undefined_connection_is_terminal_and_says_how_to_define_it(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CRM", raising=False)
    with pytest.raises(sources.SourceNotDefined, match="AIRFLOW_CONN_CRM") as raised:
        sources.source_for("crm")
    assert kind_of(raised.value) == "terminal"


def test_a_connection_of_another_type_names_the_types_ferry_reads(monkeypatch):
    define(monkeypatch, "mystery", conn_type="mysql", host="x")
    with pytest.raises(sources.SourceError, match="duckdb, postgres"):
        sources.source_for("mystery")


def test_a_path_is_a_duckdb_file(tmp_path):
    assert sources.as_source(tmp_path / "w.duckdb").path == tmp_path / "w.duckdb"


def test_an_fs_connection_is_the_folder_of_its_extra_path_or_host(monkeypatch, tmp_path):
    define(monkeypatch, "lake", conn_type="fs", extra={"path": str(tmp_path)})
    define(monkeypatch, "relative", conn_type="fs", host="data/lake")
    define(monkeypatch, "nowhere", conn_type="fs")
    lake = sources.source_for("lake")
    assert lake == FilesSource(tmp_path, "lake") and lake.dialect == FILES
    assert sources.source_for("relative").folder == Path(sources.paths.PROJECT_ROOT) / "data/lake"
    with pytest.raises(sources.SourceError, match=r'nowhere \(fs\) names no folder.*"path"'):
        sources.source_for("nowhere")
