"""SFTP destination (SFTPHook): each file goes up as <name>.part and is renamed when whole.

A reader never sees half a file: the final name appears only by rename, after the size on
the server matched. A retry overwrites the .part an earlier try left, and a rename
replaces a file delivered before, so a run never leaves two copies. A manifest already
there is removed first and the new one goes last; files an earlier try of the same run
sent that this try does not are removed just before it. The host key is checked unless
the connection opts out (SSHHook's own rules), and the connection is closed whatever
happens.
"""

from __future__ import annotations

import contextlib
import io
import logging
import posixpath
from typing import Any

from ferry.delivery.base import (
    DeliveryError,
    DeliveryReceipt,
    Sender,
    StagedRun,
    file_record,
    left_by_earlier_try,
    manifest_bytes,
    plan_layout,
)
from ferry.retries import describe_error, with_retries
from ferry.spec.destinations import SftpDestination

PART_SUFFIX = ".part"


class SftpSender(Sender[SftpDestination]):
    """Uploads the staged files, then the manifest, to the destination's server."""

    config = SftpDestination

    def send(self, run: StagedRun) -> DeliveryReceipt:
        layout = plan_layout(self.destination.path, run, absolute=True)
        with contextlib.closing(_Session(self.destination, run.log)) as session:
            earlier = session.withdraw(layout.manifest_target)
            for item in layout.files:
                session.upload(
                    item.target,
                    item.staged.bytes,
                    lambda sftp, path, i=item: sftp.put(str(i.source), path),
                )
            for path in left_by_earlier_try(earlier, layout):
                session.remove(path)
            body = manifest_bytes(layout.manifest)
            session.upload(
                layout.manifest_target,
                len(body),
                lambda sftp, path: sftp.putfo(io.BytesIO(body), path),
            )
            files = [
                file_record(i.staged.name, session.url(i.target), i.staged) for i in layout.files
            ]
        return DeliveryReceipt(
            destination=self.destination.label,
            type="sftp",
            files=files,
            rows=run.manifest.rows,
            detail={"host": session.address, "manifest": session.url(layout.manifest_target)},
        )


class _Session:
    """One SFTP connection through SFTPHook, reopened after a failure and always closed."""

    def __init__(self, destination, log: logging.Logger) -> None:
        from airflow.providers.sftp.hooks.sftp import SFTPHook

        self.destination = destination
        self.log = log
        # One connect attempt per call: with_retries paces the retries (SSHHook waits 3-5 s).
        self.hook = SFTPHook(ssh_conn_id=destination.connection, conn_retry_attempts=1)
        self.address = f"{self.hook.remote_host}:{self.hook.port or 22}"
        self._stack: contextlib.ExitStack | None = None
        self._sftp: Any = None
        self._folders: set[str] = set()

    def url(self, path: str) -> str:
        return f"sftp://{self.address}{'' if path.startswith('/') else '/'}{path}"

    def upload(self, target: str, size: int, put) -> None:
        """Put a file at target.part with put(sftp, path), check its size, rename it into place."""
        self._run(lambda sftp: self._place(sftp, target, size, put), f"upload of {target}")
        self.log.info("SFTP: %d bytes -> %s", size, self.url(target))

    def withdraw(self, path: str) -> bytes | None:
        """Read and remove the manifest an earlier try left at path, if there is one."""

        def attempt(sftp) -> bytes | None:
            try:
                with sftp.open(path, "rb") as earlier:
                    body = earlier.read()
            except FileNotFoundError:
                return None
            sftp.remove(path)
            return body

        return self._run(attempt, f"read of an earlier manifest {path}")

    def remove(self, path: str) -> None:
        def attempt(sftp) -> None:
            with contextlib.suppress(FileNotFoundError):
                sftp.remove(path)

        self._run(attempt, f"removal of {path}")
        self.log.info("SFTP: removed %s, sent by an earlier try of this run", self.url(path))

    def _run(self, action, what: str):
        """action(sftp) with the session's retries; a broken connection is reopened."""

        def attempt():
            sftp = self._open()
            try:
                return action(sftp)
            except Exception:
                self.close()
                raise

        described = f"SFTP {what} on {self.address}"
        try:
            return with_retries(attempt, what=described, retry_on=_transient_errors(), log=self.log)
        except _transient_errors() as error:
            raise DeliveryError(
                f"sftp destination '{self.destination.label}': {what} to "
                f"{self.address} failed: {describe_error(error)}"
            ) from error

    def _place(self, sftp, target: str, size: int, put) -> None:
        partial = target + PART_SUFFIX
        try:
            self._make_folders(sftp, posixpath.dirname(target))
            put(sftp, partial)
            uploaded = sftp.stat(partial).st_size
            if uploaded != size:
                raise OSError(f"{partial} has {uploaded} bytes on the server, expected {size}")
            _rename_over(sftp, partial, target)
        except (PermissionError, FileNotFoundError) as error:
            raise self._refused(f"cannot write {target}: {error}") from error

    def _make_folders(self, sftp, folder: str) -> None:
        """Create folder and its parents on the server when missing (mkdir -p)."""
        if not folder or folder in self._folders or folder == "/":
            return
        self._make_folders(sftp, posixpath.dirname(folder))
        try:
            sftp.stat(folder)
        except FileNotFoundError:
            sftp.mkdir(folder)
            self.log.info("SFTP: created folder %s on %s", folder, self.address)
        self._folders.add(folder)

    def _open(self):
        if self._sftp is not None:
            return self._sftp
        from paramiko.ssh_exception import AuthenticationException, BadHostKeyException

        self._stack = contextlib.ExitStack()
        try:
            self._sftp = self._stack.enter_context(self.hook.get_managed_conn())
        except (BadHostKeyException, AuthenticationException) as error:
            self.close()
            raise self._refused(str(error)) from error
        except Exception as error:
            self.close()
            if "known_hosts" in str(error):  # paramiko's RejectPolicy: host key unknown
                raise self._refused(
                    f"{error}; set the connection's host_key extra ('ssh-ed25519 AAAA...')"
                ) from error
            raise
        return self._sftp

    def _refused(self, reason: str) -> DeliveryError:
        return DeliveryError(
            f"sftp destination '{self.destination.label}' at {self.address}: {reason}",
            retryable=False,
        )

    def close(self) -> None:
        """Close the SFTP channel and the SSH connection beneath it."""
        stack, self._stack, self._sftp = self._stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                stack.close()
        with contextlib.suppress(Exception):
            if self.hook.client is not None:
                self.hook.client.close()
                self.hook.client = None


def _rename_over(sftp, source: str, target: str) -> None:
    """Rename source to target, replacing target (atomic where posix-rename is offered)."""
    from paramiko.sftp import SFTPError

    try:
        sftp.posix_rename(source, target)
    except (OSError, SFTPError):
        with contextlib.suppress(FileNotFoundError):
            sftp.remove(target)
        sftp.rename(source, target)


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Errors worth another attempt: the connection failed or dropped; not refusals."""
    from paramiko.ssh_exception import SSHException

    return (SSHException, EOFError, ConnectionError, TimeoutError, OSError)
