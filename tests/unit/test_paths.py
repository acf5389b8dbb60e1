"""Where Ferry reads and writes: the repository's folders by default, each movable by env."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferry import paths

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = ("FERRY_INCLUDE", "FERRY_HOME", "FERRY_WAREHOUSE", "FERRY_STAGING")


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_settings_everything_is_in_the_repository(no_settings):
    assert paths.PROJECT_ROOT == ROOT
    assert paths.include_dir() == ROOT / "include"
    assert paths.ferry_home() == ROOT / ".ferry"
    assert paths.warehouse_path() == ROOT / "include" / "warehouse" / "demo.duckdb"
    assert paths.staging_root() == str(ROOT / ".ferry" / "staging")
    assert paths.downloads_dir() == ROOT / ".ferry" / "downloads"


def test_each_location_follows_its_variable(no_settings, monkeypatch, tmp_path):
    monkeypatch.setenv("FERRY_INCLUDE", str(tmp_path / "defs"))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    assert paths.include_dir() == tmp_path / "defs"
    assert paths.warehouse_path() == tmp_path / "defs" / "warehouse" / "demo.duckdb"
    assert paths.ferry_home() == tmp_path / "home"
    assert paths.staging_root() == str(tmp_path / "home" / "staging")
    assert paths.downloads_dir() == tmp_path / "home" / "downloads"

    monkeypatch.setenv("FERRY_WAREHOUSE", str(tmp_path / "own.duckdb"))
    monkeypatch.setenv("FERRY_STAGING", "s3://bucket/ferry")
    assert paths.warehouse_path() == tmp_path / "own.duckdb"
    assert paths.staging_root() == "s3://bucket/ferry"


def test_a_home_relative_setting_is_expanded(no_settings, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", "~/ferry-data")
    assert paths.ferry_home() == Path.home() / "ferry-data"


def test_an_empty_setting_counts_as_unset(no_settings, monkeypatch):
    monkeypatch.setenv("FERRY_WAREHOUSE", "")
    monkeypatch.setenv("FERRY_STAGING", "")
    assert paths.warehouse_path() == ROOT / "include" / "warehouse" / "demo.duckdb"
    assert paths.staging_root() == str(ROOT / ".ferry" / "staging")
