"""Real servers for the import tests: moto's S3 for the session, a fresh sshd per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import SSHD, MotoS3, OpenSshServer, running


@pytest.fixture(scope="session")
def s3_server() -> Iterator[MotoS3]:
    with running(MotoS3()) as server:
        yield server


@pytest.fixture
def sftp_server() -> Iterator[OpenSshServer]:
    if not Path(SSHD).exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{SSHD} is missing; CI installs openssh-server from packages.txt")
        pytest.skip(f"{SSHD} is missing: apt-get install -y openssh-server (see packages.txt)")
    with running(OpenSshServer()) as server:
        yield server
