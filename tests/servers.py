"""Real servers on 127.0.0.1 for integration tests, each on a free port, started and stopped here.

- MotoS3: `moto_server` (moto[server]) as a subprocess, an S3 API over HTTP.
- OpenSshServer: Debian's OpenSSH sshd with its own config, host key, user key and user.
- SmtpServer: an aiosmtpd Controller that keeps every message it receives.
- WebhookServer: http.server in a thread that records requests and answers as scripted.
- airflow_connection: an Airflow connection as an AIRFLOW_CONN_<ID> environment variable.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
SFTP_USER = "ferrysftp"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 15.0, process: subprocess.Popen | None = None):
    """Return once something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {_output(process)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _output(process: subprocess.Popen) -> str:
    with contextlib.suppress(Exception):
        return process.stdout.read().decode(errors="replace")[-2000:] if process.stdout else ""
    return ""


def stop(process: subprocess.Popen | None) -> None:
    """Terminate one process this module started, then kill it if it lingers."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def airflow_connection(conn_id: str, **fields: Any) -> tuple[str, str]:
    """The environment variable that defines an Airflow connection (JSON form)."""
    return f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields)


class MotoS3:
    """moto's S3 server on a free port; `stop()` and `start()` again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoS3:
        executable = Path(sys.executable).with_name("moto_server")
        command = [str(executable), "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for_port(self.port, process=self.process)
        return self

    def stop(self) -> None:
        stop(self.process)

    def client(self):
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip

    def connection(self, conn_id: str) -> tuple[str, str]:
        extra = {
            "endpoint_url": self.endpoint_url,
            "region_name": "us-east-1",
            "config_kwargs": {"retries": {"max_attempts": 1, "mode": "standard"}},
        }
        return airflow_connection(
            conn_id, conn_type="aws", login="testing", password="testing", extra=extra
        )


def ensure_user(name: str) -> pwd.struct_passwd:
    """A local user sshd accepts: created if missing, with a '*' password (not locked)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    subprocess.run(["usermod", "-p", "*", name], check=True)
    return pwd.getpwnam(name)


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ferry-test", "-f", str(path)],
        check=True,
    )
    return " ".join(path.with_suffix(".pub").read_text().split()[:2])


class OpenSshServer:
    """Debian's sshd on a free port, with its own host key, a test user and its key.

    Files land under `root` (owned by the test user); destination paths are absolute.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.user = ensure_user(SFTP_USER)
        self.home = Path(tempfile.mkdtemp(prefix="ferry-sshd-"))
        self.home.chmod(0o755)
        self.root = self.home / "sftp"
        self.root.mkdir()
        os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.host_key = _keygen(self.home / "host_key")
        self.client_key = self.home / "client_key"
        (self.home / "authorized_keys").write_text(_keygen(self.client_key) + "\n")
        self.config = self.home / "sshd_config"
        self.config.write_text(self._config_text())
        self.process: subprocess.Popen | None = None

    def _config_text(self) -> str:
        return "\n".join(
            [
                f"Port {self.port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {self.home / 'host_key'}",
                f"PidFile {self.home / 'sshd.pid'}",
                f"AuthorizedKeysFile {self.home / 'authorized_keys'}",
                f"AllowUsers {SFTP_USER}",
                "UsePAM no",
                "StrictModes no",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PubkeyAuthentication yes",
                "Subsystem sftp internal-sftp",
                "MaxStartups 50",
                "LogLevel INFO",
                "",
            ]
        )

    def start(self) -> OpenSshServer:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, process=self.process)
        return self

    def sessions(self) -> list[int]:
        """Pids of the per-connection sshd processes (descendants of the listener)."""
        return _descendants(self.process.pid) if self.process else []

    def cut(self) -> None:
        """Kill the listener and every session at once: the server dies mid-transfer."""
        for pid in [*self.sessions(), self.process.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        for pid in self.sessions():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        stop(self.process)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def connection(self, conn_id: str, **extra: Any) -> tuple[str, str]:
        extra = {"key_file": str(self.client_key), "host_key": self.host_key, **extra}
        return airflow_connection(
            conn_id, conn_type="sftp", host="127.0.0.1", port=self.port, login=SFTP_USER,
            extra=extra,
        )  # fmt: skip


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


class SmtpServer:
    """aiosmtpd on a free port; `messages` holds each received message's raw bytes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[bytes] = []
        self.envelopes: list[Any] = []
        self.controller = None

    def start(self) -> SmtpServer:
        from aiosmtpd.controller import Controller

        server = self

        class Keep:
            async def handle_DATA(self, smtp, session, envelope):
                server.envelopes.append(envelope)
                server.messages.append(envelope.original_content or envelope.content)
                return "250 Message accepted"

        self.controller = Controller(
            Keep(), hostname="127.0.0.1", port=self.port, data_size_limit=100_000_000
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def connection(self, conn_id: str) -> tuple[str, str]:
        extra = {
            "disable_ssl": True, "disable_tls": True, "from_email": "ferry@example.com",
            "retry_limit": 0, "timeout": 5,
        }  # fmt: skip
        return airflow_connection(
            conn_id, conn_type="smtp", host="127.0.0.1", port=self.port, extra=extra
        )


@dataclass
class Request:
    """One request the webhook server received."""

    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]


@dataclass
class WebhookServer:
    """A recording HTTP server: `script` answers each request (default 200 {}).

    script(request, number) -> (status, headers, body) or None for the default; number
    counts requests from 0. Signatures are checked with `secret` (HMAC-SHA256 of the body).
    """

    secret: bytes
    script: Callable[[Request, int], Reply | None] | None = None
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> list[Request]:
        """Requests answered 2xx (the ones a receiver would keep)."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def start(self) -> WebhookServer:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Request(self.path, dict(self.headers), body, server._signed(self, body))
                number = len(server.requests)
                server.requests.append(request)
                status, headers, payload = (server.script and server.script(request, number)) or (
                    200, {}, b"{}",
                )  # fmt: skip
                request.status = status
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def _signed(self, handler: BaseHTTPRequestHandler, body: bytes) -> bool:
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(handler.headers.get("X-Ferry-Signature", ""), expected)

    def connection(self, conn_id: str) -> tuple[str, str]:
        return airflow_connection(conn_id, conn_type="http", host=self.base_url)


@contextlib.contextmanager
def running(server: Any) -> Iterator[Any]:
    """Start a server for the duration of a with-block."""
    server.start()
    try:
        yield server
    finally:
        (getattr(server, "cleanup", None) or server.stop)()
