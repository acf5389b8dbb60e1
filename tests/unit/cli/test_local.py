"""`ferry preview` and `ferry run --local` in this process: expected errors are one line."""

from __future__ import annotations

import csv
import gzip
import hashlib
import hmac
import json
import subprocess
import sys

import duckdb

from ferry import history, paths
from ferry.cli import main as ferry


def test_preview_without_a_warehouse_says_how_to_build_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FERRY_WAREHOUSE", str(tmp_path / "none.duckdb"))

    assert ferry(["preview", "daily_lead_backup"]) == 2
    assert capsys.readouterr().err.endswith(
        f"error: warehouse {tmp_path / 'none.duckdb'} (connection ferry_warehouse) does not "
        "exist: set FERRY_WAREHOUSE or the connection's host to your DuckDB file (or build the "
        "demo's: `python -m ferry_demo`)\n"
    )


PII_KEY = ("AIRFLOW_CONN_FERRY_PII", '{"conn_type": "generic", "password": "k3y-for-tests"}')
# A run in a process of its own: what it prints, and whether it loaded the Airflow operators.
RUN_LOCALLY = """
import json, sys
from ferry.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "operators": "ferry.render.operators" in sys.modules}))
"""


def run_locally(*args: str) -> tuple[dict, dict]:
    """`ferry run ... --local` in its own process: (its summary, {code, operators})."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_LOCALLY, "run", *args, "--local"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    *summary, probe = done.stdout.strip().splitlines()
    return parse_summary(summary), json.loads(probe)


def parse_summary(lines: list[str]) -> dict:
    """The summary's run id, outcome and rows, as a person reads them."""
    first = next(line for line in lines if line.startswith("Run "))
    job_run_id, outcome = first.removeprefix("Run ").rsplit(": ", 1)
    rows = next(line for line in lines if line.split()[:1] == ["rows"]).split()[1]
    return {"job_run_id": job_run_id, "outcome": outcome, "rows": int(rows.replace(",", ""))}


def test_a_local_run_hashes_with_the_key_and_leaves_the_airflow_operators_alone(
    warehouse, tmp_path, monkeypatch
):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(*PII_KEY)

    shown, probe = run_locally(
        "daily_lead_backup", "--ids", "1,2", "--from", "2000-01-01", "--to", "2030-12-31"
    )

    assert probe == {"code": 0, "operators": False}
    assert (shown["outcome"], shown["rows"]) == ("success", 2)
    record = history.get_run(shown["job_run_id"])
    assert [r["destination"] for r in json.loads(record.destinations)] == ["download"]
    [data] = [f["name"] for f in json.loads(record.staged_files) if f["kind"] == "data"]
    delivered = paths.downloads_dir() / "daily_lead_backup" / shown["job_run_id"] / data
    with gzip.open(delivered, "rt", newline="") as file:
        hashed = sorted(row["email"] for row in csv.DictReader(file))
    with duckdb.connect(str(warehouse), read_only=True) as db:
        emails = db.execute("SELECT email FROM lead WHERE lead_id IN (1, 2)").fetchall()
    key = b"k3y-for-tests"
    expected = [
        hmac.new(key, e.strip().lower().encode(), hashlib.sha256).hexdigest() for (e,) in emails
    ]
    assert hashed == sorted(expected)


def test_json_prints_the_runs_record_as_one_line_for_scripts(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(*PII_KEY)
    done = subprocess.run(
        [sys.executable, "-m", "ferry", "run", "daily_lead_backup", "--local", "--json",
         "--ids", "1,2,3", "--from", "2000-01-01", "--to", "2030-12-31"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    shown = json.loads(line)
    assert sorted(shown) == ["bytes", "files", "job_run_id", "outcome", "rows"]
    assert (shown["outcome"], shown["rows"], shown["files"]) == ("success", 3, 1)
    assert history.get_run(shown["job_run_id"]).rows == 3
