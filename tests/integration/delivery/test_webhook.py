"""Webhook destination against a real HTTP server that checks signatures and scripts answers."""

from __future__ import annotations

import hashlib
import json
import time

import pytest

from ferry.delivery import DeliveryError, RejectRateExceeded, deliver
from ferry.manifest import read_manifest
from servers import WebhookServer

pytestmark = pytest.mark.integration
SECRET = "whsec-7f3a9c1e-test-only"


def _expected_records(rows: list[dict], fmt: str) -> list[dict]:
    """What the receiver should get: CSV/TSV write null and '' alike, read back as null."""
    if fmt not in ("csv", "tsv"):
        return rows
    return [{k: (None if v == "" else v) for k, v in row.items()} for row in rows]


def _webhook(**options) -> dict:
    return {"type": "webhook", "connection": "webhook_test", "endpoint": "hooks/ferry",
            "signing_connection": "webhook_signing", **options}  # fmt: skip


@pytest.mark.parametrize(
    ("fmt", "compression"),
    [("csv", "gzip"), ("tsv", "none"), ("json", "gzip"), ("jsonl", "none"), ("parquet", "none")],
)
def test_records_arrive_in_signed_batches(
    webhook_server, staging, staged_rows, context_for, fmt, compression
):
    folder, manifest = staging(fmt=fmt, compression=compression)
    context = context_for(_webhook(batch_size=2))

    receipt = deliver(context.export.destinations[0], folder, context)

    requests = webhook_server.requests
    assert [r.path for r in requests] == ["/hooks/ferry"] * 3
    assert all(r.signature_ok for r in requests)
    bodies = [r.json() for r in requests]
    assert [b["batch"] for b in bodies] == [0, 1, 2] and {b["batches"] for b in bodies} == {3}
    assert [b["offset"] for b in bodies] == [0, 2, 4]
    received = [record for body in bodies for record in body["records"]]
    assert received == _expected_records(staged_rows, fmt)
    assert requests[0].headers["X-Ferry-Run"] == context.run.job_run_id
    assert requests[2].headers["Idempotency-Key"] == f"{context.run.job_run_id}:webhook:2"
    assert receipt.rejects == 0 and receipt.detail["records"] == 5
    staged = {f.name: f.sha256 for f in manifest.data_files}
    assert {f["name"]: f["sha256"] for f in receipt.files} == staged
    assert all(
        hashlib.sha256((folder / n).read_bytes()).hexdigest() == h for n, h in staged.items()
    )


def test_rerun_sends_identical_batches_with_the_same_keys(webhook_server, staging, context_for):
    folder, _ = staging()
    for try_number in (1, 2):
        context = context_for(_webhook(batch_size=2), try_number=try_number)
        deliver(context.export.destinations[0], folder, context)

    first, second = webhook_server.requests[:3], webhook_server.requests[3:]
    assert [r.body for r in first] == [r.body for r in second]
    keys = [r.headers["Idempotency-Key"] for r in webhook_server.requests]
    assert keys[:3] == keys[3:] and len(set(keys)) == 3


def test_manifest_mode_posts_the_manifest_alone(webhook_server, staging, context_for):
    folder, manifest = staging()
    context = context_for(_webhook(mode="manifest"))

    deliver(context.export.destinations[0], folder, context)

    (request,) = webhook_server.requests
    assert request.signature_ok and request.headers["X-Ferry-Batch"] == "manifest"
    assert request.body == (folder / "manifest.json").read_bytes()
    assert read_manifest(folder) == manifest


def test_500_then_429_with_retry_after_are_retried(webhook_server, staging, context_for, caplog):
    answered_at: list[float] = []

    def script(request, number):
        answered_at.append(time.monotonic())
        if number == 0:
            return 500, {}, b"boom"
        if number == 1:
            return 429, {"Retry-After": "1"}, b"slow down"
        return None

    webhook_server.script = script
    folder, _ = staging()
    context = context_for(_webhook(batch_size=10))

    receipt = deliver(context.export.destinations[0], folder, context)

    assert len(webhook_server.requests) == 3 and receipt.detail["records"] == 5
    assert answered_at[2] - answered_at[1] >= 1.0, "Retry-After: 1 was not honoured"
    assert answered_at[1] - answered_at[0] < 1.0, "plain backoff, not Retry-After, after a 500"
    assert "HTTP 429, Retry-After 1 s" in caplog.text


def _reject_first_of_batch_one(request, number):
    if request.json()["batch"] == 1:
        return 200, {}, json.dumps({"errors": [{"index": 0, "reason": "bad email"}]}).encode()
    return None


def test_rejects_over_the_threshold_fail_with_the_rejects_file(
    webhook_server, staging, context_for
):
    webhook_server.script = _reject_first_of_batch_one
    folder, _ = staging()
    context = context_for(_webhook(batch_size=2, max_reject_rate=0.1))

    with pytest.raises(RejectRateExceeded, match=r"1 of 5 records rejected \(20.00%\)"):
        deliver(context.export.destinations[0], folder, context)

    area = folder / "deliveries" / "webhook"
    (reject,) = [json.loads(line) for line in (area / "rejects.jsonl").read_text().splitlines()]
    assert reject["index"] == 2 and reject["reason"] == "bad email" and reject["record"]["id"] == 3
    rejects_manifest = read_manifest(area)
    assert [(f.name, f.kind, f.rows) for f in rejects_manifest.files] == [
        ("rejects.jsonl", "rejects", 1)
    ]


def test_rejects_under_the_threshold_or_warn_only_pass(
    webhook_server, staging, context_for, caplog
):
    webhook_server.script = _reject_first_of_batch_one
    folder, _ = staging()
    for options in ({"max_reject_rate": 0.25}, {"on_rejects_over": "warn"}):
        context = context_for(_webhook(batch_size=2, **options))
        receipt = deliver(context.export.destinations[0], folder, context)
        assert receipt.rejects == 1 and receipt.detail["reject_rate"] == 0.2
    assert "on_rejects_over: warn" in caplog.text


def test_a_client_error_fails_at_once(webhook_server, staging, context_for, caplog):
    webhook_server.script = lambda request, number: (400, {}, b'{"error": "unknown field"}')
    folder, _ = staging()
    context = context_for(_webhook())

    with pytest.raises(DeliveryError, match="answered HTTP 400") as failure:
        deliver(context.export.destinations[0], folder, context)
    assert len(webhook_server.requests) == 1 and "retrying" not in caplog.text
    assert failure.value.retryable is False


def test_receiver_down_retries_then_names_the_url(connect, staging, context_for, caplog):
    down = WebhookServer(secret=b"unused")  # never started
    connect(down.connection("webhook_down"))
    folder, _ = staging()
    context = context_for({"type": "webhook", "connection": "webhook_down", "endpoint": "in"})

    with pytest.raises(DeliveryError, match=rf"POST to http://127.0.0.1:{down.port}/in failed"):
        deliver(context.export.destinations[0], folder, context)
    assert caplog.text.count("retrying in") == 2


def test_no_secret_in_logs_receipts_or_requests(webhook_server, staging, context_for, caplog):
    folder, _ = staging()
    context = context_for(_webhook(batch_size=2))

    with caplog.at_level("DEBUG"):
        receipt = deliver(context.export.destinations[0], folder, context)

    assert SECRET not in caplog.text and SECRET not in repr(receipt)
    assert not any(
        SECRET.encode() in r.body or SECRET in str(r.headers) for r in webhook_server.requests
    )
