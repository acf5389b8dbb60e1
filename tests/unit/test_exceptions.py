"""Which errors another try could fix: every Ferry error says, and one function decides."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sqlite3
from pathlib import Path

import duckdb
import pytest

import ferry
from duckdb_lock import held_by_another_process
from ferry import staging
from ferry.delivery import DeliveryError, RejectRateExceeded, StagedFileMismatch
from ferry.engine import ExpectationsFailed, MissingPiiKeyError
from ferry.exceptions import (
    BadRunParams,
    ExportRejected,
    ExportSkipped,
    Terminal,
    Transient,
    kind_of,
)

# Errors that never end a task, each with where it stays
NEVER_IN_A_TASK = {
    "ferry.cli.connection.CliError": "the command line's one-line errors",
    "ferry.airflow_api.AirflowApiError": "the command line's REST client",
    "ferry.cli.definitions.NoDefinitions": "ferry validate / definitions without a folder",
    "ferry.delivery.webhook._RetryableStatus": "caught by the webhook sender's own retries",
}


@pytest.mark.parametrize(
    "error",
    [
        ExportRejected("export 'x' is not defined or has errors"),
        BadRunParams("run param ids: item 1 is empty"),
        ExpectationsFailed({"failed": ["not_null: 3 nulls"]}),
        MissingPiiKeyError("no PII key: set the password of the Airflow connection ferry_pii"),
        staging.StagingConfigError("FERRY_STAGING is not a folder or an s3:// URL"),
        staging.StagingError("staged file changed after extract", retryable=False),
        RejectRateExceeded("the target refused 12% of the records"),
        StagedFileMismatch("staged file x is missing"),
        DeliveryError("answered HTTP 403", retryable=False),
    ],
    ids=type,
)
def test_errors_another_try_cannot_fix_are_terminal(error):
    assert kind_of(error) == "terminal"


@pytest.mark.parametrize(
    "error",
    [
        staging.StagingError("could not reach the endpoint"),
        DeliveryError("POST to http://x answered HTTP 503"),
        ConnectionResetError("connection reset by peer"),
        TimeoutError("timed out"),
    ],
    ids=type,
)
def test_network_errors_and_server_errors_are_transient(error):
    assert kind_of(error) == "transient"


def test_a_missing_warehouse_or_manifest_is_terminal(tmp_path: Path):
    from ferry.manifest import read_manifest
    from ferry.sources import DuckDbSource

    for missing in (
        lambda: DuckDbSource(tmp_path / "none.duckdb", "ferry_warehouse").snapshot().__enter__(),
        lambda: read_manifest(tmp_path),
    ):
        with pytest.raises(FileNotFoundError) as raised:
            missing()
        assert kind_of(raised.value) == "terminal"


def test_a_connection_that_is_not_defined_is_terminal():
    from airflow.sdk import BaseHook

    with pytest.raises(Exception, match="isn't defined") as raised:
        BaseHook.get_connection("ferry_no_such_connection")
    assert kind_of(raised.value) == "terminal"


def test_a_query_that_cannot_convert_a_value_is_terminal():
    with pytest.raises(duckdb.Error) as raised:
        duckdb.connect().execute("SELECT CAST(? AS BIGINT)", ["abc"])
    assert kind_of(raised.value) == "terminal"


def test_a_warehouse_locked_by_another_process_is_transient(tmp_path: Path):
    path = tmp_path / "locked.duckdb"
    with (
        held_by_another_process(path, seconds=60),
        pytest.raises(duckdb.Error, match="Could not set lock") as raised,
    ):
        duckdb.connect(str(path), read_only=True)
    assert kind_of(raised.value) == "transient"


def test_a_locked_history_database_is_transient(tmp_path: Path):
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as first:
        first.execute("CREATE TABLE runs (x)")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked") as raised:
            sqlite3.connect(path, timeout=0).execute("SELECT * FROM runs")
    finally:
        writer.close()
    assert kind_of(raised.value) == "transient"


def test_a_history_database_server_out_of_reach_is_transient(tmp_path: Path, monkeypatch):
    from tests.servers import airflow_connection, free_port

    from ferry import history, history_db

    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    monkeypatch.setenv(history_db.ENV, "history_pg")
    closed = {"host": "127.0.0.1", "port": free_port(), "schema": "h"}  # no server there
    monkeypatch.setenv(*airflow_connection("history_pg", conn_type="postgres", **closed))
    with pytest.raises(Exception, match="Connection refused") as raised:
        history.list_runs()
    assert kind_of(raised.value) == "transient"


def test_an_error_nobody_classified_is_said_to_be_so():
    assert kind_of(KeyError("x")) == "unclassified"


def test_every_ferry_error_says_whether_another_try_can_fix_it():
    """A new error class must carry Terminal or Transient (or a retryable flag)."""
    unclassified = [
        name
        for name, error_type in _ferry_error_types()
        if name not in NEVER_IN_A_TASK
        and not issubclass(error_type, (Terminal, Transient, ExportSkipped))
        and not hasattr(error_type, "retryable")
        and "retryable" not in inspect.signature(error_type.__init__).parameters
    ]
    assert not unclassified, f"say whether these are Terminal or Transient: {unclassified}"


def _ferry_error_types():
    for module_info in pkgutil.walk_packages(ferry.__path__, "ferry."):
        if module_info.name.rsplit(".", 1)[-1].startswith("_"):
            continue  # the entry point runs the CLI; _hmac_sha256 is a C library
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                yield f"{module.__name__}.{name}", value
