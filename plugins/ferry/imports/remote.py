"""An import's source folder on an SFTP server (SFTPHook) or under an S3 prefix (ferry.s3).

Each call opens its own connection and closes it: a sensor's look, a fetch and a move run
in different tasks, often on different workers. Provider hooks and boto3 are imported
inside the calls (this module loads with the import's steps, not at DAG parse).
"""

from __future__ import annotations

import contextlib
import posixpath
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ferry.imports.places import FilesRefused, FilesUnreachable, NoFiles, Place, RemoteFile
from ferry.spec.imports import ImportSpec, S3Files, SftpFiles


def place_of(spec: ImportSpec) -> Place:
    """The SFTP or S3 folder of an import."""
    if isinstance(spec.source, SftpFiles):
        return SftpFolder(spec.id, spec.source)
    if isinstance(spec.source, S3Files):
        return S3Folder(spec.id, spec.source)
    raise ValueError(f"import '{spec.id}': no remote source {spec.source.type}")


class SftpFolder:
    """A folder on an SFTP server, through the connection's SFTPHook."""

    def __init__(self, import_id: str, source: SftpFiles) -> None:
        self.import_id = import_id
        self.source = source
        self.folder = source.path

    def describe(self) -> str:
        return f"sftp://{self.source.connection}/{self.folder.lstrip('/')}"

    def list(self) -> list[RemoteFile]:
        def listing(sftp) -> list[RemoteFile]:
            try:
                entries = sftp.listdir_attr(self.folder)
            except FileNotFoundError:
                return []  # the folder is not there yet: nothing has arrived
            return [
                RemoteFile(
                    entry.filename,
                    posixpath.join(self.folder, entry.filename),
                    entry.st_size or 0,
                    float(entry.st_mtime or 0),
                )
                for entry in entries
                if stat.S_ISREG(entry.st_mode or 0) and not entry.filename.startswith(".")
            ]

        return self._run(listing, f"listing of {self.folder}")

    def get(self, remote: RemoteFile, path: Path) -> None:
        def download(sftp) -> None:
            try:
                sftp.get(remote.location, str(path))
            except FileNotFoundError as error:
                raise NoFiles(f"import '{self.import_id}': {remote.location} is gone") from error

        self._run(download, f"download of {remote.location}")

    def move(self, remote: RemoteFile, folder: str) -> str:
        done = posixpath.join(self.folder, folder)
        target = posixpath.join(done, remote.name)

        def rename(sftp) -> None:
            _make_folders(sftp, done)
            with contextlib.suppress(FileNotFoundError):
                sftp.remove(target)  # an earlier load of a file of the same name
            sftp.rename(remote.location, target)

        self._run(rename, f"move of {remote.location} to {done}")
        return target

    def _run(self, action: Callable[[Any], Any], what: str) -> Any:
        """action(sftp) on a fresh connection; its errors as FilesRefused/FilesUnreachable."""
        from airflow.providers.sftp.hooks.sftp import SFTPHook
        from paramiko.ssh_exception import (
            AuthenticationException,
            BadHostKeyException,
            SSHException,
        )

        where = self.describe()
        try:
            hook = SFTPHook(ssh_conn_id=self.source.connection, conn_retry_attempts=1)
            with hook.get_managed_conn() as sftp:
                return action(sftp)
        except (NoFiles, FilesRefused):
            raise
        except (AuthenticationException, BadHostKeyException, PermissionError) as error:
            raise self._refused(what, where, error) from error
        except (SSHException, EOFError, ConnectionError, TimeoutError, OSError) as error:
            if "known_hosts" in str(error):  # paramiko's RejectPolicy: the host key is unknown
                raise self._refused(what, where, error) from error
            raise FilesUnreachable(
                f"import '{self.import_id}': SFTP {what} on {where} failed: "
                f"{type(error).__name__}: {error}"
            ) from error

    def _refused(self, what: str, where: str, error: BaseException) -> FilesRefused:
        return FilesRefused(
            f"import '{self.import_id}': SFTP {what} on {where} refused: "
            f"{type(error).__name__}: {error}"
        )


def _make_folders(sftp, folder: str) -> None:
    """mkdir -p on the server."""
    if not folder or folder in ("/", "."):
        return
    try:
        sftp.stat(folder)
    except FileNotFoundError:
        _make_folders(sftp, posixpath.dirname(folder))
        sftp.mkdir(folder)


class S3Folder:
    """The objects directly under a prefix of a bucket (not those of deeper 'folders')."""

    def __init__(self, import_id: str, source: S3Files) -> None:
        self.import_id = import_id
        self.source = source
        path = source.path.strip("/")
        self.prefix = f"{path}/" if path and path != "." else ""

    def describe(self) -> str:
        return f"s3://{self.source.bucket}/{self.prefix}"

    @contextlib.contextmanager
    def _bucket(self) -> Iterator[Any]:
        from ferry import s3

        try:
            bucket = s3.Bucket(self.source.connection, self.source.bucket)
            with s3.s3_errors():
                yield bucket
        except s3.S3Missing as error:
            raise NoFiles(f"import '{self.import_id}': {error}") from error
        except s3.S3Error as error:
            kind = FilesUnreachable if error.retryable else FilesRefused
            raise kind(f"import '{self.import_id}': S3 at {self.describe()}: {error}") from error

    def list(self) -> list[RemoteFile]:
        found = []
        with self._bucket() as bucket:
            pages = bucket.client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket.name, Prefix=self.prefix, Delimiter="/"
            )
            for page in pages:
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    if name and not name.startswith("."):
                        modified = item["LastModified"].timestamp()
                        found.append(RemoteFile(name, item["Key"], item["Size"], modified))
        return found

    def get(self, remote: RemoteFile, path: Path) -> None:
        with self._bucket() as bucket:
            bucket.download(remote.location, path)

    def move(self, remote: RemoteFile, folder: str) -> str:
        target = f"{self.prefix}{folder.strip('/')}/{remote.name}"
        with self._bucket() as bucket:
            source = {"Bucket": bucket.name, "Key": remote.location}
            bucket.client.copy_object(Bucket=bucket.name, Key=target, CopySource=source)
            bucket.client.delete_object(Bucket=bucket.name, Key=remote.location)
        return f"s3://{self.source.bucket}/{target}"
