"""The list's row of an export: status, schedule in words, connections, next and last run."""

from __future__ import annotations

import datetime as dt

import pytest

from ferry.history import RunRecord
from ferry.spec.loader import load_project
from ferry.web.airflow_state import Deployed
from ferry.web.exports_view import (
    AirflowView,
    connections_of,
    export_row,
    import_row,
    schedule_text,
    status_of,
)
from include_copy import ROOT


@pytest.fixture(scope="module")
def exports():
    return load_project(ROOT / "include").exports


def with_(export, **changes):
    return export.model_copy(update=changes)


@pytest.mark.parametrize(
    ("schedule", "timezone", "words"),
    [
        ("refresh", "UTC", "after every refresh"),
        ("off", "UTC", "off (on demand)"),
        ("daily", "UTC", "daily at 00:00 (UTC)"),
        ("@hourly", "UTC", "hourly"),
        ("0 2 * * *", "Europe/Berlin", "daily at 02:00 (Europe/Berlin)"),
        ("30 6 * * 1", "UTC", "weekly on Monday at 06:30 (UTC)"),
        ("0 4 15 * *", "UTC", "monthly on day 15 at 04:00 (UTC)"),
        ("*/15 * * * *", "UTC", "cron */15 * * * * (UTC)"),
    ],
)
def test_schedule_in_words(exports, schedule, timezone, words):
    export = with_(exports["daily_lead_backup"], schedule=schedule, timezone=timezone)
    assert schedule_text(export) == words


def test_status_says_why_an_export_does_not_run(exports):
    export = exports["daily_lead_backup"]
    live = Deployed("export__daily_lead_backup", is_paused=False, next_run=None)
    paused = Deployed("export__daily_lead_backup", is_paused=True, next_run=None)

    assert status_of(export, live) == ("active", "")
    assert status_of(export, None)[1].startswith("not in Airflow yet")
    assert status_of(export, paused) == ("paused", "the DAG is paused in Airflow")
    assert status_of(with_(export, enabled=False), live)[0] == "paused"
    assert status_of(with_(export, schedule="off"), live)[0] == "paused"
    assert status_of(with_(export, tags=["detached"]), live)[0] == "detached"
    expired = status_of(with_(export, expires=dt.date(2026, 1, 2)), live)
    assert expired == ("expired", "expired on 2026-01-02 (no runs are scheduled after it)")


def test_connections_are_the_source_and_destinations_or_none_when_detached(exports):
    from ferry.spec.models import ExportSpec

    data = exports["mailchimp_high_value"].model_dump(by_alias=True)
    data["destinations"] = [
        {"type": "s3", "connection": "aws_archive", "bucket": "lead-archive",
         "path": "out/{{ ds }}/part_{{ part }}.csv"},
        {"type": "download"},
    ]  # fmt: skip
    export = ExportSpec.model_validate(data)
    assert connections_of(export, "ferry_warehouse") == ["ferry_warehouse", "aws_archive"]
    assert connections_of(with_(export, tags=["detached"]), "ferry_warehouse") == ["No connection"]


def test_a_row_has_every_column_of_the_contract(exports):
    export = exports["daily_lead_backup"]
    moment = dt.datetime(2026, 3, 1, 2, 0, tzinfo=dt.UTC)
    airflow = AirflowView(
        dags={export.dag_id: Deployed(export.dag_id, is_paused=False, next_run=moment)},
        running={export.dag_id: ["manual__x"]},
        refreshed={"ferry://warehouse/table/lead": moment},
    )
    last = RunRecord("daily_lead_backup.r1", "daily_lead_backup", "r1", "ann", None,
                     "2026-03-01T02:05:00+00:00", 12.5, "success", rows=42)  # fmt: skip

    row = export_row(
        export, source_connection="ferry_warehouse",
        refresh_uris=["ferry://warehouse/table/lead"], airflow=airflow, last=last,
        permission="view",
    )  # fmt: skip

    assert row["next_run"] == moment.isoformat()
    assert row["refreshed_at"] == moment.isoformat()
    assert row["running"] == ["manual__x"]
    assert row["last_run"] == {
        "job_run_id": "daily_lead_backup.r1", "finished_at": "2026-03-01T02:05:00+00:00",
        "outcome": "success", "rows": 42, "duration_s": 12.5,
    }  # fmt: skip
    assert row["target"] == "download" and row["permissions"] == "view"
    assert set(row) >= {"id", "name", "kind", "connections", "status", "status_detail", "owner",
                        "schedule_text"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "is_paused", "status", "detail", "next_run"),
    [
        ({}, False, "active", "", "2026-12-02T00:00:00+00:00"),
        ({}, True, "paused", "the DAG is paused in Airflow", None),
        ({"enabled": False}, False, "paused", "inactive: enabled is false in the import's "
         "definition", None),
        ({"schedule": "off"}, False, "paused", "schedule off (runs only on demand)", None),
    ],
)  # fmt: skip
def test_an_imports_row_says_whether_and_when_it_runs(changes, is_paused, status, detail,
                                                      next_run):  # fmt: skip
    spec = load_project(ROOT / "include").imports["partner_leads"].model_copy(update=changes)
    dag = Deployed(spec.dag_id, is_paused, dt.datetime(2026, 12, 2, tzinfo=dt.UTC))
    row = import_row(spec, airflow=AirflowView(dags={spec.dag_id: dag}), last=None,
                     permission="view")  # fmt: skip
    assert (row["status"], row["status_detail"], row["next_run"]) == (status, detail, next_run)
    assert (row["kind"], row["mode"], row["table"], row["last_run"]) == (
        "import", "merge", "lead", None,
    )  # fmt: skip
