"""`ferry` as a person runs it: output for people, Airflow at the project's home, logs in a file.

Each command runs in a process of its own with HOME in tmp_path and AIRFLOW_HOME unset,
as on a newcomer's machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ferry import paths

AIRFLOW_CONFIG_LINES = ("Reading the config from", "Configured default timezone")
PII_KEY = '{"conn_type": "generic", "password": "k3y-for-tests"}'


@pytest.fixture
def newcomer(tmp_path, warehouse):
    """ferry(*args) -> CompletedProcess, with HOME=tmp_path/home and no AIRFLOW_HOME."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(HOME=str(home), FERRY_HOME=str(tmp_path / "ferry"), AIRFLOW_CONN_FERRY_PII=PII_KEY)

    def ferry(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "ferry", *args], env=env, cwd=home, capture_output=True,
            text=True, timeout=180,
        )  # fmt: skip

    ferry.home, ferry.ferry_home = home, tmp_path / "ferry"
    return ferry


WHOLE_RANGE = ("--ids", "1,2,3", "--from", "2000-01-01", "--to", "2030-12-31")


def test_a_local_run_keeps_airflow_out_of_the_home_folder_and_prints_a_summary(newcomer):
    done = newcomer("run", "daily_lead_backup", "--local", *WHOLE_RANGE)

    assert done.returncode == 0, done.stderr
    assert not (newcomer.home / "airflow").exists()
    for line in AIRFLOW_CONFIG_LINES:
        assert line not in done.stdout + done.stderr
    assert done.stderr == ""
    first, *rest = done.stdout.strip().splitlines()
    assert first.startswith("Run daily_lead_backup.local__") and first.endswith(": success")
    assert [line.split()[:2] for line in rest[:2]] == [["rows", "3"], ["files", "1"]]
    assert rest[-1].startswith("  delivered  download (download): file://")
    log = (newcomer.ferry_home / "logs" / "cli.log").read_text()
    # Airflow read the project's home, and its lines went to the log file
    assert f"Reading the config from {newcomer.ferry_home / 'airflow' / 'airflow.cfg'}" in log
    assert "Run daily_lead_backup.local__" in log


def test_preview_keeps_airflow_out_of_the_home_folder(newcomer):
    done = newcomer("preview", "daily_lead_backup", "--rows", "1")

    assert done.returncode in (0, 1), done.stderr
    assert not (newcomer.home / "airflow").exists()
    for line in AIRFLOW_CONFIG_LINES:
        assert line not in done.stdout + done.stderr


def test_verbose_shows_the_log_lines_on_stderr(newcomer):
    done = newcomer("--verbose", "run", "daily_lead_backup", "--local", *WHOLE_RANGE)

    assert done.returncode == 0
    assert "INFO ferry: Run daily_lead_backup.local__" in done.stderr
    assert not (newcomer.home / "airflow").exists()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["run", "nope", "--local"], "error: export 'nope' is not defined or has errors"),
        (["preview", "daily_lead_backup", "--ids", "x"], "error: run param ids: item 1 ('x')"),
    ],
)
def test_an_expected_error_is_one_line_and_exit_code_2(newcomer, args, line):
    done = newcomer(*args)

    assert done.returncode == 2
    assert done.stdout == ""
    [said] = done.stderr.splitlines()
    assert said.startswith(line)


def test_the_airflow_home_is_the_projects_unless_set(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_HOME", raising=False)
    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    assert paths.airflow_home() == paths.project_airflow_home() == tmp_path / "airflow"
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path / "own"))
    assert paths.airflow_home() == tmp_path / "own"


def test_errors_a_person_can_act_on_are_expected_and_bugs_are_not():
    from ferry.cli import expected
    from ferry.exceptions import BadRunParams

    assert expected(BadRunParams("run param ids: bad"))
    assert expected(FileNotFoundError("no such file"))
    assert not expected(KeyError("a bug"))


def test_warnings_reach_stderr_without_verbose_and_info_lines_do_not(tmp_path, monkeypatch, capsys):
    import logging

    from ferry.cli import cli_logging

    monkeypatch.setenv("FERRY_HOME", str(tmp_path))
    with cli_logging(verbose=False):
        logging.getLogger("ferry.checks").info("Export x: 10 rows")
        logging.getLogger("ferry.checks").warning("Large export x: 10 rows is over 5")
    err = capsys.readouterr().err
    assert err == "WARNING: Large export x: 10 rows is over 5\n"
    assert "Export x: 10 rows" in paths.cli_log().read_text()
