"""Lookups of the REST commands: exports in the definitions, DAGs and runs in Airflow
(a real HTTP fake of Airflow's API, see fake_airflow)."""

from __future__ import annotations

import pytest

from fake_airflow import fake_airflow
from ferry import paths
from ferry.airflow_api import AirflowClient
from ferry.cli.connection import CliError
from ferry.cli.deployed import (
    current_definitions,
    deployed_dag,
    find_export,
    find_run,
    not_runnable,
    recent_runs,
    run_url,
)
from ferry.run_info import RunInfo
from include_copy import copy_include

RUN_ID = "scheduled__2026-12-01T03:00:00+00:00"


def client_of(fake) -> AirflowClient:
    return AirflowClient(fake.url, username="admin", password="p", retry_delays=())


def test_a_group_members_job_run_id_finds_its_groups_run():
    run_id = RUN_ID
    member = RunInfo("daily_lead_backup", run_id, group_id="nightly").job_run_id
    with fake_airflow() as fake:
        fake.runs["group__nightly"] = [{"dag_id": "group__nightly", "dag_run_id": run_id}]
        found = find_run(client_of(fake), member)

    assert member == "daily_lead_backup.nightly+scheduled__2026-12-01T03~3A00~3A00~2B00~3A00"
    assert found[:2] == ("nightly", "group__nightly")
    assert found[2]["dag_run_id"] == run_id


def test_an_exports_own_run_is_found_by_its_job_run_id_and_an_unknown_one_is_named():
    job_run_id = RunInfo("daily_lead_backup", RUN_ID).job_run_id
    with fake_airflow() as fake:
        fake.runs["export__daily_lead_backup"] = [
            {"dag_id": "export__daily_lead_backup", "dag_run_id": RUN_ID}
        ]
        found = find_run(client_of(fake), job_run_id)
        with pytest.raises(CliError, match=r"^no run nope\.manual__1: give the JobID\.RunID"):
            find_run(client_of(fake), "nope.manual__1")

    assert found[:2] == ("daily_lead_backup", "export__daily_lead_backup")


def test_a_dag_airflow_does_not_have_has_no_runs_and_is_said_not_deployed():
    with fake_airflow(missing={"export__new"}) as fake:
        client = client_of(fake)
        fake.paused = True
        assert deployed_dag(client, "export__old") == {"dag_id": "export__old", "is_paused": True}
        with pytest.raises(CliError) as missing:
            deployed_dag(client, "export__new")
        assert recent_runs(client, "export__new") == []

    assert str(missing.value) == "export__new is not in Airflow (yet): is the definition deployed?"


def test_find_export_says_whether_an_export_is_broken_or_missing(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "exports" / "broken.yaml").write_text("id: broken\nname: [\n")
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    project = current_definitions()

    assert find_export(project, "daily_lead_backup").id == "daily_lead_backup"
    with pytest.raises(CliError) as missing:
        find_export(project, "nope")
    with pytest.raises(CliError) as broken:
        find_export(project, "broken")

    assert str(missing.value) == f"no export 'nope' in {paths.include_dir() / 'exports'}"
    assert str(broken.value) == "export 'broken' has errors: see ferry validate"


def test_not_runnable_says_why_run_all_leaves_an_export_out():
    project = current_definitions()
    active = project.exports["daily_lead_backup"]

    assert not_runnable(active, {"is_paused": False}) is None
    assert not_runnable(active, {"is_paused": True}) == "paused in Airflow"
    assert not_runnable(active, None) == "not in Airflow (yet)"
    assert not_runnable(active.model_copy(update={"enabled": False}), None) == (
        "disabled (enabled: false)"
    )


def test_run_url_quotes_the_run_id():
    client = AirflowClient("http://airflow:8080/", username="a", password="p")
    assert run_url(client, "export__x", RUN_ID) == (
        "http://airflow:8080/dags/export__x/runs/scheduled__2026-12-01T03%3A00%3A00%2B00%3A00"
    )
