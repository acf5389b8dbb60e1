"""`ferry list`: each export's definition, Airflow's view of its DAG (a real HTTP fake of
the REST API) and its last recorded run, in one table that sorts and filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
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
    """Rows of a printed table, by column title, cut at the offsets of the header's titles:
    every cell must start exactly where its title does, after a space."""
    header, *lines = text.rstrip("\n").splitlines()
    starts = [match.start() for match in re.finditer(r"\S+(?: \S+)*", header)]
    titles = [header[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    rows = []
    for line in lines:
        cells = [line[a:b] for a, b in zip(starts, [*starts[1:], None], strict=True)]
        for start, cell in zip(starts, cells, strict=True):
            assert cell[:1] not in ("", " ") and line[start - 1 : start] in ("", " "), line
            assert "  " not in cell.rstrip(), f"two cells in one column: {line}"
        rows.append(dict(zip(titles, (cell.rstrip() for cell in cells), strict=True)))
    return rows


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
        "daily_leads_by_source": "not deployed",
        "linkedin_enterprise_accounts": "paused",
        "mailchimp_high_value": "not deployed",
        "partner_leads": "not deployed",  # an import
        "lead_changes": "not deployed",
    }
    assert rows["daily_lead_backup"] == {
        "ID": "daily_lead_backup", "NAME": "Daily lead backup", "KIND": "data_out",
        "CONNECTIONS": "download", "TARGET": "-", "SCHEDULE": "0 2 * * *",
        "NEXT RUN": "2026-12-02 02:00 UTC", "LAST RUN": "2026-11-20 02:05 UTC",
        "OUTCOME": "success", "STATUS": "active", "ROWS": "42",
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
        "after refresh", "2026-12-02 02:00 UTC", "-", "-", "-", "-", "-"
    ]  # fmt: skip


def test_a_filter_on_an_unknown_column_names_the_columns(airflow, capsys):
    assert ferry(["list", "--filter", "colour=red", "--url", airflow.url]) == 1
    assert capsys.readouterr().err == (
        "ferry list: no column 'colour' to filter on: use id, name, kind, connections, target, "
        "schedule, next_run, last_run, outcome, status, rows\n"
    )


def test_json_gives_each_export_with_iso_times_and_numbers_for_scripts(airflow, capsys):
    run = RunInfo("daily_lead_backup", "manual__1", triggered_by="x")
    done = history.RunRecord.ended(run, "empty", "", started_at=None, finished_at=FINISHED)
    history.record_run(dataclasses.replace(done, rows=0))

    assert ferry(["list", "--json", "--url", airflow.url]) == 0
    out = capsys.readouterr().out
    rows = {row["id"]: row for row in map(json.loads, out.splitlines())}

    assert set(rows) == {
        "customer_profiles_csv", "daily_lead_backup", "daily_leads_by_source",
        "linkedin_enterprise_accounts", "mailchimp_high_value", "partner_leads",
        "lead_changes",
    }  # fmt: skip
    lead = rows["daily_lead_backup"]
    assert dt.datetime.fromisoformat(lead["last_run"]) == FINISHED
    assert dt.datetime.fromisoformat(lead["next_run"]) == dt.datetime(2026, 12, 2, 2, tzinfo=dt.UTC)
    assert (lead["outcome"], lead["status"], lead["rows"], lead["target"]) == (
        "empty", "active", 0, None,
    )  # fmt: skip
    assert rows["customer_profiles_csv"]["next_run"] == "after refresh"


def test_filter_and_sort_rows_directly():
    rows = [{"id": "b", "rows": None}, {"id": "a", "rows": 5}, {"id": "c", "rows": 7}]

    assert sort_rows(rows, "rows", reverse=True) == [rows[2], rows[1], rows[0]]
    assert sort_rows(rows, "rows", reverse=False) == [rows[1], rows[2], rows[0]]
    assert filter_rows(rows, ["rows=7"]) == [rows[2]]
    assert filter_rows(rows, ["A"]) == [rows[1]]  # any column, case-insensitive


def test_a_filter_matches_a_time_as_the_table_shows_it_or_as_stored():
    rows = [
        {"id": "a", "next_run": "2026-11-25T02:00:00+00:00", "last_run": None},
        {"id": "b", "next_run": "2026-11-26T02:00:00+00:00", "last_run": None},
    ]

    assert filter_rows(rows, ["next_run=2026-11-25 02:00"]) == [rows[0]]  # as printed
    assert filter_rows(rows, ["next_run=2026-11-26T02"]) == [rows[1]]  # as --json gives it
    assert filter_rows(rows, ["utc"]) == rows
