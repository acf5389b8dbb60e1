"""Imports on the command line: `ferry run IMPORT --local` loads and records, `ferry run
IMPORT` starts import__<id> in Airflow, `ferry list` and `ferry history` show imports, and a
group runs an import before an export here as in its DAG."""

from __future__ import annotations

import dataclasses
import json
import sys
import types

import pytest

from cli_runner import run_ferry
from fake_airflow import fake_airflow
from ferry import airflow_api, history
from ferry.run_info import RunInfo
from include_copy import copy_include

DATE = "2026-03-04"
RUN_ID = f"local__{DATE}T00:00:00+00:00"
PII_KEY = ("AIRFLOW_CONN_FERRY_PII", '{"conn_type": "generic", "password": "k3y-for-tests"}')
GROUP = "id: load_then_send\nname: L\nmembers:\n  - import: partner_leads\n  - export: {}\n"


@dataclasses.dataclass(frozen=True)
class Result:  # the shape of ferry.imports.load.ImportResult
    rows_read: int = 3
    inserted: int = 2
    updated: int = 1
    deleted: int = 0
    rejected: int = 0
    skipped_files: tuple = ()
    rejects_file: str | None = None


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "groups" / "load_then_send.yaml").write_text(GROUP.format("daily_lead_backup"))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.delenv("FERRY_DROP", raising=False)
    monkeypatch.setattr(airflow_api, "RETRY_DELAYS", (0.01,) * 5)
    monkeypatch.setenv("FERRY_AIRFLOW_TIMEOUT", "0.5")
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", "p")
    try:
        import ferry.imports.load  # noqa: F401  (the real one, once it is built)
    except ImportError:
        stand_in = types.ModuleType("ferry.imports.load")
        stand_in.load = lambda *args, **kwargs: Result()
        monkeypatch.setitem(sys.modules, "ferry.imports.load", stand_in)
    return tmp_path / "home" / "drop" / "partner"


def test_run_local_loads_the_dropped_file_and_records_it(own_home):
    own_home.mkdir(parents=True)
    (own_home / f"leads_{DATE.replace('-', '')}.csv").write_text("lead_id\n1\n")
    result = run_ferry("run", "partner_leads", "--local", "--date", DATE)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"Import run {RunInfo('partner_leads', RUN_ID).job_run_id}: success"
    assert "  file       leads_20260304.csv (10 bytes)" in lines
    assert "  inserted   2" in lines and "  into       table lead (merge)" in lines
    assert (own_home / "done" / "leads_20260304.csv").exists()
    shown = run_ferry("history", "partner_leads")
    assert "table lead: 2 inserted, 1 updated, 0 deleted, 0 rejected" in shown.out


def test_run_local_without_a_file_fails_with_what_was_looked_for_and_records_it(own_home):
    result = run_ferry("run", "partner_leads", "--local", "--date", DATE, "--json")
    assert result.code == 1
    assert result.err.splitlines()[-1].startswith(
        "error: load failed: Import partner_leads: no file matching 'leads_20260304*.csv' in "
    )
    [record] = history.list_runs("partner_leads")
    assert (record.kind, record.outcome) == ("import", "failed")


def test_a_disabled_import_does_not_run(own_home, monkeypatch):
    include = copy_include(own_home.parent.parent / "disabled")
    path = include / "imports" / "partner_leads.yaml"
    path.write_text(path.read_text() + "enabled: false\n")
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    result = run_ferry("run", "partner_leads", "--local")
    assert result.code == 2 and "import 'partner_leads' is disabled" in result.err
    with fake_airflow() as fake:
        result = run_ferry("run", "partner_leads", "--url", fake.url)
    assert result.code != 0 and fake.runs == {}


def test_run_starts_the_import_dag_in_airflow(own_home):
    with fake_airflow() as fake:
        fake.dags = [{"dag_id": "import__partner_leads", "is_paused": False}]
        result = run_ferry("run", "partner_leads", "--url", fake.url)
    assert result.code == 0, result.err
    [run] = fake.runs["import__partner_leads"]
    assert result.out.splitlines()[0] == RunInfo("partner_leads", run["dag_run_id"]).job_run_id


def test_list_shows_each_import_with_its_table_and_status(own_home):
    with fake_airflow() as fake:
        fake.dags = [{"dag_id": "import__partner_leads", "is_paused": False,
                      "next_dagrun_run_after": "2026-12-02T00:00:00+00:00"}]  # fmt: skip
        result = run_ferry("list", "--json", "--url", fake.url)
    rows = {row["id"]: row for row in map(json.loads, result.out.splitlines())}
    assert rows["partner_leads"] == {
        "id": "partner_leads", "name": "Partner leads", "kind": "import (merge)",
        "connections": "folder", "target": "table lead", "schedule": "@daily",
        "next_run": "2026-12-02T00:00:00+00:00", "last_run": None, "outcome": None,
        "status": "active", "rows": None,
    }  # fmt: skip


def test_a_group_runs_its_import_then_its_export_here(own_home, warehouse, monkeypatch):
    monkeypatch.setenv(*PII_KEY)
    own_home.mkdir(parents=True)
    (own_home / "leads_20260304.csv").write_text("lead_id\n1\n")
    result = run_ferry("run", "load_then_send", "--local", "--date", DATE)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-2:] == [
        "  partner_leads: success",
        "  daily_lead_backup: success",
    ]
    member = RunInfo("partner_leads", RUN_ID, group_id="load_then_send")
    imported = history.get_run(member.job_run_id)
    assert imported is not None and imported.group_run_id.startswith("load_then_send.")


def test_stop_marks_a_running_import_run_failed_and_records_it(own_home):
    running = "manual__2026-12-01T00:00:00+00:00"
    with fake_airflow() as fake:
        fake.runs["import__partner_leads"] = [
            {"dag_id": "import__partner_leads", "dag_run_id": running, "state": "running"}
        ]
        result = run_ferry("stop", "partner_leads", "--url", fake.url)
    assert result.code == 0, result.err
    job_run_id = RunInfo("partner_leads", running).job_run_id
    assert f"Stopped {job_run_id}: marked failed in Airflow" in result.out
    record = history.get_run(job_run_id)
    assert record is not None and (record.kind, record.outcome) == ("import", "stopped")
