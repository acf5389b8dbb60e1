"""dags/ferry_exports.py: a task process parses only its own export's DAG."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPORTS_FILE = ROOT / "dags" / "ferry_exports.py"
CONTEXT = ("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "_AIRFLOW_PARSING_CONTEXT_TASK_ID")


def parse(dag_id: str | None = None) -> dict:
    """The file's DAGs as a task process for dag_id parses them (None: the DAG processor)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk.definitions._internal.dag_parsing_context import (
        _airflow_parsing_context_manager,
    )

    try:
        with _airflow_parsing_context_manager(dag_id=dag_id, task_id="extract"):
            return DagBag(dag_folder=str(EXPORTS_FILE)).dags
    finally:  # Airflow's context manager leaves its variables set
        for name in CONTEXT:
            os.environ.pop(name, None)


def test_a_task_process_renders_only_its_own_dag():
    every = parse()
    assert len([d for d in every if d.startswith("export__")]) > 1
    dag_id = sorted(every)[0]
    only = parse(dag_id)
    assert list(only) == [dag_id]
    assert only[dag_id].task_ids == every[dag_id].task_ids


def test_an_unknown_dag_id_renders_every_dag():
    assert sorted(parse("ferry_broken__nothing")) == sorted(parse())
