"""Each test its own FERRY_HOME (the ledger) and warehouse (FERRY_WAREHOUSE)."""

from __future__ import annotations

import pytest
from tests.unit.imports.helpers import make_warehouse


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    path = make_warehouse(tmp_path / "warehouse.duckdb")
    monkeypatch.setenv("FERRY_WAREHOUSE", str(path))
    return path


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    return path
