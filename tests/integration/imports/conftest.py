"""Real servers for the import tests: moto's S3 for the session, a fresh sshd per test, and
the session's PostgreSQL server (the sources' fixture) with a lead table in it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.sources.conftest import postgres  # noqa: F401 - the shared fixture

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


LEAD_DDL = (
    "DROP SCHEMA IF EXISTS imp CASCADE; CREATE SCHEMA imp; "
    "CREATE TABLE imp.lead (lead_id BIGINT PRIMARY KEY, email TEXT, score NUMERIC(6,2), "
    "signed_up DATE); "
    "INSERT INTO imp.lead VALUES (1, 'a@x.org', 1.5, '2026-01-01'), "
    "(2, 'b@x.org', 2.5, '2026-01-02')"
)


@pytest.fixture
def pg_lead(postgres, monkeypatch, tmp_path):  # noqa: F811 - the fixture imported above
    """imp.lead with two rows, on connection pg_import; FERRY_HOME of the test's own."""
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(*postgres.connection("pg_import"))
    postgres.execute(LEAD_DDL)
    return postgres
