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

from ferry.imports.places import (
    FileChanged,
    FilesRefused,
    FilesUnreachable,
    NoFiles,
    Place,
    RemoteFile,
    in_progress,
    unchanged,
)
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
                if stat.S_ISREG(entry.st_mode or 0) and not in_progress(entry.filename)
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
            try:
                now = sftp.stat(remote.location)
            except FileNotFoundError as error:
                raise FileChanged(f"{remote.location} is gone: nothing to move") from error
            unchanged(remote, now.st_size or 0, float(now.st_mtime or 0), whole_seconds=False)
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
        except (NoFiles, FilesRefused, FileChanged):
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
                    if name and not in_progress(name):
                        modified = item["LastModified"].timestamp()
                        found.append(RemoteFile(name, item["Key"], item["Size"], modified))
        return found

    def get(self, remote: RemoteFile, path: Path) -> None:
        with self._bucket() as bucket:
            bucket.download(remote.location, path)

    def move(self, remote: RemoteFile, folder: str) -> str:
        """Copy the object checked (its ETag) into folder, then delete it.

        A new upload of the key between the copy and the delete (milliseconds) would be
        deleted unloaded: S3 has no rename, and no conditional delete on every server.
        """
        target = f"{self.prefix}{folder.strip('/')}/{remote.name}"
        with self._bucket() as bucket:
            client, source = bucket.client, {"Bucket": bucket.name, "Key": remote.location}
            with _changed_if(remote, "NoSuchKey", "404", "NotFound"):
                head = client.head_object(**source)
            unchanged(
                remote, head["ContentLength"], head["LastModified"].timestamp(), whole_seconds=True
            )
            with _changed_if(remote, "PreconditionFailed", "412"):
                client.copy_object(
                    Bucket=bucket.name, Key=target, CopySource=source,
                    CopySourceIfMatch=head["ETag"],
                )  # fmt: skip
            client.delete_object(**source)
        return f"s3://{self.source.bucket}/{target}"


@contextlib.contextmanager
def _changed_if(remote: RemoteFile, *codes: str) -> Iterator[None]:
    """S3's answers that mean the object is not the one listed, as FileChanged."""
    try:
        yield
    except Exception as error:
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if code in codes:
            raise FileChanged(
                f"{remote.location} is gone or was replaced ({code}): not moved"
            ) from error
        raise
