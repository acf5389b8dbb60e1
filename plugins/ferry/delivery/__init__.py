"""Delivery: send a run's staged files to one destination, atomically and idempotently.

Every destination reads the manifest, checks each staged file's sha256 against it, sends
the files under deterministic names (a retry or rerun replaces, never adds), and writes
the manifest last as the commit marker. Provider hooks are imported inside the senders,
never here: this package loads while DAG files parse.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    RejectRateExceeded,
    RetryPolicy,
    StagedFileMismatch,
)
from ferry.delivery.housekeeping import purge_downloads
from ferry.manifest import read_manifest

__all__ = [
    "DeliveryContext",
    "DeliveryError",
    "DeliveryReceipt",
    "RejectRateExceeded",
    "RetryPolicy",
    "StagedFileMismatch",
    "deliver",
    "purge_downloads",
]

LOG = logging.getLogger("ferry.delivery")
# Module names avoid the standard library's (email, http): Airflow's plugin loader also
# imports every file under plugins/ as a top-level module named after the file.
_SENDERS = {
    "download": "ferry.delivery.download",
    "s3": "ferry.delivery.s3",
    "sftp": "ferry.delivery.sftp",
    "email": "ferry.delivery.mail",
    "webhook": "ferry.delivery.webhook",
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
        DeliveryError: The target stayed unreachable or refused the files; the message
            names the destination and its host or bucket.
    """
    log = log or LOG
    staging_dir = Path(staging_dir)
    sender = importlib.import_module(_SENDERS[destination.type])
    manifest = read_manifest(staging_dir)
    log.info(
        "Delivering run %s of export %s to %s destination '%s' (try %d): %d files, %d rows",
        context.run.job_run_id, context.export.id, destination.type,
        destination.label, context.try_number, len(manifest.files), manifest.rows,
    )  # fmt: skip
    receipt = sender.send(destination, staging_dir, manifest, context, log=log)
    log.info(
        "Delivered run %s to '%s': %d files, %d rows, %d rejects",
        context.run.job_run_id, receipt.destination, len(receipt.files), receipt.rows,
        receipt.rejects,
    )  # fmt: skip
    return receipt
