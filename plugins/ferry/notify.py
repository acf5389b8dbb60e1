"""Notifications: one message when an export run or a group run ends, by email or webhook.

An entry of a `notify` list is either an email address, sent through the SMTP connection
named by FERRY_NOTIFY_SMTP_CONN (default smtp_default) with the smtp provider's SmtpHook,
or `webhook:<connection id>`, a JSON POST through the http provider's HttpHook. Each
message carries the run's summary and a link to its log in the Airflow UI.

A notification that cannot be sent is logged, never raised: it must not turn a delivered
run into a failed one. Provider hooks are imported inside the senders.
"""

from __future__ import annotations

import html
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ferry.history import RunRecord
from ferry.spec.models import Notify
from ferry.spec.templates import recipient_problem

WEBHOOK_PREFIX = "webhook:"
DEFAULT_SMTP_CONNECTION = "smtp_default"


@dataclass(frozen=True)
class Notice:
    """One message: a subject, labelled facts, a link to the log and a JSON body."""

    subject: str
    facts: list[tuple[str, str]]
    link: str
    payload: dict[str, Any] = field(default_factory=dict)


def targets_for(notify: Notify, outcome: str) -> list[str]:
    """Who hears about an outcome: failures, successes (when asked) and empty results.

    An empty result is also a success, so on_success lists hear about it too; a group
    run that stopped before its last member (incomplete) goes to the on_failure list.
    """
    chosen = {
        "failed": notify.on_failure,
        "stopped": notify.on_failure,
        "incomplete": notify.on_failure,
        "success": notify.on_success,
        "empty": [*notify.on_empty, *notify.on_success],
    }.get(outcome, [])
    return list(dict.fromkeys(chosen))


def run_url(dag_id: str, run_id: str) -> str:
    """The run in the Airflow UI: [api] base_url (AIRFLOW__API__BASE_URL) + the run's path."""
    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/") or ""
    return f"{base.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def run_notice(record: RunRecord, export_name: str, link: str) -> Notice:
    """The message about one export run, built from its run record."""
    facts = [
        (record.kind.capitalize(), f"{export_name} ({record.export_id})"),  # Export or Import
        ("Run", record.job_run_id),
        ("Outcome", record.outcome),
        ("Triggered by", record.triggered_by),
        ("Started", record.started_at or "-"),
        ("Duration", f"{record.duration_s:.1f} s"),
        ("Rows", str(record.rows)),
        ("Files", str(record.files)),
        ("Bytes", str(record.bytes)),
        ("Destinations", ", ".join(record.destination_names) or "-"),
    ]
    if record.group_run_id:
        facts.insert(2, ("Group run", record.group_run_id))
    if record.kind == "import":  # what the load changed in its table (Destinations)
        changed = (f"{record.inserted} inserted, {record.updated} updated, "
                   f"{record.deleted} deleted, {record.rejected} rejected")  # fmt: skip
        facts.append(("Loaded", changed))
    if record.reason:
        facts.append(("Reason", record.reason))
    subject = one_line(f"Ferry: {export_name} {record.outcome} ({record.job_run_id})")
    payload = {"kind": f"{record.kind}_run", "summary": record.summary(), "link": link,
               "record": _public_fields(record)}  # fmt: skip
    return Notice(subject=subject, facts=facts, link=link, payload=payload)


def group_notice(
    group_name: str,
    group_run_id: str,
    outcome: str,
    members: list[tuple[str, RunRecord | None]],
    link: str,
) -> Notice:
    """The one message about a whole group run: its outcome and each member's."""
    facts = [("Group", group_name), ("Group run", group_run_id), ("Outcome", outcome)]
    facts += [
        (f"{number}. {export_id}", record.summary() if record else "did not run")
        for number, (export_id, record) in enumerate(members, start=1)
    ]
    payload = {
        "kind": "group_run", "group_run_id": group_run_id, "outcome": outcome, "link": link,
        "members": [{"export_id": export_id, "outcome": record.outcome if record else "not run",
                     "rows": record.rows if record else 0} for export_id, record in members],
    }  # fmt: skip
    subject = one_line(f"Ferry: group {group_name} {outcome} ({group_run_id})")
    return Notice(subject=subject, facts=facts, link=link, payload=payload)


def one_line(text: str) -> str:
    """A header value: names come from definitions, and a line break would start a header."""
    return " ".join(text.split())


def _public_fields(record: RunRecord) -> dict[str, Any]:
    fields = dict(vars(record))
    fields["destinations"] = record.destination_names
    fields.pop("staged_files")
    return fields


def send(targets: list[str], notice: Notice, *, log: logging.Logger) -> list[str]:
    """Send one notice to every target; return the targets it reached."""
    emails = [t for t in targets if not t.startswith(WEBHOOK_PREFIX) and not recipient_problem(t)]
    hooks = [t.removeprefix(WEBHOOK_PREFIX) for t in targets if t.startswith(WEBHOOK_PREFIX)]
    for unknown in set(targets) - set(emails) - {WEBHOOK_PREFIX + h for h in hooks}:
        log.warning("Notify: '%s' is neither an email address nor webhook:<conn id>", unknown)
    reached = []
    if emails and _attempt(_email, emails, notice, log=log):
        reached += emails
    for connection in hooks:
        if _attempt(_webhook, connection, notice, log=log):
            reached.append(WEBHOOK_PREFIX + connection)
    return reached


def _attempt(sender, target, notice: Notice, *, log: logging.Logger) -> bool:
    try:
        sender(target, notice)
    except Exception as error:  # a notice must never fail the run it reports on
        log.error("Notify: could not send '%s' to %s: %s", notice.subject, target, error)
        return False
    log.info("Notify: sent '%s' to %s", notice.subject, target)
    return True


def _email(to: list[str], notice: Notice) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    connection = os.environ.get("FERRY_NOTIFY_SMTP_CONN", DEFAULT_SMTP_CONNECTION)
    with SmtpHook(smtp_conn_id=connection) as hook:
        hook.send_email_smtp(to=to, subject=notice.subject, html_content=notice_html(notice))


def notice_html(notice: Notice) -> str:
    """The email body: the facts as a table and the link to the log."""
    rows = "".join(
        f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in notice.facts
    )
    link = html.escape(notice.link, quote=True)
    return f'<table>{rows}</table>\n<p><a href="{link}">Open the run\'s log</a>: {link}</p>'


def _webhook(connection: str, notice: Notice) -> None:
    from airflow.providers.http.hooks.http import HttpHook

    body = {"subject": notice.subject, **notice.payload}
    HttpHook(method="POST", http_conn_id=connection).run(
        endpoint="",
        data=json.dumps(body, default=str),
        headers={"Content-Type": "application/json"},
    )
