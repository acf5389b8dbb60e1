"""Imports on the command line: `ferry run IMPORT --local` loads and records, `ferry run
IMPORT` starts import__<id> in Airflow, `ferry list` and `ferry history` show imports, and a
group runs an import before an export here as in its DAG."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cli_runner import run_ferry
from fake_airflow import fake_airflow
from ferry import airflow_api, history
from ferry.run_info import RunInfo
from ferry_demo.drop import NEW_LEADS_FROM, drop_leads
from include_copy import copy_include

DATE = "2026-03-04"
RUN_ID = f"local__{DATE}T00:00:00+00:00"
PII_KEY = ("AIRFLOW_CONN_FERRY_PII", '{"conn_type": "generic", "password": "k3y-for-tests"}')
GROUP = "id: load_then_send\nname: L\nmembers:\n  - import: partner_leads\n  - export: {}\n"


APPEND = """\
id: extra_leads
name: Extra leads
source: {type: folder, path: extra, pattern: "extra_leads.csv", done_folder: done}
table: lead
mode: append
columns: [lead_id, state]
"""
NEW_IDS = list(range(NEW_LEADS_FROM, NEW_LEADS_FROM + 10))


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "groups" / "load_then_send.yaml").write_text(GROUP.format("daily_lead_backup"))
    (include / "imports" / "extra_leads.yaml").write_text(APPEND)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.delenv("FERRY_DROP", raising=False)
    monkeypatch.setattr(airflow_api, "RETRY_DELAYS", (0.01,) * 5)
    monkeypatch.setenv("FERRY_AIRFLOW_TIMEOUT", "0.5")
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", "p")
    return tmp_path / "home" / "drop" / "partner"


def lead_states(warehouse: Path, ids: list[int]) -> dict[int, list[str]]:
    """The state of each row of these leads in the table, by lead id."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT lead_id, state FROM lead WHERE list_contains(?, lead_id) ORDER BY rowid", [ids]
        ).fetchall()
    states: dict[int, list[str]] = {}
    for lead_id, state in rows:
        states.setdefault(lead_id, []).append(state)
    return states


def test_the_demo_drop_then_run_local_merges_ten_updates_and_ten_new_leads(own_home, own_warehouse):
    with duckdb.connect(str(own_warehouse), read_only=True) as con:
        before = con.execute("SELECT count(*) FROM lead").fetchone()[0]
    dropped = subprocess.run(
        [sys.executable, "-m", "ferry_demo", "--drop-leads", DATE],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert dropped.returncode == 0, dropped.stderr
    result = run_ferry("run", "partner_leads", "--local", "--date", DATE)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"Import run {RunInfo('partner_leads', RUN_ID).job_run_id}: success"
    size = (own_home / "done" / "leads_20260304.csv").stat().st_size
    assert f"  file       leads_20260304.csv ({size:,} bytes)" in lines
    assert "  inserted   10" in lines and "  updated    10" in lines
    assert "  into       table lead (merge)" in lines
    with duckdb.connect(str(own_warehouse), read_only=True) as con:
        after = con.execute("SELECT count(*) FROM lead").fetchone()[0]
        updated = con.execute(
            "SELECT count(*) FROM lead WHERE lead_id <= 10 AND email LIKE '%@partner.example'"
        ).fetchone()[0]
    assert (after - before, updated) == (10, 10)
    assert [len(rows) for rows in lead_states(own_warehouse, NEW_IDS).values()] == [1] * 10
    assert not (own_home / "leads_20260304.csv").exists()
    shown = run_ferry("history", "partner_leads")
    assert "table lead: 10 inserted, 10 updated, 0 deleted, 0 rejected" in shown.out


def test_a_rerun_of_a_loaded_run_says_it_loaded_nothing(own_home, own_warehouse):
    drop_leads(dt.date.fromisoformat(DATE), own_home.parent)
    assert run_ferry("run", "partner_leads", "--local", "--date", DATE).code == 0
    again = run_ferry("run", "partner_leads", "--local", "--date", DATE)
    assert again.code == 0, again.err
    assert again.out.splitlines()[1] == f"  note       {history.ALREADY_LOADED}"


def test_the_same_file_twice_with_append_loads_once_unless_forced(own_home, own_warehouse):
    drop = own_home.parent / "extra"
    drop.mkdir(parents=True)
    for day in ("2026-03-04", "2026-03-05"):  # two runs, the partner sent the file again
        (drop / "extra_leads.csv").write_text(f"lead_id,state\n{NEW_IDS[0]},TX\n")
        result = run_ferry("run", "extra_leads", "--local", "--date", day)
        assert result.code == 0, result.err
    assert lead_states(own_warehouse, NEW_IDS) == {NEW_IDS[0]: ["TX"]}
    first, second = sorted(history.list_runs("extra_leads"), key=lambda r: r.run_id)
    assert (first.rows, first.inserted) == (1, 1)
    assert (second.rows, second.inserted) == (0, 0)
    assert json.loads(second.destinations)[0]["skipped_files"] == ["extra_leads.csv"]
    (drop / "extra_leads.csv").write_text(f"lead_id,state\n{NEW_IDS[0]},TX\n")
    forced = run_ferry("run", "extra_leads", "--local", "--date", "2026-03-06", "--force")
    assert forced.code == 0, forced.err
    assert lead_states(own_warehouse, NEW_IDS) == {NEW_IDS[0]: ["TX", "TX"]}


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


def test_a_group_runs_its_import_then_its_export_which_delivers_the_imported_rows(
    own_home, own_warehouse, monkeypatch
):
    monkeypatch.setenv(*PII_KEY)
    drop_leads(dt.date.fromisoformat(DATE), own_home.parent)
    result = run_ferry("run", "load_then_send", "--local", "--date", DATE)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-2:] == [
        "  partner_leads: success",
        "  daily_lead_backup: success",
    ]
    member = RunInfo("partner_leads", RUN_ID, group_id="load_then_send")
    imported = history.get_run(member.job_run_id)
    assert imported is not None and imported.group_run_id.startswith("load_then_send.")
    assert (imported.inserted, imported.updated) == (10, 10)
    [delivered] = (own_home.parent.parent / "downloads" / "daily_lead_backup").glob("*/*.csv.gz")
    with gzip.open(delivered, "rt", newline="") as handle:
        rows = {int(row["lead_id"]): row for row in csv.DictReader(handle)}
    partner = {lead_id: (row["source"], row["state"], row["created_at"])
               for lead_id, row in rows.items() if row["source"] == "partner"}  # fmt: skip
    assert sorted(partner) == [*range(1, 11), *NEW_IDS]
    assert partner[1] == ("partner", "TX", "2026-03-04T09:30:00Z")  # updated by the import
    assert partner[NEW_IDS[0]] == ("partner", "TX", "2026-03-04T09:40:00Z")  # inserted by it


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
