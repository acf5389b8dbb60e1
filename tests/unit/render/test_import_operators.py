"""Import DAGs in real Airflow runs (dag.test): a dropped file is waited for, loaded, recorded
and moved to done/; a file that never comes fails the run with the pattern, the folder and
the timeout, and a failed import record."""

from __future__ import annotations

import dataclasses
import sys
import types
from pathlib import Path

import pytest

from ferry import history

pytestmark = pytest.mark.integration  # dag.test() needs Airflow's metadata database
ROOT = Path(__file__).resolve().parents[3]
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


@dataclasses.dataclass(frozen=True)
class Result:  # the shape of ferry.imports.load.ImportResult
    rows_read: int = 1
    inserted: int = 1
    updated: int = 0
    deleted: int = 0
    rejected: int = 0
    skipped_files: tuple = ()
    rejects_file: str | None = None


FORCED: list[bool] = []  # what each stand-in load was asked


@pytest.fixture
def dag(tmp_path, monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from include_copy import copy_include

    include = copy_include(tmp_path)
    (include / "imports" / "quick_leads.yaml").write_text(QUICK)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FERRY_DROP", raising=False)
    try:
        import ferry.imports.load  # noqa: F401  (the real one, once it is built)
    except ImportError:
        stand_in = types.ModuleType("ferry.imports.load")
        stand_in.load = lambda *args, force, **kwargs: FORCED.append(force) or Result()
        stand_in.STAND_IN = True
        monkeypatch.setitem(sys.modules, "ferry.imports.load", stand_in)
    bag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_imports.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["import__quick_leads"]


def test_a_file_that_never_comes_fails_the_run_with_a_clear_reason(dag):
    import datetime as dt

    run = dag.test(logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC))
    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert run.state == "failed" and tis["wait_for_file"].state == "failed"
    [record] = history.list_runs("quick_leads")
    assert (record.kind, record.outcome) == ("import", "failed")
    assert "wait_for_file failed: Import quick_leads: no file matching 'quick_20260304.csv'" in (
        record.reason
    )
    assert "within 0:00:02 (wait.timeout)" in record.reason


def test_a_dropped_file_is_loaded_recorded_and_moved_to_done(dag, tmp_path):
    import datetime as dt

    drop = tmp_path / "home" / "drop" / "quick"
    drop.mkdir(parents=True)
    (drop / "quick_20260304.csv").write_text("lead_id,state\n1,TX\n")
    FORCED.clear()
    run = dag.test(logical_date=dt.datetime(2026, 3, 4, tzinfo=dt.UTC), run_conf={"force": True})
    assert run.state == "success"
    if getattr(sys.modules["ferry.imports.load"], "STAND_IN", False):
        assert FORCED == [True]  # the DAG's force param reaches the load
    [record] = history.list_runs("quick_leads")
    assert (record.kind, record.outcome, record.files, record.rows) == ("import", "success", 1, 1)
    assert (drop / "done" / "quick_20260304.csv").exists()
