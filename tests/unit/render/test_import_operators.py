"""Import DAGs in real Airflow runs (dag.test): a dropped file is waited for, loaded, recorded
and moved to done/; a file that never comes fails the run with the pattern, the folder and
the timeout, and a failed import record."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from ferry import history
from ferry.run_info import RunInfo

pytestmark = pytest.mark.integration  # dag.test() needs Airflow's metadata database
ROOT = Path(__file__).resolve().parents[3]
DAY = dt.datetime(2026, 3, 4, tzinfo=dt.UTC)
QUICK = """\
id: quick_leads
name: Quick leads
source: {type: folder, path: quick, pattern: "quick_{{ ds_nodash }}.csv", done_folder: done}
table: lead
mode: append
columns: [lead_id, state]
wait: {timeout: 2s, poke_interval: 1s}
retries: 0
"""


GROUP = """\
id: load_then_send
name: Load then send
members:
  - import: partner_leads
  - export: partner_backup
"""
PARTNER_BACKUP = """\
id: partner_backup
name: Partner backup
source: {table: lead}
fields: [lead_id, state, source, created_at]
filters: {where: [{field: source, op: eq, value: partner}]}
destinations: [{type: download}]
schedule: "off"
retries: 0
"""
NEW_LEAD = "900000101"  # above any lead id the demo warehouse has


@pytest.fixture
def dag(tmp_path, monkeypatch, airflow_db):
    from include_copy import copy_include

    include = copy_include(tmp_path)
    (include / "imports" / "quick_leads.yaml").write_text(QUICK)
    (include / "exports" / "partner_backup.yaml").write_text(PARTNER_BACKUP)
    (include / "groups" / "load_then_send.yaml").write_text(GROUP)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERRY_DROP", raising=False)
    return dag_of("ferry_imports.py", "import__quick_leads")


def dag_of(file: str, dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / file))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def drop_file(tmp_path: Path) -> Path:
    """The partner's file for 2026-03-04 (again), in the import's drop folder."""
    drop = tmp_path / "home" / "drop" / "quick"
    drop.mkdir(parents=True, exist_ok=True)
    (drop / "quick_20260304.csv").write_text(f"lead_id,state\n{NEW_LEAD},TX\n")
    return drop


def states_of_the_new_lead(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("SELECT state FROM lead WHERE lead_id = ?", [int(NEW_LEAD)])
        return [state for (state,) in rows.fetchall()]


def test_a_file_that_never_comes_fails_the_run_with_a_clear_reason(dag):
    run = dag.test(logical_date=DAY)
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert run.state == "failed" and tis["wait_for_file"].state == "failed"
    [record] = history.list_runs("quick_leads")
    assert (record.kind, record.outcome) == ("import", "failed")
    assert "wait_for_file failed: Import quick_leads: no file matching 'quick_20260304.csv'" in (
        record.reason
    )
    assert "within 0:00:02 (wait.timeout)" in record.reason


def test_a_dropped_file_is_loaded_recorded_and_moved_to_done(dag, tmp_path, own_warehouse):
    drop = drop_file(tmp_path)
    run = dag.test(logical_date=DAY)
    assert run.state == "success"
    assert states_of_the_new_lead(own_warehouse) == ["TX"]
    [record] = history.list_runs("quick_leads")
    assert (record.kind, record.outcome, record.files, record.rows, record.inserted) == (
        "import", "success", 1, 1, 1,
    )  # fmt: skip
    assert (drop / "done" / "quick_20260304.csv").exists()
    assert not (drop / "quick_20260304.csv").exists()


def test_a_rerun_of_a_loaded_run_succeeds_at_once_though_its_file_is_in_done(
    dag, tmp_path, own_warehouse
):
    drop = drop_file(tmp_path)
    first = dag.test(logical_date=DAY, run_after=DAY)  # run_after fixes the run id
    assert first.state == "success"
    assert not (drop / "quick_20260304.csv").exists()  # in done/: nothing left to wait for
    run = dag.test(logical_date=DAY, run_after=DAY)  # the same run, cleared and run again
    assert run.run_id == first.run_id  # its sensor did not sit out wait.timeout and fail:
    assert run.state == "success"
    assert states_of_the_new_lead(own_warehouse) == ["TX"]
    [record] = history.list_runs("quick_leads")
    assert (record.outcome, record.reason, record.inserted) == (
        "success", history.ALREADY_LOADED, 1,
    )  # fmt: skip


def test_the_dags_force_param_reaches_the_load(dag, tmp_path, own_warehouse):
    drop_file(tmp_path)
    assert dag.test(logical_date=DAY).state == "success"
    drop_file(tmp_path)  # the same file in a new run (dag.test names it by the time): the
    # append ledger skips it
    assert dag.test(logical_date=DAY).state == "success"
    assert states_of_the_new_lead(own_warehouse) == ["TX"]
    drop_file(tmp_path)  # forced from the trigger form: appended again
    assert dag.test(logical_date=DAY, run_conf={"force": True}).state == "success"
    assert states_of_the_new_lead(own_warehouse) == ["TX", "TX"]


def test_a_group_dag_imports_then_its_export_delivers_the_imported_rows(
    dag, tmp_path, own_warehouse
):
    from ferry_demo.drop import NEW_LEADS_FROM, drop_leads

    drop_leads(DAY.date(), tmp_path / "home" / "drop")
    run = dag_of("ferry_groups.py", "group__load_then_send").test(logical_date=DAY)
    assert run.state == "success"
    [delivered] = (tmp_path / "home" / "downloads" / "partner_backup").glob("*/*.csv")
    with delivered.open(newline="") as handle:
        rows = {int(row["lead_id"]): row for row in csv.DictReader(handle)}
    assert sorted(rows) == [*range(1, 11), *range(NEW_LEADS_FROM, NEW_LEADS_FROM + 10)]
    assert (rows[1]["state"], rows[1]["created_at"]) == ("TX", "2026-03-04T09:30:00Z")
    imported = history.get_run(
        RunInfo("partner_leads", run.run_id, group_id="load_then_send").job_run_id
    )
    assert imported is not None and (imported.kind, imported.inserted, imported.updated) == (
        "import", 10, 10,
    )  # fmt: skip
