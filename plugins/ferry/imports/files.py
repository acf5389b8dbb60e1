"""The files of an import run: find them by pattern, fetch them, file them away when loaded.

    find(spec, values)             -> [RemoteFile]   the matches in the source folder, now
    fetch(spec, remote, folder)    -> [LocalFile]    copies in the run's folder, with sha256
    finish(spec, files)            -> [str]          moved to done_folder after a load

A source is one folder: an SFTP server's (SFTPHook), an S3 prefix (S3Hook, ferry.s3) or a
drop folder on this machine ($FERRY_DROP, default $FERRY_HOME/drop; a source's path is
under it and never leaves it, symlinks included). Only the folder's own files count, never
its subfolders'. The pattern is a file name glob (* ? [abc]) whose date placeholders are
rendered for the run in the sandbox (ferry.spec.templates) with only the documented names;
the rendered pattern must still be one file name. `files: one` takes the newest match,
`all` every match (in name order).

Errors say whether another try can help (ferry.exceptions): FilesRefused (terminal: a
refused login, a path outside the drop folder, a file that changed), FilesUnreachable
(transient: the server is down or dropped the connection), NoFiles (terminal: nothing to
load where the wait had found files).
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ferry.imports.places import (
    DropFolder,
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
    "FilesRefused", "FilesUnreachable", "ImportFilesError", "LocalFile", "NoFiles",
    "RemoteFile", "drop_root", "fetch", "file_pattern", "find", "finish", "local_file",
    "place_of", "select",
]  # fmt: skip
_CHUNK = 1024 * 1024


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


def fetch(spec: ImportSpec, remote_files: Sequence[RemoteFile], folder: Path) -> list[LocalFile]:
    """Copy each file into folder (created) and read its size and sha256 there.

    Raises:
        NoFiles: remote_files is empty.
        FilesRefused: A file's name is not a plain file name, or its size changed
            between the listing and the copy (it was still being written).
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
            raise FilesRefused(
                f"import '{spec.id}': {remote.location} had {remote.size} bytes when listed and "
                f"{local.size} when fetched: it is still being written; rerun once it is whole"
            )
        fetched.append(local)
    return fetched


def finish(spec: ImportSpec, files: Sequence[RemoteFile]) -> list[str]:
    """Move loaded files into the source's done_folder; nothing when it has none.

    Returns:
        Where each file went.
    """
    done = spec.source.done_folder
    if not done:
        return []
    place = place_of(spec)
    return [place.move(remote, done) for remote in files]


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
        return DropFolder(spec.id, source.path)
    from ferry.imports import remote

    return remote.place_of(spec)
