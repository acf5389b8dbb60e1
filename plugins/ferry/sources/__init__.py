"""Sources: where tables live, one Airflow connection each (tables.yaml's `connection:`).

| conn_type        | source                      | the table's `name:` in tables.yaml      |
|------------------|-----------------------------|------------------------------------------|
| duckdb           | a DuckDB file (host = path) | [schema.]table                           |
| postgres         | a Postgres database         | [schema.]table                           |
| fs               | a folder (extra.path)       | a relative path or glob of Parquet / CSV |

`ferry_warehouse` needs no connection: left undefined (or with an empty host) it is the
DuckDB file FERRY_WAREHOUSE names, the embedded demo warehouse by default.
"""

from __future__ import annotations

from pathlib import Path

from ferry import paths
from ferry.sources.base import Snapshot, Source, SourceError, SourceNotDefined, SourceUnavailable
from ferry.sources.duckdb_file import DuckDbSource, WarehouseMissing
from ferry.spec.catalogues import DEFAULT_CONNECTION

__all__ = [
    "DuckDbSource", "Snapshot", "Source", "SourceError", "SourceNotDefined",
    "SourceUnavailable", "WarehouseMissing", "airflow_connection", "as_source", "source_for",
]  # fmt: skip

POSTGRES_TYPES = ("postgres", "postgresql")


def source_for(connection_id: str = DEFAULT_CONNECTION) -> Source:
    """The source an Airflow connection describes.

    Raises:
        SourceNotDefined: Airflow has no such connection (other than ferry_warehouse).
        SourceError: the connection's type is not one Ferry reads, or it lacks a path.
    """
    connection = airflow_connection(connection_id)
    if connection is None:
        if connection_id == DEFAULT_CONNECTION:
            return DuckDbSource(paths.warehouse_path(), connection_id)
        raise SourceNotDefined(
            f"connection {connection_id} (named in tables.yaml) is not defined: add it in "
            f"Airflow (Admin > Connections) or as AIRFLOW_CONN_{connection_id.upper()}"
        )
    return _source_of(connection, connection_id)


def _source_of(connection, connection_id: str) -> Source:
    kind = (connection.conn_type or "").lower()
    if kind == "duckdb":
        return DuckDbSource(_duckdb_path(connection, connection_id), connection_id)
    if kind in POSTGRES_TYPES:
        from ferry.sources.postgres import PostgresSource, libpq_settings, postgres_uri

        settings = libpq_settings(connection.extra_dejson or {}, connection_id)
        uri = postgres_uri(connection.host or "127.0.0.1", connection.port, connection.login,
                           connection.password, connection.schema, settings)  # fmt: skip
        return PostgresSource(uri, connection_id)
    if kind == "fs":
        from ferry.sources.files import FilesSource

        return FilesSource(_folder(connection, connection_id), connection_id)
    raise SourceError(
        f"connection {connection_id} has type {kind or 'none'}; Ferry reads tables from "
        "duckdb, postgres and fs (a folder of Parquet or CSV files) connections"
    )


def _duckdb_path(connection, connection_id: str) -> Path:
    """host is the file; empty (airflow_settings.yaml's ferry_warehouse): FERRY_WAREHOUSE."""
    if not connection.host:
        return paths.warehouse_path()
    path = Path(connection.host).expanduser()
    return path if path.is_absolute() else paths.PROJECT_ROOT / path


def _folder(connection, connection_id: str) -> Path:
    """An fs connection's folder: extra {"path": ...} (Airflow's FSHook), else its host."""
    folder = connection.extra_dejson.get("path") or connection.host
    if not folder:
        raise SourceError(
            f'connection {connection_id} (fs) names no folder: set its extra {{"path": '
            '"/data/lake"}, the folder the name: paths of its tables in tables.yaml start from'
        )
    path = Path(folder).expanduser()
    return path if path.is_absolute() else paths.PROJECT_ROOT / path


def airflow_connection(connection_id: str):
    """Airflow's connection (from its secrets backends, env or database), None if undefined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(connection_id)
    except AirflowNotFoundException:
        return None


def as_source(source: Source | Path | str) -> Source:
    """A source, or a path to a DuckDB file (what tests and bench/ pass)."""
    if isinstance(source, Path | str):
        return DuckDbSource(Path(source), DEFAULT_CONNECTION)
    return source
