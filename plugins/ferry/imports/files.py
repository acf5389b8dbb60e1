"""The files of an import run: find them by pattern, fetch them, file them away when loaded.

    find(spec, values)             -> [RemoteFile]   the matches in the source folder, now
    find_settled(spec, values)     -> [RemoteFile]   the matches, once they stopped changing
    fetch(spec, remote, folder)    -> [LocalFile]    copies in the run's folder, with sha256
    finish(spec, files)            -> Finished       moved to done_folder after a load

A source is one folder: an SFTP server's (SFTPHook), an S3 prefix (S3Hook, ferry.s3) or a
drop folder on this machine ($FERRY_DROP, default $FERRY_HOME/drop; a source's path is
under it and never leaves it, symlinks included). The drop folder is read on whichever
worker runs the task, so on several machines it must be one shared volume: a FERRY_DROP
missing on this worker, or unset while staging is on S3 (a deployment), is refused with
the folder, this host and the fix (DropFolderMissing), never waited on as "no file yet".
Only the folder's own files count, never its subfolders'. The pattern is a file name glob
(* ? [abc]) whose date placeholders are rendered for the run in the sandbox
(ferry.spec.templates) with only the documented names; the rendered pattern must still be
one file name. `files: one` takes the newest match,
`all` every match (in name order).

A file has arrived when it is whole. Files being uploaded under a temporary name (hidden,
.part, .filepart, .partial, .tmp) are never listed, in a folder, on SFTP or on S3; for the
others the rule is: two looks SETTLE_SECONDS apart list the same matches with the same
sizes and modified times (find_settled, the wait's look). S3 shows an object only once its
upload completed, so there the rule costs the settle and nothing else. A file that still
grows after that is caught at fetch (its size differs from the listing's): FileNotWhole,
retried.

Errors say whether another try can help (ferry.exceptions): FilesRefused (terminal: a
refused login, a path outside the drop folder), FileNotWhole (transient: still being
written), FilesUnreachable (transient: the server is down or dropped the connection),
NoFiles (terminal: nothing to load where the wait had found files). finish leaves a file
that changed since it was loaded (FileChanged) where it is, for the next run.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry import paths, staging
from ferry.imports.places import (
    DROP_ENV,
    DropFolder,
    FileChanged,
    FileNotWhole,
    FilesRefused,
    FilesUnreachable,
    ImportFilesError,
    NoFiles,
    Place,
    RemoteFile,
    drop_root,
)
from ferry.safe_names import inside, segment_problem
from ferry.spec.imports import PATTERN_PLACEHOLDERS, FolderFiles, ImportSpec
from ferry.spec.templates import TemplateValueError, render

__all__ = [
    "DropFolderMissing", "FileChanged", "FileNotWhole", "FilesRefused", "FilesUnreachable",
    "Finished", "ImportFilesError", "LocalFile", "NoFiles", "RemoteFile", "drop_root", "fetch",
    "file_pattern", "find", "find_settled", "finish", "local_file", "place_of", "select",
]  # fmt: skip
_CHUNK = 1024 * 1024
# Seconds between the two looks of find_settled: above a second, as SFTP servers state
# modified times in whole seconds.
SETTLE_SECONDS = 2.0


class DropFolderMissing(FilesRefused):
    """The drop folder is not on the worker running the task (not mounted, never made), or
    no shared one is named where tasks run on several machines: use a shared volume or an
    sftp/s3 source."""


@dataclass(frozen=True)
class Finished:
    """What finish did: where each moved file went, and why the others stayed."""

    moved: list[str]
    left: list[str]


@dataclass(frozen=True)
class LocalFile:
    """A fetched copy in the run's folder, with what identifies its content."""

    path: Path
    name: str
    size: int
    sha256: str


def file_pattern(spec: ImportSpec, values: Mapping[str, Any]) -> str:
    """The run's file name glob: the pattern with its date placeholders rendered.

    Raises:
        FilesRefused: The pattern does not render to one file name (checked at load; this
            is the check again, on the run's own values).
    """
    try:
        rendered = render(spec.source.pattern, dict(values), allowed=PATTERN_PLACEHOLDERS)
    except (ValueError, TemplateValueError) as error:
        raise FilesRefused(f"import '{spec.id}': pattern refused: {error}") from error
    except Exception as error:  # jinja2's undefined value, a date format of the definition
        raise FilesRefused(f"import '{spec.id}': pattern does not render: {error}") from error
    problem = segment_problem(rendered)
    if problem:
        raise FilesRefused(f"import '{spec.id}': pattern renders to {rendered!r}, which {problem}")
    return rendered


def select(spec: ImportSpec, found: Iterable[RemoteFile], pattern: str) -> list[RemoteFile]:
    """The files a run takes: the matches, in name order, or only the newest for `one`."""
    matches = sorted(
        (f for f in found if fnmatch.fnmatchcase(f.name, pattern)), key=lambda f: f.name
    )
    if spec.source.files == "one" and matches:
        return [max(matches, key=lambda f: (f.modified, f.name))]
    return matches


def find(spec: ImportSpec, values: Mapping[str, Any]) -> list[RemoteFile]:
    """The files of the run now (empty while none has arrived).

    Args:
        values: The run's template values (RunInfo.template_vars()): ds, ds_nodash, ...
    """
    pattern = file_pattern(spec, values)
    return select(spec, place_of(spec).list(), pattern)


def find_settled(
    spec: ImportSpec, values: Mapping[str, Any], settle: float | None = None
) -> list[RemoteFile]:
    """The files of the run once whole: two looks settle (SETTLE_SECONDS) apart agree.

    Empty while none has arrived, and while any match still changes (its size or modified
    time differs between the looks, or a match came or went): the next look tries again.
    """
    first = find(spec, values)
    if not first:
        return []
    time.sleep(SETTLE_SECONDS if settle is None else settle)
    second = find(spec, values)
    return second if second == first else []


def fetch(spec: ImportSpec, remote_files: Sequence[RemoteFile], folder: Path) -> list[LocalFile]:
    """Copy each file into folder (created) and read its size and sha256 there.

    Raises:
        NoFiles: remote_files is empty.
        FilesRefused: A file's name is not a plain file name.
        FileNotWhole: A file's size changed between the listing and the copy (it is still
            being written): transient, another try fetches it whole.
    """
    if not remote_files:
        raise NoFiles(f"import '{spec.id}': no file to fetch")
    place = place_of(spec)
    folder.mkdir(parents=True, exist_ok=True)
    fetched = []
    for remote in remote_files:
        try:
            path = inside(folder, remote.name)
        except ValueError as error:
            raise FilesRefused(f"import '{spec.id}': {error}") from error
        place.get(remote, path)
        local = local_file(path)
        if local.size != remote.size:
            raise FileNotWhole(
                f"import '{spec.id}': {remote.location} had {remote.size} bytes when listed and "
                f"{local.size} when fetched: it is still being written; retried later"
            )
        fetched.append(local)
    return fetched


def finish(spec: ImportSpec, files: Sequence[RemoteFile]) -> Finished:
    """Move loaded files into the source's done_folder; nothing when it has none.

    files are the loaded ones as listed before the load: each is moved only while it has
    the listed size and modified time. One that changed since (or is gone) stays, with
    the reason in Finished.left; so does one whose move failed, the others still move.
    """
    done = spec.source.done_folder
    if not done:
        return Finished([], [])
    place = place_of(spec)
    moved, left = [], []
    for remote in files:
        try:
            moved.append(place.move(remote, done))
        except ImportFilesError as error:
            left.append(str(error))
    return Finished(moved, left)


def local_file(path: Path) -> LocalFile:
    """A file on this machine with its size and sha256."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return LocalFile(path=path, name=path.name, size=size, sha256=digest.hexdigest())


def place_of(spec: ImportSpec) -> Place:
    """The source folder of an import."""
    source = spec.source
    if isinstance(source, FolderFiles):
        _check_drop_root(spec.id)
        return DropFolder(spec.id, source.path)
    from ferry.imports import remote

    return remote.place_of(spec)


def _check_drop_root(import_id: str) -> None:
    """Refuse a drop folder this worker cannot be sure every worker shares.

    Raises:
        DropFolderMissing: FERRY_DROP names a folder missing on this host, or is unset
            while staging is on S3 (tasks, and so the drop folder read, on several hosts).
    """
    root, host = drop_root(), socket.gethostname()
    fix = (
        "a folder import reads the drop folder of whichever worker runs it: mount one "
        "shared volume at that path on every worker, or use a source of type sftp or s3"
    )
    if os.environ.get(DROP_ENV):
        if not root.is_dir():
            raise DropFolderMissing(
                f"import '{import_id}': the drop folder {root} ({DROP_ENV}) does not exist on "
                f"worker host {host!r}; {fix}"
            )
        return
    if isinstance(staging.parse_root(paths.staging_root()), staging.Remote):
        raise DropFolderMissing(
            f"import '{import_id}': {DROP_ENV} is unset while FERRY_STAGING is on S3, so "
            f"worker host {host!r} would read its own {root}; set {DROP_ENV} to the drop "
            f"folder's path; {fix}"
        )
