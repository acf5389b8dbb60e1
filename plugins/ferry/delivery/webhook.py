"""Webhook destination (HttpHook): the records as signed JSON batches, or the manifest alone.

Request (POST, Content-Type application/json; charset=utf-8):
    records mode: {"export_id", "job_run_id", "batch": n (from 0), "batches": total,
                   "offset": index of the first record in the run, "records": [...]}
    manifest mode: the run's manifest.json.
Headers: X-Ferry-Export, X-Ferry-Run, X-Ferry-Batch ("n/total" or "manifest"),
    Idempotency-Key (JobID.RunID:destination:batch; the same on every retry and rerun, so
    a receiver can drop repeats) and, with a signing_connection, X-Ferry-Signature:
    sha256=<hex HMAC-SHA256 of the exact body bytes, keyed by that connection's password>.
Response: 2xx accepts the batch; a JSON body {"errors": [{"index": i, "reason": "..."}]}
    names records of the batch (index from 0) the receiver refused. They are written to
    deliveries/<destination>/rejects.jsonl beside a manifest.json in the staging folder,
    and a reject rate over max_reject_rate fails or warns (on_rejects_over). 408, 425,
    429 and 5xx are retried with exponential backoff, honouring Retry-After (bounded);
    other statuses fail at once.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import hmac
import logging
import math
from pathlib import Path
from typing import Any

from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    RejectRateExceeded,
    Sender,
    StagedRun,
    file_record,
    manifest_bytes,
)
from ferry.manifest import Manifest, StagedFile, sha256_of
from ferry.retries import describe_error, with_retries, without_credentials
from ferry.spec.destinations import WebhookDestination

REJECTS_NAME = "rejects.jsonl"
REQUEST_TIMEOUT_SECONDS = 60
RETRY_STATUSES = frozenset({408, 425, 429})
REJECTS_SCHEMA = [
    {"name": "index", "type": "BIGINT"},
    {"name": "batch", "type": "BIGINT"},
    {"name": "reason", "type": "VARCHAR"},
    {"name": "record", "type": "JSON"},
]


class _RetryableStatus(Exception):
    """An answer worth another try (429, 5xx); retry_after is the server's wish, in seconds."""

    def __init__(self, status: int, retry_after: float | None) -> None:
        super().__init__(
            f"HTTP {status}" + (f", Retry-After {retry_after:g} s" if retry_after else "")
        )
        self.retry_after = retry_after


class WebhookSender(Sender[WebhookDestination]):
    """POSTs the run's records in batches (or its manifest) and accounts for rejects."""

    config = WebhookDestination

    def send(self, run: StagedRun) -> DeliveryReceipt:
        destination, manifest = self.destination, run.manifest
        poster = _Poster(destination, run.context, run.log)
        detail: dict[str, Any] = {
            "url": poster.url, "mode": destination.mode, "signed": poster.signed,
        }  # fmt: skip
        rejects = 0
        if destination.mode == "manifest":
            poster.post(manifest_bytes(manifest), batch="manifest")
            run.log.info("Webhook: manifest of %s -> %s", run.context.run.job_run_id, poster.url)
        else:
            sent, rejected, batches = _post_records(destination, run, poster)
            rejects_path = _write_rejects(run.folder, destination, manifest, rejected)
            rejects = len(rejected)
            detail |= {"records": sent, "batches": batches, "rejects_file": str(rejects_path)}
            detail["reject_rate"] = _check_reject_rate(
                destination, sent, rejected, rejects_path, run.log
            )
        return DeliveryReceipt(
            destination=destination.label,
            type="webhook",
            files=[file_record(s.name, poster.url, s) for s, _ in run.files if s.kind == "data"],
            rows=manifest.rows,
            rejects=rejects,
            detail=detail,
        )


def _post_records(
    destination: WebhookDestination, run: StagedRun, poster: _Poster
) -> tuple[int, list[dict], int]:
    """Send every data record in batches; return (records sent, rejects, batches)."""
    from ferry.delivery.records import batched, iter_records

    manifest, context = run.manifest, run.context
    total_rows = sum(staged.rows for staged, _ in run.files if staged.kind == "data")
    batches = math.ceil(total_rows / destination.batch_size)
    records = (
        record
        for staged, path in run.files
        if staged.kind == "data"
        for record in iter_records(path, manifest.format, manifest.schema)
    )
    sent, rejected, number = 0, [], -1
    for number, batch in enumerate(batched(records, destination.batch_size)):
        body = _json_bytes(
            {"export_id": context.export.id, "job_run_id": context.run.job_run_id,
             "batch": number, "batches": batches, "offset": sent, "records": batch}
        )  # fmt: skip
        answer = poster.post(body, batch=f"{number}/{batches}")
        rejected += _rejects_of(answer, batch, number, sent, poster.log)
        sent += len(batch)
    poster.log.info(
        "Webhook: %d records in %d batches -> %s, %d rejected",
        sent, number + 1, poster.url, len(rejected),
    )  # fmt: skip
    return sent, rejected, number + 1


def _json_bytes(payload: Any) -> bytes:
    from ferry.delivery.records import json_text

    return json_text(payload, separators=(",", ":")).encode("utf-8")


def _rejects_of(answer: Any, batch: list, number: int, offset: int, log) -> list[dict]:
    """The records a response body names as refused: {"errors": [{"index", "reason"}]}."""
    errors = answer.get("errors") if isinstance(answer, dict) else None
    rejects = []
    for error in errors if isinstance(errors, list) else []:
        index = error.get("index") if isinstance(error, dict) else None
        if not isinstance(index, int) or not 0 <= index < len(batch):
            log.warning("Webhook: batch %d names an unknown record: %r", number, error)
            continue
        reason = str(error.get("reason") or "rejected")
        rejects.append(
            {"index": offset + index, "batch": number, "reason": reason, "record": batch[index]}
        )
    return rejects


def _write_rejects(staging_dir: Path, destination, manifest: Manifest, rejects: list[dict]) -> Path:
    """Write rejects.jsonl and its manifest (last); a retry replaces both."""
    from ferry.delivery.records import json_text

    folder = staging_dir / "deliveries" / destination.label
    folder.mkdir(parents=True, exist_ok=True)
    temporary, target = folder / f".{REJECTS_NAME}.tmp", folder / REJECTS_NAME
    with temporary.open("w", encoding="utf-8") as out:
        for reject in rejects:
            out.write(json_text(reject) + "\n")
    temporary.replace(target)
    staged = StagedFile(
        REJECTS_NAME, len(rejects), target.stat().st_size, sha256_of(target), kind="rejects"
    )
    Manifest(
        export_id=manifest.export_id, job_run_id=manifest.job_run_id, run_id=manifest.run_id,
        format="jsonl", compression="none", files=[staged], schema=REJECTS_SCHEMA,
        field_mapping=[], rows=len(rejects), bytes=staged.bytes,
    ).write(folder)  # fmt: skip
    return target


def _check_reject_rate(destination, sent: int, rejects: list[dict], path: Path, log) -> float:
    rate = len(rejects) / sent if sent else 0.0
    for reject in rejects[:10]:
        log.warning("Webhook rejected record %d: %s", reject["index"], reject["reason"])
    if rate <= destination.max_reject_rate:
        return rate
    message = (
        f"webhook destination '{destination.label}': {len(rejects)} of {sent} "
        f"records rejected ({rate:.2%}), over max_reject_rate {destination.max_reject_rate:.2%}; "
        f"each record and its reason are in {path}"
    )
    if destination.on_rejects_over == "fail":
        raise RejectRateExceeded(message)
    log.warning("%s (on_rejects_over: warn, so the run goes on)", message)
    return rate


class _Poster:
    """POSTs bodies through one HttpHook: signs them, retries them, explains failures."""

    def __init__(self, destination, context: DeliveryContext, log: logging.Logger) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        self.destination = destination
        self.log = log
        self.hook = HttpHook(method="POST", http_conn_id=destination.connection)
        self.url = without_credentials(self.hook.url_from_endpoint(destination.endpoint))
        self.secret = _signing_secret(destination)
        self.signed = self.secret is not None
        self.key_prefix = f"{context.run.job_run_id}:{destination.label}"
        self.headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Ferry-Export": context.export.id,
            "X-Ferry-Run": context.run.job_run_id,
        }
        if not self.signed:
            log.warning("Webhook %s: no signing_connection, requests are not signed", self.url)

    def post(self, body: bytes, *, batch: str) -> Any:
        """POST one body; return the parsed JSON answer (None when not JSON)."""
        import requests

        headers = {**self.headers, "X-Ferry-Batch": batch}
        headers["Idempotency-Key"] = f"{self.key_prefix}:{batch.split('/')[0]}"
        if self.secret is not None:
            digest = hmac.new(self.secret, body, hashlib.sha256).hexdigest()
            headers["X-Ferry-Signature"] = f"sha256={digest}"
        transient = (_RetryableStatus, requests.ConnectionError, requests.Timeout)
        try:
            return with_retries(
                lambda: self._post_once(body, headers),
                what=f"Webhook POST of batch {batch} to {self.url}",
                retry_on=transient,
                log=self.log,
            )
        except transient as error:
            raise self._error(f"failed: {describe_error(error)}") from error

    def _post_once(self, body: bytes, headers: dict[str, str]) -> Any:
        response = self.hook.run(
            self.destination.endpoint,
            data=body,
            headers=headers,
            extra_options={"check_response": False, "timeout": REQUEST_TIMEOUT_SECONDS},
        )
        status = response.status_code
        if status in RETRY_STATUSES or status >= 500:
            raise _RetryableStatus(status, _retry_after(response.headers.get("Retry-After")))
        if status >= 300:
            raise self._error(f"answered HTTP {status}: {response.text[:300]}", retryable=False)
        try:
            return response.json()
        except ValueError:
            return None

    def _error(self, what: str, *, retryable: bool = True) -> DeliveryError:
        name = self.destination.label
        return DeliveryError(
            f"webhook destination '{name}': POST to {self.url} {what}", retryable=retryable
        )


def _signing_secret(destination) -> bytes | None:
    """The HMAC key: the password of the signing connection."""
    if not destination.signing_connection:
        return None
    from airflow.sdk import BaseHook

    password = BaseHook.get_connection(destination.signing_connection).password
    if not password:
        raise DeliveryError(
            f"webhook destination '{destination.label}': signing connection "
            f"'{destination.signing_connection}' has no password to sign with",
            retryable=False,
        )
    return password.encode("utf-8")


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
