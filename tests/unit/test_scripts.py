"""scripts/test on a fresh machine: installs packages.txt when it can, else says how; and
scripts/start, which builds the demo warehouse only while the demo is there.

Each runs on a copy of scripts/: scripts/test with stand-ins for dpkg, id, sudo and apt-get
on PATH and no Python 3.11 (PYTHON points nowhere), scripts/start with a setup that does
nothing and a .venv python that only logs its arguments; nothing is installed for real.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = "openssh-server gcc libssl-dev postgresql chromium redis-server"


@pytest.fixture
def fresh_machine(tmp_path):
    """A copy of the scripts where no Debian package is installed; returns (repo, env)."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    shutil.copy(ROOT / "packages.txt", repo / "packages.txt")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    env = {**os.environ, "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}",
           "PYTHON": str(tmp_path / "no-python"), "APT_LOG": str(tmp_path / "apt.log")}  # fmt: skip
    env.pop("FERRY_TEST_SKIP_PACKAGES", None)
    stub(stubs, "dpkg", "exit 1")
    stub(stubs, "apt-get", 'echo "$*" >> "$APT_LOG"')
    return repo, stubs, env


def stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def run_tests(repo: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(repo / "scripts" / "test"), "--collect-only"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_without_root_or_sudo_it_stops_at_once_saying_the_command(fresh_machine):
    repo, stubs, env = fresh_machine
    stub(stubs, "id", "echo 1000")
    stub(stubs, "sudo", "exit 1")
    done = run_tests(repo, env)
    assert done.returncode == 1
    assert f"sudo apt-get install -y {PACKAGES}" in done.stderr
    assert not Path(env["APT_LOG"]).exists()
    assert not (repo / ".venv").exists()  # stopped before installing anything


def test_as_root_it_installs_the_missing_packages(fresh_machine):
    repo, stubs, env = fresh_machine
    stub(stubs, "id", "echo 0")
    done = run_tests(repo, env)
    assert done.returncode == 1  # then stops: PYTHON points nowhere
    assert "needs Python 3.11" in done.stderr
    log = Path(env["APT_LOG"]).read_text().splitlines()
    assert log == ["update -qq", f"install -y -qq {PACKAGES}"]


@pytest.fixture
def start_repo(tmp_path):
    """A copy of scripts/start whose setup does nothing and whose .venv python logs its args."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "scripts", repo / "scripts")
    stub(repo / "scripts", "setup", "exit 0")
    (repo / ".venv" / "bin").mkdir(parents=True)
    stub(repo / ".venv" / "bin", "python", f'echo "$*" >> "{tmp_path / "python.log"}"')
    (repo / "plugins" / "ferry").mkdir(parents=True)
    return repo, tmp_path / "python.log"


def test_start_builds_the_demo_warehouse_before_airflow_when_the_demo_is_there(start_repo):
    repo, log = start_repo
    (repo / "plugins" / "ferry_demo").mkdir()
    done = subprocess.run([str(repo / "scripts" / "start"), "--port", "9"], timeout=60)
    assert done.returncode == 0
    assert log.read_text().splitlines() == [
        "-m ferry_demo --if-missing",
        "-m ferry.devserver --trigger ferry_refresh --port 9",
    ]


def test_start_without_the_demo_only_starts_airflow(start_repo):
    """A team on its own warehouse deleted plugins/ferry_demo/: nothing is built."""
    repo, log = start_repo
    done = subprocess.run([str(repo / "scripts" / "start")], timeout=60)
    assert done.returncode == 0
    assert log.read_text().splitlines() == ["-m ferry.devserver"]


def test_start_with_the_demo_asks_for_one_demo_refresh(start_repo):
    """The demo's exports scheduled after refreshes run on first start (FERRY_START_REFRESH=0
    turns it off in ferry.kickoff, which the devserver asks)."""
    repo, log = start_repo
    (repo / "plugins" / "ferry_demo").mkdir()
    done = subprocess.run([str(repo / "scripts" / "start")], timeout=60)
    assert done.returncode == 0
    assert log.read_text().splitlines()[-1] == "-m ferry.devserver --trigger ferry_refresh"


def test_start_celery_runs_the_celery_deployment_with_the_demo(start_repo):
    repo, log = start_repo
    (repo / "plugins" / "ferry_demo").mkdir()
    done = subprocess.run([str(repo / "scripts" / "start"), "--celery", "--port", "9"], timeout=60)
    assert done.returncode == 0
    assert log.read_text().splitlines() == [
        "-m ferry_demo --if-missing",
        "-m ferry.cluster --trigger ferry_refresh --port 9",
    ]
