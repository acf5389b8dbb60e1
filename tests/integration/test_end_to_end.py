"""A data-out export of a demo table, run by Airflow, delivered to the download area.

The delivered CSV is parsed back with Python's csv module and compared with the
warehouse row for row, through dag.test() and through the standalone scheduler.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import time
from pathlib import Path

import duckdb
import pytest

from ferry import paths
from ferry.run_info import RunInfo

pytestmark = pytest.mark.integration
EXPORT_ID = "customer_profiles_csv"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: what a spreadsheet runs


def csv_text(value) -> str:
    """How the design's CSV contract writes a warehouse value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (dt.date, decimal.Decimal)):
        return str(value)
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value  # the export goes to the download area: the formula guard is on
    return str(value)


def warehouse_rows(warehouse: Path) -> tuple[list[str], list[list[str]]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        result = con.execute("SELECT * FROM customer_profile ORDER BY profile_id")
        header = [column[0] for column in result.description]
        return header, [[csv_text(value) for value in row] for row in result.fetchall()]


def delivered_rows(folder: Path) -> tuple[list[str], list[list[str]]]:
    manifest = json.loads((folder / "manifest.json").read_text())
    rows: list[list[str]] = []
    header: list[str] = []
    for staged in (f for f in manifest["files"] if f["kind"] == "data"):
        with (folder / staged["name"]).open(newline="", encoding="utf-8") as stream:
            reader = csv.reader(stream)
            header = next(reader)
            rows += list(reader)
    return header, rows


def assert_delivered_equals_warehouse(folder: Path, warehouse: Path) -> None:
    assert (folder / "manifest.json").exists(), f"no manifest in {folder}"
    expected_header, expected = warehouse_rows(warehouse)
    header, rows = delivered_rows(folder)
    assert header == expected_header
    assert len(rows) == len(expected)
    for number, (got, want) in enumerate(zip(rows, expected, strict=True)):
        assert got == want, f"row {number + 1} differs"


def only_download_folder(export_id: str, run_id_part: str) -> Path:
    folders = [
        folder
        for folder in (paths.downloads_dir() / export_id).iterdir()
        if run_id_part in folder.name
    ]
    assert len(folders) == 1, folders
    return folders[0]


def test_dag_test_delivers_the_table_row_for_row(warehouse, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(paths.PROJECT_ROOT / "dags")).dags[f"export__{EXPORT_ID}"]
    run = dag.test(run_after=dt.datetime(2026, 11, 20, tzinfo=dt.UTC))
    assert run.state == "success"
    folder = only_download_folder(EXPORT_ID, "manual__2026-11-20")
    assert_delivered_equals_warehouse(folder, warehouse)


def test_scheduler_runs_the_export_triggered_through_the_rest_api(live_airflow, warehouse):
    client = live_airflow.client
    dag_id = f"export__{EXPORT_ID}"
    client.wait_for_dag(dag_id)
    client.set_paused(dag_id, False)
    run = client.trigger(dag_id, note="end-to-end test")
    finished = client.wait_for_run(dag_id, run["dag_run_id"], timeout=300)
    states = {ti["task_id"]: ti["state"] for ti in client.task_instances(dag_id, run["dag_run_id"])}
    assert finished["state"] == "success", states
    assert set(states.values()) == {"success"}
    folder = only_download_folder(EXPORT_ID, RunInfo(EXPORT_ID, run["dag_run_id"]).safe_run_id)
    assert_delivered_equals_warehouse(folder, warehouse)


def test_a_broken_definition_shows_in_the_running_airflow(live_airflow):
    client = live_airflow.client
    broken = paths.include_dir() / "exports" / "broken_on_purpose.yaml"
    broken.write_text(
        "id: broken_on_purpose\nname: Broken\nsource: {table: leeds}\n"
        "destinations: [{type: download}]\n"
    )
    try:
        dag = client.wait_for_dag("ferry_broken__exports.broken_on_purpose", timeout=120)
        error = wait_for_import_error(client, "ferry_definition_errors.py", timeout=120)
        other = client.dag(f"export__{EXPORT_ID}")
    finally:
        broken.unlink()
    assert "unknown table 'leeds'; did you mean 'lead'?" in dag["description"]
    assert (
        "exports/broken_on_purpose.yaml:3 -> source.table -> unknown table 'leeds'"
        in (error["stack_trace"])
    )
    assert other["is_stale"] is False, "the other exports still render"


def wait_for_import_error(client, dag_file: str, *, timeout: float) -> dict:
    """The DAG processor parses each DAG file on its own: the error DAG may come first."""
    deadline = time.monotonic() + timeout
    while True:
        errors = client.request("GET", "/importErrors")["import_errors"]
        found = [e for e in errors if e["filename"].endswith(dag_file)]
        if found or time.monotonic() > deadline:
            assert found, f"an import error of {dag_file} within {timeout} s: {errors}"
            return found[0]
        time.sleep(1)
