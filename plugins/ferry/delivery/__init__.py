"""Delivery: send a run's staged files to one destination, atomically and idempotently.

deliver() does what every destination shares, once: it reads the manifest, checks every
staged file against it (StagedRun), logs the start and the end, and hands the checked run
to the destination's Sender, found in SENDERS by the destination's type. Each Sender
declares its config model (ferry.spec.destinations) and sends the files under
deterministic names (a retry or rerun replaces, never adds), the manifest last as the
commit marker. Provider hooks are imported inside the senders, never here: this package
loads while DAG files parse.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    RejectRateExceeded,
    Sender,
    StagedFileMismatch,
    StagedRun,
)
from ferry.delivery.download import DownloadSender
from ferry.delivery.housekeeping import purge_downloads, purge_shared_downloads
from ferry.delivery.mail import EmailSender
from ferry.delivery.s3 import S3Sender
from ferry.delivery.sftp import SftpSender
from ferry.delivery.webhook import WebhookSender
from ferry.manifest import read_manifest
from ferry.retries import RetryPolicy

__all__ = [
    "SENDERS",
    "DeliveryContext",
    "DeliveryError",
    "DeliveryReceipt",
    "RejectRateExceeded",
    "RetryPolicy",
    "Sender",
    "StagedFileMismatch",
    "StagedRun",
    "deliver",
    "purge_downloads",
    "purge_shared_downloads",
]

LOG = logging.getLogger("ferry.delivery")
# Module names avoid the standard library's (email, http): Airflow's plugin loader also
# imports every file under plugins/ as a top-level module named after the file.
SENDERS: dict[str, type[Sender]] = {
    sender.destination_type(): sender
    for sender in (DownloadSender, S3Sender, SftpSender, EmailSender, WebhookSender)
}


def deliver(
    destination, staging_dir: Path, context: DeliveryContext, *, log: logging.Logger | None = None
) -> DeliveryReceipt:
    """Send the staged run in staging_dir to one destination.

    Args:
        destination: One of the export's destination models (S3Destination, ...).
        staging_dir: The folder holding the staged files and manifest.json.
        context: The export, the run, template values and the try number.
        log: The task's logger.

    Returns:
        What went where.

    Raises:
        StagedFileMismatch: A staged file is missing or differs from the manifest.
        DeliveryError: The target stayed unreachable or refused the files; the message
            names the destination and its host or bucket.
    """
    log = log or LOG
    staging_dir = Path(staging_dir)
    sender = SENDERS[destination.type](destination)
    manifest = read_manifest(staging_dir)
    log.info(
        "Delivering run %s of export %s to %s destination '%s' (try %d): %d files, %d rows",
        context.run.job_run_id, context.export.id, destination.type,
        destination.label, context.try_number, len(manifest.files), manifest.rows,
    )  # fmt: skip
    receipt = sender.send(StagedRun.checked(staging_dir, manifest, context, log))
    log.info(
        "Delivered run %s to '%s': %d files, %d rows, %d rejects",
        context.run.job_run_id, receipt.destination, len(receipt.files), receipt.rows,
        receipt.rejects,
    )  # fmt: skip
    return receipt
