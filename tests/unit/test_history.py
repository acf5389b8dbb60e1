"""The run-history table: records of every outcome, older files upgraded, `ferry history`."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json

import pytest

from ferry import history
from ferry.cli import main
from ferry.run_info import RunInfo

T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def own_history(history_backend):
    return history_backend


def record(export_id: str, outcome: str, minute: int, **fields) -> history.RunRecord:
    run = RunInfo(export_id, f"scheduled__2026-11-20T02:{minute:02d}:00+00:00", triggered_by="cron")
    finished = T0 + dt.timedelta(minutes=minute, seconds=30)
    made = history.RunRecord.ended(
        run, outcome, fields.pop("reason", ""), started_at=T0 + dt.timedelta(minutes=minute),
        finished_at=finished, **fields,
    )  # fmt: skip
    history.record_run(made)
    return made


def ferry(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(args)) == 0
    return out.getvalue()


def test_a_rerun_replaces_its_record():
    record("leads", "failed", 1, reason="extract failed: disk full")
    record("leads", "stopped", 1, reason="stopped by ana")

    [only] = history.list_runs("leads")
    assert (only.outcome, only.reason) == ("stopped", "stopped by ana")


def test_latest_run_of_each_export():
    record("leads", "failed", 1)
    record("leads", "stopped", 5)
    record("accounts", "failed", 3)

    latest = history.latest_runs()

    assert {k: (v.outcome, v.finished_at[11:16]) for k, v in latest.items()} == {
        "leads": ("stopped", "02:05"), "accounts": ("failed", "02:03"),
    }  # fmt: skip


def test_summary_names_the_run_the_outcome_and_the_reason():
    made = record("leads", "failed", 1, reason="extract failed: disk full",
                  group_run_id="nightly.scheduled__2026-11-20T02_01_00_00_00")  # fmt: skip

    assert made.summary() == (
        "Run leads.scheduled__2026-11-20T02~3A01~3A00~2B00~3A00 failed: 0 rows in 0 files, "
        "0 bytes, to no destination in 30.0 s in group run "
        "nightly.scheduled__2026-11-20T02_01_00_00_00 (extract failed: disk full)"
    )


# the runs table of the first release, before group runs, log links and imports
FIRST_RUNS = """
CREATE TABLE runs (
    job_run_id TEXT PRIMARY KEY, export_id TEXT NOT NULL, run_id TEXT NOT NULL,
    triggered_by TEXT, started_at TEXT, finished_at TEXT, duration_s REAL,
    outcome TEXT NOT NULL, reason TEXT, rows INTEGER, files INTEGER, bytes INTEGER,
    destinations TEXT, staged_files TEXT
)
"""


def test_an_older_history_file_gains_the_new_columns(own_history):
    own_history.query(FIRST_RUNS)
    own_history.query(
        "INSERT INTO runs (job_run_id, export_id, run_id, finished_at, outcome) "
        "VALUES ('leads.r1', 'leads', 'r1', '2026-11-19T00:00:00+00:00', 'success')"
    )

    record("leads", "failed", 1, log_url="http://airflow/dags/export__leads/runs/x")

    runs = history.list_runs("leads")
    assert [(r.job_run_id, r.outcome) for r in runs] == [
        ("leads.scheduled__2026-11-20T02~3A01~3A00~2B00~3A00", "failed"), ("leads.r1", "success"),
    ]  # fmt: skip
    assert runs[0].log_url.endswith("/runs/x") and runs[1].group_run_id == ""
    assert (runs[1].kind, runs[1].inserted, runs[1].rejected) == ("export", 0, 0)


def test_an_import_run_keeps_what_its_load_changed_and_its_files():
    run = RunInfo("partner_leads", "scheduled__2026-11-20", triggered_by="cron")
    files = [{"name": "leads.csv", "location": "/drop/leads.csv", "size": 10, "modified": 0.0,
              "sha256": "ab" * 32}]  # fmt: skip
    result = {"rows_read": 5, "inserted": 3, "updated": 1, "deleted": 0, "rejected": 1,
              "skipped_files": [], "rejects_file": "/runs/rejects.csv"}  # fmt: skip
    loaded = {"table": "lead", "mode": "merge", "files": files, "result": result}
    made = history.RunRecord.imported(run, loaded, started_at=T0, finished_at=T0)
    history.record_run(made)
    [back] = history.list_runs("partner_leads")
    assert back == made and back.kind == "import"
    assert (back.rows, back.files, back.bytes, back.inserted, back.rejected) == (5, 1, 10, 3, 1)
    assert json.loads(back.staged_files)[0]["sha256"] == "ab" * 32
    assert json.loads(back.destinations)[0]["rejects_file"] == "/runs/rejects.csv"
    assert ferry("history", "partner_leads").count("table lead: 3 inserted, 1 updated") == 1


def test_ferry_history_lists_newest_first_and_filters_by_outcome():
    record("leads", "failed", 1, reason="check_limits failed: over 5,000,000 rows")
    record("leads", "stopped", 2, reason="stopped by ana with ferry stop")
    record("accounts", "failed", 3)

    everything = ferry("history").splitlines()
    failed = ferry("history", "leads", "--outcome", "failed").splitlines()

    assert everything[0].split()[:3] == ["RUN", "TRIGGERED", "BY"]
    assert [line.split()[0] for line in everything[1:]] == [
        "accounts.scheduled__2026-11-20T02~3A03~3A00~2B00~3A00",
        "leads.scheduled__2026-11-20T02~3A02~3A00~2B00~3A00",
        "leads.scheduled__2026-11-20T02~3A01~3A00~2B00~3A00",
    ]
    assert len(failed) == 2 and failed[1].endswith("check_limits failed: over 5,000,000 rows")
    assert failed[1].split()[1:8] == ["cron", "2026-11-20", "02:01", "UTC", "30.0", "s", "failed"]


def test_ferry_history_of_a_group_and_as_json():
    record("leads", "success", 1, group_run_id="nightly.r1")
    record("accounts", "failed", 2, group_run_id="nightly.r1")
    record("leads", "success", 3)

    lines = ferry("history", "nightly", "--json").splitlines()

    assert [json.loads(line)["export_id"] for line in lines] == ["accounts", "leads"]
    assert "no runs recorded for nobody" in ferry("history", "nobody")


def test_a_groups_history_is_not_matched_by_a_pattern():
    record("leads", "success", 1, group_run_id="night_sync.r1")
    record("leads", "failed", 2, group_run_id="nightXsync.r1")  # '_' is a LIKE wildcard

    assert [r.group_run_id for r in history.list_runs(group_id="night_sync")] == ["night_sync.r1"]


def test_run_ids_the_old_sanitiser_folded_together_keep_separate_records():
    first_id = "manual__2026-11-20T00:00:00+00:00"
    for run_id, outcome in ((first_id, "success"), (first_id + "~", "failed")):
        run = RunInfo("leads", run_id, triggered_by="ana")
        history.record_run(history.RunRecord.ended(run, outcome, "", started_at=T0, finished_at=T0))

    records = {r.run_id: (r.job_run_id, r.outcome) for r in history.list_runs("leads")}
    assert records == {
        first_id: ("leads.manual__2026-11-20T00~3A00~3A00~2B00~3A00", "success"),
        first_id + "~": ("leads.manual__2026-11-20T00~3A00~3A00~2B00~3A00~7E", "failed"),
    }


@pytest.mark.parametrize(
    ("started_at", "run_after", "expected_start", "duration"),
    [
        # dag.test of a past day: the run "started" at its logical date, 12 days earlier
        (T0 - dt.timedelta(days=12), T0, T0, 90.0),
        (T0 + dt.timedelta(seconds=30), T0, T0 + dt.timedelta(seconds=30), 60.0),
        (T0 + dt.timedelta(hours=1), None, T0 + dt.timedelta(seconds=90), 0.0),  # after its end
        (T0.replace(tzinfo=None), T0 - dt.timedelta(days=1), T0, 90.0),  # naive is UTC
    ],
)
def test_a_duration_counts_from_when_the_run_really_started(
    started_at, run_after, expected_start, duration
):
    run = RunInfo("leads", "manual__x", run_after=run_after)
    finished = T0 + dt.timedelta(seconds=90)

    made = history.RunRecord.ended(run, "failed", "", started_at=started_at, finished_at=finished)

    assert (made.started_at, made.duration_s) == (expected_start.isoformat(), duration)
