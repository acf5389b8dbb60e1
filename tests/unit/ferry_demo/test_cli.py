"""`python -m ferry_demo`, which builds the demo warehouse, and the old `ferry warehouse`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ferry.cli import main as ferry_main
from ferry_demo.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_command_line_prints_counts_and_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cli.duckdb"
    argv = ["--path", str(path), "--rows", "300", "--seed", "3", "--tables", "account,contact"]
    assert main(argv) == 0
    output = capsys.readouterr().out
    assert "account" in output and "150 rows" in output
    assert f"built {path} in" in output
    assert main(["--path", str(path), "--tables", "nope"]) == 2
    assert "unknown table" in capsys.readouterr().err


def test_if_missing_keeps_an_existing_warehouse(tmp_path: Path) -> None:
    """scripts/start runs it on every start: a built (or a team's own) file stays as it is."""
    path = tmp_path / "w.duckdb"
    assert main(["--path", str(path), "--rows", "100", "--tables", "account", "--if-missing"]) == 0
    before = path.read_bytes()
    assert main(["--path", str(path), "--rows", "200", "--if-missing"]) == 0
    assert path.read_bytes() == before
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM account").fetchone()[0] == 10


def test_python_dash_m_ferry_demo_builds_at_ferry_warehouse(tmp_path: Path) -> None:
    path = tmp_path / "env.duckdb"
    pythonpath = os.pathsep.join(
        filter(None, [str(ROOT / "plugins"), os.environ.get("PYTHONPATH")])
    )
    env = {**os.environ, "FERRY_WAREHOUSE": str(path), "PYTHONPATH": pythonpath}
    done = subprocess.run(
        [sys.executable, "-m", "ferry_demo", "--rows", "50", "--tables", "lead"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"built {path} in" in done.stdout
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM lead").fetchone()[0] == 50


def test_ferry_warehouse_names_the_command_that_replaced_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ferry_main(["warehouse", "--size", "small", "--path", str(tmp_path / "w.duckdb")]) == 2
    assert "python -m ferry_demo" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
