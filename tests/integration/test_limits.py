"""Size limits in an Airflow run (dag.test): over a maximum the export is skipped and
nothing is delivered; over a warning size it warns with the numbers and delivers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry import history, paths
from include_copy import copy_include

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXPORT = """\
id: {id}
name: Leads with limits
source: {{table: lead}}
fields: [lead_id, state, source]
destinations: [{{type: download}}]
schedule: "off"
limits: {limits}
"""
AFTER_CHECK = ("extract", "validate", "deliver_download", "finalize")


@pytest.fixture
def include(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse: Path) -> Path:
    target = copy_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(target))
    return target


def run_export(include: Path, export_id: str, limits: str):
    from airflow.dag_processing.dagbag import DagBag

    (include / "exports" / f"{export_id}.yaml").write_text(
        EXPORT.format(id=export_id, limits=limits)
    )
    dag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py")).dags[f"export__{export_id}"]
    run = dag.test()
    return run, {ti.task_id: ti.state for ti in run.get_task_instances()}


def lead_rows(warehouse: Path) -> int:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT count(*) FROM lead").fetchone()[0]


def test_over_a_maximum_the_export_is_skipped_and_nothing_is_delivered(
    include, warehouse, airflow_db, capfd
):
    rows = lead_rows(warehouse)
    reason = f"{rows:,} rows is over the maximum of 1,000 rows (export capped_leads)"

    run, states = run_export(include, "capped_leads", "{max_rows: 1000}")

    assert states["check_eligibility"] == "success"
    assert states["check_limits"] == "skipped"
    assert {states[task] for task in AFTER_CHECK} == {"skipped"}
    assert not (paths.downloads_dir() / "capped_leads").exists()
    assert f"Skipping export capped_leads: {reason}; nothing is delivered" in capfd.readouterr().out
    [record] = history.list_runs("capped_leads")
    assert (record.outcome, record.reason, record.run_id) == ("skipped", reason, run.run_id)


def test_over_a_warning_size_the_export_warns_with_the_numbers_and_delivers(
    include, warehouse, airflow_db, capfd
):
    rows = lead_rows(warehouse)

    run, states = run_export(include, "large_leads", "{warn_rows: 1000, max_rows: 1000000}")

    assert run.state == "success" and {states[task] for task in AFTER_CHECK} == {"success"}
    warning = f"Large export large_leads: {rows:,} rows is over the warning size of 1,000 rows"
    assert warning in capfd.readouterr().out
    [record] = history.list_runs("large_leads")
    assert (record.outcome, record.rows) == ("success", rows)
