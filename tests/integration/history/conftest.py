"""The history tests again, on Postgres: `history_backend` is a fresh database per test
on the session's server (FERRY_HISTORY_CONN names its Airflow connection)."""

from __future__ import annotations

import pytest
from tests.history_backends import PostgresHistory
from tests.integration.sources.conftest import postgres  # noqa: F401  (the session's server)


@pytest.fixture
def history_backend(postgres, tmp_path, monkeypatch):  # noqa: F811
    yield PostgresHistory(postgres, tmp_path / "home", monkeypatch)
    # the records went to Postgres: nothing fell back to a worker's SQLite file
    assert not (tmp_path / "home" / "history.sqlite").exists()
