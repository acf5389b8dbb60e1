"""The housekeeping DAG, run with dag.test(): it purges expired downloads and says which."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from ferry import paths

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def _run_folder(export_id: str, run: str, age_days: int) -> Path:
    folder = paths.downloads_dir() / export_id / run
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    stamp = (dt.datetime.now(dt.UTC) - dt.timedelta(days=age_days)).timestamp()
    os.utime(folder / "manifest.json", (stamp, stamp))
    return folder


def _returned(run, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id)
    with create_session() as session:
        (xcom,) = session.scalars(query).all()
        return XComModel.deserialize_value(xcom)


def test_housekeeping_dag_purges_by_retention(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    expired = _run_folder("daily_lead_backup", "daily_lead_backup.old", age_days=31)
    kept = _run_folder("daily_lead_backup", "daily_lead_backup.recent", age_days=29)
    orphan = _run_folder("removed_export", "removed_export.old", age_days=31)
    bag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_housekeeping.py"))
    dag = bag.dags["ferry_housekeeping"]
    assert dag.tags and set(dag.tags) == {"ferry", "housekeeping"}
    assert all(task.owner == "ferry" and task.retries == 1 for task in dag.tasks)

    run = dag.test()

    assert run.state == "success"
    assert not expired.exists() and not orphan.exists() and kept.exists()
    assert sorted(_returned(run, "purge_downloads")) == sorted([str(expired), str(orphan)])
