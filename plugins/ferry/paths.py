"""Where Ferry reads definitions and keeps its data; every location can be moved by env."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else default


def include_dir() -> Path:
    """The folder of export, segment and group definitions, targets and tables."""
    return _env_path("FERRY_INCLUDE", PROJECT_ROOT / "include")


def ferry_home() -> Path:
    """Ferry's working area: staging, downloads and run history."""
    return _env_path("FERRY_HOME", PROJECT_ROOT / ".ferry")


def project_airflow_home() -> Path:
    """The Airflow home of this project: where scripts/start runs Airflow (ferry.devserver)."""
    return ferry_home() / "airflow"


def airflow_home() -> Path:
    """The Airflow home a command reads connections from: AIRFLOW_HOME, else the project's.

    Never Airflow's own default (~/airflow): a command must not read or create
    the home folder of whoever runs it.
    """
    return _env_path("AIRFLOW_HOME", project_airflow_home())


def cli_log() -> Path:
    """Where the command line's log lines go (all of them; --verbose also shows them)."""
    return ferry_home() / "logs" / "cli.log"


def warehouse_path() -> Path:
    """The DuckDB file exports read from."""
    return _env_path("FERRY_WAREHOUSE", include_dir() / "warehouse" / "demo.duckdb")


def staging_root() -> str:
    """Staging for extracted files: a local path or an s3:// URL (checked by ferry.staging)."""
    return os.environ.get("FERRY_STAGING") or str(ferry_home() / "staging")


def downloads_dir() -> Path:
    return ferry_home() / "downloads"
