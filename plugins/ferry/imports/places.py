"""Where an import's files are: one folder of a source, and what can go wrong there.

A Place lists a folder's own files (never its subfolders'), copies one to this machine and
moves one into a subfolder. DropFolder is a folder on this machine under the drop root;
ferry.imports.remote has the SFTP and S3 ones. Errors say whether another try can help
(ferry.exceptions).

Every Place lists alike: a file still being uploaded under a temporary name (hidden, or
ending .part, .filepart, .partial or .tmp; see in_progress) is not listed. A Place moves
a file only while it is the one listed (same size and modified time, see unchanged): a
file replaced since it was loaded stays for the next run.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ferry import paths
from ferry.exceptions import Terminal, Transient
from ferry.safe_names import inside

DROP_ENV = "FERRY_DROP"


@dataclass(frozen=True)
class RemoteFile:
    """A matching file where the source keeps it.

    Attributes:
        name: The file's name (one segment; the source's folder is the spec's).
        location: Where it is: a path on the server, an S3 key, or a local path.
        size: Bytes.
        modified: Last change, epoch seconds (picks the newest for `files: one`).
    """

    name: str
    location: str
    size: int
    modified: float


class ImportFilesError(Exception):
    """Finding, fetching or moving an import's files failed (the subclasses say how)."""

    retryable = False  # raised as is: another try meets the same files


class FilesRefused(ImportFilesError, Terminal):
    """The source refuses (login, permissions, a path outside it): fix it, then rerun."""


class FilesUnreachable(ImportFilesError, Transient):
    """The source did not answer or dropped the connection: another try may work."""


class NoFiles(ImportFilesError, Terminal):
    """No file matches the pattern now."""


class FileNotWhole(ImportFilesError, Transient):
    """A file changed between the listing and the copy: it is still being written."""

    retryable = True


class FileChanged(ImportFilesError, Terminal):
    """A loaded file is no longer the one loaded (replaced or gone): it is not moved."""


# Temporary names of uploads in progress (WinSCP .filepart, curl/wget/rsync .part, ...).
IN_PROGRESS_SUFFIXES = (".part", ".filepart", ".partial", ".tmp")


def in_progress(name: str) -> bool:
    """Whether a name is an upload in progress (hidden or a temporary suffix), never listed."""
    return name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def unchanged(remote: RemoteFile, size: int, modified: float, *, whole_seconds: bool) -> None:
    """Raise FileChanged unless size and modified are the listed ones.

    whole_seconds: compare modified times to the second (a server that lists with more
    precision than it states, as S3's listing and HEAD do).

    Raises:
        FileChanged: The file is not the one listed.
    """
    same_time = (
        int(modified) == int(remote.modified) if whole_seconds else modified == remote.modified
    )
    if size != remote.size or not same_time:
        raise FileChanged(
            f"{remote.location} changed since it was loaded ({remote.size} bytes, modified "
            f"{remote.modified}; now {size} bytes, modified {modified}): left for the next run"
        )


class Place(Protocol):
    """One source folder: list its files, copy one here, move one into a subfolder."""

    def describe(self) -> str: ...

    def list(self) -> list[RemoteFile]: ...

    def get(self, remote: RemoteFile, path: Path) -> None: ...

    def move(self, remote: RemoteFile, folder: str) -> str:
        """Move remote into folder (under the source's), if unchanged; where it went.

        Raises:
            FileChanged: remote's size or modified time is not the listed one now.
        """
        ...


# --- The drop folder on this machine


def drop_root() -> Path:
    """Where files are dropped for folder imports: $FERRY_DROP, else $FERRY_HOME/drop."""
    value = os.environ.get(DROP_ENV)
    return Path(value).expanduser() if value else paths.ferry_home() / "drop"


class DropFolder:
    """A folder under the drop root; nothing outside the root is listed, read or written."""

    def __init__(self, import_id: str, path: str) -> None:
        self.import_id = import_id
        self.root = drop_root()
        self.folder = self.root / path

    def describe(self) -> str:
        return str(self.folder)

    def _checked(self, path: Path) -> Path:
        """path, if it resolves (symlinks followed) inside the drop root."""
        root = self.root.resolve()
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            raise FilesRefused(
                f"import '{self.import_id}': {path} resolves to {resolved}, outside the drop "
                f"folder {root} ({DROP_ENV}); only files under it are imported"
            )
        return resolved

    def list(self) -> list[RemoteFile]:
        if not self.folder.is_dir():
            return []  # nothing dropped yet
        folder = self._checked(self.folder)
        found = []
        with os.scandir(folder) as entries:
            for entry in entries:
                if in_progress(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue  # a copy in progress; folders and links are not files
                stat = entry.stat(follow_symlinks=False)
                found.append(RemoteFile(entry.name, entry.path, stat.st_size, stat.st_mtime))
        return found

    def get(self, remote: RemoteFile, path: Path) -> None:
        source = self._checked(Path(remote.location))
        try:
            shutil.copyfile(source, path, follow_symlinks=False)
        except FileNotFoundError as error:
            raise NoFiles(f"import '{self.import_id}': {source} is gone") from error

    def move(self, remote: RemoteFile, folder: str) -> str:
        done = self._checked(self.folder / folder)
        done.mkdir(parents=True, exist_ok=True)
        target = inside(done, remote.name)
        source = self._checked(Path(remote.location))
        try:
            stat = source.stat()
        except FileNotFoundError as error:
            raise FileChanged(f"{source} is gone: nothing to move") from error
        unchanged(remote, stat.st_size, stat.st_mtime, whole_seconds=False)
        os.replace(source, target)
        return str(target)
