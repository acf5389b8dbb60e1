"""Notifications from runs made with dag.test(), received by a real SMTP server (aiosmtpd)
and a recording webhook on 127.0.0.1.

The mail connection is smtp_default, given as AIRFLOW_CONN_SMTP_DEFAULT (plain SMTP: no
SSL, no STARTTLS); the webhook is the connection ferry_alerts; AIRFLOW__API__BASE_URL is
what the links in the messages start with.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from ferry import history
from ferry.history import RunRecord
from ferry.notify import targets_for
from ferry.run_info import RunInfo
from ferry.spec.models import Notify
from include_copy import copy_include
from servers import SmtpServer, WebhookServer, running

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
BASE_URL = "http://airflow.example:8080"
LEADS = {"source": {"table": "lead"}, "fields": ["lead_id", "state"], "schedule": "off",
         "destinations": [{"type": "download"}], "retries": 0}  # fmt: skip
EXPORTS = {
    "notify_broken": {
        "kind": "segment", "source": {"segment": "enterprise_accounts"}, "target": "mailchimp",
        "destinations": [{"type": "download"}], "schedule": "off", "retries": 0,
        "notify": {"on_failure": ["ops@example.com", "webhook:ferry_alerts"]},
    },
    "notify_nothing": {
        **LEADS, "filters": {"where": [{"field": "state", "op": "eq", "value": "ZZ"}]},
        "notify": {"on_empty": ["data@example.com"], "on_success": ["owner@example.com"]},
    },
    "notify_rows": {
        **LEADS, "filters": {"where": [{"field": "state", "op": "eq", "value": "TX"}]},
        "notify": {"on_success": ["owner@example.com"]},
    },
}  # fmt: skip
GROUP = {
    "id": "notify_chain", "name": "Notify chain",
    "members": [{"export": "notify_rows"}, {"export": "notify_broken"}],
    "notify": {"on_failure": ["oncall@example.com"]},
}  # fmt: skip


@pytest.fixture(scope="module")
def smtp():
    with running(SmtpServer()) as server:
        yield server


@pytest.fixture(scope="module")
def webhook():
    with running(WebhookServer(secret=b"unused")) as server:
        yield server


@pytest.fixture(scope="module")
def dags(tmp_path_factory, warehouse, airflow_db, smtp, webhook):
    """Export and group DAGs from a copy of include/ with the test definitions added."""
    from airflow.dag_processing.dagbag import DagBag

    include = copy_include(tmp_path_factory.mktemp("notify"))
    for export_id, body in EXPORTS.items():
        definition = {"id": export_id, "name": export_id.replace("_", " ").title(), **body}
        (include / "exports" / f"{export_id}.yaml").write_text(yaml.safe_dump(definition))
    (include / "groups" / "notify_chain.yaml").write_text(yaml.safe_dump(GROUP))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FERRY_INCLUDE", str(include))
        patch.setenv("AIRFLOW__API__BASE_URL", BASE_URL)
        patch.setenv(*smtp.connection("smtp_default"))
        patch.setenv(*webhook.connection("ferry_alerts"))
        found = {}
        for name in ("ferry_exports.py", "ferry_groups.py"):
            found.update(DagBag(dag_folder=str(ROOT / "dags" / name)).dags)
        yield found


@pytest.fixture
def inbox(smtp, webhook):
    smtp.messages.clear()
    smtp.envelopes.clear()
    webhook.requests.clear()
    return smtp


def parse(raw: bytes) -> tuple[str, str]:
    """(subject, html body) of a received message."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    return message["Subject"], message.get_body(("html",)).get_content()


def test_a_failure_is_mailed_and_posted_with_the_reason_and_a_link(dags, inbox, webhook, capfd):
    run = dags["export__notify_broken"].test()

    job_run_id = RunInfo("notify_broken", run.run_id).job_run_id
    assert run.state == "failed"
    assert [e.rcpt_tos for e in inbox.envelopes] == [["ops@example.com"]]
    subject, body = parse(inbox.messages[0])
    assert subject == f"Ferry: Notify Broken failed ({job_run_id})"
    assert "check_eligibility failed: The following segment is not eligible" in body
    log_link = f"{BASE_URL}/dags/export__notify_broken/runs/{quote(run.run_id)}/tasks/"
    assert f'<a href="{log_link}check_eligibility' in body
    [posted] = webhook.requests
    payload = posted.json()
    assert (payload["kind"], payload["record"]["outcome"]) == ("export_run", "failed")
    assert payload["link"].startswith(log_link) and payload["summary"].startswith(
        f"Run {job_run_id}"
    )
    record = history.get_run(job_run_id)
    assert record.log_url.startswith(log_link)
    assert record.summary() in capfd.readouterr().out, "the task log has the same summary"


def test_an_empty_result_goes_to_on_empty_and_on_success(dags, inbox, webhook):
    run = dags["export__notify_nothing"].test()

    assert run.state == "success"
    assert [e.rcpt_tos for e in inbox.envelopes] == [["data@example.com", "owner@example.com"]]
    subject, body = parse(inbox.messages[0])
    assert subject.startswith("Ferry: Notify Nothing empty (notify_nothing.manual__")
    assert "<th align='left'>Rows</th><td>0</td>" in body
    assert f"{BASE_URL}/dags/export__notify_nothing/runs/{quote(run.run_id, safe='')}" in body
    assert webhook.requests == []


def test_a_group_sends_one_notification_when_it_ends(dags, inbox, webhook):
    run = dags["group__notify_chain"].test()

    group_run_id = RunInfo("notify_chain", run.run_id).job_run_id
    assert run.state == "failed"
    assert [e.rcpt_tos for e in inbox.envelopes] == [["oncall@example.com"]], (
        "one message for the group; the members' own lists are not used in a group"
    )
    subject, body = parse(inbox.messages[0])
    assert subject == f"Ferry: group Notify chain failed ({group_run_id})"
    assert "1. notify_rows</th><td>Run notify_rows." in body and " success: " in body
    assert "2. notify_broken</th><td>Run notify_broken." in body
    assert "check_eligibility failed" in body
    assert webhook.requests == []


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        ("failed", ["ops@x"]),
        ("stopped", ["ops@x"]),
        ("success", ["owner@x"]),
        ("empty", ["data@x", "owner@x"]),
        ("skipped", []),
    ],
)
def test_who_hears_about_which_outcome(outcome, expected):
    notify = Notify(on_failure=["ops@x"], on_success=["owner@x"], on_empty=["data@x", "owner@x"])

    assert targets_for(notify, outcome) == expected


def test_an_unreachable_mail_server_does_not_fail_the_notice(monkeypatch, caplog):
    import logging

    from ferry import notify

    down = SmtpServer()  # never started
    monkeypatch.setenv(*down.connection("smtp_default"))
    record = RunRecord("x.r", "x", "r", "test", None, "2026-01-01T00:00:00+00:00", 0.0, "failed")

    reached = notify.send(["a@example.com"], notify.run_notice(record, "X", "-"),
                          log=logging.getLogger("test"))  # fmt: skip

    assert reached == []
    assert "Notify: could not send 'Ferry: X failed (x.r)' to ['a@example.com']" in caplog.text


def test_names_and_targets_from_definitions_cannot_add_mail_headers(monkeypatch):
    import logging

    from ferry import notify

    with running(SmtpServer()) as server:
        monkeypatch.setenv(*server.connection("smtp_default"))
        record = RunRecord("x.r", "x", "r", "test", None, "2026-01-01T00:00:00+00:00", 0.0,
                           "failed")  # fmt: skip
        notice = notify.run_notice(record, "Leads\r\n Bcc: evil@example.com", "-")
        targets = ["ops@example.com", "ops@example.com\r\nBcc: evil@example.com"]

        reached = notify.send(targets, notice, log=logging.getLogger("test"))

        [envelope] = server.envelopes
    message = email.message_from_bytes(server.messages[0], policy=email.policy.default)
    assert reached == ["ops@example.com"] and envelope.rcpt_tos == ["ops@example.com"]
    assert message["Subject"] == "Ferry: Leads Bcc: evil@example.com failed (x.r)"
    assert message["Bcc"] is None
