"""`ferry list`: each export's definition, Airflow's view of its DAG (a real HTTP fake of
the REST API) and its last recorded run, in one table that sorts and filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from fake_airflow import fake_airflow
from ferry import airflow_api, history
from ferry.cli import main as ferry
from ferry.cli.listing import filter_rows, sort_rows
from ferry.run_info import RunInfo

FINISHED = dt.datetime(2026, 11, 20, 2, 5, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def own_history_and_quick_client(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", "p")
    monkeypatch.setattr(airflow_api, "RETRY_DELAYS", (0.01,))


@pytest.fixture
def airflow():
    """Airflow with three of the demo's four exports deployed, one paused, one running."""
    with fake_airflow() as fake:
        fake.dags = [
            {"dag_id": "export__customer_profiles_csv", "is_paused": False},
            {"dag_id": "export__daily_lead_backup", "is_paused": False,
             "next_dagrun_run_after": "2026-12-02T02:00:00+00:00"},
            {"dag_id": "export__linkedin_enterprise_accounts", "is_paused": True},
        ]  # fmt: skip
        fake.runs["export__customer_profiles_csv"] = [
            {"dag_id": "export__customer_profiles_csv", "dag_run_id": "r", "state": "running"}
        ]
        yield fake


def table(text: str) -> list[dict[str, str]]:
    """Rows of a printed table, by column title (columns are two or more spaces apart)."""
    lines = text.strip().splitlines()
    titles = re.split(r"\s{2,}", lines[0])
    return [dict(zip(titles, re.split(r"\s{2,}", line), strict=True)) for line in lines[1:]]


def listed(airflow, capsys, *options: str) -> list[dict[str, str]]:
    assert ferry(["list", *options, "--url", airflow.url]) == 0
    return table(capsys.readouterr().out)


def test_each_export_shows_its_schedule_airflows_view_and_its_last_run(airflow, capsys):
    run = RunInfo("daily_lead_backup", "scheduled__2026-11-20T02:00:00+00:00", triggered_by="x")
    done = history.RunRecord.ended(run, "success", "", started_at=None, finished_at=FINISHED)
    history.record_run(dataclasses.replace(done, rows=42))

    rows = {row["ID"]: row for row in listed(airflow, capsys)}

    assert {export_id: row["STATUS"] for export_id, row in rows.items()} == {
        "customer_profiles_csv": "running",
        "daily_lead_backup": "active",
        "linkedin_enterprise_accounts": "paused",
        "mailchimp_high_value": "not deployed",
    }
    assert rows["daily_lead_backup"] == {
        "ID": "daily_lead_backup", "NAME": "Daily lead backup", "KIND": "data_out",
        "CONNECTIONS": "download", "TARGET": "-", "SCHEDULE": "0 2 * * *",
        "NEXT RUN": "2026-12-02 02:00 UTC",
        "LAST RUN": "2026-11-20 02:05 UTC success", "STATUS": "active", "ROWS": "42",
    }  # fmt: skip
    assert rows["customer_profiles_csv"]["NEXT RUN"] == "after refresh"
    assert rows["linkedin_enterprise_accounts"]["NEXT RUN"] == "-"  # paused: no next run
    assert rows["mailchimp_high_value"]["TARGET"] == "mailchimp"


def test_filters_narrow_by_one_column_or_any_and_sort_puts_missing_values_last(airflow, capsys):
    segments = listed(airflow, capsys, "--filter", "kind=segment", "--sort", "target")
    linked = listed(airflow, capsys, "--filter", "linkedin")
    by_next_run = listed(airflow, capsys, "--sort", "next_run", "--reverse")

    assert [row["ID"] for row in segments] == [
        "linkedin_enterprise_accounts", "mailchimp_high_value"
    ]  # fmt: skip
    assert [row["ID"] for row in linked] == ["linkedin_enterprise_accounts"]
    assert [row["NEXT RUN"] for row in by_next_run] == [
        "after refresh", "2026-12-02 02:00 UTC", "-", "-"
    ]  # fmt: skip


def test_a_filter_on_an_unknown_column_names_the_columns(airflow, capsys):
    assert ferry(["list", "--filter", "colour=red", "--url", airflow.url]) == 1
    assert capsys.readouterr().err == (
        "ferry list: no column 'colour' to filter on: use id, name, kind, connections, target, "
        "schedule, next_run, last_run, status, rows\n"
    )


def test_filter_and_sort_rows_directly():
    rows = [{"id": "b", "rows": None}, {"id": "a", "rows": 5}, {"id": "c", "rows": 7}]

    assert sort_rows(rows, "rows", reverse=True) == [rows[2], rows[1], rows[0]]
    assert sort_rows(rows, "rows", reverse=False) == [rows[1], rows[2], rows[0]]
    assert filter_rows(rows, ["rows=7"]) == [rows[2]]
    assert filter_rows(rows, ["A"]) == [rows[1]]  # any column, case-insensitive
