"""Groups on the command line as exports: `ferry run GROUP` starts the group's DAG in
Airflow, `ferry run GROUP --local` runs its members here in order, `ferry stop GROUP`."""

from __future__ import annotations

import json

import pytest

from cli_runner import run_ferry
from fake_airflow import fake_airflow
from ferry import airflow_api, history
from ferry.run_info import RunInfo
from include_copy import copy_include

GROUP = "nightly_customer_sync"  # customer_profiles_csv (continue_on_failure),
MEMBERS = ["customer_profiles_csv", "daily_lead_backup", "mailchimp_high_value"]
PII_KEY = ("AIRFLOW_CONN_FERRY_PII", '{"conn_type": "generic", "password": "k3y-for-tests"}')
RUNNING = "manual__2026-12-01T00:00:00+00:00"


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERRY_INCLUDE", str(copy_include(tmp_path)))
    monkeypatch.setattr(airflow_api, "RETRY_DELAYS", (0.01,) * 5)
    monkeypatch.setenv("FERRY_AIRFLOW_TIMEOUT", "0.5")
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", "p")


def test_run_group_starts_the_groups_dag_and_prints_its_group_run_id():
    with fake_airflow() as fake:
        result = run_ferry("run", GROUP, "--url", fake.url)

    assert result.code == 0, result.err
    [run] = fake.runs[f"group__{GROUP}"]
    assert result.out.splitlines()[0] == RunInfo(GROUP, run["dag_run_id"]).job_run_id
    assert [dag for dag in fake.runs] == [f"group__{GROUP}"]  # no member started on its own


def test_a_group_with_a_detached_member_starts_nothing_and_names_it(tmp_path, monkeypatch):
    include = copy_include(tmp_path / "detached")
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    path = include / "exports" / "daily_lead_backup.yaml"
    path.write_text(path.read_text() + "tags: [detached]\n")

    with fake_airflow() as fake:
        result = run_ferry("run", GROUP, "--url", fake.url)

    assert result.code == 1
    assert "its member 'daily_lead_backup' is detached" in result.err
    assert fake.runs == {}


def test_stop_group_marks_each_running_run_failed():
    with fake_airflow() as fake:
        fake.runs[f"group__{GROUP}"] = [
            {"dag_id": f"group__{GROUP}", "dag_run_id": RUNNING, "state": "running"},
            {"dag_id": f"group__{GROUP}", "dag_run_id": "scheduled__x", "state": "success"},
        ]
        result = run_ferry("stop", GROUP, "--url", fake.url)

    assert result.code == 0, result.err
    assert [run["state"] for run in fake.runs[f"group__{GROUP}"]] == ["failed", "success"]
    assert result.out.startswith(f"Stopped {GROUP}.manual__2026-12-01T00")


def test_stop_with_nothing_running_says_so():
    with fake_airflow() as fake:
        result = run_ferry("stop", GROUP, "--url", fake.url)

    assert result.code == 1
    assert f"{GROUP} has no queued or running run to stop" in result.err


def test_run_group_local_runs_the_members_in_order_and_stamps_the_group_run(warehouse, monkeypatch):
    monkeypatch.setenv(*PII_KEY)

    result = run_ferry("run", GROUP, "--local")

    assert result.code == 0, result.err
    summary = result.out.splitlines()[-4:]
    assert summary[0].startswith(f"Group run {GROUP}.local__") and summary[0].endswith(": success")
    assert [line.split(":")[0].strip() for line in summary[1:]] == MEMBERS
    group_run_id = summary[0].removeprefix("Group run ").rsplit(":", 1)[0]
    records = history.list_runs(group_id=GROUP)
    assert sorted(r.export_id for r in records) == sorted(MEMBERS)
    assert {r.group_run_id for r in records} == {group_run_id}
    assert all(json.loads(r.destinations)[0]["type"] == "download" for r in records)


def test_run_group_local_stops_the_chain_after_a_failed_member(warehouse, monkeypatch):
    monkeypatch.delenv(PII_KEY[0], raising=False)  # daily_lead_backup hashes: it fails

    result = run_ferry("run", GROUP, "--local")

    assert result.code == 1
    assert "mailchimp_high_value: not run (the member before it did not deliver)" in result.out
    members = dict(line.strip().split(": ") for line in result.out.splitlines()[-3:])
    assert members == {
        "customer_profiles_csv": "success", "daily_lead_backup": "failed",
        "mailchimp_high_value": "not run",
    }  # fmt: skip
