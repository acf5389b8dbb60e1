"""Download destination: a local folder per run, $FERRY_HOME/downloads/<export>/<JobID.RunID>/.

The run's files are copied into a hidden sibling folder, checked, given the manifest last,
and only then renamed into place, so a reader sees the whole run or none of it.

With staging on S3 the worker that delivered is not the server people download from: the
folder is also published to <staging prefix>/_downloads/<export>/<JobID.RunID>/ (manifest
last), and a server fills its own folder from there (sync_from_shared) before serving.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ferry import paths, staging
from ferry.delivery.base import (
    DeliveryContext,
    DeliveryError,
    DeliveryReceipt,
    Sender,
    StagedRun,
    file_record,
)
from ferry.delivery.manifest_cache import MANIFESTS
from ferry.manifest import MANIFEST_NAME, Manifest, read_manifest, sha256_of
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
    remote = shared_copy(run.context.export.id, run.context.run.job_run_id)
    if remote is not None:
        staging.publish_tree(remote, final)
        run.log.info("Download: kept for every server at %s", remote.object_url())
    return final


def shared_copy(export_id: str, job_run_id: str) -> staging.Remote | None:
    """Where the run's download folder is kept for every process (None: staging is local)."""
    return staging.shared_remote(staging.DOWNLOADS_AREA, export_id, job_run_id)


def sync_from_shared(
    export_id: str, job_run_id: str, *, check: Callable[[float], None] | None = None
) -> None:
    """Make this machine's download folder of the run what the delivering worker published
    under staging on S3: fetched (each file checked) when missing or different, its
    manifest dated when it was published (retention counts from then). Nothing to do when
    staging is local, or nothing was published (the local folder, if any, is served).
    What was published is looked up through this process's cache of manifests, so repeat
    requests for a run do not fetch its manifest again.

    check, when given, is called with the published manifest's time before anything is
    fetched: what it raises (e.g. the run expired) leaves this machine's folder alone.
    """
    remote = shared_copy(export_id, job_run_id)
    if remote is None:
        return
    final = paths.downloads_dir() / export_id / job_run_id
    local = _local_manifest(final)
    if local is not None and MANIFESTS.recent(remote) == local:
        return  # checked moments ago (ferry.delivery.manifest_cache): no request to S3
    found = MANIFESTS.current_published(remote)
    if found is None or local == found[0]:
        return
    if check is not None:
        check(found[1])
    partial = _fresh_partial(final)
    try:
        staging.fetch_tree(remote, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _swap_in(partial, final)


def _local_manifest(folder: Path) -> Manifest | None:
    try:
        return read_manifest(folder)
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
