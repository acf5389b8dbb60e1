"""Download destination: a local folder per run, $FERRY_HOME/downloads/<export>/<JobID.RunID>/.

The run's files are copied into a hidden sibling folder, checked, given the manifest last,
and only then renamed into place, so a reader sees the whole run or none of it.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import time
import uuid
from pathlib import Path

from ferry import paths
from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    Sender,
    StagedRun,
    file_record,
)
from ferry.manifest import MANIFEST_NAME, sha256_of
from ferry.spec.destinations import DownloadDestination

STALE_PARTIAL_SECONDS = 3600


def run_folder(context: DeliveryContext) -> Path:
    """Where a run's files can be fetched from."""
    return paths.downloads_dir() / context.export.id / context.run.job_run_id


class DownloadSender(Sender[DownloadDestination]):
    """Copies the run into $FERRY_HOME/downloads/<export>/<JobID.RunID>/."""

    config = DownloadDestination

    def send(self, run: StagedRun) -> DeliveryReceipt:
        final = place(run)
        files = [file_record(s.name, (final / s.name).as_uri(), s) for s, _ in run.files]
        return DeliveryReceipt(
            destination=self.destination.label,
            type="download",
            files=files,
            rows=run.manifest.rows,
            detail={"folder": str(final), "manifest": (final / MANIFEST_NAME).as_uri()},
        )


def place(run: StagedRun) -> Path:
    """Copy the staged files and the manifest into the run's download folder; return it."""
    final = run_folder(run.context)
    partial = _fresh_partial(final)
    for staged, source in run.files:
        copy = partial / staged.name
        shutil.copyfile(source, copy)
        if sha256_of(copy) != staged.sha256:
            raise DeliveryError(f"download: copy of {staged.name} in {partial} is corrupt")
    run.manifest.write(partial)
    _swap_in(partial, final)
    run.log.info("Download: %d files, %d bytes in %s", len(run.files), run.manifest.bytes, final)
    return final


def _fresh_partial(final: Path) -> Path:
    """A private folder to fill; leftovers of interrupted tries are removed once stale."""
    final.parent.mkdir(parents=True, exist_ok=True)
    stale_before = time.time() - STALE_PARTIAL_SECONDS
    for leftover in final.parent.glob(f".{final.name}.*"):
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < stale_before:
                shutil.rmtree(leftover, ignore_errors=True)
    partial = final.with_name(f".{final.name}.partial-{uuid.uuid4().hex[:12]}")
    partial.mkdir()
    return partial


def _swap_in(partial: Path, final: Path) -> None:
    """Rename the finished folder into place, replacing what an earlier try delivered.

    Another writer of the same run (the email destination places over-size runs here too)
    may swap in between; its files are the same, so whichever lands last wins.
    """
    moved_aside: list[Path] = []
    try:
        for _ in range(5):
            previous = partial.with_name(f".{final.name}.previous-{uuid.uuid4().hex[:12]}")
            with contextlib.suppress(FileNotFoundError):
                final.rename(previous)
                moved_aside.append(previous)
            try:
                partial.rename(final)
                return
            except OSError as error:
                if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
        raise DeliveryError(f"download: could not move {partial} into place at {final}")
    finally:
        for folder in moved_aside:
            shutil.rmtree(folder, ignore_errors=True)
