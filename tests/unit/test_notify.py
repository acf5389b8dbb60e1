"""Who hears about a run and what the message says (sending to real servers:
tests/integration/test_notify.py)."""

from __future__ import annotations

import json

import pytest

from ferry.history import RunRecord
from ferry.notify import group_notice, notice_html, one_line, run_notice, targets_for
from ferry.spec.models import Notify

NOTIFY = Notify(
    on_failure=["ops@x", "webhook:alerts"], on_success=["owner@x"], on_empty=["data@x", "owner@x"]
)
RECEIPTS = json.dumps([{"destination": "backup_s3"}, {"destination": "download"}])


def record(**fields) -> RunRecord:
    values = {
        "job_run_id": "leads.manual__1", "export_id": "leads", "run_id": "manual__1",
        "triggered_by": "alice", "started_at": "2026-12-01T03:00:00+00:00",
        "finished_at": "2026-12-01T03:00:12+00:00", "duration_s": 12.34, "outcome": "success",
        "rows": 120, "files": 2, "bytes": 4096, "destinations": RECEIPTS,
    }  # fmt: skip
    return RunRecord(**{**values, **fields})


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("failed", ["ops@x", "webhook:alerts"]),
        ("stopped", ["ops@x", "webhook:alerts"]),
        ("incomplete", ["ops@x", "webhook:alerts"]),  # a group that stopped early
        ("success", ["owner@x"]),
        ("empty", ["data@x", "owner@x"]),  # on_empty and on_success, each target once
        ("skipped", []),
        ("running", []),
    ],
)
def test_each_outcome_goes_to_its_list(outcome, expected):
    assert targets_for(NOTIFY, outcome) == expected


def test_nobody_listed_hears_nothing():
    assert targets_for(Notify(), "failed") == []


def test_a_run_notice_lists_the_facts_a_reader_checks_first():
    notice = run_notice(record(), "Leads", "http://airflow/dags/export__leads/runs/manual__1")

    assert notice.subject == "Ferry: Leads success (leads.manual__1)"
    assert notice.facts == [
        ("Export", "Leads (leads)"),
        ("Run", "leads.manual__1"),
        ("Outcome", "success"),
        ("Triggered by", "alice"),
        ("Started", "2026-12-01T03:00:00+00:00"),
        ("Duration", "12.3 s"),
        ("Rows", "120"),
        ("Files", "2"),
        ("Bytes", "4096"),
        ("Destinations", "backup_s3, download"),
    ]
    assert notice.payload["kind"] == "export_run"
    assert notice.payload["link"] == notice.link
    assert notice.payload["record"]["destinations"] == ["backup_s3", "download"]
    assert "staged_files" not in notice.payload["record"]


def test_an_import_run_notice_says_import_and_what_the_load_changed():
    table = json.dumps([{"destination": "table lead"}])
    imported = record(kind="import", inserted=7, updated=3, rejected=1, destinations=table)
    notice = run_notice(imported, "Partner leads", "http://airflow/dags/import__leads/runs/1")
    assert notice.facts[0] == ("Import", "Partner leads (leads)")
    assert ("Destinations", "table lead") in notice.facts
    assert ("Loaded", "7 inserted, 3 updated, 0 deleted, 1 rejected") in notice.facts
    assert notice.payload["kind"] == "import_run"
    assert "7 inserted, 3 updated" in notice.payload["summary"]


def test_a_failed_member_run_names_its_group_and_reason():
    failed = record(
        outcome="failed", reason="check_limits failed: too many rows", rows=0,
        group_run_id="nightly.scheduled__1", started_at=None, destinations="[]",
    )  # fmt: skip
    facts = dict(run_notice(failed, "Leads", "-").facts)

    assert facts["Group run"] == "nightly.scheduled__1"
    assert facts["Reason"] == "check_limits failed: too many rows"
    assert facts["Started"] == facts["Destinations"] == "-"
    assert run_notice(failed, "Leads", "-").facts[2] == ("Group run", "nightly.scheduled__1")


def test_a_name_with_line_breaks_stays_one_header_line():
    notice = run_notice(record(), "Leads\r\nBcc: evil@example.com", "-")
    assert "\n" not in notice.subject and "\r" not in notice.subject
    assert notice.subject == "Ferry: Leads Bcc: evil@example.com success (leads.manual__1)"
    assert one_line(" a\tb\n\nc ") == "a b c"


def test_a_group_notice_has_one_line_per_member():
    members = [("leads", record()), ("accounts", None)]
    notice = group_notice("Nightly", "nightly.scheduled__1", "incomplete", members, "L")

    assert notice.subject == "Ferry: group Nightly incomplete (nightly.scheduled__1)"
    assert notice.facts[:3] == [("Group", "Nightly"), ("Group run", "nightly.scheduled__1"),
                                ("Outcome", "incomplete")]  # fmt: skip
    assert notice.facts[3] == ("1. leads", record().summary())
    assert notice.facts[4] == ("2. accounts", "did not run")
    assert notice.payload["members"] == [
        {"export_id": "leads", "outcome": "success", "rows": 120},
        {"export_id": "accounts", "outcome": "not run", "rows": 0},
    ]


def test_the_email_body_escapes_what_definitions_and_data_wrote():
    failed = record(outcome="failed", reason="<script>alert(1)</script>")
    body = notice_html(run_notice(failed, "A & B", 'http://x/"><img src=y>'))

    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "A &amp; B (leads)" in body
    assert 'href="http://x/&quot;&gt;&lt;img src=y&gt;"' in body
