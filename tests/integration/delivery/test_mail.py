"""Email destination against aiosmtpd: the test parses each message and decodes attachments."""

from __future__ import annotations

import email
import email.policy

import pytest

from ferry import paths
from ferry.delivery import DeliveryError, deliver
from servers import SmtpServer

pytestmark = pytest.mark.integration


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def _attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_files_attached_with_templated_recipients_and_subject(
    smtp_server, connect, staging, context_for, same_bytes
):
    connect(smtp_server.connection("smtp_test"))
    folder, manifest = staging()
    destination = {
        "type": "email", "connection": "smtp_test",
        "to": ["{{ export_id }}@example.com; ops@example.com"],
        "subject": "{{ export_name }} — {{ ds }}",
        "body": "Grüße,\nthe files for {{ ds_nodash }} <script>",
    }  # fmt: skip
    context = context_for(destination)

    receipt = deliver(context.export.destinations[0], folder, context)

    assert len(smtp_server.messages) == 1
    assert smtp_server.envelopes[0].rcpt_tos == ["lead_backup@example.com", "ops@example.com"]
    message = _parse(smtp_server.messages[0])
    assert message["Subject"] == "Lead backup — ü — 2024-05-01"
    assert message["Message-ID"] == f"<{context.run.job_run_id}.email@ferry>"
    assert message["X-Ferry-Run"] == context.run.job_run_id
    attached = _attachments(message)
    assert sorted(attached) == sorted([f.name for f in manifest.files] + ["manifest.json"])
    same_bytes(attached, manifest)
    html = message.get_body(("html",)).get_content()
    assert "Grüße,<br>the files for 20240501 &lt;script&gt;" in html
    assert manifest.files[0].sha256 in html
    assert receipt.detail["attached"] is True and receipt.rows == manifest.rows


def test_over_the_limit_sends_where_to_fetch_the_files(
    smtp_server, connect, staging, context_for, same_bytes
):
    connect(smtp_server.connection("smtp_test"))
    folder, manifest = staging()
    destination = {"type": "email", "connection": "smtp_test", "to": ["a@example.com"],
                   "max_attachment_bytes": 200}  # fmt: skip
    context = context_for(destination)

    receipt = deliver(context.export.destinations[0], folder, context)

    message = _parse(smtp_server.messages[0])
    assert _attachments(message) == {}
    download = paths.downloads_dir() / "lead_backup" / context.run.job_run_id
    html = message.get_body(("html",)).get_content()
    assert "200-byte attachment limit" in html and str(download) in html
    same_bytes({p.name: p.read_bytes() for p in download.iterdir()}, manifest)
    assert receipt.detail["attached"] is False
    assert receipt.files[0]["location"] == f"{download}/{manifest.files[0].name}"


def test_mail_server_down_retries_then_names_the_server(connect, staging, context_for, caplog):
    down = SmtpServer()  # never started
    connect(down.connection("smtp_down"))
    folder, _ = staging()
    destination = {"type": "email", "connection": "smtp_down", "to": ["a@example.com"]}
    context = context_for(destination)

    with pytest.raises(DeliveryError, match=rf"email destination 'email'.*127.0.0.1:{down.port}"):
        deliver(context.export.destinations[0], folder, context)
    assert caplog.text.count("retrying in") == 2
