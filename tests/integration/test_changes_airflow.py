"""A changes-only export run by Airflow (dag.test): finalize commits the state, and a
change set over a limit skips extract's downstream tasks and keeps the changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from changes_runs import make_home, profiles
from ferry import history, paths
from ferry.run_info import RunInfo

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
AFTER_EXTRACT = ("validate", "deliver_download", "finalize")


@pytest.fixture
def home(tmp_path, monkeypatch, warehouse):
    return make_home(tmp_path, monkeypatch, warehouse)


def dag_run(export_id: str):
    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py"))
    run = dags.dags[f"export__{export_id}"].test()
    return run, {ti.task_id: ti.state for ti in run.get_task_instances()}


def delivered_rows(export_id: str, run_id: str) -> list[str]:
    folder = paths.downloads_dir() / export_id / RunInfo(export_id, run_id).job_run_id
    [data] = sorted(folder.glob("*.csv"))
    return data.read_text().splitlines()[1:]


def test_airflow_commits_on_finalize_and_a_skip_keeps_the_changes(home, airflow_db):
    export = home.define("airflow_changes", extra="limits: {max_rows: 1}\n")
    definition = home.include / "exports" / f"{export}.yaml"
    limited = definition.read_text()
    definition.write_text(limited.replace("{max_rows: 1}", "{max_rows: 1000000}"))
    first, states = dag_run(export)
    assert first.state == "success", states
    [one] = [row[0] for row in profiles(home)][:1]
    home.sql(f"UPDATE customer_profile SET city = 'Airflow' WHERE profile_id = {one}",
             f"DELETE FROM customer_profile WHERE profile_id = {one + 1}")  # fmt: skip
    definition.write_text(limited)

    skipped, states = dag_run(export)

    assert states["extract"] == "skipped"
    assert {states[task] for task in AFTER_EXTRACT} == {"skipped"}
    [record] = [r for r in history.list_runs(export) if r.run_id == skipped.run_id]
    assert (record.outcome, record.reason) == (
        "skipped", "2 rows is over the maximum of 1 rows (export airflow_changes)",
    )  # fmt: skip
    definition.write_text(limited.replace("{max_rows: 1}", "{max_rows: 2}"))
    sent, states = dag_run(export)
    assert sent.state == "success", states
    lines = delivered_rows(export, sent.run_id)
    assert [line.split(",")[0] for line in lines] == [str(one), str(one + 1)]
    assert [line.split(",")[-1] for line in lines] == ["changed", "removed"]
