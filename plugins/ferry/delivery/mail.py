"""Email destination (SmtpHook): the files as attachments, or a summary of where to fetch them.

Up to max_attachment_bytes in total (data, sidecars and the manifest), the files travel
as attachments. Above it, the run is placed in the download area and the message lists
that folder and the export's other file destinations instead. Recipients, subject and
body are templates. A message cannot be taken back, so a retry sends it again with the
same Message-ID (JobID.RunID and destination), which lets mail systems drop the copy.
"""

from __future__ import annotations

import html
import posixpath
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ferry.delivery import download
from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    Sender,
    StagedRun,
    file_record,
    plan_layout,
    template_values,
)
from ferry.manifest import MANIFEST_NAME, Manifest, StagedFile
from ferry.retries import describe_error, with_retries
from ferry.spec import templates
from ferry.spec.destinations import EmailDestination


class EmailSender(Sender[EmailDestination]):
    """Sends one message with the run's files attached, or with where to fetch them."""

    config = EmailDestination

    def send(self, run: StagedRun) -> DeliveryReceipt:
        destination, manifest, log = self.destination, run.manifest, run.log
        attachments = [path for _, path in run.files] + [run.folder / MANIFEST_NAME]
        total = sum(path.stat().st_size for path in attachments)
        attach = total <= destination.max_attachment_bytes
        message = _message(destination, template_values(run.context), run.context)
        if attach:
            fetch_from: list[str] = []
        else:
            fetch_from = _place_for_download(run)
            log.info("Email: %d bytes is over the %d-byte limit: sending a summary", total,
                     destination.max_attachment_bytes)  # fmt: skip
        html_body = message_html(
            message.body, manifest, run.context, fetch_from, total, destination
        )
        _send(destination, message, html_body, attachments if attach else [], run.context, log)
        return _receipt(destination, manifest, run.files, message.to, message, attach, fetch_from)


@dataclass(frozen=True)
class _Message:
    to: list[str]
    subject: str
    body: str
    message_id: str


def _message(destination, values: dict, context: DeliveryContext) -> _Message:
    """Render the templates (sandboxed, checked at load) into a message; refuse bad results."""
    try:
        return _Message(
            to=recipients(destination.to, values),
            subject=" ".join(_render(destination.subject, values).split()),  # one header line
            body=_render(destination.body, values) if destination.body else "",
            message_id=f"<{context.run.job_run_id}.{destination.label}@ferry>",
        )
    except (jinja2.TemplateError, ValueError) as error:
        raise DeliveryError(
            f"email destination '{destination.label}': {error}; nothing is sent",
            retryable=False,
        ) from error


def _render(template: str, values: dict) -> str:
    return templates.render(template, values, allowed=templates.RUN_PLACEHOLDERS)


def recipients(to: list[str], values: dict) -> list[str]:
    """Render each recipient template: each piece of it is exactly one address.

    Raises:
        ValueError: A rendered recipient is not one plain address (a value such as the
            export's name put a space, a comma, a newline or a display name into it).
    """
    try:
        return [address for template in to for address in templates.recipients(template, values)]
    except ValueError as error:
        raise ValueError(f"recipient {error}") from error


def _place_for_download(run: StagedRun) -> list[str]:
    """Make sure the run can be fetched: the download area, then other file destinations."""
    places = [str(download.place(run))]
    for other in run.context.export.destinations:
        if other.type in ("s3", "sftp"):
            layout = plan_layout(other.path, run, absolute=other.type == "sftp")
            folder = posixpath.dirname(layout.manifest_target)
            prefix = (
                f"s3://{other.bucket}/" if other.type == "s3" else f"sftp ({other.connection}): "
            )
            places.append(prefix + folder)
    return places


def message_html(
    body: str, manifest: Manifest, context: DeliveryContext, fetch_from: list[str], total: int,
    destination,
) -> str:  # fmt: skip
    """The message: the templated body (as text), the files, and where to fetch them."""
    parts = [f"<p>{html.escape(body).replace(chr(10), '<br>')}</p>"] if body else []
    parts.append(
        f"<p>Export <b>{html.escape(context.export.name)}</b>, run "
        f"<code>{html.escape(context.run.job_run_id)}</code>: {manifest.rows} rows in "
        f"{len(manifest.data_files)} file(s), {total} bytes.</p>"
    )
    parts.append("<table><tr><th>File</th><th>Rows</th><th>Bytes</th><th>SHA-256</th></tr>")
    parts += [_file_row(staged) for staged in manifest.files]
    parts.append("</table>")
    if fetch_from:
        parts.append(
            f"<p>The files are larger than the {destination.max_attachment_bytes}-byte "
            "attachment limit, so they are not attached. Fetch them from:</p><ul>"
        )
        parts += [f"<li><code>{html.escape(place)}</code></li>" for place in fetch_from]
        parts.append("</ul>")
    return "\n".join(parts)


def _file_row(staged: StagedFile) -> str:
    cells = (staged.name, staged.rows, staged.bytes, staged.sha256)
    return "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in cells) + "</tr>"


def _send(destination, message: _Message, html_body: str, files: list[Path], context, log) -> None:
    import smtplib

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    headers = {
        "Message-ID": message.message_id,
        "X-Ferry-Export": context.export.id,
        "X-Ferry-Run": context.run.job_run_id,
    }

    def attempt() -> None:
        with SmtpHook(smtp_conn_id=destination.connection) as hook:
            hook.send_email_smtp(
                to=message.to, subject=message.subject, html_content=html_body,
                files=[str(path) for path in files], custom_headers=headers,
            )  # fmt: skip

    transient = (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError)
    what = f"Email via connection '{destination.connection}'"
    try:
        with_retries(attempt, what=what, retry_on=transient, log=log)
    except Exception as error:
        raise DeliveryError(
            f"email destination '{destination.label}': sending via connection "
            f"'{destination.connection}' ({_server(destination)}) failed: {describe_error(error)}",
            retryable=isinstance(error, transient),
        ) from error
    log.info("Email: sent %s to %s with %d attachment(s)", message.message_id,
             ", ".join(message.to), len(files))  # fmt: skip


def _server(destination) -> str:
    """host:port of the SMTP connection, for error messages (no credentials)."""
    from airflow.sdk import BaseHook

    try:
        connection = BaseHook.get_connection(destination.connection)
    except Exception:
        return "connection not found"
    return f"{connection.host}:{connection.port}"


def _receipt(destination, manifest, checked, to, message, attach, fetch_from) -> DeliveryReceipt:
    mailto = "mailto:" + ",".join(to)
    files = [
        file_record(s.name, f"{mailto}#{s.name}" if attach else f"{fetch_from[0]}/{s.name}", s)
        for s, _ in checked
    ]
    return DeliveryReceipt(
        destination=destination.label,
        type="email",
        files=files,
        rows=manifest.rows,
        detail={
            "to": to, "subject": message.subject, "message_id": message.message_id,
            "attached": attach, "fetch_from": fetch_from,
        },
    )  # fmt: skip
