"""The records Airflow's run-state changes leave in the run history (ferry.run_listener).

A real history database per test; the Airflow side is an EndedRun, as the listener plugin
(plugins/ferry_listener.py) builds it from a DagRun.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest

from ferry import history, pipeline, run_listener
from ferry.manifest import Manifest, StagedFile
from ferry.run_info import RunInfo
from ferry.run_listener import EndedRun
from include_copy import copy_include

ROOT = Path(__file__).resolve().parents[2]
EXPORT = "daily_lead_backup"
RUN_ID = "manual__2026-11-20T02:00:00+00:00"
JOB_RUN_ID = RunInfo(EXPORT, RUN_ID).job_run_id
T0 = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
BY_HAND = "Dag Run's state was manually set to `failed`."


@pytest.fixture(autouse=True)
def own_history(tmp_path, monkeypatch):
    monkeypatch.setenv("FERRY_HOME", str(tmp_path / "ferry"))
    monkeypatch.delenv("FERRY_STAGING", raising=False)


def ended(state: str = "failed", msg: str = BY_HAND, **fields) -> EndedRun:
    values = {
        "dag_id": f"export__{EXPORT}", "run_id": RUN_ID, "state": state, "msg": msg,
        "started_at": T0 + dt.timedelta(seconds=5), "finished_at": T0 + dt.timedelta(seconds=65),
        "attempt_began": T0, "triggered_by": "ana", "log_url": "http://airflow/run",
    }  # fmt: skip
    return EndedRun(**{**values, **fields})


def task_record(
    outcome: str, reason: str, finished_at: dt.datetime, export_id: str = EXPORT, group_id: str = ""
):
    """A record as the run's tasks or `ferry stop` write it."""
    made = history.RunRecord.ended(
        RunInfo(export_id, RUN_ID, group_id=group_id), outcome, reason, started_at=T0,
        finished_at=finished_at,
    )  # fmt: skip
    history.record_run(made)
    return made


def test_a_run_marked_failed_by_hand_is_recorded_failed_with_the_dag_runs_times():
    [written] = run_listener.record_ended_run(ended(note="wrong segment, rerun tomorrow"))

    assert history.get_run(JOB_RUN_ID) == written
    assert (written.outcome, written.reason) == (
        "failed",
        "marked failed in Airflow (Dag Run's state was manually set to `failed`); "
        "note: wrong segment, rerun tomorrow",
    )
    assert (written.started_at, written.finished_at, written.duration_s) == (
        "2026-11-20T02:00:05+00:00", "2026-11-20T02:01:05+00:00", 60.0,
    )  # fmt: skip
    assert (written.triggered_by, written.log_url, written.group_run_id) == (
        "ana", "http://airflow/run", "",
    )  # fmt: skip
    assert (written.rows, written.files, written.destinations) == (0, 0, "[]")


def test_a_run_that_says_it_started_before_it_could_counts_from_its_run_after():
    """dag.test() (airflow dags test DAG DATE) gives a run its logical date as start_date."""
    run = ended(started_at=T0 - dt.timedelta(days=12), run_after=T0)

    [written] = run_listener.record_ended_run(run)

    assert (written.started_at, written.duration_s) == ("2026-11-20T02:00:00+00:00", 65.0)


def test_the_record_carries_what_the_run_had_staged():
    staged = pipeline.plan_for(RunInfo(EXPORT, RUN_ID)).staging_dir
    staged.mkdir(parents=True)
    files = [
        StagedFile("leads_1.csv.gz", rows=70, bytes=900, sha256="a" * 64),
        StagedFile("leads_2.csv.gz", rows=30, bytes=400, sha256="b" * 64),
    ]
    Manifest(EXPORT, JOB_RUN_ID, RUN_ID, "csv", "gzip", files, [], [], rows=100, bytes=1300).write(
        staged
    )

    [written] = run_listener.record_ended_run(ended())

    assert (written.rows, written.files, written.bytes) == (100, 2, 1300)
    assert "leads_2.csv.gz" in written.staged_files


def test_an_undefined_export_is_still_recorded_without_figures(caplog):
    run = ended(dag_id="export__gone_since")

    with caplog.at_level(logging.WARNING):
        [written] = run_listener.record_ended_run(run)

    assert (written.export_id, written.outcome, written.rows) == ("gone_since", "failed", 0)
    assert "staged manifest cannot be read" in caplog.text


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        ("stopped", "stopped by ana with ferry stop"),
        ("failed", "extract failed: disk full"),
        ("success", ""),
        ("skipped", "over the limit of 5000000 rows"),
    ],
)
def test_a_record_of_this_attempt_is_never_replaced(outcome, reason):
    before = task_record(outcome, reason, finished_at=T0 + dt.timedelta(seconds=30))

    assert run_listener.record_ended_run(ended()) == []
    assert run_listener.record_ended_run(ended("success")) == []
    assert history.get_run(JOB_RUN_ID) == before


def test_ferry_stop_after_the_listener_leaves_the_run_stopped():
    """ferry stop's PATCH fires the listener first; its own record then replaces that one."""
    run_listener.record_ended_run(ended(note="Stopped with ferry stop"))
    task_record(
        "stopped", "stopped by ana with ferry stop", finished_at=T0 + dt.timedelta(seconds=70)
    )

    run_listener.record_ended_run(ended(note="Stopped with ferry stop"))  # heard again

    assert history.get_run(JOB_RUN_ID).outcome == "stopped"


def test_a_task_recording_the_run_while_the_listener_works_wins(monkeypatch):
    """The look and the write are one transaction: a record written in between stays."""
    racing = {}

    def staged_while_a_task_records(info, log):
        racing["task"] = task_record(
            "failed", "deliver_s3 failed: 403", T0 + dt.timedelta(seconds=60)
        )

    monkeypatch.setattr(run_listener, "_staged_manifest", staged_while_a_task_records)

    assert run_listener.record_ended_run(ended(msg="task_failure")) == []
    assert history.get_run(JOB_RUN_ID) == racing["task"]


def test_a_record_of_an_earlier_attempt_or_without_an_outcome_is_replaced():
    task_record("success", "", finished_at=T0 - dt.timedelta(hours=1))  # before a clear

    [written] = run_listener.record_ended_run(ended())

    assert history.get_run(JOB_RUN_ID) == written and written.outcome == "failed"
    history.record_run(history.RunRecord(**{**written.__dict__, "outcome": "running"}))
    [again] = run_listener.record_ended_run(ended())
    assert again.outcome == "failed"


def test_a_failure_of_the_runs_own_course_says_what_ended_it():
    [written] = run_listener.record_ended_run(ended(msg="timed_out"))

    assert written.reason == "ended failed in Airflow: it ran past the DAG's dagrun_timeout"


def test_a_run_marked_success_by_hand_claims_no_delivery():
    msg = "Dag Run's state was manually set to `success`."
    [written] = run_listener.record_ended_run(ended("success", msg))

    assert written.outcome == "marked_success"
    assert written.reason == (
        "marked success in Airflow (Dag Run's state was manually set to `success`); "
        "finalize did not run, so no delivery is recorded"
    )
    assert written.destinations == "[]"


def test_a_scheduler_success_without_a_record_is_only_logged(caplog):
    with caplog.at_level(logging.WARNING):
        assert run_listener.record_ended_run(ended("success", "success")) == []

    assert history.get_run(JOB_RUN_ID) is None
    assert "without a record from its tasks" in caplog.text


def test_a_group_run_records_each_member_that_started_and_lacks_a_record():
    first = task_record(
        "failed", "extract failed", T0 + dt.timedelta(seconds=20), "customers", "nightly"
    )
    second_start = T0 + dt.timedelta(seconds=21)
    run = ended(dag_id="group__nightly", members_started={"customers": T0, "leads": second_start})

    [written] = run_listener.record_ended_run(run)

    assert written.job_run_id == RunInfo("leads", RUN_ID, group_id="nightly").job_run_id
    assert written.group_run_id == RunInfo("nightly", RUN_ID).job_run_id
    assert written.started_at == second_start.isoformat()
    assert history.get_run(first.job_run_id) == first
    assert [r.export_id for r in history.list_runs()] == ["leads", "customers"]


def test_a_members_record_is_its_own_not_its_exports_run_of_the_same_id():
    """export__leads and group__nightly both ran RUN_ID; only the export's run has a record."""
    own = task_record("success", "", T0 + dt.timedelta(seconds=20), "leads")
    run = ended(dag_id="group__nightly", members_started={"leads": T0})

    [written] = run_listener.record_ended_run(run)

    assert written.job_run_id == RunInfo("leads", RUN_ID, group_id="nightly").job_run_id
    assert written.outcome == "failed" and written.job_run_id != own.job_run_id
    assert history.get_run(own.job_run_id) == own, "the export's own record is untouched"


def test_an_import_run_marked_failed_by_hand_is_recorded_as_an_import(caplog):
    run = ended(dag_id="import__partner_leads", note="wrong file")

    with caplog.at_level(logging.WARNING):
        [written] = run_listener.record_ended_run(run)

    assert written.job_run_id == RunInfo("partner_leads", RUN_ID).job_run_id
    assert (written.kind, written.outcome) == ("import", "failed")
    assert written.reason.endswith("; note: wrong file")
    assert history.list_runs("partner_leads") == [written]
    assert "staged manifest" not in caplog.text  # an import stages nothing to read back


def test_a_groups_import_member_is_recorded_as_an_import(tmp_path, monkeypatch):
    include = copy_include(tmp_path)
    (include / "groups" / "load_then_send.yaml").write_text(
        "id: load_then_send\nname: L\nmembers:\n  - import: partner_leads\n"
        "  - export: daily_lead_backup\n"
    )
    monkeypatch.setenv("FERRY_INCLUDE", str(include))
    run = ended(
        dag_id="group__load_then_send",
        members_started={"partner_leads": T0, "daily_lead_backup": T0},
    )

    written = {r.export_id: r for r in run_listener.record_ended_run(run)}

    assert (written["partner_leads"].kind, written["daily_lead_backup"].kind) == (
        "import", "export",
    )  # fmt: skip
    assert written["partner_leads"].group_run_id == RunInfo("load_then_send", RUN_ID).job_run_id


def test_other_dags_are_left_alone():
    assert run_listener.record_ended_run(ended(dag_id="ferry_refresh")) == []
    assert history.list_runs() == []


def test_history_marked_success_is_an_outcome_ferry_history_filters_on():
    assert "marked_success" in history.OUTCOMES


# The plugin file: imported by every Airflow component, never raising into one.


@pytest.fixture(scope="module")
def plugin():
    sys.path.insert(0, str(ROOT / "plugins"))
    try:
        import ferry_listener
    finally:
        sys.path.remove(str(ROOT / "plugins"))
    return ferry_listener


def dag_run(**fields) -> SimpleNamespace:
    values = {
        "dag_id": f"export__{EXPORT}", "run_id": RUN_ID, "note": None,
        "start_date": T0 + dt.timedelta(seconds=5), "end_date": T0 + dt.timedelta(seconds=65),
        "queued_at": T0, "run_after": T0, "triggering_user_name": None,
        "run_type": SimpleNamespace(value="manual"),
    }  # fmt: skip
    return SimpleNamespace(**{**values, **fields})


def test_the_plugin_records_a_run_marked_failed(plugin):
    plugin.RunRecordListener().on_dag_run_failed(dag_run(note="oops"), BY_HAND)

    written = history.get_run(JOB_RUN_ID)
    assert (written.outcome, written.triggered_by) == ("failed", "manual")
    assert written.reason.endswith("; note: oops")
    assert written.log_url.endswith(f"/dags/export__{EXPORT}/runs/{quote(RUN_ID, safe='')}")


@pytest.mark.parametrize("state", ["failed", "success"])
def test_the_plugin_records_an_import_run_marked_by_hand(plugin, state):
    listener = plugin.RunRecordListener()
    hook = listener.on_dag_run_failed if state == "failed" else listener.on_dag_run_success
    hook(dag_run(dag_id="import__partner_leads"), f"Dag Run's state was manually set to `{state}`.")

    written = history.get_run(RunInfo("partner_leads", RUN_ID).job_run_id)
    assert written is not None and written.kind == "import"
    assert written.outcome == {"failed": "failed", "success": "marked_success"}[state]


def test_the_plugin_logs_errors_and_never_raises(plugin, caplog):
    broken = dag_run(start_date="not a date")

    with caplog.at_level(logging.ERROR):
        plugin.RunRecordListener().on_dag_run_failed(broken, BY_HAND)

    assert f"the end of run {RUN_ID} was not recorded" in caplog.text
    assert history.get_run(JOB_RUN_ID) is None


def test_a_note_that_cannot_be_read_costs_only_the_note(plugin):
    class Detached(SimpleNamespace):
        @property
        def note(self):
            raise RuntimeError("DetachedInstanceError")

    fields = vars(dag_run())
    del fields["note"]

    plugin.RunRecordListener().on_dag_run_failed(Detached(**fields), BY_HAND)

    assert history.get_run(JOB_RUN_ID).outcome == "failed"


def test_importing_the_plugin_loads_nothing_of_ferry():
    code = (
        "import sys; import ferry_listener; "
        "print(sorted(m for m in sys.modules if m == 'ferry' or m.startswith('ferry.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT / "plugins", capture_output=True, text=True,
        check=True, timeout=120,
    ).stdout  # fmt: skip
    assert out.strip() == "[]"


def test_the_plugin_passes_run_after_so_a_dag_test_run_is_timed_from_it(plugin):
    plugin.RunRecordListener().on_dag_run_failed(
        dag_run(start_date=T0 - dt.timedelta(days=12)), BY_HAND
    )

    assert history.get_run(JOB_RUN_ID).duration_s == 65.0


@pytest.mark.integration  # dag.test() needs Airflow's metadata database
def test_a_dag_test_run_reads_its_note_without_a_warning(warehouse, airflow_db, caplog):
    """dag.test() hands the listener a run detached from its session: its note is read anyway."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / "ferry_exports.py"))
    dag = bag.dags["export__daily_lead_backup"]

    with caplog.at_level(logging.WARNING):
        dag_run = dag.test(run_conf={"date_from": None, "date_to": None, "ids": []})

    assert dag_run.state in ("success", "failed")
    assert "cannot be read" not in caplog.text
    assert "DetachedInstanceError" not in caplog.text
    assert not [r for r in caplog.records if r.name == "ferry_listener" and r.exc_info]
