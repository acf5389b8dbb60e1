"""The REST commands (ferry run, run-all, stop): no Airflow import, one token, no trigger
sent twice, and a lost trigger answer reported as "may have started", never as a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fake_airflow import DROP, STALL, fake_airflow
from ferry import airflow_api, paths
from ferry.cli import main
from ferry.cli.connection import EXIT_MAY_HAVE_STARTED, EXIT_UNREACHABLE
from ferry.run_info import RunInfo
from ferry.spec.loader import load_project
from ferry.spec.schedule import export_status
from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def exports() -> list[str]:
    """Ids of the demo's exports that may be run."""
    project = load_project(paths.include_dir())
    return sorted(e.id for e in project.exports.values() if export_status(e) == "active")


@pytest.fixture(autouse=True)
def quick_client(monkeypatch):
    monkeypatch.setattr(airflow_api, "RETRY_DELAYS", (0.01,) * 5)
    monkeypatch.setenv("FERRY_AIRFLOW_TIMEOUT", "0.5")
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", "p")


def ferry(fake, *args: str) -> int:
    return main([*args, "--url", fake.url])


RUNNING = "manual__2026-12-01T00:00:00+00:00"
COMMANDS_WITHOUT_AIRFLOW = [
    ["run", "{export}"],
    ["list"],
    ["history"],
    ["history", "{export}"],
    ["schedule", "{export}", "--on"],
    ["stop", "{job_run_id}"],
]


@pytest.mark.parametrize("command", COMMANDS_WITHOUT_AIRFLOW, ids=" ".join)
def test_rest_commands_import_no_airflow_and_write_no_airflow_cfg(command, exports, tmp_path):
    job_run_id = RunInfo(exports[0], RUNNING).job_run_id  # as ferry run and history print it
    argv = [part.format(export=exports[0], job_run_id=job_run_id) for part in command]
    with fake_airflow() as fake:
        fake.runs[f"export__{exports[0]}"] = [
            {"dag_id": f"export__{exports[0]}", "dag_run_id": RUNNING, "state": "running"}
        ]
        env = {**os.environ, "HOME": str(tmp_path), "FERRY_AIRFLOW_URL": fake.url,
               "FERRY_INCLUDE": str(copy_include(tmp_path)),
               "FERRY_HOME": str(tmp_path / "home")}  # fmt: skip
        env.pop("AIRFLOW_HOME")
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "ferry", *argv],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}  # fmt: skip
    said = [line for line in done.stderr.splitlines() if not line.startswith("import time:")]
    assert done.returncode == 0, said
    assert "ferry.cli.remote" in imported or command[0] == "history"
    assert sorted(m for m in imported if m.split(".")[0] == "airflow") == []
    assert not (tmp_path / "airflow").exists()
    if command[0] == "stop":
        assert fake.runs[f"export__{exports[0]}"][0]["state"] == "failed"


def test_run_starts_several_exports_with_one_token(exports, capsys):
    with fake_airflow() as fake:
        assert ferry(fake, "run", *exports) == 0
    out = capsys.readouterr().out
    assert fake.count("POST /auth/token") == 1
    assert sorted(dag_id.removeprefix("export__") for dag_id in fake.runs) == exports
    for export_id in exports:
        assert f"{export_id}.manual__" in out


def test_run_logs_in_again_when_the_token_answer_is_late(exports, capsys):
    with fake_airflow(token_fates=[STALL, DROP]) as fake:
        assert ferry(fake, "run", exports[0]) == 0
    assert fake.count("POST /auth/token") == 3
    assert len(fake.runs[f"export__{exports[0]}"]) == 1


@pytest.mark.parametrize("fate", [STALL, DROP])
def test_a_lost_trigger_answer_says_the_run_may_have_started(fate, exports, capsys, monkeypatch):
    first, second = exports[:2]
    # Airflow has not listed the run yet when the CLI looks for it
    monkeypatch.setattr("ferry.cli.remote._run_with_note", lambda *args: None)
    with fake_airflow(trigger_fates=[fate]) as fake:
        assert ferry(fake, "run", first, second) == EXIT_MAY_HAVE_STARTED
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "MAY HAVE STARTED" in err
    assert f"ferry list --filter id={first}" in err
    assert f"{fake.url}/dags/export__{first}/runs" in err
    assert fake.count(f"POST /api/v2/dags/export__{first}/dagRuns") == 1
    assert len(fake.runs[f"export__{second}"]) == 1  # the others still start


def test_a_lost_trigger_answer_is_found_again_by_its_note(exports, capsys):
    with fake_airflow(trigger_fates=[DROP]) as fake:
        assert ferry(fake, "run", exports[0]) == 0
    [run] = fake.runs[f"export__{exports[0]}"]
    assert f"Airflow run {run['dag_run_id']}" in capsys.readouterr().out


def test_an_unreachable_airflow_is_one_line_without_traceback(exports, capsys):
    with fake_airflow() as fake:
        pass  # nothing listens at fake.url any more
    assert ferry(fake, "run", *exports[:2]) == EXIT_UNREACHABLE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[0].startswith("ferry run: Airflow at ")
    assert f"not started: {exports[0]}, {exports[1]}" in err


def test_an_unknown_export_starts_nothing(exports, capsys):
    with fake_airflow() as fake:
        assert ferry(fake, "run", exports[0], "no_such_export") == 1
    assert "no export 'no_such_export'" in capsys.readouterr().err
    assert fake.runs == {}


def test_run_local_takes_one_export_and_starts_nothing_in_airflow(exports, capsys):
    with fake_airflow() as fake:
        assert ferry(fake, "run", exports[0], exports[1], "--local") == 1
    assert capsys.readouterr().err == "ferry run: --local runs one export at a time\n"
    assert fake.calls == []
