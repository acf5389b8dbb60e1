"""Test settings: a private AIRFLOW_HOME and FERRY_HOME per session, set before Airflow loads.

pytest_configure runs before any test module imports airflow, so Airflow reads these
settings rather than a developer's own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[1]
SESSION_DIR = Path(tempfile.mkdtemp(prefix="ferry-tests-"))
SESSION_PID = os.getpid()  # a forked child that unwinds through pytest must not remove it


def pytest_configure(config: pytest.Config) -> None:
    # the session's own include/: the live Airflow renders it, so a test can add an export
    include = copy_include(SESSION_DIR)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(SESSION_DIR / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # as the live Airflow: dag.test() here may be first to write a DAG's row
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "FERRY_HOME": str(SESSION_DIR / "ferry"),
            "FERRY_INCLUDE": str(include),
            "FERRY_WAREHOUSE": str(SESSION_DIR / "warehouse.duckdb"),
            "GX_ANALYTICS_ENABLED": "False",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT / "plugins"), os.environ.get("PYTHONPATH")])
            ),
        }
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get("FERRY_KEEP_TEST_HOME"):  # for a post-mortem of Airflow's logs
        print(f"\nferry: the session's files stay in {SESSION_DIR}")
        return
    if os.getpid() == SESSION_PID:
        shutil.rmtree(SESSION_DIR, ignore_errors=True)


@pytest.fixture
def history_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The history database of a test: SQLite in its own FERRY_HOME (tests/integration/history
    overrides it with Postgres, re-running the same tests)."""
    from tests.history_backends import SqliteHistory

    return SqliteHistory(tmp_path / "home", monkeypatch)


@pytest.fixture(scope="session")
def warehouse() -> Path:
    """The small demo warehouse, built once per session."""
    from ferry_demo.build import build_warehouse

    path = Path(os.environ["FERRY_WAREHOUSE"])
    if not path.exists():
        build_warehouse(path, size="small")
    return path


@pytest.fixture
def own_warehouse(warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the demo warehouse as FERRY_WAREHOUSE, for a test that writes it (an
    import): other tests read the session's warehouse and expect it byte for byte as built."""
    copy = tmp_path / "own_warehouse" / "warehouse.duckdb"
    copy.parent.mkdir()
    shutil.copyfile(warehouse, copy)
    monkeypatch.setenv("FERRY_WAREHOUSE", str(copy))
    monkeypatch.delenv("AIRFLOW_CONN_FERRY_WAREHOUSE", raising=False)
    return copy


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated SQLite metadata database, which dag.test() needs."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, timeout=300)
