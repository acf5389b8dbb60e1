"""The session's PostgreSQL server (the sources' fixture) with a lead table in it; S3 and
SFTP servers come from tests/integration/conftest.py."""

from __future__ import annotations

import pytest
from tests.integration.sources.conftest import postgres  # noqa: F401 - the shared fixture

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
