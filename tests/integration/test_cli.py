"""The everyday commands against the session's live Airflow, as a user runs them.

Each test runs `ferry ...` in-process with FERRY_AIRFLOW_URL/USER/PASSWORD pointing at the
live standalone Airflow, and checks what the command prints, what Airflow then shows
through its REST API and what the definition files say. Commands that edit definitions
work on a copy of include/ (FERRY_INCLUDE); the live Airflow renders the repository's.
Runs that would export a whole table wait on a refresh marker (wait_for_refresh defers)
and are stopped, to keep the shared machine quiet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cli_runner import COMMENT, Result, commented_include, run_ferry
from ferry import history, refresh
from ferry.cli.table import short_time
from ferry.run_info import RunInfo
from include_copy import copy_include

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = "customer_profiles_csv"  # scheduled on refresh: no run of its own meanwhile


@pytest.fixture
def ferry(live_airflow, monkeypatch):
    """ferry(*args) -> Result: the command line, pointed at the live Airflow by environment."""
    monkeypatch.setenv("FERRY_AIRFLOW_URL", live_airflow.url)
    monkeypatch.setenv("FERRY_AIRFLOW_USER", live_airflow.username)
    monkeypatch.setenv("FERRY_AIRFLOW_PASSWORD", live_airflow.password)

    return run_ferry


@pytest.fixture
def definitions(tmp_path, monkeypatch) -> Path:
    """A copy of include/ the commands read and edit; exports get a comment to keep."""
    include = commented_include(tmp_path)
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    return include


@pytest.fixture
def client(live_airflow):
    for export_id in (CUSTOMERS, "daily_lead_backup", "mailchimp_high_value"):
        live_airflow.client.wait_for_dag(f"export__{export_id}")
    return live_airflow.client


@pytest.fixture
def restore_paused(client):
    """Put every export DAG's paused state back as it was when the test started."""
    dags = client.request("GET", "/dags", params={"dag_id_prefix_pattern": "export__"})["dags"]
    before = {dag["dag_id"]: dag["is_paused"] for dag in dags}
    yield
    for dag_id, paused in before.items():
        client.set_paused(dag_id, paused)


@contextlib.contextmanager
def refresh_running(name: str):
    """Hold the refresh marker of a table: exports of it wait at wait_for_refresh."""
    with refresh.refreshing([name], holder="test_cli"):
        yield


def export_file(include: Path, export_id: str) -> Path:
    return include / "exports" / f"{export_id}.yaml"


def change(include: Path, export_id: str, **fields) -> None:
    path = export_file(include, export_id)
    data = {**yaml.safe_load(path.read_text()), **fields}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def table(text: str) -> list[dict[str, str]]:
    """Rows of a printed table, by column title (columns are two or more spaces apart)."""
    lines = text.strip().splitlines()
    titles = re.split(r"\s{2,}", lines[0])
    return [dict(zip(titles, re.split(r"\s{2,}", line), strict=True)) for line in lines[1:]]


def airflow_run_id(output: str) -> str:
    return re.search(r"Airflow run (\S+):", output).group(1)


def wait_for_state(client, dag_id: str, run_id: str, state: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while client.dag_run(dag_id, run_id)["state"] != state:
        assert time.monotonic() < deadline, f"{run_id} never became {state}"
        time.sleep(1)


def quiet_scheduled(client) -> None:
    """Wait out the runs the scheduler starts itself for the exports on a cron or preset."""
    for export_id in ("daily_lead_backup", "mailchimp_high_value"):
        quiet(client, f"export__{export_id}")


def run_count(client, dag_id: str) -> int:
    return client.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1})["total_entries"]


def quiet(client, dag_id: str, timeout: float = 300) -> None:
    """Wait until a DAG has no queued or running run (the scheduler may start one)."""
    deadline = time.monotonic() + timeout
    params = {"state": ["queued", "running"], "limit": 1}
    while client.request("GET", f"/dags/{dag_id}/dagRuns", params=params)["total_entries"]:
        assert time.monotonic() < deadline, f"{dag_id} kept running"
        time.sleep(2)


def test_run_prints_the_run_id_and_waits_for_its_record(ferry, client):
    result = ferry("run", CUSTOMERS, "--from", "2026-01-05", "--to", "2026-01-06",
                   "--ids", "1,2,3", "--wait")  # fmt: skip

    assert result.code == 0, result.err
    first, *_, last = result.out.strip().splitlines()
    run_id = airflow_run_id(result.out)
    assert first == RunInfo(CUSTOMERS, run_id).job_run_id
    run = client.dag_run(f"export__{CUSTOMERS}", run_id)
    assert run["state"] == "success"
    assert run["conf"] == {"ids": ["1", "2", "3"], "date_from": "2026-01-05",
                           "date_to": "2026-01-06"}  # fmt: skip
    assert last.startswith(f"Run {first} success: 3 rows in 1 files")
    [row] = [r for r in table(ferry("history", CUSTOMERS).out) if r["RUN"] == first]
    assert (row["OUTCOME"], row["ROWS"], row["FILES"], row["DESTINATIONS"]) == (
        "success", "3", "1", "download",
    )  # fmt: skip


def test_run_refuses_a_detached_export(ferry, definitions):
    change(definitions, "mailchimp_high_value", tags=["detached"])

    result = ferry("run", "mailchimp_high_value")

    assert result.code == 1
    assert "export 'mailchimp_high_value' is detached: ferry detach mailchimp_high_value " \
           "--undo re-attaches it" in result.err  # fmt: skip


def test_run_starts_several_exports_in_one_call(ferry, client):
    exports = [CUSTOMERS, "daily_lead_backup"]

    with refresh_running("customer_profile"):  # holds the first run at wait_for_refresh
        result = ferry("run", *exports)
        run_ids = re.findall(r"Airflow run (\S+):", result.out)
        for export_id, run_id in zip(exports, run_ids, strict=True):
            client.request("PATCH", f"/dags/export__{export_id}/dagRuns/{run_id}",
                           json={"state": "failed"})  # fmt: skip

    assert result.code == 0, result.err
    started = [line.split(".", 1)[0] for line in result.out.splitlines() if line[:1] != " "]
    assert started == exports
    for export_id, run_id in zip(exports, run_ids, strict=True):
        run = client.dag_run(f"export__{export_id}", run_id)
        assert run["note"].startswith("ferry run by ")


def test_run_all_starts_only_exports_whose_schedule_is_active(ferry, definitions, client):
    others = sorted(p.stem for p in (definitions / "exports").glob("*.yaml") if p.stem != CUSTOMERS)
    states = [
        ("expired", {"expires": "2026-01-31"}),
        ("detached", {"tags": ["detached"]}),
        ("schedule off", {"schedule": "off"}),
        ("disabled (enabled: false)", {"enabled": False}),
    ]
    expected = {}
    for number, export_id in enumerate(others):
        reason, fields = states[number % len(states)]
        change(definitions, export_id, **fields)
        expected[export_id] = reason
    before = {e: run_count(client, f"export__{e}") for e in others}

    with refresh_running("customer_profile"):
        result = ferry("run-all")
        run_id = airflow_run_id(result.out)
        client.request("PATCH", f"/dags/export__{CUSTOMERS}/dagRuns/{run_id}",
                       json={"state": "failed"})  # fmt: skip

    assert result.code == 0, result.err
    for export_id, reason in expected.items():
        assert f"skip {export_id}: {reason}" in result.out
    assert f"1 of {len(others) + 1} exports started" in result.out
    assert client.dag_run(f"export__{CUSTOMERS}", run_id)["conf"] == {}
    assert {e: run_count(client, f"export__{e}") for e in others} == before


def test_stop_marks_the_run_failed_and_records_it(ferry, client):
    with refresh_running("customer_profile"):
        job_run_id = ferry("run", CUSTOMERS).out.splitlines()[0]
        run_id = job_run_id.split(".", 1)[1]
        dag_run_id = next(
            r["dag_run_id"] for r in client.request(
                "GET", f"/dags/export__{CUSTOMERS}/dagRuns", params={"order_by": "-run_after"}
            )["dag_runs"] if RunInfo(CUSTOMERS, r["dag_run_id"]).safe_run_id == run_id
        )  # fmt: skip
        wait_for_state(client, f"export__{CUSTOMERS}", dag_run_id, "running")

        stopped = ferry("stop", job_run_id)

    assert stopped.code == 0, stopped.err
    assert stopped.out.strip() == f"Stopped {job_run_id}: marked failed in Airflow"
    assert client.dag_run(f"export__{CUSTOMERS}", dag_run_id)["state"] == "failed"
    [row] = table(ferry("history", CUSTOMERS, "--outcome", "stopped", "--limit", "1").out)
    assert row["RUN"] == job_run_id and row["REASON"].startswith("stopped by ")
    again = ferry("stop", job_run_id)
    assert again.code == 1 and "is not running: it ended failed" in again.err


def test_list_shows_schedule_next_and_last_run_status_and_rows(ferry, definitions, client):
    change(definitions, "mailchimp_high_value", enabled=False)
    quiet_scheduled(client)
    now = dt.datetime.now(dt.UTC)
    record_run("daily_lead_backup", rows=42, finished_at=now)

    result = ferry("list")

    assert result.code == 0, result.err
    rows = {row["ID"]: row for row in table(result.out)}
    next_run = client.dag("export__daily_lead_backup")["next_dagrun_run_after"]
    assert rows["daily_lead_backup"] == {
        "ID": "daily_lead_backup", "NAME": "Daily lead backup", "KIND": "data_out",
        "CONNECTIONS": "download", "TARGET": "-", "SCHEDULE": "0 2 * * *",
        "NEXT RUN": short_time(next_run), "LAST RUN": short_time(now), "OUTCOME": "success",
        "STATUS": "active", "ROWS": "42",
    }  # fmt: skip
    assert rows["daily_lead_backup"]["NEXT RUN"].endswith(" 02:00 UTC")
    disabled = rows["mailchimp_high_value"]
    assert (disabled["STATUS"], disabled["NEXT RUN"], disabled["TARGET"]) == (
        "disabled", "-", "mailchimp",
    )  # fmt: skip
    assert rows[CUSTOMERS]["NEXT RUN"] == "after refresh"


def test_list_sorts_and_filters(ferry, definitions, client):
    change(definitions, "mailchimp_high_value", enabled=False)
    quiet_scheduled(client)  # a running run shows as running, whatever the definition says

    only = table(ferry("list", "--filter", "status=disabled").out)
    by_name = table(ferry("list", "--sort", "name", "--reverse").out)
    narrowed = table(ferry("list", "--filter", "kind=segment", "--filter", "mailchimp").out)

    assert [row["ID"] for row in only] == ["mailchimp_high_value"]
    names = [row["NAME"] for row in by_name]
    assert names == sorted(names, reverse=True) and len(names) > 2
    assert [row["ID"] for row in narrowed] == ["mailchimp_high_value"]
    assert "no column 'colour'" in ferry("list", "--filter", "colour=red").err


def test_schedule_changes_several_exports_keeping_comments(
    ferry, definitions, client, restore_paused
):
    exports = ["daily_lead_backup", "mailchimp_high_value"]
    originals = {e: export_file(definitions, e).read_text() for e in exports}

    changed = ferry("schedule", *exports, "--set", "30 6 * * 1-5", "--timezone", "Europe/Berlin")
    off = ferry("schedule", *exports, "--off")
    paused = [client.dag(f"export__{e}")["is_paused"] for e in exports]
    on = ferry("schedule", *exports, "--on")

    assert changed.code == off.code == on.code == 0, changed.err + off.err + on.err
    assert "daily_lead_backup: schedule 30 6 * * 1-5 (Europe/Berlin), active" in changed.out
    assert paused == [True, True]
    assert "export__mailchimp_high_value: paused in Airflow" in off.out
    assert [client.dag(f"export__{e}")["is_paused"] for e in exports] == [False, False]
    for export_id, original in originals.items():
        text = export_file(definitions, export_id).read_text()
        assert text.startswith(COMMENT), "the comment stays"
        assert 'schedule: "30 6 * * 1-5"\ntimezone: Europe/Berlin\nenabled: true\n' in text
        kept = [line for line in original.splitlines() if not line.startswith("schedule:")]
        assert [line for line in text.splitlines() if line in kept] == kept


def test_detach_pauses_and_undo_restores(ferry, definitions, client, restore_paused):
    path = export_file(definitions, "mailchimp_high_value")
    original = path.read_text()

    quiet_scheduled(client)
    detached = ferry("detach", "mailchimp_high_value")
    detached_text = path.read_text()
    paused = client.dag("export__mailchimp_high_value")["is_paused"]
    listed = table(ferry("list", "--filter", "id=mailchimp").out)
    undone = ferry("detach", "mailchimp_high_value", "--undo")

    assert detached.code == 0 and undone.code == 0, detached.err + undone.err
    assert detached_text == original + "tags: [detached]\n"
    assert paused is True and listed[0]["STATUS"] == "detached"
    assert path.read_text() == original
    assert client.dag("export__mailchimp_high_value")["is_paused"] is False


def test_duplicate_writes_an_inactive_copy_keeping_comments(ferry, definitions):
    result = ferry("duplicate", "daily_lead_backup", "lead_backup_copy")

    copy = export_file(definitions, "lead_backup_copy")
    assert result.code == 0, result.err
    assert copy.read_text() == (
        export_file(definitions, "daily_lead_backup").read_text()
        .replace("id: daily_lead_backup", "id: lead_backup_copy")
        .replace("name: Daily lead backup", "name: Copy of Daily lead backup")
        .replace('schedule: "0 2 * * *"\n', 'schedule: "0 2 * * *"\nenabled: false\n')
    )  # fmt: skip
    assert ferry("validate").code == 0
    [row] = table(ferry("list", "--filter", "id=lead_backup_copy").out)
    assert row["STATUS"] == "disabled"
    again = ferry("duplicate", "daily_lead_backup", "lead_backup_copy")
    assert again.code == 1 and "already exists" in again.err


def record_run(export_id: str, *, rows: int, finished_at: dt.datetime) -> None:
    run = RunInfo(export_id, f"manual__{finished_at.isoformat()}", triggered_by="test")
    record = history.RunRecord.ended(
        run, "success", "", started_at=finished_at - dt.timedelta(seconds=5),
        finished_at=finished_at,
    )  # fmt: skip
    history.record_run(dataclasses.replace(record, rows=rows, files=1))


# --- `ferry run --local` and `ferry preview`: no Airflow running, the CLI as a user runs it


LOCAL_EXPORTS = {
    "local_expects_few": {"expectations": [{"expect": "row_count_between", "max": 10}]},
    "local_hashes_without_key": {"fields": ["lead_id", "email"], "pii": {"email": "hash"}},
    "local_rejected_by_webhook": {
        "destinations": [{"type": "webhook", "connection": "local_hook", "batch_size": 100000}]
    },
    "local_ineligible": {
        "kind": "segment",
        "source": {"segment": "enterprise_accounts"},
        "target": "mailchimp",
        "fields": "all",
    },
}


@pytest.fixture
def local_ferry(tmp_path, monkeypatch, warehouse):
    """ferry(*args) -> Result: `python -m ferry` in a process of its own, on a copy of
    include/ with the exports above, with no ferry_pii key and a webhook that rejects all."""
    from servers import WebhookServer, running

    include = copy_include(tmp_path)
    for export_id, body in LOCAL_EXPORTS.items():
        definition = {
            "id": export_id, "name": export_id, "source": {"table": "lead"},
            "fields": ["lead_id", "state"], "schedule": "off",
            "destinations": [{"type": "download"}], **body,
        }  # fmt: skip
        export_file(include, export_id).write_text(yaml.safe_dump(definition))
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "home"))  # a history of its own
    monkeypatch.delenv("AIRFLOW_CONN_FERRY_PII", raising=False)
    rejecting = WebhookServer(secret=b"unused", script=_reject_every_record)
    with running(rejecting):
        monkeypatch.setenv(*rejecting.connection("local_hook"))

        def run(*args: str) -> Result:
            done = subprocess.run(
                [sys.executable, "-m", "ferry", *args], capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            return Result(done.returncode, done.stdout, done.stderr)

        yield run


def _reject_every_record(request, number):
    errors = [
        {"index": index, "reason": "unknown lead"}
        for index in range(len(request.json()["records"]))
    ]
    return 200, {}, json.dumps({"errors": errors}).encode()


@pytest.mark.parametrize(
    ("export_id", "reason"),
    [
        ("local_ineligible", "check_eligibility failed: The following segment is not eligible"),
        ("local_expects_few", "validate failed: expectations failed: row_count_between"),
        ("local_hashes_without_key", "extract failed: columns email are hashed or tokenized "
         "but no PII key is set"),
        ("local_rejected_by_webhook", "deliver_webhook failed: webhook destination 'webhook'"),
    ],
)  # fmt: skip
def test_a_failed_local_run_is_recorded_and_said_in_one_line(local_ferry, export_id, reason):
    result = local_ferry("run", export_id, "--local", "--date", "2026-11-20")

    assert result.code == 1
    assert "Traceback" not in result.err, result.err
    [record] = history.list_runs(export_id)
    assert record.outcome == "failed" and record.reason.startswith(reason), record.reason
    assert result.err.strip().splitlines()[-1] == f"error: {record.reason}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ids", "abc,2"], "error: run param ids: item 1 ('abc') is not a value of the key "
         "lead_id (BIGINT); expected whole numbers, e.g. [101, 102]"),
        (["--ids", "1,[2]"], "error: run param ids: item 2 ('[2]') is not a value of the key"),
        (["--from", "2026-02-30"], "error: argument --from: '2026-02-30' is not a date; expected "
         "YYYY-MM-DD"),
        (["--from", "2026-03-02", "--to", "2026-03-01"], "error: run params: date_from "
         "2026-03-02 is after date_to 2026-03-01"),
        (["--date", "9999-12-31"], "error: argument --date: 9999-12-31 is out of range: from "
         "0001-01-02 to 9998-12-31"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", [["run", "local_expects_few", "--local"],
                                     ["preview", "local_expects_few"]])  # fmt: skip
def test_a_bad_run_option_is_one_clear_line_and_runs_nothing(local_ferry, command, args, message):
    result = local_ferry(*command, *args)

    assert result.code == 2
    assert message in result.err.strip().splitlines()[-1], result.err
    assert "Traceback" not in result.err
    assert history.list_runs("local_expects_few") == []
