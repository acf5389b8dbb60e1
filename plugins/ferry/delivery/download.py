"""Download destination: a local folder per run, $FERRY_HOME/downloads/<export>/<JobID.RunID>/.

The run's files are copied into a hidden sibling folder, checked, given the manifest last,
and only then renamed into place, so a reader sees the whole run or none of it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ferry import paths
from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    checked_files,
    destination_name,
    file_record,
)
from ferry.manifest import Manifest, sha256_of


def run_folder(context: DeliveryContext) -> Path:
    """Where a run's files can be fetched from."""
    return paths.downloads_dir() / context.export.id / context.run.job_run_id


def send(
    destination,
    staging_dir: Path,
    manifest: Manifest,
    context: DeliveryContext,
    *,
    log: logging.Logger,
) -> DeliveryReceipt:
    """Copy the staged files and the manifest into the run's download folder."""
    checked = checked_files(staging_dir, manifest)
    final = run_folder(context)
    partial = final.with_name(f".{final.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)  # what an earlier, interrupted try left
    partial.mkdir(parents=True)
    for staged, source in checked:
        copy = partial / staged.name
        shutil.copyfile(source, copy)
        if sha256_of(copy) != staged.sha256:
            raise DeliveryError(f"download: copy of {staged.name} in {partial} is corrupt")
    manifest.write(partial)
    _swap_in(partial, final)
    log.info("Download: %d files, %d bytes in %s", len(checked), manifest.bytes, final)
    files = [file_record(s.name, (final / s.name).as_uri(), s) for s, _ in checked]
    return DeliveryReceipt(
        destination=destination_name(destination),
        type="download",
        files=files,
        rows=manifest.rows,
        detail={"folder": str(final), "manifest": (final / "manifest.json").as_uri()},
    )


def _swap_in(partial: Path, final: Path) -> None:
    """Rename the finished folder into place, replacing what an earlier try delivered."""
    previous = final.with_name(f".{final.name}.previous")
    shutil.rmtree(previous, ignore_errors=True)
    if final.exists():
        final.rename(previous)
    partial.rename(final)
    shutil.rmtree(previous, ignore_errors=True)
